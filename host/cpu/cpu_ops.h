/*
 * cpu_ops.h - the encoder's operations as plain C over the packed layout.
 *
 * This is the reference: backend_cpu.c chains these ops, and every CUDA
 * kernel is tested against the op of the same name here. Activations are
 * float32, row-major, one row per token of the packed batch ([T][width]).
 * Sequence boundaries come from seq_start ([n_seqs + 1], as in ep_batch).
 */
#ifndef EP_CPU_OPS_H
#define EP_CPU_OPS_H

#include <stdbool.h>
#include <stdint.h>


#ifdef __cplusplus
extern "C" {
#endif

/* The position-table row of a token (model.h, ep_positions): with pad_id < 0 (BERT) its offset in
 * its sequence; with pad_id >= 0 (RoBERTa, XLM-R) pad_id itself for a padding token, else pad_id + the
 * count of non-padding tokens up to and including it. *non_pad carries that count along a sequence
 * (start it at 0). @return the row. */
static inline int ep_cpu_position(int pad_id, int32_t id, int offset, int *non_pad) {
    if (pad_id < 0) return offset;
    if (id == pad_id) return pad_id;
    return pad_id + ++*non_pad;
}

/* out[t] = LayerNorm(word_emb[ids[t]] + pos_emb[ep_cpu_position(t)] + type_emb[0]); pad_id as
 * ep_cpu_position (-1: BERT's positions). */
void ep_cpu_embed_layernorm(float *out, const int32_t *ids, const int32_t *seq_start, int n_seqs,
                            const float *word_emb, const float *pos_emb, const float *type_emb,
                            const float *gamma, const float *beta, int hidden, float eps, int pad_id);

/* out[T][n_out] = in[T][n_in] * weight^T + bias, weight in [n_out][n_in] (Hugging Face) layout.
 * Uses cblas_sgemm. */
void ep_cpu_linear(float *out, const float *in, const float *weight, const float *bias, int T, int n_in,
                   int n_out);

/* Multi-head self-attention over each sequence. qkv is [T][3H] (query, key, value
 * blocks of H each, head h at columns h*D .. h*D+D-1 of each block); out is [T][H]:
 * out = softmax(Q K^T / sqrt(D)) V, per sequence and head; keys never cross sequences. */
void ep_cpu_attention(float *out, const float *qkv, const int32_t *seq_start, int n_seqs, int hidden,
                      int n_heads);

/* x[t] = LayerNorm(x[t] + residual[t]) in place, over rows of width hidden. */
void ep_cpu_residual_layernorm(float *x, const float *residual, const float *gamma, const float *beta, int T,
                               int hidden, float eps);

/* x = 0.5 * x * (1 + erf(x / sqrt(2))) in place, n elements (exact GELU). */
void ep_cpu_gelu(float *x, long n);

/* out[i] = pool(x over sequence i), then L2-normalised when normalize != 0.
 * pooling: 0 = mean over the sequence's tokens, 1 = its first ([CLS]) token. */
/* Pools sequence s into o where no sum is needed: CLS pooling (pooling == 1)
 * copies the first token, an empty sequence gives zeros. Shared by the
 * reference and the vector tables, so that they agree on both cases.
 * @return true when o is done; false when the caller must take the mean. */
bool ep_cpu_pool_trivial(float *o, const float *x, int start, int len, int hidden, int pooling);

void ep_cpu_pool_normalize(float *out, const float *x, const int32_t *seq_start, int n_seqs, int hidden,
                           int pooling, int normalize);


#ifdef __cplusplus
}
#endif

#endif /* EP_CPU_OPS_H */
