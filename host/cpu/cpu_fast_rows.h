/*
 * cpu_fast_rows.h - the LayerNorm row loops of the vector kernel tables,
 * written once for any vector width: LayerNorm of one row (mean, then the
 * variance about it: two passes, like PyTorch; then scale and shift),
 * residual + LayerNorm and embeddings + LayerNorm over rows.
 *
 * A template, not a library: a kernel file includes it once, between
 * EP_TARGET_BEGIN(...) and EP_TARGET_END, after defining the vector it works
 * in - the type rows_vec of ROWS_W floats and, each a single instruction (or
 * the file's own reduction), static inline functions:
 *   rows_load(const float *)            rows_store(float *, rows_vec)
 *   rows_add(a, b)  rows_sub(a, b)  rows_mul(a, b)  rows_fmadd(a, b, c) (a * b + c, one rounding)
 *   rows_set1(float)  rows_zero()       rows_hsum(rows_vec) -> float
 *   rows_store_bf16(uint16_t *dst, rows_vec v): v's ROWS_W floats in bfloat16 at dst, rounded as
 *                                       ep_f32_to_bf16 rounds
 * Each file then runs exactly the instructions it ran when it spelled the
 * loops out itself, so its results keep every bit (the conformance tests
 * compare them with the reference and across batches). Row widths must be
 * multiples of ROWS_W (the backend checks the hidden size).
 *
 * Defines (static): layernorm_row, residual_layernorm, embed_layernorm, with
 * the signatures of ep_cpu_kernels' residual_layernorm and embed_layernorm.
 */
#ifndef EP_CPU_FAST_ROWS_H
#define EP_CPU_FAST_ROWS_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

/* out = LayerNorm(in) over n floats (out may be in); out_bf16 (may be NULL) gets its bfloat16 copy. */
static void layernorm_row(float *out, uint16_t *out_bf16, const float *in, const float *gamma, const float *beta,
                          int n, float eps) {
    rows_vec s = rows_zero();
    for (int i = 0; i < n; i += ROWS_W) s = rows_add(s, rows_load(in + i));
    const rows_vec mean = rows_set1(rows_hsum(s) / (float)n);
    rows_vec v = rows_zero();
    for (int i = 0; i < n; i += ROWS_W) {
        const rows_vec d = rows_sub(rows_load(in + i), mean);
        v = rows_fmadd(d, d, v);
    }
    const rows_vec rstd = rows_set1(1.0f / sqrtf(rows_hsum(v) / (float)n + eps));
    for (int i = 0; i < n; i += ROWS_W) {
        const rows_vec d = rows_mul(rows_sub(rows_load(in + i), mean), rstd);
        const rows_vec y = rows_fmadd(d, rows_load(gamma + i), rows_load(beta + i));
        rows_store(out + i, y);
        if (out_bf16) rows_store_bf16(out_bf16 + i, y);
    }
}

/* x[t] = LayerNorm(x[t] + residual[t]) for T rows of width hidden, as ep_cpu_residual_layernorm. */
static void residual_layernorm(float *x, uint16_t *x_bf16, const float *residual, const float *gamma,
                               const float *beta, int T, int hidden, float eps) {
    for (int t = 0; t < T; t++) {
        float *row = x + (size_t)t * hidden;
        const float *res = residual + (size_t)t * hidden;
        for (int i = 0; i < hidden; i += ROWS_W) rows_store(row + i, rows_add(rows_load(row + i), rows_load(res + i)));
        layernorm_row(row, x_bf16 ? x_bf16 + (size_t)t * hidden : NULL, row, gamma, beta, hidden, eps);
    }
}

/* out[t] = LayerNorm(word[ids[t]] + position[ep_cpu_position(t)] + type[0]), as ep_cpu_embed_layernorm
 * (pad_id -1: BERT's positions; else RoBERTa's, counted after the padding index). */
static void embed_layernorm(float *out, uint16_t *out_bf16, const int32_t *ids, const int32_t *seq_start,
                            int n_seqs, const float *word_emb, const float *pos_emb, const float *type_emb,
                            const float *gamma, const float *beta, int hidden, float eps, int pad_id) {
    for (int s = 0; s < n_seqs; s++) {
        int non_pad = 0;
        for (int t = seq_start[s]; t < seq_start[s + 1]; t++) {
            const float *w = word_emb + (size_t)ids[t] * hidden;
            const float *p = pos_emb + (size_t)ep_cpu_position(pad_id, ids[t], t - seq_start[s], &non_pad) * hidden;
            float *row = out + (size_t)t * hidden;
            for (int i = 0; i < hidden; i += ROWS_W)
                rows_store(row + i, rows_add(rows_add(rows_load(w + i), rows_load(p + i)), rows_load(type_emb + i)));
            layernorm_row(row, out_bf16 ? out_bf16 + (size_t)t * hidden : NULL, row, gamma, beta, hidden, eps);
        }
    }
}

#endif /* EP_CPU_FAST_ROWS_H */
