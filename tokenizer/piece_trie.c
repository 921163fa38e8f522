/*
 * piece_trie.c - building the double-array trie of piece_trie.h.
 *
 * The pieces are sorted, so the pieces under one node are a contiguous range and its children
 * are the distinct bytes at the node's depth. Nodes are placed depth-first (children near their
 * parent, which keeps a word's walk in few cache lines); each node's children go at the first
 * base whose slots are all free, found by walking a list of the free slots only, so placing
 * costs little even when the front of the array is dense.
 */
#include "piece_trie.h"

#include <stdlib.h>
#include <string.h>

#define FREE (-1)
#define PAD 256 // every base + byte stays inside the array

typedef struct key_ref {
    const uint8_t *bytes;
    size_t len;
    int32_t id;
    double score;
} key_ref;

typedef struct builder {
    ep_piece_trie *t;
    int32_t *id;        // per slot: the piece ending there, or -1
    int32_t cap;        // slots allocated
    int32_t *next_free; // doubly linked circular list of the free slots; slot 0 (the root, never
    int32_t *prev_free; // free) is its head
    int32_t used_end;   // one past the highest slot in use
} builder;

typedef struct frame {
    int32_t node, lo, hi, depth; // node holds keys[lo..hi), which share their first depth bytes
} frame;

static int key_cmp(const void *a, const void *b) {
    const key_ref *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->bytes, y->bytes, n);
    if (c) return c;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static void unlink_free(builder *b, int32_t slot) {
    b->next_free[b->prev_free[slot]] = b->next_free[slot];
    b->prev_free[b->next_free[slot]] = b->prev_free[slot];
}

// Doubles the slots (at least to want), appending the new ones to the free list. @return 0 or -1.
static int grow(builder *b, int64_t want) {
    int64_t cap = b->cap > 0 ? b->cap : 1024;
    while (cap < want) cap *= 2;
    if (cap > EP_TRIE_END - PAD - 1) return -1; // bases and indices stay below the flag bit
    ep_trie_node *node = realloc(b->t->node, sizeof *node * (size_t)(cap + PAD));
    if (node) b->t->node = node;
    int32_t *next = realloc(b->next_free, sizeof *next * (size_t)cap);
    if (next) b->next_free = next;
    int32_t *prev = realloc(b->prev_free, sizeof *prev * (size_t)cap);
    if (prev) b->prev_free = prev;
    int32_t *id = realloc(b->id, sizeof *id * (size_t)(cap + PAD));
    if (id) b->id = id;
    if (!node || !next || !prev || !id) return -1;
    for (int32_t s = b->cap; s < (int32_t)cap + PAD; s++) id[s] = -1;
    if (b->cap == 0) next[0] = prev[0] = 0; // the empty list
    for (int32_t s = b->cap; s < (int32_t)cap + PAD; s++) node[s] = (ep_trie_node){0, FREE, 0.0};
    for (int32_t s = b->cap > 0 ? b->cap : 1; s < (int32_t)cap; s++) {
        int32_t tail = prev[0];
        next[tail] = s, prev[s] = tail;
        next[s] = 0, prev[0] = s;
    }
    b->cap = (int32_t)cap;
    return 0;
}

// @return the first base >= 1 whose slots base + label[i] are all free, or -1 out of memory.
static int32_t find_base(builder *b, const uint8_t *label, int n) {
    for (int32_t slot = b->next_free[0];; slot = b->next_free[slot]) {
        if (slot == 0) { // past the last free slot: make room and go on from the new ones
            int32_t old = b->cap;
            if (grow(b, (int64_t)old * 2) != 0) return -1;
            slot = old;
        }
        int32_t base = slot - label[0];
        if (base < 1) continue;
        if ((int64_t)base + 255 >= b->cap && grow(b, (int64_t)base + 256) != 0) return -1;
        int ok = 1;
        for (int i = 1; i < n && ok; i++) ok = b->t->node[base + label[i]].check == FREE;
        if (ok) return base;
    }
}

// Places the children of f's node, fills its id, and pushes the children's frames. @return 0 or -1.
static int place(builder *b, const key_ref *keys, frame f, frame *stack, int32_t *top) {
    if (keys[f.lo].len == (size_t)f.depth) { // a piece ends here (the shortest key sorts first)
        b->t->node[f.node].base = EP_TRIE_END;
        b->t->node[f.node].score = keys[f.lo].score;
        b->id[f.node] = keys[f.lo++].id;
    }
    if (f.lo == f.hi) return 0;
    uint8_t label[256];
    int32_t start[257];
    int n = 0;
    for (int32_t i = f.lo; i < f.hi; i++) {
        uint8_t c = keys[i].bytes[f.depth];
        if (n == 0 || label[n - 1] != c) label[n] = c, start[n++] = i;
    }
    start[n] = f.hi;
    int32_t base = find_base(b, label, n);
    if (base < 0) return -1;
    b->t->node[f.node].base |= base;
    for (int i = 0; i < n; i++) {
        int32_t slot = base + label[i];
        unlink_free(b, slot);
        b->t->node[slot] = (ep_trie_node){0, f.node, 0.0};
        if (slot + 1 > b->used_end) b->used_end = slot + 1;
    }
    for (int i = n - 1; i >= 0; i--) stack[(*top)++] = (frame){base + label[i], start[i], start[i + 1], f.depth + 1};
    return 0;
}

// Sorted, distinct, non-empty keys (the later id of equal keys). @return the array (*n_out keys) or NULL.
static key_ref *sorted_keys(const char *const *keys, const size_t *lens, const double *scores, int n,
                            int32_t *n_out) {
    key_ref *k = malloc(sizeof *k * (size_t)(n > 0 ? n : 1));
    if (!k) return NULL;
    int32_t m = 0;
    for (int i = 0; i < n; i++)
        if (lens[i] > 0) k[m++] = (key_ref){(const uint8_t *)keys[i], lens[i], i, scores ? scores[i] : 0.0};
    qsort(k, (size_t)m, sizeof *k, key_cmp);
    int32_t u = 0;
    for (int32_t i = 0; i < m; i++) {
        if (u > 0 && k[u - 1].len == k[i].len && memcmp(k[u - 1].bytes, k[i].bytes, k[i].len) == 0) u--;
        k[u++] = k[i]; // equal keys sort by id: the last one stays
    }
    *n_out = u;
    return k;
}

static ep_status build_nodes(builder *b, const key_ref *k, int32_t m, ep_error *err) {
    frame *stack = malloc(sizeof *stack * (size_t)(m + 1));
    if (!stack || grow(b, 1024) != 0) {
        free(stack);
        return ep_error_set(err, EP_ERR_NOMEM, "piece trie: out of memory");
    }
    b->used_end = 1; // slot 0 is the root (never on the free list)
    int32_t top = 0;
    if (m > 0) stack[top++] = (frame){0, 0, m, 0};
    while (top > 0) {
        if (place(b, k, stack[--top], stack, &top) != 0) {
            free(stack);
            return ep_error_set(err, EP_ERR_NOMEM, "piece trie: out of memory (or past 2^30 slots) at %d slots",
                                b->cap);
        }
    }
    free(stack);
    return EP_OK;
}

ep_status ep_piece_trie_build(ep_piece_trie *t, const char *const *keys, const size_t *lens, const double *scores,
                              int n, ep_error *err) {
    memset(t, 0, sizeof *t);
    int32_t m = 0;
    key_ref *k = sorted_keys(keys, lens, scores, n, &m);
    if (!k) return ep_error_set(err, EP_ERR_NOMEM, "piece trie: out of memory for %d pieces", n);
    builder b = {t, NULL, 0, NULL, NULL, 0};
    ep_status st = build_nodes(&b, k, m, err);
    free(k);
    free(b.next_free);
    free(b.prev_free);
    t->id = b.id;
    if (st != EP_OK) {
        ep_piece_trie_release(t);
        return st;
    }
    // Keep the slots in use plus the padding that lets base + byte skip a bounds test.
    int32_t size = b.used_end;
    for (int32_t s = 0; s < b.used_end; s++)
        if ((t->node[s].base & ~EP_TRIE_END) + 256 > size) size = (t->node[s].base & ~EP_TRIE_END) + 256;
    if (size < 256) size = 256;
    t->n_nodes = size;
    ep_trie_node *shrunk = realloc(t->node, sizeof *shrunk * (size_t)size);
    if (shrunk) t->node = shrunk;
    int32_t *id = realloc(t->id, sizeof *id * (size_t)size);
    if (id) t->id = id;
    return EP_OK;
}

void ep_piece_trie_release(ep_piece_trie *t) {
    free(t->node);
    free(t->id);
    memset(t, 0, sizeof *t);
}

int32_t ep_piece_trie_find(const ep_piece_trie *t, const uint8_t *key, size_t len) {
    if (len == 0 || !t->node) return -1;
    int32_t node = 0;
    for (size_t i = 0; i < len && node >= 0; i++) node = ep_piece_trie_child(t, node, key[i]);
    return node >= 0 ? t->id[node] : -1;
}
