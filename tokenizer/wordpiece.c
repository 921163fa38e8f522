/*
 * wordpiece.c - WordPiece over the vocabulary tables, and the fast BERT path:
 * words from the scanner (normalize.c) -> WordPiece pieces -> the template's
 * ids around them, cut at max_tokens the way Hugging Face truncates (pieces
 * first, specials kept).
 *
 * Encoding allocates nothing and writes nothing but the caller's ids, so one
 * tokenizer serves any number of threads.
 */
#include "vocab_table.h"

// Greedy longest match from the left, prefixed pieces after the first.
// prefix[i] is the polynomial hash of w[0..i); the hash of any piece w[a..b) is
// then prefix[b] - prefix[a] * POLY_BASE^(b-a), one multiply per look-up.
int ep_tok_wordpiece(const ep_tokenizer *tok, const uint8_t *w, int len, int32_t *out) {
    uint64_t prefix[EP_TOK_WORD_BYTES + 1];
    prefix[0] = 0;
    for (int i = 0; i < len; i++) prefix[i + 1] = prefix[i] * EP_TOK_POLY_BASE + w[i];
    int n = 0;
    for (int start = 0; start < len;) {
        const ep_tok_table *t = start ? &tok->cont : &tok->words;
        int end = len;
        if (end - start > t->max_key_len) { // no longer key exists: start at the longest that could
            end = start + t->max_key_len;
            while (end > start && (w[end] & 0xC0) == 0x80) end--;
        }
        int32_t id = -1;
        while (end > start) {
            uint64_t h = prefix[end] - prefix[start] * tok->poly_pow[end - start];
            id = ep_tok_find(tok, t, w + start, end - start, ep_tok_mix(h));
            if (id >= 0) break;
            do end--;
            while (end > start && (w[end] & 0xC0) == 0x80);
        }
        if (id < 0) return 0;
        out[n++] = id;
        start = end;
    }
    return n;
}

typedef struct encode_ctx {
    const ep_tokenizer *tok;
    int32_t *ids;
    int n;     // ids written so far (the prefix included)
    int limit; // index where the suffix must go: pieces fill ids[n_prefix .. limit-1]
    bool truncated;
} encode_ctx;

static int encode_word(void *vctx, const ep_tok_word *word) {
    encode_ctx *e = vctx;
    const ep_tokenizer *tok = e->tok;
    // A word arriving when no room is left proves the text had more pieces.
    if (e->n >= e->limit) {
        e->truncated = true;
        return 1;
    }
    if (word->special_id >= 0) {
        e->ids[e->n++] = word->special_id;
        return 0;
    }
    if (word->nchars > tok->opt.max_input_chars_per_word) {
        e->ids[e->n++] = tok->unk_id;
        return 0;
    }
    int32_t pieces[EP_TOK_MAX_WORD_CHARS];
    int np = ep_tok_wordpiece(tok, word->bytes, word->nbytes, pieces);
    if (!np) {
        e->ids[e->n++] = tok->unk_id;
        return 0;
    }
    for (int i = 0; i < np; i++) {
        if (e->n >= e->limit) {
            e->truncated = true;
            return 1;
        }
        e->ids[e->n++] = pieces[i];
    }
    return 0;
}

int ep_tok_fast_encode(const ep_tokenizer *tok, const char *text, size_t len, int32_t *ids, int max_tokens,
                       bool *truncated) {
    encode_ctx e = {tok, ids, 0, max_tokens - tok->n_suffix, false};
    for (int i = 0; i < tok->n_prefix; i++) ids[e.n++] = tok->prefix[i];
    ep_tok_scan(tok, text, len, encode_word, &e);
    for (int i = 0; i < tok->n_suffix; i++) ids[e.n++] = tok->suffix[i];
    if (truncated) *truncated = e.truncated;
    return e.n;
}
