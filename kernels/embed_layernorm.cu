/*
 * embed_layernorm.cu - the encoder's input: for each token of the packed
 * batch, word + position + token-type(0) embedding, then LayerNorm, written
 * as fp16. One warp per token; the position is the token's offset in its
 * sequence, found by binary search in seq_start (no per-token upload). For
 * RoBERTa positions (pad_id >= 0) the warp counts the non-padding tokens of
 * the sequence up to the token, 32 at a time (host/cpu/cpu_ops.h,
 * ep_cpu_position): sequences are at most 512 tokens, so that is at most 16
 * coalesced loads per token, next to the row of H values it reads anyway.
 */
#include "layernorm.cuh"

template <int P>
static __global__ void __launch_bounds__(32 * EP_LN_ROWS_PER_BLOCK)
    embed_layernorm_kernel(__half *out, const int32_t *ids, const int32_t *seq_start, int n_seqs, int n_tokens,
                           const __half *word, const __half *pos, const __half *type, const float *gamma,
                           const float *beta, float eps, int pad_id) {
    constexpr int H = 64 * P;
    const int lane = threadIdx.x % 32;
    const int t = blockIdx.x * EP_LN_ROWS_PER_BLOCK + threadIdx.x / 32;
    if (t >= n_tokens) return; // whole warps leave; this kernel has no block barrier
    int lo = 0, hi = n_seqs - 1;    // last sequence starting at or before t
    while (lo < hi) {
        const int mid = (lo + hi + 1) / 2;
        if (seq_start[mid] <= t) lo = mid;
        else hi = mid - 1;
    }
    int position = t - seq_start[lo];
    if (pad_id >= 0) {
        int count = 0;
        for (int j = seq_start[lo] + lane; j <= t; j += 32) count += ids[j] != pad_id;
        EP_UNROLL
        for (int o = 16; o > 0; o >>= 1) count += __shfl_xor_sync(0xffffffffu, count, o);
        position = ids[t] == pad_id ? pad_id : pad_id + count;
    }
    const __half2 *w = reinterpret_cast<const __half2 *>(word + (size_t)ids[t] * H);
    const __half2 *p = reinterpret_cast<const __half2 *>(pos + (size_t)position * H);
    const __half2 *y = reinterpret_cast<const __half2 *>(type);
    float v[2 * P];
    EP_UNROLL
    for (int k = 0; k < P; k++) {
        const int c = lane + 32 * k;
        const float2 a = __half22float2(w[c]), b = __half22float2(p[c]), d = __half22float2(y[c]);
        v[2 * k] = a.x + b.x + d.x;
        v[2 * k + 1] = a.y + b.y + d.y;
    }
    ep_layernorm_row_store<P>(v, gamma, beta, out + (size_t)t * H, eps);
}

extern "C" ep_status ep_cuda_embed_layernorm(uint16_t *out, const int32_t *ids, const int32_t *seq_start, int n_seqs,
                                             int n_tokens, const uint16_t *word_emb, const uint16_t *pos_emb,
                                             const uint16_t *type_emb, const float *gamma, const float *beta,
                                             int hidden, float eps, int pad_id, ep_cuda_stream stream,
                                             ep_error *err) {
    if (n_tokens <= 0) return EP_OK;
    const unsigned blocks = ep_div_up(n_tokens, EP_LN_ROWS_PER_BLOCK);
    __half *o = reinterpret_cast<__half *>(out);
    const __half *w = reinterpret_cast<const __half *>(word_emb), *p = reinterpret_cast<const __half *>(pos_emb),
                 *y = reinterpret_cast<const __half *>(type_emb);
    bool launched = false;
    EP_DISPATCH_HIDDEN(hidden, {
        EP_LAUNCH(embed_layernorm_kernel<P>, blocks, 32 * EP_LN_ROWS_PER_BLOCK, 0, stream, o, ids, seq_start, n_seqs,
                  n_tokens, w, p, y, gamma, beta, eps, pad_id);
        launched = true;
    })
    if (!launched) return ep_error_set(err, EP_ERR_USAGE, "ep_cuda_embed_layernorm: hidden %d unsupported", hidden);
    EP_LAUNCH_CHECK(err);
    return EP_OK;
}
