/*
 * backend_cpu.c - the CPU backend: the encoder as a chain of cpu_ops over a
 * packed batch. It is the fallback on machines without a GPU and the oracle
 * the CUDA backend is tested against, so it stays plain float32.
 */
#include "backend_cpu.h"
#include "cpu_ops.h"
#include "float16.h"
#include "settings.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* OpenBLAS's own setter; not in cblas.h on every distribution. */
void openblas_set_num_threads(int num_threads);

typedef struct cpu_backend {
    const ep_model *model;
    size_t capacity_tokens; /* rows the scratch buffers hold */
    float *x, *tmp, *ctx;   /* [T][H] */
    float *qkv;             /* [T][3H] */
    float *ffn;             /* [T][I] */
    float *pooled;          /* [n_seqs][H], when the caller wants f16 only */
    size_t pooled_rows;
    int pending;            /* submitted batches not yet waited for (0 or 1) */
} cpu_backend;

static void free_scratch(cpu_backend *cb) {
    free(cb->x);
    free(cb->tmp);
    free(cb->ctx);
    free(cb->qkv);
    free(cb->ffn);
    cb->x = cb->tmp = cb->ctx = cb->qkv = cb->ffn = NULL;
    cb->capacity_tokens = 0;
}

static ep_status reserve(cpu_backend *cb, size_t tokens, size_t seqs, ep_error *err) {
    const size_t H = (size_t)cb->model->config.hidden, FF = (size_t)cb->model->config.intermediate;
    if (tokens > cb->capacity_tokens) {
        free_scratch(cb);
        size_t cap = tokens < 1024 ? 1024 : tokens;
        cb->x = malloc(sizeof(float) * cap * H);
        cb->tmp = malloc(sizeof(float) * cap * H);
        cb->ctx = malloc(sizeof(float) * cap * H);
        cb->qkv = malloc(sizeof(float) * cap * 3 * H);
        cb->ffn = malloc(sizeof(float) * cap * FF);
        if (!cb->x || !cb->tmp || !cb->ctx || !cb->qkv || !cb->ffn) {
            free_scratch(cb);
            return ep_error_set(err, EP_ERR_NOMEM, "cpu backend: cannot allocate activations for %zu tokens", cap);
        }
        cb->capacity_tokens = cap;
    }
    if (seqs > cb->pooled_rows) {
        free(cb->pooled);
        cb->pooled = malloc(sizeof(float) * seqs * H);
        cb->pooled_rows = cb->pooled ? seqs : 0;
        if (!cb->pooled) return ep_error_set(err, EP_ERR_NOMEM, "cpu backend: cannot allocate %zu output rows", seqs);
    }
    return EP_OK;
}

static ep_status cpu_submit(ep_backend *self, const ep_batch *batch, float *out_f32, uint16_t *out_f16,
                            ep_error *err) {
    cpu_backend *cb = self->impl;
    const ep_model *m = cb->model;
    const ep_model_config *c = &m->config;
    const int T = batch->n_tokens, H = c->hidden, FF = c->intermediate;
    ep_status st = ep_backend_sync_check("cpu backend", cb->pending, c, batch, out_f32, out_f16, err);
    if (st != EP_OK) return st;
    st = reserve(cb, (size_t)T, (size_t)batch->n_seqs, err);
    if (st != EP_OK) return st;

    float *x = cb->x, *tmp = cb->tmp;
    ep_cpu_embed_layernorm(x, batch->token_ids, batch->seq_start, batch->n_seqs, m->word_emb, m->pos_emb,
                           m->type_emb, m->emb_ln_gamma, m->emb_ln_beta, H, c->layer_norm_eps);
    for (int l = 0; l < c->n_layers; l++) {
        const ep_layer *L = &m->layers[l];
        ep_cpu_linear(cb->qkv, x, L->qkv_weight, L->qkv_bias, T, H, 3 * H);
        ep_cpu_attention(cb->ctx, cb->qkv, batch->seq_start, batch->n_seqs, H, c->n_heads);
        ep_cpu_linear(tmp, cb->ctx, L->attn_out_weight, L->attn_out_bias, T, H, H);
        ep_cpu_residual_layernorm(tmp, x, L->attn_ln_gamma, L->attn_ln_beta, T, H, c->layer_norm_eps);
        float *swap = x;
        x = tmp;
        tmp = swap;
        ep_cpu_linear(cb->ffn, x, L->ffn_in_weight, L->ffn_in_bias, T, H, FF);
        ep_cpu_gelu(cb->ffn, (long)T * FF);
        ep_cpu_linear(tmp, cb->ffn, L->ffn_out_weight, L->ffn_out_bias, T, FF, H);
        ep_cpu_residual_layernorm(tmp, x, L->ffn_ln_gamma, L->ffn_ln_beta, T, H, c->layer_norm_eps);
        swap = x;
        x = tmp;
        tmp = swap;
    }
    float *pooled = out_f32 ? out_f32 : cb->pooled;
    ep_cpu_pool_normalize(pooled, x, batch->seq_start, batch->n_seqs, H, c->pooling == EP_POOLING_CLS,
                          c->normalize);
    if (out_f16)
        for (size_t i = 0; i < (size_t)batch->n_seqs * H; i++) out_f16[i] = ep_f32_to_f16(pooled[i]);
    cb->pending = 1;
    return EP_OK;
}

static ep_status cpu_wait_oldest(ep_backend *self, ep_error *err) {
    cpu_backend *cb = self->impl;
    return ep_backend_sync_wait("cpu backend", &cb->pending, err);
}

static void cpu_destroy(ep_backend *self) {
    cpu_backend *cb = self->impl;
    if (cb) {
        free_scratch(cb);
        free(cb->pooled);
        free(cb);
    }
    free(self);
}

ep_status ep_backend_cpu_create(const ep_model *model, int threads, ep_backend **out, ep_error *err) {
    *out = NULL;
    if (!model) return ep_error_set(err, EP_ERR_USAGE, "cpu backend: no model");
    if (threads <= 0) threads = ep_default_threads();
    ep_backend *b = ep_backend_new("cpu", model->config.hidden, sizeof(cpu_backend));
    if (!b) return ep_error_set(err, EP_ERR_NOMEM, "cpu backend: out of memory");
    cpu_backend *cb = b->impl;
    cb->model = model;
    openblas_set_num_threads(threads);
    snprintf(b->description, sizeof b->description, "CPU, float32, OpenBLAS with %d thread%s", threads,
             threads == 1 ? "" : "s");
    b->batch_tokens = EP_CPU_BATCH_TOKENS;
    b->submit = cpu_submit;
    b->wait_oldest = cpu_wait_oldest;
    b->destroy = cpu_destroy;
    *out = b;
    return EP_OK;
}
