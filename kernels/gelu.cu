/*
 * gelu.cu - after the first feed-forward GEMM: y = gelu(y + bias) in place,
 * the exact erf form the model was trained with (cuBLASLt's GELU epilogue is
 * the tanh approximation, so it is not used). 8 halves per thread.
 */
#include "common.cuh"

static __device__ __forceinline__ float ep_gelu(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752440f)); }

static __global__ void __launch_bounds__(256) bias_gelu_kernel(__half *y, const float *bias, long long n_vec, int width) {
    const int row_vecs = width / 8;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n_vec;
         i += (long long)gridDim.x * blockDim.x) {
        const int c = (int)(i % row_vecs) * 8;
        ep_half8 v = ep_ld16(y + i * 8);
        EP_UNROLL
        for (int k = 0; k < 4; k++) {
            const float2 f = __half22float2(v.h2[k]);
            v.h2[k] = __floats2half2_rn(ep_gelu(f.x + bias[c + 2 * k]), ep_gelu(f.y + bias[c + 2 * k + 1]));
        }
        ep_st16(y + i * 8, v);
    }
}

extern "C" ep_status ep_cuda_bias_gelu(uint16_t *y, const float *bias, int n_tokens, int width,
                                       ep_cuda_stream stream, ep_error *err) {
    if (n_tokens <= 0) return EP_OK;
    if (width % 8) return ep_error_set(err, EP_ERR_USAGE, "ep_cuda_bias_gelu: width %d not a multiple of 8", width);
    const long long n_vec = (long long)n_tokens * width / 8;
    // A grid-stride loop: enough blocks to fill any GPU, few enough to amortise the launch.
    long long blocks = (n_vec + 255) / 256;
    if (blocks > 65536) blocks = 65536;
    EP_LAUNCH(bias_gelu_kernel, (unsigned)blocks, 256, 0, stream, reinterpret_cast<__half *>(y), bias, n_vec, width);
    EP_LAUNCH_CHECK(err);
    return EP_OK;
}
