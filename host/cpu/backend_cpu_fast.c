/*
 * backend_cpu_fast.c - the fast CPU backend: a batch is cut into chunks of
 * whole sequences (about EP_FAST_CHUNK_TOKENS tokens each); the threads of
 * one pool take chunks from an atomic counter and run every layer on a chunk
 * before taking the next. Sequences never interact, so no thread waits for
 * another inside a batch, and a chunk's activations (a few hundred KiB) stay
 * in the core's L2 cache from the embedding lookup to the pooled row.
 */
#include "backend.h"
#include "backend_cpu.h"
#include "cpu_fast.h"
#include "cpu_head.h"
#include "cpu_ops.h"
#include "float16.h"
#include "cpu_pool.h"
#include "settings.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Tokens per chunk: enough rows for the GEMM micro-kernels to reuse each
 * weight panel many times, few enough that a chunk's FFN activations
 * (tokens x intermediate floats) fit in L2 beside the panels. */
#define EP_FAST_CHUNK_TOKENS 256

typedef struct fast_layer {
    ep_packed qkv, attn_out, ffn_in, ffn_out;
} fast_layer;

typedef struct thread_scratch {
    float *x, *tmp, *ctx;  /* [cap][H] */
    float *qkv;            /* [cap][3H] */
    float *ffn;            /* [cap][I] (float32 tables) */
    uint16_t *xb, *ctxb;   /* [cap + 16][H] bfloat16 copies (bf16 tables) */
    uint16_t *ffnb;        /* [cap + 16][I] */
    float *lin, *att;      /* kernel scratch */
    float *pooled;         /* [cap][dim] */
    float *full;           /* [cap][pooled width] (a head that is not simple) */
    float *head;           /* ep_cpu_head_scratch floats */
    int32_t *seq_start;    /* [cap + 1] rebased to the chunk */
} thread_scratch;

typedef struct chunk {
    int first_seq, n_seqs;
} chunk;

typedef struct fast_backend {
    const ep_model *model;
    const ep_cpu_kernels *k;
    ep_cpu_pool *pool;
    fast_layer *layers;
    int threads, cap, chunk_tokens;
    int dim;                 /* the rows' width (ep_model_output_dim) */
    thread_scratch *scratch; /* [threads] */
    /* the batch being computed */
    const ep_batch *batch;
    float *out_f32;
    uint16_t *out_f16;
    chunk *chunks;
    int n_chunks, cap_chunks;
    atomic_int next_chunk;
    int pending;
} fast_backend;

static void free_scratch(thread_scratch *s) {
    free(s->x);
    free(s->tmp);
    free(s->ctx);
    free(s->qkv);
    free(s->ffn);
    free(s->xb);
    free(s->ctxb);
    free(s->ffnb);
    free(s->lin);
    free(s->att);
    free(s->pooled);
    free(s->full);
    free(s->head);
    free(s->seq_start);
    memset(s, 0, sizeof *s);
}

static int alloc_scratch(thread_scratch *s, const fast_backend *fb) {
    const ep_model_config *c = &fb->model->config;
    const size_t cap = (size_t)fb->cap, H = (size_t)c->hidden, I = (size_t)c->intermediate;
    const size_t widest = 3 * H > I ? 3 * H : I;
    s->x = ep_aligned_calloc(sizeof(float) * cap * H);
    s->tmp = ep_aligned_calloc(sizeof(float) * cap * H);
    s->ctx = ep_aligned_calloc(sizeof(float) * cap * H);
    s->qkv = ep_aligned_calloc(sizeof(float) * cap * 3 * H);
    s->lin = ep_aligned_calloc(sizeof(float) * fb->k->linear_scratch(fb->cap, (int)widest));
    s->att = ep_aligned_calloc(sizeof(float) * ep_cpu_attention_scratch(c->max_position, c->hidden, c->n_heads));
    s->pooled = ep_aligned_calloc(sizeof(float) * cap * (size_t)fb->dim);
    s->full = ep_aligned_calloc(sizeof(float) * cap * (size_t)ep_model_pooled_dim(c));
    s->head = ep_aligned_calloc(sizeof(float) * ep_cpu_head_scratch(fb->model));
    s->seq_start = calloc(cap + 1, sizeof(int32_t));
    int ok = s->x && s->tmp && s->ctx && s->qkv && s->lin && s->att && s->pooled && s->full && s->head && s->seq_start;
    if (fb->k->bf16) {
        // 16 spare rows: AMX reads A in blocks of 16 rows
        s->xb = ep_aligned_calloc(sizeof(uint16_t) * (cap + 16) * H);
        s->ctxb = ep_aligned_calloc(sizeof(uint16_t) * (cap + 16) * H);
        s->ffnb = ep_aligned_calloc(sizeof(uint16_t) * (cap + 16) * I);
        ok = ok && s->xb && s->ctxb && s->ffnb;
    } else {
        s->ffn = ep_aligned_calloc(sizeof(float) * cap * I);
        ok = ok && s->ffn;
    }
    return ok ? 0 : -1;
}

/* The encoder on one chunk: sequences [first, first + n) of the batch. */
static void run_chunk(fast_backend *fb, thread_scratch *s, const chunk *ch) {
    const ep_model *m = fb->model;
    const ep_model_config *c = &m->config;
    const ep_cpu_kernels *k = fb->k;
    const ep_batch *b = fb->batch;
    const int H = c->hidden, FF = c->intermediate, bf = k->bf16;
    const int t0 = b->seq_start[ch->first_seq];
    for (int i = 0; i <= ch->n_seqs; i++) s->seq_start[i] = b->seq_start[ch->first_seq + i] - t0;
    const int T = s->seq_start[ch->n_seqs];
    float *x = s->x, *tmp = s->tmp;

    k->embed_layernorm(x, bf ? s->xb : NULL, b->token_ids + t0, s->seq_start, ch->n_seqs, m->word_emb, m->pos_emb,
                       m->type_emb, m->emb_ln_gamma, m->emb_ln_beta, H, c->layer_norm_eps, ep_model_position_pad(c));
    for (int l = 0; l < c->n_layers; l++) {
        const ep_layer *L = &m->layers[l];
        const fast_layer *P = &fb->layers[l];
        k->linear(s->qkv, NULL, 3 * H, x, s->xb, H, &P->qkv, L->qkv_bias, T, EP_ACT_NONE, s->lin);
        k->attention(s->ctx, s->qkv, s->seq_start, ch->n_seqs, H, c->n_heads, s->att);
        if (bf) k->to_bf16(s->ctxb, s->ctx, (size_t)T * H);
        k->linear(tmp, NULL, H, s->ctx, s->ctxb, H, &P->attn_out, L->attn_out_bias, T, EP_ACT_NONE, s->lin);
        k->residual_layernorm(tmp, bf ? s->xb : NULL, x, L->attn_ln_gamma, L->attn_ln_beta, T, H, c->layer_norm_eps);
        float *swap = x;
        x = tmp;
        tmp = swap;
        k->linear(bf ? NULL : s->ffn, bf ? s->ffnb : NULL, FF, x, s->xb, H, &P->ffn_in, L->ffn_in_bias, T,
                  EP_ACT_GELU, s->lin);
        k->linear(tmp, NULL, H, s->ffn, s->ffnb, FF, &P->ffn_out, L->ffn_out_bias, T, EP_ACT_NONE, s->lin);
        k->residual_layernorm(tmp, bf ? s->xb : NULL, x, L->ffn_ln_gamma, L->ffn_ln_beta, T, H, c->layer_norm_eps);
        swap = x;
        x = tmp;
        tmp = swap;
    }
    const size_t dim = (size_t)fb->dim;
    float *pooled = fb->out_f32 ? fb->out_f32 + (size_t)ch->first_seq * dim : s->pooled;
    if (ep_model_head_is_simple(m)) {
        k->pool_normalize(pooled, x, s->seq_start, ch->n_seqs, H, c->pooling == EP_POOLING_CLS,
                          ep_model_normalizes(m));
    } else {
        ep_pooling modes[EP_MAX_POOL_MODES];
        const int n_modes = ep_model_pool_modes(c, modes);
        ep_cpu_pooling(s->full, x, s->seq_start, ch->n_seqs, H, modes, n_modes,
                    c->exclude_prompt ? m->run.prompt_tokens : 0);
        ep_cpu_head(pooled, s->full, ch->n_seqs, m, s->head);
    }
    if (fb->out_f16) {
        uint16_t *o = fb->out_f16 + (size_t)ch->first_seq * dim;
        for (size_t i = 0; i < (size_t)ch->n_seqs * dim; i++) o[i] = ep_f32_to_f16(pooled[i]);
    }
}

static void worker(void *arg, int thread) {
    fast_backend *fb = arg;
    for (;;) {
        const int i = atomic_fetch_add_explicit(&fb->next_chunk, 1, memory_order_relaxed);
        if (i >= fb->n_chunks) break;
        run_chunk(fb, &fb->scratch[thread], &fb->chunks[i]);
    }
}

static ep_status fast_submit(ep_backend *self, const ep_batch *batch, float *out_f32, uint16_t *out_f16,
                             ep_error *err) {
    fast_backend *fb = self->impl;
    const ep_model_config *c = &fb->model->config;
    ep_status st = ep_backend_sync_check("cpu backend", fb->pending, c, batch, out_f32, out_f16, err);
    if (st != EP_OK) return st;
    // chunks of whole sequences, each under the token budget (a long sequence is a chunk alone)
    if (batch->n_seqs > fb->cap_chunks) {
        chunk *grown = realloc(fb->chunks, sizeof(chunk) * (size_t)batch->n_seqs);
        if (!grown) return ep_error_set(err, EP_ERR_NOMEM, "cpu backend: out of memory for %d sequences", batch->n_seqs);
        fb->chunks = grown;
        fb->cap_chunks = batch->n_seqs;
    }
    fb->n_chunks = 0;
    for (int s = 0; s < batch->n_seqs;) {
        int e = s + 1;
        while (e < batch->n_seqs && batch->seq_start[e + 1] - batch->seq_start[s] <= fb->chunk_tokens) e++;
        fb->chunks[fb->n_chunks++] = (chunk){.first_seq = s, .n_seqs = e - s};
        s = e;
    }
    fb->batch = batch;
    fb->out_f32 = out_f32;
    fb->out_f16 = out_f16;
    atomic_store(&fb->next_chunk, 0);
    ep_cpu_pool_run(fb->pool, worker, fb);
    fb->batch = NULL;
    fb->pending = 1;
    return EP_OK;
}

static ep_status fast_wait_oldest(ep_backend *self, ep_error *err) {
    fast_backend *fb = self->impl;
    return ep_backend_sync_wait("cpu backend", &fb->pending, err);
}

static void fast_free(fast_backend *fb) {
    if (!fb) return;
    ep_cpu_pool_free(fb->pool);
    if (fb->layers)
        for (int l = 0; l < fb->model->config.n_layers; l++) {
            ep_packed_free(&fb->layers[l].qkv);
            ep_packed_free(&fb->layers[l].attn_out);
            ep_packed_free(&fb->layers[l].ffn_in);
            ep_packed_free(&fb->layers[l].ffn_out);
        }
    free(fb->layers);
    if (fb->scratch)
        for (int t = 0; t < fb->threads; t++) free_scratch(&fb->scratch[t]);
    free(fb->scratch);
    free(fb->chunks);
    free(fb);
}

static void fast_destroy(ep_backend *self) {
    fast_free(self->impl);
    free(self);
}

bool ep_cpu_fast_supports(const ep_model *model) {
    const ep_model_config *c = &model->config;
    return c->hidden > 0 && c->hidden % 32 == 0 && c->intermediate > 0 && c->intermediate % 32 == 0 &&
           c->n_heads >= 1 && c->hidden % c->n_heads == 0;
}

ep_status ep_backend_cpu_fast_create(const ep_model *model, int threads, ep_cpu_precision precision,
                                     const ep_cpu_kernels *kernels, ep_backend **out, ep_error *err) {
    *out = NULL;
    if (!model) return ep_error_set(err, EP_ERR_USAGE, "cpu backend: no model");
    const ep_model_config *c = &model->config;
    if (!kernels) {
        ep_status st = ep_cpu_pick_kernels(precision, &kernels, err);
        if (st != EP_OK) return st;
    }
    if (!ep_cpu_fast_supports(model))
        return ep_error_set(err, EP_ERR_USAGE,
                            "cpu backend: the fast kernels need hidden and intermediate sizes that are multiples "
                            "of 32 (this model: %d, %d); precision fp32-reference runs any shape",
                            c->hidden, c->intermediate);
    if (threads <= 0) threads = ep_default_threads();
    ep_backend *b = ep_backend_new("cpu", ep_model_output_dim(model), sizeof(fast_backend));
    if (!b) return ep_error_set(err, EP_ERR_NOMEM, "cpu backend: out of memory");
    fast_backend *fb = b->impl;
    fb->model = model;
    fb->dim = b->dim;
    fb->k = kernels;
    fb->threads = threads;
    fb->chunk_tokens = ep_settings_get()->cpu_chunk_tokens; /* for tuning; see bench/README.md */
    if (!fb->chunk_tokens) fb->chunk_tokens = EP_FAST_CHUNK_TOKENS;
    fb->cap = fb->chunk_tokens > c->max_position ? fb->chunk_tokens : c->max_position;
    ep_status st = EP_OK;
    fb->layers = calloc((size_t)c->n_layers, sizeof *fb->layers);
    fb->scratch = calloc((size_t)threads, sizeof *fb->scratch);
    if (!fb->layers || !fb->scratch) st = ep_error_set(err, EP_ERR_NOMEM, "cpu backend: out of memory");
    const int H = c->hidden, FF = c->intermediate;
    for (int l = 0; l < c->n_layers && st == EP_OK; l++) {
        const ep_layer *L = &model->layers[l];
        fast_layer *P = &fb->layers[l];
        st = kernels->pack(&P->qkv, L->qkv_weight, 3 * H, H, err);
        if (st == EP_OK) st = kernels->pack(&P->attn_out, L->attn_out_weight, H, H, err);
        if (st == EP_OK) st = kernels->pack(&P->ffn_in, L->ffn_in_weight, FF, H, err);
        if (st == EP_OK) st = kernels->pack(&P->ffn_out, L->ffn_out_weight, H, FF, err);
    }
    for (int t = 0; t < threads && st == EP_OK; t++)
        if (alloc_scratch(&fb->scratch[t], fb) != 0)
            st = ep_error_set(err, EP_ERR_NOMEM, "cpu backend: cannot allocate activations for %d threads", threads);
    if (st == EP_OK) st = ep_cpu_pool_create(threads, &fb->pool, err);
    if (st != EP_OK) {
        fast_free(fb);
        free(b);
        return st;
    }
    snprintf(b->description, sizeof b->description, "CPU, %s (%s kernels), %d thread%s",
             kernels->bf16   ? "bfloat16 GEMMs with float32 accumulation"
             : kernels->int8 ? "int8 GEMMs (per-channel weights, per-token activations), float32 elsewhere"
                             : "float32",
             kernels->name, threads,
             threads == 1 ? "" : "s");
    snprintf(b->kernels, sizeof b->kernels, "%s", kernels->name);
    b->batch_tokens = EP_CPU_BATCH_TOKENS;
    b->submit = fast_submit;
    b->wait_oldest = fast_wait_oldest;
    b->destroy = fast_destroy;
    *out = b;
    return EP_OK;
}
