/*
 * test_record_fast.c - the extractor's fast path (json_scan.h: plain JSON read without a cJSON
 * tree) against its cJSON path, frame by frame: every record's kind, text, id, kept fields,
 * skipped flag, line and rejection reason must be equal with the fast path on and off. On the
 * real data of ../shared/data (every twarc file, tweets.js, the TweetEval lines written as NDJSON
 * strings with escapes) and on generated tricky records: escapes of every kind, \u surrogate
 * pairs, lone surrogates, \u0000, nested values at the paths, 19-digit and odd numbers as ids,
 * duplicate keys, whitespace, raw control bytes, invalid UTF-8, truncated JSON, API pages whose
 * elements the fast path must hand to cJSON one by one; with default paths, --text / --id,
 * --clean and --keep (the kept fields by keep_scan.h: "default"'s columns from every place they
 * are looked for, values of every JSON type, duplicate keys, controls and invalid UTF-8 in kept
 * values). The fast path must also really serve the plain records, with --keep too.
 */
#include "reader_test_util.h"
#include "record_extract.h"

#include <utf8proc.h>

typedef struct frames {
    ep_frame *v;
    size_t n;
} frames;

/* The frames of an input (its bytes copied), cut by the reader with options o. */
static frames frame_input(const char *path, const void *data, size_t len, const ep_reader_options *o) {
    frames fs = {0};
    ep_reader *r = NULL;
    ep_error err;
    ep_status st = data ? ep_reader_open_memory(data, len, path, o, &r, &err) : ep_reader_open(path, o, &r, &err);
    CHECKF(st == EP_OK, "%s: %s", path, err.message);
    if (st != EP_OK) return fs;
    for (;;) {
        ep_frame f;
        ep_frame_kind k;
        if (ep_reader_next_frame(r, &f, &k, &err) != EP_OK || k == EP_FRAME_END) break;
        fs.v = realloc(fs.v, sizeof *fs.v * (fs.n + 1));
        if (!fs.v) abort();
        ep_frame *c = &fs.v[fs.n++];
        *c = f;
        c->bytes = f.bytes ? dup_n(f.bytes, f.len) : NULL;
        c->reason = f.reason ? dup_n(f.reason, strlen(f.reason)) : NULL;
        c->account = f.account ? dup_n(f.account, strlen(f.account)) : NULL;
    }
    ep_reader_free(r);
    return fs;
}

static void frames_free(frames *fs) {
    for (size_t i = 0; i < fs->n; i++) {
        free(fs->v[i].bytes);
        free((char *)fs->v[i].reason);
        free((char *)fs->v[i].account);
    }
    free(fs->v);
}

/* One frame's results as one string: everything a record carries, in order. */
static char *results(ep_extractor *x, const ep_frame *f) {
    ep_frame copy = *f; /* the extractor may write into the bytes: each path gets its own copy */
    copy.bytes = f->bytes ? dup_n(f->bytes, f->len) : NULL;
    ep_extractor_begin(x, &copy);
    size_t cap = 256, n = 0;
    char *out = malloc(cap);
    if (!out) abort();
    out[0] = '\0';
    ep_record rec;
    ep_read_kind kind;
    while (ep_extractor_next(x, &rec, &kind)) {
        const char *parts[] = {kind == EP_READ_RECORD ? "R" : "X", rec.text ? rec.text : "(null)", rec.id,
                               rec.reason ? rec.reason : "", rec.fields ? rec.fields : "(none)",
                               rec.skipped ? "skip" : "", rec.blank ? "blank" : ""};
        char line[32];
        snprintf(line, sizeof line, "%llu|%zu", (unsigned long long)rec.line, rec.text_len);
        size_t need = n + strlen(line) + 8;
        for (size_t k = 0; k < sizeof parts / sizeof *parts; k++) need += strlen(parts[k]) + 1;
        if (need > cap) {
            while (cap < need) cap *= 2;
            out = realloc(out, cap);
            if (!out) abort();
        }
        n += (size_t)sprintf(out + n, "%s", line);
        for (size_t k = 0; k < sizeof parts / sizeof *parts; k++) n += (size_t)sprintf(out + n, "|%s", parts[k]);
        n += (size_t)sprintf(out + n, "\n");
        if (kind == EP_READ_RECORD) CHECK(rec.text[rec.text_len] == '\0');
    }
    free(copy.bytes);
    return out;
}

/* Extracts every frame both ways. @return how many records the fast path returned. */
static uint64_t compare(const char *what, const frames *fs, const ep_reader_options *o) {
    ep_extractor *fast = NULL, *slow = NULL;
    ep_error err;
    CHECK_OK(ep_extractor_create(o, &fast, &err), &err);
    CHECK_OK(ep_extractor_create(o, &slow, &err), &err);
    ep_extractor_set_fast(slow, false);
    int bad = 0;
    for (size_t i = 0; i < fs->n && bad < 5; i++) {
        char *a = results(fast, &fs->v[i]), *b = results(slow, &fs->v[i]);
        if (strcmp(a, b) != 0) {
            CHECKF(0, "%s: frame %zu (line %llu) differs:\n  fast: %s  cJSON: %s  frame: %.300s", what, i,
                   (unsigned long long)fs->v[i].line, a, b, fs->v[i].bytes ? fs->v[i].bytes : "");
            bad++;
        }
        free(a);
        free(b);
    }
    CHECK(ep_extractor_fast_records(slow) == 0);
    uint64_t n = ep_extractor_fast_records(fast);
    ep_extractor_free(fast);
    ep_extractor_free(slow);
    return n;
}

/* The option sets every input is extracted with. */
static const ep_reader_options *option_sets(size_t *n) {
    static ep_reader_options sets[10];
    sets[0] = (ep_reader_options){0};
    sets[1] = (ep_reader_options){.clean = EP_CLEAN_ALL};
    sets[2] = (ep_reader_options){.text_path = "text", .id_path = "id"};
    sets[3] = (ep_reader_options){.text_path = "tweet.full_text", .id_path = "tweet.id_str"};
    sets[4] = (ep_reader_options){.text_path = "a.1.b", .id_path = "n.0"};
    // --keep: from FIRST_KEEP_SET on, the fast path reads the kept fields too (keep_scan.h).
    sets[5] = (ep_reader_options){.keep = "default,source,public_metrics.like_count,geo,possibly_sensitive,"
                                          "tweet.retweeted,edit_history_tweet_ids"};
    sets[6] = (ep_reader_options){.keep = "default", .clean = EP_CLEAN_ALL};
    sets[7] = (ep_reader_options){.keep = "lang,id_str,user.screen_name,public_metrics,entities.hashtags,entities.urls.0,"
                                          "geo,possibly_sensitive,x,tweet.x,tweet.entities,data.0,k\x7f" "ey,a.1,n,"
                                          "created_at,tweet.created_at,edit_history_tweet_ids"};
    sets[8] = (ep_reader_options){.keep = "default,referenced_tweets,includes.users.0", .text_path = "text",
                                  .id_path = "id"};
    // A kept path that is not UTF-8: ep_keep_build repairs the line to U+FFFD; the fast path leaves that to it.
    sets[9] = (ep_reader_options){.keep = "lang,bad\xFFpath"};
    *n = 10;
    return sets;
}

#define FIRST_KEEP_SET 5
/* The sets from here on aim at the generated records; the real files are read with the others
 * (each set over all the real data costs seconds under the sanitizers). */
#define FIRST_TRICKY_ONLY_SET 6

// ----------------------------------------------------------------------------
// Generated records

static const char *const TRICKY[] = {
    "{\"id\": \"1\", \"text\": \"plain\"}",
    "{\"id\": 1377650090978992134, \"text\": \"a 19-digit number id\"}",
    "{\"id\": -0.5e+3, \"text\": \"an odd number id\"}",
    "{\"id\": 12345678901234567890123456789012345678901234567890123456789012345, \"text\": \"65 digits\"}",
    "{\"id\": 1234567890123456789012345678901234567890123456789012345678901, \"text\": \"61 digits\"}",
    "{\"id\": 01, \"text\": \"a leading zero\"}",
    "{\"id\": 1., \"text\": \"a bare point\"}",
    "{\"id\": true, \"text\": \"a boolean id\"}",
    "{\"id\": null, \"id_str\": \"7\", \"text\": \"null id, then id_str\"}",
    "{\"id\": {\"x\": 1}, \"text\": \"object id\"}",
    "{\"id\": [1, 2], \"text\": \"array id\"}",
    "{\"id\": \"caf\\u00e9\", \"text\": \"escaped id\"}",
    "{\"id\": \"a\\u0000b\", \"text\": \"NUL in the id\"}",
    "{\"id\": \"1\", \"text\": \"esc \\\" \\\\ \\/ \\b \\f \\n \\r \\t end\"}",
    "{\"id\": \"1\", \"text\": \"caf\\u00e9 \\u20AC \\ud83d\\ude00 \\uD83D\\uDE00 \\u0041\"}",
    "{\"id\": \"1\", \"text\": \"lone high \\ud83d here\"}",
    "{\"id\": \"1\", \"text\": \"lone low \\ude00 here\"}",
    "{\"id\": \"1\", \"text\": \"high then other \\ud83d\\u0041\"}",
    "{\"id\": \"1\", \"text\": \"a\\u0000b\"}",
    "{\"id\": \"1\", \"text\": \"\\u0000\"}",
    "{\"id\": \"1\", \"text\": \"bad escape \\x41\"}",
    "{\"id\": \"1\", \"text\": \"bad hex \\u00G1\"}",
    "{\"id\": \"1\", \"text\": \"raw\ttab\"}",
    "{\"id\": \"1\", \"text\": \"raw \x01 control\"}",
    "{\"id\": \"1\", \"text\": \"bad utf-8 \xC3\x28\"}",
    "{\"id\": \"1\xFF\", \"text\": \"bad utf-8 id\"}",
    "{\"id\": \"1\", \"text\": \"overlong \xC0\xAF\"}",
    "{\"id\": \"1\", \"text\": \"\"}",
    "{\"id\": \"1\", \"text\": \"  \\n\\t \"}",
    "{\"id\": \"1\", \"text\": \"\\u0020\"}",
    "{\"id\": \"1\", \"text\": 5, \"full_text\": \"number text, string full_text\"}",
    "{\"id\": \"1\", \"text\": {\"nested\": \"x\"}}",
    "{\"id\": \"1\", \"text\": [\"x\"]}",
    "{\"id\": \"1\", \"text\": null}",
    "{\"id\": \"1\"}",
    "{\"id\": \"1\", \"text\": \"first\", \"text\": \"second\"}",
    "{\"id\": \"1\", \"id\": \"2\", \"text\": \"duplicate id\"}",
    "{\"id\": \"1\", \"other\": 1, \"other\": 2, \"text\": \"duplicate elsewhere\"}",
    "{\"tweet\": {\"id_str\": \"3\", \"full_text\": \"nested\"}}",
    "{\"tweet\": {\"id_str\": \"3\", \"full_text\": \"dup\"}, \"tweet\": {\"full_text\": \"dup2\"}}",
    "{\"tweet\": {\"id\": 3, \"text\": \"nested number id\"}, \"text\": \"top wins\"}",
    "{\"tweet\": \"not an object\", \"content\": \"content\"}",
    "{\"data\": {\"id\": \"9\", \"text\": \"streamed\"}}",
    "{\"data\": {\"id\": \"9\", \"text\": \"streamed\"}, \"includes\": {\"users\": []}}",
    "{\"data\": [{\"id\": \"1\", \"text\": \"one\"}, 5, {\"id\": 22, \"text\": \"two\"}, {\"text\": \"a\\u0000\"}, "
    "{\"id\": \"4\", \"text\": \"\"}, {\"id\": \"5\", \"text\": \"five\", \"text\": \"dup\"}, {\"id\": \"6\", "
    "\"text\": \"six\"}], \"includes\": {}}",
    "{\"data\": [], \"meta\": {\"result_count\": 0}}",
    "{\"data\": [ ], \"meta\": {}}",
    "{\"data\": [{\"id\": \"1\", \"text\": \"one\"}], \"text\": \"a text beside data\"}",
    "{\"data\": [{\"id\": \"1\", \"text\": \"one\"}], \"text\": null}",
    "{\"data\": [{\"id\": \"1\", \"text\": \"one\"}], \"data\": []}",
    "{\"data\": [[1], \"s\", null, {\"id\": \"2\", \"full_text\": \"two\"}]}",
    "{\"errors\": [{\"detail\": \"gone\", \"title\": \"Not Found\"}]}",
    "{\"a\": [{\"b\": \"x\"}, {\"b\": \"indexed text\"}], \"n\": [42, 43], \"text\": \"t\"}",
    "{\"a\": {\"1\": {\"b\": \"object key 1\"}}, \"n\": {\"0\": \"zero\"}}",
    "{\"a\": [], \"n\": [], \"text\": \"empty arrays\"}",
    "  \t{ \"id\" : \"1\" ,\r\n \"text\" : \"spaces\" }  \t",
    "{\"id\":\"1\",\"text\":\"tight\",\"x\":[1,2.5,-3e10,true,false,null,{},[],\"s\"]}",
    "{\"id\": \"1\", \"text\": \"deep\", \"x\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
    "[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
    "{\"id\": \"1\", \"text\": \"truncated",
    "{\"id\": \"1\", \"text\": \"trailing\"} x",
    "{\"id\": \"1\", \"text\": \"trailing comma\",}",
    "{\"id\": \"1\" \"text\": \"no comma\"}",
    "{\"id\": \"1\", \"text\": \"key esc\", \"k\\u0065y\": 1}",
    "{\"t\\u0065xt\": \"escaped key\", \"id\": \"1\"}",
    "{\"id\": \"1\", \"text\": \"vtab\"}\v",
    "\xEF\xBB\xBF{\"id\": \"1\", \"text\": \"BOM\"}",
    "[{\"text\": \"an array line\"}]",
    "\"a string line\"",
    "42",
    "{\"id\": \"1\", \"text\": \"RT @someone: a retweet\"}",
    "{\"id\": \"1\", \"text\": \"@a @b https://t.co/x\"}",
    "{\"id\": \"1\", \"text\": \"Tom &amp; Jerry https://t.co/abc\", \"lang\": \"en\", \"public_metrics\": "
    "{\"like_count\": 5}}",
    "{\"id\": \"1\", \"text\": \"no bools\", \"x\": tru}",
    "{\"id\": \"1\", \"text\": \"num\", \"x\": -}",
    "{\"id\": \"1\", \"text\": \"num\", \"x\": 1e}",
    "{\"id\": \"1\", \"text\": \"num\", \"x\": +1}",
    // The kept fields ("default"'s columns, and values of every kind at kept paths).
    "{\"id\": \"5\", \"text\": \"a reply\", \"referenced_tweets\": [{\"type\": \"replied_to\", \"id\": \"1\"}], "
    "\"author_id\": \"9\", \"lang\": \"en\", \"created_at\": \"2024-01-01T00:00:00.000Z\"}",
    "{\"id\": \"6\", \"text\": \"refs of every kind\", \"referenced_tweets\": [1, \"x\", [], {}, {\"type\": 5}, "
    "{\"type\": \"quot\\u0065d\"}, {\"type\": \"retw\\u0065eted\"}]}",
    "{\"id\": \"7\", \"text\": \"duplicate type\", \"referenced_tweets\": [{\"type\": \"replied_to\", \"type\": \"x\"}]}",
    "{\"id\": \"8\", \"text\": \"refs not an array\", \"referenced_tweets\": {\"type\": \"replied_to\"}}",
    "{\"id\": \"9\", \"text\": \"reply by number\", \"in_reply_to_status_id\": 0}",
    "{\"id\": \"10\", \"text\": \"reply empty\", \"in_reply_to_status_id_str\": \"\", \"in_reply_to_status_id\": null}",
    "{\"id\": \"11\", \"text\": \"reply false\", \"in_reply_to_status_id_str\": false, \"in_reply_to_status_id\": true}",
    "{\"id\": \"12\", \"text\": \"reply str\", \"in_reply_to_status_id_str\": \"123\", \"in_reply_to_user_id\": 4}",
    "{\"id\": \"13\", \"text\": \"retweeted_status {}\", \"retweeted_status\": {}}",
    "{\"id\": \"14\", \"text\": \"retweeted_status str\", \"retweeted_status\": \"x\", \"user\": {\"screen_name\": \"\"}}",
    "{\"id\": \"15\", \"text\": \"RT @bob: retweet text\", \"user\": {\"screen_name\": \"bob_1\"}, \"lang\": \"\"}",
    "{\"id\": \"16\", \"text\": \"long name\", \"user\": {\"screen_name\": "
    "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}}",
    "{\"id\": \"17\", \"text\": \"odd name\", \"author\": {\"username\": \"b\\u00f6b \\\"q\\\"\"}, \"created_at\": \"\", "
    "\"tweet\": {\"created_at\": \"then this\"}}",
    "{\"id\": \"x18\", \"text\": \"id not digits\", \"user\": {\"screen_name\": \"bob\"}}",
    "{\"id\": 19, \"text\": \"number id\", \"user\": {\"screen_name\": \"bob\", \"screen_name\": \"dup\"}}",
    "{\"id\": \"20\", \"text\": \"controls\", \"lang\": \"e\\u0001n\x7f\\t\", \"source\": \"\\\\ \\/ \\b\"}",
    "{\"id\": \"21\", \"text\": \"bad utf-8 kept\", \"lang\": \"e\xC3\x28\", \"x\": \"\xFF\"}",
    "{\"id\": \"22\", \"text\": \"values\", \"x\": {\"a\": {}, \"b\": [], \"c\": [1, {\"d\": null}, -0.5e+3, true, "
    "\"s\\n\"], \"a\": 2}, \"geo\": null, \"possibly_sensitive\": false, \"k\x7f" "ey\": 1377650090978992134, "
    "\"public_metrics\": {\"like_count\": 5, \"retweet_count\": 0}, \"edit_history_tweet_ids\": [\"22\"]}",
    "{\"id\": \"23\", \"text\": \"hashtags\", \"entities\": {\"hashtags\": [{\"text\": \"a\", \"indices\": [0, 2]}], "
    "\"urls\": [{\"url\": \"https://t.co/x\"}]}, \"data\": [\"not\", \"a page\"]}",
    "{\"data\": [{\"id\": \"1\", \"text\": \"by includes\", \"author_id\": \"7\"}, {\"id\": \"2\", \"text\": \"nobody\", "
    "\"author_id\": \"8\"}, {\"id\": \"3\", \"text\": \"no author id\"}, {\"id\": \"4\", \"text\": \"empty name\", "
    "\"author_id\": \"6\"}, {\"id\": \"5\", \"text\": \"esc id\", \"author_id\": \"\\u0037\"}], \"includes\": "
    "{\"users\": [5, [], {\"id\": 7, \"username\": \"num\"}, {\"id\": \"6\", \"username\": \"\"}, "
    "{\"id\": \"7\", \"username\": \"seven\"}, {\"id\": \"8\"}]}}",
    "{\"data\": [{\"id\": \"1\", \"text\": \"dup user\", \"author_id\": \"7\"}], \"includes\": {\"users\": "
    "[{\"id\": \"7\", \"id\": \"9\", \"username\": \"seven\"}]}}",
    "{\"data\": [{\"id\": \"1\", \"text\": \"users not array\", \"author_id\": \"7\"}], \"includes\": {\"users\": {}}}",
    "{\"data\": {\"id\": \"31\", \"text\": \"streamed reply\", \"author_id\": \"7\", \"lang\": \"de\", "
    "\"referenced_tweets\": [{\"type\": \"retweeted\"}], \"created_at\": \"c\"}, "
    "\"includes\": {\"users\": [{\"id\": \"7\", \"username\": \"streamer\"}]}}",
};

/* The tricky records as one NDJSON input, and as tweets.js elements wrapped in {"tweet": ...}. */
static void test_tricky(void) {
    size_t n_sets, cap = 1 << 16, n = 0, m = 0, e = 0;
    const ep_reader_options *sets = option_sets(&n_sets);
    char *nd = malloc(cap), *el = malloc(cap * 2), *js = malloc(cap * 2 + 64), *ar = malloc(cap * 2 + 128);
    if (!nd || !el || !js || !ar) abort();
    for (size_t i = 0; i < sizeof TRICKY / sizeof *TRICKY; i++) {
        n += (size_t)sprintf(nd + n, "%s\n", TRICKY[i]);
        if (TRICKY[i][0] == '{' && !strstr(TRICKY[i], "truncated") && !strstr(TRICKY[i], "trailing") &&
            !strstr(TRICKY[i], "no comma"))
            e += (size_t)sprintf(el + e, "%s{\"tweet\": %s}", e ? ",\n" : "", TRICKY[i]);
    }
    m = (size_t)sprintf(js, "window.YTD.tweets.part0 = [\n%s\n]\n", el);
    // archive.json names its account inside: "default"'s author for tweets without one of their own.
    size_t a_len = (size_t)sprintf(ar, "{\"account\": [{\"account\": {\"username\": \"owner_1\"}}], \"tweets\": [%s]}", el);
    uint64_t fast_nd = 0, fast_js = 0, fast_keep = 0;
    for (size_t s = 0; s < n_sets; s++) {
        ep_reader_options o = sets[s];
        o.format = EP_FORMAT_NDJSON;
        frames a = frame_input("tricky.jsonl", nd, n, &o);
        CHECKF(a.n + 2 >= sizeof TRICKY / sizeof *TRICKY, "%zu frames", a.n); /* a raw \r\n splits one */
        uint64_t k = compare("tricky.jsonl", &a, &o);
        if (s == 0) fast_nd = k;
        if (s == FIRST_KEEP_SET) fast_keep = k;
        // Every set that keeps fields is read the fast way where it can, but the one whose output needs repair.
        if (s >= FIRST_KEEP_SET) CHECKF((k > 10) == (s != n_sets - 1), "option set %zu: %llu fast records", s,
                                        (unsigned long long)k);
        frames_free(&a);
        o.format = EP_FORMAT_TWEETS_JS;
        frames b = frame_input("tweets.js", js, m, &o);
        CHECK(b.n > 10);
        k = compare("tricky tweets.js", &b, &o);
        if (s == 0) fast_js = k;
        frames_free(&b);
        o.format = EP_FORMAT_ARCHIVE_JSON;
        frames c = frame_input("archive.json", ar, a_len, &o);
        CHECK(c.n == b.n);
        compare("tricky archive.json", &c, &o);
        frames_free(&c);
    }
    // The plain ones go the fast way, the rest to cJSON (fewer fast records than records).
    CHECKF(fast_nd >= 20 && fast_nd < 60, "%llu fast NDJSON records", (unsigned long long)fast_nd);
    CHECKF(fast_js >= 15, "%llu fast tweets.js records", (unsigned long long)fast_js);
    CHECKF(fast_keep >= 30 && fast_keep < fast_nd + 20, "%llu fast NDJSON records with --keep (%llu without)",
           (unsigned long long)fast_keep, (unsigned long long)fast_nd);
    free(nd);
    free(el);
    free(js);
    free(ar);
}

// ----------------------------------------------------------------------------
// Real data

static void test_file(const char *data, const char *sub, const char *name, ep_input_format format, bool want_fast) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/%s", data, sub, name);
    if (!ep_test_exists(path)) {
        printf("note: %s absent, skipped\n", path);
        return;
    }
    size_t n_sets;
    const ep_reader_options *sets = option_sets(&n_sets);
    for (size_t s = 0; s < n_sets && s < FIRST_TRICKY_ONLY_SET; s++) {
        ep_reader_options o = sets[s];
        o.format = format;
        frames fs = frame_input(path, NULL, 0, &o);
        CHECKF(fs.n > 0, "%s: no frames", path);
        uint64_t k = compare(path, &fs, &o);
        if ((s == 0 || s == FIRST_KEEP_SET) && want_fast)
            CHECKF(k > 0, "%s: the fast path served no record (option set %zu)", path, s);
        frames_free(&fs);
    }
}

/* A TweetEval file's lines as NDJSON records, each text a JSON string: non-ASCII as \u escapes
 * (pairs beyond the BMP) on every other line, raw UTF-8 on the rest. */
static void test_tweeteval_json(const char *data, const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/tweeteval/%s", data, name);
    if (!ep_test_exists(path)) {
        printf("note: %s absent, skipped\n", path);
        return;
    }
    size_t len = 0;
    char *all = ep_test_read_file(path, &len);
    char *out = malloc(len * 12 + 64);
    if (!out) abort();
    size_t o = 0, line = 0;
    const unsigned char *p = (const unsigned char *)all;
    size_t i = 0;
    while (i < len) {
        o += (size_t)sprintf(out + o, "{\"id\": %zu, \"lang\": \"en\", \"text\": \"", 1000000000000000000u + line);
        while (i < len && p[i] != '\n') {
            unsigned char c = p[i];
            if (c == '"' || c == '\\') {
                out[o++] = '\\';
                out[o++] = (char)c;
                i++;
            } else if (c < 0x20) {
                o += (size_t)sprintf(out + o, "\\u%04x", c);
                i++;
            } else if (c >= 0x80 && line % 2 == 1) {
                utf8proc_int32_t cp;
                utf8proc_ssize_t k = utf8proc_iterate(p + i, (utf8proc_ssize_t)(len - i), &cp);
                if (k <= 0) {
                    out[o++] = (char)c;
                    i++;
                    continue;
                }
                if (cp >= 0x10000)
                    o += (size_t)sprintf(out + o, "\\u%04X\\u%04X", 0xD800 + ((cp - 0x10000) >> 10),
                                         0xDC00 + ((cp - 0x10000) & 0x3FF));
                else
                    o += (size_t)sprintf(out + o, "\\u%04x", cp);
                i += (size_t)k;
            } else {
                out[o++] = (char)c;
                i++;
            }
        }
        o += (size_t)sprintf(out + o, "\"}\n");
        i++;
        line++;
    }
    size_t n_sets;
    const ep_reader_options *sets = option_sets(&n_sets);
    for (size_t s = 0; s < n_sets && s < FIRST_TRICKY_ONLY_SET; s++) {
        ep_reader_options opt = sets[s];
        opt.format = EP_FORMAT_NDJSON;
        frames fs = frame_input("tweeteval.jsonl", out, o, &opt);
        CHECK(fs.n == line);
        uint64_t k = compare(name, &fs, &opt);
        if (s == 0 || s == FIRST_KEEP_SET)
            CHECKF(k + 5 > line, "%s: %llu of %zu lines went the fast way (option set %zu)", name, (unsigned long long)k,
                   line, s);
        frames_free(&fs);
    }
    free(out);
    free(all);
}

int main(void) {
    test_tricky();
    const char *data = ep_test_shared_data();
    test_file(data, "twarc", "flat.jsonl", EP_FORMAT_NDJSON, true);
    test_file(data, "twarc", "kpop.jsonl", EP_FORMAT_NDJSON, true);
    test_file(data, "twarc", "brexit.jsonl", EP_FORMAT_NDJSON, true);
    test_file(data, "twarc", "streaming_output_with_error.jsonl", EP_FORMAT_NDJSON, true);
    test_file(data, "twitter-export", "tweets.js", EP_FORMAT_TWEETS_JS, true);
    test_tweeteval_json(data, "emotion-test_text.txt");
    test_tweeteval_json(data, "sentiment-test_text.txt");
    test_tweeteval_json(data, "emoji-val_text.txt");
    tmp_cleanup();
    return ep_test_finish("test_record_fast");
}
