/*
 * test_kernel_ops.c - every CUDA kernel against the CPU op of the same name
 * (host/cpu/cpu_ops.h) on random inputs, over packed batches of uneven lengths,
 * with relative-error bounds for fp16 storage (fp16 has an 11-bit mantissa:
 * one rounding of the output is ~3e-4 relative; bounds leave a few roundings).
 *
 * Built twice: against the CPU emulation (test_kernel_ops_emulated, where a
 * race, an out-of-range index or a divergent barrier in any kernel also fails
 * it) and against real CUDA (test_kernel_ops_gpu, skipped without a device).
 */
#include "cpu_head.h"
#include "kernel_test_util.h"

#define BOUND_F16 2e-3 /* outputs stored as fp16, fp32 arithmetic */
#define BOUND_F32 1e-5 /* fp32 output of fp32 arithmetic on the same inputs */

typedef struct packed {
    int n_seqs, n_tokens, max_len;
    int32_t *seq_start;
} packed;

static packed make_packed(const int *lens, int n) {
    packed p;
    p.n_seqs = n;
    p.seq_start = (int32_t *)malloc(sizeof(int32_t) * (size_t)(n + 1));
    p.seq_start[0] = 0;
    p.max_len = 0;
    for (int i = 0; i < n; i++) {
        p.seq_start[i + 1] = p.seq_start[i] + lens[i];
        if (lens[i] > p.max_len) p.max_len = lens[i];
    }
    p.n_tokens = p.seq_start[n];
    return p;
}

// ----------------------------------------------------------------------------

static void test_embed_layernorm(int hidden, const packed *b, int pad_id) {
    const int vocab = 97, max_pos = 514;
    const size_t T = (size_t)b->n_tokens, H = (size_t)hidden;
    float *word = kt_random((size_t)vocab * H, 1.0f, 0.0f), *pos = kt_random((size_t)max_pos * H, 0.5f, 0.0f);
    float *type = kt_random(H, 0.2f, 0.0f), *gamma = kt_random(H, 0.2f, 1.0f), *beta = kt_random(H, 0.2f, 0.0f);
    int32_t *ids = (int32_t *)malloc(sizeof(int32_t) * T);
    for (size_t t = 0; t < T; t++) ids[t] = (int32_t)((kt_rand() + 1.0f) * 0.5f * vocab) % vocab;
    float *want = kt_alloc(T * H);
    /* RoBERTa positions: padding ids inside the sequences too (every seventh token), as a text that spells one */
    for (size_t t = 0; pad_id >= 0 && t < T; t += 7) ids[t] = pad_id;
    ep_cpu_embed_layernorm(want, ids, b->seq_start, b->n_seqs, word, pos, type, gamma, beta, hidden, 1e-12f, pad_id);

    uint16_t *d_out = (uint16_t *)kt_dev_empty(2 * T * H);
    uint16_t *d_word = kt_dev_f16(word, (size_t)vocab * H), *d_pos = kt_dev_f16(pos, (size_t)max_pos * H),
             *d_type = kt_dev_f16(type, H);
    float *d_gamma = kt_dev_f32(gamma, H), *d_beta = kt_dev_f32(beta, H);
    int32_t *d_ids = kt_dev_i32(ids, T), *d_seq = kt_dev_i32(b->seq_start, (size_t)b->n_seqs + 1);
    ep_error err;
    CHECK_OK(ep_cuda_embed_layernorm(d_out, d_ids, d_seq, b->n_seqs, b->n_tokens, d_word, d_pos, d_type, d_gamma,
                                     d_beta, hidden, 1e-12f, pad_id, NULL, &err), &err);
    float *got = kt_host_f16(d_out, T * H);
    char shape[64];
    snprintf(shape, sizeof shape, "T=%zu H=%d seqs=%d pad %d", T, hidden, b->n_seqs, pad_id);
    kt_compare("embed_layernorm", shape, got, want, T * H, BOUND_F16);
    cudaFree(d_out); cudaFree(d_word); cudaFree(d_pos); cudaFree(d_type); cudaFree(d_gamma); cudaFree(d_beta);
    cudaFree(d_ids); cudaFree(d_seq);
    free(word); free(pos); free(type); free(gamma); free(beta); free(ids); free(want); free(got);
}

static void test_linear(int T, int n_in, int n_out, ep_cuda_gemm *g) {
    float *in = kt_random((size_t)T * n_in, 1.0f, 0.0f), *w = kt_random((size_t)n_out * n_in, 0.1f, 0.0f);
    float *zero = kt_alloc((size_t)n_out), *want = kt_alloc((size_t)T * n_out);
    ep_cpu_linear(want, in, w, zero, T, n_in, n_out);
    uint16_t *d_in = kt_dev_f16(in, (size_t)T * n_in), *d_w = kt_dev_f16(w, (size_t)n_out * n_in);
    uint16_t *d_out = (uint16_t *)kt_dev_empty(2 * (size_t)T * n_out);
    ep_error err;
    CHECK_OK(ep_cuda_linear(g, d_out, d_in, d_w, NULL, T, n_in, n_out, NULL, &err), &err);
    float *got = kt_host_f16(d_out, (size_t)T * n_out);
    char shape[64];
    snprintf(shape, sizeof shape, "T=%d in=%d out=%d", T, n_in, n_out);
    kt_compare("linear (GEMM)", shape, got, want, (size_t)T * n_out, BOUND_F16);
    cudaFree(d_in); cudaFree(d_w); cudaFree(d_out);
    free(in); free(w); free(zero); free(want); free(got);
}

/* The QKV projection as the backend runs it: one GEMM with the bias added in cuBLASLt's
 * epilogue (CUBLASLT_EPILOGUE_BIAS, fp16 bias), leaving [T][3H] for attention to read in place.
 * kt_random rounds the bias to fp16, so the CPU reference adds exactly the bias the device adds. */
static void test_linear_bias(int T, int hidden, ep_cuda_gemm *g) {
    const size_t H = (size_t)hidden;
    float *in = kt_random((size_t)T * H, 1.0f, 0.0f), *w = kt_random(3 * H * H, 0.1f, 0.0f);
    float *bias = kt_random(3 * H, 2.0f, 0.0f), *want = kt_alloc((size_t)T * 3 * H);
    ep_cpu_linear(want, in, w, bias, T, hidden, 3 * hidden);
    uint16_t *d_in = kt_dev_f16(in, (size_t)T * H), *d_w = kt_dev_f16(w, 3 * H * H), *d_bias = kt_dev_f16(bias, 3 * H);
    uint16_t *d_qkv = (uint16_t *)kt_dev_empty(2 * (size_t)T * 3 * H);
    ep_error err;
    CHECK_OK(ep_cuda_linear(g, d_qkv, d_in, d_w, d_bias, T, hidden, 3 * hidden, NULL, &err), &err);
    float *got = kt_host_f16(d_qkv, (size_t)T * 3 * H);
    char shape[64];
    snprintf(shape, sizeof shape, "T=%d in=%d out=%d", T, hidden, 3 * hidden);
    kt_compare("linear + bias epilogue", shape, got, want, (size_t)T * 3 * H, BOUND_F16);
    cudaFree(d_in); cudaFree(d_w); cudaFree(d_bias); cudaFree(d_qkv);
    free(in); free(w); free(bias); free(want); free(got);
}

/* The plan cache: an algorithm search per token-count bucket, not per token count. Over 100
 * batch sizes from 1 to 2000 tokens a fresh context may build one plan per bucket it meets
 * (64, 128, ..., 2048: 6), and a plan reused for a smaller count than it was built for must
 * compute exactly that count's rows (the output buffers here are sized exactly: a plan that
 * kept its old count would write past them, which the emulation reports). */
static void test_gemm_plan_cache(void) {
    ep_error err;
    ep_cuda_gemm *g = NULL;
    CHECK_OK(ep_cuda_gemm_create(&g, &err), &err);
    if (!g) return;
    enum { N_IN = 64, N_OUT = 32, MAX_T = 2000 };
    float *in = kt_random((size_t)MAX_T * N_IN, 1.0f, 0.0f), *w = kt_random((size_t)N_OUT * N_IN, 0.1f, 0.0f);
    float *zero = kt_alloc(N_OUT);
    uint16_t *d_in = kt_dev_f16(in, (size_t)MAX_T * N_IN), *d_w = kt_dev_f16(w, (size_t)N_OUT * N_IN);
    int sizes = 0, worst_ok = 1;
    for (int T = 1; T <= MAX_T; T += 1 + T / 32 + (T % 5)) {
        uint16_t *d_out = (uint16_t *)kt_dev_empty(2 * (size_t)T * N_OUT);
        CHECK_OK(ep_cuda_linear(g, d_out, d_in, d_w, NULL, T, N_IN, N_OUT, NULL, &err), &err);
        if (T % 3 == 0 || T == 1) { /* a sample, checked against the CPU */
            float *want = kt_alloc((size_t)T * N_OUT), *got = kt_host_f16(d_out, (size_t)T * N_OUT);
            ep_cpu_linear(want, in, w, zero, T, N_IN, N_OUT);
            double diff = 0, norm = 0;
            for (size_t i = 0; i < (size_t)T * N_OUT; i++) {
                diff += ((double)got[i] - want[i]) * ((double)got[i] - want[i]);
                norm += (double)want[i] * want[i];
            }
            if (!(sqrt(diff / norm) <= BOUND_F16)) worst_ok = 0;
            free(want);
            free(got);
        }
        cudaFree(d_out);
        sizes++;
    }
    kt_cuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize (a GEMM failed)");
    const ep_cuda_gemm_stats st = ep_cuda_gemm_get_stats(g);
    printf("  %-28s %d token counts from 1 to %d: %llu calls, %llu plans built, %llu fallbacks  %s\n",
           "gemm plan cache", sizes, MAX_T, (unsigned long long)st.calls, (unsigned long long)st.plans_built,
           (unsigned long long)st.algo_fallbacks, st.plans_built <= 6 && worst_ok ? "OK" : "FAIL");
    CHECKF(sizes > 100 && st.calls == (uint64_t)sizes, "%d sizes, %llu calls", sizes, (unsigned long long)st.calls);
    CHECKF(st.plans_built >= 1 && st.plans_built <= 6, "%llu plans built for %d token counts (one per bucket: <= 6)",
           (unsigned long long)st.plans_built, sizes);
    CHECKF(st.plans_cached == (int)st.plans_built, "%d plans cached, %llu built", st.plans_cached,
           (unsigned long long)st.plans_built);
    CHECK(worst_ok);
    cudaFree(d_in); cudaFree(d_w);
    free(in); free(w); free(zero);
    ep_cuda_gemm_free(g);
}

static void test_attention(int hidden, int heads, const packed *b, float scale) {
    const size_t T = (size_t)b->n_tokens, H = (size_t)hidden;
    float *qkv = kt_random(T * 3 * H, scale, 0.0f), *want = kt_alloc(T * H);
    ep_cpu_attention(want, qkv, b->seq_start, b->n_seqs, hidden, heads);
    /* [T][3H] as the QKV GEMM leaves it: attention reads it in place */
    uint16_t *d_qkv = kt_dev_f16(qkv, T * 3 * H), *d_out = (uint16_t *)kt_dev_empty(2 * T * H);
    int32_t *d_seq = kt_dev_i32(b->seq_start, (size_t)b->n_seqs + 1);
    ep_error err;
    CHECK_OK(ep_cuda_attention(d_out, d_qkv, d_seq, b->n_seqs, b->n_tokens, b->max_len, hidden, heads, NULL, &err),
             &err);
    float *got = kt_host_f16(d_out, T * H);
    char shape[80];
    snprintf(shape, sizeof shape, "T=%zu D=%d heads=%d max_len=%d", T, hidden / heads, heads, b->max_len);
    kt_compare("attention", shape, got, want, T * H, BOUND_F16);
    cudaFree(d_qkv); cudaFree(d_out); cudaFree(d_seq);
    free(qkv); free(want); free(got);
}

static void test_residual_layernorm(int T, int hidden) {
    const size_t n = (size_t)T * hidden;
    float *y = kt_random(n, 2.0f, 0.0f), *x = kt_random(n, 1.0f, 0.0f), *bias = kt_random((size_t)hidden, 0.5f, 0.0f);
    float *gamma = kt_random((size_t)hidden, 0.2f, 1.0f), *beta = kt_random((size_t)hidden, 0.2f, 0.0f);
    float *want = kt_alloc(n);
    for (size_t i = 0; i < n; i++) want[i] = y[i] + bias[i % (size_t)hidden]; /* the linear layer's output */
    ep_cpu_residual_layernorm(want, x, gamma, beta, T, hidden, 1e-12f);
    uint16_t *d_x = kt_dev_f16(x, n), *d_y = kt_dev_f16(y, n);
    float *d_bias = kt_dev_f32(bias, (size_t)hidden), *d_g = kt_dev_f32(gamma, (size_t)hidden),
          *d_b = kt_dev_f32(beta, (size_t)hidden);
    ep_error err;
    CHECK_OK(ep_cuda_bias_residual_layernorm(d_x, d_y, d_bias, d_g, d_b, T, hidden, 1e-12f, NULL, &err), &err);
    float *got = kt_host_f16(d_x, n);
    char shape[64];
    snprintf(shape, sizeof shape, "T=%d H=%d", T, hidden);
    kt_compare("bias_residual_layernorm", shape, got, want, n, BOUND_F16);
    cudaFree(d_x); cudaFree(d_y); cudaFree(d_bias); cudaFree(d_g); cudaFree(d_b);
    free(y); free(x); free(bias); free(gamma); free(beta); free(want); free(got);
}

static void test_gelu(int T, int width) {
    const size_t n = (size_t)T * width;
    float *y = kt_random(n, 4.0f, 0.0f), *bias = kt_random((size_t)width, 1.0f, 0.0f), *want = kt_alloc(n);
    for (size_t i = 0; i < n; i++) want[i] = y[i] + bias[i % (size_t)width];
    ep_cpu_gelu(want, (long)n);
    uint16_t *d_y = kt_dev_f16(y, n);
    float *d_bias = kt_dev_f32(bias, (size_t)width);
    ep_error err;
    CHECK_OK(ep_cuda_bias_gelu(d_y, d_bias, T, width, NULL, &err), &err);
    float *got = kt_host_f16(d_y, n);
    char shape[64];
    snprintf(shape, sizeof shape, "T=%d width=%d", T, width);
    kt_compare("bias_gelu", shape, got, want, n, BOUND_F16);
    cudaFree(d_y); cudaFree(d_bias);
    free(y); free(bias); free(want); free(got);
}

static void test_pool_normalize(int hidden, const packed *b, int pooling, int normalize) {
    const size_t T = (size_t)b->n_tokens, H = (size_t)hidden, S = (size_t)b->n_seqs;
    float *x = kt_random(T * H, 1.0f, 0.1f), *want = kt_alloc(S * H);
    ep_cpu_pool_normalize(want, x, b->seq_start, b->n_seqs, hidden, pooling, normalize);
    uint16_t *d_x = kt_dev_f16(x, T * H), *d_out16 = (uint16_t *)kt_dev_empty(2 * S * H);
    float *d_out32 = (float *)kt_dev_empty(4 * S * H);
    int32_t *d_seq = kt_dev_i32(b->seq_start, S + 1);
    ep_error err;
    CHECK_OK(ep_cuda_pool_normalize(d_out16, d_out32, d_x, d_seq, b->n_seqs, hidden, pooling, normalize, NULL, &err),
             &err);
    float *got16 = kt_host_f16(d_out16, S * H), *got32 = kt_host_f32(d_out32, S * H);
    char shape[80];
    snprintf(shape, sizeof shape, "seqs=%zu H=%d %s%s", S, hidden, pooling ? "cls" : "mean",
             normalize ? " +l2" : "");
    kt_compare("pool_normalize (f16 rows)", shape, got16, want, S * H, BOUND_F16);
    kt_compare("pool_normalize (f32 rows)", shape, got32, want, S * H, BOUND_F32 * 10);
    cudaFree(d_x); cudaFree(d_out16); cudaFree(d_out32); cudaFree(d_seq);
    free(x); free(want); free(got16); free(got32);
}

/* Every pooling mode at once, in a non-canonical order, with and without tokens left out. */
static void test_pool_modes(int hidden, const packed *b, int skip) {
    const size_t T = (size_t)b->n_tokens, H = (size_t)hidden, S = (size_t)b->n_seqs;
    const ep_pooling modes[6] = {EP_POOLING_LAST, EP_POOLING_MEAN, EP_POOLING_MAX, EP_POOLING_CLS,
                                 EP_POOLING_WEIGHTED_MEAN, EP_POOLING_MEAN_SQRT_LEN};
    const int imodes[6] = {5, 0, 2, 1, 4, 3};
    const size_t W = 6 * H;
    float *x = kt_random(T * H, 1.0f, 0.1f), *want = kt_alloc(S * W);
    uint16_t *d_x = kt_dev_f16(x, T * H), *d_out16 = (uint16_t *)kt_dev_empty(2 * S * W);
    float *xh = kt_host_f16(d_x, T * H); /* the kernel reads fp16 activations: the reference gets the same */
    ep_cpu_pooling(want, xh, b->seq_start, b->n_seqs, hidden, modes, 6, skip);
    float *d_out32 = (float *)kt_dev_empty(4 * S * W);
    int32_t *d_seq = kt_dev_i32(b->seq_start, S + 1);
    ep_error err;
    CHECK_OK(ep_cuda_pool(d_out32, d_out16, d_x, d_seq, b->n_seqs, hidden, imodes, 6, skip, NULL, &err), &err);
    float *got16 = kt_host_f16(d_out16, S * W), *got32 = kt_host_f32(d_out32, S * W);
    char shape[80];
    snprintf(shape, sizeof shape, "seqs=%zu H=%d six modes skip %d", S, hidden, skip);
    kt_compare("pool (f32 rows)", shape, got32, want, S * W, BOUND_F32 * 10);
    kt_compare("pool (f16 rows)", shape, got16, want, S * W, BOUND_F16);
    cudaFree(d_x); cudaFree(d_out16); cudaFree(d_out32); cudaFree(d_seq);
    free(x); free(xh); free(want); free(got16); free(got32);
}

static void test_bias_activation(int rows, int width) {
    for (int act = EP_ACTIVATION_IDENTITY; act <= EP_ACTIVATION_SILU; act++) {
        const size_t n = (size_t)rows * width;
        float *y = kt_random(n, 2.0f, 0.0f), *bias = kt_random((size_t)width, 0.5f, 0.0f), *want = kt_alloc(n);
        uint16_t *d_y = kt_dev_f16(y, n);
        float *yh = kt_host_f16(d_y, n);
        for (size_t i = 0; i < n; i++) want[i] = yh[i] + bias[i % (size_t)width];
        ep_cpu_activation(want, n, (ep_activation)act);
        float *d_bias = kt_dev_f32(bias, (size_t)width);
        ep_error err;
        CHECK_OK(ep_cuda_bias_activation(d_y, d_bias, rows, width, act, NULL, &err), &err);
        float *got = kt_host_f16(d_y, n);
        char shape[64];
        snprintf(shape, sizeof shape, "%dx%d %s", rows, width, ep_activation_name((ep_activation)act));
        kt_compare("bias_activation", shape, got, want, n, BOUND_F16);
        cudaFree(d_y); cudaFree(d_bias);
        free(y); free(yh); free(bias); free(want); free(got);
    }
}

/* Truncation to dim and normalisation, from fp32 and from fp16 rows. */
static void test_rows_normalize(int rows, int width, int dim) {
    const size_t n = (size_t)rows * width;
    float *in = kt_random(n, 1.0f, 0.2f), *want = kt_alloc((size_t)rows * dim);
    float *d_in32 = kt_dev_f32(in, n);
    uint16_t *d_in16 = kt_dev_f16(in, n), *d_out16 = (uint16_t *)kt_dev_empty(2 * (size_t)rows * dim);
    float *inh = kt_host_f16(d_in16, n), *d_out32 = (float *)kt_dev_empty(4 * (size_t)rows * dim);
    for (int from16 = 0; from16 < 2; from16++) {
        const float *src = from16 ? inh : in;
        for (int r = 0; r < rows; r++) {
            double norm = 0;
            for (int d = 0; d < dim; d++) norm += (double)src[(size_t)r * width + d] * src[(size_t)r * width + d];
            for (int d = 0; d < dim; d++) want[(size_t)r * dim + d] = (float)(src[(size_t)r * width + d] / sqrt(norm));
        }
        ep_error err;
        CHECK_OK(ep_cuda_rows_normalize(d_out16, d_out32, from16 ? NULL : d_in32, from16 ? d_in16 : NULL, rows, width,
                                        dim, 1, NULL, &err), &err);
        float *got16 = kt_host_f16(d_out16, (size_t)rows * dim), *got32 = kt_host_f32(d_out32, (size_t)rows * dim);
        char shape[64];
        snprintf(shape, sizeof shape, "%d rows, %d of %d from %s", rows, dim, width, from16 ? "fp16" : "fp32");
        kt_compare("rows_normalize (f16 rows)", shape, got16, want, (size_t)rows * dim, BOUND_F16);
        kt_compare("rows_normalize (f32 rows)", shape, got32, want, (size_t)rows * dim, BOUND_F32 * 10);
        free(got16); free(got32);
    }
    cudaFree(d_in32); cudaFree(d_in16); cudaFree(d_out16); cudaFree(d_out32);
    free(in); free(inh); free(want);
}

// ----------------------------------------------------------------------------

static void run_all(ep_cuda_gemm *g) {
    const int lens[] = {1, 2, 7, 33, 64, 65, 9, 130, 3};
    const packed mixed = make_packed(lens, (int)(sizeof lens / sizeof lens[0]));
    const int one_long[] = {512, 5};
    const packed longest = make_packed(one_long, 2);

    test_embed_layernorm(384, &mixed, -1);
    test_embed_layernorm(64, &longest, -1);
    test_embed_layernorm(384, &mixed, 1); /* XLM-R's padding id */
    test_embed_layernorm(64, &longest, 1);
    test_linear(mixed.n_tokens, 384, 1152, g);
    test_linear(37, 1536, 384, g);
    test_linear_bias(mixed.n_tokens, 384, g);
    test_linear_bias(5, 128, g);
    test_attention(384, 12, &mixed, 1.0f);
    test_attention(384, 12, &mixed, 4.0f); /* peaked softmax: the online max must rescale right */
    test_attention(64, 2, &longest, 1.0f);
    test_attention(128, 2, &mixed, 1.0f); /* head size 64 */
    test_residual_layernorm(mixed.n_tokens, 384);
    test_residual_layernorm(21, 1024);
    test_gelu(mixed.n_tokens, 1536);
    test_pool_normalize(384, &mixed, 0, 1);
    test_pool_normalize(384, &mixed, 1, 1);
    test_pool_normalize(64, &longest, 0, 0);
    test_pool_modes(384, &mixed, 0);
    test_pool_modes(64, &mixed, 3); /* include_prompt false: sequences of 1 and 2 tokens keep nothing */
    test_bias_activation(5, 48);
    test_rows_normalize(7, 384 * 6, 200);
    test_rows_normalize(3, 48, 48);
    free(mixed.seq_start);
    free(longest.seq_start);
}

int main(void) {
    kt_require_device();
    ep_error err;
    ep_cuda_gemm *g = NULL;
    CHECK_OK(ep_cuda_gemm_create(&g, &err), &err);
    if (!g) return 1;
#ifdef EP_CUDA_EMULATION
    printf("kernels under the CPU emulation vs host/cpu/cpu_ops.c:\n");
    run_all(g);
    /* The same kernels with each block's threads run in the opposite order between
     * barriers: a result that depends on the order is a race the checks missed. */
    printf("again, threads scheduled in descending order:\n");
    ep_emu_set_schedule(1);
    run_all(g);
    ep_emu_set_schedule(0);
    const ep_emu_stats st = ep_emu_get_stats();
    printf("emulation: %llu launches, %llu blocks, %llu violations\n", (unsigned long long)st.launches,
           (unsigned long long)st.blocks, (unsigned long long)st.violations);
    CHECKF(st.violations == 0, "the emulation found: %s", ep_emu_first_violation());
    CHECK(st.launches > 0);
#else
    printf("kernels on the GPU vs host/cpu/cpu_ops.c:\n");
    run_all(g);
#endif
    ep_cuda_gemm_free(g);
    test_gemm_plan_cache();
    return ep_test_finish("test_kernel_ops");
}
