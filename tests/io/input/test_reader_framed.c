/*
 * test_reader_framed.c - tweets.js and archive.json, whose records are the
 * elements of big arrays: element lines, bad elements among good ones, broken
 * structure reported as a format error after the good records, the archive's
 * key selection, the size limit, compression, and examples/archive.json
 * checked element by element against a whole-file cJSON parse.
 */
#include <cjson/cJSON.h>

#include "reader_test_util.h"

#define EXPECT_REC(g, i, ln, txt, ident) expect_rec(__LINE__, (g), (i), (ln), (txt), (ident))
#define EXPECT_REJ(g, i, ln, what) expect_rej(__LINE__, (g), (i), (ln), (what))

static void expect_rec(int at, const got_all *g, size_t i, uint64_t line, const char *text, const char *id) {
    const got_rec *r = i < g->n ? &g->v[i] : NULL;
    if (!r || r->kind != EP_READ_RECORD || r->line != line || strcmp(r->text, text) != 0 ||
        (id && strcmp(r->id, id) != 0)) {
        fprintf(stderr, "test_reader_framed.c:%d: record %zu: want line %llu text '%s' id '%s'\n", at, i,
                (unsigned long long)line, text, id ? id : "(any)");
        got_dump("got", g);
        ep_test_failures++;
    }
}

static void expect_rej(int at, const got_all *g, size_t i, uint64_t line, const char *what) {
    const got_rec *r = i < g->n ? &g->v[i] : NULL;
    if (!r || r->kind != EP_READ_REJECTED || r->line != line || !strstr(r->reason, what)) {
        fprintf(stderr, "test_reader_framed.c:%d: record %zu: want a rejection on line %llu saying '%s'\n", at, i,
                (unsigned long long)line, what);
        got_dump("got", g);
        ep_test_failures++;
    }
}

static void expect_fatal(int at, const got_all *g, const char *what) {
    if (g->status != EP_ERR_FORMAT || !strstr(g->err.message, what)) {
        fprintf(stderr, "test_reader_framed.c:%d: want EP_ERR_FORMAT saying '%s'\n", at, what);
        got_dump("got", g);
        ep_test_failures++;
    }
}
#define EXPECT_FATAL(g, what) expect_fatal(__LINE__, (g), (what))

static got_all read_str(const char *s, const char *name, const ep_reader_options *o) {
    return read_mem(s, strlen(s), name, o);
}

/* A pretty-printed element as Twitter writes it; the "tweet" line is the element's line + 1. */
static void add_tweet(sbuf *b, const char *id, const char *text, bool last) {
    sb_printf(b, "  {\n    \"tweet\" : {\n      \"retweeted\" : false,\n      \"entities\" : {\n"
                 "        \"hashtags\" : [ ],\n        \"urls\" : [ ]\n      },\n"
                 "      \"id_str\" : \"%s\",\n      \"full_text\" : \"%s\",\n      \"lang\" : \"en\"\n    }\n  }%s\n",
              id, text, last ? "" : ",");
}
#define TWEET_LINES 12

// ----------------------------------------------------------------------------
// tweets.js

static void test_tweets_js(void) {
    sbuf b = {0};
    sb_printf(&b, "window.YTD.tweets.part0 = [\n");
    add_tweet(&b, "2029905358261502168", "first {with} [brackets] and \\\"quotes\\\" \\\\", false);
    add_tweet(&b, "2029905358261502169", "zweiter Tweet \xF0\x9F\x9A\xB2 &amp; mehr", false);
    add_tweet(&b, "2029905358261502170", "third", true);
    sb_printf(&b, "]");
    got_all g = read_mem(b.p, b.n, "tweets.js", NULL);
    CHECK(g.format == EP_FORMAT_TWEETS_JS && g.status == EP_OK);
    EXPECT_REC(&g, 0, 2, "first {with} [brackets] and \"quotes\" \\", "2029905358261502168");
    EXPECT_REC(&g, 1, 2 + TWEET_LINES, "zweiter Tweet \xF0\x9F\x9A\xB2 &amp; mehr", "2029905358261502169");
    EXPECT_REC(&g, 2, 2 + 2 * TWEET_LINES, "third", "2029905358261502170");
    CHECK(g.n == 3);
    got_free(&g);

    // The same through .zst and .gz files.
    size_t zn, gn;
    void *z = zstd_bytes(b.p, b.n, &zn), *gz = gzip_bytes(b.p, b.n, &gn);
    got_all zs = read_path(tmp_write("tweets.js.zst", z, zn), NULL);
    got_all gs = read_path(tmp_write("tweets.js.gz", gz, gn), NULL);
    CHECK(zs.format == EP_FORMAT_TWEETS_JS && zs.records == 3 && zs.status == EP_OK);
    CHECK(gs.format == EP_FORMAT_TWEETS_JS && gs.records == 3 && gs.status == EP_OK);
    CHECK(zs.n == 3 && strcmp(zs.v[1].text, "zweiter Tweet \xF0\x9F\x9A\xB2 &amp; mehr") == 0);
    CHECK(gs.n == 3 && gs.v[2].line == 2 + 2 * TWEET_LINES);
    got_free(&zs);
    got_free(&gs);
    free(z);
    free(gz);
    free(b.p);

    // A minified export, other YTD files (like.js), a bare JSON array.
    got_all m = read_str("window.YTD.tweets.part1=[{\"tweet\":{\"id_str\":\"1\",\"full_text\":\"a\"}},{\"tweet\":{"
                         "\"id\":\"2\",\"text\":\"b\"}}];",
                         "x.js", NULL);
    EXPECT_REC(&m, 0, 1, "a", "1");
    EXPECT_REC(&m, 1, 1, "b", "2");
    CHECK(m.n == 2 && m.status == EP_OK);
    got_free(&m);
    got_all l = read_str("window.YTD.like.part0 = [ {\n \"like\" : {\n \"tweetId\" : \"77\",\n \"fullText\" : "
                         "\"liked\"\n }\n} ]\n",
                         "like.js", NULL);
    EXPECT_REC(&l, 0, 1, "liked", "77");
    got_free(&l);
    got_all a = read_str("[\n {\"id\": 5, \"text\": \"bare\"},\n {\"id\": 6, \"text\": \"array\"}\n]\n", "a.json", NULL);
    CHECK(a.format == EP_FORMAT_TWEETS_JS);
    EXPECT_REC(&a, 0, 2, "bare", "5");
    EXPECT_REC(&a, 1, 3, "array", "6");
    got_free(&a);
}

static void test_tweets_js_bad_elements(void) {
    sbuf b = {0};
    sb_printf(&b, "window.YTD.tweets.part0 = [\n");                            // 1
    add_tweet(&b, "1", "good", false);                                         // 2
    sb_printf(&b, "  {\n    \"tweet\" : {\n      \"id_str\" : \"2\",\n"        // 14
                  "      \"full_text\" : \"x\" \"y\"\n    }\n  },\n");
    sb_printf(&b, "  {\n    \"tweet\" : { \"id_str\" : \"3\", \"full_text\" : null }\n  },\n");   // 20
    sb_printf(&b, "  \"just a string\",\n");                                   // 23
    sb_printf(&b, "  {\n    \"tweet\" : { \"id_str\" : \"4\", \"full_text\" : \"bad \xC3 utf8\" }\n  }\n"); // 24
    sb_printf(&b, "  {\n    \"tweet\" : { \"id_str\" : \"5\", \"full_text\" : \"missing comma before me\" }\n  },\n"); // 27
    sb_printf(&b, "  {\n    \"tweet\" : { \"id_str\" : \"6\", \"full_text\" : \"");                             // 30
    for (int i = 0; i < 3000; i++) sb_printf(&b, "long text %04d ", i);
    sb_printf(&b, "\" }\n  },\n");
    add_tweet(&b, "7", "good again", true);                                    // 33
    sb_printf(&b, "]\n");
    ep_reader_options o = {.max_record_bytes = 40000};
    got_all g = read_mem(b.p, b.n, "tweets.js", &o);
    CHECK(g.status == EP_OK);
    EXPECT_REC(&g, 0, 2, "good", "1");
    EXPECT_REJ(&g, 1, 14, "not valid JSON: parse error at line 17, column 25 (near '\"y\"");
    EXPECT_REJ(&g, 2, 20, "text field 'tweet.full_text' is null");
    CHECK(g.n > 2 && strcmp(g.v[2].id, "3") == 0);
    EXPECT_REJ(&g, 3, 23, "array element is a string, not an object");
    EXPECT_REJ(&g, 4, 24, "text field 'tweet.full_text' is not valid UTF-8 at byte 4");
    EXPECT_REC(&g, 5, 27, "missing comma before me", "5");
    EXPECT_REJ(&g, 6, 30, "more than max_record_bytes 40000");
    EXPECT_REC(&g, 7, 33, "good again", "7");
    CHECK(g.n == 8);
    got_free(&g);
    free(b.p);
}

static void test_tweets_js_broken(void) {
    // No '[' after the prefix.
    got_all a = read_str("window.YTD.tweets.part0 = {\"tweet\": {}}\n", "tweets.js", NULL);
    EXPECT_FATAL(&a, "tweets.js:1: expected '[' opening the array of tweets");
    CHECK(a.n == 0);
    got_free(&a);
    // The array never closes: the good elements come first, then the error.
    sbuf b = {0};
    sb_printf(&b, "window.YTD.tweets.part0 = [\n");
    add_tweet(&b, "1", "one", false);
    add_tweet(&b, "2", "two", false);
    got_all u = read_mem(b.p, b.n, "tweets.js", NULL);
    CHECK(u.records == 2);
    EXPECT_FATAL(&u, "the file ends before the array opened at line 1 is closed with ']': the file is truncated");
    got_free(&u);
    // The file ends inside an element.
    got_all t = read_mem(b.p, b.n - 40, "tweets.js", NULL);
    CHECK(t.records == 1);
    EXPECT_FATAL(&t, "tweets.js:14: the file ends inside the element that starts here");
    got_free(&t);
    // Bytes after the closing bracket.
    got_all x = read_str("window.YTD.tweets.part0 = [ {\"tweet\": {\"full_text\": \"a\"}} ] junk", "tweets.js", NULL);
    CHECK(x.records == 1);
    EXPECT_FATAL(&x, "unexpected bytes after the end of the array");
    got_free(&x);
    // An empty export.
    got_all e = read_str("window.YTD.tweets.part0 = [ ]", "tweets.js", NULL);
    CHECK(e.status == EP_OK && e.n == 1);
    EXPECT_REJ(&e, 0, 0, "no records: the tweets.js array is empty");
    got_free(&e);
    // Asked for tweets.js, given something else.
    ep_reader_options o = {.format = EP_FORMAT_TWEETS_JS};
    got_all n = read_str("{\"text\": \"a\"}\n", "x.jsonl", &o);
    EXPECT_FATAL(&n, "this is not a Twitter export tweets.js");
    got_free(&n);
    free(b.p);
}

// ----------------------------------------------------------------------------
// archive.json

static const char *ARCHIVE =
    "{\n"                                                                               // 1
    "  \"account\": [{\"account\": {\"username\": \"ada\", \"note\": \"braces } ] { [ in a \\\" string\"}}],\n"
    "  \"profile\": [{\"profile\": {\"description\": {\"bio\": \"x\"}}}],\n"             // 3
    "  \"like\": [{\"like\": {\"tweetId\": \"90\", \"fullText\": \"someone else's\"}}],\n" // 4
    "  \"tweets\": [\n"                                                                 // 5
    "    {\"tweet\": {\"id_str\": \"1001\", \"full_text\": \"my first\"}},\n"            // 6
    "    {\"tweet\": {\"id_str\": \"1002\", \"full_text\": 17}},\n"                      // 7
    "    {\"tweet\": {\"id_str\": \"1003\", \"full_text\": \"my third\"}}\n"             // 8
    "  ],\n"
    "  \"follower\": [],\n"
    "  \"following\": [{\"following\": {\"accountId\": \"5\"}}],\n"
    "  \"community-tweet\": [\n"                                                        // 12
    "    {\"tweet\": {\"id_str\": \"2001\", \"full_text\": \"in a community\"}}\n"       // 13
    "  ],\n"
    "  \"note-tweet\": [{\"noteTweet\": {\"noteTweetId\": \"3001\", \"core\": {\"text\": \"long note\"}}}]\n"
    "}\n";

static void test_archive(void) {
    got_all g = read_str(ARCHIVE, "archive.json", NULL);
    CHECK(g.format == EP_FORMAT_ARCHIVE_JSON && g.status == EP_OK);
    EXPECT_REC(&g, 0, 6, "my first", "1001");
    EXPECT_REJ(&g, 1, 7, "text field 'tweet.full_text' is a number");
    EXPECT_REC(&g, 2, 8, "my third", "1003");
    EXPECT_REC(&g, 3, 13, "in a community", "2001");
    CHECK(g.n == 4);
    got_free(&g);

    ep_reader_options o = {.archive_keys = "like,note-tweet"};
    got_all k = read_str(ARCHIVE, "archive.json", &o);
    EXPECT_REC(&k, 0, 4, "someone else's", "90");
    EXPECT_REC(&k, 1, 15, "long note", "3001");
    CHECK(k.n == 2);
    got_free(&k);

    // Minified on one line (as the Community Archive serves it), with the size limit small enough that the
    // skipped "like" array is bigger than it: skipped values are never stored.
    sbuf m = {0};
    sb_printf(&m, "{\"account\":[],\"like\":[");
    for (int i = 0; i < 2000; i++) sb_printf(&m, "%s{\"like\":{\"tweetId\":\"%d\",\"fullText\":\"liked\"}}", i ? "," : "", i);
    sb_printf(&m, "],\"tweets\":[{\"tweet\":{\"id_str\":\"1\",\"full_text\":\"one\"}},{\"tweet\":{\"id_str\":\"2\","
                  "\"full_text\":\"two\"}}]}");
    ep_reader_options small = {.max_record_bytes = 200};
    got_all mg = read_mem(m.p, m.n, "archive.json", &small);
    CHECK(mg.format == EP_FORMAT_ARCHIVE_JSON && mg.status == EP_OK);
    EXPECT_REC(&mg, 0, 1, "one", "1");
    EXPECT_REC(&mg, 1, 1, "two", "2");
    CHECK(mg.n == 2);
    got_free(&mg);
    free(m.p);
}

static void test_archive_broken(void) {
    got_all n = read_str("{\n  \"account\": [],\n  \"like\": []\n}\n", "archive.json", NULL);
    CHECK(n.format == EP_FORMAT_ARCHIVE_JSON);
    EXPECT_FATAL(&n, "no top-level array named tweets, community-tweet");
    got_free(&n);
    got_all e = read_str("{\n  \"account\": [],\n  \"tweets\": []\n}\n", "archive.json", NULL);
    CHECK(e.status == EP_OK);
    EXPECT_REJ(&e, 0, 0, "no records: the archive's arrays are empty");
    got_free(&e);
    // Truncated inside the tweets array, after a good element.
    const char *cut = "{\n \"tweets\": [\n  {\"tweet\": {\"full_text\": \"kept\"}},\n  {\"tweet\": {\"full_te";
    got_all t = read_str(cut, "archive.json", NULL);
    EXPECT_REC(&t, 0, 3, "kept", "");
    EXPECT_FATAL(&t, "archive.json:4: the file ends inside the element that starts here");
    got_free(&t);
    // Truncated inside a skipped value.
    got_all s = read_str("{\n \"tweets\": [],\n \"like\": [{\"like\": {", "archive.json", NULL);
    EXPECT_FATAL(&s, "archive.json:3: the file ends inside the top-level value that starts here");
    got_free(&s);
    got_all c = read_str("{\n \"tweets\": [] \"like\": []}", "archive.json", NULL);
    EXPECT_FATAL(&c, "expected ',' or '}' after a top-level value");
    got_free(&c);
    ep_reader_options o = {.format = EP_FORMAT_ARCHIVE_JSON};
    got_all w = read_str("[1, 2]", "x", &o);
    EXPECT_FATAL(&w, "x:1: expected '{' opening an archive.json object");
    got_free(&w);
}

/* A big zstd file cut short: the records before the cut come back, then the error. */
static void test_truncated_stream(void) {
    sbuf b = {0};
    for (int i = 0; i < 30000; i++) sb_printf(&b, "{\"id\": \"%d\", \"text\": \"record number %d\"}\n", i, i);
    size_t zn;
    unsigned char *z = zstd_bytes(b.p, b.n, &zn);
    got_all g = read_path(tmp_write("big.jsonl.zst", z, zn / 2), NULL);
    CHECK(g.open_status == EP_OK);
    CHECK(g.records > 1000 && g.records < 30000 && g.rejected <= 1);
    CHECKF(g.status == EP_ERR_FORMAT && strstr(g.err.message, "truncated"), "%s", g.err.message);
    for (size_t i = 0; i < g.n; i++) {
        if (g.v[i].kind != EP_READ_RECORD) continue;
        char want[64];
        snprintf(want, sizeof want, "record number %zu", i);
        if (strcmp(g.v[i].text, want) != 0 || g.v[i].line != i + 1) {
            CHECKF(0, "record %zu: '%s' on line %llu", i, g.v[i].text, (unsigned long long)g.v[i].line);
            break;
        }
    }
    got_free(&g);
    free(z);
    free(b.p);
}

// ----------------------------------------------------------------------------
// examples/archive.json, against cJSON reading the whole file

static void test_example_archive(void) {
    char path[1024];
    snprintf(path, sizeof path, "%s/examples/archive.json", ep_test_env("EP_SOURCE_DIR", "."));
    ep_test_require(path, "run from the source tree or set EP_SOURCE_DIR");
    got_all g = read_path(path, NULL);
    CHECKF(g.open_status == EP_OK && g.status == EP_OK, "%s", g.err.message);
    CHECK(g.format == EP_FORMAT_ARCHIVE_JSON);
    CHECK(g.rejected == 0);

    char *all = ep_test_read_file(path, NULL);
    cJSON *doc = all ? cJSON_Parse(all) : NULL;
    CHECK(doc != NULL);
    size_t want = 0;
    const char *keys[] = {"tweets", "community-tweet"};
    for (int k = 0; k < 2; k++) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(doc, keys[k]);
        CHECKF(cJSON_IsArray(arr), "examples/archive.json has no '%s' array", keys[k]);
        const cJSON *el;
        cJSON_ArrayForEach(el, arr) {
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(el, "tweet");
            const cJSON *text = cJSON_GetObjectItemCaseSensitive(t, "full_text");
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(t, "id_str");
            CHECK(cJSON_IsString(text) && cJSON_IsString(id));
            if (want < g.n && cJSON_IsString(text) && cJSON_IsString(id)) {
                CHECKF(strcmp(g.v[want].text, text->valuestring) == 0, "element %zu text differs", want);
                CHECKF(strcmp(g.v[want].id, id->valuestring) == 0, "element %zu id differs", want);
                // The Community Archive stores text without control characters.
                for (const char *c = text->valuestring; *c; c++) CHECK((unsigned char)*c >= 0x20);
            }
            want++;
        }
    }
    CHECKF(g.records == want && want >= 60 && want <= 80, "%zu records, %zu elements", g.records, want);
    for (size_t i = 1; i < g.n; i++) CHECK(g.v[i].line > g.v[i - 1].line);
    cJSON_Delete(doc);
    free(all);
    got_free(&g);
}

/* Issue 8: a tweets.js whose first line is not exactly `window.YTD.tweets.part0 = [` is still an export,
 * never 100,000 lines of JSON fragments; where the good records end is known after damage. */
static void test_tweets_js_headers(void) {
    static const char *const heads[] = {"YTD.tweets.part0 = [", "window.YTD.tweet.part1 = [", "var tweets = [",
                                        "const   x=[", "let a.b_2.$c =\n["};
    for (size_t i = 0; i < sizeof heads / sizeof *heads; i++) {
        sbuf b = {0};
        sb_printf(&b, "%s\n", heads[i]);
        add_tweet(&b, "1", "one", false);
        add_tweet(&b, "2", "two", true);
        sb_printf(&b, "]\n");
        got_all g = read_mem(b.p, b.n, "export.js", NULL);
        CHECKF(g.format == EP_FORMAT_TWEETS_JS && g.status == EP_OK && g.records == 2 && g.n == 2,
               "header '%s': format %s, %zu records, %zu rejected (%s)", heads[i], ep_input_format_name(g.format),
               g.records, g.rejected, g.err.message);
        if (g.n == 2) CHECK(strcmp(g.v[1].text, "two") == 0 && strcmp(g.v[1].id, "2") == 0);
        got_free(&g);
        free(b.p);
    }
    // Not an assignment: refused as tweets.js with what was found, and not detected as one.
    ep_reader_options o = {.format = EP_FORMAT_TWEETS_JS};
    got_all bad = read_str("tweets := [\n{\"tweet\": {\"full_text\": \"a\"}}]\n", "x.js", &o);
    EXPECT_FATAL(&bad, "x.js:1: expected '[' opening the array of tweets, after 'window.YTD.<name>.part<N> = ' or "
                       "another 'name = ', found 'tweets := ['");
    got_free(&bad);
    got_all det = read_str("tweets are = [fun]\nsecond line\n", "notes", NULL);
    CHECK(det.format == EP_FORMAT_LINES && det.records == 2);
    got_free(&det);

    // Cut mid-array: the position says where the good records end (just past the last good element).
    sbuf c = {0};
    sb_printf(&c, "window.YTD.tweets.part0 = [\n");
    add_tweet(&c, "1", "one", false);
    size_t good_end = c.n - 2; /* before its ",\n" */
    add_tweet(&c, "2", "two", false);
    got_all t = read_mem(c.p, c.n - 20, "tweets.js", NULL);
    CHECK(t.records == 1 && t.status == EP_ERR_FORMAT);
    CHECKF(t.end_byte == good_end && t.end_line == 13, "damage begins at byte %llu line %llu, want %zu line 13",
           (unsigned long long)t.end_byte, (unsigned long long)t.end_line, good_end);
    got_free(&t);
    free(c.p);
}

int main(void) {
    test_tweets_js();
    test_tweets_js_bad_elements();
    test_tweets_js_broken();
    test_tweets_js_headers();
    test_archive();
    test_archive_broken();
    test_truncated_stream();
    test_example_archive();
    tmp_cleanup();
    return ep_test_finish("test_reader_framed");
}
