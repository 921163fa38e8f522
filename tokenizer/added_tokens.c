/*
 * added_tokens.c - finding added tokens in a text, as tokenizers'
 * AddedVocabulary::find_matches does: leftmost-longest matches, scanning on
 * after each one; a single_word token is skipped where a word character
 * (Rust regex \w) touches it; lstrip takes the whitespace before the token
 * (not past the previous match), rstrip the whitespace after it.
 *
 * The sets are small (a handful to a few hundred tokens), so a match is
 * looked for only among the tokens that start with the byte at hand.
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"
#include "utf8.h"

static int by_first_byte(const void *a, const void *b) {
    const ep_tok_added_token *x = a, *y = b;
    int d = (uint8_t)x->text[0] - (uint8_t)y->text[0];
    return d ? d : (x->id > y->id) - (x->id < y->id);
}

int ep_tok_added_index(ep_tok_added_set *set) {
    for (int i = 0; i < set->n; i++)
        if (!set->tok[i].len) return -1;
    if (set->n) qsort(set->tok, (size_t)set->n, sizeof *set->tok, by_first_byte);
    memset(set->first, 0, sizeof set->first);
    for (int i = 0; i < set->n; i++) set->first[(uint8_t)set->tok[i].text[0] + 1]++;
    for (int b = 0; b < 256; b++) set->first[b + 1] += set->first[b];
    return 0;
}

// @return the longest token of set at s[pos..n), or NULL.
static const ep_tok_added_token *longest_at(const ep_tok_added_set *set, const char *s, size_t n, size_t pos) {
    const ep_tok_added_token *best = NULL;
    uint8_t b = (uint8_t)s[pos];
    for (int i = set->first[b]; i < set->first[b + 1]; i++) {
        const ep_tok_added_token *t = &set->tok[i];
        if (t->len <= n - pos && (!best || t->len > best->len) && memcmp(s + pos, t->text, t->len) == 0) best = t;
    }
    return best;
}

// \w$ on s[0..end): whether the code point before end is a word character.
static int ends_with_word(const char *s, size_t end) {
    if (!end) return 0;
    int32_t cp;
    ep_utf8_next(s, end, ep_utf8_prev(s, end), &cp);
    return ep_hf_is_word_char(cp);
}

// ^\w on s[start..n).
static int starts_with_word(const char *s, size_t n, size_t start) {
    if (start >= n) return 0;
    int32_t cp;
    ep_utf8_next(s, n, start, &cp);
    return ep_hf_is_word_char(cp);
}

// Where \s*$ starts in s[0..end): the start of the whitespace that ends it.
static size_t trailing_space_start(const char *s, size_t end) {
    while (end > 0) {
        size_t p = ep_utf8_prev(s, end);
        int32_t cp;
        ep_utf8_next(s, end, p, &cp);
        if (!ep_hf_is_whitespace(cp)) break;
        end = p;
    }
    return end;
}

// Where ^\s* ends in s[start..n).
static size_t leading_space_end(const char *s, size_t n, size_t start) {
    while (start < n) {
        int32_t cp;
        int len = ep_utf8_next(s, n, start, &cp);
        if (!ep_hf_is_whitespace(cp)) break;
        start += (size_t)len;
    }
    return start;
}

int ep_tok_added_split(const ep_tok_added_set *set, const char *s, size_t n, ep_tok_piece_fn fn, void *ctx) {
    size_t start_offset = 0;
    for (size_t pos = 0; set->n && pos < n;) {
        const ep_tok_added_token *t = set->first[(uint8_t)s[pos]] < set->first[(uint8_t)s[pos] + 1]
                                          ? longest_at(set, s, n, pos)
                                          : NULL;
        if (!t) {
            pos++; // tokens are valid UTF-8: none starts inside a code point
            continue;
        }
        size_t start = pos, stop = pos + t->len;
        pos = stop;
        if ((t->flags & EP_TOK_ADDED_SINGLE_WORD) &&
            ((start > 0 && ends_with_word(s, start)) || (stop < n && starts_with_word(s, n, stop))))
            continue;
        if (t->flags & EP_TOK_ADDED_LSTRIP) {
            size_t ns = trailing_space_start(s, start);
            start = ns > start_offset ? ns : start_offset;
        }
        if (t->flags & EP_TOK_ADDED_RSTRIP) stop = leading_space_end(s, n, stop);
        if (start > stop) start = stop; // an earlier rstrip ran past this match (tokenizers would panic)
        if (start_offset < start && fn(ctx, start_offset, start, -1)) return 1;
        if (fn(ctx, start, stop, t->id)) return 1;
        start_offset = stop;
    }
    if (start_offset < n) return fn(ctx, start_offset, n, -1);
    return 0;
}
