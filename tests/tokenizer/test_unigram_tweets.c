/*
 * test_unigram_tweets - the Precompiled normalizer and both Unigram models on 23,000 real
 * multilingual tweets (every 5th line of ../shared/data/tweeteval/ files and every tweet of
 * twitter-export/tweets.js), against tokenizers (tests/fixtures/models/unigram-tweets.bin.zst,
 * made by scripts/make-test-models.py --only unigram-fixtures). Skipped without ../shared/data.
 *
 * Per tweet the fixture holds the low 32 bits of XXH3_64 (seed 0) of
 *   norm   ep_charsmap_normalize's output (tokenizers: the Precompiled normalizer alone)
 *   words  the words joined by NUL: the whole normalizer (Precompiled, Strip right, Replace
 *          " {2,}" -> U+2581) and the Metaspace pre-tokenizer, which this test does itself
 *          (a small stand-in for tokenizer.json's own; this hash checks that it agrees)
 *   ids    for unigram-xlmr and unigram-bytefallback: the ids of ep_unigram_encode_word over the
 *          words, back to back as little-endian u32 (tokenizers: model.tokenize on each word)
 * Format (little-endian): char magic[8] = "EPUNITWT"; u32 version = 1; u32 n_sources; u32 n_tweets;
 * n_sources times {u16 name_len; name; u8 sha256[32]} (the data file); n_tweets times
 * {u8 source; u32 number (1-based line, or tweet index in tweets.js); u32 norm, words, ids[2]}.
 */
#include <xxhash.h>

#include "grapheme.h"
#include "sha256.h"
#include "unigram_test.h"

#define MAX_SOURCES 32
#define RECORD_BYTES 21

typedef struct source {
    char name[256];
    ep_fixture_lines lines; // tweeteval: the file's lines
    cJSON *tweets;          // tweets.js: the array
} source;

static uint32_t hash32(const void *p, size_t n) { return (uint32_t)XXH3_64bits(p, n); }

// Reads a data file, checks it against the fixture's SHA-256, and indexes its texts. @return 0 or -1.
static int load_source(const char *data, const unsigned char *p, size_t name_len, source *s) {
    snprintf(s->name, sizeof s->name, "%.*s", (int)name_len, (const char *)p);
    char path[4600];
    snprintf(path, sizeof path, "%s/%s", data, s->name);
    size_t n = 0;
    char *raw = (char *)ep_test_read_file(path, &n);
    if (!raw) return fprintf(stderr, "cannot read %s\n", path), -1;
    uint8_t digest[32];
    ep_sha256 ctx;
    ep_sha256_init(&ctx);
    ep_sha256_update(&ctx, raw, n);
    ep_sha256_final(&ctx, digest);
    if (memcmp(digest, p + name_len, 32) != 0) {
        free(raw);
        return fprintf(stderr, "%s changed since the fixture was made (regenerate it)\n", path), -1;
    }
    if (strstr(s->name, "tweets.js")) {
        char *bracket = memchr(raw, '[', n);
        s->tweets = bracket ? cJSON_ParseWithLength(bracket, n - (size_t)(bracket - raw)) : NULL;
        free(raw);
        return s->tweets ? 0 : (fprintf(stderr, "%s: not a tweets.js array\n", path), -1);
    }
    free(raw);
    return ep_fixture_lines_load(path, &s->lines);
}

// Rust's char::is_whitespace (White_Space), what tokenizers' Strip normalizer trims.
static int is_white_space(uint32_t c) {
    return (c >= 9 && c <= 13) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
           c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

static size_t strip_right(const char *s, size_t n) {
    while (n > 0) {
        size_t k = n - 1;
        while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
        uint32_t c = 0;
        const uint8_t *p = (const uint8_t *)s + k;
        if (ep_utf8_decode(p, (const uint8_t *)s + n, &c) != (int)(n - k) || !is_white_space(c)) break;
        n = k;
    }
    return n;
}

typedef struct buffer {
    char *p;
    size_t n, cap;
} buffer;

static void append(buffer *b, const void *p, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 256;
        b->p = realloc(b->p, b->cap);
        if (!b->p) exit(1);
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

// The words tokenizer.json's pipeline makes of norm (the Precompiled output): Strip right, Replace
// " {2,}" -> U+2581, then Metaspace (every ' ' -> U+2581, U+2581 prepended when missing, a new word
// at each U+2581). Writes them to out joined by NUL. @return the number of words.
static int words_of(const char *norm, size_t n, buffer *out) {
    static const char meta[] = "\xE2\x96\x81"; // U+2581
    buffer t = {NULL, 0, 0};
    n = strip_right(norm, n);
    for (size_t i = 0; i < n;) {
        if (norm[i] != ' ') {
            append(&t, norm + i++, 1);
            continue;
        }
        while (i < n && norm[i] == ' ') i++; // one space and a run of them both become one U+2581
        append(&t, meta, 3);
    }
    out->n = 0;
    int words = 0;
    if (t.n > 0 && (t.n < 3 || memcmp(t.p, meta, 3) != 0)) append(out, meta, 3), words = 1;
    for (size_t i = 0; i < t.n; i++) {
        if (i + 3 <= t.n && memcmp(t.p + i, meta, 3) == 0) {
            if (words++ > 0) append(out, "", 1);
            append(out, meta, 3);
            i += 2;
        } else {
            append(out, t.p + i, 1);
        }
    }
    free(t.p);
    return words;
}

typedef struct totals {
    long tweets, words, ids[2], bad_norm, bad_words, bad_ids[2];
} totals;

static void report(const char *where, const char *what, const char *text, size_t len) {
    fprintf(stderr, "%s: %s differs from tokenizers; text \"", where, what);
    unigram_test_print(stderr, text, len < 300 ? len : 300);
    fprintf(stderr, "\"\n");
}

// Encodes each NUL-separated word with u. @return the hash of the ids (little-endian u32).
static uint32_t ids_hash(const ep_unigram *u, const buffer *words, int n_words, long *count) {
    buffer ids = {NULL, 0, 0};
    const char *w = words->p;
    for (int i = 0; i < n_words; i++) {
        size_t len = strnlen(w, (size_t)(words->p + words->n - w));
        int32_t buf[1024];
        int n = ep_unigram_encode_word(u, w, len, buf, 1024);
        if (n < 0 || n > 1024) n = 0, ep_test_failures++;
        for (int k = 0; k < n; k++) {
            uint8_t le[4] = {(uint8_t)buf[k], (uint8_t)(buf[k] >> 8), (uint8_t)(buf[k] >> 16), (uint8_t)(buf[k] >> 24)};
            append(&ids, le, 4);
        }
        *count += n;
        w += len + 1;
    }
    uint32_t h = hash32(ids.p ? ids.p : "", ids.n);
    free(ids.p);
    return h;
}

static void check_tweet(const unigram_test_model *m, const char *where, const char *text, size_t len,
                        const unsigned char *rec, totals *t) {
    buffer norm = {NULL, 0, 0}, words = {NULL, 0, 0};
    norm.cap = len * 3 + 16;
    norm.p = malloc(norm.cap);
    norm.n = ep_charsmap_normalize(m[0].charsmap, text, len, norm.p, norm.cap);
    if (norm.n > norm.cap) {
        norm.p = realloc(norm.p, norm.cap = norm.n);
        norm.n = ep_charsmap_normalize(m[0].charsmap, text, len, norm.p, norm.cap);
    }
    t->tweets++;
    if (hash32(norm.p, norm.n) != unigram_test_rd32(rec + 5) && ++t->bad_norm <= 10)
        report(where, "the Precompiled output", text, len);
    int n_words = words_of(norm.p, norm.n, &words);
    t->words += n_words;
    if (hash32(words.p ? words.p : "", words.n) != unigram_test_rd32(rec + 9)) {
        if (++t->bad_words <= 10) report(where, "the words (this test's Strip/Replace/Metaspace)", text, len);
    } else {
        for (int k = 0; k < 2; k++)
            if (ids_hash(m[k].unigram, &words, n_words, &t->ids[k]) != unigram_test_rd32(rec + 13 + 4 * k) &&
                ++t->bad_ids[k] <= 10)
                report(where, k ? "the ids of unigram-bytefallback" : "the ids of unigram-xlmr", text, len);
    }
    free(norm.p);
    free(words.p);
}

// The text of record number in s. @return 0, or -1 when the source has no such text.
static int text_of(const source *s, uint32_t number, const char **text, size_t *len) {
    if (s->tweets) {
        cJSON *t = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(s->tweets, (int)number - 1), "tweet"),
                                       "full_text");
        if (!cJSON_IsString(t)) return -1;
        *text = t->valuestring, *len = strlen(t->valuestring);
        return 0;
    }
    if (number == 0 || number > s->lines.n) return -1;
    *text = s->lines.line[number - 1], *len = s->lines.len[number - 1];
    return 0;
}

int main(void) {
    const char *data = ep_test_shared_data();
    unigram_test_model m[2] = {unigram_test_load("unigram-xlmr"), unigram_test_load("unigram-bytefallback")};
    size_t len = 0;
    unsigned char *buf = (unsigned char *)unigram_test_fixture("unigram-tweets.bin.zst", &len);
    if (len < 20 || memcmp(buf, "EPUNITWT", 8) != 0 || unigram_test_rd32(buf + 8) != 1) {
        fprintf(stderr, "unigram-tweets.bin.zst: bad magic or version (want EPUNITWT v1)\n");
        return 1;
    }
    uint32_t n_sources = unigram_test_rd32(buf + 12), n_tweets = unigram_test_rd32(buf + 16);
    static source src[MAX_SOURCES];
    size_t pos = 20;
    for (uint32_t i = 0; i < n_sources; i++) {
        size_t name_len = pos + 2 <= len ? (size_t)buf[pos] | (size_t)buf[pos + 1] << 8 : 0;
        if (i >= MAX_SOURCES || pos + 2 + name_len + 32 > len || load_source(data, buf + pos + 2, name_len, &src[i]))
            return fprintf(stderr, "unigram-tweets.bin.zst: source %u cannot be used\n", i), 1;
        pos += 2 + name_len + 32;
    }
    if (pos + (size_t)n_tweets * RECORD_BYTES != len)
        return fprintf(stderr, "unigram-tweets.bin.zst: %zu bytes for %u tweets\n", len - pos, n_tweets), 1;
    totals t = {0};
    for (uint32_t r = 0; r < n_tweets; r++, pos += RECORD_BYTES) {
        const unsigned char *rec = buf + pos;
        uint32_t number = unigram_test_rd32(rec + 1);
        const char *text;
        size_t tlen;
        if (rec[0] >= n_sources || text_of(&src[rec[0]], number, &text, &tlen) != 0)
            return fprintf(stderr, "unigram-tweets.bin.zst: record %u names no text\n", r), 1;
        char where[300];
        snprintf(where, sizeof where, "%s:%u", src[rec[0]].name, number);
        check_tweet(m, where, text, tlen, rec, &t);
    }
    printf("%ld tweets, %ld words, %ld + %ld ids; differ from tokenizers: %ld normalised texts, %ld word lists, "
           "%ld + %ld id lists\n", t.tweets, t.words, t.ids[0], t.ids[1], t.bad_norm, t.bad_words, t.bad_ids[0],
           t.bad_ids[1]);
    CHECK(t.tweets >= 20000);
    CHECK(t.bad_norm == 0 && t.bad_words == 0 && t.bad_ids[0] == 0 && t.bad_ids[1] == 0);
    for (uint32_t i = 0; i < n_sources; i++) {
        ep_fixture_lines_free(&src[i].lines);
        cJSON_Delete(src[i].tweets);
    }
    free(buf);
    unigram_test_free(&m[0]);
    unigram_test_free(&m[1]);
    return ep_test_finish("test_unigram_tweets");
}
