/*
 * test_embed_conformance.c - the CPU backend against sentence-transformers.
 *
 * Reference: tests/fixtures/vectors-tweeteval.* written by scripts/make-reference.py
 * (SentenceTransformer('all-MiniLM-L6-v2').encode(texts, normalize_embeddings=True),
 * fp32) for >= 2,000 real tweets named by file and line of ../shared/data.
 * 1. the CPU backend's float32 rows: minimum cosine >= 0.99999;
 * 2. the whole pipeline (NDJSON in, shards out) read back from the float16
 *    shards: minimum cosine >= 0.9995, rows in input order, ids as given.
 */
#include "backend_cpu.h"
#include "backend.h"
#include "float16.h"
#include "cpu_ops.h"
#include "fixture_util.h"
#include "manifest.h"
#include "model.h"
#include "pipeline.h"
#include "shard.h"
#include "test_util.h"
#include "tokenizer.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <unistd.h>

int main(void) {
    const char *model_dir = ep_test_model_dir();
    const char *data = ep_test_shared_data();
    const char *src = ep_test_env("EP_SOURCE_DIR", ".");
    char path[4096];

    // --- the fixture: which tweets, and their reference vectors
    ep_fixture_vectors fx;
    if (ep_fixture_vectors_load(src, data, &fx) != 0) return 1;
    const ep_fixture_tweet *rows = fx.rows;
    const float *ref = fx.ref;
    const size_t n = fx.n, dim_ref = fx.dim;
    CHECKF(n >= 2000, "the fixture has %zu tweets (need >= 2000)", n);

    // --- 1. CPU backend, float32, against the reference
    ep_error err = {0};
    ep_model *model;
    ep_tokenizer *tok;
    if (ep_fixture_model_open(model_dir, dim_ref, &model, &tok) != 0) return 1;
    const int dim = model->config.hidden, max_len = model->config.max_seq_length;
    ep_backend *cpu = NULL;
    CHECK_OK(ep_backend_cpu_create(model, 0, &cpu, &err), &err);
    if (!cpu) return 1;

    const int per_batch = 64;
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)per_batch * max_len);
    int32_t seq_start[65];
    float *out = malloc(sizeof(float) * (size_t)per_batch * dim);
    double min_cos = 1.0, sum_cos = 0.0;
    size_t worst = 0;
    for (size_t b = 0; b < n; b += per_batch) {
        int k = (int)(n - b < (size_t)per_batch ? n - b : (size_t)per_batch);
        seq_start[0] = 0;
        for (int i = 0; i < k; i++) {
            int t = ep_tokenizer_encode(tok, rows[b + i].text, rows[b + i].len, ids + seq_start[i], max_len, NULL);
            CHECKF(t == rows[b + i].n_tokens, "%s: %d tokens, sentence-transformers had %d", rows[b + i].where, t,
                   rows[b + i].n_tokens);
            seq_start[i + 1] = seq_start[i] + t;
        }
        ep_batch batch = {.n_seqs = k, .n_tokens = seq_start[k], .token_ids = ids, .seq_start = seq_start};
        CHECK_OK(ep_backend_encode(cpu, &batch, out, NULL, &err), &err);
        for (int i = 0; i < k; i++) {
            double c = ep_fixture_cosine(out + (size_t)i * dim, ref + (b + i) * (size_t)dim, dim);
            sum_cos += c;
            if (c < min_cos) {
                min_cos = c;
                worst = b + i;
            }
        }
    }
    printf("cpu float32 vs sentence-transformers fp32: %zu tweets, min cosine %.9f (1 - min = %.2e, %s), mean %.9f\n", n, min_cos, 1.0 - min_cos,
           rows[worst].where, sum_cos / n);
    CHECKF(min_cos >= 0.99999, "min cosine %.7f < 0.99999 at %s", min_cos, rows[worst].where);

    // --- 2. the whole pipeline, NDJSON in, float16 shards out, read back
    char tmp[] = "/tmp/ep-conformance-XXXXXX";
    CHECK(mkdtemp(tmp) != NULL);
    snprintf(path, sizeof path, "%s/input.ndjson", tmp);
    FILE *f = fopen(path, "w");
    for (size_t i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", rows[i].where);
        cJSON_AddStringToObject(o, "text", rows[i].text);
        char *s = cJSON_PrintUnformatted(o);
        fprintf(f, "%s\n", s);
        free(s);
        cJSON_Delete(o);
    }
    fclose(f);
    char out_dir[4200];
    snprintf(out_dir, sizeof out_dir, "%s/out", tmp);
    const char *inputs[] = {path};
    ep_run_options o = ep_run_options_default();
    o.inputs = inputs;
    o.n_inputs = 1;
    o.model_dir = model_dir;
    o.device = "cpu";
    o.precision = "fp32"; /* not auto: bf16 on an AMX machine, and this test holds the rows to fp32 */
    o.out_dir = out_dir;
    o.rows_per_shard = 700; /* several shards, the last one shorter */
    ep_run_summary sum;
    CHECK_OK(ep_run(&o, &sum, &err), &err);
    CHECKF(sum.records_embedded == n && sum.records_rejected == 0, "embedded %llu, rejected %llu",
           (unsigned long long)sum.records_embedded, (unsigned long long)sum.records_rejected);
    CHECK_OK(ep_output_verify(out_dir, &err), &err);
    ep_manifest *m = NULL;
    CHECK_OK(ep_manifest_read(out_dir, &m, &err), &err);
    double min16 = 1.0;
    size_t row_index = 0, worst16 = 0;
    float *v = malloc(sizeof(float) * (size_t)dim);
    for (size_t s = 0; m && s < m->n_shards; s++) {
        snprintf(path, sizeof path, "%s/%s", out_dir, m->shards[s].name);
        uint16_t *half = NULL;
        size_t rows_in = 0;
        int shard_dim = 0;
        CHECK_OK(ep_shard_read(path, &half, &rows_in, &shard_dim, &err), &err);
        CHECK(shard_dim == dim);
        for (size_t r = 0; half && r < rows_in && row_index < n; r++, row_index++) {
            for (int i = 0; i < dim; i++) v[i] = ep_f16_to_f32(half[r * dim + i]);
            double c = ep_fixture_cosine(v, ref + row_index * (size_t)dim, dim);
            if (c < min16) {
                min16 = c;
                worst16 = row_index;
            }
        }
        free(half);
    }
    CHECKF(row_index == n, "shards hold %zu rows, expected %zu", row_index, n);
    printf("pipeline float16 shards vs sentence-transformers fp32: min cosine %.9f (1 - min = %.2e, %s)\n", min16, 1.0 - min16,
           rows[worst16].where);
    CHECKF(min16 >= 0.9995, "min cosine %.7f < 0.9995 at %s", min16, rows[worst16].where);

    ep_manifest_free(m);
    free(v);
    free(ids);
    free(out);
    ep_backend_free(cpu);
    ep_tokenizer_free(tok);
    ep_model_free(model);
    ep_fixture_vectors_free(&fx);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
    return ep_test_finish("test_embed_conformance");
}
