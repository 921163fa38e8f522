/*
 * family_fixture_util.h - the model-family fixtures of scripts/make-test-models.py (step
 * "model-fixtures"): tiny models of the families after MiniLM (Dense, prompts, every pooling mode,
 * XLM-R) and the vectors sentence-transformers gave for real tweets.
 *
 * A test regenerates each family's folder with scripts/make-tiny-model.py and the arguments recorded
 * in tests/fixtures/models/<family>.meta.json (deterministic from its seed), checks the weights'
 * SHA-256 against the meta (so a change of the generator fails here, not as a mysterious cosine),
 * reads the tweets the rows name (../shared/data, checked by XXH3) and each view's vectors, then
 * embeds every view as sentence-transformers did: the prompt chosen through the model's own prompts
 * (and checked against the one sentence-transformers applied), prompt + text tokenised (or, for a
 * family with ids, the Hugging Face ids), the truncation and include_prompt applied.
 */
#ifndef EP_FAMILY_FIXTURE_UTIL_H
#define EP_FAMILY_FIXTURE_UTIL_H

#include "backend.h"
#include "fixture_util.h"
#include "model.h"
#include "prompts.h"
#include "sha256.h"
#include "tokenizer.h"

#define EP_FAMILY_MAX_VIEWS 8
#define EP_FAMILY_MIN_COSINE 0.99999

typedef struct ep_family_row {
    const char *text; /* the tweet (points into files[]) */
    size_t len;
    char where[160];  /* "tweeteval/NAME.txt:LINE" */
    int n_tokens;     /* what sentence-transformers fed its model for the default view */
    int32_t *ids;     /* the Hugging Face ids (families with ids), else NULL */
} ep_family_row;

typedef struct ep_family_view {
    char name[32];
    const char *prompt_name; /* encode(prompt_name=...), or NULL (points into meta) */
    const char *prompt;      /* encode(prompt=...), or NULL */
    int truncate_dim;        /* encode(truncate_dim=...), or 0 */
    const char *prompt_text; /* the prompt sentence-transformers applied ("" for none) */
    int dim;
    const float *ref;        /* [n][dim] (points into npy) */
    char *npy;
} ep_family_view;

typedef struct ep_family {
    char name[64];
    char dir[1024];          /* the regenerated model folder */
    cJSON *meta;
    ep_family_row *rows;
    size_t n;
    bool has_ids;
    ep_family_view views[EP_FAMILY_MAX_VIEWS];
    int n_views;
    ep_fixture_lines files[EP_FIXTURE_MAX_FILES];
    char file_names[EP_FIXTURE_MAX_FILES][256];
    int n_files;
} ep_family;

/* How many tweets of each view a test embeds: EP_TEST_FAMILY_ROWS when set; else all of them, but the
 * first 40 under the sanitizers (ten times slower; the Release build runs every tweet). @return 0 = all. */
static inline size_t ep_family_max_rows(void) {
    const char *v = getenv("EP_TEST_FAMILY_ROWS");
    if (v && *v) return (size_t)atol(v);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
    return 40;
#else
    return 0;
#endif
}

/* The family names, in the order make-test-models.py writes them. */
static const char *const ep_family_names[] = {"bert-dense", "bert-cls-prompts", "bert-max", "bert-multi", "xlmr"};
#define EP_N_FAMILIES 5

/* Runs scripts/make-tiny-model.py from the source folder with the meta's arguments into dir.
 * @return 0, or -1 after saying why. */
static inline int ep_family_generate(const char *src, const cJSON *meta, const char *dir) {
    char cmd[8192];
    size_t len = (size_t)snprintf(cmd, sizeof cmd, "cd '%s' && python3 scripts/make-tiny-model.py --out '%s'", src, dir);
    const cJSON *args = cJSON_GetObjectItem(meta, "make_tiny_model_args"), *a;
    cJSON_ArrayForEach(a, args) {
        if (!cJSON_IsString(a) || strchr(a->valuestring, '\'')) return -1;
        len += (size_t)snprintf(cmd + len, sizeof cmd - len, " '%s'", a->valuestring);
    }
    if (len >= sizeof cmd || system(cmd) != 0) {
        fprintf(stderr, "cannot run: %s\n", cmd);
        return -1;
    }
    return 0;
}

/* Every weights file of the regenerated folder against the meta's SHA-256. @return 0, or -1. */
static inline int ep_family_check_weights(const ep_family *f) {
    const cJSON *shas = cJSON_GetObjectItem(f->meta, "weights_sha256"), *e;
    int bad = 0;
    cJSON_ArrayForEach(e, shas) {
        char path[1400], hex[65] = "";
        ep_error err = {0};
        snprintf(path, sizeof path, "%s/%s", f->dir, e->string);
        if (ep_sha256_file(path, hex, &err) != EP_OK || strcmp(hex, e->valuestring) != 0) {
            fprintf(stderr, "%s: %s has SHA-256 %s, the fixture was made from %s: scripts/make-tiny-model.py "
                    "changed; regenerate with scripts/make-test-models.py --only model-fixtures\n",
                    f->name, e->string, hex, e->valuestring);
            bad = 1;
        }
    }
    return bad ? -1 : 0;
}

/* The text of a row, from the shared data (checked by XXH3). @return 0, or -1. */
static inline int ep_family_row_text(ep_family *f, const char *data, const cJSON *o, ep_family_row *r) {
    const char *file = cJSON_GetStringValue(cJSON_GetObjectItem(o, "file"));
    const char *xxh = cJSON_GetStringValue(cJSON_GetObjectItem(o, "xxh3"));
    const cJSON *ln = cJSON_GetObjectItem(o, "line");
    if (!file || !xxh || !cJSON_IsNumber(ln)) return -1;
    int k = 0;
    while (k < f->n_files && strcmp(f->file_names[k], file) != 0) k++;
    if (k == f->n_files) {
        char path[4600];
        snprintf(path, sizeof path, "%s/%s", data, file);
        if (k == EP_FIXTURE_MAX_FILES || ep_fixture_lines_load(path, &f->files[k]) != 0) return -1;
        snprintf(f->file_names[k], sizeof f->file_names[k], "%s", file);
        f->n_files++;
    }
    const size_t li = (size_t)ln->valuedouble - 1;
    if (li >= f->files[k].n) return -1;
    r->text = f->files[k].line[li];
    r->len = f->files[k].len[li];
    snprintf(r->where, sizeof r->where, "%s:%zu", file, li + 1);
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)XXH3_64bits(r->text, r->len));
    if (strcmp(hex, xxh) != 0) {
        fprintf(stderr, "%s changed since the fixture was made\n", r->where);
        return -1;
    }
    return 0;
}

/* Whether every data file the families' fixtures name is under data: without ../shared/data (a user's
 * fresh clone, the GPU kit's sample) the tests skip, naming the first file missing.
 * @return 1 (and *missing set) when one is absent, 0 when all are there. */
static inline int ep_family_data_absent(const char *src, const char *data, const char *const *names, int n_names,
                                        char *missing, size_t cap) {
    for (int i = 0; i < n_names; i++) {
        char path[4600];
        size_t len = 0;
        snprintf(path, sizeof path, "%s/tests/fixtures/models/%s.rows.ndjson.zst", src, names[i]);
        char *text = ep_fixture_read(path, &len);
        if (!text) continue; /* a missing fixture is the loader's failure, not a skip */
        int absent = 0;
        for (char *line = strtok(text, "\n"); line && !absent; line = strtok(NULL, "\n")) {
            cJSON *o = cJSON_Parse(line);
            const char *file = o ? cJSON_GetStringValue(cJSON_GetObjectItem(o, "file")) : NULL;
            if (file) {
                snprintf(missing, cap, "%s/%s", data, file);
                absent = !ep_test_exists(missing);
            }
            cJSON_Delete(o);
        }
        free(text);
        if (absent) return 1;
    }
    return 0;
}

static inline int ep_family_load_rows(ep_family *f, const char *src, const char *data) {
    char path[4600];
    size_t len = 0;
    snprintf(path, sizeof path, "%s/tests/fixtures/models/%s.rows.ndjson.zst", src, f->name);
    char *text = ep_fixture_read(path, &len);
    if (!text) return -1;
    size_t cap = 1;
    for (size_t i = 0; i < len; i++) cap += text[i] == '\n';
    f->rows = (ep_family_row *)calloc(cap, sizeof *f->rows);
    int bad = 0;
    for (char *line = strtok(text, "\n"); line && !bad; line = strtok(NULL, "\n")) {
        cJSON *o = cJSON_Parse(line);
        ep_family_row *r = &f->rows[f->n];
        bad = !o || ep_family_row_text(f, data, o, r) != 0;
        r->n_tokens = bad ? 0 : (int)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "n_tokens"));
        const cJSON *ids = cJSON_GetObjectItem(o, "ids");
        if (!bad && cJSON_IsArray(ids)) {
            f->has_ids = true;
            r->ids = (int32_t *)malloc(sizeof(int32_t) * (size_t)cJSON_GetArraySize(ids));
            int k = 0;
            const cJSON *id;
            cJSON_ArrayForEach(id, ids) r->ids[k++] = (int32_t)id->valuedouble;
            bad = k != r->n_tokens;
        }
        if (bad) fprintf(stderr, "%s: bad row %zu: %.200s\n", f->name, f->n + 1, line);
        cJSON_Delete(o);
        f->n++;
    }
    free(text);
    return bad ? -1 : 0;
}

static inline int ep_family_load_views(ep_family *f, const char *src) {
    const cJSON *views = cJSON_GetObjectItem(f->meta, "views"), *v;
    cJSON_ArrayForEach(v, views) {
        if (f->n_views == EP_FAMILY_MAX_VIEWS) return -1;
        ep_family_view *w = &f->views[f->n_views++];
        snprintf(w->name, sizeof w->name, "%s", v->string);
        w->prompt_name = cJSON_GetStringValue(cJSON_GetObjectItem(v, "prompt_name"));
        w->prompt = cJSON_GetStringValue(cJSON_GetObjectItem(v, "prompt"));
        w->prompt_text = cJSON_GetStringValue(cJSON_GetObjectItem(v, "prompt_text"));
        const cJSON *td = cJSON_GetObjectItem(v, "truncate_dim");
        w->truncate_dim = cJSON_IsNumber(td) ? (int)td->valuedouble : 0;
        char path[4600];
        size_t len = 0, rows = 0, cols = 0;
        snprintf(path, sizeof path, "%s/tests/fixtures/models/%s.%s.f32.npy.zst", src, f->name, w->name);
        w->npy = ep_fixture_read(path, &len);
        w->ref = w->npy ? ep_fixture_npy_f32(w->npy, len, &rows, &cols) : NULL;
        w->dim = (int)cols;
        if (!w->ref || !w->prompt_text || rows != f->n) {
            fprintf(stderr, "%s: view %s: the vectors are missing or have %zu rows for %zu tweets\n", f->name,
                    w->name, rows, f->n);
            return -1;
        }
    }
    return f->n_views ? 0 : -1;
}

static inline void ep_family_free(ep_family *f) {
    for (size_t i = 0; f->rows && i < f->n; i++) free(f->rows[i].ids);
    free(f->rows);
    for (int i = 0; i < f->n_views; i++) free(f->views[i].npy);
    for (int i = 0; i < f->n_files; i++) ep_fixture_lines_free(&f->files[i]);
    cJSON_Delete(f->meta);
    memset(f, 0, sizeof *f);
}

/* Loads family `name`: its meta, a regenerated folder under tmp (checked against the meta's SHA-256),
 * its tweets and views. @return 0, or -1 after saying why. */
static inline int ep_family_load(const char *src, const char *data, const char *tmp, const char *name, ep_family *f) {
    memset(f, 0, sizeof *f);
    snprintf(f->name, sizeof f->name, "%s", name);
    snprintf(f->dir, sizeof f->dir, "%s/%s", tmp, name);
    char path[4600];
    snprintf(path, sizeof path, "%s/tests/fixtures/models/%s.meta.json", src, name);
    char *text = (char *)ep_test_read_file(path, NULL);
    f->meta = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!f->meta) {
        fprintf(stderr, "cannot read %s (scripts/make-test-models.py --only model-fixtures writes it)\n", path);
        return -1;
    }
    if (ep_family_generate(src, f->meta, f->dir) != 0 || ep_family_check_weights(f) != 0 ||
        ep_family_load_rows(f, src, data) != 0 || ep_family_load_views(f, src) != 0)
        return -1;
    return 0;
}

// ----------------------------------------------------------------------------
// Embedding a view

/* The view's prompt through the model's prompts; m->run as the view asks (its truncate_dim, else the
 * model's; the prompt's tokens left out of pooling when include_prompt is false; rows normalised, as
 * normalize_embeddings=True). *prompt gets the prompt text. @return 0, or -1 (a failed check). */
static inline int ep_family_setup_view(const ep_family *f, const ep_family_view *v, ep_model *m,
                                       const ep_tokenizer *tok, const char **prompt, ep_prompts **prompts) {
    ep_error err = {0};
    const char *name = NULL;
    CHECK_OK(ep_prompts_load(f->dir, prompts, &err), &err);
    if (!*prompts) return -1;
    CHECK_OK(ep_prompt_choose(*prompts, v->prompt_name, v->prompt, prompt, &name, &err), &err);
    CHECKF(strcmp(*prompt, v->prompt_text) == 0, "%s/%s: prompt \"%s\", sentence-transformers applied \"%s\"", f->name,
           v->name, *prompt, v->prompt_text);
    ep_model_run run = {.dim = v->truncate_dim ? v->truncate_dim : m->config.truncate_dim, .normalize = true};
    if (m->config.exclude_prompt && tok) run.prompt_tokens = ep_prompt_tokens(tok, *prompt, m->config.max_seq_length);
    if (m->config.exclude_prompt && !tok) CHECKF(!(*prompt)[0], "%s: include_prompt false needs a tokenizer", f->name);
    CHECK_OK(ep_model_set_run(m, &run, &err), &err);
    CHECKF(ep_model_output_dim(m) == v->dim, "%s/%s: rows of %d values, sentence-transformers gave %d", f->name,
           v->name, ep_model_output_dim(m), v->dim);
    return ep_test_failures ? -1 : 0;
}

/* Token ids of every row for a view: prompt + text through tok, or the fixture's ids when tok is NULL.
 * Checks the count against sentence-transformers' for the default view. @return ids[n] (free each and the
 * array), lengths in n_ids[n]. */
static inline int32_t **ep_family_tokenize(const ep_family *f, const ep_family_view *v, const ep_tokenizer *tok,
                                           const char *prompt, int max_len, int *n_ids) {
    int32_t **ids = (int32_t **)calloc(f->n, sizeof *ids);
    ep_prompt_buf buf = {0};
    int miscounted = 0;
    for (size_t i = 0; i < f->n; i++) {
        const ep_family_row *r = &f->rows[i];
        ids[i] = (int32_t *)malloc(sizeof(int32_t) * (size_t)max_len);
        if (!tok) {
            memcpy(ids[i], r->ids, sizeof(int32_t) * (size_t)r->n_tokens);
            n_ids[i] = r->n_tokens;
            continue;
        }
        n_ids[i] = ep_prompt_encode(tok, prompt, strlen(prompt), r->text, r->len, ids[i], max_len, NULL, &buf);
        if (strcmp(v->name, "default") == 0 && n_ids[i] != r->n_tokens && miscounted++ < 3)
            fprintf(stderr, "%s %s: %d tokens, sentence-transformers %d\n", f->name, r->where, n_ids[i], r->n_tokens);
        if (r->ids && strcmp(v->name, "default") == 0 && n_ids[i] == r->n_tokens &&
            memcmp(ids[i], r->ids, sizeof(int32_t) * (size_t)n_ids[i]) != 0 && miscounted++ < 3)
            fprintf(stderr, "%s %s: ids differ from Hugging Face's\n", f->name, r->where);
    }
    free(buf.data);
    CHECKF(miscounted == 0, "%s/%s: %d tweets tokenised differently from sentence-transformers", f->name, v->name,
           miscounted);
    return ids;
}

/* Embeds every row through be in packed batches of up to 2048 tokens into out [n][dim]. @return 0, or -1. */
static inline int ep_family_encode(ep_backend *be, int32_t **ids, const int *n_ids, size_t n, int dim, float *out) {
    static int32_t packed[2048 + 512], seq_start[1025];
    ep_error err = {0};
    for (size_t i = 0; i < n;) {
        int k = 0;
        seq_start[0] = 0;
        while (i + k < n && k < 1024 && (k == 0 || seq_start[k] + n_ids[i + k] <= 2048)) {
            memcpy(packed + seq_start[k], ids[i + k], sizeof(int32_t) * (size_t)n_ids[i + k]);
            seq_start[k + 1] = seq_start[k] + n_ids[i + k];
            k++;
        }
        ep_batch b = {.n_seqs = k, .n_tokens = seq_start[k], .token_ids = packed, .seq_start = seq_start};
        ep_status st = ep_backend_encode(be, &b, out + i * (size_t)dim, NULL, &err);
        CHECK_OK(st, &err);
        if (st != EP_OK) return -1;
        i += (size_t)k;
    }
    return 0;
}

/* @return the smallest cosine of got's rows against the view's; prints the worst row. */
static inline double ep_family_min_cosine(const ep_family *f, const ep_family_view *v, const float *got) {
    double worst = 2.0;
    size_t at = 0;
    for (size_t i = 0; i < f->n; i++) {
        const double c = ep_fixture_cosine(got + i * (size_t)v->dim, v->ref + i * (size_t)v->dim, v->dim);
        if (c < worst) worst = c, at = i;
    }
    if (worst < EP_FAMILY_MIN_COSINE) fprintf(stderr, "  worst: %s (cosine %.7f)\n", f->rows[at].where, worst);
    return worst;
}

#endif /* EP_FAMILY_FIXTURE_UTIL_H */
