/*
 * cpu_fast_int8.c - the int8 kernel table for CPUs with AVX512-VNNI: GEMMs
 * on vpdpbusd (64 byte products a zmm instruction, into 16 int32 sums) with
 * the numbers of cpu_int8.h (per-channel int8 weights quantised at load,
 * per-token unsigned activations quantised here, per call, with their outliers
 * kept in float32), and a float32 epilogue: scales, bias, the outliers' terms,
 * GELU. Every other op (attention, LayerNorm, residual, pooling) is the AVX-512
 * float32 one, so the residual stream never leaves float32.
 *
 * GEMM: the weights are packed in panels of 32 output columns, [K/4][32][4]
 * bytes (two zmm per 4 k); the activations of a call are quantised into tiles
 * of MR rows, [K/16][MR][16] bytes (each row's 16 codes one store), whose
 * groups of 4 bytes are each one 32-bit broadcast.
 * The micro-kernel keeps an MR x 32 block of int32 sums in 2 * MR zmm,
 * started at -zero[m] * colsum[n] (the zero point's term, exact), and applies
 * the epilogue before the one store. Integer sums do not depend on their
 * order, and a row's code depends only on that row: batch invariant.
 *
 * The vector code follows the plain-C definition of cpu_int8_quant.c to the
 * bit (tests/host/cpu/test_cpu_int8.c): the same sum of squares lane by lane,
 * the same outlier rule, the same roundings, the same fused multiply-adds.
 */
#include "cpu_fast.h"
#include "cpu_fast_target.h"
#include "cpu_int8.h"

#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define NR EP_INT8_NR /* output columns per panel: two zmm of int32 sums */
/* Rows per micro-tile: 24 accumulators + 2 panel vectors + 1 broadcast <= 32 zmm. (14, as the
 * float tables use, made GCC spill two accumulators to the stack in the inner loop.) */
#define MR 12

/* 4 codes read as one int32 from bytes written as bytes */
typedef int32_t i32_alias __attribute__((may_alias));

EP_TARGET_BEGIN(EP_ISA_AVX512_VNNI)
#include "cpu_fast_avx512.h"

// ----------------------------------------------------------------------------
// Quantising a row into its tile

/* The row's code (ep_int8_row_params, vectorised): one pass for the sum of squares and
 * the range; a second, only when some value passes the outlier limit, for the candidates
 * and the range of the others. Candidates beyond the kept ones go back into the range
 * (min and max are exact, so the order does not matter). A row with more candidates than
 * the list holds (none seen in real text) goes to the plain-C definition. */
static ep_int8_row row_params(const float *x, int K) {
    // four accumulators each (chunk c of 16 values into c % 4) to hide the adds' latency
    __m512 ss[4], lo[4], hi[4];
    for (int j = 0; j < 4; j++) ss[j] = lo[j] = hi[j] = _mm512_setzero_ps();
    for (int k = 0; k < K; k += 64)
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
            if (k + 16 * j >= K) break;
            const __m512 v = _mm512_loadu_ps(x + k + 16 * j);
            ss[j] = _mm512_fmadd_ps(v, v, ss[j]);
            lo[j] = _mm512_min_ps(lo[j], v);
            hi[j] = _mm512_max_ps(hi[j], v);
        }
    // the lanes' sum in ep_int8_sum_squares' order: (a0 + a1) + (a2 + a3), then halves folded
    __m512 t = _mm512_add_ps(_mm512_add_ps(ss[0], ss[1]), _mm512_add_ps(ss[2], ss[3]));
    __m256 h8 = _mm256_add_ps(_mm512_castps512_ps256(t), _mm512_extractf32x8_ps(t, 1));
    __m128 h4 = _mm_add_ps(_mm256_castps256_ps128(h8), _mm256_extractf128_ps(h8, 1));
    h4 = _mm_add_ps(h4, _mm_movehl_ps(h4, h4));
    const float limit = ep_int8_outlier_limit(_mm_cvtss_f32(_mm_add_ss(h4, _mm_movehdup_ps(h4))), K);
    float mn = _mm512_reduce_min_ps(_mm512_min_ps(_mm512_min_ps(lo[0], lo[1]), _mm512_min_ps(lo[2], lo[3])));
    float mx = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(hi[0], hi[1]), _mm512_max_ps(hi[2], hi[3])));
    ep_int8_row r;
    memset(&r, 0, sizeof r);
    if (fmaxf(-mn, mx) > limit) {
        enum { CAP = 64 };
        int cand_k[CAP], found = 0;
        const __m512 lim = _mm512_set1_ps(limit);
        __m512 l2[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()}, h2[2] = {l2[0], l2[0]};
        for (int k = 0; k < K; k += 16) {
            const __m512 v = _mm512_loadu_ps(x + k);
            const int j = (k / 16) % 2; /* two chains: the masked min / max do not wait on each other */
            __mmask16 out = _mm512_cmp_ps_mask(_mm512_abs_ps(v), lim, _CMP_GT_OQ);
            l2[j] = _mm512_mask_min_ps(l2[j], (__mmask16)~out, l2[j], v);
            h2[j] = _mm512_mask_max_ps(h2[j], (__mmask16)~out, h2[j], v);
            for (; out; out &= (__mmask16)(out - 1)) {
                if (found == CAP) return ep_int8_row_params(x, K);
                cand_k[found++] = k + __builtin_ctz(out);
            }
        }
        mn = _mm512_reduce_min_ps(_mm512_min_ps(l2[0], l2[1]));
        mx = _mm512_reduce_max_ps(_mm512_max_ps(h2[0], h2[1]));
        for (int c = 0; c < found; c++) ep_int8_add_outlier(&r, cand_k[c], x[cand_k[c]]);
        for (int c = 0; c < found; c++) {
            int kept = 0;
            for (int o = 0; o < r.n_out; o++) kept |= r.out_k[o] == cand_k[c];
            if (!kept) {
                mn = fminf(mn, x[cand_k[c]]);
                mx = fmaxf(mx, x[cand_k[c]]);
            }
        }
    }
    const float range = mx - mn;
    r.scale = range > 0 ? range / 255.0f : 1.0f;
    r.zero = (int32_t)nearbyintf(-mn * (1.0f / r.scale));
    if (r.zero > 255) r.zero = 255;
    return r;
}

/* Row i of a tile ([K/16][MR][16] bytes: for each 16 k, every row's 16 codes) from x with
 * code r: one 16-byte store per 16 values. */
static void quantize_into_tile(uint8_t *tile, int i, const float *x, int K, const ep_int8_row *r) {
    const __m512 inv = _mm512_set1_ps(1.0f / r->scale);
    const __m512i zero = _mm512_set1_epi32(r->zero), zmin = _mm512_setzero_si512();
    for (int k = 0; k < K; k += 16) {
        __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + k), inv)), zero);
        q = _mm512_max_epi32(q, zmin); /* then the unsigned saturation clamps at 255 */
        _mm_storeu_si128((__m128i *)(tile + ((size_t)(k / 16) * MR + i) * 16), _mm512_cvtusepi32_epi8(q));
    }
    for (int o = 0; o < r->n_out; o++) {
        const int k = r->out_k[o];
        tile[((size_t)(k / 16) * MR + i) * 16 + k % 16] = (uint8_t)r->zero;
    }
}

/* A [M][K] -> codes rows[M] and tiles of MR rows; rows past M in the last tile are zero.
 * (Not inlined, so that a profile shows the activations' quantisation apart from the GEMM.) */
static __attribute__((noinline)) void quantize_a(uint8_t *ap, ep_int8_row *rows, const float *a, int lda, int M,
                                                 int K) {
    for (int m0 = 0; m0 < M; m0 += MR) {
        uint8_t *tile = ap + (size_t)m0 * K;
        const int mr = M - m0 < MR ? M - m0 : MR;
        for (int i = 0; i < mr; i++) {
            const float *x = a + (size_t)(m0 + i) * lda;
            rows[m0 + i] = row_params(x, K);
            quantize_into_tile(tile, i, x, K, &rows[m0 + i]);
        }
        for (int i = mr; i < MR; i++)
            for (int k = 0; k < K; k += 16) memset(tile + ((size_t)(k / 16) * MR + i) * 16, 0, 16);
    }
}

// ----------------------------------------------------------------------------
// GEMM

/* The float32 result of row r's sums c0, c1 over the 32 columns at n0, before act:
 * sw[n] * (sa * sum + sum over outliers x_o * qw[n][k_o]) + bias[n]. */
static inline void epilogue_row(__m512 v[2], __m512i c0, __m512i c1, const ep_int8_row *r, const ep_int8_weights *h,
                                int n0, const float *bias) {
    const __m512 sa = _mm512_set1_ps(r->scale);
    __m512 t0 = _mm512_mul_ps(_mm512_cvtepi32_ps(c0), sa), t1 = _mm512_mul_ps(_mm512_cvtepi32_ps(c1), sa);
    for (int o = 0; o < r->n_out; o++) {
        const int8_t *col = h->cols + (size_t)r->out_k[o] * h->n + n0;
        const __m512 xo = _mm512_set1_ps(r->out_x[o]);
        const __m512 q0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)col)));
        const __m512 q1 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(col + 16))));
        t0 = _mm512_fmadd_ps(xo, q0, t0);
        t1 = _mm512_fmadd_ps(xo, q1, t1);
    }
    v[0] = _mm512_fmadd_ps(t0, _mm512_loadu_ps(h->scale + n0), _mm512_loadu_ps(bias + n0));
    v[1] = _mm512_fmadd_ps(t1, _mm512_loadu_ps(h->scale + n0 + 16), _mm512_loadu_ps(bias + n0 + 16));
}

/* One MR x 32 block: sums over all K from the zero points' terms, then the epilogue and the stores. */
static inline __attribute__((always_inline)) void micro_kernel(const uint8_t *ap, const int8_t *bp, int K,
                                                               const ep_int8_row *rows, const ep_int8_weights *h,
                                                               int n0, const float *bias, int act, float *out,
                                                               uint16_t *out_bf16, int ldo, int mr) {
    __m512i c0[MR], c1[MR];
    const __m512i cs0 = _mm512_loadu_si512((const void *)(h->colsum + n0));
    const __m512i cs1 = _mm512_loadu_si512((const void *)(h->colsum + n0 + 16));
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++) {
        const __m512i z = _mm512_set1_epi32(i < mr ? -rows[i].zero : 0);
        c0[i] = _mm512_mullo_epi32(z, cs0);
        c1[i] = _mm512_mullo_epi32(z, cs1);
    }
    for (int g = 0; g < K / 4; g++) {
        const __m512i w0 = _mm512_load_si512((const void *)(bp + (size_t)g * 128));
        const __m512i w1 = _mm512_load_si512((const void *)(bp + (size_t)g * 128 + 64));
        /* row i's 4 codes at a[4 i] */
        const i32_alias *a = (const i32_alias *)(const void *)(ap + (size_t)(g / 4) * (MR * 16) + (g % 4) * 4);
#pragma GCC unroll 12
        for (int i = 0; i < MR; i++) {
            const __m512i ai = _mm512_set1_epi32(a[4 * i]);
            c0[i] = _mm512_dpbusd_epi32(c0[i], ai, w0);
            c1[i] = _mm512_dpbusd_epi32(c1[i], ai, w1);
        }
    }
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++) {
        if (i >= mr) break;
        __m512 v[2];
        epilogue_row(v, c0[i], c1[i], &rows[i], h, n0, bias);
        if (act == EP_ACT_GELU) {
            v[0] = ep_avx512_gelu(v[0]);
            v[1] = ep_avx512_gelu(v[1]);
        }
        if (out) {
            _mm512_storeu_ps(out + (size_t)i * ldo, v[0]);
            _mm512_storeu_ps(out + (size_t)i * ldo + 16, v[1]);
        }
        if (out_bf16) {
            _mm256_storeu_si256((__m256i *)(out_bf16 + (size_t)i * ldo), ep_avx512_to_bf16(v[0]));
            _mm256_storeu_si256((__m256i *)(out_bf16 + (size_t)i * ldo + 16), ep_avx512_to_bf16(v[1]));
        }
    }
}

/* Where linear()'s scratch puts the tiles and the row codes. */
static uint8_t *scratch_tiles(float *scratch) { return (uint8_t *)(void *)scratch; }
static ep_int8_row *scratch_rows(float *scratch, int M, int K) {
    const size_t tiles = ((size_t)M + MR) * (size_t)K; /* bytes, a multiple of 16 since K is */
    return (ep_int8_row *)(void *)((unsigned char *)scratch + tiles);
}

static void linear(float *out, uint16_t *out_bf16, int ldo, const float *a, const uint16_t *a_bf16, int lda,
                   const ep_packed *w, const float *bias, int M, int act, float *scratch) {
    (void)a_bf16;
    const ep_int8_weights *h = w->panels;
    const int N = h->n, K = h->k;
    uint8_t *ap = scratch_tiles(scratch);
    ep_int8_row *rows = scratch_rows(scratch, M, K);
    quantize_a(ap, rows, a, lda, M, K);
    for (int n0 = 0; n0 < N; n0 += NR) {
        const int8_t *bp = h->panels + (size_t)n0 * K;
        for (int m0 = 0; m0 < M; m0 += MR) {
            const int mr = M - m0 < MR ? M - m0 : MR;
            micro_kernel(ap + (size_t)m0 * K, bp, K, rows + m0, h, n0, bias, act,
                         out ? out + (size_t)m0 * ldo + n0 : NULL, out_bf16 ? out_bf16 + (size_t)m0 * ldo + n0 : NULL,
                         ldo, mr);
        }
    }
}

EP_TARGET_END

static size_t linear_scratch(int max_m, int max_width) {
    const size_t tiles = ((size_t)max_m + MR) * (size_t)max_width;          /* bytes */
    const size_t rows = ((size_t)max_m + MR) * sizeof(ep_int8_row) + 64;    /* bytes */
    return (tiles + rows + sizeof(float) - 1) / sizeof(float);
}

static ep_cpu_kernels vnni_table;
static pthread_once_t vnni_once = PTHREAD_ONCE_INIT;

static void fill_table(void) {
    vnni_table = (ep_cpu_kernels){.name = "avx512-vnni", .bf16 = 0, .int8 = 1, .pack = ep_int8_pack,
                                  .linear = linear, .linear_scratch = linear_scratch};
    ep_avx512_ops(&vnni_table);
}

const ep_cpu_kernels *ep_cpu_kernels_avx512_vnni(void) {
    if (!ep_cpu_features_get()->avx512_vnni) return NULL;
    pthread_once(&vnni_once, fill_table);
    return &vnni_table;
}
