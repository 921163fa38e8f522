/* batcher.c - packed batches under a token budget; see batcher.h. */
#include "batcher.h"

#include <stdlib.h>
#include <string.h>

struct ep_batcher {
    size_t max_tokens;
    int max_seqs;
    int dim;
    int n_seqs;
    size_t n_tokens;
    int max_len;
    int32_t *ids;        /* [max_tokens] */
    int32_t *seq_start;  /* [max_seqs + 1] */
    ep_row_meta *meta;   /* [max_seqs], ids owned */
    uint16_t *out;       /* [max_seqs][dim] */
};

void ep_batcher_free(ep_batcher *b) {
    if (!b) return;
    ep_batcher_clear(b);
    free(b->ids);
    free(b->seq_start);
    free(b->meta);
    free(b->out);
    free(b);
}

ep_status ep_batcher_create(size_t max_tokens, int max_seqs, int dim, ep_batcher **out, ep_error *err) {
    *out = NULL;
    if (max_tokens < 2 || max_seqs < 1 || dim < 1)
        return ep_error_set(err, EP_ERR_USAGE, "batcher: need at least 2 tokens and 1 sequence per batch");
    ep_batcher *b = calloc(1, sizeof *b);
    if (!b) return ep_error_set(err, EP_ERR_NOMEM, "batcher: out of memory");
    b->max_tokens = max_tokens;
    b->max_seqs = max_seqs;
    b->dim = dim;
    b->ids = malloc(sizeof(int32_t) * max_tokens);
    b->seq_start = calloc((size_t)max_seqs + 1, sizeof(int32_t));
    b->meta = calloc((size_t)max_seqs, sizeof(ep_row_meta));
    b->out = malloc(sizeof(uint16_t) * (size_t)max_seqs * (size_t)dim);
    if (!b->ids || !b->seq_start || !b->meta || !b->out) {
        ep_batcher_free(b);
        return ep_error_set(err, EP_ERR_NOMEM, "batcher: cannot allocate a batch of %zu tokens", max_tokens);
    }
    *out = b;
    return EP_OK;
}

bool ep_batcher_fits(const ep_batcher *b, int n_tokens) {
    return b->n_seqs < b->max_seqs && b->n_tokens + (size_t)n_tokens <= b->max_tokens;
}

ep_status ep_batcher_add(ep_batcher *b, const int32_t *ids, int n_tokens, const ep_row_meta *meta, ep_error *err) {
    if (n_tokens < 1 || !ep_batcher_fits(b, n_tokens))
        return ep_error_set(err, EP_ERR_USAGE, "batcher: a sequence of %d tokens does not fit", n_tokens);
    char *id = strdup(meta->id ? meta->id : "");
    if (!id) return ep_error_set(err, EP_ERR_NOMEM, "batcher: out of memory");
    memcpy(b->ids + b->n_tokens, ids, sizeof(int32_t) * (size_t)n_tokens);
    b->meta[b->n_seqs] = *meta;
    b->meta[b->n_seqs].id = id;
    b->n_tokens += (size_t)n_tokens;
    b->n_seqs++;
    b->seq_start[b->n_seqs] = (int32_t)b->n_tokens;
    if (n_tokens > b->max_len) b->max_len = n_tokens;
    return EP_OK;
}

void ep_batcher_clear(ep_batcher *b) {
    for (int i = 0; i < b->n_seqs; i++) free((char *)b->meta[i].id);
    b->n_seqs = 0;
    b->n_tokens = 0;
    b->max_len = 0;
}

ep_batch ep_batcher_batch(const ep_batcher *b) {
    ep_batch batch = {.n_seqs = b->n_seqs,
                      .n_tokens = (int)b->n_tokens,
                      .max_seq_len = b->max_len,
                      .token_ids = b->ids,
                      .seq_start = b->seq_start};
    return batch;
}

int ep_batcher_count(const ep_batcher *b) { return b->n_seqs; }
const ep_row_meta *ep_batcher_meta(const ep_batcher *b) { return b->meta; }
uint16_t *ep_batcher_output(ep_batcher *b) { return b->out; }
