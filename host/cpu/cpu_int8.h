/*
 * cpu_int8.h - the int8 GEMM's numbers, independent of the instructions that
 * multiply them: how weights and activations are quantised, how the packed
 * weights are laid out, and a plain-C reference of the whole linear layer that
 * the vector kernels (cpu_fast_int8.c) must match bit for bit.
 *
 * out[m][n] = act(sw[n] * (sa[m] * sum_k (qa[m][k] - za[m]) * qw[n][k]
 *                         + sum over the row's outliers x[m][k] * qw[n][k]) + bias[n])
 *
 * Weights: per output channel, symmetric: qw in [-127, 127], sw[n] = max_k |W[n][k]| / 127,
 * quantised once when the model is packed.
 * Activations: per token (row), asymmetric, dynamic: qa in [0, 255] over the row's own
 * range [min(x, 0), max(x, 0)], sa = range / 255, zero point za = round(-min / sa).
 * vpdpbusd multiplies unsigned bytes by signed bytes, so unsigned activations are
 * what it takes directly; their zero point is the "+128 shift" of the symmetric
 * scheme generalised to the row's own range: on rows that are not centred (the
 * GELU outputs that feed the FFN's second GEMM are >= -0.17) it gives close to
 * twice the resolution of a symmetric int8 code, at the same cost, since the
 * zero point's term, za[m] * colsum[n] (colsum = sum_k qw[n][k], stored with the
 * weights), is subtracted once per output, in the integer accumulator's start.
 * The integer sums are exact (|sum| < 2^31 for K < 2^16 / 2), so the order of
 * the products never changes a result, and each row's scale depends only on that
 * row: the GEMM is batch invariant by construction.
 *
 * A few values of a row far outside the rest (LayerNorm outputs of BERT models
 * have a handful of channels tens of times larger than the others) would set
 * the row's scale and flatten everything else to a few levels. Such values are
 * taken out of the integer product: the row is quantised without them, and each
 * one adds x_k * qw[n][k] in float32 in the epilogue (ep_int8_row.out_k, out_x).
 * Two per row are enough on all-MiniLM-L6-v2: keeping up to 4 or 8 moved the
 * minimum cosine on 3,000 tweets by at most 3e-4 and the mean by 1e-5 (docs/PERFORMANCE.md).
 */
#ifndef EP_CPU_INT8_H
#define EP_CPU_INT8_H

#include "cpu_fast.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Output columns per panel, and k per group of the packed weights (one vpdpbusd lane). */
enum { EP_INT8_NR = 32, EP_INT8_KG = 4 };

/* At most this many values of a row are kept out of its integer code (see the top). */
enum { EP_INT8_MAX_OUTLIERS = 2 };

/* A value is an outlier when |x| > EP_INT8_OUTLIER * rms(row), rms over the whole row. In a
 * row of roughly normal values that happens about once in 10^9; the LayerNorm channels of
 * BERT models that carry 10-30x the others, and the rows (often [CLS] / [SEP]) where one
 * channel holds nearly all the energy, pass it by far. */
#define EP_INT8_OUTLIER 6.0f

/* The packed weights of one linear layer (what ep_packed.panels points to for the int8 table). */
typedef struct ep_int8_weights {
    int n, k;              /* k: a multiple of 16 */
    const float *scale;    /* [n] sw */
    const int32_t *colsum; /* [n] sum_k qw[n][k] */
    const int8_t *panels;  /* [n / 32][k / 4][32][4]: panel p, k group g, column j, byte e = qw[32p + j][4g + e] */
    const int8_t *cols;    /* [k][n]: qw transposed, for the outliers' float corrections */
} ep_int8_weights;

/* One row's code: x[k] ~ scale * (q[k] - zero), except at the outliers, whose values
 * are exact (their q is the zero point, so they add nothing to the integer sum). */
typedef struct ep_int8_row {
    float scale;
    int32_t zero;
    int n_out;                            /* 0..EP_INT8_MAX_OUTLIERS */
    int32_t out_k[EP_INT8_MAX_OUTLIERS];  /* their k */
    float out_x[EP_INT8_MAX_OUTLIERS];    /* their values */
} ep_int8_row;

/* Adds value x at k to r's outliers, kept in order of magnitude, largest first, ties to the
 * smaller k (so callers add in k order), at most EP_INT8_MAX_OUTLIERS. @return 0 when x did
 * not fit (EP_INT8_MAX_OUTLIERS larger ones are there). */
static inline int ep_int8_add_outlier(ep_int8_row *r, int k, float x) {
    const float m = x < 0 ? -x : x;
    int at = r->n_out;
    while (at > 0 && (r->out_x[at - 1] < 0 ? -r->out_x[at - 1] : r->out_x[at - 1]) < m) at--;
    if (at >= EP_INT8_MAX_OUTLIERS) return 0;
    const int last = r->n_out < EP_INT8_MAX_OUTLIERS ? r->n_out : EP_INT8_MAX_OUTLIERS - 1;
    for (int j = last; j > at; j--) {
        r->out_x[j] = r->out_x[j - 1];
        r->out_k[j] = r->out_k[j - 1];
    }
    r->out_x[at] = x;
    r->out_k[at] = k;
    if (r->n_out < EP_INT8_MAX_OUTLIERS) r->n_out++;
    return 1;
}

/* The limit above which a value of a row is an outlier: EP_INT8_OUTLIER times the row's
 * root mean square, from its sum of squares (as ep_int8_sum_squares adds it). @return the limit. */
float ep_int8_outlier_limit(float sum_squares, int k);

/* Quantises W [n][k] (float32, Hugging Face [out][in] layout) into dst (ep_packed
 * whose panels is an ep_int8_weights, all in one 64-byte aligned block).
 * @return EP_OK; EP_ERR_USAGE when n is not a multiple of 32 or k of 16; EP_ERR_NOMEM. */
ep_status ep_int8_pack(ep_packed *dst, const float *w, int n, int k, ep_error *err);

/* The row's scale, zero point and outliers, from its k values. Plain C, the
 * definition the vector code follows. @return the code (q is not written). */
ep_int8_row ep_int8_row_params(const float *x, int k);

/* q[k] of a row with the code r: round-to-nearest-even(x * (1 / scale)) + zero,
 * clamped to [0, 255]; the outliers get the zero point. */
void ep_int8_row_quantize(uint8_t *q, const float *x, int k, const ep_int8_row *r);

/* The reference int8 linear layer: out[M][N] (stride ldo) = act(...) as at the top, a [M][K]
 * (stride lda), w from ep_int8_pack. Scalar C: the tests hold the vector kernels to it. */
void ep_int8_linear_ref(float *out, int ldo, const float *a, int lda, const ep_packed *w, const float *bias, int M,
                        int act);

#ifdef __cplusplus
}
#endif

#endif /* EP_CPU_INT8_H */
