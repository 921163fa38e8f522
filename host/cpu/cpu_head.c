/* cpu_head.c - every pooling mode, then Dense, truncation and normalisation, in plain C (cpu_head.h). */
#include "cpu_head.h"

#include <math.h>
#include <string.h>

// ----------------------------------------------------------------------------
// Pooling

/* One mode over the kept tokens [k0, end) of a sequence starting at `start` (k0 == end: none kept). */
static void pool_mode(float *o, const float *x, int start, int k0, int end, int hidden, ep_pooling mode) {
    const size_t H = (size_t)hidden;
    const int kept = end - k0;
    memset(o, 0, sizeof(float) * H);
    switch (mode) {
    case EP_POOLING_CLS: /* with nothing kept, sentence-transformers' argmax over an all-zero mask is token 0 */
        memcpy(o, x + (size_t)(kept > 0 ? k0 : start) * H, sizeof(float) * H);
        return;
    case EP_POOLING_LAST:
        if (kept > 0) memcpy(o, x + (size_t)(end - 1) * H, sizeof(float) * H);
        return;
    case EP_POOLING_MAX:
        if (kept > 0) memcpy(o, x + (size_t)k0 * H, sizeof(float) * H);
        for (int t = k0 + 1; t < end; t++)
            for (size_t i = 0; i < H; i++) o[i] = fmaxf(o[i], x[(size_t)t * H + i]);
        return;
    case EP_POOLING_MEAN:
    case EP_POOLING_MEAN_SQRT_LEN:
        for (int t = k0; t < end; t++)
            for (size_t i = 0; i < H; i++) o[i] += x[(size_t)t * H + i];
        if (kept > 0) {
            const float d = mode == EP_POOLING_MEAN ? (float)kept : sqrtf((float)kept);
            for (size_t i = 0; i < H; i++) o[i] /= d;
        }
        return;
    case EP_POOLING_WEIGHTED_MEAN: { /* token t of the sequence weighs t + 1, kept or not before it */
        float wsum = 0.0f;
        for (int t = k0; t < end; t++) {
            const float w = (float)(t - start + 1);
            wsum += w;
            for (size_t i = 0; i < H; i++) o[i] += w * x[(size_t)t * H + i];
        }
        if (kept > 0)
            for (size_t i = 0; i < H; i++) o[i] /= wsum;
        return;
    }
    }
}

void ep_cpu_pooling(float *out, const float *x, const int32_t *seq_start, int n_seqs, int hidden, const ep_pooling *modes,
                 int n_modes, int skip) {
    const size_t width = (size_t)n_modes * (size_t)hidden;
    for (int s = 0; s < n_seqs; s++) {
        const int start = seq_start[s], end = seq_start[s + 1];
        const int k0 = skip < end - start ? start + skip : end;
        for (int m = 0; m < n_modes; m++)
            pool_mode(out + (size_t)s * width + (size_t)m * hidden, x, start, k0, end, hidden, modes[m]);
    }
}

// ----------------------------------------------------------------------------
// The head

void ep_cpu_activation(float *y, size_t n, ep_activation act) {
    const float inv_sqrt2 = 0.70710678118654752440f;
    for (size_t i = 0; i < n; i++) {
        const float v = y[i];
        switch (act) {
        case EP_ACTIVATION_IDENTITY: break;
        case EP_ACTIVATION_TANH: y[i] = tanhf(v); break;
        case EP_ACTIVATION_RELU: y[i] = v > 0.0f ? v : 0.0f; break;
        case EP_ACTIVATION_GELU: y[i] = 0.5f * v * (1.0f + erff(v * inv_sqrt2)); break;
        case EP_ACTIVATION_SIGMOID: y[i] = 1.0f / (1.0f + expf(-v)); break;
        case EP_ACTIVATION_SILU: y[i] = v / (1.0f + expf(-v)); break;
        }
    }
}

/* y[o] = bias[o] + W[o] . x, eight running sums per row in a fixed order (so the compiler may use
 * vectors, and the result does not depend on anything but the row). */
static void dense_row(float *y, const float *x, const float *w, const float *bias, int in, int out) {
    for (int o = 0; o < out; o++) {
        const float *row = w + (size_t)o * (size_t)in;
        float acc[8] = {0};
        int i = 0;
        for (; i + 8 <= in; i += 8)
            for (int k = 0; k < 8; k++) acc[k] += row[i + k] * x[i + k];
        float sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
        for (; i < in; i++) sum += row[i] * x[i];
        y[o] = bias ? sum + bias[o] : sum;
    }
}

static int widest(const ep_model *m) {
    int w = ep_model_pooled_dim(&m->config);
    for (int i = 0; i < m->config.n_dense; i++)
        if (m->config.dense[i].out > w) w = m->config.dense[i].out;
    return w;
}

size_t ep_cpu_head_scratch(const ep_model *m) { return 2 * (size_t)widest(m); }

void ep_cpu_head(float *out, const float *pooled, int n, const ep_model *m, float *scratch) {
    const ep_model_config *c = &m->config;
    const size_t P = (size_t)ep_model_pooled_dim(c), D = (size_t)ep_model_output_dim(m), W = (size_t)widest(m);
    const bool normalize = ep_model_normalizes(m);
    for (int r = 0; r < n; r++) {
        const float *x = pooled + (size_t)r * P;
        for (int i = 0; i < c->n_dense; i++) {
            float *y = scratch + (size_t)(i % 2) * W;
            dense_row(y, x, m->dense[i].weight, m->dense[i].bias, c->dense[i].in, c->dense[i].out);
            ep_cpu_activation(y, (size_t)c->dense[i].out, c->dense[i].act);
            x = y;
        }
        float *o = out + (size_t)r * D;
        memmove(o, x, sizeof(float) * D); /* the first D values: Matryoshka truncation */
        if (!normalize) continue;
        double norm = 0.0;
        for (size_t i = 0; i < D; i++) norm += (double)o[i] * o[i];
        const float inv = 1.0f / fmaxf((float)sqrt(norm), 1e-12f); /* torch.nn.functional.normalize */
        for (size_t i = 0; i < D; i++) o[i] *= inv;
    }
}
