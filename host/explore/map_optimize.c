/* map_optimize.c - UMAP's layout optimisation, the same for a seed on any number of threads; see map_layout.h. */
#include "map_layout.h"
#include "setting_names.h"

#include "settings.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

uint64_t ep_map_hash(uint64_t seed, uint64_t a, uint64_t b, uint64_t c) {
    /* splitmix64's finaliser over the key, one word at a time */
    uint64_t x = seed;
    const uint64_t words[3] = {a, b, c};
    for (int i = 0; i < 3; i++) {
        x += 0x9E3779B97F4A7C15ULL ^ words[i] * 0xD6E8FEB86659FD93ULL;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
        x ^= x >> 31;
    }
    return x;
}

void ep_map_fit_ab(double spread, double min_dist, double *a_out, double *b_out) {
    enum { N = 300 };
    double xs[N], ys[N];
    for (int i = 0; i < N; i++) {
        xs[i] = 3.0 * spread * i / (N - 1);
        ys[i] = xs[i] < min_dist ? 1.0 : exp(-(xs[i] - min_dist) / spread);
    }
    double a = 1.0, b = 1.0, lambda = 1e-3;
    double cost = 0;
    for (int i = 0; i < N; i++) {
        double r = 1.0 / (1.0 + a * pow(xs[i], 2 * b)) - ys[i];
        cost += r * r;
    }
    for (int iter = 0; iter < 200; iter++) {
        /* normal equations of the Jacobian: J^T J + lambda diag, J^T r */
        double jaa = 0, jab = 0, jbb = 0, ga = 0, gb = 0;
        for (int i = 0; i < N; i++) {
            if (xs[i] <= 0) {
                double r = 1.0 - ys[i];
                (void)r;
                continue; /* f(0) = 1 whatever a and b: no gradient */
            }
            double p = pow(xs[i], 2 * b), q = 1.0 + a * p;
            double r = 1.0 / q - ys[i];
            double da = -p / (q * q), db = -a * p * 2.0 * log(xs[i]) / (q * q);
            jaa += da * da;
            jab += da * db;
            jbb += db * db;
            ga += da * r;
            gb += db * r;
        }
        double m00 = jaa * (1 + lambda), m11 = jbb * (1 + lambda), det = m00 * m11 - jab * jab;
        if (det == 0) break;
        double step_a = -(m11 * ga - jab * gb) / det, step_b = -(m00 * gb - jab * ga) / det;
        double na = a + step_a, nb = b + step_b, ncost = 0;
        for (int i = 0; i < N; i++) {
            double r = 1.0 / (1.0 + na * pow(xs[i], 2 * nb)) - ys[i];
            ncost += r * r;
        }
        if (na > 0 && nb > 0 && ncost < cost) {
            double gain = cost - ncost;
            a = na;
            b = nb;
            cost = ncost;
            lambda *= 0.3;
            if (gain < 1e-15) break;
        } else {
            lambda *= 10;
            if (lambda > 1e12) break;
        }
    }
    *a_out = a;
    *b_out = b;
}

void ep_map_scale_start(float *xy, uint64_t n, uint64_t seed) {
    float big = 0;
    for (uint64_t i = 0; i < 2 * n; i++)
        if (fabsf(xy[i]) > big) big = fabsf(xy[i]);
    float scale = big > 0 ? 10.0f / big : 1.0f;
    for (uint64_t i = 0; i < 2 * n; i++) {
        /* uniform jitter of the normal's scale: only there to part equal points */
        double u = (double)(ep_map_hash(seed, 0x5EED, i, 0) >> 11) * 0x1.0p-53 - 0.5;
        xy[i] = xy[i] * scale + (float)(u * 2e-4);
    }
    for (int d = 0; d < 2; d++) {
        float lo = INFINITY, hi = -INFINITY;
        for (uint64_t i = 0; i < n; i++) {
            lo = fminf(lo, xy[2 * i + d]);
            hi = fmaxf(hi, xy[2 * i + d]);
        }
        float span = hi > lo ? hi - lo : 1.0f;
        for (uint64_t i = 0; i < n; i++) xy[2 * i + d] = 10.0f * (xy[2 * i + d] - lo) / span;
    }
}

typedef struct layout_job {
    const ep_map_graph *g;
    float a, b, gamma;
    int epochs, negative_rate, threads;
    uint64_t seed;
    float *pos[2];               /* positions at the start of the epoch / being written */
    float *next_sample, *next_negative;
    pthread_barrier_t barrier;
    pthread_mutex_t gate_lock;   /* the gate: threads wait until every one is started (go 1) or not (go -1) */
    pthread_cond_t gate;
    int go;
} layout_job;

typedef struct layout_part {
    layout_job *job;
    uint64_t lo, hi;             /* the rows this thread moves */
} layout_part;

/* x^y for x > 0 as 2^(y log2 x), each by a short polynomial: relative error under 4e-5, several
 * times faster than powf, which the optimisation calls once per pull and per negative sample. */
static inline float fast_pow(float x, float y) {
    uint32_t u;
    memcpy(&u, &x, 4);
    int e = (int)((u >> 23) & 0xff) - 127;
    u = (u & 0x007fffffu) | 0x3f800000u; /* mantissa in [1, 2) */
    float m;
    memcpy(&m, &u, 4);
    /* log2(m) on [1, 2): m = (1 + t) / (1 - t), log2 m = 2/ln2 (t + t^3/3 + t^5/5 + t^7/7) */
    float t = (m - 1.0f) / (m + 1.0f), t2 = t * t;
    float lg = (float)e + t * (2.8853900818f + t2 * (0.9617966939f + t2 * (0.5770780164f + t2 * 0.4121985831f)));
    float z = y * lg;
    z = z > 126.0f ? 126.0f : z < -126.0f ? -126.0f : z;
    int zi = (int)(z + 127.0f) - 127; /* floor: z + 127 is positive, so truncation floors it */
    float f = z - (float)zi;
    /* 2^f on [0, 1): its Taylor series to degree 6 */
    float p = 1.0f + f * (0.6931471806f + f * (0.2402265070f + f * (0.0555041087f + f * (0.0096181291f +
              f * (0.0013333558f + f * 0.0001540353f)))));
    uint32_t su = (uint32_t)(zi + 127) << 23;
    float sc;
    memcpy(&sc, &su, 4);
    return p * sc;
}

enum { NEG_CHUNK = 8 };

static inline float clip4(float v) { return v > 4.0f ? 4.0f : v < -4.0f ? -4.0f : v; }

/* The clipped repulsive steps of NEG_CHUNK samples at (rx, ry) on a row at (px, py), umap-learn's
 * negative-sample gradient; keep 0 drops a sample. Branch-free, so that it runs in vector registers
 * (this file is built with -fno-trapping-math, which lets the compiler turn the selects into masks). */
__attribute__((noinline)) /* inlined into the epoch's loop, GCC 12 leaves it scalar */
static void negative_steps(const float *restrict rx, const float *restrict ry, const float *restrict keep, float px,
                           float py, float a, float b, float gamma, float *restrict gx, float *restrict gy) {
    for (int s = 0; s < NEG_CHUNK; s++) {
        float dx = px - rx[s], dy = py - ry[s], d2 = dx * dx + dy * dy;
        float coeff = 2.0f * gamma * b / ((0.001f + d2) * (a * fast_pow(d2 > 1e-30f ? d2 : 1e-30f, b) + 1.0f));
        /* a sample on the row's very spot pushes nothing, as in umap-learn */
        gx[s] = keep[s] * (d2 > 0 ? clip4(coeff * dx) : 0.0f);
        gy[s] = keep[s] * (d2 > 0 ? clip4(coeff * dy) : 0.0f);
    }
}

/* umap-learn's attractive step of a row at p towards q, into step (to add). */
static inline void pull_step(const float *p, const float *q, float a, float b, float alpha, float step[2]) {
    float dx = p[0] - q[0], dy = p[1] - q[1], d2 = dx * dx + dy * dy;
    step[0] = step[1] = 0;
    if (d2 <= 0) return;
    float pb = fast_pow(d2, b); /* d^2b; d^2(b-1) is pb / d2 */
    float coeff = -2.0f * a * b * (pb / d2) / (a * pb + 1.0f);
    step[0] = clip4(coeff * dx) * alpha;
    step[1] = clip4(coeff * dy) * alpha;
}

/* Moves the rows [lo, hi) through one epoch, reading the others as they were at its start. */
static void layout_epoch(layout_job *job, uint64_t lo, uint64_t hi, int epoch, const float *before, float *after) {
    const ep_map_graph *g = job->g;
    const float a = job->a, b = job->b, gamma = job->gamma, n = (float)epoch;
    const float alpha = 1.0f - (float)epoch / (float)job->epochs;
    for (uint64_t i = lo; i < hi; i++) {
        const float *start = before + 2 * i;
        float p[2] = {start[0], start[1]}, step[2];
        /* first the pulls row i gets as the tail of its edges' twins (j, i), which umap-learn makes at
         * row j's turn: here from both rows' positions at the start of the epoch, as no other thread
         * may move row i (the twin of a sampled edge is sampled in the same epoch: same weight) */
        for (uint64_t e = g->offsets[i]; e < g->offsets[i + 1]; e++) {
            if (job->next_sample[e] > n) continue;
            pull_step(start, before + 2 * (size_t)g->cols[e], a, b, alpha, step);
            p[0] += step[0];
            p[1] += step[1];
        }
        /* then its own edges in order: the pull as the edge's head, then its negative samples */
        for (uint64_t e = g->offsets[i]; e < g->offsets[i + 1]; e++) {
            if (job->next_sample[e] > n) continue;
            pull_step(p, before + 2 * (size_t)g->cols[e], a, b, alpha, step);
            p[0] += step[0];
            p[1] += step[1];
            const float per_sample = 1.0f / g->weights[e]; /* weights are scaled so the largest is 1 */
            const float per_negative = per_sample / (float)job->negative_rate;
            int n_neg = (int)((n - job->next_negative[e]) / per_negative);
            /* the key (seed, epoch, edge) hashed once; each sample then one splitmix64 step further.
             * The samples of one edge are all measured from the same position and their steps added
             * together (in sample order): each is small, and independent samples let the compiler
             * work on NEG_CHUNK of them at once in vector registers. */
            uint64_t key = n_neg > 0 ? ep_map_hash(job->seed, (uint64_t)epoch, e, 0) : 0;
            float step_x = 0, step_y = 0;
            for (int s0 = 0; s0 < n_neg; s0 += NEG_CHUNK) {
                float rx[NEG_CHUNK], ry[NEG_CHUNK], keep[NEG_CHUNK], gx[NEG_CHUNK], gy[NEG_CHUNK];
                for (int s = 0; s < NEG_CHUNK; s++) {
                    uint64_t t = i;
                    if (s0 + s < n_neg) {
                        uint64_t h = key + (uint64_t)(s0 + s + 1) * 0x9E3779B97F4A7C15ULL;
                        h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ULL;
                        h = (h ^ (h >> 27)) * 0x94D049BB133111EBULL;
                        h ^= h >> 31;
                        t = ((h >> 32) * g->n_rows) >> 32;
                    }
                    rx[s] = before[2 * t];
                    ry[s] = before[2 * t + 1];
                    keep[s] = t != i ? 1.0f : 0.0f; /* the row itself, or past the last sample */
                }
                negative_steps(rx, ry, keep, p[0], p[1], a, b, gamma, gx, gy);
                for (int s = 0; s < NEG_CHUNK; s++) {
                    step_x += gx[s];
                    step_y += gy[s];
                }
            }
            p[0] += step_x * alpha;
            p[1] += step_y * alpha;
            job->next_negative[e] += (float)n_neg * per_negative;
            job->next_sample[e] += per_sample;
        }
        after[2 * i] = p[0];
        after[2 * i + 1] = p[1];
    }
}

static void *layout_thread(void *arg) {
    layout_part *part = arg;
    layout_job *job = part->job;
    pthread_mutex_lock(&job->gate_lock);
    while (job->go == 0) pthread_cond_wait(&job->gate, &job->gate_lock);
    int go = job->go;
    pthread_mutex_unlock(&job->gate_lock);
    if (go < 0) return NULL;
    for (int epoch = 0; epoch < job->epochs; epoch++) {
        layout_epoch(job, part->lo, part->hi, epoch, job->pos[epoch & 1], job->pos[(epoch + 1) & 1]);
        pthread_barrier_wait(&job->barrier);
    }
    return NULL;
}

ep_status ep_map_optimize(const ep_map_graph *g, const ep_map_options *o, float *xy, ep_error *err) {
    const uint64_t n = g->n_rows;
    int epochs = o->epochs > 0 ? o->epochs : ep_map_default_epochs(n);
    double min_dist = o->min_dist > 0 ? o->min_dist : 0.1, spread = o->spread > 0 ? o->spread : 1.0;
    if (min_dist > spread)
        return ep_error_set(err, EP_ERR_USAGE, "map: %s (%g) must not exceed %s (%g)",
                            ep_setting_name(EP_SETTING_MIN_DIST), min_dist, ep_setting_name(EP_SETTING_SPREAD), spread);
    int threads = o->threads > 0 ? o->threads : ep_default_threads();
    if ((uint64_t)threads > n) threads = n ? (int)n : 1;
    double a, b;
    ep_map_fit_ab(spread, min_dist, &a, &b);
    layout_job job = {.g = g, .a = (float)a, .b = (float)b, .gamma = 1.0f, .epochs = epochs,
                      .negative_rate = o->negative_rate > 0 ? o->negative_rate : 5, .threads = threads,
                      .seed = o->seed};
    float max_w = 0;
    for (uint64_t e = 0; e < g->n_edges; e++) max_w = fmaxf(max_w, g->weights[e]);
    job.pos[0] = xy;
    job.pos[1] = malloc(sizeof(float) * 2 * (size_t)(n ? n : 1));
    job.next_sample = malloc(sizeof(float) * (size_t)(g->n_edges ? g->n_edges : 1));
    job.next_negative = malloc(sizeof(float) * (size_t)(g->n_edges ? g->n_edges : 1));
    float *scaled = malloc(sizeof(float) * (size_t)(g->n_edges ? g->n_edges : 1));
    layout_part *parts = calloc((size_t)threads, sizeof *parts);
    pthread_t *tids = calloc((size_t)threads, sizeof *tids);
    ep_status st = EP_OK;
    if (!job.pos[1] || !job.next_sample || !job.next_negative || !scaled || !parts || !tids)
        st = ep_error_set(err, EP_ERR_NOMEM, "map: out of memory for the layout of %llu rows", (unsigned long long)n);
    if (st == EP_OK && n > 0) {
        /* epochs per sample = max / weight; the graph's weights are rescaled so that the largest is 1 */
        ep_map_graph view = *g;
        for (uint64_t e = 0; e < g->n_edges; e++) {
            scaled[e] = g->weights[e] / max_w;
            job.next_sample[e] = 1.0f / scaled[e];
            job.next_negative[e] = job.next_sample[e] / (float)job.negative_rate;
        }
        view.weights = scaled;
        job.g = &view;
        pthread_barrier_init(&job.barrier, NULL, (unsigned)threads);
        /* rows split so that each thread has about the same number of edges */
        uint64_t row = 0;
        for (int t = 0; t < threads; t++) {
            uint64_t goal = g->n_edges * (uint64_t)(t + 1) / (uint64_t)threads;
            parts[t].job = &job;
            parts[t].lo = row;
            while (row < n && (g->offsets[row + 1] <= goal || t == threads - 1)) row++;
            parts[t].hi = row;
        }
        pthread_mutex_init(&job.gate_lock, NULL);
        pthread_cond_init(&job.gate, NULL);
        int started = 1;
        while (started < threads && pthread_create(&tids[started], NULL, layout_thread, &parts[started]) == 0)
            started++;
        pthread_mutex_lock(&job.gate_lock);
        job.go = started == threads ? 1 : -1; /* a half-started pool would wait at the barrier for ever */
        pthread_cond_broadcast(&job.gate);
        pthread_mutex_unlock(&job.gate_lock);
        if (job.go > 0) layout_thread(&parts[0]);
        for (int t = 1; t < started; t++) pthread_join(tids[t], NULL);
        pthread_barrier_destroy(&job.barrier);
        pthread_mutex_destroy(&job.gate_lock);
        pthread_cond_destroy(&job.gate);
        if (job.go < 0)
            st = ep_error_set(err, EP_ERR_NOMEM, "map: could not start %d threads; try %s %d", threads,
                              ep_setting_name(EP_SETTING_THREADS), started);
        else if (epochs & 1)
            memcpy(xy, job.pos[1], sizeof(float) * 2 * (size_t)n);
    }
    free(job.pos[1]);
    free(job.next_sample);
    free(job.next_negative);
    free(scaled);
    free(parts);
    free(tids);
    return st;
}
