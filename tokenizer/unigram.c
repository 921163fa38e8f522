/*
 * unigram.c - the Unigram model's Viterbi search, as tokenizers' Unigram::encode_optimized and
 * Unigram::tokenize do it (unigram.h says what; this says how).
 *
 * best[e] is the best path that ends at byte e. Positions are visited in order, at character
 * starts only; from each, the trie yields every piece that starts there (shortest first), and a
 * candidate replaces best[e] only when its score is strictly higher, so of equal scores the
 * first one found stays, as in tokenizers. Sums are in double, in tokenizers' order.
 */
#include "unigram.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "piece_trie.h"

#define UNK_PENALTY 10.0 // tokenizers' K_UNK_PENALTY
#define STACK_BYTES 512  // longer words take their work arrays from the heap

struct ep_unigram {
    ep_piece_trie trie; // scores in its nodes
    int n_pieces;
    int32_t unk_id; // -1: none
    double unk_score;
    bool byte_fallback;
    int32_t byte_id[256]; // the id of "<0xXX>", or -1
};

typedef struct best_node {
    double score;  // of the best path ending here
    int32_t start; // where its last piece starts; -1 while no path ends here
    int32_t piece; // its last piece: the trie node where it ends, or UNKNOWN
} best_node;

#define UNKNOWN (-1) // a character no single-character piece covers

// @return the length of the character at w[0] (n > 0 bytes left); an invalid byte is one character.
static int32_t char_len(const uint8_t *w, int32_t n) {
    uint8_t c = w[0];
    if (c < 0x80) return 1;
    int32_t len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 1;
    if (len > n) return 1;
    for (int32_t i = 1; i < len; i++)
        if ((w[i] & 0xC0) != 0x80) return 1;
    if (len == 3 && ((c == 0xE0 && w[1] < 0xA0) || (c == 0xED && w[1] >= 0xA0))) return 1; // overlong, surrogate
    if (len == 4 && ((c == 0xF0 && w[1] < 0x90) || (c == 0xF4 && w[1] >= 0x90))) return 1; // overlong, > U+10FFFF
    return len;
}

static inline void relax(best_node *b, double score, int32_t start, int32_t piece) {
    if (b->start < 0 || score > b->score) *b = (best_node){score, start, piece};
}

// Fills best[0..n]. @return 0, or -2 when an unknown character needs an unk_id the model lacks.
static int viterbi(const ep_unigram *u, const uint8_t *w, int32_t n, best_node *best) {
    for (int32_t i = 0; i <= n; i++) best[i] = (best_node){0.0, -1, 0};
    const ep_trie_node *node = u->trie.node;
    for (int32_t s = 0; s < n;) {
        int32_t mblen = char_len(w + s, n - s);
        double till = best[s].score;
        int single = 0;
        int32_t at = 0;
        for (int32_t e = s; e < n; e++) {
            int32_t next = (node[at].base & ~EP_TRIE_END) + w[e];
            if (node[next].check != at) break;
            at = next;
            if (node[at].base & EP_TRIE_END) {
                relax(&best[e + 1], node[at].score + till, s, at);
                single |= e + 1 - s == mblen;
            }
        }
        if (!single) {
            best_node *b = &best[s + mblen];
            double cand = u->unk_score + till;
            if (b->start < 0 || cand > b->score) {
                if (u->unk_id < 0) return -2;
                *b = (best_node){cand, s, UNKNOWN};
            }
        }
        s += mblen;
    }
    return 0;
}

// Appends (in reverse order) the ids of the fused unknown run w[s..e). @return ids added.
static int32_t emit_unknown(const ep_unigram *u, const uint8_t *w, int32_t s, int32_t e, int32_t *rev, int32_t k) {
    int32_t id = ep_piece_trie_find(&u->trie, w + s, (size_t)(e - s));
    if (id >= 0) {
        rev[k] = id;
        return 1;
    }
    if (u->byte_fallback) {
        int32_t i = s;
        while (i < e && u->byte_id[w[i]] >= 0) i++;
        if (i == e) {
            for (int32_t j = e - 1; j >= s; j--) rev[k++] = u->byte_id[w[j]];
            return e - s;
        }
    }
    rev[k] = u->unk_id;
    return 1;
}

// Walks the best path back from n, fusing unknown runs. @return the ids written to rev (reversed),
// or -2 when no path reaches n (only without an unk_id, where tokenizers fails too).
static int32_t backtrack(const ep_unigram *u, const uint8_t *w, int32_t n, const best_node *best, int32_t *rev) {
    int32_t k = 0, run_end = -1;
    for (int32_t e = n; e > 0;) {
        const best_node *b = &best[e];
        if (b->start < 0) return -2;
        int32_t id = b->piece == UNKNOWN ? u->unk_id : u->trie.id[b->piece];
        if (id == u->unk_id) { // an unknown character, or the unk piece itself: fused alike
            if (run_end < 0) run_end = e;
        } else {
            if (run_end >= 0) k += emit_unknown(u, w, e, run_end, rev, k);
            run_end = -1;
            rev[k++] = id;
        }
        e = b->start;
    }
    if (run_end >= 0) k += emit_unknown(u, w, 0, run_end, rev, k);
    return k;
}

int ep_unigram_encode_word(const ep_unigram *u, const char *word, size_t len, int32_t *ids, int cap) {
    if (len == 0) return 0;
    if (len > (size_t)INT32_MAX - 1) return -1;
    int32_t n = (int32_t)len;
    best_node best_stack[STACK_BYTES + 1];
    int32_t rev_stack[STACK_BYTES];
    best_node *best = best_stack;
    int32_t *rev = rev_stack;
    if (n > STACK_BYTES) {
        best = malloc(sizeof *best * ((size_t)n + 1));
        rev = malloc(sizeof *rev * (size_t)n);
        if (!best || !rev) {
            free(best);
            free(rev);
            return -1;
        }
    }
    const uint8_t *w = (const uint8_t *)word;
    int r = viterbi(u, w, n, best);
    if (r == 0) {
        int32_t k = backtrack(u, w, n, best, rev); // every piece has >= 1 byte: k <= n
        for (int32_t i = 0; i < k && i < cap; i++) ids[i] = rev[k - 1 - i];
        r = (int)k; // or -2 from backtrack
    }
    if (best != best_stack) {
        free(best);
        free(rev);
    }
    return r;
}

// ----------------------------------------------------------------------------

static void byte_ids(ep_unigram *u) {
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        u->byte_id[b] = ep_piece_trie_find(&u->trie, (const uint8_t *)name, 6);
    }
}

ep_status ep_unigram_create(const char *const *pieces, const double *scores, int n_pieces, int unk_id,
                            bool byte_fallback, ep_unigram **out, ep_error *err) {
    *out = NULL;
    if (n_pieces < 0) return ep_error_set(err, EP_ERR_USAGE, "unigram: %d pieces", n_pieces);
    if (unk_id >= 0 && n_pieces == 0)
        return ep_error_set(err, EP_ERR_USAGE, "unigram: the vocabulary is empty but at least <unk> is needed");
    if (unk_id >= n_pieces)
        return ep_error_set(err, EP_ERR_USAGE, "unigram: unk_id %d is past the vocabulary (%d pieces)", unk_id,
                            n_pieces);
    if (n_pieces > 0 && (!pieces || !scores))
        return ep_error_set(err, EP_ERR_USAGE, "unigram: %d pieces but no %s", n_pieces, pieces ? "scores" : "pieces");
    for (int i = 0; i < n_pieces; i++)
        if (!pieces[i]) return ep_error_set(err, EP_ERR_USAGE, "unigram: piece %d is NULL", i);
    ep_unigram *u = calloc(1, sizeof *u);
    size_t *lens = malloc(sizeof *lens * (size_t)(n_pieces > 0 ? n_pieces : 1));
    if (!u || !lens) {
        free(lens);
        ep_unigram_free(u);
        return ep_error_set(err, EP_ERR_NOMEM, "unigram: out of memory for %d pieces", n_pieces);
    }
    double min_score = INFINITY;
    for (int i = 0; i < n_pieces; i++) {
        lens[i] = strlen(pieces[i]);
        if (scores[i] < min_score) min_score = scores[i];
    }
    ep_status st = ep_piece_trie_build(&u->trie, pieces, lens, scores, n_pieces, err);
    free(lens);
    if (st != EP_OK) {
        ep_unigram_free(u);
        return ep_error_prefix(err, "unigram");
    }
    u->n_pieces = n_pieces;
    u->unk_id = unk_id < 0 ? -1 : unk_id;
    u->unk_score = min_score - UNK_PENALTY;
    u->byte_fallback = byte_fallback;
    byte_ids(u);
    *out = u;
    return EP_OK;
}

void ep_unigram_free(ep_unigram *u) {
    if (!u) return;
    ep_piece_trie_release(&u->trie);
    free(u);
}

int32_t ep_unigram_piece_id(const ep_unigram *u, const char *piece, size_t len) {
    return ep_piece_trie_find(&u->trie, (const uint8_t *)piece, len);
}

int ep_unigram_size(const ep_unigram *u) { return u->n_pieces; }
