/*
 * cpu_ops.c - the encoder's operations in plain C: the reference every other
 * implementation (the CUDA kernels, faster CPU paths) is tested against.
 * Loops are written to be read; the GEMMs go to cblas_sgemm.
 */
#include "cpu_ops.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

// ----------------------------------------------------------------------------
// LayerNorm over one row, two-pass (mean, then variance) as PyTorch does.

static void layernorm_row(float *out, const float *in, const float *gamma, const float *beta, int n, float eps) {
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += in[i];
    float mean = (float)(sum / n);
    double var = 0.0;
    for (int i = 0; i < n; i++) {
        float d = in[i] - mean;
        var += (double)d * d;
    }
    float rstd = 1.0f / sqrtf((float)(var / n) + eps);
    for (int i = 0; i < n; i++) out[i] = (in[i] - mean) * rstd * gamma[i] + beta[i];
}

void ep_cpu_embed_layernorm(float *out, const int32_t *ids, const int32_t *seq_start, int n_seqs,
                            const float *word_emb, const float *pos_emb, const float *type_emb,
                            const float *gamma, const float *beta, int hidden, float eps, int pad_id) {
    float *sum = malloc(sizeof(float) * (size_t)hidden);
    if (!sum) abort(); /* hidden floats: only a programming error can make this fail */
    for (int s = 0; s < n_seqs; s++) {
        int non_pad = 0;
        for (int t = seq_start[s]; t < seq_start[s + 1]; t++) {
            const int pos = ep_cpu_position(pad_id, ids[t], t - seq_start[s], &non_pad);
            const float *w = word_emb + (size_t)ids[t] * hidden;
            const float *p = pos_emb + (size_t)pos * hidden;
            for (int i = 0; i < hidden; i++) sum[i] = w[i] + p[i] + type_emb[i];
            layernorm_row(out + (size_t)t * hidden, sum, gamma, beta, hidden, eps);
        }
    }
    free(sum);
}

void ep_cpu_linear(float *out, const float *in, const float *weight, const float *bias, int T, int n_in,
                   int n_out) {
    // Start from the bias so that the GEMM accumulates onto it (beta = 1): one pass fewer.
    for (int t = 0; t < T; t++) memcpy(out + (size_t)t * n_out, bias, sizeof(float) * (size_t)n_out);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, n_out, n_in, 1.0f, in, n_in, weight, n_in, 1.0f, out,
                n_out);
}

void ep_cpu_attention(float *out, const float *qkv, const int32_t *seq_start, int n_seqs, int hidden,
                      int n_heads) {
    const int D = hidden / n_heads;
    const size_t stride = 3 * (size_t)hidden; /* one token's q, k, v */
    const float scale = 1.0f / sqrtf((float)D);
    int max_len = 0;
    for (int s = 0; s < n_seqs; s++)
        if (seq_start[s + 1] - seq_start[s] > max_len) max_len = seq_start[s + 1] - seq_start[s];
    float *score = malloc(sizeof(float) * (size_t)(max_len > 0 ? max_len : 1));
    if (!score) abort();
    for (int s = 0; s < n_seqs; s++) {
        const int start = seq_start[s], len = seq_start[s + 1] - start;
        for (int h = 0; h < n_heads; h++) {
            for (int i = 0; i < len; i++) {
                const float *q = qkv + (size_t)(start + i) * stride + h * D;
                float maxv = -INFINITY;
                for (int j = 0; j < len; j++) {
                    const float *k = qkv + (size_t)(start + j) * stride + hidden + h * D;
                    float dot = 0.0f;
                    for (int d = 0; d < D; d++) dot += q[d] * k[d];
                    score[j] = dot * scale;
                    if (score[j] > maxv) maxv = score[j];
                }
                float denom = 0.0f;
                for (int j = 0; j < len; j++) {
                    score[j] = expf(score[j] - maxv);
                    denom += score[j];
                }
                float *o = out + (size_t)(start + i) * hidden + h * D;
                for (int d = 0; d < D; d++) o[d] = 0.0f;
                for (int j = 0; j < len; j++) {
                    const float *v = qkv + (size_t)(start + j) * stride + 2 * hidden + h * D;
                    const float p = score[j] / denom;
                    for (int d = 0; d < D; d++) o[d] += p * v[d];
                }
            }
        }
    }
    free(score);
}

void ep_cpu_residual_layernorm(float *x, const float *residual, const float *gamma, const float *beta, int T,
                               int hidden, float eps) {
    for (int t = 0; t < T; t++) {
        float *row = x + (size_t)t * hidden;
        const float *res = residual + (size_t)t * hidden;
        for (int i = 0; i < hidden; i++) row[i] += res[i];
        layernorm_row(row, row, gamma, beta, hidden, eps);
    }
}

void ep_cpu_gelu(float *x, long n) {
    const float inv_sqrt2 = 0.70710678118654752440f;
    for (long i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * inv_sqrt2));
}

bool ep_cpu_pool_trivial(float *o, const float *x, int start, int len, int hidden, int pooling) {
    if (len == 0) memset(o, 0, sizeof(float) * (size_t)hidden);
    else if (pooling == 1) memcpy(o, x + (size_t)start * hidden, sizeof(float) * (size_t)hidden);
    else return false;
    return true;
}

void ep_cpu_pool_normalize(float *out, const float *x, const int32_t *seq_start, int n_seqs, int hidden,
                           int pooling, int normalize) {
    for (int s = 0; s < n_seqs; s++) {
        float *o = out + (size_t)s * hidden;
        const int start = seq_start[s], len = seq_start[s + 1] - start;
        if (!ep_cpu_pool_trivial(o, x, start, len, hidden, pooling)) {
            for (int i = 0; i < hidden; i++) o[i] = 0.0f;
            for (int t = start; t < start + len; t++)
                for (int i = 0; i < hidden; i++) o[i] += x[(size_t)t * hidden + i];
            for (int i = 0; i < hidden; i++) o[i] /= (float)len;
        }
        if (normalize) {
            double norm = 0.0;
            for (int i = 0; i < hidden; i++) norm += (double)o[i] * o[i];
            // torch.nn.functional.normalize divides by max(norm, 1e-12)
            float inv = 1.0f / fmaxf((float)sqrt(norm), 1e-12f);
            for (int i = 0; i < hidden; i++) o[i] *= inv;
        }
    }
}
