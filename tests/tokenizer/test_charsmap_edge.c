/*
 * test_charsmap_edge - ep_charsmap_normalize on hand-picked texts (clusters at their limits: CR LF,
 * combining marks after a key, ZWJ sequences, flags, conjuncts, Hangul, Prepend, NUL, the 6-byte
 * rule) under XLM-R's map and a probe map, against tokenizers (tests/fixtures/models/unigram-edge
 * .json, from scripts/make-test-models.py); the output cap; invalid UTF-8 read as U+FFFD; and
 * malformed maps, each refused with a message that names what is wrong.
 */
#include "base64.h"
#include "unigram_test.h"

// The probe map's blob, from the code point fixture (its format: test_charsmap_codepoints.c).
static uint8_t *probe_blob(size_t *size) {
    size_t len = 0;
    unsigned char *buf = (unsigned char *)unigram_test_fixture("unigram-charsmap-codepoints.bin.zst", &len);
    *size = unigram_test_rd32(buf + 16);
    uint8_t *blob = malloc(*size + 64);
    memcpy(blob, buf + 20, *size);
    free(buf);
    return blob;
}

// Normalises text with every cap from 0 to past its length: same length, same prefix, nothing past cap.
static void check_caps(const ep_charsmap *m, const char *text, size_t len, const char *want, size_t wlen) {
    char out[512];
    for (size_t cap = 0; cap <= wlen + 1 && cap + 8 <= sizeof out; cap++) {
        memset(out, 0x5A, sizeof out);
        size_t n = ep_charsmap_normalize(m, text, len, out, cap);
        size_t k = cap < wlen ? cap : wlen;
        CHECKF(n == wlen && memcmp(out, want, k) == 0 && out[cap] == 0x5A, "cap %zu: %zu bytes", cap, n);
    }
}

static void check_texts(const ep_charsmap *real, const ep_charsmap *probe) {
    size_t len = 0;
    char *json = unigram_test_fixture("unigram-edge.json", &len);
    cJSON *root = cJSON_Parse(json), *t;
    int n = 0, agree = 0;
    cJSON_ArrayForEach(t, cJSON_GetObjectItem(root, "charsmap")) {
        int before = ep_test_failures;
        size_t tl = 0, rl = 0, pl = 0;
        uint8_t *text = unigram_test_unhex(cJSON_GetStringValue(cJSON_GetObjectItem(t, "text_hex")), &tl);
        uint8_t *want[2] = {unigram_test_unhex(cJSON_GetStringValue(cJSON_GetObjectItem(t, "real_hex")), &rl),
                            unigram_test_unhex(cJSON_GetStringValue(cJSON_GetObjectItem(t, "probe_hex")), &pl)};
        size_t wlen[2] = {rl, pl};
        const ep_charsmap *map[2] = {real, probe};
        CHECK(text && want[0] && want[1]);
        for (int k = 0; k < 2 && text && want[k]; k++) {
            char got[512];
            size_t g = ep_charsmap_normalize(map[k], (const char *)text, tl, got, sizeof got);
            if (g != wlen[k] || memcmp(got, want[k], g) != 0) {
                fprintf(stderr, "%s map, \"", k ? "probe" : "real");
                unigram_test_print(stderr, text, tl);
                fprintf(stderr, "\": tokenizers \"");
                unigram_test_print(stderr, want[k], wlen[k]);
                fprintf(stderr, "\", ours \"");
                unigram_test_print(stderr, got, g < sizeof got ? g : sizeof got);
                fprintf(stderr, "\"\n");
                ep_test_failures++;
            }
            check_caps(map[k], (const char *)text, tl, (const char *)want[k], wlen[k]);
        }
        free(text), free(want[0]), free(want[1]);
        agree += ep_test_failures == before;
        n++;
    }
    CHECKF(n >= 30, "only %d charsmap texts in unigram-edge.json", n);
    printf("%d of %d hand-picked texts agree with tokenizers under both maps, at every output cap\n", agree, n);
    cJSON_Delete(root);
    free(json);
}

// Invalid UTF-8 is read as U+FFFD, so it normalises as U+FFFD would.
static void check_invalid_utf8(const ep_charsmap *m) {
    static const char *const pairs[][2] = {
        {"a\xFF" "b", "a\xEF\xBF\xBD" "b"},       {"\xC3", "\xEF\xBF\xBD"},
        {"\xE2\x82" "x", "\xEF\xBF\xBD\xEF\xBF\xBD" "x"}, {"\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
        {"\xFF\xCC\x81", "\xEF\xBF\xBD\xCC\x81"}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        char got[64], want[64];
        size_t wn = ep_charsmap_normalize(m, pairs[i][1], strlen(pairs[i][1]), want, sizeof want);
        size_t gn = ep_charsmap_normalize(m, pairs[i][0], strlen(pairs[i][0]), got, sizeof got);
        CHECKF(gn == wn && memcmp(got, want, gn) == 0, "invalid UTF-8 case %zu", i);
    }
}

static void expect_refused(const uint8_t *blob, size_t size, const char *what, const char *needle) {
    ep_charsmap *m = NULL;
    ep_error err = {0};
    ep_status st = ep_charsmap_create_blob(blob, size, &m, &err);
    CHECKF(st == EP_ERR_FORMAT && !m && strstr(err.message, needle), "%s: status %d, message \"%s\" (want \"%s\")",
           what, (int)st, err.message, needle);
    ep_charsmap_free(m);
}

static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void check_malformed(void) {
    size_t size = 0;
    uint8_t *blob = probe_blob(&size), *copy = malloc(size + 64);
    uint32_t trie = unigram_test_rd32(blob);
    expect_refused(blob, 3, "3 bytes", "too short");
    memcpy(copy, blob, size), put32(copy, 0);
    expect_refused(copy, size, "trie size 0", "positive multiple of 4");
    put32(copy, trie + 2);
    expect_refused(copy, size, "trie size not a multiple of 4", "positive multiple of 4");
    put32(copy, (uint32_t)((size + 3) / 4 * 4));
    expect_refused(copy, size, "trie larger than the blob", "only");
    memcpy(copy, blob, size), copy[size] = 0xFF;
    expect_refused(copy, size + 1, "strings not UTF-8", "not valid UTF-8");
    memcpy(copy, blob, size), put32(copy + 4, unigram_test_rd32(blob + 4) | 0x7FFFu << 10);
    expect_refused(copy, size, "root children outside", "outside the double array");
    // the first value unit (bit 31 set) pointed past the strings
    memcpy(copy, blob, size);
    size_t v = 4;
    while (v < 4 + trie && !(unigram_test_rd32(copy + v) >> 31)) v += 4;
    CHECK(v < 4 + trie);
    put32(copy + v, 0x80000000u | 0x7FFFFFu);
    expect_refused(copy, size, "value past the strings", "not the start of a string");
    ep_charsmap *m = NULL;
    ep_error err = {0};
    CHECK(ep_charsmap_create_blob(blob, size, &m, &err) == EP_OK); // the unchanged blob is fine
    ep_charsmap_free(m);
    // through base64: its errors come with the map's name
    static const char *const bad64[] = {"", "QUJD=", "QU=D", "QR==", "QU JD"};
    for (size_t i = 0; i < sizeof bad64 / sizeof bad64[0]; i++) {
        m = NULL;
        memset(&err, 0, sizeof err);
        ep_status st = ep_charsmap_create(bad64[i], strlen(bad64[i]), &m, &err);
        CHECKF(st == EP_ERR_FORMAT && !m && strstr(err.message, "precompiled_charsmap"), "base64 \"%s\": %s", bad64[i],
               err.message);
    }
    free(blob);
    free(copy);
}

int main(void) {
    unigram_test_model real = unigram_test_load("unigram-xlmr");
    size_t size = 0;
    uint8_t *blob = probe_blob(&size);
    ep_charsmap *probe = NULL;
    ep_error err = {0};
    CHECK_OK(ep_charsmap_create_blob(blob, size, &probe, &err), &err);
    free(blob);
    if (!probe) return 1;
    check_texts(real.charsmap, probe);
    check_invalid_utf8(real.charsmap);
    check_invalid_utf8(probe);
    check_malformed();
    ep_charsmap_free(probe);
    unigram_test_free(&real);
    return ep_test_finish("test_charsmap_edge");
}
