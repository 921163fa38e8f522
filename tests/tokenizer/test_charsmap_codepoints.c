/*
 * test_charsmap_codepoints - every Unicode scalar value through ep_charsmap_normalize, held
 * against tokenizers' Precompiled normalizer (tests/fixtures/models/unigram-charsmap-codepoints
 * .bin.zst, made by scripts/make-test-models.py --only unigram-fixtures).
 *
 * Each code point c is normalised in three texts:
 *   A  "a" c "b"        with XLM-R's nmt_nfkc map (of unigram-xlmr.tokenizer.json): c's own value,
 *                       and whether c joins the cluster of "a" or (Prepend) of "b"
 *   B  c U+0301 "b"     the same map: c heading a cluster with a combining mark, where a key of
 *                       c drops the rest of the cluster (SentencePiece's rule)
 *   P  "A" c "b"        a probe map of the fixture's own where "A" -> "X": "Xb" when c joins the
 *                       cluster of "A" (Extend, ZWJ, SpacingMark: the grapheme tables), else "X" c "b"
 *
 * Format (little-endian): char magic[8] = "EPCHARCP"; u32 version = 1; u32 n_runs; u32 probe_len;
 * probe_len bytes of the probe map's blob; then n_runs runs in code point order covering
 * 0..0x10FFFF without the surrogates: u32 first; u32 count; u8 flags; payloads.
 * flags: bit 0 A gave its input unchanged, bit 1 B did, bit 2 P gave "Xb", bit 3 P gave "X" c "b".
 * A run of count > 1 has no payload; otherwise, in order, for A when bit 0 is clear, for B when
 * bit 1 is clear, for P when bits 2 and 3 are: u16 length + the UTF-8 output.
 */
#include "unigram_test.h"

enum { CTX_A, CTX_B, CTX_P, N_CTX };
static const char *const ctx_name[N_CTX] = {"A: \"a\" c \"b\"", "B: c U+0301 \"b\"", "P: probe \"A\" c \"b\""};

typedef struct expected {
    const char *bytes[N_CTX];
    size_t len[N_CTX];
    char own[N_CTX][16]; // when the output is derived from the flags
} expected;

static size_t text_of(int ctx, const char *c, int clen, char *text) {
    static const char *const pre[N_CTX] = {"a", "", "A"}, *const post[N_CTX] = {"b", "\xCC\x81" "b", "b"};
    size_t n = strlen(pre[ctx]);
    memcpy(text, pre[ctx], n);
    memcpy(text + n, c, (size_t)clen);
    n += (size_t)clen;
    memcpy(text + n, post[ctx], strlen(post[ctx]));
    return n + strlen(post[ctx]);
}

// Reads the payloads of a run into e (pointing into the buffer). @return bytes read, or 0 if cut off.
static size_t read_payloads(const unsigned char *p, size_t left, unsigned flags, expected *e) {
    static const unsigned given_by[N_CTX] = {1, 2, 12};
    size_t used = 0;
    for (int k = 0; k < N_CTX; k++) {
        e->bytes[k] = NULL;
        if (flags & given_by[k]) continue;
        if (used + 2 > left) return 0;
        size_t n = (size_t)p[used] | (size_t)p[used + 1] << 8;
        if (used + 2 + n > left) return 0;
        e->bytes[k] = (const char *)p + used + 2;
        e->len[k] = n;
        used += 2 + n;
    }
    return used;
}

static int check_one(const ep_charsmap *map, int ctx, uint32_t cp, const char *text, size_t tlen, const char *want,
                     size_t wlen) {
    char got[256];
    size_t n = ep_charsmap_normalize(map, text, tlen, got, sizeof got);
    if (n == wlen && memcmp(got, want, n) == 0) return 0;
    static int printed = 0;
    if (printed++ < 30) {
        fprintf(stderr, "U+%04X %s: tokenizers \"", cp, ctx_name[ctx]);
        unigram_test_print(stderr, want, wlen);
        fprintf(stderr, "\", ours \"");
        unigram_test_print(stderr, got, n < sizeof got ? n : sizeof got);
        fprintf(stderr, "\"\n");
    }
    return 1;
}

int main(void) {
    unigram_test_model real = unigram_test_load("unigram-xlmr");
    size_t len = 0;
    unsigned char *buf = (unsigned char *)unigram_test_fixture("unigram-charsmap-codepoints.bin.zst", &len);
    if (len < 20 || memcmp(buf, "EPCHARCP", 8) != 0 || unigram_test_rd32(buf + 8) != 1) {
        fprintf(stderr, "unigram-charsmap-codepoints.bin.zst: bad magic or version (want EPCHARCP v1)\n");
        return 1;
    }
    uint32_t n_runs = unigram_test_rd32(buf + 12), probe_len = unigram_test_rd32(buf + 16);
    ep_charsmap *probe = NULL;
    ep_error err = {0};
    if (20 + (size_t)probe_len > len || ep_charsmap_create_blob(buf + 20, probe_len, &probe, &err) != EP_OK) {
        fprintf(stderr, "the fixture's probe map: %s\n", err.message[0] ? err.message : "cut off");
        return 1;
    }
    const ep_charsmap *map[N_CTX] = {real.charsmap, real.charsmap, probe};
    size_t pos = 20 + probe_len;
    uint32_t next = 0, bad[N_CTX] = {0}, changed[N_CTX] = {0}, checked = 0;
    for (uint32_t r = 0; r < n_runs; r++) {
        if (next == 0xD800) next = 0xE000; // the surrogates are not scalar values
        uint32_t first = pos + 9 <= len ? unigram_test_rd32(buf + pos) : 0;
        uint32_t count = pos + 9 <= len ? unigram_test_rd32(buf + pos + 4) : 0;
        unsigned flags = pos + 9 <= len ? buf[pos + 8] : 0;
        expected e = {{NULL, NULL, NULL}, {0, 0, 0}, {{0}}};
        size_t used = pos + 9 <= len ? read_payloads(buf + pos + 9, len - pos - 9, flags, &e) : 0;
        bool any_payload = e.bytes[0] || e.bytes[1] || e.bytes[2];
        if (pos + 9 > len || first != next || count == 0 || (any_payload && (used == 0 || count != 1))) {
            fprintf(stderr, "unigram-charsmap-codepoints.bin.zst: malformed run %u at U+%04X\n", r, next);
            return 1;
        }
        pos += 9 + used;
        for (uint32_t cp = first; cp < first + count; cp++) {
            char c[4], text[16];
            int clen = ep_test_utf8_encode(cp, c);
            for (int k = 0; k < N_CTX; k++) {
                size_t tlen = text_of(k, c, clen, text);
                const char *want = e.bytes[k];
                size_t wlen = e.len[k];
                if (!want && k == CTX_P && (flags & 4)) want = "Xb", wlen = 2;
                else if (!want && k == CTX_P) {
                    memcpy(e.own[k], "X", 1), memcpy(e.own[k] + 1, c, (size_t)clen), e.own[k][1 + clen] = 'b';
                    want = e.own[k], wlen = (size_t)clen + 2;
                } else if (!want) want = text, wlen = tlen; // unchanged
                changed[k] += e.bytes[k] != NULL;
                bad[k] += (uint32_t)check_one(map[k], k, cp, text, tlen, want, wlen);
            }
            checked++;
        }
        next = first + count;
    }
    CHECKF(pos == len, "unigram-charsmap-codepoints.bin.zst: %zu trailing bytes", len - pos);
    CHECKF(next == 0x110000, "the fixture covers code points only up to U+%04X", next);
    for (int k = 0; k < N_CTX; k++)
        printf("%s: %u code points, %u with their own output in the fixture, %u differ\n", ctx_name[k], checked,
               changed[k], bad[k]);
    CHECKF(bad[0] + bad[1] + bad[2] == 0, "%u outputs differ from tokenizers", bad[0] + bad[1] + bad[2]);
    free(buf);
    ep_charsmap_free(probe);
    unigram_test_free(&real);
    return ep_test_finish("test_charsmap_codepoints");
}
