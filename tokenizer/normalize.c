/*
 * normalize.c - the word scanner: raw UTF-8 text in, normalised words out, as
 * Hugging Face's BertTokenizerFast produces them before WordPiece:
 *   1. added tokens ([CLS], [MASK], ...) are matched in the raw text first;
 *   2. BertNormalizer (clean_text, CJK spacing, NFD + strip Mn, lowercase);
 *   3. BertPreTokenizer (split on whitespace, isolate punctuation).
 * All three run in one pass with no allocation: ASCII bytes take a table-driven
 * fast path, other code points go through ep_hf_normalize_char. The one
 * context-dependent rule is NFD's canonical reordering of combining marks, done
 * here by insertion into the word being built.
 */
#include <string.h>

#include "chain.h"
#include "tokenizer_internal.h"
#include "utf8.h"

enum { A_DROP = 0, A_SPACE, A_PUNCT, A_LETTER };

// ASCII classes: C0 controls other than \t \n \r, and DEL, are removed by clean_text.
static const uint8_t ascii_kind[128] = {
    A_DROP,   A_DROP,   A_DROP,   A_DROP,   A_DROP,   A_DROP,   A_DROP,   A_DROP,   // 00
    A_DROP,   A_SPACE,  A_SPACE,  A_DROP,   A_DROP,   A_SPACE,  A_DROP,   A_DROP,   // 08
    A_DROP,   A_DROP,   A_DROP,   A_DROP,   A_DROP,   A_DROP,   A_DROP,   A_DROP,   // 10
    A_DROP,   A_DROP,   A_DROP,   A_DROP,   A_DROP,   A_DROP,   A_DROP,   A_DROP,   // 18
    A_SPACE,  A_PUNCT,  A_PUNCT,  A_PUNCT,  A_PUNCT,  A_PUNCT,  A_PUNCT,  A_PUNCT,  // 20  !"#$%&'
    A_PUNCT,  A_PUNCT,  A_PUNCT,  A_PUNCT,  A_PUNCT,  A_PUNCT,  A_PUNCT,  A_PUNCT,  // 28 ()*+,-./
    A_LETTER, A_LETTER, A_LETTER, A_LETTER, A_LETTER, A_LETTER, A_LETTER, A_LETTER, // 30 0-7
    A_LETTER, A_LETTER, A_PUNCT,  A_PUNCT,  A_PUNCT,  A_PUNCT,  A_PUNCT,  A_PUNCT,  // 38 89:;<=>?
    A_PUNCT,  A_LETTER, A_LETTER, A_LETTER, A_LETTER, A_LETTER, A_LETTER, A_LETTER, // 40 @A-G
    A_LETTER, A_LETTER, A_LETTER, A_LETTER, A_LETTER, A_LETTER, A_LETTER, A_LETTER, // 48
    A_LETTER, A_LETTER, A_LETTER, A_LETTER, A_LETTER, A_LETTER, A_LETTER, A_LETTER, // 50
    A_LETTER, A_LETTER, A_LETTER, A_PUNCT,  A_PUNCT,  A_PUNCT,  A_PUNCT,  A_PUNCT,  // 58 XYZ[\]^_
    A_PUNCT,  A_LETTER, A_LETTER, A_LETTER, A_LETTER, A_LETTER, A_LETTER, A_LETTER, // 60 `a-g
    A_LETTER, A_LETTER, A_LETTER, A_LETTER, A_LETTER, A_LETTER, A_LETTER, A_LETTER, // 68
    A_LETTER, A_LETTER, A_LETTER, A_LETTER, A_LETTER, A_LETTER, A_LETTER, A_LETTER, // 70
    A_LETTER, A_LETTER, A_LETTER, A_PUNCT,  A_PUNCT,  A_PUNCT,  A_PUNCT,  A_DROP,   // 78 xyz{|}~ DEL
};

// ASCII letters and digits mapped to themselves (letter_same) or lowercased
// (letter_lower); 0 for every other byte, which ends a run.
#define LETTERS(X)                                                                                             \
    ['0'] = '0', ['1'] = '1', ['2'] = '2', ['3'] = '3', ['4'] = '4', ['5'] = '5', ['6'] = '6', ['7'] = '7',     \
    ['8'] = '8', ['9'] = '9', ['a'] = 'a', ['b'] = 'b', ['c'] = 'c', ['d'] = 'd', ['e'] = 'e', ['f'] = 'f',     \
    ['g'] = 'g', ['h'] = 'h', ['i'] = 'i', ['j'] = 'j', ['k'] = 'k', ['l'] = 'l', ['m'] = 'm', ['n'] = 'n',     \
    ['o'] = 'o', ['p'] = 'p', ['q'] = 'q', ['r'] = 'r', ['s'] = 's', ['t'] = 't', ['u'] = 'u', ['v'] = 'v',     \
    ['w'] = 'w', ['x'] = 'x', ['y'] = 'y', ['z'] = 'z', ['A'] = X('A'), ['B'] = X('B'), ['C'] = X('C'),       \
    ['D'] = X('D'), ['E'] = X('E'), ['F'] = X('F'), ['G'] = X('G'), ['H'] = X('H'), ['I'] = X('I'),           \
    ['J'] = X('J'), ['K'] = X('K'), ['L'] = X('L'), ['M'] = X('M'), ['N'] = X('N'), ['O'] = X('O'),           \
    ['P'] = X('P'), ['Q'] = X('Q'), ['R'] = X('R'), ['S'] = X('S'), ['T'] = X('T'), ['U'] = X('U'),           \
    ['V'] = X('V'), ['W'] = X('W'), ['X'] = X('X'), ['Y'] = X('Y'), ['Z'] = X('Z')
#define TO_LOWER(c) ((c) + 32)
#define AS_IS(c) (c)
static const uint8_t letter_lower[256] = {LETTERS(TO_LOWER)};
static const uint8_t letter_same[256] = {LETTERS(AS_IS)};

// The word being built. Only the first `limit` code points are stored: a longer
// word becomes [UNK] whatever it holds, so the rest are only counted.
typedef struct scan_word {
    int nbytes, nchars;
    int run_start; // first char index NFD may still move a mark before (after the last starter)
    int limit;
    uint8_t ccc[EP_TOK_MAX_WORD_CHARS];
    uint8_t bytes[EP_TOK_WORD_BYTES];
} scan_word;

static int flush(scan_word *w, ep_tok_word_fn fn, void *ctx) {
    if (!w->nchars) return 0;
    ep_tok_word out = {w->bytes, w->nbytes, w->nchars, -1};
    w->nbytes = w->nchars = w->run_start = 0;
    return fn(ctx, &out);
}

// Appends one normalised code point of combining class ccc, moving it before
// the marks of higher class in the current run (NFD's canonical ordering).
static void append(scan_word *w, int32_t cp, int ccc) {
    if (w->nchars < w->limit) {
        uint8_t enc[4];
        int len = ep_utf8_encode(cp, enc);
        int pos = w->nchars;
        while (ccc && pos > w->run_start && w->ccc[pos - 1] > ccc) pos--;
        if (pos == w->nchars) {
            memcpy(w->bytes + w->nbytes, enc, (size_t)len);
        } else { // rare: marks out of canonical order
            int off = 0;
            for (int c = 0; c < pos; c++) { // byte offset of char pos
                off++;
                while ((w->bytes[off] & 0xC0) == 0x80) off++;
            }
            memmove(w->bytes + off + len, w->bytes + off, (size_t)(w->nbytes - off));
            memcpy(w->bytes + off, enc, (size_t)len);
            memmove(w->ccc + pos + 1, w->ccc + pos, (size_t)(w->nchars - pos));
        }
        w->ccc[pos] = (uint8_t)ccc;
        w->nbytes += len;
    }
    w->nchars++;
    if (!ccc) w->run_start = w->nchars;
}

static int emit_single(int32_t cp, ep_tok_word_fn fn, void *ctx) {
    uint8_t enc[4];
    ep_tok_word out = {enc, ep_utf8_encode(cp, enc), 1, -1};
    return fn(ctx, &out);
}

// @return the length of the longest added token starting at p (its id in *id), or 0.
// The fast path's added tokens all start with an ASCII punctuation byte, so the
// scanner meets every place one can start at.
static int match_added(const ep_tokenizer *tok, const uint8_t *p, const uint8_t *end, int32_t *id) {
    const ep_tok_added_set *set = &tok->raw;
    int best = 0;
    for (int i = set->first[*p]; i < set->first[*p + 1]; i++) {
        const ep_tok_added_token *t = &set->tok[i];
        if ((int)t->len <= best || (size_t)(end - p) < t->len) continue;
        if (memcmp(p, t->text, t->len) == 0) {
            best = (int)t->len;
            *id = t->id;
        }
    }
    return best;
}

int ep_tok_scan(const ep_tokenizer *tok, const char *text, size_t len, ep_tok_word_fn fn, void *ctx) {
    scan_word w;
    w.nbytes = w.nchars = w.run_start = 0;
    w.limit = tok->opt.max_input_chars_per_word + 1; // one past the limit marks the word too long
    if (w.limit > EP_TOK_MAX_WORD_CHARS) w.limit = EP_TOK_MAX_WORD_CHARS;
    const int lower = tok->opt.lowercase;
    const ep_hf_bert bert = ep_hf_bert_of(&tok->opt);
    const uint8_t *p = (const uint8_t *)text, *end = p + (text ? len : 0);
    ep_hf_piece pieces[EP_HF_MAX_PIECES];

    while (p < end) {
        uint8_t c = *p;
        if (c < 0x80) {
            int k = ascii_kind[c];
            if (k == A_LETTER) { // the hot loop: a run of ASCII letters and digits
                const uint8_t *map = lower ? letter_lower : letter_same, *start = p;
                uint8_t *dst = w.bytes + w.nbytes, m;
                int room = w.limit - w.nchars; // may be negative once the word is too long
                if (room >= end - p) { // all of it fits: no capacity check per byte
                    while (p < end && (m = map[*p])) *dst++ = m, p++;
                } else {
                    uint8_t *stop = dst + (room > 0 ? room : 0);
                    while (p < end && (m = map[*p])) {
                        if (dst < stop) *dst++ = m;
                        p++;
                    }
                }
                w.nchars += (int)(p - start);
                w.nbytes = (int)(dst - w.bytes);
                w.run_start = w.nchars;
            } else if (k == A_SPACE) {
                if (flush(&w, fn, ctx)) return 1;
                p++;
            } else if (k == A_PUNCT) {
                if (flush(&w, fn, ctx)) return 1;
                int32_t id = -1;
                int slen = tok->raw.first[c] < tok->raw.first[c + 1] ? match_added(tok, p, end, &id) : 0;
                if (slen) {
                    ep_tok_word sw = {p, slen, 1, id};
                    if (fn(ctx, &sw)) return 1;
                    p += slen;
                } else {
                    if (emit_single(c, fn, ctx)) return 1;
                    p++;
                }
            } else {
                p++; // removed by clean_text; not a starter (it is gone before NFD)
            }
            continue;
        }
        int32_t cp;
        int n = ep_utf8_decode(p, end, &cp);
        if (!n) { // invalid byte: U+FFFD, which clean_text removes
            p++;
            continue;
        }
        p += n;
        int np;
        int kind = ep_hf_normalize_char(cp, &bert, pieces, &np);
        if (kind == EP_HF_DROP) continue;
        if (kind == EP_HF_SPACE || kind == EP_HF_CJK) {
            if (flush(&w, fn, ctx)) return 1;
            if (kind == EP_HF_SPACE) continue;
        }
        for (int i = 0; i < np; i++) {
            if (pieces[i].flags & EP_HF_PIECE_STARTER) {
                w.run_start = w.nchars;
            } else if (pieces[i].flags & EP_HF_PIECE_PUNCT) {
                if (flush(&w, fn, ctx) || emit_single(pieces[i].cp, fn, ctx)) return 1;
            } else {
                append(&w, pieces[i].cp, pieces[i].ccc);
            }
        }
        if (kind == EP_HF_CJK && flush(&w, fn, ctx)) return 1;
    }
    return flush(&w, fn, ctx);
}

// ---------------------------------------------------------------------------
// ep_tokenizer_words: the scanner's output as text, for tests and inspection.

typedef struct words_ctx {
    char *out;
    size_t cap, len;
} words_ctx;

static void words_put(words_ctx *c, const void *s, size_t n) {
    if (c->len + 1 < c->cap) {
        size_t room = c->cap - 1 - c->len;
        memcpy(c->out + c->len, s, n < room ? n : room);
    }
    c->len += n;
}

static int words_fn(void *vctx, const ep_tok_word *w) {
    words_ctx *c = vctx;
    if (c->len) words_put(c, " ", 1);
    words_put(c, w->bytes, (size_t)w->nbytes);
    return 0;
}

size_t ep_tokenizer_words(const ep_tokenizer *tok, const char *text, size_t len, char *out, size_t cap) {
    words_ctx c = {out, cap, 0};
    if (tok && tok->chain) return ep_tok_chain_words(tok, text, len, out, cap);
    if (tok) ep_tok_scan(tok, text, len, words_fn, &c);
    if (cap) out[c.len < cap ? c.len : cap - 1] = '\0';
    return c.len;
}
