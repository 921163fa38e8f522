/* test_shard_ids.c - ids files: hostile ids survive the round trip as valid
 * JSON lines, and the reader rejects every malformed line, naming file and line. */
#include "shard.h"
#include "test_shard_util.h"
#include "test_util.h"

#include <cjson/cJSON.h>

#define N_HOSTILE 16

static void hostile_round_trip(const char *dir) {
    static char ctrl[40], big[9 * 1140 + 1]; /* > 10 KB, whole 9-byte units */
    for (int i = 1; i < 32; i++) ctrl[i - 1] = (char)i;
    ctrl[31] = 0x7f;
    ctrl[32] = '\0';
    for (size_t i = 0; i < sizeof big - 1; i++) big[i] = "a\"\\\x01\xf0\x9f\x98\x80z"[i % 9];
    big[sizeof big - 1] = '\0';
    const char *ids[N_HOSTILE] = {
        "plain",
        "",
        "with \"quotes\" and 'apostrophes'",
        "back\\slash\\\\ and \\u0041 and \\n literally",
        ctrl,
        "emoji \xf0\x9f\x98\x80\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb flags \xf0\x9f\x87\xaf\xf0\x9f\x87\xb5",
        "line\nbreak\r\nand\ttab",
        "json injection\"}, {\"id\": \"x",
        "\xe2\x80\xa8 line and paragraph separators \xe2\x80\xa9",
        "\xc3\xa9\xe4\xb8\xad\xf0\x90\x8d\x88 BMP and astral",
        "}\n{",
        big,
        "</script><!--",
        NULL, /* no id at all: written as "" */
        "\xef\xbb\xbf BOM inside",
        "trailing space ",
    };
    ep_row_meta meta[N_HOSTILE];
    const int dim = 3;
    uint16_t rows[N_HOSTILE * 3];
    uint64_t rng = 77;
    for (int i = 0; i < N_HOSTILE; i++) {
        meta[i] = (ep_row_meta){.id = ids[i], .file_index = i == 1 ? UINT32_MAX : (uint32_t)i,
                                .line = i == 2 ? (1ull << 53) : (uint64_t)i * 1000 + 1, .n_tokens = i * 37,
                                .truncated = i % 2, .text_hash = i == 3 ? UINT64_MAX : i == 4 ? 0 : ep_test_rand(&rng)};
        for (int j = 0; j < dim; j++) rows[i * dim + j] = (uint16_t)ep_test_rand(&rng);
    }
    ep_error err = {0};
    ep_shard_writer *w = NULL;
    ep_shard_writer_options opt = {.dir = dir, .dim = dim, .rows_per_shard = 100};
    CHECK_OK(ep_shard_writer_open(&opt, &w, &err), &err);
    if (!w) return;
    CHECK_OK(ep_shard_writer_append(w, rows, meta, N_HOSTILE, &err), &err);
    CHECK_OK(ep_shard_writer_flush(w, &err), &err);
    CHECK(ep_shard_writer_count(w) == 1);
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, ep_shard_writer_info(w, 0)->ids_name);
    ep_shard_writer_free(w);

    /* Every line must be a JSON object on its own (checked here with cJSON
     * directly; the Python round-trip test checks them with json.loads too). */
    size_t len = 0;
    char *text = (char *)ts_read_zst(path, &len);
    CHECK(text != NULL);
    int lines = 0;
    for (char *p = text; text && p < text + len; lines++) {
        char *nl = memchr(p, '\n', (size_t)(text + len - p));
        CHECK(nl != NULL);
        if (!nl) break;
        for (char *q = p; q < nl; q++) CHECKF((uint8_t)*q >= 0x20, "raw control byte in line %d", lines + 1);
        cJSON *o = cJSON_ParseWithLength(p, (size_t)(nl - p));
        CHECKF(cJSON_IsObject(o), "line %d is not a JSON object", lines + 1);
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
        const char *want = ids[lines] ? ids[lines] : "";
        CHECKF(cJSON_IsString(id) && strcmp(id->valuestring, want) == 0, "line %d: id differs", lines + 1);
        cJSON_Delete(o);
        p = nl + 1;
    }
    CHECK(lines == N_HOSTILE);
    free(text);

    ep_row_meta *back = NULL;
    size_t n = 0;
    CHECK_OK(ep_shard_read_ids(path, &back, &n, &err), &err);
    CHECK(n == N_HOSTILE);
    for (size_t i = 0; back && i < n && i < N_HOSTILE; i++) {
        const char *want = ids[i] ? ids[i] : "";
        CHECKF(strcmp(back[i].id, want) == 0, "row %zu: id \"%.40s\" came back as \"%.40s\"", i, want, back[i].id);
        CHECK(back[i].file_index == meta[i].file_index);
        CHECK(back[i].line == meta[i].line);
        CHECK(back[i].n_tokens == meta[i].n_tokens);
        CHECK(back[i].truncated == meta[i].truncated);
        CHECKF(back[i].text_hash == meta[i].text_hash, "row %zu: hash", i);
    }
    ep_shard_ids_free(back, n);
    ep_shard_ids_free(NULL, 0);
}

/* An id that is not valid UTF-8 still gives a valid JSON line, with U+FFFD per bad byte. */
static void invalid_utf8_id(const char *dir) {
    const char *bad = "a\xff" "b\xc3" "c\xed\xa0\x80" "d"; /* stray byte, cut sequence, surrogate */
    ep_row_meta meta = {.id = bad, .line = 1};
    uint16_t row = 0x3c00;
    ep_error err = {0};
    ep_shard_writer *w = NULL;
    ep_shard_writer_options opt = {.dir = dir, .dim = 1, .first_shard = 7};
    CHECK_OK(ep_shard_writer_open(&opt, &w, &err), &err);
    if (!w) return;
    CHECK_OK(ep_shard_writer_append(w, &row, &meta, 1, &err), &err);
    CHECK_OK(ep_shard_writer_flush(w, &err), &err);
    ep_shard_writer_free(w);
    char path[1024];
    snprintf(path, sizeof path, "%s/shard-00007.ids.ndjson.zst", dir);
    ep_row_meta *back = NULL;
    size_t n = 0;
    CHECK_OK(ep_shard_read_ids(path, &back, &n, &err), &err);
    const char *want = "a\xef\xbf\xbd" "b\xef\xbf\xbd" "c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" "d";
    CHECKF(n == 1 && strcmp(back[0].id, want) == 0, "invalid UTF-8 id came back as \"%s\"", n ? back[0].id : "");
    ep_shard_ids_free(back, n);
}

/* The text and the kept fields travel through the ids file: written after the six keys, read back
 * as they were (the fields' numbers with every digit), absent when not given. */
static void text_and_fields(const char *dir) {
    ep_row_meta meta[3] = {
        {.id = "1", .line = 1, .text = "caf\xc3\xa9 \"quoted\"\n\ttab \\ and \x01",
         .fields = "{\"n\": 1234567890123456789, \"o\": {\"a\": [1, 2.50]}, \"s\": \"x\", \"z\": null}"},
        {.id = "2", .line = 2, .text = NULL, .fields = "{\"n\": null, \"o\": null, \"s\": null, \"z\": null}"},
        {.id = "3", .line = 3, .text = "no fields", .fields = NULL},
    };
    uint16_t rows[3] = {0x3c00, 0x3c00, 0x3c00};
    ep_error err = {0};
    ep_shard_writer *w = NULL;
    ep_shard_writer_options opt = {.dir = dir, .dim = 1, .first_shard = 9};
    CHECK_OK(ep_shard_writer_open(&opt, &w, &err), &err);
    if (!w) return;
    CHECK_OK(ep_shard_writer_append(w, rows, meta, 3, &err), &err);
    CHECK_OK(ep_shard_writer_flush(w, &err), &err);
    ep_shard_writer_free(w);
    char path[1024];
    snprintf(path, sizeof path, "%s/shard-00009.ids.ndjson.zst", dir);
    ep_row_meta *back = NULL;
    size_t n = 0;
    CHECK_OK(ep_shard_read_ids(path, &back, &n, &err), &err);
    CHECK(n == 3);
    for (size_t i = 0; i < n && i < 3; i++) {
        CHECKF(!meta[i].text == !back[i].text && (!meta[i].text || strcmp(meta[i].text, back[i].text) == 0),
               "row %zu: text '%s'", i, back[i].text ? back[i].text : "(null)");
        CHECKF(!meta[i].fields == !back[i].fields && (!meta[i].fields || strcmp(meta[i].fields, back[i].fields) == 0),
               "row %zu: fields '%s', want '%s'", i, back[i].fields ? back[i].fields : "(null)",
               meta[i].fields ? meta[i].fields : "(null)");
    }
    ep_shard_ids_free(back, n);

    // A line whose keys another tool reordered still gives its fields (printed again by cJSON).
    static const char moved[] = "{\"k\": 5, \"id\": \"x\", \"file\": 0, \"line\": 1, \"tokens\": 3, \"truncated\": false, "
                                "\"hash\": \"00000000000000ff\", \"text\": \"t\", \"m\": \"v\"}\n";
    CHECK(ts_write_zst(path, moved, strlen(moved), 1) == 0);
    CHECK_OK(ep_shard_read_ids(path, &back, &n, &err), &err);
    CHECKF(n == 1 && back[0].fields && strcmp(back[0].fields, "{\"k\":5,\"m\":\"v\"}") == 0, "reordered: '%s'",
           n && back[0].fields ? back[0].fields : "(null)");
    CHECK(n == 1 && back[0].text && strcmp(back[0].text, "t") == 0);
    ep_shard_ids_free(back, n);
    // A text that is not a string is refused.
    static const char bad[] = "{\"id\": \"x\", \"file\": 0, \"line\": 1, \"tokens\": 3, \"truncated\": false, "
                              "\"hash\": \"00000000000000ff\", \"text\": 5}\n";
    CHECK(ts_write_zst(path, bad, strlen(bad), 1) == 0);
    CHECK(ep_shard_read_ids(path, &back, &n, &err) == EP_ERR_FORMAT && strstr(err.message, "\"text\""));
}

/* Hand-made ids files that the strict reader must refuse. */
static void malformed(const char *dir) {
    static const char good[] = "{\"id\": \"x\", \"file\": 0, \"line\": 1, \"tokens\": 3, \"truncated\": false, "
                               "\"hash\": \"00000000000000ff\"}\n";
    static const struct {
        const char *text;
        const char *expect; /* a word the message must contain */
    } cases[] = {
        {"", "no rows"},
        {"{\"id\": \"x\", \"file\": 0, \"line\": 1, \"tokens\": 3, \"truncated\": false, \"hash\": \"00000000000000ff\"}",
         "newline"},
        {"not json\n", "not valid JSON"},
        {"[1, 2]\n", "not a JSON object"},
        {"{\"file\": 0, \"line\": 1, \"tokens\": 3, \"truncated\": false, \"hash\": \"00000000000000ff\"}\n", "\"id\""},
        {"{\"id\": 5, \"file\": 0, \"line\": 1, \"tokens\": 3, \"truncated\": false, \"hash\": \"00000000000000ff\"}\n",
         "\"id\""},
        {"{\"id\": \"x\", \"file\": -1, \"line\": 1, \"tokens\": 3, \"truncated\": false, \"hash\": \"00000000000000ff\"}\n",
         "\"file\""},
        {"{\"id\": \"x\", \"file\": 0, \"line\": 1.5, \"tokens\": 3, \"truncated\": false, \"hash\": \"00000000000000ff\"}\n",
         "\"line\""},
        {"{\"id\": \"x\", \"file\": 0, \"line\": 1, \"tokens\": \"3\", \"truncated\": false, \"hash\": \"00000000000000ff\"}\n",
         "\"tokens\""},
        {"{\"id\": \"x\", \"file\": 0, \"line\": 1, \"tokens\": 3, \"truncated\": 0, \"hash\": \"00000000000000ff\"}\n",
         "\"truncated\""},
        {"{\"id\": \"x\", \"file\": 0, \"line\": 1, \"tokens\": 3, \"truncated\": false, \"hash\": \"00000000000000FF\"}\n",
         "\"hash\""},
        {"{\"id\": \"x\", \"file\": 0, \"line\": 1, \"tokens\": 3, \"truncated\": false, \"hash\": \"ff\"}\n", "\"hash\""},
        {"{\"id\": \"x\", \"id\": \"y\", \"file\": 0, \"line\": 1, \"tokens\": 3, \"truncated\": false, "
         "\"hash\": \"00000000000000ff\"}\n",
         "twice"},
        {"{\"id\": \"a\tb\", \"file\": 0, \"line\": 1, \"tokens\": 3, \"truncated\": false, "
         "\"hash\": \"00000000000000ff\"}\n",
         "control"},
        {"{\"id\": \"a\xff\", \"file\": 0, \"line\": 1, \"tokens\": 3, \"truncated\": false, "
         "\"hash\": \"00000000000000ff\"}\n",
         "UTF-8"},
        {"{\"id\": \"x\", \"file\": 0, \"line\": 1, \"tokens\": 3, \"truncated\": false, \"hash\": \"00000000000000ff\"} "
         "{}\n",
         "after"},
        {"\n", "not valid JSON"},
        {"{\"id\": \"x\", \"file\": 0, \"line\": 1, \"tokens\": 3, \"hash\": \"00000000000000ff\"}\n",
         "\"truncated\" is missing"},
        {"{\"id\": \"x\", \"file\": 0, \"line\": 1, \"tokens\": 3, \"truncated\": false}\n", "\"hash\" is missing"},
        {"{\"id\": \"x\", \"file\": 0, \"line\": 1, \"tokens\": 3, \"truncated\": false, "
         "\"hash\": \"00000000000000ff\", \"text\": \"a\", \"k\": 1, \"text\": \"b\"}\n",
         "\"text\" appears twice"},
    };
    char path[1024];
    snprintf(path, sizeof path, "%s/bad.ids.ndjson.zst", dir);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* The bad line comes second, after a good one, so the line number is tested too. */
        char text[1024];
        bool first_line = cases[i].text[0] == '\0' || strcmp(cases[i].expect, "newline") == 0;
        snprintf(text, sizeof text, "%s%s", first_line ? "" : good, cases[i].text);
        CHECK(ts_write_zst(path, text, strlen(text), 1) == 0);
        ep_error err = {0};
        ep_row_meta *m = NULL;
        size_t n = 99;
        ep_status st = ep_shard_read_ids(path, &m, &n, &err);
        CHECKF(st == EP_ERR_FORMAT && m == NULL && n == 0, "case %zu accepted (%d)", i, (int)st);
        CHECKF(strstr(err.message, cases[i].expect) != NULL, "case %zu: message lacks \"%s\": %s", i,
               cases[i].expect, err.message);
        CHECKF(strstr(err.message, "bad.ids.ndjson.zst") != NULL, "case %zu: message lacks the file: %s", i,
               err.message);
        if (!first_line)
            CHECKF(strstr(err.message, "line 2") != NULL, "case %zu: message lacks the line: %s", i, err.message);
    }
    /* The good line alone is accepted (the cases above fail for their own reason). */
    CHECK(ts_write_zst(path, good, strlen(good), 1) == 0);
    ep_error err = {0};
    ep_row_meta *m = NULL;
    size_t n = 0;
    CHECK_OK(ep_shard_read_ids(path, &m, &n, &err), &err);
    CHECK(n == 1 && m && m[0].text_hash == 0xff && m[0].n_tokens == 3);
    ep_shard_ids_free(m, n);
    /* Without a zstd checksum it cannot be verified: refused. */
    CHECK(ts_write_zst(path, good, strlen(good), 0) == 0);
    CHECK(ep_shard_read_ids(path, &m, &n, &err) == EP_ERR_FORMAT);
    CHECKF(strstr(err.message, "checksum") != NULL, "%s", err.message);
    snprintf(path, sizeof path, "%s/missing.ids.ndjson.zst", dir);
    CHECK(ep_shard_read_ids(path, &m, &n, &err) == EP_ERR_IO);
}

int main(void) {
    char dir[512];
    if (!ep_test_mkdtemp(dir, sizeof dir, "ids")) {
        fprintf(stderr, "cannot create a scratch folder\n");
        return 1;
    }
    hostile_round_trip(dir);
    invalid_utf8_id(dir);
    text_and_fields(dir);
    malformed(dir);
    ep_test_rm_rf(dir);
    return ep_test_finish("test_shard_ids");
}
