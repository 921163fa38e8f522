/*
 * vocab.c - the model's vocabulary as hash tables (whole tokens, and
 * continuation pieces without their prefix), whichever file it came from
 * (vocab.txt: tokenizer.c; tokenizer.json: tokjson_model.c), and the look-ups
 * of the public API.
 */
#include <stdlib.h>
#include <string.h>

#include "vocab_table.h"

int32_t ep_tok_lookup(const ep_tokenizer *tok, const ep_tok_table *t, const uint8_t *key, int len) {
    return ep_tok_find(tok, t, key, len, ep_tok_key_hash(key, len));
}

// @return the id already holding this key (a duplicate), or -1 after inserting id.
static int32_t table_insert(ep_tokenizer *tok, ep_tok_table *t, uint32_t id) {
    const uint8_t *key = (const uint8_t *)tok->strings + tok->offset[id] + t->skip;
    int len = tok->length[id] - t->skip;
    int32_t old = ep_tok_lookup(tok, t, key, len);
    if (old >= 0) return old;
    uint32_t h = ep_tok_key_hash(key, len), i = h & t->mask;
    while (t->slot[i].meta) i = (i + 1) & t->mask;
    t->slot[i].hash = h;
    t->slot[i].meta = EP_TOK_SLOT_LEN(len) | (id + 1);
    if (len > t->max_key_len) t->max_key_len = len;
    return -1;
}

static int table_init(ep_tok_table *t, int keys, int skip) {
    uint32_t cap = 16;
    while (cap < (uint32_t)keys * 2u) cap *= 2;
    t->slot = calloc(cap, sizeof *t->slot);
    t->mask = cap - 1;
    t->skip = skip;
    t->max_key_len = 0;
    return t->slot != NULL;
}

int ep_tok_valid_utf8(const uint8_t *s, size_t len) {
    for (size_t i = 0; i < len;) {
        uint8_t c = s[i];
        int n = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        if (!n || c == 0 || i + (size_t)n > len) return 0;
        for (int k = 1; k < n; k++)
            if ((s[i + k] & 0xC0) != 0x80) return 0;
        if ((c == 0xE0 && s[i + 1] < 0xA0) || (c == 0xED && s[i + 1] >= 0xA0) || (c == 0xF0 && s[i + 1] < 0x90) ||
            (c == 0xF4 && s[i + 1] >= 0x90))
            return 0;
        i += (size_t)n;
    }
    return 1;
}

static int has_prefix(const ep_tokenizer *tok, int id, const char *prefix, int prefix_len) {
    return prefix && tok->length[id] > prefix_len && memcmp(tok->strings + tok->offset[id], prefix, (size_t)prefix_len) == 0;
}

ep_status ep_tok_vocab_build(ep_tokenizer *tok, const char *prefix, int prefix_len, int32_t dup[2], ep_error *err) {
    int n_cont = 0;
    for (int id = 0; id < tok->n_vocab; id++) n_cont += has_prefix(tok, id, prefix, prefix_len);
    if (!table_init(&tok->words, tok->n_vocab, 0) || !table_init(&tok->cont, n_cont, prefix ? prefix_len : 0))
        return ep_error_set(err, EP_ERR_NOMEM, "vocabulary: out of memory");
    for (int id = 0; id < tok->n_vocab; id++) {
        int32_t first = table_insert(tok, &tok->words, (uint32_t)id);
        if (first >= 0) {
            dup[0] = first;
            dup[1] = id;
            return EP_ERR_FORMAT; // the caller names the file and where
        }
        if (has_prefix(tok, id, prefix, prefix_len)) table_insert(tok, &tok->cont, (uint32_t)id);
    }
    int longest = tok->words.max_key_len > tok->cont.max_key_len ? tok->words.max_key_len : tok->cont.max_key_len;
    tok->poly_pow = malloc(sizeof *tok->poly_pow * (size_t)(longest + 1));
    if (!tok->poly_pow) return ep_error_set(err, EP_ERR_NOMEM, "vocabulary: out of memory");
    tok->poly_pow[0] = 1;
    for (int i = 1; i <= longest; i++) tok->poly_pow[i] = tok->poly_pow[i - 1] * EP_TOK_POLY_BASE;
    return EP_OK;
}

int32_t ep_tokenizer_token_to_id(const ep_tokenizer *tok, const char *token) {
    if (!tok || !token) return -1;
    size_t len = strlen(token);
    if (len <= EP_TOK_MAX_TOKEN_BYTES && tok->words.slot) {
        int32_t id = ep_tok_lookup(tok, &tok->words, (const uint8_t *)token, (int)len);
        if (id >= 0) return id;
    }
    for (int i = 0; tok->id_text && i < tok->n_ids - tok->n_vocab; i++) // added tokens past the model's
        if (tok->id_text[i] && strcmp(tok->id_text[i], token) == 0) return tok->n_vocab + i;
    return -1;
}

const char *ep_tokenizer_id_to_token(const ep_tokenizer *tok, int32_t id) {
    if (!tok || id < 0 || id >= tok->n_ids) return NULL;
    if (id < tok->n_vocab) return tok->strings + tok->offset[id];
    return tok->id_text ? tok->id_text[id - tok->n_vocab] : NULL;
}

int ep_tokenizer_vocab_size(const ep_tokenizer *tok) {
    return tok ? tok->n_ids : 0;
}
