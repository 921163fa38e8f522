/*
 * cpu_fast_avx512.c - float32 kernels for CPUs with AVX-512 (F, BW, VL, DQ).
 *
 * GEMM: W is packed once into panels of 32 output columns, [K][32] each, so
 * the micro-kernel reads two zmm of W per k; A (the activations, M <= a chunk
 * of ~256 rows) is packed per call into tiles of MR rows, [K][MR], so its
 * values are broadcast from consecutive addresses. The micro-kernel keeps an
 * MR x 32 block of C in 2 * MR zmm registers, starts it from the bias and
 * applies GELU before the one store: no separate bias or activation pass.
 * Panels are the outer loop: a panel (K x 32 floats, <= 192 KiB) and the
 * packed A (<= 1.5 MiB) stay in L2 while every tile of A passes over them.
 *
 * The other ops (attention, LayerNorm, pooling) are vectorised over the
 * hidden width, which must be a multiple of 16 (the backend checks), and the
 * head size for attention (else the reference loop runs).
 */
#include "cpu_fast.h"
#include "cpu_fast_target.h"
#include "cpu_ops.h"

#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NR 32 /* output columns per panel: two zmm */
#define MR 14 /* rows per micro-tile: 28 accumulators + 2 panel vectors + 1 broadcast <= 32 zmm */

EP_TARGET_BEGIN(EP_ISA_AVX512)
#include "cpu_fast_avx512.h"

static void to_bf16(uint16_t *dst, const float *src, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm256_storeu_si256((__m256i *)(dst + i), ep_avx512_to_bf16(_mm512_loadu_ps(src + i)));
    for (; i < n; i++) dst[i] = ep_f32_to_bf16(src[i]);
}

static float hsum(__m512 v) { return _mm512_reduce_add_ps(v); }

// ----------------------------------------------------------------------------
// GEMM

/* r[i][j] <- r[j][i] for a 16 x 16 block in 16 zmm (unpack, then two 128-bit lane shuffles). */
static inline void transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        const __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
        const __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
        r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    for (int i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_f32x4(r[i], r[4 + i], 0x88);
        t[4 + i] = _mm512_shuffle_f32x4(r[i], r[4 + i], 0xdd);
        t[8 + i] = _mm512_shuffle_f32x4(r[8 + i], r[12 + i], 0x88);
        t[12 + i] = _mm512_shuffle_f32x4(r[8 + i], r[12 + i], 0xdd);
    }
    for (int i = 0; i < 8; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0x88);
        r[8 + i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0xdd);
    }
}

/* A [M][K] (stride lda) -> tiles of MR rows, [K][MR] each, rows past M zero. Blocks
 * of 16 k go through a register transpose (the scalar copy was ~8% of GEMM time). */
static void pack_a(float *ap, const float *a, int lda, int M, int K) {
    const __mmask16 keep = (__mmask16)((1u << MR) - 1u);
    for (int m0 = 0; m0 < M; m0 += MR) {
        const int mr = M - m0 < MR ? M - m0 : MR;
        float *tile = ap + (size_t)m0 * K;
        int k0 = 0;
        for (; k0 + 16 <= K; k0 += 16) {
            __m512 r[16];
            for (int i = 0; i < 16; i++)
                r[i] = i < mr ? _mm512_loadu_ps(a + (size_t)(m0 + i) * lda + k0) : _mm512_setzero_ps();
            transpose16(r);
            for (int j = 0; j < 16; j++) _mm512_mask_storeu_ps(tile + (size_t)(k0 + j) * MR, keep, r[j]);
        }
        for (; k0 < K; k0++)
            for (int i = 0; i < MR; i++) tile[(size_t)k0 * MR + i] = i < mr ? a[(size_t)(m0 + i) * lda + k0] : 0.0f;
    }
}

/* C[MR][32] = (first ? bias : C) + A_tile * panel over kc values of k; when last,
 * act is applied and the bfloat16 copy written. Rows >= mr are computed from the
 * zero padding of the packed tile and never stored. */
static inline __attribute__((always_inline)) void micro_kernel(const float *ap, const float *bp, int kc,
                                                               const float *bias, int first, int last, int act,
                                                               float *out, uint16_t *out_bf16, int ldo, int mr) {
    __m512 c0[MR], c1[MR];
    const __m512 b0 = _mm512_loadu_ps(bias), b1 = _mm512_loadu_ps(bias + 16);
#pragma GCC unroll 14
    for (int i = 0; i < MR; i++) {
        if (first || i >= mr) {
            c0[i] = b0;
            c1[i] = b1;
        } else {
            c0[i] = _mm512_loadu_ps(out + (size_t)i * ldo);
            c1[i] = _mm512_loadu_ps(out + (size_t)i * ldo + 16);
        }
    }
#pragma GCC unroll 2
    for (int k = 0; k < kc; k++) {
        const __m512 w0 = _mm512_load_ps(bp + (size_t)k * NR), w1 = _mm512_load_ps(bp + (size_t)k * NR + 16);
        const float *a = ap + (size_t)k * MR;
#pragma GCC unroll 14
        for (int i = 0; i < MR; i++) {
            const __m512 ai = _mm512_set1_ps(a[i]);
            c0[i] = _mm512_fmadd_ps(ai, w0, c0[i]);
            c1[i] = _mm512_fmadd_ps(ai, w1, c1[i]);
        }
    }
#pragma GCC unroll 14
    for (int i = 0; i < MR; i++) {
        if (i >= mr) break;
        __m512 v0 = c0[i], v1 = c1[i];
        if (last && act == EP_ACT_GELU) {
            v0 = ep_avx512_gelu(v0);
            v1 = ep_avx512_gelu(v1);
        }
        if (out) {
            _mm512_storeu_ps(out + (size_t)i * ldo, v0);
            _mm512_storeu_ps(out + (size_t)i * ldo + 16, v1);
        }
        if (last && out_bf16) {
            _mm256_storeu_si256((__m256i *)(out_bf16 + (size_t)i * ldo), ep_avx512_to_bf16(v0));
            _mm256_storeu_si256((__m256i *)(out_bf16 + (size_t)i * ldo + 16), ep_avx512_to_bf16(v1));
        }
    }
}

/* k per block: a panel slice (KC x 32 floats) and a tile slice (KC x MR) fit in L1 together;
 * between blocks the C tile goes through the output rows. */
static const int kc_block = 384;

static void linear(float *out, uint16_t *out_bf16, int ldo, const float *a, const uint16_t *a_bf16, int lda,
                   const ep_packed *w, const float *bias, int M, int act, float *scratch) {
    (void)a_bf16;
    const int N = w->n, K = w->k;
    float *ap = scratch;
    pack_a(ap, a, lda, M, K);
    const float *panels = w->panels;
    // without a float32 output there is nowhere to keep C between blocks: one block
    const int kc = out ? kc_block : K;
    for (int k0 = 0; k0 < K; k0 += kc) {
        const int kn = K - k0 < kc ? K - k0 : kc, first = k0 == 0, last = k0 + kn == K;
        for (int n0 = 0; n0 < N; n0 += NR) {
            const float *bp = panels + (size_t)n0 * K + (size_t)k0 * NR;
            for (int m0 = 0; m0 < M; m0 += MR) {
                const int mr = M - m0 < MR ? M - m0 : MR;
                micro_kernel(ap + (size_t)m0 * K + (size_t)k0 * MR, bp, kn, bias + n0, first, last, act,
                             out ? out + (size_t)m0 * ldo + n0 : NULL,
                             out_bf16 ? out_bf16 + (size_t)m0 * ldo + n0 : NULL, ldo, mr);
            }
        }
    }
}

// ----------------------------------------------------------------------------
// Attention: per sequence and head, keys transposed into kt[D][Lp] so that
// four queries' scores against 16 keys are four FMA chains over D; softmax
// with the vector exp; the weighted sum of values over D in zmm.

/* One group of four queries: scores, softmax and P V (ep_attention_by_groups walks the rest). */
static void attention_group(const ep_attention_group *g) {
    const int L = g->L, D = g->D, hidden = g->hidden, nq = g->nq, Lp = g->blk->Lp;
    const size_t stride = g->stride;
    const float scale = g->scale;
    const float *kt = g->blk->kt, *v0 = g->v0;
    const float *const *q = g->q;
    float *sc = g->blk->scores;
    const int DV = D / 16;
    // scores, then max
    __m512 mx[4];
    for (int r = 0; r < 4; r++) mx[r] = _mm512_set1_ps(-INFINITY);
    for (int jb = 0; jb < Lp; jb += 16) {
        __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                         _mm512_setzero_ps()};
        for (int d = 0; d < D; d++) {
            const __m512 kv = _mm512_load_ps(kt + (size_t)d * Lp + jb);
            for (int r = 0; r < 4; r++) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(q[r][d]), kv, acc[r]);
        }
        const __mmask16 valid = L - jb >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (L - jb)) - 1u);
        for (int r = 0; r < 4; r++) {
            const __m512 sv = _mm512_mul_ps(acc[r], _mm512_set1_ps(scale));
            _mm512_store_ps(sc + (size_t)r * Lp + jb, sv);
            mx[r] = _mm512_mask_max_ps(mx[r], valid, mx[r], sv);
        }
    }
    // exp(s - max) (zero past L), and the denominators
    float inv[4];
    for (int r = 0; r < 4; r++) {
        const __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(mx[r]));
        __m512 sum = _mm512_setzero_ps();
        for (int jb = 0; jb < Lp; jb += 16) {
            const __mmask16 valid =
                L - jb >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (L - jb)) - 1u);
            const __m512 e = _mm512_maskz_mov_ps(
                valid, ep_avx512_exp(_mm512_sub_ps(_mm512_load_ps(sc + (size_t)r * Lp + jb), m)));
            _mm512_store_ps(sc + (size_t)r * Lp + jb, e);
            sum = _mm512_add_ps(sum, e);
        }
        inv[r] = 1.0f / hsum(sum);
    }
    // out = P V / denominator, D in blocks of up to 4 zmm
    for (int dv0 = 0; dv0 < DV; dv0 += 4) {
        const int nd = DV - dv0 < 4 ? DV - dv0 : 4;
        __m512 acc[4][4];
        for (int r = 0; r < 4; r++)
            for (int c = 0; c < 4; c++) acc[r][c] = _mm512_setzero_ps();
        for (int j = 0; j < L; j++) {
            const float *vj = v0 + (size_t)j * stride + (size_t)dv0 * 16;
            for (int c = 0; c < nd; c++) {
                const __m512 vv = _mm512_loadu_ps(vj + 16 * c);
                for (int r = 0; r < 4; r++)
                    acc[r][c] = _mm512_fmadd_ps(_mm512_set1_ps(sc[(size_t)r * Lp + j]), vv, acc[r][c]);
            }
        }
        for (int r = 0; r < nq; r++) {
            float *o = g->out + (size_t)r * hidden + (size_t)dv0 * 16;
            for (int c = 0; c < nd; c++)
                _mm512_storeu_ps(o + 16 * c, _mm512_mul_ps(acc[r][c], _mm512_set1_ps(inv[r])));
        }
    }
}

static void attention(float *out, const float *qkv, const int32_t *seq_start, int n_seqs, int hidden, int n_heads,
                      float *scratch) {
    ep_attention_by_groups(out, qkv, seq_start, n_seqs, hidden, n_heads, scratch, attention_group);
}

// ----------------------------------------------------------------------------
// LayerNorm over rows whose width is a multiple of 16: mean, then variance
// about it (two passes, like PyTorch), then scale and shift.

static void layernorm_row(float *out, uint16_t *out_bf16, const float *in, const float *gamma, const float *beta,
                          int n, float eps) {
    __m512 s = _mm512_setzero_ps();
    for (int i = 0; i < n; i += 16) s = _mm512_add_ps(s, _mm512_loadu_ps(in + i));
    const __m512 mean = _mm512_set1_ps(hsum(s) / (float)n);
    __m512 v = _mm512_setzero_ps();
    for (int i = 0; i < n; i += 16) {
        const __m512 d = _mm512_sub_ps(_mm512_loadu_ps(in + i), mean);
        v = _mm512_fmadd_ps(d, d, v);
    }
    const __m512 rstd = _mm512_set1_ps(1.0f / sqrtf(hsum(v) / (float)n + eps));
    for (int i = 0; i < n; i += 16) {
        const __m512 d = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(in + i), mean), rstd);
        const __m512 y = _mm512_fmadd_ps(d, _mm512_loadu_ps(gamma + i), _mm512_loadu_ps(beta + i));
        _mm512_storeu_ps(out + i, y);
        if (out_bf16) _mm256_storeu_si256((__m256i *)(out_bf16 + i), ep_avx512_to_bf16(y));
    }
}

static void residual_layernorm(float *x, uint16_t *x_bf16, const float *residual, const float *gamma,
                               const float *beta, int T, int hidden, float eps) {
    for (int t = 0; t < T; t++) {
        float *row = x + (size_t)t * hidden;
        const float *res = residual + (size_t)t * hidden;
        for (int i = 0; i < hidden; i += 16)
            _mm512_storeu_ps(row + i, _mm512_add_ps(_mm512_loadu_ps(row + i), _mm512_loadu_ps(res + i)));
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
            for (int i = 0; i < hidden; i += 16)
                _mm512_storeu_ps(row + i, _mm512_add_ps(_mm512_add_ps(_mm512_loadu_ps(w + i), _mm512_loadu_ps(p + i)),
                                                        _mm512_loadu_ps(type_emb + i)));
            layernorm_row(row, out_bf16 ? out_bf16 + (size_t)t * hidden : NULL, row, gamma, beta, hidden, eps);
        }
    }
}

static void pool_normalize(float *out, const float *x, const int32_t *seq_start, int n_seqs, int hidden,
                           int pooling, int normalize) {
    for (int s = 0; s < n_seqs; s++) {
        float *o = out + (size_t)s * hidden;
        const int start = seq_start[s], len = seq_start[s + 1] - start;
        if (!ep_cpu_pool_trivial(o, x, start, len, hidden, pooling)) {
            const __m512 inv_len = _mm512_set1_ps(1.0f / (float)len);
            for (int i = 0; i < hidden; i += 16) {
                __m512 acc = _mm512_setzero_ps();
                for (int t = start; t < start + len; t++) acc = _mm512_add_ps(acc, _mm512_loadu_ps(x + (size_t)t * hidden + i));
                _mm512_storeu_ps(o + i, _mm512_mul_ps(acc, inv_len));
            }
        }
        if (normalize) {
            __m512 acc = _mm512_setzero_ps();
            for (int i = 0; i < hidden; i += 16) {
                const __m512 v = _mm512_loadu_ps(o + i);
                acc = _mm512_fmadd_ps(v, v, acc);
            }
            const __m512 inv = _mm512_set1_ps(1.0f / fmaxf(sqrtf(hsum(acc)), 1e-12f));
            for (int i = 0; i < hidden; i += 16) _mm512_storeu_ps(o + i, _mm512_mul_ps(_mm512_loadu_ps(o + i), inv));
        }
    }
}

EP_TARGET_END

// ----------------------------------------------------------------------------
// Packing runs on any CPU (it is plain C), and so does the table getter.

static ep_status pack(ep_packed *dst, const float *w, int n, int k, ep_error *err) {
    if (n % NR != 0 || k < 1)
        return ep_error_set(err, EP_ERR_USAGE, "avx512 kernels: a %d x %d weight: rows must be a multiple of %d", n,
                            k, NR);
    float *p = ep_aligned_calloc(sizeof(float) * (size_t)n * k);
    if (!p) return ep_error_set(err, EP_ERR_NOMEM, "avx512 kernels: out of memory packing a %d x %d weight", n, k);
    for (int n0 = 0; n0 < n; n0 += NR)
        for (int kk = 0; kk < k; kk++)
            for (int j = 0; j < NR; j++) p[(size_t)n0 * k + (size_t)kk * NR + j] = w[(size_t)(n0 + j) * k + kk];
    *dst = (ep_packed){.n = n, .k = k, .bf16 = 0, .panels = p, .owned = p};
    return EP_OK;
}

static size_t linear_scratch(int max_m, int max_width) {
    return ((size_t)max_m + MR) * (size_t)max_width; /* A packed in tiles of MR rows */
}

static const ep_cpu_kernels avx512 = {
    .name = "avx512",
    .bf16 = 0,
    .pack = pack,
    .linear = linear,
    .linear_scratch = linear_scratch,
    .attention = attention,
    .residual_layernorm = residual_layernorm,
    .embed_layernorm = embed_layernorm,
    .pool_normalize = pool_normalize,
    .to_bf16 = to_bf16,
};

const ep_cpu_kernels *ep_cpu_kernels_avx512(void) { return ep_cpu_features_get()->avx512 ? &avx512 : NULL; }

/* The bf16 tables reuse every op but the GEMM. */
void ep_avx512_ops(ep_cpu_kernels *k) {
    k->attention = attention;
    k->residual_layernorm = residual_layernorm;
    k->embed_layernorm = embed_layernorm;
    k->pool_normalize = pool_normalize;
    k->to_bf16 = to_bf16;
}
