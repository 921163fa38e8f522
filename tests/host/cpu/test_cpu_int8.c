/*
 * test_cpu_int8.c - the int8 GEMM (host/cpu/cpu_int8.h, cpu_int8_quant.c,
 * cpu_fast_int8.c):
 *  - weights: every packed value within half a step of W, the scales and
 *    column sums what the definition says;
 *  - a row's code: zero exact, every value but the outliers within half a step,
 *    the outliers the largest values past the limit, at most EP_INT8_MAX_OUTLIERS
 *    of them, and degenerate rows (zeros, one sign, one huge value);
 *  - the reference layer against float32 (ep_cpu_linear): within the int8 noise;
 *  - the avx512-vnni table (where the CPU has AVX512-VNNI; else skipped, said so)
 *    gives the reference's bits without GELU, and within the vector GELU's error
 *    with it, for row counts around the tile size, on rows with outliers and on a
 *    row with more candidates than the vector path keeps; its bfloat16 copy is the
 *    rounded output; it is batch invariant (rows alone or in calls of any size
 *    give the same bits).
 * The plain-C parts run on every CPU (and under the sanitizers).
 */
#include "cpu_fast.h"
#include "cpu_int8.h"
#include "cpu_ops.h"
#include "test_util.h"

#include <math.h>
#include <stdint.h>

static float *randoms(size_t n, float scale) {
    float *p = ep_aligned_calloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) p[i] = scale * ep_test_frand();
    return p;
}

/* Activations like the encoder's: mostly small values, and in some rows one or two
 * channels tens of times larger (LayerNorm outliers), or one channel holding almost all
 * the energy ([CLS]-like rows), or many large values (more than the vector path keeps). */
static float *activations(int M, int K, int lda) {
    float *a = randoms((size_t)(M + 16) * lda, 1.5f);
    for (int m = 0; m < M; m++) {
        float *x = a + (size_t)m * lda;
        if (m % 3 == 1) x[(7 * m) % K] = 40.0f;
        if (m % 5 == 2) x[(11 * m + 3) % K] = -25.0f, x[(13 * m + 5) % K] = 30.0f;
        if (m % 7 == 3) {
            for (int k = 0; k < K; k++) x[k] *= 0.01f;
            x[K / 2] = 9.0f;
        }
        // many values past the limit: more than the row keeps; 90 of them (K = 4096), more than the
        // vector path lists, which then leaves the row to the plain-C definition
        if (m % 11 == 4 && K >= 1024)
            for (int j = 0; j < 10; j++) x[(j * 37) % K] = j % 2 ? 20.0f : -20.0f;
        if (m % 11 == 4 && K >= 4096)
            for (int j = 0; j < 90; j++) x[(j * 43) % K] = (j % 2 ? 30.0f : -30.0f) * (1.0f + 0.002f * (float)j);
    }
    return a;
}

static void test_pack(void) {
    const int N = 64, K = 48;
    float *w = randoms((size_t)N * K, 0.1f);
    w[5] = 3.0f; /* row 0's largest */
    for (int k = 0; k < K; k++) w[(size_t)9 * K + k] = 0.0f; /* an all-zero row */
    ep_packed p;
    ep_error err = {0};
    CHECK_OK(ep_int8_pack(&p, w, N, K, &err), &err);
    const ep_int8_weights *h = p.panels;
    CHECK(h->n == N && h->k == K);
    CHECK(fabsf(h->scale[0] - 3.0f / 127.0f) < 1e-9f);
    CHECK(h->scale[9] == 1.0f && h->colsum[9] == 0);
    int bad = 0;
    for (int n = 0; n < N; n++) {
        int32_t sum = 0;
        for (int k = 0; k < K; k++) {
            const int8_t q = h->cols[(size_t)k * N + n];
            const int8_t qp = h->panels[((size_t)(n / 32) * (K / 4) + k / 4) * 128 + (size_t)(n % 32) * 4 + k % 4];
            sum += q;
            bad += q != qp || q < -127 || fabsf(w[(size_t)n * K + k] - h->scale[n] * q) > 0.5001f * h->scale[n];
        }
        bad += sum != h->colsum[n];
    }
    CHECKF(bad == 0, "int8 pack: %d values off", bad);
    ep_packed_free(&p);
    CHECK(ep_int8_pack(&p, w, 48, 48, &err) == EP_ERR_USAGE); /* rows not a multiple of 32 */
    CHECK(ep_int8_pack(&p, w, 32, 40, &err) == EP_ERR_USAGE); /* columns not a multiple of 16 */
    free(w);
}

/* The code of one row checked against its definition. */
static void check_row(const float *x, int K, const char *what) {
    const ep_int8_row r = ep_int8_row_params(x, K);
    uint8_t *q = malloc((size_t)K);
    ep_int8_row_quantize(q, x, K, &r);
    CHECKF(r.scale > 0 && r.zero >= 0 && r.zero <= 255 && r.n_out >= 0 && r.n_out <= EP_INT8_MAX_OUTLIERS,
           "%s: scale %g zero %d outliers %d", what, r.scale, r.zero, r.n_out);
    double ss = 0;
    for (int k = 0; k < K; k++) ss += (double)x[k] * x[k];
    const double limit = EP_INT8_OUTLIER * sqrt(ss / K);
    int bad = 0, past = 0;
    float smallest_out = INFINITY, largest_in_past = 0;
    for (int k = 0; k < K; k++) {
        int out = 0;
        for (int o = 0; o < r.n_out; o++) out |= r.out_k[o] == k && r.out_x[o] == x[k];
        past += fabs(x[k]) > limit * (1 + 1e-6);
        if (out) {
            smallest_out = fminf(smallest_out, fabsf(x[k]));
            bad += q[k] != r.zero || !(fabs(x[k]) > limit * (1 - 1e-6));
        } else {
            if (fabs(x[k]) > limit) largest_in_past = fmaxf(largest_in_past, fabsf(x[k]));
            bad += fabsf(x[k] - r.scale * (float)(q[k] - r.zero)) > 0.5001f * r.scale;
        }
    }
    CHECKF(bad == 0, "%s: %d values not within half a step (scale %g, zero %d)", what, bad, r.scale, r.zero);
    CHECKF(r.n_out == (past < EP_INT8_MAX_OUTLIERS ? past : EP_INT8_MAX_OUTLIERS),
           "%s: %d outliers kept, %d values past the limit", what, r.n_out, past);
    CHECKF(r.n_out == 0 || smallest_out >= largest_in_past, "%s: outlier %g kept out, but %g past the limit kept in",
           what, smallest_out, largest_in_past);
    free(q);
}

static void test_rows(void) {
    const int K = 384;
    float x[1536];
    memset(x, 0, sizeof x);
    ep_int8_row r = ep_int8_row_params(x, K);
    CHECK(r.scale == 1.0f && r.zero == 0 && r.n_out == 0); /* all zeros */
    for (int k = 0; k < K; k++) x[k] = 1.0f + (float)k / K; /* one sign: the range still includes 0 */
    r = ep_int8_row_params(x, K);
    CHECK(r.zero == 0 && r.n_out == 0);
    check_row(x, K, "positive row");
    for (int k = 0; k < K; k++) x[k] = -x[k];
    r = ep_int8_row_params(x, K);
    CHECK(r.zero == 255);
    check_row(x, K, "negative row");
    for (int k = 0; k < K; k++) x[k] = 0.01f * ep_test_frand();
    x[99] = 28.0f; /* one channel with nearly all the energy */
    r = ep_int8_row_params(x, K);
    CHECK(r.n_out == 1 && r.out_k[0] == 99 && r.out_x[0] == 28.0f);
    check_row(x, K, "one huge value");
    const int widths[3] = {384, 1536, 4096};
    for (int t = 0; t < 3; t++) {
        float *a = activations(24, widths[t], widths[t]);
        for (int m = 0; m < 24; m++) check_row(a + (size_t)m * widths[t], widths[t], "a row");
        free(a);
    }
}

/* The reference layer against float32: int8 noise is ~1% of the output's scale. */
static void test_reference(void) {
    const int N = 384, K = 384, M = 40;
    float *w = randoms((size_t)N * K, 0.08f), *bias = randoms((size_t)N, 0.5f), *a = activations(M, K, K);
    float *ref = randoms((size_t)M * N, 0), *got = randoms((size_t)M * N, 0);
    ep_packed p;
    ep_error err = {0};
    CHECK_OK(ep_int8_pack(&p, w, N, K, &err), &err);
    ep_cpu_linear(ref, a, w, bias, M, K, N);
    ep_int8_linear_ref(got, N, a, K, &p, bias, M, EP_ACT_NONE);
    double max_diff = 0, max_ref = 0, se = 0, sr = 0;
    for (size_t i = 0; i < (size_t)M * N; i++) {
        max_diff = fmax(max_diff, fabs(got[i] - ref[i]));
        max_ref = fmax(max_ref, fabs(ref[i]));
        se += (got[i] - ref[i]) * (double)(got[i] - ref[i]);
        sr += (double)ref[i] * ref[i];
    }
    CHECKF(sqrt(se / sr) < 0.02 && max_diff / max_ref < 0.05,
           "int8 reference vs float32: rms relative error %.4f, max %.4f", sqrt(se / sr), max_diff / max_ref);
    printf("int8 reference vs float32: rms relative error %.4f, max %.4f of the largest output\n", sqrt(se / sr),
           max_diff / max_ref);
    ep_packed_free(&p);
    free(w), free(bias), free(a), free(ref), free(got);
}

static void test_table(const ep_cpu_kernels *k) {
    const int shapes[][2] = {{96, 64}, {384, 384}, {1152, 384}, {384, 1536}, {64, 4096}};
    const int rows[] = {1, 2, 11, 12, 13, 24, 25, 47, 100, 256};
    char what[160];
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int N = shapes[s][0], K = shapes[s][1];
        float *w = randoms((size_t)N * K, 0.08f), *bias = randoms((size_t)N, 0.5f);
        ep_packed p;
        ep_error err = {0};
        CHECK_OK(k->pack(&p, w, N, K, &err), &err);
        for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
            const int M = rows[r], lda = K + 16, ldo = N + 16; /* strides wider than the rows */
            if ((size_t)M * K > (size_t)256 * 1536) continue;
            float *a = activations(M, K, lda), *ref = randoms((size_t)M * ldo, 0), *out = randoms((size_t)M * ldo, 0);
            uint16_t *outb = ep_aligned_calloc(sizeof(uint16_t) * (size_t)M * ldo);
            float *scratch = ep_aligned_calloc(sizeof(float) * k->linear_scratch(M, K > N ? K : N));
            for (int act = 0; act < 2; act++) {
                ep_int8_linear_ref(ref, ldo, a, lda, &p, bias, M, act);
                k->linear(out, outb, ldo, a, NULL, lda, &p, bias, M, act, scratch);
                int differ = 0, far = 0, bf_bad = 0;
                for (int i = 0; i < M; i++)
                    for (int j = 0; j < N; j++) {
                        const float g = out[(size_t)i * ldo + j], e = ref[(size_t)i * ldo + j];
                        differ += memcmp(&g, &e, sizeof g) != 0;
                        far += !(fabsf(g - e) <= 4e-7f * (1.0f + fabsf(e)));
                        bf_bad += outb[(size_t)i * ldo + j] != ep_f32_to_bf16(g);
                    }
                snprintf(what, sizeof what, "%s linear %dx%d, %d rows%s", k->name, N, K, M, act ? ", GELU" : "");
                // without GELU the same bits; GELU is the vector one (error < 1.5e-7) against erff
                if (act == EP_ACT_NONE) CHECKF(differ == 0, "%s: %d outputs differ from the reference", what, differ);
                CHECKF(far == 0, "%s: %d outputs further than 4e-7 from the reference", what, far);
                CHECKF(bf_bad == 0, "%s: %d bfloat16 outputs are not the rounded outputs", what, bf_bad);
            }
            free(a), free(ref), free(out), free(outb), free(scratch);
        }
        ep_packed_free(&p);
        free(w), free(bias);
    }
}

/* Rows computed alone or in calls of other sizes at other positions have the bits of one call over all rows. */
static void test_invariance(const ep_cpu_kernels *k) {
    const int shapes[][2] = {{1536, 384}, {384, 1536}};
    const int M = 37, sizes[] = {1, 2, 5, 11, 12, 13, 24, 25, 31, 33};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int N = shapes[s][0], K = shapes[s][1];
        float *w = randoms((size_t)N * K, 0.08f), *bias = randoms((size_t)N, 0.5f), *a = activations(M, K, K);
        float *all = randoms((size_t)M * N, 0), *part = randoms((size_t)M * N, 0);
        float *scratch = ep_aligned_calloc(sizeof(float) * k->linear_scratch(M, K > N ? K : N));
        ep_packed p;
        ep_error err = {0};
        CHECK_OK(k->pack(&p, w, N, K, &err), &err);
        k->linear(all, NULL, N, a, NULL, K, &p, bias, M, EP_ACT_GELU, scratch);
        int differ = 0, calls = 0;
        for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++)
            for (int m0 = 0; m0 + sizes[z] <= M; m0 += sizes[z] + 3, calls++) {
                k->linear(part, NULL, N, a + (size_t)m0 * K, NULL, K, &p, bias, sizes[z], EP_ACT_GELU, scratch);
                differ += memcmp(part, all + (size_t)m0 * N, sizeof(float) * (size_t)sizes[z] * N) != 0;
            }
        CHECKF(differ == 0, "%s linear %dx%d: %d of %d calls on fewer rows differ from the same rows in %d", k->name,
               N, K, differ, calls, M);
        ep_packed_free(&p);
        free(w), free(bias), free(a), free(all), free(part), free(scratch);
    }
}

int main(void) {
    test_pack();
    test_rows();
    test_reference();
    const ep_cpu_kernels *k = ep_cpu_kernels_avx512_vnni();
    const ep_cpu_features *f = ep_cpu_features_get();
    if (!k) {
        printf("SKIP avx512-vnni table: this CPU (%s%s%s) has no AVX512-VNNI; the plain-C parts were tested\n",
               f->model, f->capped[0] ? ", capped by EMBEDPIPE_CPU_ISA=" : "", f->capped);
    } else {
        CHECK(k->int8 == 1 && k->bf16 == 0);
        test_table(k);
        test_invariance(k);
        printf("avx512-vnni: %s\n", ep_test_failures ? "FAILED" : "ok");
    }
    return ep_test_finish("test_cpu_int8");
}
