/*
 * test_cpu_families.c - the model families after MiniLM on the CPU backends, against
 * sentence-transformers on real tweets (tests/fixtures/models/<family>.*, written by
 * scripts/make-test-models.py --only model-fixtures; family_fixture_util.h):
 *   bert-dense        mean pooling, Dense 64->96 Tanh, Dense 96->48 Identity, no Normalize module
 *   bert-cls-prompts  CLS pooling, prompts query/passage with passage the default; views: the default
 *                     prompt, --prompt query, an empty prompt, truncate_dim 24
 *   bert-max          max pooling, truncate_dim 40 in its config; views: that, and truncate_dim 64
 *   bert-multi        all six pooling modes concatenated (384 values) in a non-canonical order,
 *                     include_prompt false with a default prompt
 *   xlmr              model_type xlm-roberta (positions after the padding index, one token type) on
 *                     the Hugging Face ids of the unigram-xlmr tokenizer; end to end through
 *                     embedpipe's own tokenizer when the folder's tokenizer.json loads
 * For every view the plain backend and the fast backend on every fp32 kernel table this CPU runs must
 * reach a minimum cosine of 0.99999 (fp32), and the prompt embedpipe chooses must be the one
 * sentence-transformers applied. Needs ../shared/data (skips otherwise) and python3. EP_TEST_FAMILY_ROWS
 * limits the tweets per view (ep_family_max_rows: all, 40 under the sanitizers).
 */
#include "backend_cpu.h"
#include "cpu_fast.h"
#include "family_fixture_util.h"
#include "model_tokenizer.h"

static void check_backend(const char *label, ep_backend *be, const ep_family *f, const ep_family_view *v, int32_t **ids,
                          const int *n_ids) {
    const size_t max_rows = ep_family_max_rows(), n = max_rows && max_rows < f->n ? max_rows : f->n;
    float *got = (float *)calloc(f->n * (size_t)v->dim, sizeof(float));
    CHECKF(be->dim == v->dim, "%s: backend dim %d, view %d", label, be->dim, v->dim);
    if (be->dim == v->dim && ep_family_encode(be, ids, n_ids, n, v->dim, got) == 0) {
        ep_family sub = *f;
        sub.n = n;
        const double worst = ep_family_min_cosine(&sub, v, got);
        printf("  %-16s %-9s %-22s min cosine %.8f (1 - %.1e) over %zu tweets\n", f->name, v->name, label, worst,
               1.0 - worst, n);
        CHECKF(worst >= EP_FAMILY_MIN_COSINE, "%s %s on %s: min cosine %.8f < %.5f", f->name, v->name, label, worst,
               EP_FAMILY_MIN_COSINE);
    }
    free(got);
}

/* Every CPU backend on one view, its rows tokenised by tok (or the fixture's ids when tok is NULL). */
static void run_view(const ep_family *f, const ep_family_view *v, ep_model *m, const ep_tokenizer *tok,
                     const char *how) {
    const char *prompt = "";
    ep_prompts *prompts = NULL;
    if (ep_family_setup_view(f, v, m, tok, &prompt, &prompts) == 0) {
        int *n_ids = (int *)calloc(f->n, sizeof(int));
        int32_t **ids = ep_family_tokenize(f, v, tok, prompt, m->config.max_seq_length, n_ids);
        ep_error err = {0};
        ep_backend *be = NULL;
        char label[64];
        CHECK_OK(ep_backend_cpu_create(m, 2, &be, &err), &err);
        snprintf(label, sizeof label, "reference%s", how);
        if (be) check_backend(label, be, f, v, ids, n_ids);
        ep_backend_free(be);
        const ep_cpu_kernels *tables[3] = {ep_cpu_kernels_avx512(), ep_cpu_kernels_avx2(), ep_cpu_kernels_generic()};
        for (int t = 0; t < 3; t++) {
            if (!tables[t]) continue;
            be = NULL;
            CHECK_OK(ep_backend_cpu_fast_create(m, 2, EP_CPU_PRECISION_FP32, tables[t], &be, &err), &err);
            snprintf(label, sizeof label, "fast %s%s", tables[t]->name, how);
            if (be) check_backend(label, be, f, v, ids, n_ids);
            ep_backend_free(be);
        }
        for (size_t i = 0; i < f->n; i++) free(ids[i]);
        free(ids);
        free(n_ids);
    }
    ep_prompts_free(prompts);
}

static void run_family(const char *src, const char *data, const char *tmp, const char *name) {
    ep_family f;
    if (ep_family_load(src, data, tmp, name, &f) != 0) {
        CHECKF(0, "family %s: cannot load its fixture", name);
        ep_family_free(&f);
        return;
    }
    ep_model *m = NULL;
    ep_error err = {0};
    CHECK_OK(ep_model_load(f.dir, &m, &err), &err);
    ep_tokenizer *tok = NULL;
    if (m && ep_model_tokenizer_create(f.dir, &m->config, &tok, &err) != EP_OK) {
        tok = NULL;
        if (f.has_ids)
            printf("  %s: SKIP end to end: embedpipe cannot load this folder's tokenizer yet (%s); the encoder is "
                   "tested on Hugging Face's ids\n",
                   name, err.message);
        else
            CHECKF(0, "%s: tokenizer: %s", name, err.message);
    }
    for (int i = 0; m && i < f.n_views; i++) {
        if (f.has_ids) run_view(&f, &f.views[i], m, NULL, " (HF ids)");
        if (tok) run_view(&f, &f.views[i], m, tok, "");
    }
    ep_tokenizer_free(tok);
    ep_model_free(m);
    ep_family_free(&f);
}

int main(void) {
    const char *src = ep_test_env("EP_SOURCE_DIR", ".");
    const char *data = ep_test_shared_data();
    char missing[4700];
    if (ep_family_data_absent(src, data, ep_family_names, EP_N_FAMILIES, missing, sizeof missing)) {
        printf("skipped: the real tweets the fixtures name are absent (%s); set EP_SHARED_DATA or put the "
               "shared data at ../shared/data\n", missing);
        return EP_TEST_SKIP;
    }
    char tmp[512];
    if (!ep_test_mkdtemp(tmp, sizeof tmp, "families")) return 1;
    printf("model families on the CPU backends vs sentence-transformers (fp32):\n");
    for (int i = 0; i < EP_N_FAMILIES; i++) run_family(src, data, tmp, ep_family_names[i]);
    if (!ep_test_failures) ep_test_rm_rf(tmp);
    else fprintf(stderr, "kept %s\n", tmp);
    return ep_test_finish("test_cpu_families");
}
