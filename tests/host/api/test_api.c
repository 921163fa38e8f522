/*
 * test_api.c - the public API of include/embedpipe.h against the command line.
 *
 * For a tiny random model (always) and the real all-MiniLM-L6-v2 (when present):
 * - ep_embedder_encode's rows, cast to float16, equal bit for bit the rows
 *   `embedpipe embed` writes for the same texts in one run (read back with
 *   ep_folder_read_f16), in one call of all texts: the API batches them as the
 *   run does, so neighbour-dependent kernels meet the same neighbours. Texts
 *   encoded one per call are compared within 1e-5 (float32 summation order may
 *   differ with the batch), and the count of bitwise-equal rows is printed;
 * - texts given with lengths (not NUL-terminated) give the same bits;
 * - ep_folder_id gives each record's id; ep_folder_read is the exact float32 of
 *   the float16 rows; a read range across shards equals the shards read directly,
 *   and ep_folder_meta_ndjson gives one JSON line per row of such a range;
 * - max_seq_length truncates; errors are values that name the problem (unknown
 *   option, bad value, missing model, bad device, NULL text, rows out of range,
 *   a shard changed after the run).
 */
#include "float16.h"
#include "host/model/model_test_util.h"
#include "output_reader.h"
#include "test_util.h"

#include <math.h>

#define N_TEXTS 40

static char tmp[256];
static char *texts[N_TEXTS];

/* Texts of many lengths (so that the batches hold several lengths), a few non-ASCII, none needing JSON escapes. */
static void make_texts(void) {
    static const char *words[] = {"bike", "rain", "coffee", "bread", "the", "garden", "train", "vector", "café",
                                  "naïve", "東京", "москва", "search", "night", "shard", "kernel", "tweet"};
    const size_t n_words = sizeof words / sizeof words[0];
    unsigned seed = 12345;
    for (int i = 0; i < N_TEXTS; i++) {
        char buf[4096] = "";
        int n = 1 + (i * 7) % 23 + (i == 5 ? 300 : 0); /* text 5 is longer than any max_seq_length here */
        for (int w = 0; w < n; w++) {
            seed = seed * 1103515245u + 12345u;
            strcat(buf, words[(seed >> 16) % n_words]);
            strcat(buf, w + 1 < n ? " " : ".");
        }
        texts[i] = strdup(buf);
    }
}

/* Runs `embedpipe embed` on the texts (as NDJSON with ids t0, t1, ...) into dir. @return its exit status. */
static int run_cli(const char *model, const char *dir, const char *extra) {
    char in[512], cmd[2048];
    snprintf(in, sizeof in, "%s/in.ndjson", tmp);
    FILE *f = fopen(in, "w");
    if (!f) return -1;
    for (int i = 0; i < N_TEXTS; i++) fprintf(f, "{\"id\": \"t%d\", \"text\": \"%s\"}\n", i, texts[i]);
    fclose(f);
    snprintf(cmd, sizeof cmd, "'%s' embed '%s' -o '%s' -m '%s' --device cpu -t 2 -q --overwrite %s",
             ep_test_env("EP_CLI", "./embedpipe"), in, dir, model, extra);
    return system(cmd);
}

static ep_embedder *create(const char *model, const char *max_seq_length) {
    ep_error err = {0};
    ep_embedder_options *o = ep_embedder_options_create();
    ep_embedder *e = NULL;
    CHECK(o != NULL);
    CHECK_OK(ep_embedder_options_set(o, "device", "cpu", &err), &err);
    CHECK_OK(ep_embedder_options_set(o, "threads", "2", &err), &err);
    if (max_seq_length) CHECK_OK(ep_embedder_options_set(o, "max_seq_length", max_seq_length, &err), &err);
    CHECK_OK(ep_embedder_create(model, o, &e, &err), &err);
    ep_embedder_options_free(o);
    return e;
}

/* The embedder's rows against the command line's folder, and the folder's reads against each other. */
static void test_against_cli(const char *model, ep_embedder *e) {
    ep_error err = {0};
    char dir[512];
    snprintf(dir, sizeof dir, "%s/out", tmp);
    CHECKF(run_cli(model, dir, "") == 0, "embedpipe embed failed on %s", model);
    const int dim = ep_embedder_dim(e);
    float *rows = malloc(sizeof(float) * N_TEXTS * dim), *one = malloc(sizeof(float) * dim);
    float *back = malloc(sizeof(float) * N_TEXTS * dim);
    uint16_t *stored = malloc(sizeof(uint16_t) * N_TEXTS * dim);
    CHECK_OK(ep_embedder_encode(e, (const char *const *)texts, NULL, N_TEXTS, rows, &err), &err);

    ep_folder *f = NULL;
    CHECK_OK(ep_folder_open(dir, &f, &err), &err);
    if (!f) return;
    CHECKF(ep_folder_rows(f) == N_TEXTS, "%llu rows", (unsigned long long)ep_folder_rows(f));
    CHECK(ep_folder_dim(f) == dim);
    CHECK(ep_folder_complete(f) == 1);
    CHECK(strstr(model, ep_folder_model(f)) != NULL);
    CHECK_OK(ep_folder_read_f16(f, 0, N_TEXTS, stored, &err), &err);
    CHECK_OK(ep_folder_read(f, 0, N_TEXTS, back, &err), &err);
    int differ = 0, same_alone = 0;
    double worst_alone = 0;
    for (int i = 0; i < N_TEXTS; i++) {
        for (int k = 0; k < dim; k++) {
            differ += ep_f32_to_f16(rows[i * dim + k]) != stored[i * dim + k];
            CHECK(back[i * dim + k] == ep_f16_to_f32(stored[i * dim + k]));
        }
        const char *id = NULL;
        char want[16];
        snprintf(want, sizeof want, "t%d", i);
        CHECK_OK(ep_folder_id(f, (uint64_t)i, &id, &err), &err);
        CHECKF(id && strcmp(id, want) == 0, "row %d: id %s, expected %s", i, id ? id : "(null)", want);
        // One text per call: another batch, so float32 may differ in the last bits, never more.
        const char *alone[1] = {texts[i]};
        CHECK_OK(ep_embedder_encode(e, alone, NULL, 1, one, &err), &err);
        same_alone += memcmp(one, rows + i * dim, sizeof(float) * dim) == 0;
        for (int k = 0; k < dim; k++) worst_alone = fmax(worst_alone, fabs(one[k] - rows[i * dim + k]));
    }
    CHECKF(differ == 0, "%s: %d float16 values differ from the run's", model, differ);
    CHECKF(worst_alone < 1e-5, "%s: a text embedded alone differs by %g", model, worst_alone);
    printf("%s: %d of %d rows bitwise equal when embedded one per call (max difference %.3g)\n", model, same_alone,
           N_TEXTS, worst_alone);

    // Lengths instead of NUL: the texts back to back in one buffer.
    size_t total = 0, lengths[N_TEXTS];
    for (int i = 0; i < N_TEXTS; i++) total += lengths[i] = strlen(texts[i]);
    char *joined = malloc(total);
    const char *starts[N_TEXTS];
    for (int i = 0, at = 0; i < N_TEXTS; at += (int)lengths[i], i++) {
        memcpy(joined + at, texts[i], lengths[i]);
        starts[i] = joined + at;
    }
    CHECK_OK(ep_embedder_encode(e, starts, lengths, N_TEXTS, back, &err), &err);
    CHECK(memcmp(back, rows, sizeof(float) * N_TEXTS * dim) == 0);
    free(joined);

    // Errors: rows past the end, a NULL text with a length.
    CHECK(ep_folder_read(f, N_TEXTS - 1, 2, back, &err) == EP_ERR_USAGE && strstr(err.message, "the folder has 40"));
    const char *id = "x";
    CHECK(ep_folder_id(f, N_TEXTS, &id, &err) == EP_ERR_USAGE && id == NULL);
    const char *with_null[2] = {"fine", NULL};
    size_t null_len[2] = {4, 3};
    CHECK(ep_embedder_encode(e, with_null, null_len, 2, back, &err) == EP_ERR_USAGE && strstr(err.message, "text 1"));
    ep_folder_close(f);
    free(rows);
    free(one);
    free(back);
    free(stored);
}

/* A folder of several shards: a range across them equals the shards as the checked reader reads them;
 * a shard changed after the run is refused. */
static void test_shards(const char *model) {
    ep_error err = {0};
    char dir[512];
    snprintf(dir, sizeof dir, "%s/sharded", tmp);
    CHECK(run_cli(model, dir, "--shard-rows 16") == 0);
    ep_folder *f = NULL;
    CHECK_OK(ep_folder_open(dir, &f, &err), &err);
    ep_output_reader *r = NULL;
    CHECK_OK(ep_output_open(dir, &r, &err), &err);
    if (!f || !r) return;
    const int dim = ep_folder_dim(f);
    const ep_manifest *m = ep_output_manifest(r);
    CHECK(m->n_shards == 3);
    uint16_t *all = malloc(sizeof(uint16_t) * N_TEXTS * dim);
    CHECK_OK(ep_folder_read_f16(f, 3, N_TEXTS - 3, all + 3 * dim, &err), &err);
    for (size_t i = 0; i < m->n_shards; i++) {
        ep_output_shard s;
        CHECK_OK(ep_output_read_shard(r, i, EP_OUTPUT_VECTORS, &s, &err), &err);
        uint64_t first = m->shards[i].first_row, skip = first < 3 ? 3 - first : 0;
        if (s.rows)
            CHECKF(memcmp(all + (first + skip) * dim, s.rows + skip * dim, sizeof(uint16_t) * (s.n_rows - skip) * dim)
                       == 0, "shard %zu differs", i);
        ep_output_shard_free(&s);
    }
    // The metadata of a range across shards, one JSON line per row with the row's id first.
    char *meta = NULL;
    size_t meta_len = 0;
    CHECK_OK(ep_folder_meta_ndjson(f, 10, 20, &meta, &meta_len, &err), &err);
    if (meta) {
        CHECK(meta_len == strlen(meta));
        const char *line = meta;
        for (int i = 10; i < 30; i++) {
            char want[64];
            snprintf(want, sizeof want, "{\"id\":\"t%d\",\"file\":0,", i);
            CHECKF(strncmp(line, want, strlen(want)) == 0, "meta line of row %d: %.60s", i, line);
            CHECK(strstr(line, "\"tokens\":") && strstr(line, "\"hash\":\""));
            const char *nl = strchr(line, '\n');
            CHECK(nl != NULL);
            if (!nl) break;
            line = nl + 1;
        }
        CHECK(*line == '\0');
    }
    ep_folder_text_free(meta);
    CHECK_OK(ep_folder_meta_ndjson(f, N_TEXTS, 0, &meta, NULL, &err), &err);
    CHECK(meta && *meta == '\0');
    ep_folder_text_free(meta);
    CHECK(ep_folder_meta_ndjson(f, 30, 11, &meta, NULL, &err) == EP_ERR_USAGE && meta == NULL &&
          strstr(err.message, "the folder has 40"));
    // Change one byte of the second shard: its rows are refused, the first shard's still read.
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, m->shards[1].name);
    ep_output_close(r); /* m belongs to r: the name is taken first */
    ep_folder_close(f);
    FILE *fp = fopen(path, "r+b");
    CHECK(fp != NULL);
    if (fp) {
        fseek(fp, 40, SEEK_SET);
        int c = fgetc(fp);
        fseek(fp, 40, SEEK_SET);
        fputc(c ^ 0x01, fp);
        fclose(fp);
    }
    CHECK_OK(ep_folder_open(dir, &f, &err), &err);
    CHECK_OK(ep_folder_read_f16(f, 0, 16, all, &err), &err);
    ep_status st = ep_folder_read_f16(f, 10, 10, all, &err);
    CHECKF(st == EP_ERR_MISMATCH && strstr(err.message, "shard-00001"), "status %d: %s", (int)st, err.message);
    ep_folder_close(f);
    free(all);
}

/* max_seq_length cuts: a text and the same text with more words past the limit give the same row. */
static void test_truncation(const char *model) {
    ep_error err = {0};
    ep_embedder *e = create(model, "8");
    if (!e) return;
    CHECK(ep_embedder_max_seq_length(e) == 8);
    const int dim = ep_embedder_dim(e);
    const char *t[3] = {"one two three four five six seven eight", "one two three four five six seven nine ten",
                        "one two three"};
    float *out = malloc(sizeof(float) * 3 * dim);
    // One call each: in one batch, equal token sequences may still differ in the last bits by their place
    // in it (the fast CPU kernels' blocking), which is not what this checks.
    for (int i = 0; i < 3; i++) CHECK_OK(ep_embedder_encode(e, t + i, NULL, 1, out + i * dim, &err), &err);
    CHECK(memcmp(out, out + dim, sizeof(float) * dim) == 0);
    CHECK(memcmp(out, out + 2 * dim, sizeof(float) * dim) != 0);
    free(out);
    ep_embedder_free(e);
}

static void test_errors(const char *model) {
    ep_error err = {0};
    ep_embedder_options *o = ep_embedder_options_create();
    ep_embedder *e = (ep_embedder *)&err;
    CHECK(ep_embedder_options_set(o, "colour", "blue", &err) == EP_ERR_USAGE && strstr(err.message, "colour"));
    CHECK(ep_embedder_options_set(o, "threads", "many", &err) == EP_ERR_USAGE && strstr(err.message, "many"));
    CHECK(ep_embedder_options_set(o, "batch_tokens", "-5", &err) == EP_ERR_USAGE);
    CHECK(ep_embedder_create("/nonexistent/model", o, &e, &err) != EP_OK && e == NULL &&
          strstr(err.message, "/nonexistent/model"));
    CHECK_OK(ep_embedder_options_set(o, "device", "tpu", &err), &err);
    CHECK(ep_embedder_create(model, o, &e, &err) == EP_ERR_USAGE && e == NULL && strstr(err.message, "tpu"));
    CHECK_OK(ep_embedder_options_set(o, "device", "cpu", &err), &err);
    CHECK_OK(ep_embedder_options_set(o, "max_seq_length", "1", &err), &err);
    CHECK(ep_embedder_create(model, o, &e, &err) == EP_ERR_USAGE && strstr(err.message, "max_seq_length"));
    ep_embedder_options_free(o);
    ep_folder *f = (ep_folder *)&err;
    CHECK(ep_folder_open("/nonexistent/folder", &f, &err) == EP_ERR_IO && f == NULL &&
          strstr(err.message, "/nonexistent/folder"));
    // Every free accepts NULL; an empty batch does nothing.
    ep_embedder_options_free(NULL);
    ep_embedder_free(NULL);
    ep_folder_close(NULL);
    CHECK(ep_embedder_encode(NULL, NULL, NULL, 0, NULL, &err) == EP_OK);
    CHECK(strcmp(ep_version(), EP_VERSION_STRING) == 0);
}

/* The options prompt / prompt_text / dim give the command line's --prompt / --prompt-text / --dim rows; an
 * unknown prompt is refused naming the model's. */
static void test_prompt_dim(const char *model) {
    static const char *const opts[][3] = {{"prompt", "query", "--prompt query --dim 16"},
                                         {"prompt_text", "", "--prompt-text '' --dim 16"}};
    for (int v = 0; v < 2; v++) {
        ep_error err = {0};
        ep_embedder_options *o = ep_embedder_options_create();
        ep_embedder *e = NULL;
        CHECK_OK(ep_embedder_options_set(o, "device", "cpu", &err), &err);
        CHECK_OK(ep_embedder_options_set(o, opts[v][0], opts[v][1], &err), &err);
        CHECK_OK(ep_embedder_options_set(o, "dim", "16", &err), &err);
        CHECK_OK(ep_embedder_create(model, o, &e, &err), &err);
        ep_embedder_options_free(o);
        if (!e) return;
        CHECK(ep_embedder_dim(e) == 16);
        char dir[512];
        snprintf(dir, sizeof dir, "%s/prompt-out", tmp);
        CHECKF(run_cli(model, dir, opts[v][2]) == 0, "embedpipe embed %s failed", opts[v][2]);
        float *rows = malloc(sizeof(float) * N_TEXTS * 16);
        uint16_t *stored = malloc(sizeof(uint16_t) * N_TEXTS * 16);
        ep_folder *f = NULL;
        CHECK_OK(ep_embedder_encode(e, (const char *const *)texts, NULL, N_TEXTS, rows, &err), &err);
        CHECK_OK(ep_folder_open(dir, &f, &err), &err);
        if (f) {
            CHECK(ep_folder_dim(f) == 16);
            CHECK_OK(ep_folder_read_f16(f, 0, N_TEXTS, stored, &err), &err);
            int differ = 0;
            for (int i = 0; i < N_TEXTS * 16; i++) differ += ep_f32_to_f16(rows[i]) != stored[i];
            CHECKF(differ == 0, "%s: %d values differ from the command line's", opts[v][2], differ);
        }
        ep_folder_close(f);
        free(rows);
        free(stored);
        ep_embedder_free(e);
    }
    ep_error err = {0};
    ep_embedder_options *o = ep_embedder_options_create();
    ep_embedder *e = NULL;
    CHECK_OK(ep_embedder_options_set(o, "prompt", "summary", &err), &err);
    CHECK(ep_embedder_create(model, o, &e, &err) == EP_ERR_USAGE && e == NULL && strstr(err.message, "\"query\""));
    ep_embedder_options_free(o);
}

static void test_model(const char *model) {
    ep_embedder *e = create(model, NULL);
    if (!e) return;
    CHECK(ep_embedder_normalized(e) == 1);
    CHECK(strlen(ep_embedder_device(e)) > 0);
    // The empty text is a text like any other.
    ep_error err = {0};
    float *row = malloc(sizeof(float) * ep_embedder_dim(e));
    const char *empty[1] = {""};
    CHECK_OK(ep_embedder_encode(e, empty, NULL, 1, row, &err), &err);
    double norm = 0;
    for (int k = 0; k < ep_embedder_dim(e); k++) norm += (double)row[k] * row[k];
    CHECKF(fabs(norm - 1) < 1e-4, "the empty text's row has squared norm %g", norm);
    free(row);
    test_against_cli(model, e);
    ep_embedder_free(e);
    test_truncation(model);
}

int main(void) {
    snprintf(tmp, sizeof tmp, "/tmp/ep_test_api_XXXXXX");
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    make_texts();
    char tiny[512], args[1024];
    snprintf(tiny, sizeof tiny, "%s/all-MiniLM-tiny", tmp);
    const char *real = ep_test_env("EP_MODEL_DIR", "models/all-MiniLM-L6-v2");
    char vocab[600];
    snprintf(vocab, sizeof vocab, "%s/vocab.txt", real);
    snprintf(args, sizeof args, "--seed 5 --max-seq-length 48 %s%s", ep_test_exists(vocab) ? "--vocab " : "",
             ep_test_exists(vocab) ? vocab : "");
    if (mt_make_tiny(tiny, args) != 0) return 1;
    test_errors(tiny);
    test_model(tiny);
    char prompted[512];
    snprintf(prompted, sizeof prompted, "%s/prompted", tmp);
    if (mt_make_tiny(prompted, "--seed 6 --pooling cls --prompt 'query=query: ' --prompt 'passage=passage: ' "
                               "--default-prompt passage") != 0)
        return 1;
    test_prompt_dim(prompted);
    test_shards(tiny);
    if (ep_test_exists(real)) test_model(real);
    else printf("note: %s not found; only the tiny model was tested (scripts/fetch-model.sh)\n", real);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
    for (int i = 0; i < N_TEXTS; i++) free(texts[i]);
    return ep_test_finish("test_api");
}
