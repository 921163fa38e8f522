/*
 * map_view.h - what a picture of the map shows: every row's position and, when the folder has them,
 * its cluster (from `cluster`), the clusters' top words, the kept text, date and author, and the
 * row's nearest neighbours (from `related`). Shared by the HTML page (map_html.h) and the PNG
 * (map_png.h); filled from an output folder by ep_map_view_load.
 */
#ifndef EP_MAP_VIEW_H
#define EP_MAP_VIEW_H

#include "embedpipe.h"
#include "manifest.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ep_map_view {
    uint64_t n_rows;
    float *xy;               /* n_rows x 2 (borrowed by ep_map_view_load; never freed by it) */
    int32_t *labels;         /* n_rows cluster ids, or NULL (no `cluster` run) */
    int n_clusters;
    char **cluster_names;    /* n_clusters: the top words joined by spaces ("" when none) */
    uint64_t *cluster_sizes; /* n_clusters */
    char **texts;            /* n_rows each, or NULL when the folder keeps no text; entries may be NULL */
    char **dates;            /* from the kept fields (created_at, date, ...), or NULL */
    char **authors;          /* from the kept fields (user.screen_name, author, ...), or NULL */
    char **ids;              /* the record ids, or NULL */
    int32_t *neighbours;     /* n_rows x n_neighbours (best first, -1 none), or NULL */
    int n_neighbours;
    char title[256];
} ep_map_view;

/* Fills *v for the run m in dir, with xy (n_rows x 2) as the positions: the clusters when
 * derived.json lists cluster-labels.npy.zst (their words from cluster-report.json), the
 * neighbours (the first max_neighbours columns) when it lists related-rows.npy.zst, and the
 * texts, dates, authors and ids the shards keep.
 * @return EP_OK; the reader's errors; EP_ERR_MISMATCH for a derived file of another run; EP_ERR_NOMEM. */
ep_status ep_map_view_load(const char *dir, const ep_manifest *m, float *xy, int max_neighbours, ep_map_view *v,
                           ep_error *err);

/* Frees what ep_map_view_load allocated (not xy) and clears v. Accepts NULL. */
void ep_map_view_free(ep_map_view *v);

/* Each cluster's label position: the mean of its rows' positions (n_clusters x 2; a cluster with
 * no rows gets NaN). @return a malloc'd array, or NULL when out of memory or without clusters. */
float *ep_map_view_centres(const ep_map_view *v);

/* The colour of cluster c (0xRRGGBB), the same in the page and the PNG: 20 distinct hues, then repeated. */
uint32_t ep_map_colour(int c);

#ifdef __cplusplus
}
#endif

#endif /* EP_MAP_VIEW_H */
