/*
 * batcher.h - packs tokenised sequences into batches under a token budget.
 * Sequences are stored back to back (no padding) with their row metadata, in
 * the order they were added, which is the order their rows are written.
 */
#ifndef EP_BATCHER_H
#define EP_BATCHER_H

#include "backend.h"
#include "shard.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ep_batcher ep_batcher;

/* max_tokens: token budget of one batch (a single sequence may reach it alone);
 * max_seqs: sequences per batch. @return EP_OK, EP_ERR_USAGE or EP_ERR_NOMEM. */
ep_status ep_batcher_create(size_t max_tokens, int max_seqs, int dim, ep_batcher **out, ep_error *err);
void ep_batcher_free(ep_batcher *b); /* accepts NULL */

/* @return true when a sequence of n_tokens can join the batch without passing its limits. */
bool ep_batcher_fits(const ep_batcher *b, int n_tokens);
/* Appends a sequence and a copy of its metadata (the id string is copied).
 * @return EP_OK; EP_ERR_USAGE if it does not fit; EP_ERR_NOMEM. */
ep_status ep_batcher_add(ep_batcher *b, const int32_t *ids, int n_tokens, const ep_row_meta *meta, ep_error *err);
/* Empties the batch, keeping its memory. */
void ep_batcher_clear(ep_batcher *b);

/* @return the packed view of the current contents (valid until the next add/clear). */
ep_batch ep_batcher_batch(const ep_batcher *b);
/* @return the number of sequences in the batch. */
int ep_batcher_count(const ep_batcher *b);
/* @return the metadata of the batch's rows, in order. */
const ep_row_meta *ep_batcher_meta(const ep_batcher *b);
/* @return the batch's output rows buffer: max_seqs x dim halves. */
uint16_t *ep_batcher_output(ep_batcher *b);

#ifdef __cplusplus
}
#endif

#endif /* EP_BATCHER_H */
