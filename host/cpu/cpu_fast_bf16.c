/*
 * cpu_fast_bf16.c - GEMMs with bfloat16 inputs and float32 accumulation:
 * AMX tiles (Sapphire Rapids and later) and AVX512-BF16 dot products
 * (Cooper Lake, Zen 4). Every other op is the AVX-512 float32 one.
 *
 * Both read W from the same packing: panels of 32 output columns; in a panel,
 * blocks of 32 k; in a block, two 16-column halves, each the 16 x 64-byte
 * "VNNI" layout an AMX B tile wants: row p holds, for each of the 16 columns,
 * the pair W[col][2p], W[col][2p+1]. vdpbf16ps reads the same 64-byte rows.
 *
 * AMX: C is a 32 x 32 block in four 16 x 16 float tiles (tmm0-3), A rows in
 * tmm4-5, W halves in tmm6-7; per 32 k, four tdpbf16ps. The C tiles start from
 * tiles of bias rows; a block of float32 output with no activation is stored
 * straight to the output rows, others go through a small float buffer where
 * GELU and the bfloat16 rounding are applied. A must be readable up to M
 * rounded up to 16 rows.
 */
#include "cpu_fast.h"
#include "cpu_fast_target.h"

#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define PANEL 32          /* output columns per panel */
#define KB 32             /* k per block */
#define HALF_TILE 512     /* uint16 in one 16 x 32 bf16 tile */

/* Packed offset (in uint16) of W[col][k]. */
static size_t packed_index(int col, int k, int K) {
    const int p = col / PANEL, half = (col % PANEL) / 16, c = col % 16;
    const int kb = k / KB, kp = (k % KB) / 2, e = k % 2;
    return ((size_t)p * (K / KB) + (size_t)kb) * 2 * HALF_TILE + (size_t)half * HALF_TILE + (size_t)kp * 32 +
           (size_t)c * 2 + (size_t)e;
}

static ep_status pack(ep_packed *dst, const float *w, int n, int k, ep_error *err) {
    if (n % PANEL != 0 || k % KB != 0)
        return ep_error_set(err, EP_ERR_USAGE, "bf16 kernels: a %d x %d weight: both sizes must be multiples of 32",
                            n, k);
    uint16_t *p = ep_aligned_calloc(sizeof(uint16_t) * (size_t)n * k);
    if (!p) return ep_error_set(err, EP_ERR_NOMEM, "bf16 kernels: out of memory packing a %d x %d weight", n, k);
    for (int col = 0; col < n; col++)
        for (int kk = 0; kk < k; kk++) p[packed_index(col, kk, k)] = ep_f32_to_bf16(w[(size_t)col * k + kk]);
    *dst = (ep_packed){.n = n, .k = k, .bf16 = 1, .panels = p, .owned = p};
    return EP_OK;
}

EP_TARGET_BEGIN(EP_ISA_AVX512_BF16)
#include "cpu_fast_avx512.h"

/* Stores rows < rows of a float block c [rows][32] (stride 32) plus bias (may be NULL), with act. */
static inline void epilogue32(const float *c, int rows, const float *bias, int act, float *out, uint16_t *out_bf16,
                              int ldo) {
    const __m512 b0 = bias ? _mm512_loadu_ps(bias) : _mm512_setzero_ps();
    const __m512 b1 = bias ? _mm512_loadu_ps(bias + 16) : _mm512_setzero_ps();
    for (int i = 0; i < rows; i++) {
        __m512 v0 = _mm512_add_ps(_mm512_load_ps(c + 32 * i), b0);
        __m512 v1 = _mm512_add_ps(_mm512_load_ps(c + 32 * i + 16), b1);
        if (act == EP_ACT_GELU) {
            v0 = ep_avx512_gelu(v0);
            v1 = ep_avx512_gelu(v1);
        }
        if (out) {
            _mm512_storeu_ps(out + (size_t)i * ldo, v0);
            _mm512_storeu_ps(out + (size_t)i * ldo + 16, v1);
        }
        if (out_bf16)
            _mm512_storeu_si512((void *)(out_bf16 + (size_t)i * ldo),
                                (__m512i)_mm512_cvtne2ps_pbh(v1, v0));
    }
}

// ----------------------------------------------------------------------------
// AVX512-BF16: an MR x 32 block of C in registers; A packed per call as
// [K/2][MR] pairs so each pair is one 32-bit broadcast.

#define MR 14

static void pack_a_pairs(uint32_t *ap, const uint16_t *a, int lda, int M, int K) {
    const int KP = K / 2;
    for (int m0 = 0; m0 < M; m0 += MR) {
        const int mr = M - m0 < MR ? M - m0 : MR;
        uint32_t *tile = ap + (size_t)m0 * KP;
        for (int i = 0; i < MR; i++) {
            if (i < mr) {
                const uint32_t *row = (const uint32_t *)(const void *)(a + (size_t)(m0 + i) * lda);
                for (int kp = 0; kp < KP; kp++) tile[(size_t)kp * MR + i] = row[kp];
            } else {
                for (int kp = 0; kp < KP; kp++) tile[(size_t)kp * MR + i] = 0;
            }
        }
    }
}

static inline __attribute__((always_inline)) void bf16_micro_kernel(const uint32_t *ap, const uint16_t *bp, int K,
                                                                    __m512 c0[MR], __m512 c1[MR]) {
    const int nkb = K / KB;
    for (int kb = 0; kb < nkb; kb++) {
        const uint16_t *b0 = bp + (size_t)kb * 2 * HALF_TILE, *b1 = b0 + HALF_TILE;
        for (int kp = 0; kp < KB / 2; kp++) {
            const __m512bh w0 = (__m512bh)_mm512_load_si512((const void *)(b0 + kp * 32));
            const __m512bh w1 = (__m512bh)_mm512_load_si512((const void *)(b1 + kp * 32));
            const uint32_t *av = ap + ((size_t)kb * (KB / 2) + kp) * MR;
#pragma GCC unroll 14
            for (int i = 0; i < MR; i++) {
                const __m512bh ai = (__m512bh)_mm512_set1_epi32((int)av[i]);
                c0[i] = _mm512_dpbf16_ps(c0[i], ai, w0);
                c1[i] = _mm512_dpbf16_ps(c1[i], ai, w1);
            }
        }
    }
}

static void dp_linear(float *out, uint16_t *out_bf16, int ldo, const float *a, const uint16_t *a_bf16, int lda,
                      const ep_packed *w, const float *bias, int M, int act, float *scratch) {
    (void)a;
    const int N = w->n, K = w->k, nkb = K / KB;
    uint32_t *ap = (uint32_t *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    pack_a_pairs(ap, a_bf16, lda, M, K);
    float *c = (float *)(ap + ((size_t)M + MR) * (K / 2)); /* [MR][32] */
    c = (float *)(((uintptr_t)c + 63) & ~(uintptr_t)63);
    const uint16_t *panels = w->panels;
    for (int n0 = 0; n0 < N; n0 += PANEL) {
        const uint16_t *bp = panels + (size_t)(n0 / PANEL) * nkb * 2 * HALF_TILE;
        for (int m0 = 0; m0 < M; m0 += MR) {
            __m512 c0[MR], c1[MR];
#pragma GCC unroll 14
            for (int i = 0; i < MR; i++) c0[i] = c1[i] = _mm512_setzero_ps();
            bf16_micro_kernel(ap + (size_t)m0 * (K / 2), bp, K, c0, c1);
            const int rows = M - m0 < MR ? M - m0 : MR;
#pragma GCC unroll 14
            for (int i = 0; i < MR; i++) {
                _mm512_store_ps(c + 32 * i, c0[i]);
                _mm512_store_ps(c + 32 * i + 16, c1[i]);
            }
            epilogue32(c, rows, bias + n0, act, out ? out + (size_t)m0 * ldo + n0 : NULL,
                       out_bf16 ? out_bf16 + (size_t)m0 * ldo + n0 : NULL, ldo);
        }
    }
}

static size_t dp_scratch(int max_m, int max_width) {
    return ((size_t)max_m + MR) * (size_t)max_width / 2 + MR * 32 + 64; /* A pairs, the C block */
}

EP_TARGET_END

EP_TARGET_BEGIN(EP_ISA_AMX)

// ----------------------------------------------------------------------------
// AMX

typedef struct tile_config {
    uint8_t palette, start_row;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_config;

/* Where a finished C block goes: its float copy c [32][32], and the output rows. */
typedef struct amx_pending {
    const float *c;
    int rows, done;
    float *out;
    uint16_t *out_bf16;
} amx_pending;

/* The epilogue (act, bfloat16 rounding, stores) of rows [p->done, upto) of a finished block. */
static inline void amx_drain(amx_pending *p, int upto, int act, int ldo) {
    if (upto > p->rows) upto = p->rows;
    for (int i = p->done; i < upto; i++) {
        __m512 v0 = _mm512_load_ps(p->c + 32 * i), v1 = _mm512_load_ps(p->c + 32 * i + 16);
        if (act == EP_ACT_GELU) {
            v0 = ep_avx512_gelu(v0);
            v1 = ep_avx512_gelu(v1);
        }
        if (p->out) {
            _mm512_storeu_ps(p->out + (size_t)i * ldo, v0);
            _mm512_storeu_ps(p->out + (size_t)i * ldo + 16, v1);
        }
        if (p->out_bf16)
            _mm512_storeu_si512((void *)(p->out_bf16 + (size_t)i * ldo), (__m512i)_mm512_cvtne2ps_pbh(v1, v0));
    }
    if (upto > p->done) p->done = upto;
}

/* One 32-row x 32-column block (two == 0: the top 16 rows only), C tiles started from
 * the bias tiles. While the tile unit works through k, the vector units run the
 * epilogue of the previous block (`prev`, a slice of rows per step of k): GELU on a
 * block costs about as much as the block's products, and the two overlap this way. */
static inline void amx_block(const uint16_t *a0, size_t a_stride, const uint16_t *bp, int nkb, const float *bias_tile,
                             int two, amx_pending *prev, int act, int ldo) {
    _tile_loadd(0, bias_tile, 64);
    _tile_loadd(1, bias_tile + 256, 64);
    if (two) {
        _tile_loadd(2, bias_tile, 64);
        _tile_loadd(3, bias_tile + 256, 64);
    }
    const uint16_t *a1 = (const uint16_t *)((const char *)a0 + 16 * a_stride);
    for (int kb = 0; kb < nkb; kb++) {
        _tile_loadd(4, a0 + kb * KB, a_stride);
        _tile_loadd(6, bp + (size_t)kb * 2 * HALF_TILE, 64);
        _tile_loadd(7, bp + (size_t)kb * 2 * HALF_TILE + HALF_TILE, 64);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        if (two) {
            _tile_loadd(5, a1 + kb * KB, a_stride);
            _tile_dpbf16ps(2, 5, 6);
            _tile_dpbf16ps(3, 5, 7);
        }
        if (prev) amx_drain(prev, (prev->rows * (kb + 1) + nkb - 1) / nkb, act, ldo);
    }
}

static void amx_linear(float *out, uint16_t *out_bf16, int ldo, const float *a, const uint16_t *a_bf16, int lda,
                       const ep_packed *w, const float *bias, int M, int act, float *scratch) {
    (void)a;
    const int N = w->n, K = w->k, nkb = K / KB;
    tile_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) {
        cfg.rows[t] = 16;
        cfg.colsb[t] = 64;
    }
    _tile_loadconfig(&cfg);
    float *cbuf = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63); /* [2][32][32] */
    float *bias_tiles = cbuf + 2 * 32 * 32;                              /* [N / 16][16][16]: bias rows */
    for (int n0 = 0; n0 < N; n0 += 16)
        for (int r = 0; r < 16; r++) memcpy(bias_tiles + (size_t)n0 * 16 + 16 * r, bias + n0, 16 * sizeof(float));
    const uint16_t *panels = w->panels;
    const size_t a_stride = (size_t)lda * sizeof(uint16_t), o_stride = (size_t)ldo * sizeof(float);
    // float32 rows with nothing to apply go straight from the tiles to the output
    const int direct = out && !out_bf16 && act == EP_ACT_NONE;
    amx_pending pend = {0}, *prev = NULL;
    int cur = 0;
    // Row blocks outside, panels inside: the 32 rows of A (24 KiB at K = 384) stay in L1
    // while W streams from L2; measured ~10% faster than panels outside.
    for (int m0 = 0; m0 < M; m0 += 32) {
        const int rows = M - m0 < 32 ? M - m0 : 32, two = rows > 16;
        for (int n0 = 0; n0 < N; n0 += PANEL) {
            amx_block(a_bf16 + (size_t)m0 * lda, a_stride, panels + (size_t)(n0 / PANEL) * nkb * 2 * HALF_TILE, nkb,
                      bias_tiles + (size_t)n0 * 16, two, prev, act, ldo);
            if (prev) amx_drain(prev, 32, act, ldo);
            if (direct && rows == (two ? 32 : 16)) {
                float *o = out + (size_t)m0 * ldo + n0;
                _tile_stored(0, o, o_stride);
                _tile_stored(1, o + 16, o_stride);
                if (two) {
                    _tile_stored(2, o + (size_t)16 * ldo, o_stride);
                    _tile_stored(3, o + (size_t)16 * ldo + 16, o_stride);
                }
                prev = NULL;
                continue;
            }
            float *c = cbuf + (size_t)cur * 32 * 32;
            _tile_stored(0, c, 128);
            _tile_stored(1, c + 16, 128);
            if (two) {
                _tile_stored(2, c + 16 * 32, 128);
                _tile_stored(3, c + 16 * 32 + 16, 128);
            }
            pend = (amx_pending){.c = c, .rows = rows, .done = 0,
                                 .out = out ? out + (size_t)m0 * ldo + n0 : NULL,
                                 .out_bf16 = out_bf16 ? out_bf16 + (size_t)m0 * ldo + n0 : NULL};
            prev = &pend;
            cur ^= 1;
        }
    }
    if (prev) amx_drain(prev, 32, act, ldo);
    _tile_release();
}

static size_t amx_scratch(int max_m, int max_width) {
    (void)max_m;
    return 2 * 32 * 32 + 16 * (size_t)max_width + 16; /* two C blocks, the bias tiles */
}

EP_TARGET_END

static ep_cpu_kernels amx_table, dp_table;
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void fill_tables(void) {
    amx_table = (ep_cpu_kernels){.name = "amx", .bf16 = 1, .pack = pack, .linear = amx_linear,
                                 .linear_scratch = amx_scratch};
    ep_avx512_ops(&amx_table);
    dp_table = (ep_cpu_kernels){.name = "avx512-bf16", .bf16 = 1, .pack = pack, .linear = dp_linear,
                                .linear_scratch = dp_scratch};
    ep_avx512_ops(&dp_table);
}

const ep_cpu_kernels *ep_cpu_kernels_amx(void) {
    if (!ep_cpu_features_get()->amx_bf16) return NULL;
    pthread_once(&tables_once, fill_tables);
    return &amx_table;
}

const ep_cpu_kernels *ep_cpu_kernels_avx512_bf16(void) {
    if (!ep_cpu_features_get()->avx512_bf16) return NULL;
    pthread_once(&tables_once, fill_tables);
    return &dp_table;
}
