/*
 * hf_unicode.c - one code point through Hugging Face's BertNormalizer, with
 * the Unicode data Hugging Face actually uses.
 *
 * tokenizers' BertNormalizer does, in order: clean_text (drop NUL, U+FFFD and
 * "other" categories except \t \n \r; map whitespace to ' '), spaces around CJK
 * ideographs, NFD + drop Mn marks (strip_accents, which follows lowercase),
 * then Rust's char::to_lowercase. BertPreTokenizer then splits on whitespace and
 * isolates punctuation. We use utf8proc for every property; where HF's crates
 * are older or newer than utf8proc's Unicode version, hf_unicode_tables.h
 * (generated and checked against HF over all code points) says what HF sees.
 */
#include <stdlib.h>
#include <utf8proc.h>

#include "tokenizer_internal.h"

typedef struct ep_hf_range {
    int32_t lo, hi, value;
} ep_hf_range;

#include "hf_unicode_tables.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const ep_hf_range *find_range(const ep_hf_range *t, size_t n, int32_t cp) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < t[mid].lo) hi = mid;
        else if (cp > t[mid].hi) lo = mid + 1;
        else return &t[mid];
    }
    return NULL;
}

// The category HF's (Unicode 8.0) tables give cp, for the categories that matter.
static int hf_category(int32_t cp, int ucat) {
    const ep_hf_range *r = find_range(ep_hf_category_overrides, COUNT(ep_hf_category_overrides), cp);
    return r ? r->value : ucat;
}

static int hf_ccc(int32_t cp, int uccc) {
    if (!uccc) return 0;
    return find_range(ep_hf_ccc_zero, COUNT(ep_hf_ccc_zero), cp) ? 0 : uccc;
}

static int is_punct_category(int cat) {
    return cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
}

static int is_ascii_punct(int32_t cp) {
    return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126);
}

int ep_hf_is_punct(int32_t cp) {
    if (cp < 128) return is_ascii_punct(cp);
    return is_punct_category(hf_category(cp, utf8proc_category(cp)));
}

// Rust's char::is_whitespace: the White_Space property = Z* plus \t..\r and U+0085.
static int is_whitespace(int32_t cp, int ucat) {
    return (cp >= 9 && cp <= 13) || cp == 0x85 || ucat == UTF8PROC_CATEGORY_ZS || ucat == UTF8PROC_CATEGORY_ZL ||
           ucat == UTF8PROC_CATEGORY_ZP;
}

int ep_hf_is_whitespace(int32_t cp) {
    if (cp < 128) return cp == ' ' || (cp >= 9 && cp <= 13);
    return is_whitespace(cp, utf8proc_category(cp));
}

int ep_hf_is_word_char(int32_t cp) {
    if (cp < 128) return (cp >= '0' && cp <= '9') || ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') || cp == '_';
    const ep_hf_range *r = find_range(ep_hf_word_overrides, COUNT(ep_hf_word_overrides), cp);
    if (r) return r->value;
    int cat = utf8proc_category(cp);
    if ((cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_ND) || cat == UTF8PROC_CATEGORY_NL ||
        cat == UTF8PROC_CATEGORY_PC || cp == 0x200C || cp == 0x200D)
        return 1;
    // Other_Alphabetic symbols (circled and squared Latin letters) are alphabetic too.
    return (cp >= 0x24B6 && cp <= 0x24E9) || (cp >= 0x1F130 && cp <= 0x1F149) || (cp >= 0x1F150 && cp <= 0x1F169) ||
           (cp >= 0x1F170 && cp <= 0x1F189);
}

// tokenizers' is_chinese_char, ranges as written there (0x2B920, not 0x2B820, as in
// the original BERT code).
static int is_cjk(int32_t cp) {
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
           (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) ||
           (cp >= 0x2B920 && cp <= 0x2CEAF) || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

// Rust's char::to_lowercase (full mapping: U+0130 becomes two code points).
int ep_hf_lowercase(int32_t cp, int32_t out[2]) {
    if (cp < 128) {
        out[0] = (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
        return 1;
    }
    if (cp == 0x130) {
        out[0] = 'i';
        out[1] = 0x307;
        return 2;
    }
    const ep_hf_range *r = find_range(ep_hf_lower_overrides, COUNT(ep_hf_lower_overrides), cp);
    out[0] = r ? cp + r->value : utf8proc_tolower(cp);
    return 1;
}

int ep_hf_ccc(int32_t cp) {
    return cp < 0x300 ? 0 : hf_ccc(cp, utf8proc_get_property(cp)->combining_class);
}

int ep_hf_is_mark(int32_t cp, bool any_mark) {
    if (cp < 0x300) return 0;
    if (!any_mark) return hf_category(cp, utf8proc_category(cp)) == UTF8PROC_CATEGORY_MN;
    // StripAccents asks the normalisation crate (Unicode 9.0), not BertNormalizer's categories.
    const ep_hf_range *r = find_range(ep_hf_mark_overrides, COUNT(ep_hf_mark_overrides), cp);
    if (r) return r->value;
    int cat = utf8proc_category(cp);
    return cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_MC || cat == UTF8PROC_CATEGORY_ME;
}

// The decomposition as HF's NFD (compat: NFKD) has it, recursively expanded.
static int decompose(int32_t cp, const utf8proc_property_t *pr, bool compat, int32_t *out, int cap) {
    int hangul = cp >= 0xAC00 && cp <= 0xD7A3;
    if ((pr->decomp_seqindex == UINT16_MAX && !hangul) ||
        find_range(ep_hf_no_decomposition, COUNT(ep_hf_no_decomposition), cp) ||
        (compat && find_range(ep_hf_no_compat_decomposition, COUNT(ep_hf_no_compat_decomposition), cp))) {
        out[0] = cp;
        return 1;
    }
    utf8proc_int32_t buf[EP_HF_MAX_DECOMP];
    int last = 0;
    utf8proc_option_t o = (utf8proc_option_t)(UTF8PROC_DECOMPOSE | (compat ? UTF8PROC_COMPAT : 0));
    utf8proc_ssize_t n = utf8proc_decompose_char(cp, buf, EP_HF_MAX_DECOMP, o, &last);
    if (n <= 0 || n > cap) { // cannot happen: no decomposition is longer than 18
        out[0] = cp;
        return 1;
    }
    for (utf8proc_ssize_t i = 0; i < n; i++) out[i] = buf[i];
    return (int)n;
}

int ep_hf_decompose(int32_t cp, bool compat, int32_t out[EP_HF_MAX_DECOMP]) {
    if (cp < 0xA0) {
        out[0] = cp;
        return 1;
    }
    return decompose(cp, utf8proc_get_property(cp), compat, out, EP_HF_MAX_DECOMP);
}

ep_hf_bert ep_hf_bert_of(const ep_tokenizer_options *opt) {
    ep_hf_bert b = {.clean_text = true, .cjk = opt->handle_chinese_chars, .lowercase = opt->lowercase};
    b.strip_accents = opt->strip_accents < 0 ? opt->lowercase : opt->strip_accents != 0;
    return b;
}

// A code point that is kept whole (no NFD): lowercased when asked, no reordering.
static int keep_char(int32_t cp, const ep_hf_bert *b, ep_hf_piece *out) {
    int32_t low[2];
    int nl = b->lowercase ? ep_hf_lowercase(cp, low) : (low[0] = cp, 1);
    for (int j = 0; j < nl; j++) out[j] = (ep_hf_piece){low[j], 0, ep_hf_is_punct(low[j]) ? EP_HF_PIECE_PUNCT : 0};
    return nl;
}

int ep_hf_normalize_char(int32_t cp, const ep_hf_bert *b, ep_hf_piece *out, int *n) {
    *n = 0;
    const utf8proc_property_t *pr = utf8proc_get_property(cp);
    int cat = hf_category(cp, pr->category);
    // Unassigned (Cn) code points are kept: HF's "other" test does not cover them.
    if (b->clean_text && (cp == 0 || cp == 0xFFFD ||
                          ((cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF ||
                            cat == UTF8PROC_CATEGORY_CO || cat == UTF8PROC_CATEGORY_CS) &&
                           cp != '\t' && cp != '\n' && cp != '\r')))
        return EP_HF_DROP;
    if (is_whitespace(cp, pr->category)) return EP_HF_SPACE;
    int kind = (b->cjk && is_cjk(cp)) ? EP_HF_CJK : EP_HF_CHARS;

    if (!b->strip_accents) { // no NFD, so no canonical reordering either
        *n = keep_char(cp, b, out);
        return kind;
    }
    int32_t dec[EP_HF_MAX_DECOMP];
    int nd = decompose(cp, pr, false, dec, EP_HF_MAX_PIECES);
    int k = 0;
    for (int i = 0; i < nd; i++) {
        int32_t d = dec[i];
        const utf8proc_property_t *dp = (d == cp) ? pr : utf8proc_get_property(d);
        int dcat = (d == cp) ? cat : hf_category(d, dp->category);
        int ccc = hf_ccc(d, dp->combining_class);
        if (dcat == UTF8PROC_CATEGORY_MN) {
            // Gone, but a class-0 mark still stopped NFD from reordering across it.
            if (!ccc && k < EP_HF_MAX_PIECES) out[k++] = (ep_hf_piece){d, 0, EP_HF_PIECE_STARTER};
            continue;
        }
        int32_t low[2];
        int nl = b->lowercase ? ep_hf_lowercase(d, low) : (low[0] = d, 1);
        for (int j = 0; j < nl && k < EP_HF_MAX_PIECES; j++) {
            uint8_t flags = ep_hf_is_punct(low[j]) ? EP_HF_PIECE_PUNCT : 0;
            out[k++] = (ep_hf_piece){low[j], (uint8_t)(j ? 0 : ccc), flags};
        }
    }
    *n = k;
    return kind;
}
