/*
 * batcher.h - the one place that cuts sequences into batches.
 *
 * The compute stage hands over the sequences of one shard group (the rows to
 * compute, in row order). The batcher orders them by length, shortest first,
 * ties in input order (so that a batch holds sequences of similar length and
 * pads little on backends that pad), and cuts that order into consecutive
 * batches: a batch closes when the next sequence would pass the token budget or
 * the sequence limit. A sequence longer than the budget goes alone. The plan
 * depends only on the lengths given, so the same group always gives the same
 * batches: an interrupted run resumed at a shard boundary computes exactly what
 * an uninterrupted one computes, and the output bytes do not depend on how the
 * run was cut.
 *
 *     ep_batch_plan plan;                       // once per group
 *     ep_batch_plan_make(seqs, n, max_tokens, max_seqs, &plan, err);
 *     for (size_t k = 0; k < plan.n_batches; k++) {
 *         ep_batch b;
 *         ep_batch_pack(&plan, k, seqs, &packed, &b, err); // ids back to back, seq_start, positions
 *         ...backend->submit(&b)...; row i of the output is input packed.pos[i]
 *     }
 *     ep_batch_plan_free(&plan);
 */
#ifndef EP_BATCHER_H
#define EP_BATCHER_H

#include "backend.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One sequence to batch: its token ids (borrowed) and their count (>= 1). */
typedef struct ep_batcher_seq {
    const int32_t *ids;
    int n_tokens;
} ep_batcher_seq;

/* How a group is cut: batch k holds the inputs order[cut[k]] .. order[cut[k + 1] - 1]. */
typedef struct ep_batch_plan {
    size_t *order;     /* [n]: input positions, by (length, position) */
    size_t *cut;       /* [n_batches + 1] */
    size_t n, n_batches;
} ep_batch_plan;

/* One packed batch: the storage behind an ep_batch, reused from batch to batch. */
typedef struct ep_packed_batch {
    int32_t *ids;      /* [cap_tokens]: the sequences back to back, no padding */
    int32_t *seq_start; /* [max_seqs + 1] */
    size_t *pos;       /* [max_seqs]: the input position of each sequence */
    int n_seqs;
    int max_seqs;
    size_t cap_tokens;
} ep_packed_batch;

/* Orders seqs[0..n) by length and cuts the order into batches of at most max_tokens tokens (a longer sequence
 * alone) and max_seqs sequences. Free with ep_batch_plan_free (also after a failure).
 * @return EP_OK; EP_ERR_USAGE when max_tokens or max_seqs is below 1 or a sequence has no token; EP_ERR_NOMEM. */
ep_status ep_batch_plan_make(const ep_batcher_seq *seqs, size_t n, size_t max_tokens, int max_seqs,
                             ep_batch_plan *plan, ep_error *err);
void ep_batch_plan_free(ep_batch_plan *plan); /* accepts an emptied or failed plan */

/* Allocates storage for batches of up to max_tokens tokens and max_seqs sequences (it grows for a longer
 * sequence). Free with ep_packed_batch_free (also after a failure).
 * @return EP_OK; EP_ERR_USAGE when max_seqs < 1; EP_ERR_NOMEM. */
ep_status ep_packed_batch_init(ep_packed_batch *pb, size_t max_tokens, int max_seqs, ep_error *err);
void ep_packed_batch_free(ep_packed_batch *pb);

/* Packs batch k of plan (made from seqs) into pb, and points *out at it (valid until pb is packed again or
 * freed). pb->pos says which input each of the batch's sequences is.
 * @return EP_OK; EP_ERR_USAGE when the batch does not fit pb's max_seqs; EP_ERR_NOMEM. */
ep_status ep_batch_pack(const ep_batch_plan *plan, size_t k, const ep_batcher_seq *seqs, ep_packed_batch *pb,
                        ep_batch *out, ep_error *err);

#ifdef __cplusplus
}
#endif

#endif /* EP_BATCHER_H */
