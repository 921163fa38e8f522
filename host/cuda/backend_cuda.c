/*
 * backend_cuda.c - the CUDA backend: the encoder as kernels/ launches on a
 * compute stream, fed and drained by two copy streams so that consecutive
 * batches overlap (upload of batch n+1 and download of batch n-1 run while
 * batch n computes).
 *
 * Per batch ("slot", two of them): pinned host buffers for the token ids and
 * the output rows, device buffers for the same, three events (uploaded,
 * computed, downloaded). Activations are shared by the slots: both batches
 * compute on one stream, one after the other. All memory is allocated at
 * creation; if the token budget does not fit, it is halved until it does.
 * The one exception: fp32 output rows (the pipeline asks only for fp16 rows)
 * get their buffers on the first submit that asks for them.
 *
 * Built with CUDA (EP_HAVE_CUDA), and for the CPU emulation
 * (EP_CUDA_EMULATION), where the same code runs as "cuda-emulated".
 *
 * After the encoder, a model whose head is one mean or CLS pooling (all-MiniLM-L6-v2, bge, e5, ...)
 * runs the fused pool_normalize kernel. Any other head (every pooling mode, Dense modules, a
 * truncation) stays on the device too: kernels/head.cu pools into a small fp32 row buffer, each Dense
 * is a cuBLASLt GEMM (ep_cuda_linear, fp16 in and out, fp32 accumulation) followed by its bias and
 * activation, and one kernel truncates and normalises into the output rows. The rows are a few
 * hundred values per text, so this costs little next to the encoder, and it spares the host (which
 * tokenises) a GEMM per text and a trip of the pooled rows across PCIe.
 *
 * Why one file of ~600 lines: its four parts (weights, buffers, one batch's
 * launches, the backend interface) all work on cuda_impl's streams, events
 * and slots, and their ordering is the thing to review; split them along the
 * banners if a second device path (e.g. multi-GPU) ever joins them.
 */
#if defined(EP_HAVE_CUDA) || defined(EP_CUDA_EMULATION)

#include "backend_cuda.h"
#include "setting_names.h"
#include "float16.h"
#include "ep_cuda_runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_SLOTS 2
#define MAX_SEQ 512 /* the attention kernel's limit; BERT models have 512 positions */
#ifdef EP_CUDA_EMULATION
#define DEFAULT_MAX_TOKENS 8192 /* the emulation touches every byte it allocates */
#else
#define DEFAULT_MAX_TOKENS 65536
#endif

typedef struct layer_weights {
    uint16_t *qkv_w, *out_w, *ffn_in_w, *ffn_out_w; /* fp16, [out][in] */
    uint16_t *qkv_b16; /* fp16: added in the QKV GEMM's epilogue (cuBLASLt's bias type follows its output) */
    float *out_b, *ffn_in_b, *ffn_out_b; /* fp32: added by the kernel after the GEMM */
    float *ln1_g, *ln1_b, *ln2_g, *ln2_b;
} layer_weights;

typedef struct slot {
    int32_t *h_ids, *h_seq; /* pinned */
    uint16_t *h_out16;
    float *h_out32; /* NULL until a caller asks for fp32 rows (ensure_out32) */
    int32_t *d_ids, *d_seq;
    uint16_t *d_out16;
    float *d_out32; /* likewise */
    cudaEvent_t uploaded, computed, downloaded;
    /* the batch it holds */
    int n_seqs;
    float *user32;
    uint16_t *user16;
    int done; /* rows already delivered (a batch split into chunks runs synchronously) */
} slot;

typedef struct dense_weights {
    uint16_t *w; /* fp16 [out][in] */
    float *b;    /* fp32 [out], or NULL */
} dense_weights;

typedef struct cuda_impl {
    int device;
    ep_model_config cfg;
    ep_model_run run;
    int H, heads, I, L;
    int dim;         /* the rows' width (ep_model_output_dim) */
    int simple_head; /* one mean or CLS pooling, nothing after: the fused kernel */
    int pooled_dim;  /* ep_model_pooled_dim */
    int head_width;  /* the widest row of the head (pooled or a Dense output) */
    dense_weights dense[EP_MAX_DENSE];
    /* weights */
    void **weights; /* every weight allocation, for freeing */
    int n_weights, cap_weights;
    uint16_t *word, *pos, *type;
    float *emb_g, *emb_b;
    layer_weights *layers;
    ep_cuda_gemm *gemm;
    /* token budget and buffers sized from it */
    size_t cap_tokens;
    int cap_seqs;
    int with32; /* alloc_buffers also allocates the fp32 row buffers (after ensure_out32 had to resize) */
    uint16_t *x, *wide, *attn, *y; /* wide: the QKV GEMM output [T][3H] (attention reads it), later the feed-forward */
    float *pooled32;               /* [cap_seqs][pooled_dim]: every pooling mode (a head without Dense) */
    uint16_t *head16[2];           /* [cap_seqs][head_width]: the pooled rows in fp16, then the Dense outputs
                                      (a head with Dense) */
    slot slots[N_SLOTS];
    cudaStream_t s_up, s_compute, s_down;
    int oldest, in_flight;
} cuda_impl;

#define TRY(call)                                                                                           \
    do {                                                                                                    \
        ep_status ep_st_ = (call);                                                                          \
        if (ep_st_ != EP_OK) return ep_st_;                                                                 \
    } while (0)

// ----------------------------------------------------------------------------
// Weights: uploaded once, matrices and embeddings as fp16, vectors as fp32.

static ep_status track(cuda_impl *c, void *p, ep_error *err) {
    if (c->n_weights == c->cap_weights) {
        int cap = c->cap_weights ? 2 * c->cap_weights : 64;
        void **w = realloc(c->weights, sizeof(void *) * (size_t)cap);
        if (!w) {
            cudaFree(p);
            return ep_error_set(err, EP_ERR_NOMEM, "%s:%d: out of host memory", __FILE__, __LINE__);
        }
        c->weights = w;
        c->cap_weights = cap;
    }
    c->weights[c->n_weights++] = p;
    return EP_OK;
}

static ep_status upload_f16(cuda_impl *c, uint16_t **dst, const float *src, size_t n, ep_error *err) {
    uint16_t *tmp = malloc(sizeof(uint16_t) * n);
    if (!tmp) return ep_error_set(err, EP_ERR_NOMEM, "%s:%d: out of host memory (%zu halves)", __FILE__, __LINE__, n);
    for (size_t i = 0; i < n; i++) tmp[i] = ep_f32_to_f16(src[i]);
    void *d = NULL;
    ep_status st = EP_OK;
    EP_CUDA_CHECK_GOTO(cudaMalloc(&d, sizeof(uint16_t) * n), err, st, out);
    st = track(c, d, err);
    if (st != EP_OK) goto out;
    EP_CUDA_CHECK_GOTO(cudaMemcpy(d, tmp, sizeof(uint16_t) * n, cudaMemcpyHostToDevice), err, st, out);
    *dst = d;
out:
    free(tmp);
    return st;
}

static ep_status upload_f32(cuda_impl *c, float **dst, const float *src, size_t n, ep_error *err) {
    void *d = NULL;
    EP_CUDA_CHECK(cudaMalloc(&d, sizeof(float) * n), err);
    TRY(track(c, d, err));
    EP_CUDA_CHECK(cudaMemcpy(d, src, sizeof(float) * n, cudaMemcpyHostToDevice), err);
    *dst = d;
    return EP_OK;
}

static ep_status upload_dense(cuda_impl *c, const ep_model *m, ep_error *err) {
    for (int i = 0; i < m->config.n_dense; i++) {
        const ep_dense_config *d = &m->config.dense[i];
        TRY(upload_f16(c, &c->dense[i].w, m->dense[i].weight, (size_t)d->out * (size_t)d->in, err));
        if (m->dense[i].bias) TRY(upload_f32(c, &c->dense[i].b, m->dense[i].bias, (size_t)d->out, err));
    }
    return EP_OK;
}

static ep_status upload_weights(cuda_impl *c, const ep_model *m, ep_error *err) {
    const size_t H = (size_t)c->H, I = (size_t)c->I;
    TRY(upload_f16(c, &c->word, m->word_emb, (size_t)c->cfg.vocab_size * H, err));
    TRY(upload_f16(c, &c->pos, m->pos_emb, (size_t)c->cfg.max_position * H, err));
    TRY(upload_f16(c, &c->type, m->type_emb, H, err)); /* token type 0 only */
    TRY(upload_f32(c, &c->emb_g, m->emb_ln_gamma, H, err));
    TRY(upload_f32(c, &c->emb_b, m->emb_ln_beta, H, err));
    for (int l = 0; l < c->L; l++) {
        const ep_layer *s = &m->layers[l];
        layer_weights *d = &c->layers[l];
        TRY(upload_f16(c, &d->qkv_w, s->qkv_weight, 3 * H * H, err));
        TRY(upload_f16(c, &d->out_w, s->attn_out_weight, H * H, err));
        TRY(upload_f16(c, &d->ffn_in_w, s->ffn_in_weight, I * H, err));
        TRY(upload_f16(c, &d->ffn_out_w, s->ffn_out_weight, H * I, err));
        TRY(upload_f16(c, &d->qkv_b16, s->qkv_bias, 3 * H, err));
        TRY(upload_f32(c, &d->out_b, s->attn_out_bias, H, err));
        TRY(upload_f32(c, &d->ffn_in_b, s->ffn_in_bias, I, err));
        TRY(upload_f32(c, &d->ffn_out_b, s->ffn_out_bias, H, err));
        TRY(upload_f32(c, &d->ln1_g, s->attn_ln_gamma, H, err));
        TRY(upload_f32(c, &d->ln1_b, s->attn_ln_beta, H, err));
        TRY(upload_f32(c, &d->ln2_g, s->ffn_ln_gamma, H, err));
        TRY(upload_f32(c, &d->ln2_b, s->ffn_ln_beta, H, err));
    }
    return upload_dense(c, m, err);
}

// ----------------------------------------------------------------------------
// Buffers sized from the token budget

/* The longest sequence the backend takes: the model's positions, and the attention kernel's limit. */
static int max_seq(const cuda_impl *c) {
    const int n = ep_model_max_tokens(&c->cfg);
    return n < MAX_SEQ ? n : MAX_SEQ;
}

static size_t wide_width(const cuda_impl *c) { return (size_t)(3 * c->H > c->I ? 3 * c->H : c->I); }

/* Device bytes one token of budget costs: activations (x, wide, attn, y) plus both slots'
 * inputs and fp16 outputs, and the head's rows when it has its own (seqs <= tokens). */
static size_t device_bytes_per_token(const cuda_impl *c) {
    const size_t H = (size_t)c->H;
    const size_t act = 2 * (H + wide_width(c) + H + H);
    const size_t per_slot = sizeof(int32_t) + sizeof(int32_t) + (size_t)c->dim * 2;
    const size_t head = c->simple_head ? 0 : c->cfg.n_dense ? 2 * 2 * (size_t)c->head_width : 4 * (size_t)c->pooled_dim;
    return act + N_SLOTS * per_slot + head;
}

static void free_buffers(cuda_impl *c) {
    cudaFree(c->x);
    cudaFree(c->wide);
    cudaFree(c->attn);
    cudaFree(c->y);
    cudaFree(c->pooled32);
    cudaFree(c->head16[0]);
    cudaFree(c->head16[1]);
    c->x = c->wide = c->attn = c->y = NULL;
    c->pooled32 = NULL;
    c->head16[0] = c->head16[1] = NULL;
    for (int i = 0; i < N_SLOTS; i++) {
        slot *s = &c->slots[i];
        cudaFreeHost(s->h_ids);
        cudaFreeHost(s->h_seq);
        cudaFreeHost(s->h_out16);
        cudaFreeHost(s->h_out32);
        cudaFree(s->d_ids);
        cudaFree(s->d_seq);
        cudaFree(s->d_out16);
        cudaFree(s->d_out32);
        s->h_ids = s->h_seq = s->d_ids = s->d_seq = NULL;
        s->h_out16 = s->d_out16 = NULL;
        s->h_out32 = s->d_out32 = NULL;
    }
}

static ep_status alloc_buffers(cuda_impl *c, size_t tokens, ep_error *err) {
    const size_t H = (size_t)c->H, D = (size_t)c->dim;
    /* Every sequence is at least [CLS] [SEP]; a batch with more sequences is split. */
    const size_t seqs = tokens / 2 + 1;
    c->cap_tokens = tokens;
    c->cap_seqs = (int)seqs;
    EP_CUDA_CHECK(cudaMalloc((void **)&c->x, 2 * tokens * H), err);
    EP_CUDA_CHECK(cudaMalloc((void **)&c->wide, 2 * tokens * wide_width(c)), err);
    EP_CUDA_CHECK(cudaMalloc((void **)&c->attn, 2 * tokens * H), err);
    EP_CUDA_CHECK(cudaMalloc((void **)&c->y, 2 * tokens * H), err);
    if (!c->simple_head && c->cfg.n_dense == 0)
        EP_CUDA_CHECK(cudaMalloc((void **)&c->pooled32, 4 * seqs * (size_t)c->pooled_dim), err);
    if (c->cfg.n_dense > 0) {
        EP_CUDA_CHECK(cudaMalloc((void **)&c->head16[0], 2 * seqs * (size_t)c->head_width), err);
        EP_CUDA_CHECK(cudaMalloc((void **)&c->head16[1], 2 * seqs * (size_t)c->head_width), err);
    }
    for (int i = 0; i < N_SLOTS; i++) {
        slot *s = &c->slots[i];
        EP_CUDA_CHECK(cudaHostAlloc((void **)&s->h_ids, sizeof(int32_t) * tokens, cudaHostAllocDefault), err);
        EP_CUDA_CHECK(cudaHostAlloc((void **)&s->h_seq, sizeof(int32_t) * (seqs + 1), cudaHostAllocDefault), err);
        EP_CUDA_CHECK(cudaHostAlloc((void **)&s->h_out16, 2 * seqs * D, cudaHostAllocDefault), err);
        EP_CUDA_CHECK(cudaMalloc((void **)&s->d_ids, sizeof(int32_t) * tokens), err);
        EP_CUDA_CHECK(cudaMalloc((void **)&s->d_seq, sizeof(int32_t) * (seqs + 1)), err);
        EP_CUDA_CHECK(cudaMalloc((void **)&s->d_out16, 2 * seqs * D), err);
        if (c->with32) {
            EP_CUDA_CHECK(cudaHostAlloc((void **)&s->h_out32, 4 * seqs * D, cudaHostAllocDefault), err);
            EP_CUDA_CHECK(cudaMalloc((void **)&s->d_out32, 4 * seqs * D), err);
        }
    }
    return EP_OK;
}

static ep_status size_buffers(cuda_impl *c, size_t requested, ep_error *err);

/* fp32 output rows, for both slots, on the first submit that asks for them: the pipeline
 * never does, and at the default budget they would hold about 200 MB of device and pinned
 * memory for nothing. When they do not fit beside a budget that out-of-memory already shrank
 * to fill the device, and no batch is in flight, everything is sized again with them
 * included (the budget halves further). */
static ep_status ensure_out32(cuda_impl *c, ep_error *err) {
    if (c->slots[0].d_out32) return EP_OK;
    const size_t bytes = 4 * (size_t)c->cap_seqs * (size_t)c->dim;
    ep_status st = EP_OK;
    for (int i = 0; i < N_SLOTS && st == EP_OK; i++) {
        slot *s = &c->slots[i];
        EP_CUDA_CHECK_GOTO(cudaHostAlloc((void **)&s->h_out32, bytes, cudaHostAllocDefault), err, st, next);
        EP_CUDA_CHECK_GOTO(cudaMalloc((void **)&s->d_out32, bytes), err, st, next);
    next:;
    }
    if (st == EP_OK) return EP_OK;
    for (int j = 0; j < N_SLOTS; j++) {
        cudaFreeHost(c->slots[j].h_out32);
        cudaFree(c->slots[j].d_out32);
        c->slots[j].h_out32 = NULL;
        c->slots[j].d_out32 = NULL;
    }
    (void)cudaGetLastError(); /* out of memory is not sticky */
    if (st == EP_ERR_NOMEM && c->in_flight == 0) {
        c->with32 = 1;
        free_buffers(c);
        return size_buffers(c, c->cap_tokens, err);
    }
    ep_error_prefix(err, "cuda backend: fp32 rows need %zu MiB more device memory%s", 2 * bytes >> 20,
                    st == EP_ERR_NOMEM ? " while a batch is in flight (ask for fp32 rows in the first batch, or "
                                         "fp16 rows only)" : "");
    return st;
}

/* Allocates for the requested budget, halving it on out-of-memory. */
static ep_status size_buffers(cuda_impl *c, size_t requested, ep_error *err) {
    const size_t floor_tokens = (size_t)max_seq(c);
    size_t tokens = requested;
    if (tokens == 0) {
        size_t free_b = 0, total_b = 0;
        EP_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b), err);
        /* Leave a fifth for the driver, cuBLAS and other processes; beyond DEFAULT_MAX_TOKENS a
         * bigger batch only adds latency and pinned host memory, not throughput. */
        tokens = free_b / 5 * 4 / device_bytes_per_token(c);
        if (tokens > DEFAULT_MAX_TOKENS) tokens = DEFAULT_MAX_TOKENS;
    }
    if (tokens < floor_tokens) tokens = floor_tokens;
    for (;;) {
        ep_status st = alloc_buffers(c, tokens, err);
        if (st == EP_OK) return EP_OK;
        free_buffers(c);
        if (st != EP_ERR_NOMEM || tokens <= floor_tokens) return st;
        fprintf(stderr, "embedpipe: cuda: a batch budget of %zu tokens does not fit in device memory; trying %zu\n",
                tokens, tokens / 2 > floor_tokens ? tokens / 2 : floor_tokens);
        (void)cudaGetLastError(); /* out of memory is not sticky: clear it before retrying */
        tokens = tokens / 2 > floor_tokens ? tokens / 2 : floor_tokens;
    }
}

// ----------------------------------------------------------------------------
// One chunk: upload, the encoder, download

/* Every pooling mode, the Dense modules, the truncation and the normalisation (kernels/head.cu). */
static ep_status head_forward(cuda_impl *c, slot *s, int n_seqs, int want32, ep_error *err) {
    const ep_model_config *cfg = &c->cfg;
    cudaStream_t st = c->s_compute;
    ep_pooling modes[EP_MAX_POOL_MODES];
    int imodes[EP_MAX_POOL_MODES];
    const int n_modes = ep_model_pool_modes(cfg, modes);
    for (int m = 0; m < n_modes; m++) imodes[m] = (int)modes[m];
    const int skip = cfg->exclude_prompt ? c->run.prompt_tokens : 0;
    TRY(ep_cuda_pool(cfg->n_dense ? NULL : c->pooled32, cfg->n_dense ? c->head16[0] : NULL, c->x, s->d_seq, n_seqs,
                     c->H, imodes, n_modes, skip, st, err));
    int width = c->pooled_dim, cur = 0;
    for (int i = 0; i < cfg->n_dense; i++) {
        const ep_dense_config *d = &cfg->dense[i];
        TRY(ep_cuda_linear(c->gemm, c->head16[1 - cur], c->head16[cur], c->dense[i].w, NULL, n_seqs, d->in, d->out, st,
                           err));
        TRY(ep_cuda_bias_activation(c->head16[1 - cur], c->dense[i].b, n_seqs, d->out, (int)d->act, st, err));
        cur = 1 - cur;
        width = d->out;
    }
    return ep_cuda_rows_normalize(s->d_out16, want32 ? s->d_out32 : NULL, cfg->n_dense ? NULL : c->pooled32,
                                  cfg->n_dense ? c->head16[cur] : NULL, n_seqs, width, c->dim,
                                  cfg->normalize || c->run.normalize, st, err);
}

static ep_status encoder_forward(cuda_impl *c, slot *s, int n_seqs, int n_tokens, int max_len, int want32,
                                 ep_error *err) {
    const int H = c->H, I = c->I, heads = c->heads;
    const float eps = c->cfg.layer_norm_eps;
    cudaStream_t st = c->s_compute;
    TRY(ep_cuda_embed_layernorm(c->x, s->d_ids, s->d_seq, n_seqs, n_tokens, c->word, c->pos, c->type, c->emb_g,
                                c->emb_b, H, eps, ep_model_position_pad(&c->cfg), st, err));
    for (int l = 0; l < c->L; l++) {
        const layer_weights *w = &c->layers[l];
        /* The QKV bias goes into the GEMM's epilogue and attention reads the [T][3H] result in
         * place. The other biases ride in the kernel that reads the GEMM's output anyway
         * (residual + LayerNorm, erf GELU), where they cost no memory traffic. */
        TRY(ep_cuda_linear(c->gemm, c->wide, c->x, w->qkv_w, w->qkv_b16, n_tokens, H, 3 * H, st, err));
        TRY(ep_cuda_attention(c->attn, c->wide, s->d_seq, n_seqs, n_tokens, max_len, H, heads, st, err));
        TRY(ep_cuda_linear(c->gemm, c->y, c->attn, w->out_w, NULL, n_tokens, H, H, st, err));
        TRY(ep_cuda_bias_residual_layernorm(c->x, c->y, w->out_b, w->ln1_g, w->ln1_b, n_tokens, H, eps, st, err));
        TRY(ep_cuda_linear(c->gemm, c->wide, c->x, w->ffn_in_w, NULL, n_tokens, H, I, st, err));
        TRY(ep_cuda_bias_gelu(c->wide, w->ffn_in_b, n_tokens, I, st, err));
        TRY(ep_cuda_linear(c->gemm, c->y, c->wide, w->ffn_out_w, NULL, n_tokens, I, H, st, err));
        TRY(ep_cuda_bias_residual_layernorm(c->x, c->y, w->ffn_out_b, w->ln2_g, w->ln2_b, n_tokens, H, eps, st, err));
    }
    if (c->simple_head)
        return ep_cuda_pool_normalize(s->d_out16, want32 ? s->d_out32 : NULL, c->x, s->d_seq, n_seqs, H,
                                      (int)c->cfg.pooling, c->cfg.normalize || c->run.normalize, st, err);
    return head_forward(c, s, n_seqs, want32, err);
}

/* Queues sequences [first, first + n_seqs) of batch b through slot s. Returns once queued. */
static ep_status enqueue_chunk(cuda_impl *c, slot *s, const ep_batch *b, int first, int n_seqs, int want32,
                               ep_error *err) {
    const int32_t base = b->seq_start[first];
    const int n_tokens = b->seq_start[first + n_seqs] - base;
    int max_len = 0;
    for (int i = 0; i <= n_seqs; i++) {
        s->h_seq[i] = b->seq_start[first + i] - base;
        if (i > 0 && s->h_seq[i] - s->h_seq[i - 1] > max_len) max_len = s->h_seq[i] - s->h_seq[i - 1];
    }
    memcpy(s->h_ids, b->token_ids + base, sizeof(int32_t) * (size_t)n_tokens);
    const size_t D = (size_t)c->dim;

    EP_CUDA_CHECK(cudaMemcpyAsync(s->d_ids, s->h_ids, sizeof(int32_t) * (size_t)n_tokens, cudaMemcpyHostToDevice,
                                  c->s_up), err);
    EP_CUDA_CHECK(cudaMemcpyAsync(s->d_seq, s->h_seq, sizeof(int32_t) * (size_t)(n_seqs + 1), cudaMemcpyHostToDevice,
                                  c->s_up), err);
    EP_CUDA_CHECK(cudaEventRecord(s->uploaded, c->s_up), err);

    EP_CUDA_CHECK(cudaStreamWaitEvent(c->s_compute, s->uploaded, 0), err);
    TRY(encoder_forward(c, s, n_seqs, n_tokens, max_len, want32, err));
    EP_CUDA_CHECK(cudaEventRecord(s->computed, c->s_compute), err);

    EP_CUDA_CHECK(cudaStreamWaitEvent(c->s_down, s->computed, 0), err);
    EP_CUDA_CHECK(cudaMemcpyAsync(s->h_out16, s->d_out16, 2 * D * (size_t)n_seqs, cudaMemcpyDeviceToHost, c->s_down),
                  err);
    if (want32)
        EP_CUDA_CHECK(cudaMemcpyAsync(s->h_out32, s->d_out32, 4 * D * (size_t)n_seqs, cudaMemcpyDeviceToHost,
                                      c->s_down), err);
    EP_CUDA_CHECK(cudaEventRecord(s->downloaded, c->s_down), err);
    return EP_OK;
}

/* Waits for s's download and copies rows to the caller's buffers, starting at row `row`. */
static ep_status deliver(cuda_impl *c, slot *s, int row, int n_seqs, ep_error *err) {
    EP_CUDA_CHECK(cudaEventSynchronize(s->downloaded), err);
    const size_t D = (size_t)c->dim;
    if (s->user16) memcpy(s->user16 + (size_t)row * D, s->h_out16, 2 * D * (size_t)n_seqs);
    if (s->user32) memcpy(s->user32 + (size_t)row * D, s->h_out32, 4 * D * (size_t)n_seqs);
    return EP_OK;
}

static ep_status check_batch(const cuda_impl *c, const ep_batch *b, ep_error *err) {
    if (b->n_seqs < 0 || b->n_tokens < 0 || (b->n_seqs > 0 && (!b->seq_start || !b->token_ids)))
        return ep_error_set(err, EP_ERR_USAGE, "cuda backend: malformed batch (%d sequences, %d tokens)", b->n_seqs,
                            b->n_tokens);
    if (b->n_seqs == 0) return EP_OK;
    if (b->seq_start[0] != 0 || b->seq_start[b->n_seqs] != b->n_tokens)
        return ep_error_set(err, EP_ERR_USAGE, "cuda backend: seq_start must run from 0 to n_tokens (%d)", b->n_tokens);
    const int limit = max_seq(c);
    for (int i = 0; i < b->n_seqs; i++) {
        const int len = b->seq_start[i + 1] - b->seq_start[i];
        if (len < 0 || len > limit)
            return ep_error_set(err, EP_ERR_USAGE, "cuda backend: sequence %d has %d tokens (at most %d)", i, len,
                                limit);
    }
    for (int t = 0; t < b->n_tokens; t++)
        if (b->token_ids[t] < 0 || b->token_ids[t] >= c->cfg.vocab_size)
            return ep_error_set(err, EP_ERR_USAGE, "cuda backend: token id %d at %d is outside the vocabulary (%d)",
                                b->token_ids[t], t, c->cfg.vocab_size);
    return EP_OK;
}

// ----------------------------------------------------------------------------
// The backend interface

static ep_status cuda_submit(ep_backend *self, const ep_batch *b, float *out32, uint16_t *out16, ep_error *err) {
    cuda_impl *c = self->impl;
    if (!out32 && !out16) return ep_error_set(err, EP_ERR_USAGE, "cuda backend: submit needs an output buffer");
    if (c->in_flight == N_SLOTS)
        return ep_error_set(err, EP_ERR_USAGE, "cuda backend: %d batches already in flight; call wait_oldest first",
                            N_SLOTS);
    TRY(check_batch(c, b, err));
    if (!c->x)
        return ep_error_set(err, EP_ERR_NOMEM, "cuda backend: no device buffers left (sizing them again for fp32 "
                            "rows failed); create the backend again");
    EP_CUDA_CHECK(cudaSetDevice(c->device), err);
    if (out32) TRY(ensure_out32(c, err));
    slot *s = &c->slots[(c->oldest + c->in_flight) % N_SLOTS];
    s->n_seqs = b->n_seqs;
    s->user16 = out16;
    s->user32 = out32;
    s->done = 0;
    if (b->n_seqs == 0) {
        s->done = 1;
    } else if ((size_t)b->n_tokens <= c->cap_tokens && b->n_seqs <= c->cap_seqs) {
        TRY(enqueue_chunk(c, s, b, 0, b->n_seqs, out32 != NULL, err));
    } else {
        /* Larger than the budget (the caller's batches outgrew a budget that out-of-memory
         * shrank): run it in chunks that fit, synchronously. */
        for (int first = 0; first < b->n_seqs;) {
            int n = 0;
            while (first + n < b->n_seqs && n < c->cap_seqs &&
                   (size_t)(b->seq_start[first + n + 1] - b->seq_start[first]) <= c->cap_tokens)
                n++;
            TRY(enqueue_chunk(c, s, b, first, n, out32 != NULL, err));
            TRY(deliver(c, s, first, n, err));
            first += n;
        }
        s->done = 1;
    }
    c->in_flight++;
    return EP_OK;
}

static ep_status cuda_wait_oldest(ep_backend *self, ep_error *err) {
    cuda_impl *c = self->impl;
    if (c->in_flight == 0) return ep_error_set(err, EP_ERR_USAGE, "cuda backend: wait_oldest with nothing in flight");
    slot *s = &c->slots[c->oldest];
    c->oldest = (c->oldest + 1) % N_SLOTS;
    c->in_flight--;
    if (s->done) return EP_OK;
    EP_CUDA_CHECK(cudaSetDevice(c->device), err);
    return deliver(c, s, 0, s->n_seqs, err);
}

static void cuda_destroy(ep_backend *self) {
    if (!self) return;
    cuda_impl *c = self->impl;
    if (c) {
        cudaSetDevice(c->device);
        if (c->s_up) cudaStreamSynchronize(c->s_up);
        if (c->s_compute) cudaStreamSynchronize(c->s_compute);
        if (c->s_down) cudaStreamSynchronize(c->s_down);
        free_buffers(c);
        for (int i = 0; i < N_SLOTS; i++) {
            if (c->slots[i].uploaded) cudaEventDestroy(c->slots[i].uploaded);
            if (c->slots[i].computed) cudaEventDestroy(c->slots[i].computed);
            if (c->slots[i].downloaded) cudaEventDestroy(c->slots[i].downloaded);
        }
        if (c->s_up) cudaStreamDestroy(c->s_up);
        if (c->s_compute) cudaStreamDestroy(c->s_compute);
        if (c->s_down) cudaStreamDestroy(c->s_down);
        ep_cuda_gemm_free(c->gemm);
        for (int i = 0; i < c->n_weights; i++) cudaFree(c->weights[i]);
        free(c->weights);
        free(c->layers);
        free(c);
    }
    free(self);
}

/* The head's shape: Dense GEMMs go to cuBLASLt, which wants fp16 widths in multiples of 8. */
static ep_status check_head(const ep_model *model, ep_error *err) {
    for (int i = 0; i < model->config.n_dense; i++) {
        const ep_dense_config *d = &model->config.dense[i];
        if (d->in % 8 || d->out % 8)
            return ep_error_set(err, EP_ERR_MODEL,
                                "CUDA backend: Dense module %s is %d x %d; the GEMMs need multiples of 8: use %s cpu",
                                d->path, d->out, d->in, ep_setting_name(EP_SETTING_DEVICE));
    }
    return EP_OK;
}

/* The head's widths and the per-run choices, fixed for the backend's life. */
static void set_head(cuda_impl *c, const ep_model *model) {
    c->run = model->run;
    c->dim = ep_model_output_dim(model);
    c->simple_head = ep_model_head_is_simple(model);
    c->pooled_dim = ep_model_pooled_dim(&model->config);
    c->head_width = c->pooled_dim;
    for (int i = 0; i < model->config.n_dense; i++)
        if (model->config.dense[i].out > c->head_width) c->head_width = model->config.dense[i].out;
}

static ep_status create(const ep_model *model, int device, size_t batch_tokens, ep_backend *b, cuda_impl *c,
                        ep_error *err) {
    const ep_model_config *cfg = &model->config;
    TRY(ep_cuda_supports(cfg->hidden, cfg->n_heads, cfg->intermediate, err));
    TRY(check_head(model, err));
    int n_devices = 0;
    if (ep_cuda_probe(&n_devices, NULL, err) != EP_OK) {
        ep_error_prefix(err, "cuda:%d: no CUDA device is usable (use %s cpu)", device,
                        ep_setting_name(EP_SETTING_DEVICE));
        return EP_ERR_DEVICE;
    }
    if (device < 0 || device >= n_devices)
        return ep_error_set(err, EP_ERR_DEVICE, "cuda:%d requested but %d CUDA device(s) found", device, n_devices);
    c->device = device;
    c->cfg = *cfg;
    c->H = cfg->hidden;
    c->heads = cfg->n_heads;
    c->I = cfg->intermediate;
    c->L = cfg->n_layers;
    set_head(c, model);
    c->layers = calloc((size_t)(c->L > 0 ? c->L : 1), sizeof(layer_weights));
    if (!c->layers) return ep_error_set(err, EP_ERR_NOMEM, "%s:%d: out of host memory", __FILE__, __LINE__);
    EP_CUDA_CHECK(cudaSetDevice(device), err);
    struct cudaDeviceProp prop;
    EP_CUDA_CHECK(cudaGetDeviceProperties(&prop, device), err);
    EP_CUDA_CHECK(cudaStreamCreateWithFlags(&c->s_up, cudaStreamNonBlocking), err);
    EP_CUDA_CHECK(cudaStreamCreateWithFlags(&c->s_compute, cudaStreamNonBlocking), err);
    EP_CUDA_CHECK(cudaStreamCreateWithFlags(&c->s_down, cudaStreamNonBlocking), err);
    for (int i = 0; i < N_SLOTS; i++) {
        EP_CUDA_CHECK(cudaEventCreateWithFlags(&c->slots[i].uploaded, cudaEventDisableTiming), err);
        EP_CUDA_CHECK(cudaEventCreateWithFlags(&c->slots[i].computed, cudaEventDisableTiming), err);
        /* The host waits on this one (deliver): a blocking-sync event sleeps the thread instead of
         * spinning a core that the reader and tokeniser threads need. Set on the event rather than
         * with cudaSetDeviceFlags(cudaDeviceScheduleBlockingSync), which would change the whole
         * process's context for any other CUDA user in it. */
        EP_CUDA_CHECK(cudaEventCreateWithFlags(&c->slots[i].downloaded, cudaEventDisableTiming | cudaEventBlockingSync),
                      err);
    }
    ep_status st = upload_weights(c, model, err);
    if (st == EP_ERR_NOMEM) {
        ep_error_prefix(err, "cuda:%d: the model's weights do not fit in device memory", device);
        return st;
    }
    TRY(st);
    /* The weights went up with cudaMemcpy from pageable memory on the legacy default stream, which
     * may return before the copy lands; the encoder runs on non-blocking streams that do not wait
     * for the legacy stream. Wait here, once, so that no kernel can read a weight still in flight. */
    EP_CUDA_CHECK(cudaDeviceSynchronize(), err);
    TRY(ep_cuda_gemm_create(&c->gemm, err));
    TRY(size_buffers(c, batch_tokens, err));

    b->dim = c->dim;
    b->max_in_flight = N_SLOTS;
    b->submit = cuda_submit;
    b->wait_oldest = cuda_wait_oldest;
    b->destroy = cuda_destroy;
#ifdef EP_CUDA_EMULATION
    snprintf(b->name, sizeof b->name, "cuda-emulated");
#else
    snprintf(b->name, sizeof b->name, "cuda:%d", device);
#endif
    snprintf(b->description, sizeof b->description,
             "%s: %s (%d SMs, %.1f GiB), precision fp16 (fp16 weights and activations, fp32 accumulation), "
             "batches of up to %zu tokens, %d in flight",
             b->name, prop.name, prop.multiProcessorCount, (double)prop.totalGlobalMem / (1 << 30), c->cap_tokens,
             N_SLOTS);
    return EP_OK;
}

ep_status ep_backend_cuda_create(const ep_model *model, int device, size_t batch_tokens, ep_backend **out,
                                 ep_error *err) {
    if (!out || !model) return ep_error_set(err, EP_ERR_USAGE, "ep_backend_cuda_create: NULL argument");
    *out = NULL;
    ep_backend *b = calloc(1, sizeof *b);
    cuda_impl *c = calloc(1, sizeof *c);
    if (!b || !c) {
        free(b);
        free(c);
        return ep_error_set(err, EP_ERR_NOMEM, "%s:%d: out of host memory", __FILE__, __LINE__);
    }
    b->impl = c;
    const ep_status st = create(model, device, batch_tokens, b, c, err);
    if (st != EP_OK) {
        cuda_destroy(b);
        return st;
    }
    *out = b;
    return EP_OK;
}

size_t ep_backend_cuda_batch_tokens(const ep_backend *backend) {
    return backend && backend->impl ? ((const cuda_impl *)backend->impl)->cap_tokens : 0;
}

#else
/* Built without CUDA: the backend is absent (backend.c reports it), nothing to compile. */
typedef int ep_backend_cuda_absent;
#endif
