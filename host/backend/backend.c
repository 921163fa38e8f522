/* backend.c - what every backend shares: the synchronous helper, free, and the
 * allocation and batch checks each implementation would otherwise repeat. */
#include "backend.h"

#include <stdio.h>
#include <stdlib.h>

ep_status ep_backend_encode(ep_backend *backend, const ep_batch *batch, float *out_f32, uint16_t *out_f16,
                            ep_error *err) {
    ep_status st = backend->submit(backend, batch, out_f32, out_f16, err);
    if (st != EP_OK) return st;
    return backend->wait_oldest(backend, err);
}

void ep_backend_free(ep_backend *backend) {
    if (backend && backend->destroy) backend->destroy(backend);
}

ep_backend *ep_backend_new(const char *name, int dim, size_t impl_size) {
    ep_backend *b = calloc(1, sizeof *b);
    void *impl = calloc(1, impl_size);
    if (!b || !impl) {
        free(b);
        free(impl);
        return NULL;
    }
    snprintf(b->name, sizeof b->name, "%s", name);
    b->dim = dim;
    b->max_in_flight = 1;
    b->impl = impl;
    return b;
}

void ep_backend_delete(ep_backend *backend) {
    if (!backend) return;
    free(backend->impl);
    free(backend);
}

ep_status ep_backend_sync_check(const char *who, int pending, const ep_model_config *c, const ep_batch *batch,
                                const float *out_f32, const uint16_t *out_f16, ep_error *err) {
    if (pending) return ep_error_set(err, EP_ERR_USAGE, "%s: submit before wait_oldest", who);
    if (!out_f32 && !out_f16) return ep_error_set(err, EP_ERR_USAGE, "%s: no output buffer given", who);
    if (batch->n_seqs < 0 || batch->seq_start[0] != 0)
        return ep_error_set(err, EP_ERR_USAGE, "%s: malformed batch (seq_start[0] must be 0)", who);
    const int max_tokens = ep_model_max_tokens(c);
    for (int s = 0; s < batch->n_seqs; s++) {
        const int len = batch->seq_start[s + 1] - batch->seq_start[s];
        if (len < 1 || len > max_tokens)
            return ep_error_set(err, EP_ERR_USAGE, "%s: sequence %d has %d tokens (1..%d allowed)", who, s, len,
                                max_tokens);
    }
    const int T = batch->seq_start[batch->n_seqs];
    for (int t = 0; t < T; t++)
        if (batch->token_ids[t] < 0 || batch->token_ids[t] >= c->vocab_size)
            return ep_error_set(err, EP_ERR_USAGE, "%s: token id %d out of range", who, batch->token_ids[t]);
    return EP_OK;
}

ep_status ep_backend_sync_wait(const char *who, int *pending, ep_error *err) {
    if (!*pending) return ep_error_set(err, EP_ERR_USAGE, "%s: wait_oldest with nothing submitted", who);
    *pending = 0;
    return EP_OK;
}
