/*
 * head.cu - what follows the encoder when it is more than one mean or CLS pooling (the fused
 * pool_normalize.cu covers that): every sentence-transformers pooling mode, the bias and activation
 * of a Dense module (its GEMM is ep_cuda_linear's), and the truncation + L2 normalisation of the rows.
 * The same semantics as host/cpu/cpu_head.c, which is their reference (tests/kernels/test_kernel_ops.c).
 * Rows are few (one per text) and narrow, so these are simple kernels: the encoder's layers are where
 * the time goes.
 */
#include "common.cuh"

#define EP_HEAD_THREADS 128

// Pooling modes and activations, numbered as host/model/model.h's ep_pooling and ep_activation.
enum { P_MEAN = 0, P_CLS = 1, P_MAX = 2, P_MEAN_SQRT = 3, P_WEIGHTED = 4, P_LAST = 5 };
enum { A_IDENTITY = 0, A_TANH = 1, A_RELU = 2, A_GELU = 3, A_SIGMOID = 4, A_SILU = 5 };

/* Column d of one mode over the kept tokens [k0, end) of the sequence starting at start. */
static __device__ float pool_column(const __half *x, int hidden, int d, int start, int k0, int end, int mode) {
    const int kept = end - k0;
    if (mode == P_CLS) return __half2float(x[(size_t)(kept > 0 ? k0 : start) * hidden + d]);
    if (kept <= 0) return 0.0f;
    if (mode == P_LAST) return __half2float(x[(size_t)(end - 1) * hidden + d]);
    float acc = mode == P_MAX ? __half2float(x[(size_t)k0 * hidden + d]) : 0.0f, wsum = 0.0f;
    for (int t = k0; t < end; t++) {
        const float v = __half2float(x[(size_t)t * hidden + d]);
        if (mode == P_MAX) {
            acc = fmaxf(acc, v);
        } else if (mode == P_WEIGHTED) {
            const float w = (float)(t - start + 1);
            acc += w * v;
            wsum += w;
        } else {
            acc += v;
        }
    }
    if (mode == P_MEAN) return acc / (float)kept;
    if (mode == P_MEAN_SQRT) return acc / sqrtf((float)kept);
    if (mode == P_WEIGHTED) return acc / wsum;
    return acc;
}

/* One block per sequence; mode m of modes (4 bits each) fills columns m * hidden ... of its row. */
static __global__ void __launch_bounds__(EP_HEAD_THREADS)
    pool_kernel(float *out32, __half *out16, const __half *x, const int32_t *seq_start, int hidden, unsigned modes,
                int n_modes, int skip) {
    const int s = blockIdx.x;
    const int start = seq_start[s], end = seq_start[s + 1];
    const int k0 = skip < end - start ? start + skip : end;
    const size_t width = (size_t)n_modes * hidden;
    for (int m = 0; m < n_modes; m++) {
        const int mode = (int)((modes >> (4 * m)) & 15u);
        for (int d = threadIdx.x; d < hidden; d += blockDim.x) {
            const float v = end > start ? pool_column(x, hidden, d, start, k0, end, mode) : 0.0f;
            const size_t o = (size_t)s * width + (size_t)m * hidden + d;
            if (out32) out32[o] = v;
            if (out16) out16[o] = __float2half_rn(v);
        }
    }
}

extern "C" ep_status ep_cuda_pool(float *out32, uint16_t *out16, const uint16_t *x, const int32_t *seq_start,
                                  int n_seqs, int hidden, const int *modes, int n_modes, int skip,
                                  ep_cuda_stream stream, ep_error *err) {
    if (n_seqs <= 0) return EP_OK;
    if (n_modes < 1 || n_modes > 6 || skip < 0)
        return ep_error_set(err, EP_ERR_USAGE, "ep_cuda_pool: %d modes, skip %d", n_modes, skip);
    unsigned packed = 0;
    for (int m = 0; m < n_modes; m++) {
        if (modes[m] < P_MEAN || modes[m] > P_LAST)
            return ep_error_set(err, EP_ERR_USAGE, "ep_cuda_pool: pooling mode %d", modes[m]);
        packed |= (unsigned)modes[m] << (4 * m);
    }
    EP_LAUNCH(pool_kernel, (unsigned)n_seqs, EP_HEAD_THREADS, 0, stream, out32, reinterpret_cast<__half *>(out16),
              reinterpret_cast<const __half *>(x), seq_start, hidden, packed, n_modes, skip);
    EP_LAUNCH_CHECK(err);
    return EP_OK;
}

// ----------------------------------------------------------------------------
// A Dense module's bias and activation, after its GEMM

static __device__ float activation(float v, int act) {
    switch (act) {
    case A_TANH: return tanhf(v);
    case A_RELU: return v > 0.0f ? v : 0.0f;
    case A_GELU: return 0.5f * v * (1.0f + erff(v * 0.70710678118654752440f));
    case A_SIGMOID: return 1.0f / (1.0f + expf(-v));
    case A_SILU: return v / (1.0f + expf(-v));
    default: return v;
    }
}

static __global__ void __launch_bounds__(256) bias_activation_kernel(__half *y, const float *bias, long long n,
                                                                     int width, int act) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        float v = __half2float(y[i]);
        if (bias) v += bias[i % width];
        y[i] = __float2half_rn(activation(v, act));
    }
}

extern "C" ep_status ep_cuda_bias_activation(uint16_t *y, const float *bias, int n_rows, int width, int act,
                                             ep_cuda_stream stream, ep_error *err) {
    if (n_rows <= 0) return EP_OK;
    if (width <= 0 || act < A_IDENTITY || act > A_SILU)
        return ep_error_set(err, EP_ERR_USAGE, "ep_cuda_bias_activation: width %d, activation %d", width, act);
    const long long n = (long long)n_rows * width;
    long long blocks = (n + 255) / 256;
    if (blocks > 65536) blocks = 65536;
    EP_LAUNCH(bias_activation_kernel, (unsigned)blocks, 256, 0, stream, reinterpret_cast<__half *>(y), bias, n, width,
              act);
    EP_LAUNCH_CHECK(err);
    return EP_OK;
}

// ----------------------------------------------------------------------------
// Truncation and normalisation

/* One block per row: the first dim values of the row (fp32 in32, else fp16 in16), divided by their L2
 * norm when normalize (as torch's normalize: by max(norm, 1e-12)). */
static __global__ void __launch_bounds__(EP_HEAD_THREADS)
    rows_normalize_kernel(__half *out16, float *out32, const float *in32, const __half *in16, int in_width, int dim,
                          int normalize) {
    EP_SHARED(float, red, 32);
    const size_t r = blockIdx.x;
    float sq = 0.0f;
    for (int d = threadIdx.x; d < dim; d += blockDim.x) {
        const float v = in32 ? in32[r * in_width + d] : __half2float(in16[r * in_width + d]);
        sq += v * v;
    }
    const float total = ep_block_sum(sq, red);
    const float scale = normalize ? 1.0f / fmaxf(sqrtf(total), 1e-12f) : 1.0f;
    for (int d = threadIdx.x; d < dim; d += blockDim.x) {
        const float v = (in32 ? in32[r * in_width + d] : __half2float(in16[r * in_width + d])) * scale;
        out16[r * dim + d] = __float2half_rn(v);
        if (out32) out32[r * dim + d] = v;
    }
}

extern "C" ep_status ep_cuda_rows_normalize(uint16_t *out16, float *out32, const float *in32, const uint16_t *in16,
                                            int n_rows, int in_width, int dim, int normalize, ep_cuda_stream stream,
                                            ep_error *err) {
    if (n_rows <= 0) return EP_OK;
    if (dim <= 0 || dim > in_width || (!in32) == (!in16))
        return ep_error_set(err, EP_ERR_USAGE, "ep_cuda_rows_normalize: %d of %d values, %s", dim, in_width,
                            in32 ? "two inputs" : "no input");
    EP_LAUNCH(rows_normalize_kernel, (unsigned)n_rows, EP_HEAD_THREADS, 0, stream, reinterpret_cast<__half *>(out16),
              out32, in32, reinterpret_cast<const __half *>(in16), in_width, dim, normalize);
    EP_LAUNCH_CHECK(err);
    return EP_OK;
}
