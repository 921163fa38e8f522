/* map_graph.c - the fuzzy k-NN graph UMAP optimises over, from an exact neighbour table; see map_layout.h. */
#include "map_layout.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* umap-learn's constants for the smooth k-NN distances. */
enum { SIGMA_STEPS = 64 };
static const double SIGMA_TOLERANCE = 1e-5, MIN_SIGMA_SCALE = 1e-3;

/* rho and sigma of one row (distances d[0..m), ascending), as umap-learn's smooth_knn_dist with
 * local_connectivity 1: rho is the nearest non-zero distance, sigma the bandwidth that makes the
 * memberships sum to target. mean_all is the mean distance over the whole table (for rho = 0). */
static void smooth_row(const double *d, int m, double target, double mean_all, double *rho_out, double *sigma_out) {
    double rho = 0, sum = 0;
    for (int j = 0; j < m; j++) {
        sum += d[j];
        if (d[j] > 0 && rho == 0) rho = d[j];
    }
    double lo = 0, hi = INFINITY, mid = 1;
    for (int step = 0; step < SIGMA_STEPS; step++) {
        double psum = 0;
        for (int j = 0; j < m; j++) {
            double e = d[j] - rho;
            psum += e > 0 ? exp(-e / mid) : 1.0;
        }
        if (fabs(psum - target) < SIGMA_TOLERANCE) break;
        if (psum > target) {
            hi = mid;
            mid = (lo + hi) / 2;
        } else {
            lo = mid;
            mid = isinf(hi) ? mid * 2 : (lo + hi) / 2;
        }
    }
    /* umap-learn's mean includes the row itself (distance 0) as its first neighbour */
    double mean_row = sum / (m + 1);
    if (rho > 0) {
        if (mid < MIN_SIGMA_SCALE * mean_row) mid = MIN_SIGMA_SCALE * mean_row;
    } else if (mid < MIN_SIGMA_SCALE * mean_all) {
        mid = MIN_SIGMA_SCALE * mean_all;
    }
    *rho_out = rho;
    *sigma_out = mid;
}

/* The membership of row i's j-th neighbour in the directed graph, 0 when absent. */
static float directed(const int32_t *rows, const float *w, int k, uint64_t i, uint64_t j) {
    for (int e = 0; e < k; e++)
        if (rows[i * (size_t)k + (size_t)e] == (int32_t)j) return w[i * (size_t)k + (size_t)e];
    return 0;
}

/* Row i's e-th edge in the symmetric union a + b - ab: its column in *j and the reverse membership in
 * *wji. @return the union weight, or 0 when the edge is absent (no neighbour, or weight 0). */
static float union_edge(const int32_t *rows, const float *w, int k, uint64_t i, int e, int32_t *j, float *wji) {
    *j = rows[i * (size_t)k + (size_t)e];
    float wij = w[i * (size_t)k + (size_t)e];
    if (*j < 0 || wij <= 0) return 0;
    *wji = directed(rows, w, k, (uint64_t)*j, i);
    return wij + *wji - wij * *wji;
}

int ep_map_default_epochs(uint64_t n_rows) { return n_rows <= 10000 ? 500 : 200; }

ep_status ep_map_graph_build(const int32_t *rows, const float *scores, uint64_t n, int k, int epochs,
                             ep_map_graph *out, ep_error *err) {
    memset(out, 0, sizeof *out);
    if (k < 1) return ep_error_set(err, EP_ERR_USAGE, "map: the neighbour table needs at least 1 column");
    if (epochs < 1) epochs = ep_map_default_epochs(n);
    for (uint64_t i = 0; i < n * (uint64_t)k; i++)
        if (rows[i] < -1 || rows[i] >= (int64_t)n || rows[i] == (int32_t)(i / (uint64_t)k))
            return ep_error_set(err, EP_ERR_FORMAT,
                                "map: the neighbour table names row %d for row %llu, outside 0..%llu or the row "
                                "itself; run `embedpipe related` again",
                                rows[i], (unsigned long long)(i / (uint64_t)k), (unsigned long long)n - 1);
    float *w = malloc(sizeof(float) * (size_t)(n ? n : 1) * (size_t)k);
    double *d = malloc(sizeof(double) * (size_t)k);
    uint64_t *count = calloc((size_t)n + 1, sizeof(uint64_t));
    if (!w || !d || !count) {
        free(w);
        free(d);
        free(count);
        return ep_error_set(err, EP_ERR_NOMEM, "map: out of memory for the graph of %llu rows",
                            (unsigned long long)n);
    }
    /* cosine distances; the mean over the table stands in for rows whose neighbours are all at 0 */
    double mean_all = 0;
    uint64_t n_valid = 0;
    for (uint64_t i = 0; i < n * (uint64_t)k; i++)
        if (rows[i] >= 0) {
            mean_all += fmax(0.0, 1.0 - (double)scores[i]);
            n_valid++;
        }
    mean_all = n_valid ? mean_all / (double)n_valid : 0;
    const double target = log2((double)k + 1);
    for (uint64_t i = 0; i < n; i++) {
        int m = 0;
        for (int j = 0; j < k && rows[i * (size_t)k + (size_t)j] >= 0; j++)
            d[m++] = fmax(0.0, 1.0 - (double)scores[i * (size_t)k + (size_t)j]);
        double rho, sigma;
        smooth_row(d, m, target, mean_all, &rho, &sigma);
        for (int j = 0; j < k; j++) {
            float v = 0;
            if (j < m) v = d[j] - rho <= 0 || sigma == 0 ? 1.0f : (float)exp(-(d[j] - rho) / sigma);
            w[i * (size_t)k + (size_t)j] = v;
        }
    }
    /* the symmetric union a + b - ab: row i holds its own edges (best first), then the rows that
     * name i without i naming them, in ascending order; the fill below is sequential, so the order
     * (which the optimisation follows) never depends on threads */
    float max_w = 0;
    for (uint64_t i = 0; i < n; i++)
        for (int e = 0; e < k; e++) {
            int32_t j;
            float wji;
            float s = union_edge(rows, w, k, i, e, &j, &wji);
            if (s <= 0) continue;
            if (s > max_w) max_w = s;
            count[i]++;
            if (wji <= 0) count[j]++;
        }
    const float floor_w = max_w / (float)epochs;
    uint64_t total = 0;
    for (uint64_t i = 0; i < n; i++) total += count[i];
    out->offsets = malloc(sizeof(uint64_t) * ((size_t)n + 1));
    out->cols = malloc(sizeof(int32_t) * (size_t)(total ? total : 1));
    out->weights = malloc(sizeof(float) * (size_t)(total ? total : 1));
    uint64_t *fill = calloc((size_t)n + 1, sizeof(uint64_t));
    if (!out->offsets || !out->cols || !out->weights || !fill) {
        free(w);
        free(d);
        free(count);
        free(fill);
        ep_map_graph_free(out);
        return ep_error_set(err, EP_ERR_NOMEM, "map: out of memory for %llu edges", (unsigned long long)total);
    }
    uint64_t at = 0;
    for (uint64_t i = 0; i < n; i++) {
        fill[i] = at;
        at += count[i];
    }
    fill[n] = at;
    /* own edges first: pass 1 writes them at the start of each row, pass 2 appends the reverse ones */
    uint64_t *pos = count; /* reused: the next free slot of each row */
    for (uint64_t i = 0; i < n; i++) pos[i] = fill[i];
    for (uint64_t i = 0; i < n; i++)
        for (int e = 0; e < k; e++) {
            int32_t j;
            float wji;
            float s = union_edge(rows, w, k, i, e, &j, &wji);
            if (s <= 0) continue;
            out->cols[pos[i]] = j;
            out->weights[pos[i]++] = s;
        }
    for (uint64_t j = 0; j < n; j++)
        for (int e = 0; e < k; e++) {
            int32_t i = rows[j * (size_t)k + (size_t)e];
            float wji = w[j * (size_t)k + (size_t)e];
            if (i < 0 || wji <= 0 || directed(rows, w, k, (uint64_t)i, j) > 0) continue;
            out->cols[pos[i]] = (int32_t)j;
            out->weights[pos[i]++] = wji;
        }
    /* drop the edges too weak to be sampled even once in `epochs` (umap-learn does the same) */
    uint64_t kept = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t start = kept;
        for (uint64_t e = fill[i]; e < fill[i + 1]; e++)
            if (out->weights[e] >= floor_w && out->weights[e] > 0) {
                out->cols[kept] = out->cols[e];
                out->weights[kept++] = out->weights[e];
            }
        out->offsets[i] = start;
    }
    out->offsets[n] = kept;
    out->n_rows = n;
    out->n_edges = kept;
    free(w);
    free(d);
    free(count);
    free(fill);
    return EP_OK;
}

void ep_map_graph_free(ep_map_graph *g) {
    if (!g) return;
    free(g->offsets);
    free(g->cols);
    free(g->weights);
    memset(g, 0, sizeof *g);
}
