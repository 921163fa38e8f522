/*
 * test_reader_real.c - the readers on the shared real data (../shared/data),
 * each checked against an independent reading of the same file: cJSON over
 * the whole file (tweets.js), over each line (twarc), or plain fgets (the
 * TweetEval text files). Skips (77) when the data is absent.
 */
#include <cjson/cJSON.h>

#include "reader_test_util.h"

static const cJSON *get(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }

/* tweets.js: 2,045 records, each equal to the element cJSON finds in the whole file. */
static void check_tweets_js(const got_all *g, const cJSON *arr, const char *what) {
    CHECKF(g->open_status == EP_OK && g->status == EP_OK, "%s: %s", what, g->err.message);
    CHECKF(g->format == EP_FORMAT_TWEETS_JS, "%s", what);
    CHECKF(g->records == 2045 && g->rejected == 0, "%s: %zu records, %zu rejected", what, g->records, g->rejected);
    CHECKF((size_t)cJSON_GetArraySize(arr) == g->n, "%s: %d elements, %zu records", what, cJSON_GetArraySize(arr),
           g->n);
    size_t i = 0;
    const cJSON *el;
    int bad = 0;
    cJSON_ArrayForEach(el, arr) {
        if (i >= g->n || bad > 5) break;
        const cJSON *t = get(el, "tweet");
        const char *text = cJSON_GetStringValue(get(t, "full_text"));
        const char *id = cJSON_GetStringValue(get(t, "id_str"));
        if (!text || !id || strcmp(g->v[i].text, text) != 0 || strcmp(g->v[i].id, id) != 0 ||
            (i > 0 && g->v[i].line <= g->v[i - 1].line)) {
            CHECKF(0, "%s: element %zu (line %llu, id %s) differs", what, i, (unsigned long long)g->v[i].line,
                   g->v[i].id);
            bad++;
        }
        CHECKF(strlen(g->v[i].id) >= 15, "%s: element %zu has id '%s'", what, i, g->v[i].id);
        i++;
    }
    CHECK(g->n > 0 && g->v[0].line == 2);
}

static void test_tweets_js(const char *data) {
    char path[1024];
    snprintf(path, sizeof path, "%s/twitter-export/tweets.js", data);
    if (!ep_test_exists(path)) {
        printf("note: %s absent, tweets.js checks skipped\n", path);
        return;
    }
    size_t len = 0;
    char *all = ep_test_read_file(path, &len);
    const char *open = strchr(all, '[');
    cJSON *doc = open ? cJSON_Parse(open) : NULL;
    CHECKF(cJSON_IsArray(doc), "cJSON cannot read %s whole", path);

    got_all g = read_path(path, NULL);
    check_tweets_js(&g, doc, "tweets.js");
    got_free(&g);

    size_t zn, gn;
    void *z = zstd_bytes(all, len, &zn), *gz = gzip_bytes(all, len, &gn);
    got_all zs = read_path(tmp_write("tweets.js.zst", z, zn), NULL);
    check_tweets_js(&zs, doc, "tweets.js.zst");
    got_free(&zs);
    got_all gs = read_path(tmp_write("tweets.js.gz", gz, gn), NULL);
    check_tweets_js(&gs, doc, "tweets.js.gz");
    got_free(&gs);
    // A small record limit rejects the longest elements and keeps every other one.
    ep_reader_options o = {.max_record_bytes = 3000};
    got_all sm = read_path(path, &o);
    CHECK(sm.status == EP_OK && sm.n == 2045 && sm.rejected > 0 && sm.records > 0);
    for (size_t i = 0; i < sm.n; i++)
        if (sm.v[i].kind == EP_READ_REJECTED) CHECK(strstr(sm.v[i].reason, "max_record_bytes 3000") != NULL);
    got_free(&sm);
    free(z);
    free(gz);
    cJSON_Delete(doc);
    free(all);
}

/* Reads data/SUB/NAME (its path into path) into *g. @return 0, or -1 after a note when the file is absent. */
static int read_shared(const char *data, const char *sub, const char *name, char *path, size_t cap, got_all *g) {
    snprintf(path, cap, "%s/%s/%s", data, sub, name);
    if (!ep_test_exists(path)) {
        printf("note: %s absent, skipped\n", path);
        return -1;
    }
    *g = read_path(path, NULL);
    return 0;
}

/* An NDJSON file, line by line against cJSON: one record per line, or one per element of "data". */
static void test_twarc(const char *data, const char *name, size_t want_lines, size_t want_rejected,
                       const char *reason_has) {
    char path[1024];
    got_all g;
    if (read_shared(data, "twarc", name, path, sizeof path, &g) != 0) return;
    CHECKF(g.open_status == EP_OK && g.status == EP_OK, "%s: %s", name, g.err.message);
    CHECKF(g.format == EP_FORMAT_NDJSON, "%s: %s", name, ep_input_format_name(g.format));
    CHECKF(g.rejected == want_rejected, "%s: %zu rejected", name, g.rejected);

    FILE *f = fopen(path, "rb");
    char *line = NULL;
    size_t cap = 0, k = 0, lines = 0, expected = 0;
    ssize_t n;
    while (f && (n = getline(&line, &cap, f)) > 0) {
        lines++;
        cJSON *doc = cJSON_ParseWithLength(line, (size_t)n);
        if (!doc) {
            // The reader must have rejected this line, with its number.
            CHECKF(k < g.n && g.v[k].kind == EP_READ_REJECTED && g.v[k].line == lines, "%s: line %zu", name, lines);
            k++;
            cJSON_Delete(doc);
            continue;
        }
        const cJSON *d = get(doc, "data");
        const cJSON *items = cJSON_IsArray(d) ? d : NULL;
        const cJSON *one = items ? items->child : (get(doc, "text") ? doc : d);
        for (const cJSON *it = one; it; it = items ? it->next : NULL) {
            const char *text = cJSON_GetStringValue(get(it, "text"));
            const char *id = cJSON_GetStringValue(get(it, "id"));
            expected++;
            bool ok = k < g.n && g.v[k].kind == EP_READ_RECORD && g.v[k].line == lines && text && id &&
                      strcmp(g.v[k].text, text) == 0 && strcmp(g.v[k].id, id) == 0;
            CHECKF(ok, "%s: record %zu (line %zu) differs", name, k, lines);
            k++;
        }
        cJSON_Delete(doc);
    }
    if (f) fclose(f);
    free(line);
    CHECKF(lines == want_lines, "%s: %zu lines", name, lines);
    CHECKF(g.records == expected && k == g.n, "%s: %zu records, %zu expected", name, g.records, expected);
    printf("%s: %zu records, %zu rejected\n", name, g.records, g.rejected);
    if (g.rejected)
        for (size_t i = 0; i < g.n; i++)
            if (g.v[i].kind == EP_READ_REJECTED) {
                printf("  line %llu: %s\n", (unsigned long long)g.v[i].line, g.v[i].reason);
                CHECKF(reason_has && strstr(g.v[i].reason, reason_has), "%s: reason lacks %s", name, reason_has ? reason_has : "(nothing expected)");
            }
    got_free(&g);
}

static void test_tweeteval(const char *data, const char *name) {
    char path[1024];
    got_all g;
    if (read_shared(data, "tweeteval", name, path, sizeof path, &g) != 0) return;
    CHECKF(g.status == EP_OK && g.format == EP_FORMAT_LINES && g.rejected == 0, "%s: %s", name, g.err.message);
    FILE *f = fopen(path, "rb");
    char *line = NULL;
    size_t cap = 0, k = 0, lines = 0;
    ssize_t n;
    int bad = 0;
    while (f && (n = getline(&line, &cap, f)) > 0) {
        lines++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
        if (strspn(line, " \t") == (size_t)n) continue;
        if (k >= g.n || g.v[k].line != lines || strcmp(g.v[k].text, line) != 0) {
            if (bad++ < 3) CHECKF(0, "%s: line %zu differs", name, lines);
        }
        k++;
    }
    if (f) fclose(f);
    free(line);
    CHECKF(k == g.records && g.records > 1000, "%s: %zu records, %zu lines", name, g.records, k);
    printf("%s: %zu records\n", name, g.records);
    got_free(&g);
}

int main(void) {
    const char *data = ep_test_shared_data();
    test_tweets_js(data);
    test_twarc(data, "flat.jsonl", 100, 0, NULL);
    test_twarc(data, "kpop.jsonl", 1, 0, NULL);
    test_twarc(data, "brexit.jsonl", 1, 0, NULL);
    // Seven tweets, then a line cut short by the capture: rejected as truncated.
    test_twarc(data, "streaming_output_with_error.jsonl", 8, 1, "the file is probably truncated");
    test_tweeteval(data, "emotion-test_text.txt");
    test_tweeteval(data, "sentiment-test_text.txt");
    tmp_cleanup();
    return ep_test_finish("test_reader_real");
}
