/*
 * backend_null.c - zero rows for every sequence, no encoder math (see backend_null.h).
 * The batch is still checked like a real backend's, so a host-side bug that would
 * break the encoder (a token id outside the vocabulary, an empty sequence) breaks here too.
 */
#include "backend_null.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct null_backend {
    const ep_model *model;
    int pending; /* submitted batches not yet waited for (0 or 1) */
} null_backend;

static ep_status null_submit(ep_backend *self, const ep_batch *batch, float *out_f32, uint16_t *out_f16,
                             ep_error *err) {
    null_backend *nb = self->impl;
    ep_status st = ep_backend_sync_check("null backend", nb->pending, &nb->model->config, batch, out_f32, out_f16, err);
    if (st != EP_OK) return st;
    const size_t n = (size_t)batch->n_seqs * (size_t)self->dim;
    // +0.0 in both widths is all bits clear; finite, so the pipeline's NaN/Inf check passes honestly.
    if (out_f32) memset(out_f32, 0, sizeof(float) * n);
    if (out_f16) memset(out_f16, 0, sizeof(uint16_t) * n);
    nb->pending = 1;
    return EP_OK;
}

static ep_status null_wait_oldest(ep_backend *self, ep_error *err) {
    null_backend *nb = self->impl;
    return ep_backend_sync_wait("null backend", &nb->pending, err);
}

static void null_destroy(ep_backend *self) {
    free(self->impl);
    free(self);
}

ep_status ep_backend_null_create(const ep_model *model, ep_backend **out, ep_error *err) {
    *out = NULL;
    if (!model) return ep_error_set(err, EP_ERR_USAGE, "null backend: no model");
    ep_backend *b = ep_backend_new("null", ep_model_output_dim(model), sizeof(null_backend));
    if (!b) return ep_error_set(err, EP_ERR_NOMEM, "null backend: out of memory");
    ((null_backend *)b->impl)->model = model;
    snprintf(b->description, sizeof b->description,
             "null device: no encoder, every row is zeros (measures the host side only)");
    b->batch_tokens = EP_NULL_BATCH_TOKENS;
    b->submit = null_submit;
    b->wait_oldest = null_wait_oldest;
    b->destroy = null_destroy;
    *out = b;
    return EP_OK;
}
