/*
 * cpu_fast_avx2.c - float32 kernels for CPUs with AVX2 and FMA but without
 * AVX-512 (Intel Haswell to Alder Lake's big cores without it, AMD Zen 1-3).
 *
 * GEMM: W is packed once into panels of 16 output columns, [K][16] each, so
 * the micro-kernel reads two ymm of W per k; the activations are broadcast
 * straight from their rows (no packing of A). The micro-kernel keeps a 6 x 16
 * block of C in 12 ymm (12 accumulators + 2 panel vectors + 1 broadcast = 15
 * of the 16 registers), starts it from the bias and applies GELU before the
 * one store.
 *
 * Batch invariance by construction: every output element is one FMA chain,
 * c = fma(a[k], w[k], c) for k = 0 .. K-1 starting from the bias, whatever
 * M is and wherever the row sits. A tile with fewer than 6 rows left runs
 * the same 6-row kernel with the missing rows pointing at its first row
 * (computed, never stored), and the k blocking only sends the partial sums
 * through memory, which is exact. So a text's vector has the same bits alone
 * and in any batch (tests/host/test_cpu_fast_conformance.c checks it).
 *
 * Attention, LayerNorm and GELU are vectorised over 8 floats (hidden sizes
 * are multiples of 32, the backend checks; attention falls back to the
 * reference loop for head sizes that are not multiples of 16); pooling is
 * the reference op.
 */
#include "cpu_fast.h"
#include "cpu_fast_target.h"
#include "cpu_ops.h"

#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NR 16  /* output columns per panel: two ymm */
#define MR 6   /* rows per micro-tile */
#define KC 256 /* k per block: a panel slice (KC x 16 floats, 16 KiB) stays in L1 */

static void to_bf16(uint16_t *dst, const float *src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = ep_f32_to_bf16(src[i]);
}

EP_TARGET_BEGIN(EP_ISA_AVX2)

// ----------------------------------------------------------------------------
// Vector math, as cpu_fast_avx512.h: exp by Cody-Waite reduction and a
// degree-6 Taylor polynomial, 2^n built in the exponent bits (x is clamped so
// n stays in [-126, 127]); erf by Abramowitz & Stegun 7.1.26.

static inline __m256 exp8(__m256 x) {
    x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(88.0f)), _mm256_set1_ps(-87.3365f));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504089f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.0f / 720.0f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

/* Exact GELU, 0.5 x (1 + erf(x / sqrt 2)); for x < 0, 1 + erf is the tail q itself (no cancellation). */
static inline __m256 gelu8(__m256 x) {
    const __m256 z = _mm256_mul_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), x), _mm256_set1_ps(0.70710678118654752f));
    const __m256 d = _mm256_fmadd_ps(z, _mm256_set1_ps(0.3275911f), _mm256_set1_ps(1.0f));
    const __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f), d);
    __m256 p = _mm256_set1_ps(1.061405429f);
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.453152027f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.421413741f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.284496736f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.254829592f));
    p = _mm256_mul_ps(p, t);
    const __m256 q = _mm256_mul_ps(p, exp8(_mm256_mul_ps(_mm256_sub_ps(_mm256_setzero_ps(), z), z)));
    const __m256 neg = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
    const __m256 one_plus_erf = _mm256_blendv_ps(_mm256_sub_ps(_mm256_set1_ps(2.0f), q), q, neg);
    return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x), one_plus_erf);
}

static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// ----------------------------------------------------------------------------
// GEMM

/* C[MR][16] = (first ? bias : C) + rows ar[0..MR) x panel over kc values of k
 * (ar and bp already point at the block's first k); when last, act is applied
 * and the bfloat16 copy written. Only rows < mr are loaded from or stored to C. */
static inline __attribute__((always_inline)) void micro_kernel(const float *const ar[MR], const float *bp, int kc,
                                                               const float *bias, int first, int last, int act,
                                                               float *out, uint16_t *out_bf16, int ldo, int mr) {
    __m256 c0[MR], c1[MR];
    const __m256 b0 = _mm256_loadu_ps(bias), b1 = _mm256_loadu_ps(bias + 8);
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
        if (first || i >= mr) {
            c0[i] = b0;
            c1[i] = b1;
        } else {
            c0[i] = _mm256_loadu_ps(out + (size_t)i * ldo);
            c1[i] = _mm256_loadu_ps(out + (size_t)i * ldo + 8);
        }
    }
    const float *a0 = ar[0], *a1 = ar[1], *a2 = ar[2], *a3 = ar[3], *a4 = ar[4], *a5 = ar[5];
    for (int k = 0; k < kc; k++) {
        const __m256 w0 = _mm256_load_ps(bp + (size_t)k * NR), w1 = _mm256_load_ps(bp + (size_t)k * NR + 8);
        __m256 a;
        a = _mm256_broadcast_ss(a0 + k);
        c0[0] = _mm256_fmadd_ps(a, w0, c0[0]);
        c1[0] = _mm256_fmadd_ps(a, w1, c1[0]);
        a = _mm256_broadcast_ss(a1 + k);
        c0[1] = _mm256_fmadd_ps(a, w0, c0[1]);
        c1[1] = _mm256_fmadd_ps(a, w1, c1[1]);
        a = _mm256_broadcast_ss(a2 + k);
        c0[2] = _mm256_fmadd_ps(a, w0, c0[2]);
        c1[2] = _mm256_fmadd_ps(a, w1, c1[2]);
        a = _mm256_broadcast_ss(a3 + k);
        c0[3] = _mm256_fmadd_ps(a, w0, c0[3]);
        c1[3] = _mm256_fmadd_ps(a, w1, c1[3]);
        a = _mm256_broadcast_ss(a4 + k);
        c0[4] = _mm256_fmadd_ps(a, w0, c0[4]);
        c1[4] = _mm256_fmadd_ps(a, w1, c1[4]);
        a = _mm256_broadcast_ss(a5 + k);
        c0[5] = _mm256_fmadd_ps(a, w0, c0[5]);
        c1[5] = _mm256_fmadd_ps(a, w1, c1[5]);
    }
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) { /* constant bounds keep c0, c1 in registers */
        if (i >= mr) break;
        __m256 v0 = c0[i], v1 = c1[i];
        if (last && act == EP_ACT_GELU) {
            v0 = gelu8(v0);
            v1 = gelu8(v1);
        }
        if (out) {
            _mm256_storeu_ps(out + (size_t)i * ldo, v0);
            _mm256_storeu_ps(out + (size_t)i * ldo + 8, v1);
        }
        if (last && out_bf16) {
            float tmp[NR];
            _mm256_storeu_ps(tmp, v0);
            _mm256_storeu_ps(tmp + 8, v1);
            to_bf16(out_bf16 + (size_t)i * ldo, tmp, NR);
        }
    }
}

static void linear(float *out, uint16_t *out_bf16, int ldo, const float *a, const uint16_t *a_bf16, int lda,
                   const ep_packed *w, const float *bias, int M, int act, float *scratch) {
    (void)a_bf16;
    (void)scratch;
    const int N = w->n, K = w->k;
    const float *panels = w->panels;
    // without a float32 output there is nowhere to keep C between blocks: one block
    const int kc = out ? KC : K;
    for (int k0 = 0; k0 < K; k0 += kc) {
        const int kn = K - k0 < kc ? K - k0 : kc, first = k0 == 0, last = k0 + kn == K;
        for (int n0 = 0; n0 < N; n0 += NR) {
            const float *bp = panels + (size_t)n0 * K + (size_t)k0 * NR;
            for (int m0 = 0; m0 < M; m0 += MR) {
                const int mr = M - m0 < MR ? M - m0 : MR;
                const float *ar[MR];
                for (int i = 0; i < MR; i++) ar[i] = a + (size_t)(m0 + (i < mr ? i : 0)) * lda + k0;
                micro_kernel(ar, bp, kn, bias + n0, first, last, act, out ? out + (size_t)m0 * ldo + n0 : NULL,
                             out_bf16 ? out_bf16 + (size_t)m0 * ldo + n0 : NULL, ldo, mr);
            }
        }
    }
}

// ----------------------------------------------------------------------------
// Attention, as the AVX-512 table does it: per sequence and head, keys
// transposed into kt[D][Lp] so that four queries' scores against 8 keys are
// four FMA chains over D; softmax with the vector exp (lanes past the
// sequence masked out); the weighted sum of values over D, 16 floats at a time.

/* One group of four queries: scores, softmax and P V (ep_attention_by_groups walks the rest). */
static void attention_group(const ep_attention_group *g) {
    const int L = g->L, D = g->D, hidden = g->hidden, nq = g->nq, Lp = g->blk->Lp;
    const size_t stride = g->stride;
    const float scale = g->scale;
    const float *kt = g->blk->kt, *v0 = g->v0;
    const float *const *q = g->q;
    float *sc = g->blk->scores;
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    // scores (-inf past L), then max
    __m256 mx[4];
    for (int r = 0; r < 4; r++) mx[r] = _mm256_set1_ps(-INFINITY);
    for (int jb = 0; jb < Lp; jb += 8) {
        __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                         _mm256_setzero_ps()};
        for (int d = 0; d < D; d++) {
            const __m256 kv = _mm256_load_ps(kt + (size_t)d * Lp + jb);
            for (int r = 0; r < 4; r++) acc[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(q[r] + d), kv, acc[r]);
        }
        const __m256 valid = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(L - jb), iota));
        for (int r = 0; r < 4; r++) {
            const __m256 sv = _mm256_blendv_ps(_mm256_set1_ps(-INFINITY),
                                               _mm256_mul_ps(acc[r], _mm256_set1_ps(scale)), valid);
            _mm256_store_ps(sc + (size_t)r * Lp + jb, sv);
            mx[r] = _mm256_max_ps(mx[r], sv);
        }
    }
    // exp(s - max) (zero past L), and the denominators
    float inv[4];
    for (int r = 0; r < 4; r++) {
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx[r]), _mm256_extractf128_ps(mx[r], 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        const __m256 m = _mm256_set1_ps(_mm_cvtss_f32(m4));
        __m256 sum = _mm256_setzero_ps();
        for (int jb = 0; jb < Lp; jb += 8) {
            const __m256 valid =
                _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(L - jb), iota));
            const __m256 e =
                _mm256_and_ps(valid, exp8(_mm256_sub_ps(_mm256_load_ps(sc + (size_t)r * Lp + jb), m)));
            _mm256_store_ps(sc + (size_t)r * Lp + jb, e);
            sum = _mm256_add_ps(sum, e);
        }
        inv[r] = 1.0f / hsum8(sum);
    }
    // out = P V / denominator, D in blocks of 16 floats (8 accumulators)
    for (int d0 = 0; d0 < D; d0 += 16) {
        __m256 acc[4][2];
        for (int r = 0; r < 4; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
        for (int j = 0; j < L; j++) {
            const float *vj = v0 + (size_t)j * stride + d0;
            const __m256 va = _mm256_loadu_ps(vj), vb = _mm256_loadu_ps(vj + 8);
            for (int r = 0; r < 4; r++) {
                const __m256 p = _mm256_broadcast_ss(sc + (size_t)r * Lp + j);
                acc[r][0] = _mm256_fmadd_ps(p, va, acc[r][0]);
                acc[r][1] = _mm256_fmadd_ps(p, vb, acc[r][1]);
            }
        }
        for (int r = 0; r < nq; r++) {
            float *o = g->out + (size_t)r * hidden + d0;
            _mm256_storeu_ps(o, _mm256_mul_ps(acc[r][0], _mm256_set1_ps(inv[r])));
            _mm256_storeu_ps(o + 8, _mm256_mul_ps(acc[r][1], _mm256_set1_ps(inv[r])));
        }
    }
}

static void attention(float *out, const float *qkv, const int32_t *seq_start, int n_seqs, int hidden, int n_heads,
                      float *scratch) {
    ep_attention_by_groups(out, qkv, seq_start, n_seqs, hidden, n_heads, scratch, attention_group);
}

// ----------------------------------------------------------------------------
// LayerNorm over rows whose width is a multiple of 8: mean, then variance
// about it (two passes, like PyTorch), then scale and shift.

static void layernorm_row(float *out, uint16_t *out_bf16, const float *in, const float *gamma, const float *beta,
                          int n, float eps) {
    __m256 s = _mm256_setzero_ps();
    for (int i = 0; i < n; i += 8) s = _mm256_add_ps(s, _mm256_loadu_ps(in + i));
    const __m256 mean = _mm256_set1_ps(hsum8(s) / (float)n);
    __m256 v = _mm256_setzero_ps();
    for (int i = 0; i < n; i += 8) {
        const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(in + i), mean);
        v = _mm256_fmadd_ps(d, d, v);
    }
    const __m256 rstd = _mm256_set1_ps(1.0f / sqrtf(hsum8(v) / (float)n + eps));
    for (int i = 0; i < n; i += 8) {
        const __m256 d = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(in + i), mean), rstd);
        _mm256_storeu_ps(out + i, _mm256_fmadd_ps(d, _mm256_loadu_ps(gamma + i), _mm256_loadu_ps(beta + i)));
    }
    if (out_bf16) to_bf16(out_bf16, out, (size_t)n);
}

static void residual_layernorm(float *x, uint16_t *x_bf16, const float *residual, const float *gamma,
                               const float *beta, int T, int hidden, float eps) {
    for (int t = 0; t < T; t++) {
        float *row = x + (size_t)t * hidden;
        const float *res = residual + (size_t)t * hidden;
        for (int i = 0; i < hidden; i += 8)
            _mm256_storeu_ps(row + i, _mm256_add_ps(_mm256_loadu_ps(row + i), _mm256_loadu_ps(res + i)));
        layernorm_row(row, x_bf16 ? x_bf16 + (size_t)t * hidden : NULL, row, gamma, beta, hidden, eps);
    }
}

static void embed_layernorm(float *out, uint16_t *out_bf16, const int32_t *ids, const int32_t *seq_start,
                            int n_seqs, const float *word_emb, const float *pos_emb, const float *type_emb,
                            const float *gamma, const float *beta, int hidden, float eps, int pad_id) {
    for (int s = 0; s < n_seqs; s++) {
        int non_pad = 0;
        for (int t = seq_start[s]; t < seq_start[s + 1]; t++) {
            const float *w = word_emb + (size_t)ids[t] * hidden;
            const float *p = pos_emb + (size_t)ep_cpu_position(pad_id, ids[t], t - seq_start[s], &non_pad) * hidden;
            float *row = out + (size_t)t * hidden;
            for (int i = 0; i < hidden; i += 8)
                _mm256_storeu_ps(row + i, _mm256_add_ps(_mm256_add_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(p + i)),
                                                        _mm256_loadu_ps(type_emb + i)));
            layernorm_row(row, out_bf16 ? out_bf16 + (size_t)t * hidden : NULL, row, gamma, beta, hidden, eps);
        }
    }
}

EP_TARGET_END

// ----------------------------------------------------------------------------
// Packing and the getter run on any CPU.

static ep_status pack(ep_packed *dst, const float *w, int n, int k, ep_error *err) {
    if (n % NR != 0 || n < 1 || k < 1)
        return ep_error_set(err, EP_ERR_USAGE, "avx2 kernels: a %d x %d weight: rows must be a multiple of %d", n, k,
                            NR);
    float *p = ep_aligned_calloc(sizeof(float) * (size_t)n * k);
    if (!p) return ep_error_set(err, EP_ERR_NOMEM, "avx2 kernels: out of memory packing a %d x %d weight", n, k);
    for (int n0 = 0; n0 < n; n0 += NR)
        for (int kk = 0; kk < k; kk++)
            for (int j = 0; j < NR; j++) p[(size_t)n0 * k + (size_t)kk * NR + j] = w[(size_t)(n0 + j) * k + kk];
    *dst = (ep_packed){.n = n, .k = k, .bf16 = 0, .panels = p, .owned = p};
    return EP_OK;
}

static size_t linear_scratch(int max_m, int max_width) {
    (void)max_m, (void)max_width;
    return 16; /* A is read in place and C kept in registers: nothing */
}

static const ep_cpu_kernels avx2 = {
    .name = "avx2",
    .bf16 = 0,
    .pack = pack,
    .linear = linear,
    .linear_scratch = linear_scratch,
    .attention = attention,
    .residual_layernorm = residual_layernorm,
    .embed_layernorm = embed_layernorm,
    .pool_normalize = ep_cpu_pool_normalize,
    .to_bf16 = to_bf16,
};

const ep_cpu_kernels *ep_cpu_kernels_avx2(void) { return ep_cpu_features_get()->avx2_fma ? &avx2 : NULL; }
