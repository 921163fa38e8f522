/*
 * cluster_report.h - what `embedpipe cluster` says about its clusters: per
 * cluster (largest first) its size and share, mean cosine to the centroid, its
 * most distinctive words (when the folder keeps texts) and the rows nearest
 * to its centroid; whether the sizes are very uneven, with a k to try.
 * Written as JSON (cluster-report.json) and as a plain-text summary.
 */
#ifndef EP_CLUSTER_REPORT_H
#define EP_CLUSTER_REPORT_H

#include "embedpipe.h"
#include "kmeans.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ep_cluster_report_input {
    const ep_kmeans_result *km;
    const char *const *texts;   /* n_rows, entries may be NULL; NULL when the folder keeps no text */
    const char *const *ids;     /* n_rows record ids, or NULL */
    const char *const *shown;   /* n_rows texts to show for the nearest rows when texts is NULL (e.g. read
                                 * again from the inputs for those rows only), or NULL */
    uint64_t seed;
    int nearest;                /* rows shown per cluster */
    int words;                  /* words per cluster */
} ep_cluster_report_input;

/* Builds the report. *json and *summary get malloc'd texts (summary: the
 * terminal version, at most `show` clusters, 0 = all).
 * @return EP_OK, EP_ERR_NOMEM. */
ep_status ep_cluster_report(const ep_cluster_report_input *in, int show, char **json, char **summary, ep_error *err);

/* The `nearest` rows of each cluster nearest its centroid (highest cosine, then lowest row):
 * rows[c * nearest + i], -1 (as UINT64_MAX) where a cluster has fewer.
 * @return EP_OK and *rows (malloc'd, k * nearest), EP_ERR_NOMEM. */
ep_status ep_cluster_nearest(const ep_kmeans_result *km, int nearest, uint64_t **rows, ep_error *err);

/* Whether sizes are very uneven: the largest cluster holds more than 5x the
 * mean, or more than a quarter of the clusters hold under a tenth of it.
 * @return a suggested k (differs from k) when uneven, else 0. */
int ep_cluster_suggest_k(const uint64_t *sizes, int k, uint64_t n_rows);

#ifdef __cplusplus
}
#endif

#endif /* EP_CLUSTER_REPORT_H */
