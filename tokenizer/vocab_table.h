/*
 * vocab_table.h - the hash of a vocabulary key and the look-up of one key,
 * inline for WordPiece's inner loop (wordpiece.c) and shared with the table
 * builder (vocab.c).
 *
 * Keys are hashed with a polynomial hash, so that WordPiece can get the hash of
 * any piece of a word in O(1) from the word's prefix hashes, then mixed
 * (splitmix64's finaliser) because the polynomial's low bits are weak.
 */
#ifndef EP_TOK_VOCAB_TABLE_H
#define EP_TOK_VOCAB_TABLE_H

#include "tokenizer_internal.h"

#define EP_TOK_POLY_BASE 0x9E3779B97F4A7C15ull

static inline uint32_t ep_tok_mix(uint64_t x) {
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBull;
    x ^= x >> 31;
    return (uint32_t)x;
}

static inline uint32_t ep_tok_key_hash(const uint8_t *key, int len) {
    uint64_t p = 0;
    for (int i = 0; i < len; i++) p = p * EP_TOK_POLY_BASE + key[i];
    return ep_tok_mix(p);
}

// Slots keep min(key length, 255) beside the id, so most mismatches are
// rejected without touching the token strings.
#define EP_TOK_SLOT_ID(meta) (((meta) & 0xFFFFFFu) - 1)
#define EP_TOK_SLOT_LEN(len) ((uint32_t)((len) < 255 ? (len) : 255) << 24)

static inline int ep_tok_same_bytes(const char *a, const uint8_t *b, int len) {
    for (int i = 0; i < len; i++) // keys are short: a loop beats a call
        if ((uint8_t)a[i] != b[i]) return 0;
    return 1;
}

// @return the id of key (whose ep_tok_key_hash is h) in t, or -1.
static inline int32_t ep_tok_find(const ep_tokenizer *tok, const ep_tok_table *t, const uint8_t *key, int len,
                                  uint32_t h) {
    uint32_t want = EP_TOK_SLOT_LEN(len);
    for (uint32_t i = h & t->mask;; i = (i + 1) & t->mask) {
        const ep_tok_slot *s = &t->slot[i];
        if (!s->meta) return -1;
        if (s->hash == h && (s->meta & 0xFF000000u) == want) {
            uint32_t id = EP_TOK_SLOT_ID(s->meta);
            if (tok->length[id] - t->skip == len &&
                ep_tok_same_bytes(tok->strings + tok->offset[id] + t->skip, key, len))
                return (int32_t)id;
        }
    }
}

#endif /* EP_TOK_VOCAB_TABLE_H */
