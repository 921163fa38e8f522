/*
 * qkv_split.cu - after the fused QKV GEMM ([T][3H], no bias): add the bias and
 * scatter into per-head layout qkvh[3][heads][T][D], so that the attention
 * kernel reads each (sequence, head)'s keys and values as one contiguous
 * block. One thread per 8 halves (16-byte loads and stores).
 */
#include "common.cuh"

static __global__ void __launch_bounds__(256)
    qkv_split_kernel(__half *qkvh, const __half *qkv, const float *bias, int n_tokens, int hidden, int head_dim) {
    const long long n_vec = (long long)n_tokens * 3 * hidden / 8;
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n_vec) return; // no barrier in this kernel
    const int row_vecs = 3 * hidden / 8;
    const int t = (int)(i / row_vecs);
    const int c = (int)(i % row_vecs) * 8;    // column in [0, 3H)
    const int which = c / hidden, h = (c % hidden) / head_dim, d = c % head_dim;
    const int n_heads = hidden / head_dim;
    ep_half8 v = ep_ld16(qkv + (size_t)t * 3 * hidden + c);
    EP_UNROLL
    for (int k = 0; k < 4; k++) {
        const float2 f = __half22float2(v.h2[k]);
        v.h2[k] = __floats2half2_rn(f.x + bias[c + 2 * k], f.y + bias[c + 2 * k + 1]);
    }
    ep_st16(qkvh + (((size_t)which * n_heads + h) * n_tokens + t) * head_dim + d, v);
}

extern "C" ep_status ep_cuda_qkv_split(uint16_t *qkvh, const uint16_t *qkv, const float *bias, int n_tokens,
                                       int hidden, int n_heads, ep_cuda_stream stream, ep_error *err) {
    if (n_tokens <= 0) return EP_OK;
    if (hidden % n_heads || (hidden / n_heads) % 8)
        return ep_error_set(err, EP_ERR_USAGE, "ep_cuda_qkv_split: head size must be a multiple of 8");
    const long long n_vec = (long long)n_tokens * 3 * hidden / 8;
    EP_LAUNCH(qkv_split_kernel, ep_div_up(n_vec, 256), 256, 0, stream, reinterpret_cast<__half *>(qkvh),
              reinterpret_cast<const __half *>(qkv), bias, n_tokens, hidden, hidden / n_heads);
    EP_LAUNCH_CHECK(err);
    return EP_OK;
}
