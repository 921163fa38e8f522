/*
 * kmeans.h - spherical k-means over unit-length rows: k-means++ seeding (on a
 * sample of at least 64 rows per cluster), assignment by a GEMM of the rows
 * with the centroids (the highest cosine wins, ties to the lower cluster),
 * centroids as the normalised mean of their rows; an empty cluster takes the
 * row farthest from its centroid. Deterministic for a seed and a thread count.
 */
#ifndef EP_KMEANS_H
#define EP_KMEANS_H

#include "embedpipe.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ep_kmeans_options {
    int k;               /* clusters, 1..n_rows; 0 = ep_kmeans_default_k */
    int iterations;      /* at most this many updates; 0 = 25 */
    uint64_t seed;       /* the seeding's random numbers */
    int threads;         /* 0 = ep_default_threads() */
} ep_kmeans_options;

typedef struct ep_kmeans_result {
    int k, dim;
    uint64_t n_rows;
    float *centroids;    /* k x dim, unit length */
    int32_t *labels;     /* n_rows */
    float *scores;       /* n_rows: cosine to its centroid */
    double inertia;      /* sum of squared distances to the centroids: sum(2 - 2 cos) */
    int iterations_run;  /* updates done (fewer when the labels stopped changing) */
} ep_kmeans_result;

/* @return the k used when none is asked for: sqrt(n/2), between 2 and 1000, at most n. */
int ep_kmeans_default_k(uint64_t n_rows);

/* Clusters x (n x dim floats, unit rows).
 * @return EP_OK and *out (free with ep_kmeans_free); EP_ERR_USAGE for a bad k; EP_ERR_NOMEM. */
ep_status ep_kmeans_run(const float *x, uint64_t n, int dim, const ep_kmeans_options *options, ep_kmeans_result *out,
                        ep_error *err);

/* Frees the arrays of r (and clears it). Accepts NULL. */
void ep_kmeans_free(ep_kmeans_result *r);

#ifdef __cplusplus
}
#endif

#endif /* EP_KMEANS_H */
