/*
 * cpu_fast_generic.c - the kernel table for any CPU: the reference ops, with
 * the GEMM as one single-threaded OpenBLAS call per chunk. What makes it
 * faster than the reference backend on a CPU without AVX-512 is the backend
 * around it (one pool of threads, chunks that stay in cache), not the ops.
 */
#include "cpu_fast.h"
#include "cpu_ops.h"

#include <cblas.h>
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

static ep_status pack_borrow(ep_packed *dst, const float *w, int n, int k, ep_error *err) {
    (void)err;
    *dst = (ep_packed){.n = n, .k = k, .bf16 = 0, .panels = w, .owned = NULL};
    return EP_OK;
}

static void to_bf16(uint16_t *dst, const float *src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = ep_f32_to_bf16(src[i]);
}

static void linear(float *out, uint16_t *out_bf16, int ldo, const float *a, const uint16_t *a_bf16, int lda,
                   const ep_packed *w, const float *bias, int M, int act, float *scratch) {
    (void)a_bf16;
    const int N = w->n, K = w->k;
    // out_bf16 alone: compute into scratch, then round
    float *c = out ? out : scratch;
    const int ldc = out ? ldo : N;
    for (int t = 0; t < M; t++) memcpy(c + (size_t)t * ldc, bias, sizeof(float) * (size_t)N);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, a, lda, w->panels, K, 1.0f, c, ldc);
    for (int t = 0; t < M; t++) {
        float *row = c + (size_t)t * ldc;
        if (act == EP_ACT_GELU) ep_cpu_gelu(row, N);
        if (out_bf16) to_bf16(out_bf16 + (size_t)t * ldo, row, (size_t)N);
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
                            const float *gamma, const float *beta, int hidden, float eps) {
    ep_cpu_embed_layernorm(out, ids, seq_start, n_seqs, word_emb, pos_emb, type_emb, gamma, beta, hidden, eps);
    if (out_bf16) to_bf16(out_bf16, out, (size_t)seq_start[n_seqs] * hidden);
}

static const ep_cpu_kernels generic = {
    .name = "generic",
    .bf16 = 0,
    .pack = pack_borrow,
    .linear = linear,
    .linear_scratch = linear_scratch,
    .attention = attention,
    .residual_layernorm = residual_layernorm,
    .embed_layernorm = embed_layernorm,
    .pool_normalize = ep_cpu_pool_normalize,
    .to_bf16 = to_bf16,
};

const ep_cpu_kernels *ep_cpu_kernels_generic(void) { return &generic; }
