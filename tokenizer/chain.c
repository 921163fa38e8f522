/*
 * chain.c - encoding through the general tokenizer.json chain, in tokenizers'
 * order (Tokenizer::encode_single_sequence):
 *   1. added tokens with normalized: false are split off the raw text;
 *   2. each other stretch is normalised on its own, and added tokens with
 *      normalized: true are split off the result;
 *   3. the pre-tokenizers cut each remaining piece into words;
 *   4. the model turns each word into ids;
 *   5. the post-processor's ids go around them, after truncation to
 *      max_tokens (the text's ids cut on the right, the specials kept).
 * Everything is handed on as it is found, and encoding stops at the first id
 * that does not fit.
 */
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "utf8.h"

// The arena's first block lives on encode's stack: a tweet never leaves it.
#define STACK_ARENA 16384

void ep_tok_arena_init(ep_tok_arena *a, void *buf, size_t cap) {
    a->base = buf;
    a->cap = cap;
    a->used = 0;
    a->heap = NULL;
    a->failed = false;
}

void *ep_tok_arena_alloc(ep_tok_arena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (a->used + n > a->cap) {
        size_t size = n > 4 * a->cap ? n : 4 * a->cap;
        void **block = malloc(16 + size);
        if (!block) {
            a->failed = true;
            return NULL;
        }
        *block = a->heap;
        a->heap = block;
        a->base = (char *)block + 16;
        a->cap = size;
        a->used = 0;
    }
    void *p = a->base + a->used;
    a->used += n;
    return p;
}

void ep_tok_arena_release(ep_tok_arena *a) {
    while (a->heap) {
        void *prev = *(void **)a->heap;
        free(a->heap);
        a->heap = prev;
    }
}

const char *ep_tok_normalize_all(const ep_tok_chain *c, const char *in, size_t n, size_t *out_n, bool *first_kept,
                                 ep_tok_arena *a) {
    for (int i = 0; i < c->n_norm; i++) {
        size_t cap = n + n / 2 + 16;
        char *out = ep_tok_arena_alloc(a, cap);
        if (!out) return NULL;
        size_t need = ep_tok_normalize(&c->norm[i], in, n, out, cap, a, first_kept);
        if (need != (size_t)-1 && need > cap) { // grew more than by half: once more, with room
            if (!(out = ep_tok_arena_alloc(a, need))) return NULL;
            need = ep_tok_normalize(&c->norm[i], in, n, out, need, a, first_kept);
        }
        if (need == (size_t)-1) return NULL;
        in = out;
        n = need;
    }
    *out_n = n;
    return in;
}

// @return text itself when it is valid UTF-8, else a copy in the arena with each
// invalid sequence replaced by U+FFFD as Python's decode(errors="replace") does.
static const char *valid_text(const char *text, size_t *len, ep_tok_arena *a) {
    const uint8_t *p = (const uint8_t *)text, *end = p + *len;
    int32_t cp;
    size_t bad = 0;
    for (const uint8_t *q = p; q < end;) {
        int k = *q < 0x80 ? 1 : ep_utf8_decode(q, end, &cp);
        if (!k) bad++;
        q += k ? k : ep_utf8_invalid_len(q, end);
    }
    if (!bad) return text;
    uint8_t *out = ep_tok_arena_alloc(a, *len + 3 * bad), *o = out;
    if (!out) return NULL;
    for (const uint8_t *q = p; q < end;) {
        int k = *q < 0x80 ? 1 : ep_utf8_decode(q, end, &cp);
        if (k) {
            memcpy(o, q, (size_t)k);
            o += k, q += k;
        } else {
            o += ep_utf8_encode(0xFFFD, o);
            q += ep_utf8_invalid_len(q, end);
        }
    }
    *len = (size_t)(o - out);
    return (const char *)out;
}

// ---------------------------------------------------------------------------
// One encoding's state, through the callbacks of each step.

typedef struct run {
    const ep_tokenizer *tok;
    ep_tok_arena *a;
    const char *text;  // the (valid) raw text
    const char *piece; // the normalised stretch being split (step 2)
    bool piece_at0;    // that stretch starts at offset 0 of the text, first character kept
    int32_t *ids;
    int n, limit;
    bool truncated, failed;
    // ep_tok_chain_words: the words instead of ids
    char *words;
    size_t words_cap, words_len;
} run;

static int emit_id(run *r, int32_t id) {
    if (r->n >= r->limit) {
        r->truncated = true;
        return 1;
    }
    r->ids[r->n++] = id;
    return 0;
}

static void words_put(run *r, const char *s, size_t n) {
    if (r->words_len && r->words_len + 1 < r->words_cap) r->words[r->words_len] = ' ';
    r->words_len += r->words_len > 0;
    for (size_t i = 0; i < n; i++, r->words_len++)
        if (r->words_len + 1 < r->words_cap) r->words[r->words_len] = s[i];
}

static int wordpiece_word(run *r, const char *w, size_t n) {
    const ep_tokenizer *tok = r->tok;
    size_t chars = 0;
    for (size_t i = 0; i < n; i++) chars += ((uint8_t)w[i] & 0xC0) != 0x80;
    int32_t pieces[EP_TOK_MAX_WORD_CHARS];
    int np = chars > (size_t)tok->chain->max_chars ? 0 : ep_tok_wordpiece(tok, (const uint8_t *)w, (int)n, pieces);
    if (!np) return emit_id(r, tok->unk_id);
    for (int i = 0; i < np; i++)
        if (emit_id(r, pieces[i])) return 1;
    return 0;
}

// Step 4: one word through the model.
static int model_word(void *vctx, const char *w, size_t n) {
    run *r = vctx;
    if (r->words) {
        words_put(r, w, n);
        return 0;
    }
    if (r->n >= r->limit) { // a word arriving when no room is left proves the text had more
        r->truncated = true;
        return 1;
    }
    const ep_tok_chain *c = r->tok->chain;
    if (c->model == EP_MODEL_WORDPIECE) return wordpiece_word(r, w, n);
    int room = r->limit - r->n;
    int k = c->encode_word(c->model_data, w, n, r->ids + r->n, room);
    if (k < 0) {
        r->failed = true;
        return 1;
    }
    r->n += k < room ? k : room;
    if (k > room) r->truncated = true;
    return k > room;
}

static int added_id(run *r, int32_t id) {
    if (!r->words) return emit_id(r, id);
    const char *s = ep_tokenizer_id_to_token(r->tok, id);
    words_put(r, s ? s : "?", s ? strlen(s) : 1);
    return 0;
}

// Step 3 (called by step 2 with each stretch of the normalised text).
static int normalized_piece(void *vctx, size_t start, size_t end, int32_t id) {
    run *r = vctx;
    if (id >= 0) return added_id(r, id);
    int k = ep_tok_pretokenize(r->tok->chain, 0, r->piece + start, end - start, r->piece_at0 && start == 0, r->a,
                               model_word, r);
    if (k < 0) r->failed = true;
    return k != 0;
}

// Step 2 (called by step 1 with each stretch of the raw text).
static int raw_piece(void *vctx, size_t start, size_t end, int32_t id) {
    run *r = vctx;
    if (id >= 0) return added_id(r, id);
    bool kept = true;
    size_t n;
    const char *norm = ep_tok_normalize_all(r->tok->chain, r->text + start, end - start, &n, &kept, r->a);
    if (!norm) {
        r->failed = true;
        return 1;
    }
    r->piece = norm;
    r->piece_at0 = start == 0 && kept;
    return ep_tok_added_split(&r->tok->norm, norm, n, normalized_piece, r);
}

static void run_text(run *r, const char *text, size_t len) {
    r->text = valid_text(text, &len, r->a);
    if (!r->text) {
        r->failed = true;
        return;
    }
    ep_tok_added_split(&r->tok->raw, r->text, len, raw_piece, r);
}

int ep_tok_chain_encode(const ep_tokenizer *tok, const char *text, size_t len, int32_t *ids, int max_tokens,
                        bool *truncated) {
    _Alignas(16) char stack[STACK_ARENA];
    ep_tok_arena a;
    ep_tok_arena_init(&a, stack, sizeof stack);
    run r = {.tok = tok, .a = &a, .ids = ids, .limit = max_tokens - tok->n_suffix};
    for (int i = 0; i < tok->n_prefix; i++) ids[r.n++] = tok->prefix[i];
    run_text(&r, text, len);
    ep_tok_arena_release(&a);
    if (r.failed) { // out of memory: the text's ids are dropped rather than cut at a random place
        r.n = tok->n_prefix;
        r.truncated = true;
    }
    for (int i = 0; i < tok->n_suffix; i++) ids[r.n++] = tok->suffix[i];
    if (truncated) *truncated = r.truncated;
    return r.n;
}

size_t ep_tok_chain_words(const ep_tokenizer *tok, const char *text, size_t len, char *out, size_t cap) {
    _Alignas(16) char stack[STACK_ARENA];
    ep_tok_arena a;
    ep_tok_arena_init(&a, stack, sizeof stack);
    char none;
    run r = {.tok = tok, .a = &a, .words = cap ? out : &none, .words_cap = cap};
    run_text(&r, text, len);
    ep_tok_arena_release(&a);
    if (cap) out[r.words_len < cap ? r.words_len : cap - 1] = '\0';
    return r.words_len;
}

void ep_tok_chain_free(ep_tok_chain *c) {
    if (!c) return;
    for (int i = 0; i < c->n_norm; i++) {
        ep_tok_regex_free(c->norm[i].re);
        free(c->norm[i].text);
        if (c->norm[i].map_free) c->norm[i].map_free(c->norm[i].map);
    }
    free(c->norm);
    free(c->pre);
    if (c->model_free) c->model_free(c->model_data);
    free(c->model_aux);
    free(c);
}
