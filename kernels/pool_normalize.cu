/*
 * pool_normalize.cu - the encoder's output: per sequence, mean (or [CLS])
 * pooling over its tokens, L2 normalisation, and the cast to fp16, in one
 * kernel writing the sequence's row straight into the output buffer (and an
 * fp32 copy when asked). One block per sequence; a thread owns hidden columns.
 */
#include "common.cuh"

#define EP_POOL_THREADS 128
#define EP_POOL_MAX_COLS 8 /* per thread: hidden <= 1024 */

static __global__ void __launch_bounds__(EP_POOL_THREADS)
    pool_normalize_kernel(__half *out16, float *out32, const __half *x, const int32_t *seq_start, int hidden,
                          int pooling, int normalize) {
    EP_SHARED(float, red, 32);
    const int s = blockIdx.x;
    const int start = seq_start[s], len = seq_start[s + 1] - start;
    float v[EP_POOL_MAX_COLS];
    float sq = 0.0f;
    EP_UNROLL
    for (int k = 0; k < EP_POOL_MAX_COLS; k++) {
        const int d = threadIdx.x + k * EP_POOL_THREADS;
        v[k] = 0.0f;
        if (d >= hidden || len == 0) continue;
        if (pooling == 1) {
            v[k] = __half2float(x[(size_t)start * hidden + d]);
        } else {
            float acc = 0.0f;
            for (int t = start; t < start + len; t++) acc += __half2float(x[(size_t)t * hidden + d]);
            v[k] = acc / len;
        }
        sq += v[k] * v[k];
    }
    float scale = 1.0f;
    if (normalize) scale = 1.0f / fmaxf(sqrtf(ep_block_sum(sq, red)), 1e-12f); // as torch's normalize
    EP_UNROLL
    for (int k = 0; k < EP_POOL_MAX_COLS; k++) {
        const int d = threadIdx.x + k * EP_POOL_THREADS;
        if (d >= hidden) continue;
        out16[(size_t)s * hidden + d] = __float2half_rn(v[k] * scale);
        if (out32) out32[(size_t)s * hidden + d] = v[k] * scale;
    }
}

extern "C" ep_status ep_cuda_pool_normalize(uint16_t *out16, float *out32, const uint16_t *x, const int32_t *seq_start,
                                            int n_seqs, int hidden, int pooling, int normalize, ep_cuda_stream stream,
                                            ep_error *err) {
    if (n_seqs <= 0) return EP_OK;
    if (hidden > EP_POOL_THREADS * EP_POOL_MAX_COLS)
        return ep_error_set(err, EP_ERR_USAGE, "ep_cuda_pool_normalize: hidden %d exceeds %d", hidden,
                            EP_POOL_THREADS * EP_POOL_MAX_COLS);
    EP_LAUNCH(pool_normalize_kernel, (unsigned)n_seqs, EP_POOL_THREADS, 0, stream, reinterpret_cast<__half *>(out16),
              out32, reinterpret_cast<const __half *>(x), seq_start, hidden, pooling, normalize);
    EP_LAUNCH_CHECK(err);
    return EP_OK;
}
