/* batcher.c - length-sorted batches under a token budget; see batcher.h. */
#include "batcher.h"

#include <stdlib.h>
#include <string.h>

typedef struct by_length {
    int n_tokens;
    size_t pos;
} by_length;

/* Positions are unique, so this is a total order: qsort (not stable) still gives one answer. */
static int cmp_length(const void *a, const void *b) {
    const by_length *x = a, *y = b;
    if (x->n_tokens != y->n_tokens) return x->n_tokens < y->n_tokens ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

void ep_batch_plan_free(ep_batch_plan *plan) {
    free(plan->order);
    free(plan->cut);
    memset(plan, 0, sizeof *plan);
}

ep_status ep_batch_plan_make(const ep_batcher_seq *seqs, size_t n, size_t max_tokens, int max_seqs,
                             ep_batch_plan *plan, ep_error *err) {
    memset(plan, 0, sizeof *plan);
    if (max_tokens < 1 || max_seqs < 1)
        return ep_error_set(err, EP_ERR_USAGE, "batcher: need at least 1 token and 1 sequence per batch");
    by_length *sorted = malloc(sizeof *sorted * (n ? n : 1));
    plan->order = malloc(sizeof *plan->order * (n ? n : 1));
    plan->cut = malloc(sizeof *plan->cut * (n + 1)); /* at most one batch per sequence */
    if (!sorted || !plan->order || !plan->cut) {
        free(sorted);
        return ep_error_set(err, EP_ERR_NOMEM, "batcher: out of memory for %zu sequences", n);
    }
    for (size_t i = 0; i < n; i++) {
        if (seqs[i].n_tokens < 1) {
            free(sorted);
            return ep_error_set(err, EP_ERR_USAGE, "batcher: sequence %zu has no token", i);
        }
        sorted[i] = (by_length){.n_tokens = seqs[i].n_tokens, .pos = i};
    }
    qsort(sorted, n, sizeof *sorted, cmp_length);
    // Cut before a sequence that would pass a limit of a batch that already holds one.
    size_t tokens = 0, start = 0;
    plan->cut[0] = 0;
    for (size_t i = 0; i < n; i++) {
        plan->order[i] = sorted[i].pos;
        size_t len = (size_t)sorted[i].n_tokens;
        if (i > start && (i - start == (size_t)max_seqs || tokens + len > max_tokens)) {
            plan->cut[++plan->n_batches] = start = i;
            tokens = 0;
        }
        tokens += len;
    }
    if (n > 0) plan->cut[++plan->n_batches] = n;
    plan->n = n;
    free(sorted);
    return EP_OK;
}

void ep_packed_batch_free(ep_packed_batch *pb) {
    free(pb->ids);
    free(pb->seq_start);
    free(pb->pos);
    memset(pb, 0, sizeof *pb);
}

ep_status ep_packed_batch_init(ep_packed_batch *pb, size_t max_tokens, int max_seqs, ep_error *err) {
    memset(pb, 0, sizeof *pb);
    if (max_seqs < 1) return ep_error_set(err, EP_ERR_USAGE, "batcher: need at least 1 sequence per batch");
    pb->max_seqs = max_seqs;
    pb->cap_tokens = max_tokens ? max_tokens : 1;
    pb->ids = malloc(sizeof *pb->ids * pb->cap_tokens);
    pb->seq_start = calloc((size_t)max_seqs + 1, sizeof *pb->seq_start);
    pb->pos = calloc((size_t)max_seqs, sizeof *pb->pos);
    if (!pb->ids || !pb->seq_start || !pb->pos)
        return ep_error_set(err, EP_ERR_NOMEM, "batcher: cannot allocate a batch of %zu tokens", max_tokens);
    return EP_OK;
}

ep_status ep_batch_pack(const ep_batch_plan *plan, size_t k, const ep_batcher_seq *seqs, ep_packed_batch *pb,
                        ep_batch *out, ep_error *err) {
    const size_t first = plan->cut[k], end = plan->cut[k + 1];
    if (end - first > (size_t)pb->max_seqs)
        return ep_error_set(err, EP_ERR_USAGE, "batcher: a batch of %zu sequences does not fit %d", end - first,
                            pb->max_seqs);
    size_t tokens = 0;
    for (size_t i = first; i < end; i++) tokens += (size_t)seqs[plan->order[i]].n_tokens;
    if (tokens > pb->cap_tokens) { /* a sequence longer than the budget, alone */
        int32_t *grown = realloc(pb->ids, sizeof *grown * tokens);
        if (!grown) return ep_error_set(err, EP_ERR_NOMEM, "batcher: cannot allocate a batch of %zu tokens", tokens);
        pb->ids = grown;
        pb->cap_tokens = tokens;
    }
    int max_len = 0;
    pb->n_seqs = 0;
    pb->seq_start[0] = 0;
    for (size_t i = first; i < end; i++) {
        const ep_batcher_seq *s = &seqs[plan->order[i]];
        memcpy(pb->ids + pb->seq_start[pb->n_seqs], s->ids, sizeof(int32_t) * (size_t)s->n_tokens);
        pb->pos[pb->n_seqs] = plan->order[i];
        pb->seq_start[pb->n_seqs + 1] = pb->seq_start[pb->n_seqs] + s->n_tokens;
        if (s->n_tokens > max_len) max_len = s->n_tokens;
        pb->n_seqs++;
    }
    *out = (ep_batch){.n_seqs = pb->n_seqs,
                      .n_tokens = pb->seq_start[pb->n_seqs],
                      .max_seq_len = max_len,
                      .token_ids = pb->ids,
                      .seq_start = pb->seq_start};
    return EP_OK;
}
