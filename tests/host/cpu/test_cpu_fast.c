/*
 * test_cpu_fast.c - every fast kernel table this CPU can run, op by op,
 * against the reference ops of cpu_ops.c (relative error = max |fast - ref|
 * over max |ref|, per call):
 *  - linear (bias, GELU epilogue, the bfloat16 copy of the output) for row
 *    counts around the micro-kernel and tile sizes; bf16 tables are checked
 *    against the reference run on the same bfloat16-rounded inputs, so only
 *    the float32 accumulation may differ;
 *  - linear is batch invariant: rows computed in calls of other sizes, at
 *    other positions, have the same bits as in one call over all rows;
 *  - GELU over [-12, 12] through an identity weight;
 *  - attention over packed sequences of 1..129 tokens, head sizes 16, 32, 64
 *    and one the vector path does not take (24);
 *  - embedding + LayerNorm, residual + LayerNorm, mean/CLS pooling.
 * Tables this CPU lacks are reported as skipped, not failed; with neither
 * bf16 table (a CPU without them, or EMBEDPIPE_CPU_ISA=avx512 / avx2 / generic, as
 * tests/host/cpu/CMakeLists.txt also runs it) --precision bf16 must be refused; so must it
 * without AMX except on AMD Zen 5 (AVX512-BF16 alone measured slower than fp32 on an Intel
 * Xeon, faster on Zen 5). auto picks the fastest offered precision at a minimum cosine of
 * 0.999 (never int8: see test_cpu_int8_conformance), and info agrees with the backend.
 * (The int8 table's own ops: test_cpu_int8.)
 */
#include "backend.h"
#include "cpu_fast.h"
#include "cpu_ops.h"
#include "test_util.h"

#include <math.h>
#include <stdint.h>

static float *randoms(size_t n, float scale) {
    float *p = ep_aligned_calloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) p[i] = scale * ep_test_frand();
    return p;
}

/* @return max |a - b| / max |b| over n values; prints the first worst index on failure. */
static double rel_err(const float *a, const float *b, size_t n, size_t *worst) {
    double max_diff = 0, max_ref = 0;
    *worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > max_diff || isnan(d)) {
            max_diff = isnan(d) ? INFINITY : d;
            *worst = i;
        }
        if (fabs(b[i]) > max_ref) max_ref = fabs(b[i]);
    }
    return max_diff / (max_ref > 0 ? max_ref : 1.0);
}

#define CHECK_CLOSE(what, a, b, n, tol)                                                                        \
    do {                                                                                                       \
        size_t w_;                                                                                             \
        double e_ = rel_err((a), (b), (n), &w_);                                                               \
        CHECKF(e_ <= (tol), "%s: relative error %.3g > %.1g (first worst at %zu: %.9g vs reference %.9g)", what, \
               e_, (double)(tol), w_, (double)(a)[w_], (double)(b)[w_]);                                     \
    } while (0)

static void round_bf16(float *dst, const float *src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = ep_bf16_to_f32(ep_f32_to_bf16(src[i]));
}

static void test_linear(const ep_cpu_kernels *k) {
    const int shapes[][2] = {{96, 64}, {384, 384}, {1152, 384}, {384, 1536}};
    const int rows[] = {1, 2, 13, 14, 15, 16, 17, 28, 31, 32, 33, 47, 100, 256};
    const double tol = 1e-5; /* float32 sums of up to 1536 products in another order: ~sqrt(K) eps */
    char what[160];
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int N = shapes[s][0], K = shapes[s][1];
        float *w = randoms((size_t)N * K, 0.08f), *bias = randoms((size_t)N, 0.5f);
        ep_packed packed;
        ep_error err = {0};
        CHECK_OK(k->pack(&packed, w, N, K, &err), &err);
        if (err.code) return;
        float *w_ref = randoms((size_t)N * K, 0);
        if (k->bf16) round_bf16(w_ref, w, (size_t)N * K);
        else memcpy(w_ref, w, sizeof(float) * (size_t)N * K);
        for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
            const int M = rows[r], lda = K + 8, ldo = N + 16; /* strides wider than the rows */
            float *a = randoms((size_t)(M + 16) * lda, 1.5f), *a_ref = randoms((size_t)M * K, 0);
            uint16_t *ab = ep_aligned_calloc(sizeof(uint16_t) * (size_t)(M + 16) * lda);
            for (size_t i = 0; i < (size_t)(M + 16) * lda; i++) ab[i] = ep_f32_to_bf16(a[i]);
            for (int i = 0; i < M; i++)
                for (int j = 0; j < K; j++)
                    a_ref[(size_t)i * K + j] = k->bf16 ? ep_bf16_to_f32(ab[(size_t)i * lda + j]) : a[(size_t)i * lda + j];
            float *ref = randoms((size_t)M * N, 0), *out = randoms((size_t)M * ldo, 0), *got = randoms((size_t)M * N, 0);
            uint16_t *outb = ep_aligned_calloc(sizeof(uint16_t) * (size_t)M * ldo);
            float *scratch = ep_aligned_calloc(sizeof(float) * k->linear_scratch(M, K > N ? K : N));
            for (int act = 0; act < 2; act++) {
                ep_cpu_linear(ref, a_ref, w_ref, bias, M, K, N);
                if (act == EP_ACT_GELU) ep_cpu_gelu(ref, (long)M * N);
                k->linear(out, outb, ldo, k->bf16 ? NULL : a, k->bf16 ? ab : NULL, lda, &packed, bias, M, act, scratch);
                int bf_bad = 0;
                for (int i = 0; i < M; i++)
                    for (int j = 0; j < N; j++) {
                        got[(size_t)i * N + j] = out[(size_t)i * ldo + j];
                        bf_bad += outb[(size_t)i * ldo + j] != ep_f32_to_bf16(out[(size_t)i * ldo + j]);
                    }
                snprintf(what, sizeof what, "%s linear %dx%d, %d rows%s", k->name, N, K, M, act ? ", GELU" : "");
                CHECK_CLOSE(what, got, ref, (size_t)M * N, tol);
                CHECKF(bf_bad == 0, "%s: %d bfloat16 outputs are not the rounded float32 outputs", what, bf_bad);
                // bfloat16 output alone (out == NULL) must give the same bits
                memset(outb, 0, sizeof(uint16_t) * (size_t)M * ldo);
                k->linear(NULL, outb, ldo, k->bf16 ? NULL : a, k->bf16 ? ab : NULL, lda, &packed, bias, M, act, scratch);
                bf_bad = 0;
                for (int i = 0; i < M; i++)
                    for (int j = 0; j < N; j++) bf_bad += outb[(size_t)i * ldo + j] != ep_f32_to_bf16(got[(size_t)i * N + j]);
                CHECKF(bf_bad == 0, "%s, bfloat16 output only: %d values differ", what, bf_bad);
            }
            free(a), free(a_ref), free(ab), free(ref), free(out), free(got), free(outb), free(scratch);
        }
        ep_packed_free(&packed);
        free(w), free(w_ref), free(bias);
    }
}

/* Batch invariance of linear(): each row of an M-row call has the bits it gets
 * alone, or inside a call of any other size at any position (tails of the
 * micro-tile included), with the k blocking of a long K. */
static void test_linear_invariance(const ep_cpu_kernels *k) {
    const int shapes[][2] = {{1536, 384}, {384, 1536}};
    const int M = 37, sizes[] = {1, 2, 5, 6, 7, 13, 14, 15, 16, 17, 31, 33};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int N = shapes[s][0], K = shapes[s][1];
        float *w = randoms((size_t)N * K, 0.08f), *bias = randoms((size_t)N, 0.5f);
        ep_packed packed;
        ep_error err = {0};
        CHECK_OK(k->pack(&packed, w, N, K, &err), &err);
        if (err.code) return;
        float *a = randoms((size_t)(M + 16) * K, 1.5f), *all = randoms((size_t)M * N, 0), *part = randoms((size_t)M * N, 0);
        uint16_t *ab = ep_aligned_calloc(sizeof(uint16_t) * (size_t)(M + 16) * K);
        for (size_t i = 0; i < (size_t)(M + 16) * K; i++) ab[i] = ep_f32_to_bf16(a[i]);
        float *scratch = ep_aligned_calloc(sizeof(float) * k->linear_scratch(M, K > N ? K : N));
        k->linear(all, NULL, N, a, ab, K, &packed, bias, M, EP_ACT_GELU, scratch);
        int differ = 0, calls = 0;
        for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++)
            for (int m0 = 0; m0 + sizes[z] <= M; m0 += sizes[z] + 3, calls++) {
                k->linear(part, NULL, N, a + (size_t)m0 * K, ab + (size_t)m0 * K, K, &packed, bias, sizes[z],
                          EP_ACT_GELU, scratch);
                differ += memcmp(part, all + (size_t)m0 * N, sizeof(float) * (size_t)sizes[z] * N) != 0;
            }
        CHECKF(differ == 0, "%s linear %dx%d: %d of %d calls on fewer rows differ from the same rows in %d", k->name,
               N, K, differ, calls, M);
        ep_packed_free(&packed);
        free(w), free(bias), free(a), free(all), free(part), free(ab), free(scratch);
    }
}

/* GELU through W = identity: every x of a sweep, against erff. */
static void test_gelu(const ep_cpu_kernels *k) {
    const int N = 32, M = 16 * 25;
    float *w = randoms((size_t)N * N, 0), *bias = randoms((size_t)N, 0), *a = randoms((size_t)(M + 16) * N, 0);
    for (int i = 0; i < N; i++) w[(size_t)i * N + i] = 1.0f;
    for (int i = 0; i < M * N; i++) a[i] = -12.0f + 24.0f * (float)i / (float)(M * N);
    uint16_t *ab = ep_aligned_calloc(sizeof(uint16_t) * (size_t)(M + 16) * N);
    for (int i = 0; i < M * N; i++) {
        ab[i] = ep_f32_to_bf16(a[i]);
        if (k->bf16) a[i] = ep_bf16_to_f32(ab[i]);
    }
    ep_packed packed;
    ep_error err = {0};
    CHECK_OK(k->pack(&packed, w, N, N, &err), &err);
    float *out = randoms((size_t)M * N, 0), *scratch = ep_aligned_calloc(sizeof(float) * k->linear_scratch(M, N));
    k->linear(out, NULL, N, a, ab, N, &packed, bias, M, EP_ACT_GELU, scratch);
    int bad = 0;
    double worst = 0;
    for (int i = 0; i < M * N; i++) {
        const double x = a[i], ref = 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
        const double e = fabs(out[i] - ref) / (1.0 + fabs(x));
        if (e > worst) worst = e;
        if (e > 4e-7 && bad++ < 3) fprintf(stderr, "%s gelu(%.7g) = %.9g, erf gives %.9g\n", k->name, x, out[i], ref);
    }
    CHECKF(bad == 0, "%s: GELU off by more than 4e-7 (1 + |x|) at %d of %d points (worst %.3g)", k->name, bad, M * N,
           worst);
    ep_packed_free(&packed);
    free(w), free(bias), free(a), free(ab), free(out), free(scratch);
}

static void test_attention(const ep_cpu_kernels *k) {
    const int configs[][2] = {{384, 12}, {256, 4}, {64, 4}, {72, 3}}; /* head sizes 32, 64, 16, 24 */
    const int lens[] = {1, 2, 3, 15, 16, 17, 31, 33, 64, 129, 5};
    const int n_seqs = (int)(sizeof lens / sizeof lens[0]);
    int32_t seq_start[16];
    seq_start[0] = 0;
    for (int s = 0; s < n_seqs; s++) seq_start[s + 1] = seq_start[s] + lens[s];
    const int T = seq_start[n_seqs];
    char what[128];
    for (size_t c = 0; c < sizeof configs / sizeof configs[0]; c++) {
        const int H = configs[c][0], heads = configs[c][1];
        float *qkv = randoms((size_t)T * 3 * H, 2.0f), *ref = randoms((size_t)T * H, 0), *out = randoms((size_t)T * H, 0);
        float *scratch = ep_aligned_calloc(sizeof(float) * ep_cpu_attention_scratch(129, H, heads));
        ep_cpu_attention(ref, qkv, seq_start, n_seqs, H, heads);
        k->attention(out, qkv, seq_start, n_seqs, H, heads, scratch);
        snprintf(what, sizeof what, "%s attention, hidden %d, %d heads", k->name, H, heads);
        CHECK_CLOSE(what, out, ref, (size_t)T * H, 2e-6);
        free(qkv), free(ref), free(out), free(scratch);
    }
}

static void test_norms(const ep_cpu_kernels *k) {
    const int H = 384, vocab = 50, n_seqs = 6;
    const int32_t seq_start[7] = {0, 1, 5, 21, 22, 60, 100};
    const int T = seq_start[n_seqs];
    int32_t ids[100];
    for (int t = 0; t < T; t++) ids[t] = (int32_t)((t * 7919) % vocab);
    float *word = randoms((size_t)vocab * H, 1.0f), *pos = randoms((size_t)64 * H, 0.5f), *type = randoms((size_t)H, 0.2f);
    float *gamma = randoms((size_t)H, 1.0f), *beta = randoms((size_t)H, 0.3f);
    for (int i = 0; i < H; i++) gamma[i] += 1.0f;
    float *ref = randoms((size_t)T * H, 0), *out = randoms((size_t)T * H, 0);
    uint16_t *outb = ep_aligned_calloc(sizeof(uint16_t) * (size_t)T * H);
    char what[128];
    snprintf(what, sizeof what, "%s embedding + LayerNorm", k->name);
    int bad = 0;
    for (int pad_id = -1; pad_id <= 1; pad_id += 2) { /* BERT's positions, then RoBERTa's after padding id 1 */
        ep_cpu_embed_layernorm(ref, ids, seq_start, n_seqs, word, pos, type, gamma, beta, H, 1e-12f, pad_id);
        k->embed_layernorm(out, outb, ids, seq_start, n_seqs, word, pos, type, gamma, beta, H, 1e-12f, pad_id);
        CHECK_CLOSE(what, out, ref, (size_t)T * H, 2e-6);
        for (int i = 0; i < T * H; i++) bad += outb[i] != ep_f32_to_bf16(out[i]);
        CHECKF(bad == 0, "%s: %d bfloat16 copies differ from the rounded output", what, bad);
    }

    // residual + LayerNorm, on rows with a large common offset (the two-pass variance matters)
    float *x = randoms((size_t)T * H, 3.0f), *res = randoms((size_t)T * H, 3.0f);
    for (int i = 0; i < T * H; i++) x[i] += 40.0f;
    memcpy(ref, x, sizeof(float) * (size_t)T * H);
    memcpy(out, x, sizeof(float) * (size_t)T * H);
    ep_cpu_residual_layernorm(ref, res, gamma, beta, T, H, 1e-12f);
    k->residual_layernorm(out, outb, res, gamma, beta, T, H, 1e-12f);
    snprintf(what, sizeof what, "%s residual + LayerNorm", k->name);
    CHECK_CLOSE(what, out, ref, (size_t)T * H, 2e-6);
    bad = 0;
    for (int i = 0; i < T * H; i++) bad += outb[i] != ep_f32_to_bf16(out[i]);
    CHECKF(bad == 0, "%s: %d bfloat16 copies differ from the rounded output", what, bad);

    for (int pooling = 0; pooling < 2; pooling++)
        for (int normalize = 0; normalize < 2; normalize++) {
            float pr[6 * 384], po[6 * 384];
            ep_cpu_pool_normalize(pr, x, seq_start, n_seqs, H, pooling, normalize);
            k->pool_normalize(po, x, seq_start, n_seqs, H, pooling, normalize);
            snprintf(what, sizeof what, "%s pooling %s%s", k->name, pooling ? "cls" : "mean",
                     normalize ? ", normalised" : "");
            CHECK_CLOSE(what, po, pr, (size_t)n_seqs * H, 2e-6);
        }
    // to_bf16 is exact rounding
    bad = 0;
    k->to_bf16(outb, x, (size_t)T * H);
    for (int i = 0; i < T * H; i++) bad += outb[i] != ep_f32_to_bf16(x[i]);
    CHECKF(bad == 0, "%s to_bf16: %d values differ from round-to-nearest-even", k->name, bad);
    free(word), free(pos), free(type), free(gamma), free(beta), free(ref), free(out), free(outb), free(x), free(res);
}

int main(void) {
    const ep_cpu_features *f = ep_cpu_features_get();
    printf("CPU: %s; avx2+fma %d, avx512 %d, avx512-bf16 %d, amx %d%s%s\n", f->model, f->avx2_fma, f->avx512,
           f->avx512_bf16, f->amx_bf16, f->capped[0] ? "; capped by EMBEDPIPE_CPU_ISA=" : "", f->capped);
    const ep_cpu_kernels *tables[5] = {ep_cpu_kernels_generic(), ep_cpu_kernels_avx2(), ep_cpu_kernels_avx512(),
                                       ep_cpu_kernels_avx512_bf16(), ep_cpu_kernels_amx()};
    const char *names[5] = {"generic", "avx2", "avx512", "avx512-bf16", "amx"};
    CHECK(tables[0] != NULL);
    // the tables follow the (capped) features: avx2 exactly when AVX2 + FMA are offered
    CHECKF((tables[1] != NULL) == f->avx2_fma, "avx2 table %s, but avx2+fma %d", tables[1] ? "offered" : "missing",
           f->avx2_fma);
    for (int t = 0; t < 5; t++) {
        if (!tables[t]) {
            printf("SKIP %s: this CPU (or EMBEDPIPE_CPU_ISA) does not offer it\n", names[t]);
            continue;
        }
        const int before = ep_test_failures;
        test_linear(tables[t]);
        test_linear_invariance(tables[t]);
        test_gelu(tables[t]);
        test_attention(tables[t]);
        test_norms(tables[t]);
        printf("%s: %s\n", names[t], ep_test_failures == before ? "ok" : "FAILED");
    }
    // bf16: AMX, or AVX512-BF16 on a CPU family where it was measured to pay (AMD Zen 5); elsewhere refused
    // with a message that says why (on an Intel Xeon without AMX it was slower than fp32: cpu_choice.c)
    const ep_cpu_kernels *bf16 = NULL, *int8 = NULL;
    ep_error perr = {0};
    const int bf16_ok = ep_cpu_pick_kernels(EP_CPU_PRECISION_BF16, &bf16, &perr) == EP_OK;
    if (tables[4]) CHECKF(bf16_ok && bf16 == tables[4], "bf16 with AMX does not run the amx table");
    if (bf16_ok && !tables[4])
        CHECKF(bf16 == tables[3] && strcmp(f->vendor, "AuthenticAMD") == 0 && f->family >= 0x1a,
               "bf16 without AMX offered on %s family %d (measured to pay only on AMD Zen 5)", f->vendor, f->family);
    if (strcmp(f->vendor, "GenuineIntel") == 0 && !tables[4]) CHECKF(!bf16_ok, "bf16 offered on an Intel CPU without AMX");
    // int8 never on AMX machines (AMX bf16 is faster), only where the VNNI table runs
    const int int8_ok = ep_cpu_pick_kernels(EP_CPU_PRECISION_INT8, &int8, &perr) == EP_OK;
    if (int8_ok) CHECKF(int8 == ep_cpu_kernels_avx512_vnni() && !tables[4], "int8 runs %s", int8->name);
    else CHECKF(strstr(perr.message, "int8") != NULL, "the int8 refusal does not name it: %s", perr.message);
    // auto: the fastest offered precision whose minimum cosine is >= 0.999 (int8's is below: not picked)
    char why[600];
    const ep_cpu_precision autop = ep_cpu_auto_precision(why, sizeof why);
    const ep_cpu_precision want = int8_ok && ep_cpu_int8_min_cosine >= 0.999 ? EP_CPU_PRECISION_INT8
                                  : bf16_ok                                  ? EP_CPU_PRECISION_BF16
                                                                             : EP_CPU_PRECISION_FP32;
    CHECKF(autop == want, "auto picked %d, not %d: %s", (int)autop, (int)want, why);
    printf("auto: %s\n", why);
    if (!bf16_ok) {
        ep_model fake;
        memset(&fake, 0, sizeof fake);
        fake.config.hidden = 384, fake.config.intermediate = 1536, fake.config.n_heads = 12;
        ep_backend *be = NULL;
        ep_error err = {0};
        ep_status st = ep_backend_cpu_fast_create(&fake, 1, EP_CPU_PRECISION_BF16, NULL, &be, &err);
        CHECKF(st == EP_ERR_DEVICE && be == NULL && strstr(err.message, "AMX") &&
                   strstr(err.message, "precision fp32"),
               "bf16 on a CPU without AMX: status %d, message: %s", (int)st, err.message);
        if (tables[3]) CHECKF(strstr(err.message, "slower than fp32") != NULL, "the refusal does not say why: %s",
                              err.message);
        printf("bf16 refused: %s\n", err.message);
    }
    // what `embedpipe info` lists: each table, whether it runs here and whether it is offered
    ep_cpu_table_info info[EP_CPU_N_TABLES];
    CHECK(ep_cpu_tables_describe(info) == EP_CPU_N_TABLES);
    const ep_cpu_kernels *best = ep_cpu_kernels_best_fp32();
    int fp32_offered = 0;
    for (int i = 0; i < EP_CPU_N_TABLES; i++) {
        printf("  table %-12s runs %d offered %d: %s\n", info[i].name, info[i].runs, info[i].offered, info[i].why);
        CHECKF(info[i].why[0] != 0, "table %s: no reason given", info[i].name);
        CHECKF(!info[i].offered || info[i].runs, "table %s offered but cannot run", info[i].name);
        if (strcmp(info[i].name, "avx512-bf16") == 0)
            CHECKF(info[i].offered == (bf16_ok && bf16 == tables[3]), "avx512-bf16 offered wrongly");
        if (strcmp(info[i].name, "amx") == 0) CHECKF(info[i].offered == (tables[4] != NULL), "amx offered wrongly");
        if (strcmp(info[i].name, "avx512-vnni") == 0) CHECKF(info[i].offered == int8_ok, "avx512-vnni offered wrongly");
        if (strcmp(info[i].precision, "fp32") == 0 && info[i].offered) {
            fp32_offered++;
            CHECKF(strcmp(info[i].name, best->name) == 0, "fp32 offers %s, the backend runs %s", info[i].name,
                   best->name);
        }
    }
    CHECK(fp32_offered == 1);
    // shapes the fast kernels do not fit are refused with a message (and "fp32" falls back to the plain backend)
    {
        ep_model odd;
        memset(&odd, 0, sizeof odd);
        odd.config.hidden = 24, odd.config.intermediate = 96, odd.config.n_heads = 2;
        CHECK(!ep_cpu_fast_supports(&odd));
        odd.config.hidden = 384, odd.config.intermediate = 1536, odd.config.n_heads = 12;
        CHECK(ep_cpu_fast_supports(&odd));
        odd.config.intermediate = 1000;
        CHECK(!ep_cpu_fast_supports(&odd));
        ep_backend *be = NULL;
        ep_error err = {0};
        ep_status st = ep_backend_cpu_fast_create(&odd, 1, EP_CPU_PRECISION_FP32, ep_cpu_kernels_generic(), &be, &err);
        CHECKF(st == EP_ERR_USAGE && be == NULL && strstr(err.message, "multiples of 32"),
               "an unsuitable shape: status %d, message: %s", (int)st, err.message);
    }
    // the bfloat16 helpers: round to nearest even, ties to even, NaN kept
    CHECK(ep_f32_to_bf16(1.0f) == 0x3f80);
    CHECK(ep_bf16_to_f32(ep_f32_to_bf16(1.00390625f)) == 1.0f);     /* tie, even below */
    CHECK(ep_bf16_to_f32(ep_f32_to_bf16(1.01171875f)) == 1.015625f); /* tie, even above */
    CHECK(isnan(ep_bf16_to_f32(ep_f32_to_bf16(NAN))));
    return ep_test_finish("test_cpu_fast");
}
