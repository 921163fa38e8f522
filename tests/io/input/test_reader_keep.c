/*
 * test_reader_keep.c - what the reader hands on besides text and id: the kept
 * fields (ep_reader_options.keep -> rec.fields) and the --clean steps
 * (options.clean -> rec.text, rec.skipped), on small inputs written here, for
 * NDJSON, an API v2 page, archive.json and plain lines; and the parsers of both
 * settings with their usage errors.
 */
#include "reader_test_util.h"

typedef struct kept {
    char text[512];
    char fields[1024];  /* "" when rec.fields was NULL */
    bool skipped, rejected;
    char reason[512];
} kept;

/* Reads every record of s into out (at most cap). @return how many. */
static size_t read_kept(const char *s, const char *name, const ep_reader_options *o, kept *out, size_t cap) {
    ep_reader *r = NULL;
    ep_error err;
    CHECK_OK(ep_reader_open_memory(s, strlen(s), name, o, &r, &err), &err);
    size_t n = 0;
    for (; r && n < cap; n++) {
        ep_record rec;
        ep_read_kind kind;
        CHECK_OK(ep_reader_next(r, &rec, &kind, &err), &err);
        if (kind == EP_READ_END) break;
        kept *k = &out[n];
        memset(k, 0, sizeof *k);
        k->rejected = kind == EP_READ_REJECTED;
        snprintf(k->reason, sizeof k->reason, "%s", rec.reason ? rec.reason : "");
        snprintf(k->text, sizeof k->text, "%.*s", (int)rec.text_len, rec.text ? rec.text : "");
        snprintf(k->fields, sizeof k->fields, "%s", rec.fields ? rec.fields : "");
        k->skipped = rec.skipped;
    }
    ep_reader_free(r);
    return n;
}

#define EXPECT_STR(got, want) CHECKF(strcmp((got), (want)) == 0, "got '%s', want '%s'", (got), (want))

static void test_clean_steps(void) {
    const char *in = "fish &amp; chips &gt; salad &amp;amp;\n"
                     "@alice @bob_2   thanks\n"
                     "see https://t.co/AbC123 and http://t.co/x9 too https://t.co/Q\n"
                     "hi @carol, see https://example.com/t.co/abc\n"
                     "RT @dave: retweeted\n"
                     "RT not a retweet\n"
                     "@erin https://t.co/Zz9\n"
                     "&#233;t&#xE9; &#0; &#xD800; &bogus; &\n"
                     "@frank\n"
                     "@@ x\n";
    ep_reader_options o = {.format = EP_FORMAT_LINES, .clean = EP_CLEAN_ALL};
    kept k[16];
    size_t n = read_kept(in, "c.txt", &o, k, 16);
    CHECK(n == 10);
    EXPECT_STR(k[0].text, "fish & chips > salad &amp;");  /* unescaped once, as a browser shows it */
    EXPECT_STR(k[1].text, "thanks");
    EXPECT_STR(k[2].text, "see and too");
    EXPECT_STR(k[3].text, "hi @carol, see https://example.com/t.co/abc");
    CHECK(k[4].skipped && !k[4].rejected);
    CHECK(!k[5].skipped);
    EXPECT_STR(k[5].text, "RT not a retweet");
    CHECK(k[6].rejected && strstr(k[6].reason, "empty after clean"));
    EXPECT_STR(k[7].text, "\xC3\xA9t\xC3\xA9 &#0; &#xD800; &bogus; &");  /* NUL and a surrogate stay as written */
    CHECK(k[8].rejected);                                            /* only a mention */
    EXPECT_STR(k[9].text, "@@ x");                                   /* not a mention: no name */

    // One step at a time: the others leave the text alone.
    ep_reader_options html = {.format = EP_FORMAT_LINES, .clean = EP_CLEAN_HTML};
    n = read_kept("@a &lt;3 https://t.co/x\nRT @b: y\n", "h.txt", &html, k, 16);
    CHECK(n == 2);
    EXPECT_STR(k[0].text, "@a <3 https://t.co/x");
    CHECK(!k[1].skipped);
    // Off by default: the text exactly as found.
    ep_reader_options none = {.format = EP_FORMAT_LINES};
    n = read_kept("@a &lt;3 https://t.co/x\n", "n.txt", &none, k, 16);
    EXPECT_STR(k[0].text, "@a &lt;3 https://t.co/x");
    CHECK(k[0].fields[0] == '\0');
}

static void test_keep_ndjson(void) {
    const char *in =
        "{\"id_str\": \"111\", \"text\": \"RT @x: hi &amp; bye\", \"created_at\": \"Wed Oct 10 2018\", \"lang\": \"en\", "
        "\"user\": {\"screen_name\": \"ann\"}, \"in_reply_to_status_id_str\": \"5\", \"n\": 1234567890123456789, "
        "\"o\": {\"a\": [1, 2.50, \"s\\u00e9\"], \"b\": null}}\n"
        "{\"id\": \"x-1\", \"text\": \"plain\", \"in_reply_to_user_id_str\": \"9\"}\n";
    ep_reader_options o = {.keep = "default,n,o,o.a.1,missing.path", .clean = EP_CLEAN_HTML};
    kept k[4];
    size_t n = read_kept(in, "k.jsonl", &o, k, 4);
    CHECK(n == 2);
    EXPECT_STR(k[0].text, "RT @x: hi & bye");
    EXPECT_STR(k[0].fields,
               "{\"created_at\": \"Wed Oct 10 2018\", \"author\": \"ann\", \"url\": "
               "\"https://twitter.com/ann/status/111\", \"lang\": \"en\", \"is_reply\": true, \"is_retweet\": true, "
               "\"n\": 1234567890123456789, \"o\": {\"a\": [1, 2.50, \"s\xC3\xA9\"], \"b\": null}, \"o.a.1\": 2.50, "
               "\"missing.path\": null}");
    // Not a tweet id: no URL; a mention-only reply marker is not a reply to a tweet.
    EXPECT_STR(k[1].fields,
               "{\"created_at\": null, \"author\": null, \"url\": null, \"lang\": null, \"is_reply\": false, "
               "\"is_retweet\": false, \"n\": null, \"o\": null, \"o.a.1\": null, \"missing.path\": null}");
}

static void test_keep_api_page_and_archive(void) {
    const char *page = "{\"data\": [{\"id\": \"1\", \"text\": \"one\", \"author_id\": \"7\", \"referenced_tweets\": "
                       "[{\"type\": \"replied_to\", \"id\": \"0\"}]}, {\"id\": \"2\", \"text\": \"two\", \"author_id\": "
                       "\"8\"}], \"includes\": {\"users\": [{\"id\": \"7\", \"username\": \"seven\"}]}}\n";
    ep_reader_options o = {.keep = "default"};
    kept k[4];
    size_t n = read_kept(page, "p.jsonl", &o, k, 4);
    CHECK(n == 2);
    CHECK(strstr(k[0].fields, "\"author\": \"seven\"") && strstr(k[0].fields, "\"is_reply\": true") &&
          strstr(k[0].fields, "https://twitter.com/seven/status/1"));
    CHECK(strstr(k[1].fields, "\"author\": null") && strstr(k[1].fields, "https://twitter.com/i/web/status/2"));

    const char *archive = "{\"account\": [{\"account\": {\"username\": \"owner\", \"accountId\": \"3\"}}],\n"
                          " \"tweets\": [{\"tweet\": {\"id_str\": \"10\", \"full_text\": \"mine\", \"lang\": \"de\"}}]}\n";
    ep_reader_options a = {.format = EP_FORMAT_ARCHIVE_JSON, .keep = "default,tweet.lang"};
    n = read_kept(archive, "archive.json", &a, k, 4);
    CHECK(n == 1);
    CHECK(strstr(k[0].fields, "\"author\": \"owner\"") && strstr(k[0].fields, "\"lang\": \"de\"") &&
          strstr(k[0].fields, "\"tweet.lang\": \"de\""));

    // Plain lines have no fields: every kept column null, blank lines included.
    ep_reader_options l = {.format = EP_FORMAT_LINES, .keep = "lang"};
    n = read_kept("a line\n\n", "l.txt", &l, k, 4);
    CHECK(n == 2);
    EXPECT_STR(k[0].fields, "{\"lang\": null}");
    EXPECT_STR(k[1].fields, "{\"lang\": null}");
}

static void test_settings(void) {
    ep_error err;
    CHECK_OK(ep_keep_check("default, tweet.created_at ,user.screen_name,", &err), &err);
    const char *bad[] = {"id", "text", "vector", "a..b", ".a", "a.", "x,x", "default,url"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECKF(ep_keep_check(bad[i], &err) == EP_ERR_USAGE && strstr(err.message, "keep: "), "keep %s", bad[i]);
    }
    // The reader refuses a bad list too (a library caller that skipped the check).
    ep_reader *r = NULL;
    ep_reader_options o = {.keep = "hash"};
    CHECK(ep_reader_open_memory("x\n", 2, "x.txt", &o, &r, &err) == EP_ERR_USAGE && !r);

    unsigned flags = 0;
    CHECK_OK(ep_clean_parse("links, html", &flags, &err), &err);
    CHECK(flags == (EP_CLEAN_LINKS | EP_CLEAN_HTML));
    char name[64];
    ep_clean_name(flags, name, sizeof name);
    EXPECT_STR(name, "html,links");
    CHECK_OK(ep_clean_parse("all", &flags, &err), &err);
    ep_clean_name(flags, name, sizeof name);
    EXPECT_STR(name, "html,links,mentions,retweets");
    CHECK(ep_clean_parse("html,emoji", &flags, &err) == EP_ERR_USAGE && strstr(err.message, "'emoji'"));
}

int main(void) {
    test_clean_steps();
    test_keep_ndjson();
    test_keep_api_page_and_archive();
    test_settings();
    return ep_test_finish("test_reader_keep");
}
