/*
 * map_layout.h - a 2D layout of every row of an output folder, for `embedpipe map`.
 *
 * The default is UMAP's method (McInnes, Healy & Melville 2018, as umap-learn computes it), built
 * on the exact neighbour table of `related`:
 *   1. the fuzzy k-NN graph: per row, rho (distance to the nearest other row) and sigma (binary
 *      search so that the memberships exp(-(d - rho) / sigma) sum to log2(k + 1)), then the
 *      symmetric union a + b - ab; edges weaker than max / epochs are dropped (ep_map_graph_build);
 *   2. the start: the spectral layout of the graph (ep_map_spectral_start, umap-learn's default) or the
 *      rows' first two principal components (ep_map_pca_*), scaled into [0, 10] (ep_map_scale_start);
 *   3. the optimisation: each edge is sampled every max / weight epochs, pulling its ends together
 *      with the low-dimensional curve 1 / (1 + a d^2b) (a, b fitted to min_dist, spread) and pushing
 *      the head away from `negative_rate` random rows; gradients clipped at 4, the learning rate
 *      falls linearly to 0 (ep_map_optimize).
 * Unlike umap-learn's parallel mode (Hogwild: threads race on shared positions) the result does not
 * depend on the thread count: in an epoch each thread owns a range of rows and moves only those,
 * reading the other rows' positions as the previous epoch left them, and the negative samples come
 * from a counter-based generator keyed by (seed, epoch, edge, sample). umap-learn also moves an
 * edge's tail (row j pulls row i at j's turn); here those pulls are made first in row i's turn,
 * from both rows' positions at the start of the epoch, then i's own edges in order.
 *
 * Memory: the graph (at most 2 k edges per row: column, weight and two sampling clocks) and two
 * copies of the positions; no rows x rows array anywhere.
 */
#ifndef EP_MAP_LAYOUT_H
#define EP_MAP_LAYOUT_H

#include "embedpipe.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The symmetric fuzzy graph in compressed rows: row i's edges are cols/weights[offsets[i] .. offsets[i+1]). */
typedef struct ep_map_graph {
    uint64_t n_rows;
    uint64_t n_edges;
    uint64_t *offsets;   /* n_rows + 1 */
    int32_t *cols;
    float *weights;      /* in (0, 1] */
} ep_map_graph;

/* Builds the graph from a neighbour table (n_rows x k, best first, -1 for none; scores are cosines,
 * so distances are 1 - score). Edges below max weight / epochs are dropped, as umap-learn does.
 * @return EP_OK and *out filled (free with ep_map_graph_free); EP_ERR_USAGE for k < 1;
 *         EP_ERR_FORMAT for a neighbour index out of range; EP_ERR_NOMEM. */
ep_status ep_map_graph_build(const int32_t *rows, const float *scores, uint64_t n_rows, int k, int epochs,
                             ep_map_graph *out, ep_error *err);

/* Frees the arrays of g (and clears it). Accepts NULL. */
void ep_map_graph_free(ep_map_graph *g);

/* The default number of epochs for n rows (umap-learn's: 500 up to 10,000 rows, else 200). @return it. */
int ep_map_default_epochs(uint64_t n_rows);

/* Fits a and b of 1 / (1 + a x^2b) to the curve that is 1 up to min_dist and exp(-(x - min_dist) /
 * spread) after it, on 300 points of [0, 3 spread] (least squares, Levenberg-Marquardt).
 * For min_dist 0.1 and spread 1: a = 1.577, b = 0.895. */
void ep_map_fit_ab(double spread, double min_dist, double *a, double *b);

typedef struct ep_map_options {
    int epochs;          /* 0 = ep_map_default_epochs */
    double min_dist;     /* 0 = 0.1 */
    double spread;       /* 0 = 1.0 */
    int negative_rate;   /* negative samples per positive one; 0 = 5 */
    uint64_t seed;
    int threads;         /* 0 = ep_default_threads() */
} ep_map_options;

/* Optimises the layout xy (n_rows x 2: in, the start; out, the layout) over the graph.
 * @return EP_OK; EP_ERR_USAGE for bad options; EP_ERR_NOMEM. */
ep_status ep_map_optimize(const ep_map_graph *g, const ep_map_options *o, float *xy, ep_error *err);

/* The first two principal components of rows x (n x dim): mean (dim) and axes (2 x dim, unit length,
 * each with its largest entry positive). Uses at most `sample` rows, evenly spaced (0 = 20,000).
 * @return EP_OK, EP_ERR_NOMEM. */
ep_status ep_map_pca_fit(const float *x, uint64_t n, int dim, uint64_t sample, float *mean, float *axes,
                         ep_error *err);

/* xy[i] = ((x[i] - mean) . axes[0], (x[i] - mean) . axes[1]) for n rows. */
void ep_map_pca_project(const float *x, uint64_t n, int dim, const float *mean, const float *axes, float *xy);

/* The PCA layout of every row of the output folder dir, read in blocks (two passes: a sample of
 * at most 20,000 rows for the axes, then every row projected). xy gets n_rows x 2.
 * @return EP_OK, the reader's errors, EP_ERR_NOMEM. */
ep_status ep_map_pca_folder(const char *dir, uint64_t n_rows, int dim, float *xy, ep_error *err);

/* Scales a layout as umap-learn scales its start: the largest |coordinate| becomes 10, a tiny
 * deterministic jitter (1e-4, from seed) separates equal points, then each axis is mapped onto [0, 10]. */
void ep_map_scale_start(float *xy, uint64_t n, uint64_t seed);

typedef struct ep_map_spectral_options {
    int threads;         /* 0 = ep_default_threads() */
    int max_products;    /* products of the graph with the block, per component, before giving up; 0 = 1500 */
    double tolerance;    /* |A v - value v| (v of unit length) at which an eigenvector counts as found; 0 = 1e-4 */
} ep_map_spectral_options;

/* One component's solve. */
typedef struct ep_map_eigen {
    double values[2];    /* the two largest eigenvalues of A = D^-1/2 W D^-1/2 below the trivial 1, descending */
    double residual;     /* the larger of their |A v - value v| */
    int products;        /* products of the graph with the block of 8 vectors */
    bool converged;      /* residual <= tolerance within max_products */
} ep_map_eigen;

/* The eigenvectors of the two largest non-trivial eigenvalues of A = D^-1/2 W D^-1/2 (W: g's weights,
 * D: their row sums) of a connected graph; equivalently the two smallest non-trivial ones of the
 * normalised Laplacian I - A. vectors (n_rows x 2, row i its entries in the two) get unit-length
 * vectors orthogonal to the trivial one (sqrt of the degrees), each with its largest entry positive.
 * The same bits for any thread count. Memory: two blocks of n_rows x 8 doubles.
 * @return EP_OK with *out filled (see out->converged: without it the vectors are only approximate);
 *         EP_ERR_USAGE for fewer than 4 rows or a graph that is not connected; EP_ERR_NOMEM. */
ep_status ep_map_spectral_eigen(const ep_map_graph *g, const ep_map_spectral_options *o, double *vectors,
                                ep_map_eigen *out, ep_error *err);

/* What ep_map_spectral_start did. */
typedef struct ep_map_start_report {
    uint64_t components;       /* connected components of the graph */
    uint64_t largest;          /* rows of the largest */
    uint64_t spectral_rows;    /* rows placed by their component's eigenvectors */
    uint64_t small_rows;       /* rows in components of fewer than 4 rows: left at their PCA place */
    uint64_t unconverged;      /* components whose eigenvectors did not converge: left at their PCA place */
    uint64_t unconverged_rows; /* their rows */
    ep_map_eigen largest_solve; /* the largest component's solve */
} ep_map_start_report;

/* UMAP's spectral start (umap-learn's default), computed on the sparse graph: for each connected component
 * of at least 4 rows, the two eigenvectors of ep_map_spectral_eigen on that component, centred on the
 * component's mean PCA position and scaled to its PCA positions' mean square spread. xy (n_rows x 2)
 * holds the PCA layout on entry (ep_map_pca_*) and the start on return; rows of smaller components and
 * of components whose solve did not converge keep their PCA positions (the report counts them). Scale
 * the result with ep_map_scale_start. umap-learn instead places components by a spectral layout of their
 * centroids and random positions for components of fewer than 4 rows, and falls back to a random start
 * when its solver fails. The same bits for any thread count.
 * @return EP_OK and *rep filled; EP_ERR_NOMEM. */
ep_status ep_map_spectral_start(const ep_map_graph *g, const ep_map_spectral_options *o, float *xy,
                                ep_map_start_report *rep, ep_error *err);

/* A counter-based random 64-bit value for (seed, a, b, c): the same for the same key on any thread. */
uint64_t ep_map_hash(uint64_t seed, uint64_t a, uint64_t b, uint64_t c);

#ifdef __cplusplus
}
#endif

#endif /* EP_MAP_LAYOUT_H */
