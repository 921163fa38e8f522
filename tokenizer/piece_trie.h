/*
 * piece_trie.h - a byte-wise double-array trie over a vocabulary's pieces: from any position of
 * a word, every piece that starts there is found in one pass, shortest first, one array step per
 * byte (what the Unigram model's Viterbi search asks of its vocabulary).
 *
 * Node i's child on byte c is node base(i) + c when check[base(i) + c] == i; a node that ends a
 * piece is flagged in its base and carries the piece's score beside it (one cache line per step
 * of a walk: the score is what the search needs at every match), its id in a separate array.
 * The array is padded so that base + c is always inside it.
 */
#ifndef EP_PIECE_TRIE_H
#define EP_PIECE_TRIE_H

#include <stddef.h>
#include <stdint.h>

#include "embedpipe.h"

#define EP_TRIE_END 0x40000000 // in base: a piece ends at this node

typedef struct ep_trie_node {
    int32_t base;  // children at (base & ~EP_TRIE_END) + byte (0 when there are none)
    int32_t check; // the parent's index (-1: a free slot or the root)
    double score;  // of the piece that ends here (when base has EP_TRIE_END)
} ep_trie_node;

typedef struct ep_piece_trie {
    ep_trie_node *node; // node[0] is the root
    int32_t *id;        // per node: the piece that ends there, or -1
    int32_t n_nodes;    // slots, padding included
} ep_piece_trie;

/* Builds the trie of n pieces (piece i: bytes keys[i], lens[i] long, id i, score scores[i], or 0
 * when scores is NULL). Empty pieces are left out (they never match); when a piece appears twice,
 * the later id and its score win, as in tokenizers' vocab map.
 * @return EP_OK and *t filled; EP_ERR_NOMEM, also when the trie would pass 2^30 slots. */
ep_status ep_piece_trie_build(ep_piece_trie *t, const char *const *keys, const size_t *lens, const double *scores,
                              int n, ep_error *err);

/* Frees what ep_piece_trie_build allocated. Accepts a zeroed trie. */
void ep_piece_trie_release(ep_piece_trie *t);

/* @return the child of node on byte c, or -1. */
static inline int32_t ep_piece_trie_child(const ep_piece_trie *t, int32_t node, uint8_t c) {
    int32_t next = (t->node[node].base & ~EP_TRIE_END) + c;
    return t->node[next].check == node ? next : -1;
}

/* @return the id of the piece that is exactly key (len bytes), or -1. */
int32_t ep_piece_trie_find(const ep_piece_trie *t, const uint8_t *key, size_t len);

#endif /* EP_PIECE_TRIE_H */
