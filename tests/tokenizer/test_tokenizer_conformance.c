/*
 * test_tokenizer_conformance - more than 20,000 real tweets (every 5th line of
 * every TweetEval text file in ../shared/data/tweeteval) must get exactly the ids that
 * sentence-transformers' tokenizer gave them (tests/fixtures/tokens-tweeteval.
 * ndjson.zst, made by scripts/make-reference.py; it stores file, line and an
 * XXH3 hash of each line, never the text).
 *
 * The same tweets are then encoded by two threads at once on one shared
 * tokenizer, which must change nothing (encode is documented reentrant).
 */
#include <cjson/cJSON.h>
#include <pthread.h>
#include <xxhash.h>

#include "tok_test.h"

#define MAX_IDS 256
#define MAX_FILES 128

typedef struct data_file {
    char name[256];
    char *data; // the whole file; lines are found by offset
    size_t len;
    size_t *line_off; // line_off[i] = start of line i+1; line_off[n] = end + 1
    size_t n_lines;
} data_file;

typedef struct row {
    const char *text;
    size_t len;
    int32_t *ref;
    int n_ref;
    char where[300];
} row;

static data_file files[MAX_FILES];
static int n_files;

static data_file *load_file(const char *shared, const char *name) {
    for (int i = 0; i < n_files; i++)
        if (strcmp(files[i].name, name) == 0) return &files[i];
    if (n_files == MAX_FILES) return NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", shared, name);
    data_file *f = &files[n_files];
    f->data = ep_test_read_file(path, &f->len);
    if (!f->data) {
        fprintf(stderr, "cannot read %s, named by the fixture\n", path);
        return NULL;
    }
    snprintf(f->name, sizeof f->name, "%s", name);
    size_t n = 0;
    for (size_t i = 0; i < f->len; i++) n += f->data[i] == '\n';
    f->line_off = malloc(sizeof(size_t) * (n + 2));
    f->line_off[0] = 0;
    for (size_t i = 0; i < f->len; i++)
        if (f->data[i] == '\n') f->line_off[++f->n_lines] = i + 1;
    if (f->len && f->data[f->len - 1] != '\n') f->line_off[++f->n_lines] = f->len + 1; // last line, no '\n'
    n_files++;
    return f;
}

typedef struct thread_arg {
    const ep_tokenizer *tok;
    const row *rows;
    int n_rows;
    int mismatches;
} thread_arg;

static void *encode_all(void *varg) {
    thread_arg *a = varg;
    int32_t ids[MAX_IDS];
    for (int i = 0; i < a->n_rows; i++) {
        const row *r = &a->rows[i];
        int n = ep_tokenizer_encode(a->tok, r->text, r->len, ids, MAX_IDS, NULL);
        if (n != r->n_ref || memcmp(ids, r->ref, sizeof *ids * (size_t)n) != 0) a->mismatches++;
    }
    return NULL;
}

int main(void) {
    ep_tokenizer *tok = tok_test_load();
    const char *shared = ep_test_shared_data();
    size_t len = 0;
    char *fixture = tok_test_fixture("tokens-tweeteval.ndjson.zst", &len);

    size_t cap = 1;
    for (size_t i = 0; i < len; i++) cap += fixture[i] == '\n';
    row *rows = calloc(cap, sizeof *rows);
    int n_rows = 0, mismatches = 0, n_truncated = 0;
    int32_t ids[MAX_IDS];
    for (char *line = strtok(fixture, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *o = cJSON_Parse(line);
        const char *file = cJSON_GetStringValue(cJSON_GetObjectItem(o, "file"));
        const char *xxh = cJSON_GetStringValue(cJSON_GetObjectItem(o, "xxh3"));
        cJSON *jline = cJSON_GetObjectItem(o, "line"), *jids = cJSON_GetObjectItem(o, "ids");
        if (!file || !xxh || !cJSON_IsNumber(jline) || !cJSON_IsArray(jids) || cJSON_GetArraySize(jids) > MAX_IDS) {
            fprintf(stderr, "malformed fixture line: %.200s\n", line);
            return 1;
        }
        data_file *f = load_file(shared, file);
        if (!f) return 1;
        size_t ln = (size_t)jline->valuedouble;
        if (ln < 1 || ln > f->n_lines) {
            fprintf(stderr, "%s has no line %zu: the shared data changed; regenerate the fixture\n", file, ln);
            return 1;
        }
        row *r = &rows[n_rows++];
        r->text = f->data + f->line_off[ln - 1];
        r->len = f->line_off[ln] - 1 - f->line_off[ln - 1];
        snprintf(r->where, sizeof r->where, "%s:%zu", file, ln);
        char hex[17];
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)XXH3_64bits(r->text, r->len));
        if (strcmp(hex, xxh) != 0) {
            fprintf(stderr, "%s: the line's hash is %s, the fixture's %s: the shared data changed; regenerate "
                            "the fixture with scripts/make-reference.py\n", r->where, hex, xxh);
            return 1;
        }
        r->n_ref = cJSON_GetArraySize(jids);
        r->ref = malloc(sizeof *r->ref * (size_t)(r->n_ref ? r->n_ref : 1));
        int k = 0;
        for (cJSON *v = jids->child; v; v = v->next) r->ref[k++] = (int32_t)v->valuedouble;
        cJSON_Delete(o);

        bool trunc = false;
        int n = ep_tokenizer_encode(tok, r->text, r->len, ids, MAX_IDS, &trunc);
        n_truncated += trunc;
        if (n != r->n_ref || memcmp(ids, r->ref, sizeof *ids * (size_t)n) != 0) {
            if (++mismatches <= 20) {
                fprintf(stderr, "%s: ids differ from sentence-transformers\n", r->where);
                tok_test_print_diff(tok, ids, n, r->ref, r->n_ref);
            }
        }
        CHECKF(!trunc || n == MAX_IDS, "%s: truncated with only %d ids", r->where, n);
    }
    CHECKF(n_rows >= 20000, "the fixture has %d tweets; it should have at least 20,000", n_rows);
    CHECKF(n_files >= 20, "the fixture covers %d files only", n_files);
    CHECKF(mismatches == 0, "%d of %d tweets differ from sentence-transformers", mismatches, n_rows);

    // Two threads on one tokenizer.
    thread_arg args[2] = {{tok, rows, n_rows, 0}, {tok, rows, n_rows, 0}};
    pthread_t th[2];
    for (int t = 0; t < 2; t++) CHECK(pthread_create(&th[t], NULL, encode_all, &args[t]) == 0);
    for (int t = 0; t < 2; t++) pthread_join(th[t], NULL);
    CHECKF(args[0].mismatches == mismatches && args[1].mismatches == mismatches,
           "concurrent encoding changed results (%d and %d mismatches, %d alone)", args[0].mismatches,
           args[1].mismatches, mismatches);

    printf("%d tweets from %d files checked, %d truncated at %d ids\n", n_rows, n_files, n_truncated, MAX_IDS);
    for (int i = 0; i < n_rows; i++) free(rows[i].ref);
    free(rows);
    for (int i = 0; i < n_files; i++) {
        free(files[i].data);
        free(files[i].line_off);
    }
    free(fixture);
    ep_tokenizer_free(tok);
    return ep_test_finish("test_tokenizer_conformance");
}
