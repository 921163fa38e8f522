/*
 * attention.cu - multi-head self-attention over the packed batch, fused:
 * for each (sequence, head) block, softmax(Q K^T / sqrt(D)) V, keys and
 * values from the block's own sequence only (the packed layout is the mask).
 *
 * One thread per query row; keys and values stream through shared memory in
 * tiles of 64 (converted to fp32 once per tile, not once per query), and the
 * softmax is computed online (running max and sum, rescaled when the max
 * grows), so scores never go to memory and a sequence may be 512 long with
 * 16 KiB of shared memory (D = 32). fp16 in and out, fp32 arithmetic.
 *
 * Q, K and V come straight from the QKV GEMM's output qkv[T][3H] (row t: query,
 * key, value, each [heads][D]; the bias added in the GEMM's epilogue): a head's
 * D values of a row are one contiguous 64- or 128-byte run, so the loads stay
 * 16-byte vectors, and no split into a per-head copy is written and read back.
 */
#include "common.cuh"

#include <math.h>

#define EP_ATTN_KEYS_PER_TILE 64
#define EP_ATTN_MAX_THREADS 128
#define EP_ATTN_MAX_SEQ 512

template <int D>
static __global__ void __launch_bounds__(EP_ATTN_MAX_THREADS)
    attention_kernel(__half *out, const __half *qkv, const int32_t *seq_start, int n_heads, float scale_log2) {
    constexpr int KT = EP_ATTN_KEYS_PER_TILE;
    constexpr int V4 = D / 4; // float4 per row
    EP_SHARED(float4, ks, KT * V4);
    EP_SHARED(float4, vs, KT * V4);
    const int s = blockIdx.x, h = blockIdx.y;
    const int start = seq_start[s], len = seq_start[s + 1] - start;
    const int H = n_heads * D;
    const size_t row = 3 * (size_t)H; // halves from one token's q/k/v to the next token's
    const __half *Q = qkv + (size_t)start * row + 0 * H + h * D;
    const __half *K = qkv + (size_t)start * row + 1 * (size_t)H + h * D;
    const __half *V = qkv + (size_t)start * row + 2 * (size_t)H + h * D;

    // Every thread walks the same loops (bounds depend on the block only), so the barriers are uniform.
    for (int q0 = 0; q0 < len; q0 += blockDim.x) {
        const int i = q0 + threadIdx.x;
        const bool active = i < len;
        float q[D], acc[D];
        float m = -INFINITY, l = 0.0f;
        EP_UNROLL
        for (int d = 0; d < D; d++) acc[d] = 0.0f;
        if (active) {
            EP_UNROLL
            for (int c = 0; c < D / 8; c++) {
                const ep_half8 v = ep_ld16(Q + (size_t)i * row + c * 8);
                EP_UNROLL
                for (int k = 0; k < 4; k++) {
                    const float2 f = __half22float2(v.h2[k]);
                    q[c * 8 + 2 * k] = f.x * scale_log2; // scores come out in log2 units: exp2 below
                    q[c * 8 + 2 * k + 1] = f.y * scale_log2;
                }
            }
        }
        for (int k0 = 0; k0 < len; k0 += KT) {
            const int nk = min(KT, len - k0);
            __syncthreads(); // the previous tile has been read by everyone
            for (int e = threadIdx.x; e < nk * (D / 8); e += blockDim.x) {
                const int j = e / (D / 8), c = e % (D / 8);
                const ep_half8 kv = ep_ld16(K + (size_t)(k0 + j) * row + c * 8);
                const ep_half8 vv = ep_ld16(V + (size_t)(k0 + j) * row + c * 8);
                const float2 k0f = __half22float2(kv.h2[0]), k1f = __half22float2(kv.h2[1]);
                const float2 k2f = __half22float2(kv.h2[2]), k3f = __half22float2(kv.h2[3]);
                const float2 v0f = __half22float2(vv.h2[0]), v1f = __half22float2(vv.h2[1]);
                const float2 v2f = __half22float2(vv.h2[2]), v3f = __half22float2(vv.h2[3]);
                ks[j * V4 + 2 * c] = make_float4(k0f.x, k0f.y, k1f.x, k1f.y);
                ks[j * V4 + 2 * c + 1] = make_float4(k2f.x, k2f.y, k3f.x, k3f.y);
                vs[j * V4 + 2 * c] = make_float4(v0f.x, v0f.y, v1f.x, v1f.y);
                vs[j * V4 + 2 * c + 1] = make_float4(v2f.x, v2f.y, v3f.x, v3f.y);
            }
            __syncthreads();
            if (active) {
                for (int j = 0; j < nk; j++) {
                    float score = 0.0f;
                    EP_UNROLL
                    for (int c = 0; c < V4; c++) {
                        const float4 k4 = ks[j * V4 + c];
                        score += q[4 * c] * k4.x + q[4 * c + 1] * k4.y + q[4 * c + 2] * k4.z + q[4 * c + 3] * k4.w;
                    }
                    if (score > m) { // new maximum: rescale what was summed so far
                        const float corr = exp2f(m - score);
                        l *= corr;
                        EP_UNROLL
                        for (int d = 0; d < D; d++) acc[d] *= corr;
                        m = score;
                    }
                    const float p = exp2f(score - m);
                    l += p;
                    EP_UNROLL
                    for (int c = 0; c < V4; c++) {
                        const float4 v4 = vs[j * V4 + c];
                        acc[4 * c] += p * v4.x;
                        acc[4 * c + 1] += p * v4.y;
                        acc[4 * c + 2] += p * v4.z;
                        acc[4 * c + 3] += p * v4.w;
                    }
                }
            }
        }
        if (active) {
            const float inv = 1.0f / l;
            __half *o = out + (size_t)(start + i) * H + h * D;
            EP_UNROLL
            for (int c = 0; c < D / 8; c++) {
                ep_half8 v;
                EP_UNROLL
                for (int k = 0; k < 4; k++)
                    v.h2[k] = __floats2half2_rn(acc[c * 8 + 2 * k] * inv, acc[c * 8 + 2 * k + 1] * inv);
                ep_st16(o + c * 8, v);
            }
        }
    }
}

extern "C" ep_status ep_cuda_attention(uint16_t *out, const uint16_t *qkv, const int32_t *seq_start, int n_seqs,
                                       int n_tokens, int max_seq_len, int hidden, int n_heads, ep_cuda_stream stream,
                                       ep_error *err) {
    if (n_seqs <= 0 || n_tokens <= 0) return EP_OK;
    if (max_seq_len > EP_ATTN_MAX_SEQ)
        return ep_error_set(err, EP_ERR_USAGE, "ep_cuda_attention: sequence of %d tokens exceeds %d", max_seq_len,
                            EP_ATTN_MAX_SEQ);
    if (n_heads > 65535)
        return ep_error_set(err, EP_ERR_USAGE, "ep_cuda_attention: %d heads exceed the grid", n_heads);
    const int d = hidden / n_heads;
    const int threads = max_seq_len >= EP_ATTN_MAX_THREADS ? EP_ATTN_MAX_THREADS : (int)ep_div_up(max_seq_len, 32) * 32;
    const dim3 grid((unsigned)n_seqs, (unsigned)n_heads);
    const float scale_log2 = (float)(1.0 / sqrt((double)d) * 1.4426950408889634);
    __half *o = reinterpret_cast<__half *>(out);
    const __half *in = reinterpret_cast<const __half *>(qkv);
    if (d == 32) {
        EP_LAUNCH(attention_kernel<32>, grid, threads > 0 ? threads : 32, 0, stream, o, in, seq_start, n_heads,
                  scale_log2);
    } else if (d == 64) {
        EP_LAUNCH(attention_kernel<64>, grid, threads > 0 ? threads : 32, 0, stream, o, in, seq_start, n_heads,
                  scale_log2);
    } else {
        return ep_error_set(err, EP_ERR_USAGE, "ep_cuda_attention: head size %d unsupported (32 or 64)", d);
    }
    EP_LAUNCH_CHECK(err);
    return EP_OK;
}
