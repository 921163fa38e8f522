/*
 * normalizers.c - tokenizer.json's normalizers, one string in, one string out,
 * as tokenizers' NormalizedString methods change the text: BertNormalizer
 * (clean_text, CJK spacing, NFD + strip Mn, lowercase), NFC / NFD / NFKC /
 * NFKD, Lowercase, Strip, StripAccents, Replace, Prepend, Nmt and Precompiled.
 *
 * Unicode comes from hf_unicode.c, which gives what Hugging Face's crates see
 * where they differ from utf8proc. Each function writes at most cap bytes and
 * returns the full length (so a caller can retry with room); only the
 * decomposing ones need scratch, taken from the arena.
 */
#include <string.h>
#include <utf8proc.h>

#include "chain.h"
#include "utf8.h"

typedef struct obuf {
    char *p;
    size_t cap, n;
} obuf;

static inline void put(obuf *o, const void *s, size_t len) {
    if (o->n + len <= o->cap) memcpy(o->p + o->n, s, len);
    o->n += len;
}

static inline void put_cp(obuf *o, int32_t cp) {
    uint8_t enc[4];
    put(o, enc, (size_t)ep_utf8_encode(cp, enc));
}

// ---------------------------------------------------------------------------
// Code point buffers: decomposition, canonical ordering, composition.

typedef struct cps {
    int32_t *cp; // -1: a removed starter that still blocks reordering
    uint8_t *ccc;
    size_t n, cap;
} cps;

static int cps_init(cps *c, size_t cap, ep_tok_arena *a) {
    c->cp = ep_tok_arena_alloc(a, sizeof *c->cp * (cap ? cap : 1));
    c->ccc = ep_tok_arena_alloc(a, cap ? cap : 1);
    c->n = 0;
    c->cap = cap;
    return c->cp && c->ccc;
}

static inline void cps_push(cps *c, int32_t cp, int ccc) {
    if (c->n < c->cap) {
        c->cp[c->n] = cp;
        c->ccc[c->n] = (uint8_t)ccc;
    }
    c->n++;
}

// Canonical ordering: a stable sort by combining class of each run of non-starters.
static void cps_reorder(cps *c) {
    for (size_t i = 1; i < c->n; i++) {
        uint8_t k = c->ccc[i];
        if (!k) continue;
        int32_t v = c->cp[i];
        size_t j = i;
        while (j > 0 && c->ccc[j - 1] > k) {
            c->cp[j] = c->cp[j - 1];
            c->ccc[j] = c->ccc[j - 1];
            j--;
        }
        c->cp[j] = v;
        c->ccc[j] = k;
    }
}

static void cps_write(const cps *c, obuf *o) {
    for (size_t i = 0; i < c->n; i++)
        if (c->cp[i] >= 0) put_cp(o, c->cp[i]);
}

// @return how many code points in[0..n) holds, and how many are not ASCII bytes.
static size_t count_chars(const char *in, size_t n, size_t *non_ascii) {
    size_t k = 0, na = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t b = (uint8_t)in[i];
        k += (b & 0xC0) != 0x80;
        na += b >= 0x80;
    }
    *non_ascii = na;
    return k;
}

// NFD / NFKD, then NFC / NFKC's composition when compose.
static size_t unicode_form(const char *in, size_t n, bool compat, bool compose, obuf *o, ep_tok_arena *a) {
    size_t na;
    count_chars(in, n, &na);
    if (!na) { // ASCII is in every normal form
        put(o, in, n);
        return o->n;
    }
    size_t total = 0;
    int32_t d[EP_HF_MAX_DECOMP];
    for (size_t i = 0; i < n;) {
        int32_t cp;
        i += (size_t)ep_utf8_next(in, n, i, &cp);
        total += (size_t)ep_hf_decompose(cp, compat, d);
    }
    cps c;
    if (!cps_init(&c, total, a)) return (size_t)-1;
    for (size_t i = 0; i < n;) {
        int32_t cp;
        i += (size_t)ep_utf8_next(in, n, i, &cp);
        int k = ep_hf_decompose(cp, compat, d);
        for (int j = 0; j < k; j++) cps_push(&c, d[j], ep_hf_ccc(d[j]));
    }
    cps_reorder(&c);
    if (compose)
        c.n = (size_t)utf8proc_normalize_utf32((utf8proc_int32_t *)c.cp, (utf8proc_ssize_t)c.n, UTF8PROC_COMPOSE);
    cps_write(&c, o);
    return o->n;
}

// BertNormalizer over a whole string (the fast path does the same word by word).
static size_t bert(const ep_hf_bert *b, const char *in, size_t n, obuf *o, ep_tok_arena *a, bool *first_kept) {
    size_t na;
    size_t chars = count_chars(in, n, &na);
    cps c; // a code point yields at most EP_HF_MAX_PIECES + 2 (CJK spacing)
    if (!cps_init(&c, chars + na * (EP_HF_MAX_PIECES + 2), a)) return (size_t)-1;
    ep_hf_piece pieces[EP_HF_MAX_PIECES];
    for (size_t i = 0; i < n;) {
        int32_t cp;
        size_t at = i;
        i += (size_t)ep_utf8_next(in, n, i, &cp);
        int np, kind = ep_hf_normalize_char(cp, b, pieces, &np);
        if (kind == EP_HF_DROP) {
            if (at == 0) *first_kept = false;
            continue;
        }
        if (kind == EP_HF_SPACE) {
            int32_t d[EP_HF_MAX_DECOMP]; // without clean_text the character stays (NFD'd when stripping)
            int k = b->clean_text ? (d[0] = ' ', 1) : b->strip_accents ? ep_hf_decompose(cp, false, d) : (d[0] = cp, 1);
            for (int j = 0; j < k; j++) cps_push(&c, d[j], 0);
            continue;
        }
        if (kind == EP_HF_CJK) cps_push(&c, ' ', 0);
        if (np == 0 && at == 0) *first_kept = false;
        for (int j = 0; j < np; j++)
            cps_push(&c, (pieces[j].flags & EP_HF_PIECE_STARTER) ? -1 : pieces[j].cp, pieces[j].ccc);
        if (kind == EP_HF_CJK) cps_push(&c, ' ', 0);
    }
    if (b->strip_accents) cps_reorder(&c);
    cps_write(&c, o);
    return o->n;
}

// ---------------------------------------------------------------------------
// Character maps and filters.

static size_t lowercase(const char *in, size_t n, obuf *o) {
    for (size_t i = 0; i < n;) {
        int32_t cp, low[2];
        int len = ep_utf8_next(in, n, i, &cp);
        if (cp < 0x80) {
            char ch = (char)((cp >= 'A' && cp <= 'Z') ? cp + 32 : cp);
            put(o, &ch, 1);
        } else {
            int k = ep_hf_lowercase(cp, low);
            for (int j = 0; j < k; j++) put_cp(o, low[j]);
        }
        i += (size_t)len;
    }
    return o->n;
}

static size_t strip(const ep_tok_norm *nz, const char *in, size_t n, obuf *o, bool *first_kept) {
    size_t start = 0, end = n;
    int32_t cp;
    while (nz->left && start < end) {
        int len = ep_utf8_next(in, n, start, &cp);
        if (!ep_hf_is_whitespace(cp)) break;
        start += (size_t)len;
    }
    while (nz->right && end > start) {
        size_t p = ep_utf8_prev(in, end);
        ep_utf8_next(in, n, p, &cp);
        if (!ep_hf_is_whitespace(cp)) break;
        end = p;
    }
    if (start > 0) *first_kept = false;
    put(o, in + start, end - start);
    return o->n;
}

// tokenizers' Nmt: drops some controls, maps others (and U+2581) to a space.
static size_t nmt(const char *in, size_t n, obuf *o, bool *first_kept) {
    for (size_t i = 0; i < n;) {
        int32_t cp;
        size_t at = i;
        i += (size_t)ep_utf8_next(in, n, i, &cp);
        if ((cp >= 1 && cp <= 8) || cp == 0xB || (cp >= 0xE && cp <= 0x1F) || cp == 0x7F || cp == 0x8F ||
            cp == 0x9F) {
            if (at == 0) *first_kept = false;
            continue;
        }
        if (cp == 9 || cp == 0xA || cp == 0xC || cp == 0xD || cp == 0x1680 || (cp >= 0x200B && cp <= 0x200F) ||
            cp == 0x2028 || cp == 0x2029 || cp == 0x2581 || cp == 0xFEFF || cp == 0xFFFD)
            cp = ' ';
        put_cp(o, cp);
    }
    return o->n;
}

static size_t strip_accents(const char *in, size_t n, obuf *o, bool *first_kept) {
    for (size_t i = 0; i < n;) {
        int32_t cp;
        int len = ep_utf8_next(in, n, i, &cp);
        if (!ep_hf_is_mark(cp, true)) put(o, in + i, (size_t)len);
        else if (i == 0) *first_kept = false;
        i += (size_t)len;
    }
    return o->n;
}

static size_t replace(const ep_tok_norm *nz, const char *in, size_t n, obuf *o, bool *first_kept) {
    size_t at = 0, ms, me;
    while (ep_tok_regex_find(nz->re, in, n, at, &ms, &me)) {
        put(o, in + at, ms - at);
        put(o, nz->text, nz->text_len);
        if (ms == 0 && nz->text_len == 0) *first_kept = false;
        at = me;
    }
    put(o, in + at, n - at);
    return o->n;
}

size_t ep_tok_normalize(const ep_tok_norm *nz, const char *in, size_t n, char *out, size_t cap, ep_tok_arena *a,
                        bool *first_kept) {
    obuf o = {out, cap, 0};
    switch (nz->kind) {
    case EP_NORM_BERT: return bert(&nz->bert, in, n, &o, a, first_kept);
    case EP_NORM_NFC: return unicode_form(in, n, false, true, &o, a);
    case EP_NORM_NFD: return unicode_form(in, n, false, false, &o, a);
    case EP_NORM_NFKC: return unicode_form(in, n, true, true, &o, a);
    case EP_NORM_NFKD: return unicode_form(in, n, true, false, &o, a);
    case EP_NORM_LOWERCASE: return lowercase(in, n, &o);
    case EP_NORM_STRIP: return strip(nz, in, n, &o, first_kept);
    case EP_NORM_STRIP_ACCENTS: return strip_accents(in, n, &o, first_kept);
    case EP_NORM_REPLACE: return replace(nz, in, n, &o, first_kept);
    case EP_NORM_NMT: return nmt(in, n, &o, first_kept);
    case EP_NORM_PREPEND:
        if (n) put(&o, nz->text, nz->text_len); // an empty text stays empty
        put(&o, in, n);
        return o.n;
    case EP_NORM_PRECOMPILED: {
        char first[64]; // what the charsmap makes of the first character alone: nothing means deleted
        if (n && nz->apply(nz->map, in, (size_t)ep_utf8_next(in, n, 0, &(int32_t){0}), first, sizeof first) == 0)
            *first_kept = false;
        return nz->apply(nz->map, in, n, out, cap);
    }
    }
    return 0;
}
