/* kmeans.c - spherical k-means with GEMM assignment; see kmeans.h. */
#include "kmeans.h"

#include "cpu_pool.h"
#include "explore_gemm.h"
#include "settings.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Rows per GEMM of the assignment step. */
#define BLOCK 2048

int ep_kmeans_default_k(uint64_t n_rows) {
    double k = sqrt((double)n_rows / 2.0);
    int ki = (int)(k + 0.5);
    if (ki < 2) ki = 2;
    if (ki > 1000) ki = 1000;
    if ((uint64_t)ki > n_rows) ki = (int)n_rows;
    return ki;
}

void ep_kmeans_free(ep_kmeans_result *r) {
    if (!r) return;
    free(r->centroids);
    free(r->labels);
    free(r->scores);
    memset(r, 0, sizeof *r);
}

/* splitmix64: small, fast, and the same numbers everywhere for a seed. */
static uint64_t next_random(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double uniform(uint64_t *state) { return (double)(next_random(state) >> 11) * (1.0 / 9007199254740992.0); }

static float dot(const float *a, const float *b, int dim) {
    float s = 0.0f;
    for (int i = 0; i < dim; i++) s += a[i] * b[i];
    return s;
}

/* k-means++ on a sample: each next seed is drawn with probability proportional to its squared distance
 * (2 - 2 cos) to the nearest seed so far. */
static ep_status seed_centroids(const float *x, uint64_t n, int dim, int k, uint64_t seed, float *c, ep_error *err) {
    uint64_t m = (uint64_t)k * 64 < 10000 ? 10000 : (uint64_t)k * 64;
    if (m > n) m = n;
    uint64_t *pick = malloc(sizeof(uint64_t) * (size_t)m);
    double *d2 = malloc(sizeof(double) * (size_t)m);
    uint64_t *perm = m < n ? malloc(sizeof(uint64_t) * (size_t)n) : NULL;
    if (!pick || !d2 || (m < n && !perm)) {
        free(pick);
        free(d2);
        free(perm);
        return ep_error_set(err, EP_ERR_NOMEM, "cluster: out of memory seeding");
    }
    uint64_t state = seed;
    if (m < n) {
        // A partial Fisher-Yates shuffle picks m distinct rows.
        for (uint64_t i = 0; i < n; i++) perm[i] = i;
        for (uint64_t i = 0; i < m; i++) {
            uint64_t j = i + next_random(&state) % (n - i);
            uint64_t t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
            pick[i] = perm[i];
        }
    } else {
        for (uint64_t i = 0; i < m; i++) pick[i] = i;
    }
    free(perm);
    uint64_t first = pick[next_random(&state) % m];
    memcpy(c, x + first * (size_t)dim, sizeof(float) * (size_t)dim);
    for (uint64_t i = 0; i < m; i++) {
        double d = 2.0 - 2.0 * dot(x + pick[i] * (size_t)dim, c, dim);
        d2[i] = d > 0 ? d : 0;
    }
    for (int j = 1; j < k; j++) {
        double total = 0;
        for (uint64_t i = 0; i < m; i++) total += d2[i];
        uint64_t chosen = 0;
        if (total > 0) {
            double target = uniform(&state) * total, acc = 0;
            for (chosen = 0; chosen < m - 1; chosen++) {
                acc += d2[chosen];
                if (acc > target && d2[chosen] > 0) break;
            }
        } else {
            chosen = (uint64_t)j % m; /* every sampled row sits on a seed: any will do */
        }
        float *cj = c + (size_t)j * (size_t)dim;
        memcpy(cj, x + pick[chosen] * (size_t)dim, sizeof(float) * (size_t)dim);
        for (uint64_t i = 0; i < m; i++) {
            double d = 2.0 - 2.0 * dot(x + pick[i] * (size_t)dim, cj, dim);
            if (d < 0) d = 0;
            if (d < d2[i]) d2[i] = d;
        }
    }
    free(pick);
    free(d2);
    return EP_OK;
}

typedef struct assign_job {
    const float *x, *c;
    uint64_t n;
    int dim, k, threads;
    int32_t *labels;
    float *scores;
    float **scratch;     /* per thread: BLOCK x k (padded) */
    float **gemm_scratch;/* per thread: the kernel's packed rows */
    const ep_cpu_kernels *kern;
    ep_packed packed;    /* the centroids, packed (k padded with zero rows) */
    const float *zeros;
    double **sums;       /* per thread: k x dim */
    uint64_t **counts;   /* per thread: k */
    uint64_t *changed;   /* per thread */
} assign_job;

/* Thread t takes blocks t, t + T, ...: the same rows every time, so the sums are the same for a thread count. */
static void assign_worker(void *arg, int t) {
    assign_job *job = arg;
    const int dim = job->dim, k = job->k;
    double *sum = job->sums[t];
    uint64_t *count = job->counts[t];
    memset(sum, 0, sizeof(double) * (size_t)k * (size_t)dim);
    memset(count, 0, sizeof(uint64_t) * (size_t)k);
    job->changed[t] = 0;
    float *s = job->scratch[t];
    for (uint64_t b0 = (uint64_t)t * BLOCK; b0 < job->n; b0 += (uint64_t)job->threads * BLOCK) {
        int rows = (int)(job->n - b0 < BLOCK ? job->n - b0 : BLOCK);
        const float *xb = job->x + b0 * (size_t)dim;
        const int ldo = job->packed.n;
        ep_explore_gemm(job->kern, s, ldo, xb, NULL, dim, rows, &job->packed, job->zeros, job->gemm_scratch[t]);
        for (int i = 0; i < rows; i++) {
            const float *si = s + (size_t)i * (size_t)ldo;
            int best = 0;
            for (int j = 1; j < k; j++)
                if (si[j] > si[best]) best = j;
            uint64_t row = b0 + (uint64_t)i;
            if (job->labels[row] != best) job->changed[t]++;
            job->labels[row] = best;
            job->scores[row] = si[best];
            count[best]++;
            double *acc = sum + (size_t)best * (size_t)dim;
            const float *xi = xb + (size_t)i * (size_t)dim;
            for (int d = 0; d < dim; d++) acc[d] += xi[d];
        }
    }
}

/* The assignment job and what the update step sums into, for one run. */
typedef struct kmeans_work {
    assign_job job;
    double *sum;        /* k x dim: the rows of each cluster summed over the threads */
    uint64_t *count;    /* k */
    float *zeros;       /* k padded: the GEMM's bias */
    ep_cpu_pool *pool;
} kmeans_work;

/* Allocates the result (out), the per-thread buffers and the pool. @return EP_OK, EP_ERR_NOMEM, the pool's error. */
static ep_status work_alloc(kmeans_work *w, const float *x, uint64_t n, int dim, int k, int threads,
                            ep_kmeans_result *out, ep_error *err) {
    memset(w, 0, sizeof *w);
    assign_job *job = &w->job;
    *job = (assign_job){.x = x, .n = n, .dim = dim, .k = k, .threads = threads};
    out->centroids = malloc(sizeof(float) * (size_t)k * (size_t)dim);
    out->labels = malloc(sizeof(int32_t) * (size_t)n);
    out->scores = malloc(sizeof(float) * (size_t)n);
    job->kern = ep_explore_kernels();
    const int k_padded = (k + EP_GEMM_PAD - 1) / EP_GEMM_PAD * EP_GEMM_PAD;
    w->zeros = calloc((size_t)k_padded, sizeof(float));
    job->zeros = w->zeros;
    job->gemm_scratch = calloc((size_t)threads, sizeof *job->gemm_scratch);
    job->scratch = calloc((size_t)threads, sizeof *job->scratch);
    job->sums = calloc((size_t)threads, sizeof *job->sums);
    job->counts = calloc((size_t)threads, sizeof *job->counts);
    job->changed = calloc((size_t)threads, sizeof *job->changed);
    w->sum = malloc(sizeof(double) * (size_t)k * (size_t)dim);
    w->count = malloc(sizeof(uint64_t) * (size_t)k);
    bool ok = out->centroids && out->labels && out->scores && job->scratch && job->sums && job->counts &&
              job->changed && w->sum && w->count && w->zeros && job->gemm_scratch;
    for (int t = 0; ok && t < threads; t++)
        ok = (job->scratch[t] = malloc(sizeof(float) * BLOCK * (size_t)k_padded)) &&
             (job->gemm_scratch[t] =
                  ep_aligned_calloc(sizeof(float) * ep_explore_gemm_scratch(job->kern, dim, k_padded))) &&
             (job->sums[t] = malloc(sizeof(double) * (size_t)k * (size_t)dim)) &&
             (job->counts[t] = malloc(sizeof(uint64_t) * (size_t)k));
    ep_status st = ok ? EP_OK : ep_error_set(err, EP_ERR_NOMEM, "cluster: out of memory for k = %d", k);
    if (st == EP_OK) st = ep_cpu_pool_create(threads, &w->pool, err);
    return st;
}

static void work_free(kmeans_work *w) {
    assign_job *job = &w->job;
    ep_cpu_pool_free(w->pool);
    ep_packed_free(&job->packed);
    free(w->zeros);
    for (int t = 0; t < job->threads; t++) {
        if (job->gemm_scratch) free(job->gemm_scratch[t]);
        if (job->scratch) free(job->scratch[t]);
        if (job->sums) free(job->sums[t]);
        if (job->counts) free(job->counts[t]);
    }
    free(job->scratch);
    free(job->gemm_scratch);
    free(job->sums);
    free(job->counts);
    free(job->changed);
    free(w->sum);
    free(w->count);
}

/* The update step: each centroid the normalised sum of its rows (the threads' sums added in thread order); an
 * empty cluster takes the row farthest from its own centroid (lowest cosine, then lowest row). */
static void update_centroids(kmeans_work *w, ep_kmeans_result *out) {
    const assign_job *job = &w->job;
    const int k = job->k, dim = job->dim;
    double *sum = w->sum;
    uint64_t *count = w->count;
    memset(sum, 0, sizeof(double) * (size_t)k * (size_t)dim);
    memset(count, 0, sizeof(uint64_t) * (size_t)k);
    for (int t = 0; t < job->threads; t++) {
        for (size_t i = 0; i < (size_t)k * (size_t)dim; i++) sum[i] += job->sums[t][i];
        for (int j = 0; j < k; j++) count[j] += job->counts[t][j];
    }
    for (int j = 0; j < k; j++) {
        float *cj = out->centroids + (size_t)j * (size_t)dim;
        if (count[j] == 0) {
            uint64_t far = 0;
            for (uint64_t i = 1; i < job->n; i++)
                if (out->scores[i] < out->scores[far]) far = i;
            memcpy(cj, job->x + far * (size_t)dim, sizeof(float) * (size_t)dim);
            out->scores[far] = 2.0f; /* not chosen twice */
            continue;
        }
        double norm = 0;
        for (int d = 0; d < dim; d++) norm += sum[(size_t)j * (size_t)dim + (size_t)d] *
                                             sum[(size_t)j * (size_t)dim + (size_t)d];
        norm = norm > 0 ? 1.0 / sqrt(norm) : 0;
        for (int d = 0; d < dim; d++) cj[d] = (float)(sum[(size_t)j * (size_t)dim + (size_t)d] * norm);
    }
}

/* Assignment and update in turn from the seeded centroids, at most `iterations` updates, until no row
 * changes cluster; then the inertia. */
static ep_status iterate(kmeans_work *w, int iterations, ep_kmeans_result *out, ep_error *err) {
    assign_job *job = &w->job;
    ep_status st = EP_OK;
    for (uint64_t i = 0; i < job->n; i++) out->labels[i] = -1;
    job->c = out->centroids;
    job->labels = out->labels;
    job->scores = out->scores;
    for (int it = 0; it <= iterations && st == EP_OK; it++) {
        ep_packed_free(&job->packed);
        st = ep_explore_pack(job->kern, out->centroids, job->k, job->dim, &job->packed, err);
        if (st != EP_OK) break;
        ep_cpu_pool_run(w->pool, assign_worker, job);
        uint64_t changed = 0;
        for (int t = 0; t < job->threads; t++) changed += job->changed[t];
        if (it == iterations || (it > 0 && changed == 0)) break; /* labels and scores are the final centroids' */
        update_centroids(w, out);
        out->iterations_run = it + 1;
    }
    double inertia = 0;
    for (uint64_t i = 0; i < job->n; i++) inertia += 2.0 - 2.0 * (double)out->scores[i];
    out->inertia = inertia;
    out->k = job->k;
    out->dim = job->dim;
    out->n_rows = job->n;
    return st;
}

ep_status ep_kmeans_run(const float *x, uint64_t n, int dim, const ep_kmeans_options *options, ep_kmeans_result *out,
                        ep_error *err) {
    memset(out, 0, sizeof *out);
    int k = options->k ? options->k : ep_kmeans_default_k(n);
    if (n == 0) return ep_error_set(err, EP_ERR_USAGE, "cluster: the folder holds no rows");
    if (k < 1 || (uint64_t)k > n)
        return ep_error_set(err, EP_ERR_USAGE, "cluster: k must be between 1 and the number of rows (%llu)",
                            (unsigned long long)n);
    const int iterations = options->iterations > 0 ? options->iterations : 25;
    const int threads = options->threads > 0 ? options->threads : ep_default_threads();
    kmeans_work w;
    ep_status st = work_alloc(&w, x, n, dim, k, threads, out, err);
    if (st == EP_OK) st = seed_centroids(x, n, dim, k, options->seed, out->centroids, err);
    if (st == EP_OK) st = iterate(&w, iterations, out, err);
    work_free(&w);
    if (st != EP_OK) ep_kmeans_free(out);
    return st;
}
