/*
 * test_reader.c - the input readers on small inputs written here: NDJSON,
 * API pages, plain lines; text and id paths; exact 19-digit ids; every kind
 * of bad record rejected with its line while the good ones around it come
 * through; .zst, .gz and standard input. (tweets.js and archive.json:
 * test_reader_framed.c; the shared real data: test_reader_real.c.)
 */
#include <fcntl.h>
#include <sys/wait.h>

#include "reader_test_util.h"

/* Checks record i: a record on line with text (and id when not NULL). */
#define EXPECT_REC(g, i, ln, txt, ident) expect_rec(__LINE__, (g), (i), (ln), (txt), (ident))
/* Checks record i: a rejection on line whose reason contains what. */
#define EXPECT_REJ(g, i, ln, what) expect_rej(__LINE__, (g), (i), (ln), (what))

static void expect_rec(int at, const got_all *g, size_t i, uint64_t line, const char *text, const char *id) {
    if (i >= g->n) {
        fprintf(stderr, "test_reader.c:%d: record %zu missing\n", at, i);
        got_dump("got", g);
        ep_test_failures++;
        return;
    }
    const got_rec *r = &g->v[i];
    bool ok = r->kind == EP_READ_RECORD && r->line == line && strlen(text) == r->text_len &&
              memcmp(r->text, text, r->text_len) == 0 && (!id || strcmp(r->id, id) == 0);
    if (!ok) {
        fprintf(stderr, "test_reader.c:%d: record %zu: want line %llu text '%s' id '%s'\n", at, i,
                (unsigned long long)line, text, id ? id : "(any)");
        got_dump("got", g);
        ep_test_failures++;
    }
}

static void expect_rej(int at, const got_all *g, size_t i, uint64_t line, const char *what) {
    if (i >= g->n) {
        fprintf(stderr, "test_reader.c:%d: rejection %zu missing\n", at, i);
        got_dump("got", g);
        ep_test_failures++;
        return;
    }
    const got_rec *r = &g->v[i];
    if (r->kind != EP_READ_REJECTED || r->line != line || !strstr(r->reason, what)) {
        fprintf(stderr, "test_reader.c:%d: record %zu: want a rejection on line %llu saying '%s'\n", at, i,
                (unsigned long long)line, what);
        got_dump("got", g);
        ep_test_failures++;
    }
}

static got_all read_str(const char *s, const char *name, const ep_reader_options *o) {
    return read_mem(s, strlen(s), name, o);
}

// ----------------------------------------------------------------------------

static void test_format_names(void) {
    ep_error err;
    for (int f = EP_FORMAT_AUTO; f <= EP_FORMAT_LINES; f++) {
        ep_input_format back = EP_FORMAT_LINES;
        CHECK_OK(ep_input_format_parse(ep_input_format_name((ep_input_format)f), &back, &err), &err);
        CHECK(back == (ep_input_format)f);
    }
    ep_input_format out;
    CHECK(ep_input_format_parse("csv", &out, &err) == EP_ERR_USAGE);
    CHECK(strstr(err.message, "ndjson") != NULL);
}

static void test_ndjson_basic(void) {
    const char *in = "{\"id_str\": \"11\", \"text\": \"first tweet &amp; more\"}\n"
                     "\n"
                     "   \r\n"
                     "{\"id\": \"12\", \"full_text\": \"caf\\u00e9 \\ud83d\\ude00 \\\"quoted\\\"\\nnext\"}\r\n"
                     "{\"tweet\": {\"id_str\": \"13\", \"full_text\": \"nested\"}}\n"
                     "{\"content\": \"from content\"}\n"
                     "{\"body\": \"from body\", \"id\": 7}\n"
                     "{\"data\": {\"id\": \"14\", \"text\": \"stream item\"}, \"matching_rules\": []}\n";
    got_all g = read_str(in, "in.jsonl", NULL);
    CHECK(g.format == EP_FORMAT_NDJSON);
    CHECK(g.status == EP_OK && g.rejected == 0);
    EXPECT_REC(&g, 0, 1, "first tweet &amp; more", "11");
    EXPECT_REC(&g, 1, 4, "caf\xC3\xA9 \xF0\x9F\x98\x80 \"quoted\"\nnext", "12");
    EXPECT_REC(&g, 2, 5, "nested", "13");
    EXPECT_REC(&g, 3, 6, "from content", "");
    EXPECT_REC(&g, 4, 7, "from body", "7");
    EXPECT_REC(&g, 5, 8, "stream item", "14");
    CHECK(g.n == 6);
    got_free(&g);
}

static void test_paths(void) {
    const char *in = "{\"user\": {\"handle\": \"ann\"}, \"msg\": {\"parts\": [\"zero\", \"one\"]}, \"text\": \"no\"}\n"
                     "{\"user\": {\"handle\": \"bob\"}, \"msg\": {\"parts\": [\"two\"]}}\n"
                     "{\"user\": {\"handle\": \"cy\"}, \"msg\": {}}\n"
                     "{\"user\": {\"handle\": null}, \"msg\": {\"parts\": [\"three\", \"x\"]}}\n";
    ep_reader_options o = {.text_path = "msg.parts.0", .id_path = "user.handle"};
    got_all g = read_str(in, "p.jsonl", &o);
    EXPECT_REC(&g, 0, 1, "zero", "ann");
    EXPECT_REC(&g, 1, 2, "two", "bob");
    EXPECT_REJ(&g, 2, 3, "no text field 'msg.parts.0' (given by text_path)");
    CHECK(g.n > 2 && strcmp(g.v[2].id, "cy") == 0);
    EXPECT_REJ(&g, 3, 4, "id field 'user.handle' is null");
    CHECK(g.n == 4);
    got_free(&g);

    // Without --text, the defaults apply; a non-string at one default does not hide a later one.
    got_all d = read_str("{\"text\": {\"rich\": true}, \"full_text\": \"plain\"}\n", "d.jsonl", NULL);
    EXPECT_REC(&d, 0, 1, "plain", "");
    got_free(&d);
}

static void test_numeric_ids(void) {
    // 2^63 - 1 and a 19-digit tweet id: a double would round both.
    const char *in = "{\"id\": 1377650090978992134, \"text\": \"a\"}\n"
                     "{\"n\": 12345678901234567890, \"x\": {\"id\": 3, \"s\": \"1 2\"}, \"id\": 9223372036854775807, "
                     "\"text\": \"b\"}\n"
                     "{\"id\": -42, \"text\": \"c\"}\n"
                     "{\"id\": 1.5e3, \"text\": \"d\"}\n"
                     "{\"data\": [{\"id\": 1377650090978992135, \"text\": \"e\"}, {\"id\": 1377650090978992136, "
                     "\"text\": \"f\"}]}\n";
    got_all g = read_str(in, "n.jsonl", NULL);
    EXPECT_REC(&g, 0, 1, "a", "1377650090978992134");
    EXPECT_REC(&g, 1, 2, "b", "9223372036854775807");
    EXPECT_REC(&g, 2, 3, "c", "-42");
    EXPECT_REC(&g, 3, 4, "d", "1.5e3");
    EXPECT_REC(&g, 4, 5, "e", "1377650090978992135");
    EXPECT_REC(&g, 5, 5, "f", "1377650090978992136");
    CHECK(g.n == 6);
    got_free(&g);

    ep_reader_options o = {.id_path = "x.id"};
    got_all h = read_str("{\"id\": 5, \"x\": {\"id\": 1234567890123456789}, \"text\": \"t\"}\n", "h.jsonl", &o);
    EXPECT_REC(&h, 0, 1, "t", "1234567890123456789");
    got_free(&h);
}

static void test_api_pages(void) {
    const char *in = "{\"data\": [{\"id\": \"1\", \"text\": \"one\"}, {\"id\": \"2\", \"text\": \"two\"}, 5, "
                     "{\"id\": \"3\"}, {\"id\": \"4\", \"text\": \"four\"}], \"includes\": {\"tweets\": [{\"text\": "
                     "\"not me\"}]}}\n"
                     "{\"data\": [], \"meta\": {\"result_count\": 0}}\n"
                     "{\"errors\": [{\"title\": \"Operational Disconnect\", \"detail\": \"This stream has been "
                     "disconnected.\"}]}\n"
                     "{\"id\": \"5\", \"text\": \"after\"}\n";
    got_all g = read_str(in, "pages.jsonl", NULL);
    EXPECT_REC(&g, 0, 1, "one", "1");
    EXPECT_REC(&g, 1, 1, "two", "2");
    EXPECT_REJ(&g, 2, 1, "data[2]: is a number, not a tweet object");
    EXPECT_REJ(&g, 3, 1, "data[3]: no text field");
    CHECK(g.n > 3 && strcmp(g.v[3].id, "3") == 0);
    EXPECT_REC(&g, 4, 1, "four", "4");
    EXPECT_REJ(&g, 5, 3, "an API error object, not a tweet (This stream has been disconnected.)");
    EXPECT_REC(&g, 6, 4, "after", "5");
    CHECK(g.n == 7);
    got_free(&g);
}

/* Every bad-record kind in one NDJSON file, good records between them. */
static void test_ndjson_rejections(void) {
    sbuf b = {0};
    sb_printf(&b, "{\"id\": \"1\", \"text\": \"good one\"}\n");                   // 1
    sb_printf(&b, "{\"id\": \"2\", \"text\": \"broken\" \"x\"}\n");               // 2 malformed
    sb_printf(&b, "{\"id\": \"3\", \"text\": \"bad \xff byte\"}\n");              // 3 invalid UTF-8
    sb_printf(&b, "{\"id\": \"4\", \"lang\": \"en\"}\n");                         // 4 missing text
    sb_printf(&b, "{\"id\": \"5\", \"text\": null}\n");                           // 5 null
    sb_printf(&b, "{\"id\": \"6\", \"text\": 12345}\n");                          // 6 number
    sb_printf(&b, "{\"id\": \"7\", \"text\": true}\n");                           // 7 boolean
    sb_printf(&b, "{\"id\": \"8\", \"text\": {\"a\": 1}}\n");                     // 8 object
    sb_printf(&b, "{\"id\": \"9\", \"text\": \"good two\"}\n");                   // 9
    sb_printf(&b, "{\"id\": \"10\", \"text\": \"");                              // 10: 10 MB
    for (int i = 0; i < 10 * 1024; i++) {
        char kb[1024];
        memset(kb, 'a' + i % 26, sizeof kb);
        sb_add(&b, kb, sizeof kb);
    }
    sb_printf(&b, "\"}\n");
    sb_printf(&b, "{\"id\": \"11\", \"text\": \"nul");                            // 11 raw NUL
    sb_add(&b, "\0", 1);
    sb_printf(&b, "byte\"}\n");
    sb_printf(&b, "{\"id\": \"12\", \"text\": \"cut\\u0000here\"}\n");            // 12 \u0000 in the text: removed
    sb_printf(&b, "{\"id\": \"13\", \"bio\": \"x\\u0000y\", \"text\": \"ok\"}\n"); // 13 \u0000 elsewhere: fine
    sb_printf(&b, "{\"id\": \"14\", \"text\": \"\\\\u0000 is not an escape\"}\n"); // 14 fine
    sb_printf(&b, "[1, 2]\n");                                                  // 15 not an object
    sb_printf(&b, "{\"id\": \"16\", \"text\": \"\"}\n");                          // 16 empty
    sb_printf(&b, "{\"id\": \"17\", \"text\": \"good three\"}\n");                // 17
    sb_printf(&b, "{\"id\": \"18\", \"text\": \" \\n\\t \"}\n");                   // 18 blank
    sb_printf(&b, "{\"id\": \"19\", \"text\": \"trunc");                          // 19 truncated last line
    got_all g = read_mem(b.p, b.n, "bad.jsonl", NULL);
    CHECK(g.status == EP_OK);
    size_t i = 0;
    EXPECT_REC(&g, i++, 1, "good one", "1");
    EXPECT_REJ(&g, i++, 2, "not valid JSON: parse error at column 30 (near '\"x\"}')");
    EXPECT_REJ(&g, i++, 3, "text field 'text' is not valid UTF-8 at byte 4");
    CHECK(g.n > 2 && strcmp(g.v[2].id, "3") == 0);
    EXPECT_REJ(&g, i++, 4, "no text field: tried text, full_text, tweet.full_text");
    EXPECT_REJ(&g, i++, 5, "text field 'text' is null, not a string");
    EXPECT_REJ(&g, i++, 6, "text field 'text' is a number, not a string");
    EXPECT_REJ(&g, i++, 7, "text field 'text' is a boolean, not a string");
    EXPECT_REJ(&g, i++, 8, "text field 'text' is an object, not a string");
    EXPECT_REC(&g, i++, 9, "good two", "9");
    EXPECT_REJ(&g, i++, 10, "more than max_record_bytes 1048576");
    EXPECT_REJ(&g, i++, 11, "NUL byte at column 26");
    EXPECT_REC(&g, i++, 12, "cuthere", "12");
    EXPECT_REC(&g, i++, 13, "ok", "13");
    EXPECT_REC(&g, i++, 14, "\\u0000 is not an escape", "14");
    EXPECT_REJ(&g, i++, 15, "line is an array, not an object");
    EXPECT_REJ(&g, i++, 16, "text field 'text' is empty");
    EXPECT_REC(&g, i++, 17, "good three", "17");
    EXPECT_REJ(&g, i++, 18, "text field 'text' is blank (only whitespace)");
    EXPECT_REJ(&g, i++, 19, "the last line has no newline, so the file is probably truncated");
    CHECK(g.n == i);
    CHECK(g.records == 6);
    for (size_t k = 0; k < g.n; k++) {
        if (g.v[k].kind == EP_READ_REJECTED) CHECKF(strlen(g.v[k].reason) > 10, "reason %zu too short", k);
    }
    got_free(&g);

    // A record exactly at the limit passes; one byte more is rejected, and says how big it was.
    ep_reader_options o = {.max_record_bytes = 31};
    got_all lim = read_str("{\"text\": \"0123456789012345678\"}\n{\"text\": \"01234567890123456789\"}\n", "l.jsonl",
                           &o);
    EXPECT_REC(&lim, 0, 1, "0123456789012345678", "");
    EXPECT_REJ(&lim, 1, 2, "record is 32 bytes, more than max_record_bytes 31");
    // Without the CLI the reason names the option a library caller sets, never a command-line flag
    // (common/setting_names.h): the whole reason, so that a "--max-record-bytes" left anywhere in it fails.
    if (lim.n > 1 && lim.v[1].kind == EP_READ_REJECTED)
        CHECKF(strcmp(lim.v[1].reason, "record is 32 bytes, more than max_record_bytes 31; raise max_record_bytes "
                                       "to read it") == 0 && !strstr(lim.v[1].reason, "--"),
               "reason: '%s'", lim.v[1].reason);
    got_free(&lim);
    free(b.p);
}

static void test_empty(void) {
    got_all e = read_str("", "empty.jsonl", NULL);
    CHECK(e.open_status == EP_OK && e.status == EP_OK);
    EXPECT_REJ(&e, 0, 0, "empty file: no records");
    CHECK(e.n == 1);
    got_free(&e);
    got_all b = read_str("\n  \n\r\n", "blank.jsonl", NULL);
    EXPECT_REJ(&b, 0, 0, "no records: the file holds only blank lines");
    CHECK(b.n == 1);
    got_free(&b);
    ep_reader_options lines = {.format = EP_FORMAT_LINES};
    got_all l = read_str("", "empty.txt", &lines);
    EXPECT_REJ(&l, 0, 0, "empty file");
    CHECK(l.n == 1);
    got_free(&l);
    // A file with records but no good ones gives no extra rejection.
    got_all x = read_str("{\"a\": 1}\n", "x.jsonl", NULL);
    CHECK(x.n == 1 && x.rejected == 1 && x.v[0].line == 1);
    got_free(&x);
}

static void test_lines(void) {
    sbuf b = {0};
    sb_printf(&b, "plain line one\r\n");            // 1
    sb_printf(&b, "\n");                            // 2 blank: the empty text
    sb_printf(&b, "  {not json} \xE2\x9C\x93\n");   // 3 kept exactly
    sb_printf(&b, "bad \xC3\x28 utf8\n");           // 4 invalid UTF-8
    sb_printf(&b, "nul ");                          // 5 NUL
    sb_add(&b, "\0", 1);
    sb_printf(&b, " byte\n");
    sb_printf(&b, " \t \n");                        // 6 whitespace only: the empty text
    for (int i = 0; i < 2 * 1024 * 1024; i++) sb_add(&b, "x", 1);  // 7 too long
    sb_printf(&b, "\n");
    sb_printf(&b, "overlong \xC0\xAF and surrogate \xED\xA0\x80\n"); // 8
    sb_printf(&b, "last without newline");          // 9
    ep_reader_options o = {.format = EP_FORMAT_LINES};
    got_all g = read_mem(b.p, b.n, "t.txt", &o);
    // Every line is one record, so that record N is line N.
    EXPECT_REC(&g, 0, 1, "plain line one", "");
    EXPECT_REC(&g, 1, 2, "", "");
    EXPECT_REC(&g, 2, 3, "  {not json} \xE2\x9C\x93", "");
    EXPECT_REJ(&g, 3, 4, "line is not valid UTF-8 at byte 4");
    EXPECT_REJ(&g, 4, 5, "NUL byte at byte 4 of the line");
    EXPECT_REC(&g, 5, 6, "", "");
    EXPECT_REJ(&g, 6, 7, "more than max_record_bytes");
    EXPECT_REJ(&g, 7, 8, "not valid UTF-8 at byte 9");
    EXPECT_REC(&g, 8, 9, "last without newline", "");
    CHECK(g.n == 9);
    CHECK(g.n == 9 && g.v[1].blank && g.v[5].blank && !g.v[0].blank && !g.v[2].blank && !g.v[8].blank);
    // A file of blank lines only is that many empty texts; a final newline ends the last line, it adds none.
    got_all bl = read_str("\n\n \r\n", "blank.txt", NULL);
    CHECK(bl.format == EP_FORMAT_LINES && bl.n == 3 && bl.records == 3);
    EXPECT_REC(&bl, 2, 3, "", "");
    got_free(&bl);
    got_free(&g);
    // Detected from the name, and from content that is not JSON.
    got_all d = read_mem(b.p, 20, "t.txt", NULL);
    CHECK(d.format == EP_FORMAT_LINES);
    got_free(&d);
    got_all j = read_str("{joke} haha\n{another one}\n", "noext", NULL);
    CHECK(j.format == EP_FORMAT_LINES && j.records == 2);
    got_free(&j);
    free(b.p);
}

static void test_bom_and_detection(void) {
    got_all g = read_str("\xEF\xBB\xBF{\"text\": \"after bom\"}\n", "noext", NULL);
    CHECK(g.format == EP_FORMAT_NDJSON);
    EXPECT_REC(&g, 0, 1, "after bom", "");
    got_free(&g);
    // A .jsonl whose first line is broken is still NDJSON: the line is rejected, the rest read.
    got_all b = read_str("{\"text\": \"a\"\n{\"text\": \"b\"}\n", "b.jsonl", NULL);
    CHECK(b.format == EP_FORMAT_NDJSON);
    EXPECT_REJ(&b, 0, 1, "not valid JSON");
    EXPECT_REC(&b, 1, 2, "b", "");
    got_free(&b);
    // Without a name, one good line among the first ones is enough.
    got_all c = read_str("{\"text\": \"a\" oops}\n{\"text\": \"b\"}\n", "-", NULL);
    CHECK(c.format == EP_FORMAT_NDJSON);
    got_free(&c);
    // A single-line object holding a "tweets" array is an archive.json; with more lines it is NDJSON.
    got_all a = read_str("{\"tweets\": [{\"tweet\": {\"id_str\": \"1\", \"full_text\": \"x\"}}]}", "x", NULL);
    CHECK(a.format == EP_FORMAT_ARCHIVE_JSON && a.records == 1);
    got_free(&a);
    got_all n = read_str("{\"tweets\": [], \"text\": \"r1\"}\n{\"text\": \"r2\"}\n", "x", NULL);
    CHECK(n.format == EP_FORMAT_NDJSON && n.records == 2);
    got_free(&n);
    // --format wins over the content.
    ep_reader_options o = {.format = EP_FORMAT_LINES};
    got_all f = read_str("{\"text\": \"a\"}\n", "x.jsonl", &o);
    EXPECT_REC(&f, 0, 1, "{\"text\": \"a\"}", "");
    got_free(&f);
}

// ----------------------------------------------------------------------------
// Files: plain, .zst, .gz, standard input

static const char *NDJSON_SAMPLE =
    "{\"id\": 1377650090978992134, \"text\": \"Radfahren im Regen \\u2614\"}\n"
    "{\"id\": \"2\", \"text\": \"second\"}\n"
    "not json\n"
    "{\"id\": \"4\", \"text\": \"fourth\"}\n";

static void expect_sample(const got_all *g, const char *what) {
    if (g->open_status != EP_OK || g->status != EP_OK) {
        fprintf(stderr, "%s: %s\n", what, g->err.message);
        ep_test_failures++;
        return;
    }
    CHECKF(g->format == EP_FORMAT_NDJSON, "%s", what);
    EXPECT_REC(g, 0, 1, "Radfahren im Regen \xE2\x98\x94", "1377650090978992134");
    EXPECT_REC(g, 1, 2, "second", "2");
    EXPECT_REJ(g, 2, 3, "not valid JSON");
    EXPECT_REC(g, 3, 4, "fourth", "4");
    CHECKF(g->n == 4, "%s: %zu", what, g->n);
}

static void test_files(void) {
    size_t len = strlen(NDJSON_SAMPLE);
    got_all p = read_path(tmp_write("s.jsonl", NDJSON_SAMPLE, len), NULL);
    expect_sample(&p, "plain");
    got_free(&p);

    size_t zn, gn;
    unsigned char *z = zstd_bytes(NDJSON_SAMPLE, len, &zn);
    unsigned char *gz = gzip_bytes(NDJSON_SAMPLE, len, &gn);
    got_all zs = read_path(tmp_write("s.jsonl.zst", z, zn), NULL);
    expect_sample(&zs, ".zst");
    got_free(&zs);
    got_all gs = read_path(tmp_write("s.jsonl.gz", gz, gn), NULL);
    expect_sample(&gs, ".gz");
    got_free(&gs);
    // Compression is recognised by its magic bytes, whatever the name.
    got_all zx = read_path(tmp_write("s.data", z, zn), NULL);
    expect_sample(&zx, "zstd without .zst");
    got_free(&zx);

    // Two frames / members back to back read as one stream.
    size_t half = strlen("{\"id\": 1377650090978992134, \"text\": \"Radfahren im Regen \\u2614\"}\n") + 5;
    size_t z1n, z2n, g1n, g2n;
    unsigned char *z1 = zstd_bytes(NDJSON_SAMPLE, half, &z1n), *z2 = zstd_bytes(NDJSON_SAMPLE + half, len - half, &z2n);
    unsigned char *g1 = gzip_bytes(NDJSON_SAMPLE, half, &g1n), *g2 = gzip_bytes(NDJSON_SAMPLE + half, len - half, &g2n);
    sbuf zz = {0}, gg = {0};
    sb_add(&zz, z1, z1n);
    sb_add(&zz, z2, z2n);
    sb_add(&gg, g1, g1n);
    sb_add(&gg, g2, g2n);
    got_all zm = read_path(tmp_write("m.jsonl.zst", zz.p, zz.n), NULL);
    expect_sample(&zm, "two zstd frames");
    got_free(&zm);
    got_all gm = read_path(tmp_write("m.jsonl.gz", gg.p, gg.n), NULL);
    expect_sample(&gm, "two gzip members");
    got_free(&gm);

    // Truncated or corrupt compressed data is an error that says so.
    got_all zt = read_path(tmp_write("t.jsonl.zst", z, zn - 3), NULL);
    // Small files fail while the reader looks at their first bytes, big ones later: either way, a format error.
    CHECKF((zt.open_status == EP_ERR_FORMAT || zt.status == EP_ERR_FORMAT) && strstr(zt.err.message, "truncated"),
           "%s", zt.err.message);
    got_free(&zt);
    got_all gt = read_path(tmp_write("t.jsonl.gz", gz, gn - 9), NULL);
    CHECKF((gt.open_status == EP_ERR_FORMAT || gt.status == EP_ERR_FORMAT) && strstr(gt.err.message, "truncated"),
           "%s", gt.err.message);
    got_free(&gt);
    unsigned char *bad = malloc(zn);
    memcpy(bad, z, zn);
    for (size_t i = 8; i < zn - 4; i++) bad[i] ^= 0x5A;
    got_all zc = read_path(tmp_write("c.jsonl.zst", bad, zn), NULL);
    CHECKF((zc.open_status == EP_ERR_FORMAT || zc.status == EP_ERR_FORMAT) && strstr(zc.err.message, "corrupt zstd"),
           "%s", zc.err.message);
    got_free(&zc);

    // Missing files and folders are EP_ERR_IO at open.
    got_all missing = read_path("/nonexistent/x.jsonl", NULL);
    CHECK(missing.open_status == EP_ERR_IO && strstr(missing.err.message, "/nonexistent/x.jsonl"));
    got_all dir = read_path(tmp_dir(), NULL);
    CHECK(dir.open_status == EP_ERR_IO && strstr(dir.err.message, "folder"));

    free(bad);
    free(z);
    free(gz);
    free(z1);
    free(z2);
    free(g1);
    free(g2);
    free(zz.p);
    free(gg.p);
}

/* "-" reads standard input: here a pipe that a child process fills in small pieces. */
static void test_stdin_pipe(bool compressed) {
    size_t len = strlen(NDJSON_SAMPLE), n = len;
    unsigned char *data = (unsigned char *)NDJSON_SAMPLE, *z = NULL;
    if (compressed) data = z = zstd_bytes(NDJSON_SAMPLE, len, &n);
    int fds[2];
    if (pipe(fds) != 0) {
        perror("pipe");
        ep_test_failures++;
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        for (size_t i = 0; i < n; i += 7) {
            size_t k = n - i < 7 ? n - i : 7;
            if (write(fds[1], data + i, k) != (ssize_t)k) _exit(1);
            usleep(200);
        }
        _exit(0);
    }
    close(fds[1]);
    int saved = dup(STDIN_FILENO);
    dup2(fds[0], STDIN_FILENO);
    close(fds[0]);
    got_all g = read_path("-", NULL);
    dup2(saved, STDIN_FILENO);
    close(saved);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    expect_sample(&g, compressed ? "zstd on standard input" : "standard input");
    got_free(&g);
    free(z);
}

/* Issue 8: what cJSON or a naive reader gets wrong, said or done right. */
static void test_named_problems(void) {
    // \u0000 escapes are removed from the text (BERT's tokenizer drops NUL too); in an id they stay an error.
    got_all n = read_str("{\"id\": \"1\", \"text\": \"a\\u0000b \\u00e9\\ud83d\\ude00\\u0000\\n\\\"q\\\"\"}\n"
                         "{\"id\": \"2\", \"text\": \"\\u0000\"}\n"
                         "{\"id\": \"x\\u0000y\", \"text\": \"fine\"}\n",
                         "nul.jsonl", NULL);
    EXPECT_REC(&n, 0, 1, "ab \xC3\xA9\xF0\x9F\x98\x80\n\"q\"", "1");
    EXPECT_REJ(&n, 1, 2, "text field 'text' is empty");
    EXPECT_REJ(&n, 2, 3, "id field 'id' contains a \\u0000 (NUL) escape");
    got_free(&n);
    // The same in a tweets.js element.
    got_all t = read_str("window.YTD.tweets.part0 = [{\"tweet\": {\"id_str\": \"7\", \"full_text\": \"x\\u0000y\"}}]",
                         "tweets.js", NULL);
    EXPECT_REC(&t, 0, 1, "xy", "7");
    got_free(&t);

    // Lone surrogates: high alone, low alone, high followed by something else.
    got_all s = read_str("{\"text\": \"cut \\ud83d\"}\n{\"text\": \"\\ude00 low\"}\n"
                         "{\"text\": \"\\ud83d\\u0041\"}\n{\"text\": \"pair \\ud83d\\ude00 ok\"}\n",
                         "s.jsonl", NULL);
    EXPECT_REJ(&s, 0, 1, "lone UTF-16 surrogate escape '\\ud83d'");
    EXPECT_REJ(&s, 1, 2, "lone UTF-16 surrogate escape '\\ude00'");
    EXPECT_REJ(&s, 2, 3, "lone UTF-16 surrogate escape '\\ud83d'");
    EXPECT_REC(&s, 3, 4, "pair \xF0\x9F\x98\x80 ok", "");
    got_free(&s);

    // Nesting deeper than cJSON's limit is named as such, not as a parse error at some column.
    sbuf d = {0};
    sb_printf(&d, "{\"text\": \"deep\", \"x\": ");
    for (int i = 0; i < 1200; i++) sb_add(&d, "[", 1);
    for (int i = 0; i < 1200; i++) sb_add(&d, "]", 1);
    sb_printf(&d, "}\n{\"text\": \"shallow\"}\n");
    got_all dg = read_mem(d.p, d.n, "deep.jsonl", NULL);
    EXPECT_REJ(&dg, 0, 1, "nested more than 1000 levels deep");
    EXPECT_REC(&dg, 1, 2, "shallow", "");
    got_free(&dg);
    free(d.p);

    // A key of the text or id path that appears twice: ambiguous, so rejected with the key named.
    got_all k = read_str("{\"id\": \"1\", \"text\": \"first\", \"text\": \"second\"}\n"
                         "{\"id\": \"2\", \"tweet\": {\"full_text\": \"a\"}, \"tweet\": {\"full_text\": \"b\"}}\n"
                         "{\"id\": \"3\", \"id\": \"4\", \"text\": \"t\"}\n"
                         "{\"id\": \"5\", \"text\": \"t\", \"other\": 1, \"other\": 2}\n",
                         "k.jsonl", NULL);
    EXPECT_REJ(&k, 0, 1, "the key 'text' of the text path 'text' appears twice");
    EXPECT_REJ(&k, 1, 2, "the key 'tweet' of the text path 'tweet.full_text' appears twice");
    EXPECT_REJ(&k, 2, 3, "the key 'id' of the id path 'id' appears twice");
    EXPECT_REC(&k, 3, 4, "t", "5"); /* a duplicate elsewhere does not matter */
    got_free(&k);

    // UTF-16 files are refused at open with what to do, with or without a byte order mark.
    static const char le_bom[] = "\xFF\xFE{\0\"\0t\0\"\0:\0 \0\"\0a\0\"\0}\0\n\0";
    static const char be_bom[] = "\xFE\xFF\0{\0\"\0t\0\"\0:\0 \0\"\0a\0\"\0}\0\n";
    static const char le_bare[] = "h\0e\0l\0l\0o\0 \0w\0o\0r\0l\0d\0\n\0";
    const struct { const char *p; size_t n; const char *what; } u16[] = {
        {le_bom, sizeof le_bom - 1, "is UTF-16LE text (it starts with a UTF-16 byte order mark)"},
        {be_bom, sizeof be_bom - 1, "is UTF-16BE text (it starts with a UTF-16 byte order mark)"},
        {le_bare, sizeof le_bare - 1, "is UTF-16LE text (a NUL byte beside every character)"}};
    for (size_t i = 0; i < 3; i++) {
        got_all u = read_mem(u16[i].p, u16[i].n, "u16.txt", NULL);
        CHECKF(u.open_status == EP_ERR_FORMAT && strstr(u.err.message, u16[i].what) &&
                   strstr(u.err.message, "iconv -f UTF-16 -t UTF-8 u16.txt"),
               "UTF-16 case %zu: %s", i, u.err.message);
        got_free(&u);
    }

    // Lines that look like JSON: read as lines (auto-detected), with a warning naming --format.
    // (the middle of a pretty-printed export, as a cut or a bad prefix leaves it)
    got_all w = read_str("    \"tweet\" : {\n      \"full_text\" : \"x\",\n      \"id\" : \"1\"\n    }\n  }, {\n", "frag",
                         NULL);
    CHECKF(w.format == EP_FORMAT_LINES && strstr(w.warning, "look like pieces of JSON") &&
               strstr(w.warning, "pass format ndjson"),
           "warning: '%s'", w.warning);
    got_free(&w);
    got_all plain = read_str("just some text\nand more text\n{not json} here\nlast line\n", "plain", NULL);
    CHECKF(plain.format == EP_FORMAT_LINES && plain.warning[0] == '\0', "unexpected warning '%s'", plain.warning);
    got_free(&plain);
    ep_reader_options lines = {.format = EP_FORMAT_LINES};
    got_all given = read_str("{\n\"a\": 1,\n\"b\": 2\n}\n", "given", &lines);
    CHECKF(given.warning[0] == '\0', "a format given by the user gets no warning: '%s'", given.warning);
    got_free(&given);
}

int main(void) {
    test_format_names();
    test_ndjson_basic();
    test_paths();
    test_numeric_ids();
    test_api_pages();
    test_ndjson_rejections();
    test_empty();
    test_lines();
    test_bom_and_detection();
    test_named_problems();
    test_files();
    test_stdin_pipe(false);
    test_stdin_pipe(true);
    tmp_cleanup();
    return ep_test_finish("test_reader");
}
