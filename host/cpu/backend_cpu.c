/*
 * backend_cpu.c - the CPU backend: the encoder as a chain of cpu_ops over a
 * packed batch. It is the fallback on machines without a GPU and the oracle
 * the CUDA backend is tested against, so it stays plain float32. Its GEMMs
 * run one sequence at a time (see linear_per_seq), so a text's vector does
 * not depend on the batch it came in.
 */
#include "backend_cpu.h"
#include "cpu_head.h"
#include "cpu_ops.h"
#include "float16.h"
#include "cpu_pool.h"
#include "settings.h"

#include <cblas.h>
#include <stdatomic.h>
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
    float *pooled;          /* [n_seqs][dim], when the caller wants f16 only */
    float *full;            /* [n_seqs][pooled width]: every pooling mode, before the head */
    size_t pooled_rows;
    float *head_scratch;    /* ep_cpu_head_scratch floats */
    int dim;                /* the rows' width (ep_model_output_dim) */
    int pending;            /* submitted batches not yet waited for (0 or 1) */
    ep_cpu_pool *pool;      /* the threads that share out the sequences of a GEMM */
} cpu_backend;

/* out = in * W^T + bias for each sequence on its own: one single-threaded
 * OpenBLAS GEMM per sequence (M = its own tokens), the sequences shared out
 * over the pool. One GEMM over the whole batch would be faster, but OpenBLAS
 * picks its kernel and blocking by M, so a text's bits would depend on which
 * texts shared its batch; per sequence they depend on the text alone. (One
 * multi-threaded GEMM per sequence was 10x slower in wall time: a thread
 * hand-off per 20-row product.) */
typedef struct linear_job {
    float *out;
    const float *in, *weight, *bias;
    const ep_batch *batch;
    int n_in, n_out;
    atomic_int next;
} linear_job;

static void linear_worker(void *arg, int thread) {
    (void)thread;
    linear_job *j = arg;
    for (;;) {
        const int s = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (s >= j->batch->n_seqs) break;
        const int t0 = j->batch->seq_start[s], len = j->batch->seq_start[s + 1] - t0;
        ep_cpu_linear(j->out + (size_t)t0 * j->n_out, j->in + (size_t)t0 * j->n_in, j->weight, j->bias, len, j->n_in,
                      j->n_out);
    }
}

static void linear_per_seq(cpu_backend *cb, float *out, const float *in, const float *weight, const float *bias,
                           const ep_batch *batch, int n_in, int n_out) {
    linear_job j = {.out = out, .in = in, .weight = weight, .bias = bias, .batch = batch, .n_in = n_in,
                    .n_out = n_out};
    atomic_store(&j.next, 0);
    ep_cpu_pool_run(cb->pool, linear_worker, &j);
}

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
        free(cb->full);
        cb->pooled = malloc(sizeof(float) * seqs * (size_t)cb->dim);
        cb->full = malloc(sizeof(float) * seqs * (size_t)ep_model_pooled_dim(&cb->model->config));
        cb->pooled_rows = cb->pooled && cb->full ? seqs : 0;
        if (!cb->pooled_rows) return ep_error_set(err, EP_ERR_NOMEM, "cpu backend: cannot allocate %zu output rows", seqs);
    }
    return EP_OK;
}

static ep_status cpu_submit(ep_backend *self, const ep_batch *batch, float *out_f32, uint16_t *out_f16,
                            ep_error *err) {
    cpu_backend *cb = self->impl;
    const ep_model *m = cb->model;
    const ep_model_config *c = &m->config;
    const int T = batch->n_tokens, H = c->hidden, FF = c->intermediate, dim = cb->dim;
    ep_status st = ep_backend_sync_check("cpu backend", cb->pending, c, batch, out_f32, out_f16, err);
    if (st != EP_OK) return st;
    st = reserve(cb, (size_t)T, (size_t)batch->n_seqs, err);
    if (st != EP_OK) return st;
    openblas_set_num_threads(1); /* our threads share out the sequences, not OpenBLAS's */

    float *x = cb->x, *tmp = cb->tmp;
    ep_cpu_embed_layernorm(x, batch->token_ids, batch->seq_start, batch->n_seqs, m->word_emb, m->pos_emb,
                           m->type_emb, m->emb_ln_gamma, m->emb_ln_beta, H, c->layer_norm_eps,
                           ep_model_position_pad(c));
    for (int l = 0; l < c->n_layers; l++) {
        const ep_layer *L = &m->layers[l];
        linear_per_seq(cb, cb->qkv, x, L->qkv_weight, L->qkv_bias, batch, H, 3 * H);
        ep_cpu_attention(cb->ctx, cb->qkv, batch->seq_start, batch->n_seqs, H, c->n_heads);
        linear_per_seq(cb, tmp, cb->ctx, L->attn_out_weight, L->attn_out_bias, batch, H, H);
        ep_cpu_residual_layernorm(tmp, x, L->attn_ln_gamma, L->attn_ln_beta, T, H, c->layer_norm_eps);
        float *swap = x;
        x = tmp;
        tmp = swap;
        linear_per_seq(cb, cb->ffn, x, L->ffn_in_weight, L->ffn_in_bias, batch, H, FF);
        ep_cpu_gelu(cb->ffn, (long)T * FF);
        linear_per_seq(cb, tmp, cb->ffn, L->ffn_out_weight, L->ffn_out_bias, batch, FF, H);
        ep_cpu_residual_layernorm(tmp, x, L->ffn_ln_gamma, L->ffn_ln_beta, T, H, c->layer_norm_eps);
        swap = x;
        x = tmp;
        tmp = swap;
    }
    float *pooled = out_f32 ? out_f32 : cb->pooled;
    if (ep_model_head_is_simple(m)) {
        ep_cpu_pool_normalize(pooled, x, batch->seq_start, batch->n_seqs, H, c->pooling == EP_POOLING_CLS,
                              ep_model_normalizes(m));
    } else {
        ep_pooling modes[EP_MAX_POOL_MODES];
        const int n_modes = ep_model_pool_modes(c, modes);
        ep_cpu_pooling(cb->full, x, batch->seq_start, batch->n_seqs, H, modes, n_modes,
                    c->exclude_prompt ? m->run.prompt_tokens : 0);
        ep_cpu_head(pooled, cb->full, batch->n_seqs, m, cb->head_scratch);
    }
    if (out_f16)
        for (size_t i = 0; i < (size_t)batch->n_seqs * dim; i++) out_f16[i] = ep_f32_to_f16(pooled[i]);
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
        free(cb->full);
        free(cb->head_scratch);
        ep_cpu_pool_free(cb->pool);
        free(cb);
    }
    free(self);
}

ep_status ep_backend_cpu_create(const ep_model *model, int threads, ep_backend **out, ep_error *err) {
    *out = NULL;
    if (!model) return ep_error_set(err, EP_ERR_USAGE, "cpu backend: no model");
    if (threads <= 0) threads = ep_default_threads();
    ep_backend *b = ep_backend_new("cpu", ep_model_output_dim(model), sizeof(cpu_backend));
    if (!b) return ep_error_set(err, EP_ERR_NOMEM, "cpu backend: out of memory");
    cpu_backend *cb = b->impl;
    cb->model = model;
    cb->dim = b->dim;
    cb->head_scratch = malloc(sizeof(float) * ep_cpu_head_scratch(model));
    ep_status st = cb->head_scratch ? ep_cpu_pool_create(threads, &cb->pool, err)
                                    : ep_error_set(err, EP_ERR_NOMEM, "cpu backend: out of memory");
    if (st != EP_OK) {
        free(cb->head_scratch);
        ep_backend_delete(b);
        return st;
    }
    snprintf(b->kernels, sizeof b->kernels, "openblas");
    snprintf(b->description, sizeof b->description, "CPU, float32, OpenBLAS, one GEMM per text, %d thread%s",
             threads, threads == 1 ? "" : "s");
    b->batch_tokens = EP_CPU_BATCH_TOKENS;
    b->submit = cpu_submit;
    b->wait_oldest = cpu_wait_oldest;
    b->destroy = cpu_destroy;
    *out = b;
    return EP_OK;
}
