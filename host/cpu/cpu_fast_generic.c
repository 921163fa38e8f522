/*
 * cpu_fast_generic.c - the kernel table for any CPU: the reference ops, and a
 * GEMM of its own in plain C (no BLAS, no intrinsics).
 *
 * Why not OpenBLAS: it picks different kernels (and blockings) for different
 * row counts M, so the same text gave other bits alone than inside a batch.
 * Here every output element is one fixed reduction: bias, then + a[k] * w[k]
 * for k = 0, 1, ..., K-1, each product and sum rounded to float32 (the build
 * is ISO C11, so GCC does not contract them into FMAs). That order depends
 * on nothing but K: not on M, not on the row's place in a tile (rows past M
 * in the last tile repeat row 0 and are thrown away, so a tail row runs the
 * same code as any other), not on the k blocking (between blocks the partial
 * sums go through memory exactly). So a text's vector is bit for bit the
 * same in any batch, on any CPU.
 */
#include "cpu_fast.h"
#include "cpu_ops.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void *ep_aligned_calloc(size_t n) {
    void *p = NULL;
    if (posix_memalign(&p, 64, n ? n : 64) != 0) return NULL;
    memset(p, 0, n);
    return p;
}

void ep_packed_free(ep_packed *p) {
    if (!p) return;
    free(p->owned);
    p->owned = NULL;
    p->panels = NULL;
}

size_t ep_cpu_attention_scratch(int max_len, int hidden, int n_heads) {
    const size_t d = (size_t)(hidden / (n_heads > 0 ? n_heads : 1));
    const size_t lp = ((size_t)(max_len > 0 ? max_len : 1) + 15) / 16 * 16;
    // keys transposed [d][lp], four rows of scores [4][lp], and slack for alignment
    return (d + 4) * lp + 64;
}

ep_attention_block ep_attention_block_at(float *scratch, int D, int L) {
    ep_attention_block b;
    b.Lp = (L + 15) / 16 * 16; /* as ep_cpu_attention_scratch sizes it */
    b.kt = scratch;
    b.scores = (float *)(((uintptr_t)(scratch + (size_t)D * b.Lp) + 63) & ~(uintptr_t)63);
    return b;
}

void ep_attention_load_keys(const ep_attention_block *b, const float *qkv, int hidden, int h, int D, int L) {
    const size_t stride = 3 * (size_t)hidden;
    for (int j = 0; j < L; j++) {
        const float *k = qkv + (size_t)j * stride + hidden + (size_t)h * D;
        for (int d = 0; d < D; d++) b->kt[(size_t)d * b->Lp + j] = k[d];
    }
    for (int d = 0; d < D; d++)
        for (int j = L; j < b->Lp; j++) b->kt[(size_t)d * b->Lp + j] = 0.0f;
}

void ep_attention_by_groups(float *out, const float *qkv, const int32_t *seq_start, int n_seqs, int hidden, int n_heads,
                            float *scratch, ep_attention_group_fn group) {
    const int D = hidden / n_heads;
    if (D % 16 != 0 || D > 256) { /* the group functions work in blocks of 16 floats, up to 256 */
        ep_cpu_attention(out, qkv, seq_start, n_seqs, hidden, n_heads);
        return;
    }
    const size_t stride = 3 * (size_t)hidden;
    ep_attention_group g = {.stride = stride, .D = D, .hidden = hidden, .scale = 1.0f / sqrtf((float)D)};
    for (int s = 0; s < n_seqs; s++) {
        const int start = seq_start[s], L = seq_start[s + 1] - start;
        if (L <= 0) continue;
        const ep_attention_block blk = ep_attention_block_at(scratch, D, L);
        const float *base = qkv + (size_t)start * stride;
        g.blk = &blk;
        g.L = L;
        for (int h = 0; h < n_heads; h++) {
            ep_attention_load_keys(&blk, base, hidden, h, D, L);
            g.v0 = base + 2 * (size_t)hidden + (size_t)h * D;
            for (int i0 = 0; i0 < L; i0 += 4) {
                g.nq = L - i0 < 4 ? L - i0 : 4;
                for (int r = 0; r < 4; r++)
                    g.q[r] = base + (size_t)(i0 + (r < g.nq ? r : 0)) * stride + (size_t)h * D;
                g.out = out + (size_t)(start + i0) * hidden + (size_t)h * D;
                group(&g);
            }
        }
    }
}

static void to_bf16(uint16_t *dst, const float *src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = ep_f32_to_bf16(src[i]);
}

// ----------------------------------------------------------------------------
// GEMM: W packed once into panels of GNR output columns, [K][GNR] each (the
// last panel zero-padded), so the inner loop reads GNR consecutive weights per
// k; GMR rows of A share each weight load. Plain loops the compiler unrolls
// and vectorises over the GNR columns (lanes never add to each other).

#define GNR 16  /* output columns per panel */
#define GMR 4   /* rows of A per micro-tile */
#define GKC 256 /* k per block: a panel slice (GKC x GNR floats, 16 KiB) stays in L1 */

static ep_status pack(ep_packed *dst, const float *w, int n, int k, ep_error *err) {
    if (n < 1 || k < 1)
        return ep_error_set(err, EP_ERR_USAGE, "generic kernels: a %d x %d weight has no values", n, k);
    const size_t panels = ((size_t)n + GNR - 1) / GNR;
    float *p = ep_aligned_calloc(sizeof(float) * panels * GNR * (size_t)k);
    if (!p) return ep_error_set(err, EP_ERR_NOMEM, "generic kernels: out of memory packing a %d x %d weight", n, k);
    for (int n0 = 0; n0 < n; n0 += GNR)
        for (int kk = 0; kk < k; kk++)
            for (int j = 0; j < GNR && n0 + j < n; j++)
                p[(size_t)n0 * k + (size_t)kk * GNR + j] = w[(size_t)(n0 + j) * k + kk];
    *dst = (ep_packed){.n = n, .k = k, .bf16 = 0, .panels = p, .owned = p};
    return EP_OK;
}

/* acc[GMR][GNR] += A rows (ar) x panel slice, k in [k0, k0 + kc). The one place the sums happen. */
static void micro_kernel(float acc[GMR][GNR], const float *const ar[GMR], const float *bp, int k0, int kc) {
    for (int k = k0; k < k0 + kc; k++) {
        const float *wk = bp + (size_t)k * GNR;
        for (int i = 0; i < GMR; i++) {
            const float av = ar[i][k];
            for (int j = 0; j < GNR; j++) acc[i][j] = acc[i][j] + av * wk[j];
        }
    }
}

static void linear(float *out, uint16_t *out_bf16, int ldo, const float *a, const uint16_t *a_bf16, int lda,
                   const ep_packed *w, const float *bias, int M, int act, float *scratch) {
    (void)a_bf16;
    const int N = w->n, K = w->k;
    // out_bf16 alone: compute into scratch, then round
    float *c = out ? out : scratch;
    const int ldc = out ? ldo : N;
    const float *panels = w->panels;
    for (int n0 = 0; n0 < N; n0 += GNR) {
        const int nc = N - n0 < GNR ? N - n0 : GNR;
        const float *bp = panels + (size_t)n0 * K;
        for (int k0 = 0; k0 < K; k0 += GKC) {
            const int kc = K - k0 < GKC ? K - k0 : GKC, first = k0 == 0, last = k0 + kc == K;
            for (int m0 = 0; m0 < M; m0 += GMR) {
                const int mr = M - m0 < GMR ? M - m0 : GMR;
                const float *ar[GMR];
                float acc[GMR][GNR];
                for (int i = 0; i < GMR; i++) {
                    ar[i] = a + (size_t)(m0 + (i < mr ? i : 0)) * lda; /* a tail row repeats row m0 */
                    const float *ci = c + (size_t)(m0 + (i < mr ? i : 0)) * ldc + n0;
                    for (int j = 0; j < GNR; j++) acc[i][j] = j >= nc ? 0.0f : first ? bias[n0 + j] : ci[j];
                }
                micro_kernel(acc, ar, bp, k0, kc);
                for (int i = 0; i < mr; i++) {
                    float *ci = c + (size_t)(m0 + i) * ldc + n0;
                    memcpy(ci, acc[i], sizeof(float) * (size_t)nc);
                    if (last && act == EP_ACT_GELU) ep_cpu_gelu(ci, nc);
                    if (last && out_bf16) to_bf16(out_bf16 + (size_t)(m0 + i) * ldo + n0, ci, (size_t)nc);
                }
            }
        }
    }
}

static size_t linear_scratch(int max_m, int max_width) {
    return (size_t)max_m * (size_t)max_width; /* the float32 result when only bfloat16 is wanted */
}

static void attention(float *out, const float *qkv, const int32_t *seq_start, int n_seqs, int hidden, int n_heads,
                      float *scratch) {
    (void)scratch;
    ep_cpu_attention(out, qkv, seq_start, n_seqs, hidden, n_heads);
}

static void residual_layernorm(float *x, uint16_t *x_bf16, const float *residual, const float *gamma,
                               const float *beta, int T, int hidden, float eps) {
    ep_cpu_residual_layernorm(x, residual, gamma, beta, T, hidden, eps);
    if (x_bf16) to_bf16(x_bf16, x, (size_t)T * hidden);
}

static void embed_layernorm(float *out, uint16_t *out_bf16, const int32_t *ids, const int32_t *seq_start,
                            int n_seqs, const float *word_emb, const float *pos_emb, const float *type_emb,
                            const float *gamma, const float *beta, int hidden, float eps, int pad_id) {
    ep_cpu_embed_layernorm(out, ids, seq_start, n_seqs, word_emb, pos_emb, type_emb, gamma, beta, hidden, eps,
                           pad_id);
    if (out_bf16) to_bf16(out_bf16, out, (size_t)seq_start[n_seqs] * hidden);
}

static const ep_cpu_kernels generic = {
    .name = "generic",
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

const ep_cpu_kernels *ep_cpu_kernels_generic(void) { return &generic; }
