/*
 * cpu_int8_quant.c - int8 quantisation for the int8 GEMM (cpu_int8.h): the
 * weights, packed once per model, and the plain-C definition of a row's
 * activation code and of the whole layer, which the VNNI kernels match bit for
 * bit (tests/host/cpu/test_cpu_int8.c). Runs on any CPU.
 */
#include "cpu_int8.h"
#include "cpu_ops.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* sum of x[k]^2 as the AVX-512 code computes it: four accumulators of 16 lanes
 * (x[k] goes to accumulator (k / 16) % 4, lane k % 16, fused multiply-adds in k
 * order), added as (a0 + a1) + (a2 + a3); then lanes i and i + w added for
 * w = 8, 4, 2, 1 (a vector's halves folded). */
static float sum_squares(const float *x, int k) {
    float acc[4][16] = {{0}}, lane[16];
    for (int i = 0; i < k; i++) acc[(i / 16) % 4][i % 16] = fmaf(x[i], x[i], acc[(i / 16) % 4][i % 16]);
    for (int l = 0; l < 16; l++) lane[l] = (acc[0][l] + acc[1][l]) + (acc[2][l] + acc[3][l]);
    for (int w = 8; w >= 1; w /= 2)
        for (int l = 0; l < w; l++) lane[l] += lane[l + w];
    return lane[0];
}

float ep_int8_outlier_limit(float sum_squares, int k) { return EP_INT8_OUTLIER * sqrtf(sum_squares / (float)k); }

ep_int8_row ep_int8_row_params(const float *x, int k) {
    ep_int8_row r;
    memset(&r, 0, sizeof r);
    const float limit = ep_int8_outlier_limit(sum_squares(x, k), k);
    // the largest EP_INT8_MAX_OUTLIERS magnitudes above the limit, ties to the smaller k
    for (int i = 0; i < k; i++)
        if (fabsf(x[i]) > limit) ep_int8_add_outlier(&r, i, x[i]);
    // the range of the rest, always including 0 (so that 0 is exact and the zero point in [0, 255])
    float lo = 0, hi = 0;
    for (int i = 0; i < k; i++) {
        int skip = 0;
        for (int j = 0; j < r.n_out; j++) skip |= r.out_k[j] == i;
        if (skip) continue;
        lo = fminf(lo, x[i]);
        hi = fmaxf(hi, x[i]);
    }
    const float range = hi - lo;
    r.scale = range > 0 ? range / 255.0f : 1.0f;
    r.zero = (int32_t)nearbyintf(-lo * (1.0f / r.scale));
    if (r.zero > 255) r.zero = 255;
    return r;
}

void ep_int8_row_quantize(uint8_t *q, const float *x, int k, const ep_int8_row *r) {
    const float inv = 1.0f / r->scale;
    for (int i = 0; i < k; i++) {
        int32_t v = (int32_t)nearbyintf(x[i] * inv) + r->zero;
        q[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
    for (int j = 0; j < r->n_out; j++) q[r->out_k[j]] = (uint8_t)r->zero;
}

// ----------------------------------------------------------------------------
// Weights

ep_status ep_int8_pack(ep_packed *dst, const float *w, int n, int k, ep_error *err) {
    if (n % EP_INT8_NR != 0 || k < 16 || k % 16 != 0)
        return ep_error_set(err, EP_ERR_USAGE,
                            "int8 kernels: a %d x %d weight: rows must be a multiple of %d and columns of 16", n, k,
                            EP_INT8_NR);
    // one block: the header, then scales, column sums, panels and the transposed copy, each 64-byte aligned
    const size_t head = 64, sc = ((size_t)n * 4 + 63) / 64 * 64, pn = (size_t)n * k, cl = (size_t)k * n;
    unsigned char *block = ep_aligned_calloc(head + 2 * sc + pn + cl);
    if (!block) return ep_error_set(err, EP_ERR_NOMEM, "int8 kernels: out of memory packing a %d x %d weight", n, k);
    ep_int8_weights *h = (ep_int8_weights *)(void *)block;
    float *scale = (float *)(void *)(block + head);
    int32_t *colsum = (int32_t *)(void *)(block + head + sc);
    int8_t *panels = (int8_t *)(block + head + 2 * sc), *cols = panels + pn;
    for (int j = 0; j < n; j++) {
        const float *row = w + (size_t)j * k;
        float amax = 0;
        for (int i = 0; i < k; i++) amax = fmaxf(amax, fabsf(row[i]));
        scale[j] = amax > 0 ? amax / 127.0f : 1.0f;
        const float inv = 1.0f / scale[j];
        int32_t sum = 0;
        for (int i = 0; i < k; i++) {
            float v = nearbyintf(row[i] * inv);
            const int8_t q = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
            sum += q;
            const int p = j / EP_INT8_NR, c = j % EP_INT8_NR, g = i / EP_INT8_KG, e = i % EP_INT8_KG;
            panels[((size_t)p * (k / EP_INT8_KG) + g) * (EP_INT8_NR * EP_INT8_KG) + (size_t)c * EP_INT8_KG + e] = q;
            cols[(size_t)i * n + j] = q;
        }
        colsum[j] = sum;
    }
    *h = (ep_int8_weights){.n = n, .k = k, .scale = scale, .colsum = colsum, .panels = panels,
                           .cols = cols};
    *dst = (ep_packed){.n = n, .k = k, .bf16 = 0, .panels = h, .owned = block};
    return EP_OK;
}

// ----------------------------------------------------------------------------
// The reference layer

void ep_int8_linear_ref(float *out, int ldo, const float *a, int lda, const ep_packed *w, const float *bias, int M,
                        int act) {
    const ep_int8_weights *h = w->panels;
    const int N = h->n, K = h->k;
    uint8_t *q = malloc((size_t)K);
    if (!q) return;
    for (int m = 0; m < M; m++) {
        const float *x = a + (size_t)m * lda;
        const ep_int8_row r = ep_int8_row_params(x, K);
        ep_int8_row_quantize(q, x, K, &r);
        for (int j = 0; j < N; j++) {
            const int p = j / EP_INT8_NR, c = j % EP_INT8_NR;
            int32_t acc = -r.zero * h->colsum[j];
            for (int i = 0; i < K; i++) {
                const int g = i / EP_INT8_KG, e = i % EP_INT8_KG;
                acc += (int32_t)q[i] *
                       h->panels[((size_t)p * (K / EP_INT8_KG) + g) * (EP_INT8_NR * EP_INT8_KG) +
                                 (size_t)c * EP_INT8_KG + e];
            }
            // as the vector epilogue: the row's scale, each outlier's term, then the column's scale and bias
            float t = (float)acc * r.scale;
            for (int o = 0; o < r.n_out; o++) t = fmaf(r.out_x[o], (float)h->cols[(size_t)r.out_k[o] * N + j], t);
            out[(size_t)m * ldo + j] = fmaf(t, h->scale[j], bias[j]);
        }
        if (act == EP_ACT_GELU) ep_cpu_gelu(out + (size_t)m * ldo, N);
    }
    free(q);
}
