/*
 * fuzz_unigram.c - the Unigram model under arbitrary input. The first byte picks:
 *   even  the rest is one word for unigram-bytefallback.tokenizer.json's model: every byte has a
 *         <0xXX> piece there, so the pieces of the ids, joined (a byte piece as its byte), must give
 *         the word back exactly, whatever the bytes (invalid UTF-8 included), unless the word
 *         spells a byte piece ("<0x41>" is an ordinary piece too, so it would come back as "A");
 *   odd   the rest is a small model and words ("piece\npiece\n...\n\nword word ..."; scores, unk_id
 *         and byte fallback drawn from the bytes): the ids must equal those of a plain reference
 *         written from tokenizers' encode_optimized without any trie (every substring looked up).
 * Both also check that a smaller cap gives the same count and a prefix of the same ids.
 */
#include "fuzz_replay.h"
#include "grapheme.h"
#include "unigram_test.h"

#include <math.h>

#define MAX_PIECES 64
#define MAX_WORD 256

static ep_unigram *bf_model;
static char **bf_piece; // id -> piece
static int bf_n;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    unigram_test_model m = unigram_test_load("unigram-bytefallback");
    bf_model = m.unigram;
    m.unigram = NULL;
    cJSON *vocab = cJSON_GetObjectItem(cJSON_GetObjectItem(m.json, "model"), "vocab"), *pair;
    bf_n = cJSON_GetArraySize(vocab);
    bf_piece = calloc((size_t)bf_n, sizeof *bf_piece);
    int i = 0;
    cJSON_ArrayForEach(pair, vocab) bf_piece[i++] = strdup(cJSON_GetStringValue(cJSON_GetArrayItem(pair, 0)));
    unigram_test_free(&m);
    return 0;
}

const ep_fuzz_seed ep_fuzz_seeds[] = {
    EP_FUZZ_SEED("\0\xE2\x96\x81Hello\xE2\x96\x81w\xC3\xB6rld\xF0\x9F\x98\x80<unk>\xFF"),
    EP_FUZZ_SEED("\0\xE2\x96\x81\xE4\xB8\xAD\xE6\x96\x87\xD8\xB9\xD8\xB1\xD8\xA8\xD9\x8A<0x41>"),
    EP_FUZZ_SEED("\x01" "a\nb\nab\nabc\n<unk>\n\nabcab xabx aab"),
    EP_FUZZ_SEED("\x03" "<unk>\n<0x78>\n<0xC3>\n\xC3\xA9t\xC3\xA9\nt\n\n\xC3\xA9t\xC3\xA9t x\xC3\xA9 \xFF"),
    {NULL, 0}};

static void check_caps(const ep_unigram *u, const uint8_t *w, size_t len, const int32_t *ids, int n) {
    for (int cap = 0; cap < n; cap += 1 + cap / 2) {
        int32_t part[MAX_WORD + 1];
        int m = ep_unigram_encode_word(u, (const char *)w, len, part, cap);
        if (m != n || memcmp(part, ids, sizeof *ids * (size_t)cap) != 0) abort();
    }
}

static void round_trip(const uint8_t *w, size_t len) {
    if (len > MAX_WORD) len = MAX_WORD;
    int32_t ids[MAX_WORD + 1];
    int n = ep_unigram_encode_word(bf_model, (const char *)w, len, ids, MAX_WORD + 1);
    if (n < (len > 0) || n > (int)len) abort();
    uint8_t back[8 * MAX_WORD];
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= bf_n) abort();
        const char *p = bf_piece[ids[i]];
        unsigned byte;
        if (strlen(p) == 6 && sscanf(p, "<0x%2X>", &byte) == 1) back[k++] = (uint8_t)byte;
        else memcpy(back + k, p, strlen(p)), k += strlen(p);
    }
    if (!memmem(w, len, "<0x", 3) && (k != len || memcmp(back, w, len) != 0)) abort();
    check_caps(bf_model, w, len, ids, n);
}

// ----------------------------------------------------------------------------
// The reference: tokenizers' encode_optimized and tokenize, with linear look-ups instead of a trie.

typedef struct small_model {
    const char *piece[MAX_PIECES];
    size_t len[MAX_PIECES];
    double score[MAX_PIECES];
    int n, unk_id, byte_fallback;
} small_model;

static int find(const small_model *m, const uint8_t *s, size_t n) { // the later of equal pieces
    int id = -1;
    for (int i = 0; i < m->n; i++)
        if (n > 0 && m->len[i] == n && memcmp(m->piece[i], s, n) == 0) id = i;
    return id;
}

static int char_len(const uint8_t *w, size_t n) { // a valid UTF-8 sequence, else one byte
    uint32_t cp;
    int k = ep_utf8_decode(w, w + n, &cp);
    return k ? k : 1;
}

static int reference(const small_model *m, const uint8_t *w, size_t n, int32_t *ids) {
    double min = INFINITY, best[MAX_WORD + 1];
    int start[MAX_WORD + 1], id[MAX_WORD + 1];
    for (int i = 0; i < m->n; i++) min = m->score[i] < min ? m->score[i] : min;
    for (size_t i = 0; i <= n; i++) best[i] = 0.0, start[i] = -1, id[i] = 0;
    for (size_t s = 0; s < n;) {
        size_t mb = (size_t)char_len(w + s, n - s);
        int single = 0;
        for (size_t e = s + 1; e <= n; e++) {
            int p = find(m, w + s, e - s);
            if (p < 0) continue;
            double c = m->score[p] + best[s];
            if (start[e] < 0 || c > best[e]) best[e] = c, start[e] = (int)s, id[e] = p;
            single |= e - s == mb;
        }
        double c = min - 10.0 + best[s];
        if (!single && (start[s + mb] < 0 || c > best[s + mb])) {
            if (m->unk_id < 0) return -2;
            best[s + mb] = c, start[s + mb] = (int)s, id[s + mb] = m->unk_id;
        }
        s += mb;
    }
    int32_t rev[MAX_WORD];
    int k = 0;
    for (size_t e = n, run = 0; e > 0 || run;) { // run: end of the unknown run being fused, or 0
        if (e > 0 && start[e] < 0) return -2;
        if (e > 0 && id[e] == m->unk_id) {
            if (!run) run = e;
            e = (size_t)start[e];
            continue;
        }
        if (run) {
            int p = find(m, w + e, run - e), all = m->byte_fallback;
            int32_t bytes[MAX_WORD];
            for (size_t b = e; all && b < run; b++) {
                char name[8];
                snprintf(name, sizeof name, "<0x%02X>", w[b]);
                bytes[b - e] = find(m, (const uint8_t *)name, 6);
                all = bytes[b - e] >= 0;
            }
            if (p >= 0) rev[k++] = p;
            else if (all)
                for (size_t b = run; b > e; b--) rev[k++] = bytes[b - 1 - e];
            else rev[k++] = m->unk_id;
            run = 0;
        }
        if (e > 0) rev[k++] = id[e], e = (size_t)start[e];
    }
    for (int i = 0; i < k; i++) ids[i] = rev[k - 1 - i];
    return k;
}

static void differential(const uint8_t *d, size_t size) {
    if (size < 1) return;
    small_model m = {.unk_id = d[0] & 2 ? -1 : 0, .byte_fallback = d[0] & 4};
    char *text = malloc(size + 1);
    memcpy(text, d + 1, size - 1);
    text[size - 1] = '\0';
    char *words = strstr(text, "\n\n");
    if (words) *words = '\0', words += 2;
    unsigned h = d[0];
    for (char *p = text, *nl; p && m.n < MAX_PIECES; p = nl ? nl + 1 : NULL) {
        nl = strchr(p, '\n');
        if (nl) *nl = '\0';
        m.piece[m.n] = p, m.len[m.n] = strlen(p);
        h = h * 2654435761u + (unsigned)m.len[m.n] + (m.len[m.n] ? (unsigned char)p[0] : 0u);
        m.score[m.n++] = -(double)(h % 5) / 4.0; // coarse, so that paths of equal score are common
    }
    ep_unigram *u = NULL;
    ep_error err = {0};
    if (ep_unigram_create(m.piece, m.score, m.n, m.unk_id, m.byte_fallback, &u, &err) != EP_OK) abort();
    for (char *w = words; w && *w;) {
        size_t len = strcspn(w, " ");
        if (len > MAX_WORD) len = MAX_WORD;
        int32_t got[MAX_WORD + 1], want[MAX_WORD + 1];
        int n = ep_unigram_encode_word(u, w, len, got, MAX_WORD + 1);
        if (n != reference(&m, (const uint8_t *)w, len, want)) abort();
        if (n > 0 && memcmp(got, want, sizeof *got * (size_t)n) != 0) abort();
        if (n > 0) check_caps(u, (const uint8_t *)w, len, got, n);
        w += len;
        w += *w == ' ';
    }
    ep_unigram_free(u);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    if (data[0] % 2 == 0) round_trip(data + 1, size - 1);
    else differential(data, size);
    return 0;
}
