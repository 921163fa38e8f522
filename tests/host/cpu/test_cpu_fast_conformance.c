/*
 * test_cpu_fast_conformance.c - the fast CPU backend, every kernel table this
 * CPU can run, on the real tweets of tests/fixtures/vectors-tweeteval.*
 * (sentence-transformers fp32 vectors written by scripts/make-reference.py):
 *  - float32 tables: minimum cosine >= 0.99999 against the plain backend
 *    (backend_cpu.c) and >= 0.9999 against sentence-transformers;
 *  - bfloat16 tables: minimum cosine >= 0.999 against sentence-transformers;
 *  - a text's vector does not depend on the batch it came in, for every
 *    table and for the plain backend: each of the first texts alone, and
 *    every text of windows of 2..61 texts (in order and reversed, so texts
 *    sit at the start, middle and end, in chunks with every tail length),
 *    give the same bits as inside the 4096-token batches;
 *  - ep_backend_create picks the fast backend for "fp32" and "bf16" (AMX only) and the
 *    plain one for "fp32-reference", "auto" is bf16 on AMX and fp32 elsewhere, the
 *    precision used is recorded, and an unknown precision is refused.
 *
 * Each table runs once per ctest run: a forced-ISA variant runs only its own table, and the full run
 * leaves generic to its variant when the CPU has a faster table (CI's time budget).
 *
 * tests/host/perf.cmake runs it again with the environment forced:
 * EMBEDPIPE_CPU_ISA=generic|avx2|avx512|avx512-bf16 (which tables exist) and
 * OPENBLAS_CORETYPE=Haswell|SkylakeX|Cooperlake|SapphireRapids|Zen (which
 * OpenBLAS kernels the plain backend runs; the tables, which do not use
 * OpenBLAS, are not rerun there). To keep CI within its budget
 * those variants set EP_CONFORMANCE_TEXTS=300 (the first 300 tweets of the
 * fixture; the full run covers all of them). A variant whose instructions
 * this CPU lacks (forcing them would be SIGILL), or whose core type this
 * OpenBLAS does not take, exits 77 (ctest: skipped) saying why.
 */
#include "backend_cpu.h"
#include "device.h"
#include "cpu_fast.h"
#include "fixture_util.h"
#include "model.h"
#include "test_util.h"
#include "tokenizer.h"

#include <cblas.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <strings.h>
#include <xxhash.h>

typedef struct row {
    int32_t *ids;
    int n_tokens;
    char where[160];
} row;

/* Embeds rows [0, n) in packed batches of up to 4096 tokens, in order. */
static int encode_all(ep_backend *be, const row *rows, size_t n, int dim, float *out) {
    static int32_t ids[4096 + 512], seq_start[1025];
    ep_error err = {0};
    for (size_t i = 0; i < n;) {
        int k = 0;
        seq_start[0] = 0;
        while (i + k < n && k < 1024 && (k == 0 || seq_start[k] + rows[i + k].n_tokens <= 4096)) {
            memcpy(ids + seq_start[k], rows[i + k].ids, sizeof(int32_t) * (size_t)rows[i + k].n_tokens);
            seq_start[k + 1] = seq_start[k] + rows[i + k].n_tokens;
            k++;
        }
        ep_batch b = {.n_seqs = k, .n_tokens = seq_start[k], .token_ids = ids, .seq_start = seq_start};
        ep_status st = ep_backend_encode(be, &b, out + i * (size_t)dim, NULL, &err);
        CHECK_OK(st, &err);
        if (st != EP_OK) return -1;
        i += (size_t)k;
    }
    return 0;
}

/* Every text of rows [w0, w0 + z), batched together in order (reverse = 0) or
 * reversed, against its vector in `ref` (computed in the 4096-token batches).
 * @return how many texts differ in any bit. */
static int window_differs(ep_backend *be, const row *rows, size_t w0, int z, int reverse, int dim, const float *ref,
                          float *out) {
    static int32_t ids[64 * 512], seq_start[65];
    ep_error err = {0};
    seq_start[0] = 0;
    for (int k = 0; k < z; k++) {
        const row *r = &rows[w0 + (size_t)(reverse ? z - 1 - k : k)];
        memcpy(ids + seq_start[k], r->ids, sizeof(int32_t) * (size_t)r->n_tokens);
        seq_start[k + 1] = seq_start[k] + r->n_tokens;
    }
    ep_batch b = {.n_seqs = z, .n_tokens = seq_start[z], .token_ids = ids, .seq_start = seq_start};
    CHECK_OK(ep_backend_encode(be, &b, out, NULL, &err), &err);
    int differ = 0;
    for (int k = 0; k < z; k++) {
        const size_t i = w0 + (size_t)(reverse ? z - 1 - k : k);
        differ += memcmp(out + (size_t)k * dim, ref + i * (size_t)dim, sizeof(float) * (size_t)dim) != 0;
    }
    return differ;
}

/* Batch invariance of one backend whose vectors of all n rows (4096-token batches) are in `got`. */
static void check_invariance(ep_backend *be, const char *name, const row *rows, size_t n, int dim, const float *got) {
    ep_error err = {0};
    // a text alone gives the bits it got inside a batch
    int differ = 0;
    float one[1024];
    for (size_t i = 0; i < 64 && i < n && dim <= 1024; i++) {
        int32_t ss[2] = {0, rows[i].n_tokens};
        ep_batch b = {.n_seqs = 1, .n_tokens = rows[i].n_tokens, .token_ids = rows[i].ids, .seq_start = ss};
        CHECK_OK(ep_backend_encode(be, &b, one, NULL, &err), &err);
        differ += memcmp(one, got + i * (size_t)dim, sizeof(float) * (size_t)dim) != 0;
    }
    CHECKF(differ == 0, "%s: %d of 64 texts embedded alone differ from the same text in a batch", name, differ);
    // windows of other sizes, at other offsets, in order and reversed
    const int sizes[] = {2, 3, 5, 7, 13, 29, 61};
    float *out = malloc(sizeof(float) * 64 * (size_t)dim);
    int texts = 0;
    differ = 0;
    for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++)
        for (int reverse = 0; reverse < 2; reverse++) {
            const size_t w0 = (17 * z + 5 * (size_t)reverse) % (n > 64 ? n - 64 : 1);
            if (w0 + (size_t)sizes[z] > n) continue;
            differ += window_differs(be, rows, w0, sizes[z], reverse, dim, got, out);
            texts += sizes[z];
        }
    free(out);
    CHECKF(differ == 0, "%s: %d of %d texts in batches of 2..61 texts differ from the same text in a 4096-token batch",
           name, differ, texts);
    printf("  %-52s batch invariant: 64 texts alone, %d in windows of 2..61\n", name, texts);
}

/* The forced-environment variants (tests/host/perf.cmake). @return 1 (after saying why) when this
 * CPU cannot execute what the environment forces, or OpenBLAS did not take the forced core. */
static int forced_env_unsupported(void) {
    const ep_cpu_features *f = ep_cpu_features_get();
    const char *isa = getenv("EMBEDPIPE_CPU_ISA");
    if (isa && *isa) {
        // the features are capped at `isa`; if the level itself is missing, the CPU lacks it
        const int has = strcmp(isa, "generic") == 0 || (strcmp(isa, "avx2") == 0 && f->avx2_fma) ||
                        (strcmp(isa, "avx512") == 0 && f->avx512) ||
                        (strcmp(isa, "avx512-bf16") == 0 && f->avx512_bf16);
        if (!has) {
            printf("SKIP: EMBEDPIPE_CPU_ISA=%s: this CPU (%s) does not have those instructions\n", isa, f->model);
            return 1;
        }
    }
    const char *core = getenv("OPENBLAS_CORETYPE");
    if (core && *core) {
        // what each OpenBLAS core's kernels execute; forcing one the CPU lacks would end in SIGILL
        const struct { const char *core; bool need; const char *what; } cores[] = {
            {"haswell", f->avx2_fma, "AVX2 + FMA"},
            {"zen", f->avx2_fma, "AVX2 + FMA"},
            {"skylakex", f->avx512, "AVX-512 F/BW/VL/DQ"},
            {"cooperlake", f->avx512_bf16, "AVX512-BF16"},
            {"sapphirerapids", f->amx_bf16 && f->avx512_bf16, "AMX-BF16 and AVX512-BF16"},
        };
        int known = 0;
        for (size_t i = 0; i < sizeof cores / sizeof cores[0]; i++) {
            if (strcasecmp(core, cores[i].core) != 0) continue;
            known = 1;
            if (!cores[i].need) {
                printf("SKIP: OPENBLAS_CORETYPE=%s needs %s, which this CPU (%s%s%s) lacks: it would die of SIGILL\n",
                       core, cores[i].what, f->model, f->capped[0] ? ", capped by EMBEDPIPE_CPU_ISA=" : "", f->capped);
                return 1;
            }
        }
        if (!known) {
            printf("SKIP: OPENBLAS_CORETYPE=%s is not a core this test knows the instructions of\n", core);
            return 1;
        }
        const char *got = openblas_get_corename();
        if (strcasecmp(got, core) != 0) {
            printf("SKIP: OPENBLAS_CORETYPE=%s: this OpenBLAS (%s) runs %s instead\n", core, openblas_get_config(), got);
            return 1;
        }
        printf("OpenBLAS core forced to %s (%s)\n", got, openblas_get_config());
    }
    return 0;
}

static void compare(const char *what, const float *got, const float *ref, const row *rows, size_t n, int dim,
                    double need) {
    double min_cos = 1.0, sum = 0;
    size_t worst = 0;
    for (size_t i = 0; i < n; i++) {
        double c = ep_fixture_cosine(got + i * dim, ref + i * dim, dim);
        sum += c;
        if (c < min_cos || isnan(c)) {
            min_cos = isnan(c) ? -1 : c;
            worst = i;
        }
    }
    printf("  %-52s min cosine %.9f (1 - min = %.2e, %s), mean %.9f\n", what, min_cos, 1.0 - min_cos,
           rows[worst].where, sum / (double)n);
    CHECKF(min_cos >= need, "%s: min cosine %.7f < %g at %s", what, min_cos, need, rows[worst].where);
}

int main(void) {
    if (forced_env_unsupported()) return 77;
    const char *model_dir = ep_test_model_dir();
    const char *data = ep_test_shared_data();
    const char *src = ep_test_env("EP_SOURCE_DIR", ".");

    // --- the fixture: which tweets, and their sentence-transformers vectors
    ep_fixture_vectors fx;
    if (ep_fixture_vectors_load(src, data, &fx) != 0) return 1;
    const float *st_ref = fx.ref;
    const size_t dim_ref = fx.dim;

    ep_error err = {0};
    ep_model *model;
    ep_tokenizer *tok;
    if (ep_fixture_model_open(model_dir, dim_ref, &model, &tok) != 0) return 1;
    const int dim = model->config.hidden, max_len = model->config.max_seq_length;

    size_t n = fx.n;
    row *rows = calloc(n, sizeof *rows);
    for (size_t i = 0; i < n; i++) {
        const ep_fixture_tweet *t = &fx.rows[i];
        snprintf(rows[i].where, sizeof rows[i].where, "%s", t->where);
        rows[i].ids = malloc(sizeof(int32_t) * (size_t)max_len);
        rows[i].n_tokens = ep_tokenizer_encode(tok, t->text, t->len, rows[i].ids, max_len, NULL);
        CHECKF(rows[i].n_tokens == t->n_tokens, "%s: %d tokens, sentence-transformers had %d", t->where,
               rows[i].n_tokens, t->n_tokens);
    }
    CHECKF(n >= 2000, "the fixture has %zu tweets (need >= 2000)", n);
    if (ep_test_failures) return ep_test_finish("test_cpu_fast_conformance");
    // the forced-environment variants run on the first EP_CONFORMANCE_TEXTS tweets (see the top)
    const size_t n_all = n;
    const long subset = atol(ep_test_env("EP_CONFORMANCE_TEXTS", "0"));
    if (subset >= 100 && (size_t)subset < n) n = (size_t)subset;

    // --- the plain backend: the oracle
    float *plain = malloc(sizeof(float) * n * (size_t)dim), *got = malloc(sizeof(float) * n * (size_t)dim);
    ep_backend *be = NULL;
    CHECK_OK(ep_backend_cpu_create(model, 2, &be, &err), &err);
    if (!be || encode_all(be, rows, n, dim, plain) != 0) return ep_test_finish("test_cpu_fast_conformance");
    printf("%zu tweets%s (OpenBLAS %s):\n", n, n < n_all ? ", a subset" : "", openblas_get_corename());
    compare("plain fp32 vs sentence-transformers", plain, st_ref, rows, n, dim, 0.9999);
    check_invariance(be, "plain fp32 (fp32-reference)", rows, n, dim, plain);
    ep_backend_free(be);

    // --- every table this CPU has
    const ep_cpu_kernels *tables[5] = {ep_cpu_kernels_generic(), ep_cpu_kernels_avx2(), ep_cpu_kernels_avx512(),
                                       ep_cpu_kernels_avx512_bf16(), ep_cpu_kernels_amx()};
    const char *names[5] = {"generic", "avx2", "avx512", "avx512-bf16", "amx"};
    // OpenBLAS runs only in the plain backend: with its core forced, the tables have nothing new to show
    const char *forced_core = getenv("OPENBLAS_CORETYPE");
    const int tables_too = !(forced_core && *forced_core);
    if (!tables_too) printf("  OPENBLAS_CORETYPE is set: the kernel tables (no OpenBLAS in them) are not rerun\n");
    // Each table runs once per ctest run, to keep CI in its budget: a forced-ISA variant runs only the table
    // it forces (the lower ones have variants of their own), and the full run leaves the plain-C generic
    // table, the slowest, to its variant when this CPU has a better one.
    const char *forced_isa = getenv("EMBEDPIPE_CPU_ISA");
    for (int t = 0; t < 5 && tables_too; t++) {
        if (!tables[t]) {
            printf("  SKIP %s: not offered by this CPU (or EMBEDPIPE_CPU_ISA)\n", names[t]);
            continue;
        }
        if (forced_isa && *forced_isa && strcmp(forced_isa, names[t]) != 0) {
            printf("  %s: checked by its own variant (test_cpu_fast_conformance_isa_%s)\n", names[t], names[t]);
            continue;
        }
        if (!(forced_isa && *forced_isa) && t == 0 && tables[1]) {
            printf("  generic: checked by test_cpu_fast_conformance_isa_generic (this CPU has faster tables)\n");
            continue;
        }
        const ep_cpu_kernels *k = tables[t];
        be = NULL;
        CHECK_OK(ep_backend_cpu_fast_create(model, 2, k->bf16 ? EP_CPU_PRECISION_BF16 : EP_CPU_PRECISION_FP32, k,
                                            &be, &err),
                 &err);
        if (!be) continue;
        if (encode_all(be, rows, n, dim, got) != 0) {
            ep_backend_free(be);
            continue;
        }
        char what[128];
        if (!k->bf16) {
            snprintf(what, sizeof what, "fast %s fp32 vs plain fp32", names[t]);
            compare(what, got, plain, rows, n, dim, 0.99999);
        }
        snprintf(what, sizeof what, "fast %s %s vs sentence-transformers", names[t], k->bf16 ? "bf16" : "fp32");
        compare(what, got, st_ref, rows, n, dim, k->bf16 ? 0.999 : 0.9999);
        check_invariance(be, names[t], rows, n, dim, got);
        ep_backend_free(be);
    }

    // --- what ep_backend_create picks, and what it refuses
    const char *precisions[4] = {"fp32", "bf16", "fp32-reference", "auto"};
    for (int p = 0; p < 4; p++) {
        ep_backend_options bo = {.device = "cpu", .threads = 1, .precision = precisions[p]};
        be = NULL;
        ep_status st = ep_backend_create(model, &bo, &be, &err);
        if (p == 1 && !tables[4]) { /* bf16 is AMX's only: AVX512-BF16 alone measured slower than fp32 */
            CHECKF(st == EP_ERR_DEVICE && strstr(err.message, "AMX"), "bf16 without AMX: got status %d (%s)",
                   (int)st, err.message);
            printf("  bf16 refused as it should be: %s\n", err.message);
            continue;
        }
        CHECK_OK(st, &err);
        if (!be) continue;
        printf("  --precision %-15s -> %s [%s, %s]\n", precisions[p], be->description, be->precision, be->kernels);
        if (p == 2) CHECKF(strstr(be->description, "OpenBLAS") != NULL, "fp32-reference is not the plain backend");
        else CHECKF(strstr(be->description, "kernels") != NULL, "%s is not the fast backend", precisions[p]);
        // fp32 takes the best float32 table this CPU (as capped) offers; auto is bf16 on AMX, else that
        const char *best = tables[2] ? "avx512" : tables[1] ? "avx2" : "generic";
        if (p == 0) CHECKF(strcmp(be->kernels, best) == 0, "fp32 picked %s, not %s", be->kernels, best);
        if (p == 3) {
            const char *want = tables[4] ? "bf16" : "fp32";
            CHECKF(strcmp(be->precision, want) == 0, "auto ran %s, not %s", be->precision, want);
            CHECKF(strcmp(be->kernels, tables[4] ? "amx" : best) == 0, "auto ran the %s kernels", be->kernels);
        } else {
            CHECKF(strcmp(be->precision, precisions[p]) == 0, "precision %s recorded as %s", precisions[p],
                   be->precision);
        }
        ep_backend_free(be);
    }
    ep_backend_options bad = {.device = "cpu", .precision = "fp8"};
    be = NULL;
    CHECK(ep_backend_create(model, &bad, &be, &err) == EP_ERR_USAGE && be == NULL);
    CHECK(strstr(err.message, "fp8") != NULL);

    for (size_t i = 0; i < n_all; i++) free(rows[i].ids);
    free(rows);
    free(plain);
    free(got);
    ep_tokenizer_free(tok);
    ep_model_free(model);
    ep_fixture_vectors_free(&fx);
    return ep_test_finish("test_cpu_fast_conformance");
}
