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
 *  - ep_backend_create picks the fast backend for "fp32" and "bf16" (AMX, or AVX512-BF16
 *    where measured to pay) and the plain one for "fp32-reference", "auto" is bf16 where
 *    bf16 is offered and fp32 elsewhere, the precision used is recorded, and an unknown
 *    precision is refused. (int8: test_cpu_int8_conformance.)
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
#include "cpu_conformance_util.h"
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
    row *rows = fixture_rows(&fx, tok, max_len);
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
    // bf16: AMX, or AVX512-BF16 where it was measured to pay (cpu_choice.c); test_cpu_fast checks which
    const ep_cpu_kernels *bf16 = NULL;
    const int bf16_ok = ep_cpu_pick_kernels(EP_CPU_PRECISION_BF16, &bf16, &err) == EP_OK;
    const char *precisions[4] = {"fp32", "bf16", "fp32-reference", "auto"};
    for (int p = 0; p < 4; p++) {
        ep_backend_options bo = {.device = "cpu", .threads = 1, .precision = precisions[p]};
        be = NULL;
        ep_status st = ep_backend_create(model, &bo, &be, &err);
        if (p == 1 && !bf16_ok) { /* no AMX, and AVX512-BF16 alone not measured to pay here */
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
        // fp32 takes the best float32 table this CPU (as capped) offers; auto is bf16 where offered, else that
        const char *best = tables[2] ? "avx512" : tables[1] ? "avx2" : "generic";
        if (p == 0) CHECKF(strcmp(be->kernels, best) == 0, "fp32 picked %s, not %s", be->kernels, best);
        if (p == 1) CHECKF(strcmp(be->kernels, bf16->name) == 0, "bf16 ran the %s kernels", be->kernels);
        if (p == 3) {
            const char *want = bf16_ok ? "bf16" : "fp32";
            CHECKF(strcmp(be->precision, want) == 0, "auto ran %s, not %s", be->precision, want);
            CHECKF(strcmp(be->kernels, bf16_ok ? bf16->name : best) == 0, "auto ran the %s kernels", be->kernels);
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
