/*
 * test_tokenizer_codepoints - every Unicode scalar value through our normaliser
 * and pre-tokeniser, held against what Hugging Face does with it
 * (tests/fixtures/codepoints.bin.zst, format in scripts/make-reference.py).
 *
 * Each code point c is tokenised in the text "a" c "b", so the fixture shows
 * whether c is removed, becomes a space, splits off, stays, or changes. This is
 * the guard against any difference between utf8proc's Unicode tables and the
 * ones Hugging Face's crates carry.
 */
#include <stdint.h>

#include "tok_test.h"
#include "tokenizer_internal.h"

enum { KEEP, REMOVE, SPACE, ISOLATE, MAP, ISOLATE_MAP, OTHER, N_CLASSES };
static const char *const class_name[N_CLASSES] = {"keep", "remove", "space", "isolate", "map", "isolate+map", "other"};

static uint32_t rd32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void print_escaped(FILE *f, const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p >= 0x20 && *p < 0x7F) fputc(*p, f);
        else fprintf(f, "\\x%02X", *p);
    }
}

int main(void) {
    ep_tokenizer *tok = tok_test_load();
    size_t len = 0;
    unsigned char *buf = (unsigned char *)tok_test_fixture("codepoints.bin.zst", &len);
    if (len < 24 || memcmp(buf, "EPCODEPT", 8) != 0 || rd32(buf + 8) != 1) {
        fprintf(stderr, "codepoints.bin.zst: bad magic or version (want EPCODEPT v1)\n");
        return 1;
    }
    uint32_t n_runs = rd32(buf + 12), left = rd32(buf + 16), right = rd32(buf + 20);
    char lbuf[4], rbuf[4];
    int llen = ep_test_utf8_encode(left, lbuf), rlen = ep_test_utf8_encode(right, rbuf);

    size_t pos = 24;
    uint32_t next = 0, mismatches = 0, checked = 0, per_class[N_CLASSES] = {0};
    char text[16], expect[600], got[600];
    for (uint32_t r = 0; r < n_runs; r++) {
        if (pos + 10 > len) {
            fprintf(stderr, "codepoints.bin.zst: truncated at run %u\n", r);
            return 1;
        }
        uint32_t first = rd32(buf + pos), count = rd32(buf + pos + 4);
        unsigned cls = buf[pos + 8], plen = buf[pos + 9];
        const char *payload = (const char *)buf + pos + 10;
        pos += 10 + plen;
        if (next == 0xD800) next = 0xE000; // surrogates are not scalar values
        if (first != next || cls >= N_CLASSES || pos > len || count == 0 || (plen && count != 1)) {
            fprintf(stderr, "codepoints.bin.zst: malformed run %u (first %X, expected %X)\n", r, first, next);
            return 1;
        }
        next = first + count;
        for (uint32_t cp = first; cp < first + count; cp++) {
            char c[4];
            int clen = ep_test_utf8_encode(cp, c);
            int tlen = 0;
            memcpy(text + tlen, lbuf, (size_t)llen), tlen += llen;
            memcpy(text + tlen, c, (size_t)clen), tlen += clen;
            memcpy(text + tlen, rbuf, (size_t)rlen), tlen += rlen;
            int e = 0;
            switch (cls) {
            case KEEP: e = snprintf(expect, sizeof expect, "%.*s", tlen, text); break;
            case REMOVE: e = snprintf(expect, sizeof expect, "%.*s%.*s", llen, lbuf, rlen, rbuf); break;
            case SPACE: e = snprintf(expect, sizeof expect, "%.*s %.*s", llen, lbuf, rlen, rbuf); break;
            case ISOLATE: e = snprintf(expect, sizeof expect, "%.*s %.*s %.*s", llen, lbuf, clen, c, rlen, rbuf); break;
            case MAP: e = snprintf(expect, sizeof expect, "%.*s%.*s%.*s", llen, lbuf, plen, payload, rlen, rbuf); break;
            case ISOLATE_MAP:
                e = snprintf(expect, sizeof expect, "%.*s %.*s %.*s", llen, lbuf, plen, payload, rlen, rbuf);
                break;
            default: e = snprintf(expect, sizeof expect, "%.*s", plen, payload); break;
            }
            (void)e;
            ep_tokenizer_words(tok, text, (size_t)tlen, got, sizeof got);
            checked++;
            per_class[cls]++;
            if (strcmp(expect, got) != 0) {
                if (++mismatches <= 30) {
                    fprintf(stderr, "U+%04X (%s): HF \"", cp, class_name[cls]);
                    print_escaped(stderr, expect);
                    fprintf(stderr, "\", ours \"");
                    print_escaped(stderr, got);
                    fprintf(stderr, "\"\n");
                }
            }
        }
    }
    CHECKF(pos == len, "codepoints.bin.zst: %zu trailing bytes", len - pos);
    CHECKF(next == 0x110000, "codepoints.bin.zst covers code points only up to U+%04X", next);
    CHECKF(mismatches == 0, "%u of %u code points differ from Hugging Face", mismatches, checked);
    printf("checked %u code points:", checked);
    for (int c = 0; c < N_CLASSES; c++) printf(" %s %u", class_name[c], per_class[c]);
    printf("\n");
    free(buf);
    ep_tokenizer_free(tok);
    return ep_test_finish("test_tokenizer_codepoints");
}
