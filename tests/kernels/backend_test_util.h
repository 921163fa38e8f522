/*
 * backend_test_util.h - helpers of the CUDA-backend tests: a seeded random
 * model built in memory (any shape, no files), packed batches, the CPU
 * backend as the reference, and per-row cosine comparison.
 */
#ifndef EP_BACKEND_TEST_UTIL_H
#define EP_BACKEND_TEST_UTIL_H

#include "backend_cpu.h"
#include "device.h"
#include "backend_cuda.h"
#include "kernel_test_util.h"
#include "model.h"

// ----------------------------------------------------------------------------
// A random BERT in memory

static inline float *bt_normal(size_t n, float scale, float offset) {
    float *p = kt_alloc(n);
    for (size_t i = 0; i < n; i++) p[i] = offset + scale * (kt_rand() + kt_rand() + kt_rand()); /* ~ bell-shaped */
    return p;
}

/* @return a model with seeded random weights (BERT-like scales); free with bt_model_free. */
static inline ep_model *bt_model(int vocab, int hidden, int heads, int layers, int intermediate, int max_position,
                          ep_pooling pooling) {
    ep_model *m = (ep_model *)calloc(1, sizeof(ep_model));
    ep_model_config *c = &m->config;
    c->vocab_size = vocab;
    c->hidden = hidden;
    c->n_layers = layers;
    c->n_heads = heads;
    c->intermediate = intermediate;
    c->max_position = max_position;
    c->type_vocab_size = 2;
    c->layer_norm_eps = 1e-12f;
    c->max_seq_length = max_position;
    c->pooling = pooling;
    c->normalize = true;
    c->do_lower_case = true;
    snprintf(c->name, sizeof c->name, "random-test-model");
    const size_t H = (size_t)hidden, I = (size_t)intermediate;
    m->word_emb = bt_normal((size_t)vocab * H, 0.3f, 0.0f);
    m->pos_emb = bt_normal((size_t)max_position * H, 0.1f, 0.0f);
    m->type_emb = bt_normal(2 * H, 0.05f, 0.0f);
    m->emb_ln_gamma = bt_normal(H, 0.05f, 1.0f);
    m->emb_ln_beta = bt_normal(H, 0.05f, 0.0f);
    m->layers = (ep_layer *)calloc((size_t)layers, sizeof(ep_layer));
    for (int l = 0; l < layers; l++) {
        ep_layer *y = &m->layers[l];
        y->qkv_weight = bt_normal(3 * H * H, 0.05f, 0.0f);
        y->qkv_bias = bt_normal(3 * H, 0.05f, 0.0f);
        y->attn_out_weight = bt_normal(H * H, 0.05f, 0.0f);
        y->attn_out_bias = bt_normal(H, 0.05f, 0.0f);
        y->attn_ln_gamma = bt_normal(H, 0.05f, 1.0f);
        y->attn_ln_beta = bt_normal(H, 0.05f, 0.0f);
        y->ffn_in_weight = bt_normal(I * H, 0.05f, 0.0f);
        y->ffn_in_bias = bt_normal(I, 0.05f, 0.0f);
        y->ffn_out_weight = bt_normal(H * I, 0.05f, 0.0f);
        y->ffn_out_bias = bt_normal(H, 0.05f, 0.0f);
        y->ffn_ln_gamma = bt_normal(H, 0.05f, 1.0f);
        y->ffn_ln_beta = bt_normal(H, 0.05f, 0.0f);
    }
    return m;
}

static inline void bt_model_free(ep_model *m) {
    if (!m) return;
    for (int l = 0; l < m->config.n_layers; l++) {
        ep_layer *y = &m->layers[l];
        float *all[] = {y->qkv_weight, y->qkv_bias, y->attn_out_weight, y->attn_out_bias, y->attn_ln_gamma,
                        y->attn_ln_beta, y->ffn_in_weight, y->ffn_in_bias, y->ffn_out_weight, y->ffn_out_bias,
                        y->ffn_ln_gamma, y->ffn_ln_beta};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
    }
    free(m->layers);
    free(m->word_emb);
    free(m->pos_emb);
    free(m->type_emb);
    free(m->emb_ln_gamma);
    free(m->emb_ln_beta);
    free(m);
}

// ----------------------------------------------------------------------------
// Batches

typedef struct bt_batch {
    ep_batch b;
    int32_t *ids, *seq_start;
} bt_batch;

/* n sequences of random lengths in [min_len, max_len], each [CLS]=2 ... [SEP]=3 with random ids. */
static inline bt_batch bt_random_batch(int n, int min_len, int max_len, int vocab) {
    bt_batch r;
    r.seq_start = (int32_t *)malloc(sizeof(int32_t) * (size_t)(n + 1));
    r.seq_start[0] = 0;
    int longest = 0;
    for (int i = 0; i < n; i++) {
        const int len = min_len + (int)((kt_rand() + 1.0f) * 0.5f * (max_len - min_len + 1)) % (max_len - min_len + 1);
        r.seq_start[i + 1] = r.seq_start[i] + len;
        if (len > longest) longest = len;
    }
    const int T = r.seq_start[n];
    r.ids = (int32_t *)malloc(sizeof(int32_t) * (size_t)(T ? T : 1));
    for (int i = 0; i < n; i++)
        for (int t = r.seq_start[i]; t < r.seq_start[i + 1]; t++) {
            const int first = t == r.seq_start[i], last = t == r.seq_start[i + 1] - 1;
            r.ids[t] = first ? 2 : last ? 3 : 5 + (int)((kt_rand() + 1.0f) * 0.5f * (vocab - 5)) % (vocab - 5);
        }
    r.b.n_seqs = n;
    r.b.n_tokens = T;
    r.b.max_seq_len = longest;
    r.b.token_ids = r.ids;
    r.b.seq_start = r.seq_start;
    return r;
}

static inline void bt_batch_free(bt_batch *r) {
    free(r->ids);
    free(r->seq_start);
}

// ----------------------------------------------------------------------------
// Comparison

/* @return the smallest cosine similarity between corresponding rows of a and b. */
static inline double bt_min_cosine(const float *a, const float *b, int rows, int dim, int *worst_row) {
    double min_cos = 2.0;
    for (int r = 0; r < rows; r++) {
        double ab = 0, aa = 0, bb = 0;
        for (int i = 0; i < dim; i++) {
            const double x = a[(size_t)r * dim + i], y = b[(size_t)r * dim + i];
            ab += x * y;
            aa += x * x;
            bb += y * y;
        }
        const double c = (aa > 0 && bb > 0) ? ab / sqrt(aa * bb) : (aa == bb ? 1.0 : 0.0);
        if (!(c >= min_cos)) { /* NaN lands here too */
            min_cos = c;
            if (worst_row) *worst_row = r;
        }
    }
    return min_cos;
}

/* The CPU backend's rows for a batch (float32). */
static inline float *bt_cpu_rows(ep_backend *cpu, const ep_batch *b) {
    float *out = kt_alloc((size_t)b->n_seqs * (size_t)cpu->dim);
    ep_error err;
    CHECK_OK(ep_backend_encode(cpu, b, out, NULL, &err), &err);
    return out;
}

#endif /* EP_BACKEND_TEST_UTIL_H */
