/*
 * fuzz_charsmap.c - the Precompiled charsmap under arbitrary input. The first byte picks:
 *   even  the rest is text, normalised with XLM-R's map (unigram-xlmr.tokenizer.json): no crash, the
 *         output is valid UTF-8 whatever the input, a smaller cap gives the same length and a prefix
 *         of the same bytes, and the grapheme clusters tile the text;
 *   odd   the rest edits the probe map's blob of unigram-charsmap-codepoints.bin.zst (small, so that
 *         many edits run; 5 bytes per edit: u32 offset, new byte; a first byte with bit 7 set also
 *         cuts the blob there): ep_charsmap_create_blob either refuses it with a message or yields
 *         a map that normalises texts without reading outside itself (ASan watches).
 */
#include "fuzz_replay.h"
#include "grapheme.h"
#include "unigram_test.h"

static ep_charsmap *real_map;
static uint8_t *probe_blob;
static size_t probe_size;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    unigram_test_model m = unigram_test_load("unigram-xlmr");
    real_map = m.charsmap;
    m.charsmap = NULL;
    unigram_test_free(&m);
    size_t len = 0; // the probe map: its format is in test_charsmap_codepoints.c
    unsigned char *buf = (unsigned char *)unigram_test_fixture("unigram-charsmap-codepoints.bin.zst", &len);
    probe_size = len >= 20 ? unigram_test_rd32(buf + 16) : 0;
    if (probe_size == 0 || 20 + probe_size > len || !(probe_blob = malloc(probe_size))) abort();
    memcpy(probe_blob, buf + 20, probe_size);
    free(buf);
    return 0;
}

const ep_fuzz_seed ep_fuzz_seeds[] = {
    EP_FUZZ_SEED("\0x\r\ny \xEF\xAC\x81\xCC\x81 e\xCC\x81 \xF0\x9F\x87\xA9\xF0\x9F\x87\xAA \xE0\xA4\x95\xE0\xA5\x8D"),
    EP_FUZZ_SEED("\0\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9 \xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8 \xD8\x80" "a"),
    EP_FUZZ_SEED("\x01\x04\x00\x00\x00\xFF"),
    EP_FUZZ_SEED("\x01\x00\x10\x00\x00\x00\x09\x20\x00\x00\x80"),
    EP_FUZZ_SEED("\x81\x00\x02\x00\x00"),
    {NULL, 0}};

static void check_text(const ep_charsmap *m, const uint8_t *text, size_t len) {
    char out[8192];
    size_t n = ep_charsmap_normalize(m, (const char *)text, len, out, sizeof out);
    if (n <= sizeof out) { // every replacement is UTF-8 and every invalid byte became U+FFFD
        const uint8_t *p = (const uint8_t *)out, *end = p + n;
        while (p < end) {
            uint32_t cp;
            int k = ep_utf8_decode(p, end, &cp);
            if (!k) abort();
            p += k;
        }
        char part[8192];
        size_t cap = n / 2;
        if (ep_charsmap_normalize(m, (const char *)text, len, part, cap) != n || memcmp(part, out, cap) != 0) abort();
    }
    size_t covered = 0;
    while (covered < len) {
        size_t k = ep_grapheme_next(text + covered, len - covered);
        if (k == 0 || k > len - covered) abort();
        covered += k;
    }
}

static void check_edited_blob(const uint8_t *edits, size_t n) {
    uint8_t *blob = malloc(probe_size);
    if (!blob) return;
    memcpy(blob, probe_blob, probe_size);
    size_t size = probe_size;
    for (size_t i = 0; i + 5 <= n; i += 5) {
        size_t at = unigram_test_rd32(edits + i) % probe_size;
        blob[at] = edits[i + 4];
    }
    if (n >= 4 && (edits[0] & 0x80)) size = unigram_test_rd32(edits) % (probe_size + 1);
    ep_charsmap *m = NULL;
    ep_error err = {0};
    if (ep_charsmap_create_blob(blob, size, &m, &err) != EP_OK) {
        if (m || !err.message[0]) abort(); // a refusal leaves no map and says why
    } else {
        static const char *const texts[] = {"Hello \xEF\xAC\x81\xCC\x81 w\xC3\xB6rld \xE2\x84\xA2 \xEF\xBC\xA1",
                                            "\x01\x7F\r\n\xE3\x80\x80\xF0\x9F\x98\x80\xCC\x81"};
        for (size_t t = 0; t < sizeof texts / sizeof texts[0]; t++)
            check_text(m, (const uint8_t *)texts[t], strlen(texts[t]));
        ep_charsmap_free(m);
    }
    free(blob);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    if (data[0] % 2 == 0) check_text(real_map, data + 1, size - 1);
    else check_edited_blob(data + 1, size - 1);
    return 0;
}
