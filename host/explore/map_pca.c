/* map_pca.c - the first two principal components of the rows: `map --method pca` and UMAP's start; see map_layout.h. */
#include "map_layout.h"

#include "float16.h"
#include "output_reader.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void openblas_set_num_threads(int num_threads);

enum { DEFAULT_SAMPLE = 20000, POWER_STEPS = 300 };

/* The sampled row of index s of n when `sample` are taken, evenly spaced. */
static uint64_t sample_row(uint64_t s, uint64_t n, uint64_t sample) { return s * n / sample; }

/* Unit length and the largest entry positive, so the axes do not flip from run to run. */
static void orient(float *v, int dim) {
    double norm = 0;
    int big = 0;
    for (int d = 0; d < dim; d++) {
        norm += (double)v[d] * v[d];
        if (fabsf(v[d]) > fabsf(v[big])) big = d;
    }
    float s = (float)(norm > 0 ? 1.0 / sqrt(norm) : 0.0) * (v[big] < 0 ? -1.0f : 1.0f);
    for (int d = 0; d < dim; d++) v[d] *= s;
}

ep_status ep_map_pca_fit(const float *x, uint64_t n, int dim, uint64_t sample, float *mean, float *axes,
                         ep_error *err) {
    if (sample == 0) sample = DEFAULT_SAMPLE;
    if (sample > n) sample = n;
    float *c = malloc(sizeof(float) * (size_t)dim * (size_t)dim);
    float *centred = malloc(sizeof(float) * (size_t)(sample ? sample : 1) * (size_t)dim);
    double *sum = calloc((size_t)dim, sizeof(double));
    float *w = malloc(sizeof(float) * 2 * (size_t)dim);
    if (!c || !centred || !sum || !w) {
        free(c);
        free(centred);
        free(sum);
        free(w);
        return ep_error_set(err, EP_ERR_NOMEM, "map: out of memory for the principal components");
    }
    for (uint64_t s = 0; s < sample; s++)
        for (int d = 0; d < dim; d++) sum[d] += x[sample_row(s, n, sample) * (size_t)dim + (size_t)d];
    for (int d = 0; d < dim; d++) mean[d] = sample ? (float)(sum[d] / (double)sample) : 0.0f;
    for (uint64_t s = 0; s < sample; s++)
        for (int d = 0; d < dim; d++)
            centred[s * (size_t)dim + (size_t)d] = x[sample_row(s, n, sample) * (size_t)dim + (size_t)d] - mean[d];
    /* one thread: the same sums in the same order on every machine size */
    openblas_set_num_threads(1);
    memset(c, 0, sizeof(float) * (size_t)dim * (size_t)dim);
    if (sample)
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, dim, (int)sample, 1.0f, centred, dim, 0.0f, c, dim);
    for (int i = 0; i < dim; i++)
        for (int j = 0; j < i; j++) c[i * dim + j] = c[j * dim + i];
    /* subspace iteration for the top two eigenvectors of the covariance, from a fixed start */
    for (int d = 0; d < dim; d++) {
        axes[d] = 1.0f;
        axes[dim + d] = (d & 1) ? 1.0f : -1.0f + (float)d / (float)dim;
    }
    for (int step = 0; step < POWER_STEPS; step++) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, 2, dim, dim, 1.0f, axes, dim, c, dim, 0.0f, w, dim);
        /* Gram-Schmidt */
        double n0 = 0, dot = 0, n1 = 0;
        for (int d = 0; d < dim; d++) n0 += (double)w[d] * w[d];
        n0 = n0 > 0 ? sqrt(n0) : 1;
        for (int d = 0; d < dim; d++) w[d] = (float)(w[d] / n0);
        for (int d = 0; d < dim; d++) dot += (double)w[d] * w[dim + d];
        for (int d = 0; d < dim; d++) w[dim + d] -= (float)dot * w[d];
        for (int d = 0; d < dim; d++) n1 += (double)w[dim + d] * w[dim + d];
        n1 = n1 > 0 ? sqrt(n1) : 1;
        for (int d = 0; d < dim; d++) w[dim + d] = (float)(w[dim + d] / n1);
        memcpy(axes, w, sizeof(float) * 2 * (size_t)dim);
    }
    orient(axes, dim);
    orient(axes + dim, dim);
    free(c);
    free(centred);
    free(sum);
    free(w);
    return EP_OK;
}

void ep_map_pca_project(const float *x, uint64_t n, int dim, const float *mean, const float *axes, float *xy) {
    for (uint64_t i = 0; i < n; i++) {
        double p0 = 0, p1 = 0;
        for (int d = 0; d < dim; d++) {
            double v = (double)x[i * (size_t)dim + (size_t)d] - mean[d];
            p0 += v * axes[d];
            p1 += v * axes[dim + d];
        }
        xy[2 * i] = (float)p0;
        xy[2 * i + 1] = (float)p1;
    }
}

ep_status ep_map_pca_folder(const char *dir, uint64_t n, int dim, float *xy, ep_error *err) {
    ep_output_reader *r = NULL;
    ep_status st = ep_output_open(dir, &r, err);
    if (st != EP_OK) return st;
    const ep_manifest *m = ep_output_manifest(r);
    uint64_t sample = n < DEFAULT_SAMPLE ? n : DEFAULT_SAMPLE, taken = 0;
    float *picked = malloc(sizeof(float) * (size_t)(sample ? sample : 1) * (size_t)dim);
    float *mean = malloc(sizeof(float) * (size_t)dim), *axes = malloc(sizeof(float) * 2 * (size_t)dim);
    float *row = malloc(sizeof(float) * (size_t)dim);
    if (!picked || !mean || !axes || !row)
        st = ep_error_set(err, EP_ERR_NOMEM, "map: out of memory for the principal components");
    /* pass 1: the evenly spaced sample; pass 2: every row projected. One shard in memory at a time. */
    for (int pass = 0; pass < 2 && st == EP_OK; pass++) {
        if (pass == 1) st = ep_map_pca_fit(picked, taken, dim, taken, mean, axes, err);
        for (size_t s = 0; s < m->n_shards && st == EP_OK; s++) {
            const ep_shard_info *info = &m->shards[s];
            if (info->first_row >= n) break;
            ep_output_shard shard;
            st = ep_output_read_shard(r, s, EP_OUTPUT_VECTORS, &shard, err);
            for (uint64_t i = 0; st == EP_OK && i < info->rows && info->first_row + i < n; i++) {
                uint64_t g = info->first_row + i;
                const uint16_t *src = shard.rows + i * (size_t)dim;
                if (pass == 0) {
                    if (taken < sample && sample_row(taken, n, sample) == g) {
                        for (int d = 0; d < dim; d++) picked[taken * (size_t)dim + (size_t)d] = ep_f16_to_f32(src[d]);
                        taken++;
                    }
                } else {
                    for (int d = 0; d < dim; d++) row[d] = ep_f16_to_f32(src[d]);
                    ep_map_pca_project(row, 1, dim, mean, axes, xy + 2 * g);
                }
            }
            ep_output_shard_free(&shard);
        }
    }
    free(picked);
    free(mean);
    free(axes);
    free(row);
    ep_output_close(r);
    return st;
}
