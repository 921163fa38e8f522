/*
 * search.h - exact nearest-neighbour search over an output folder: the dot
 * product of a query vector with every row (rows are L2-normalised, so this
 * is the cosine similarity), keeping the k best.
 */
#ifndef EP_SEARCH_H
#define EP_SEARCH_H

#include "embedpipe.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ep_search_hit {
    uint64_t row;   /* global row index in the output folder */
    float score;    /* dot product with the query */
} ep_search_hit;

/* Scans every shard of dir (as listed in its manifest) for the k rows most
 * similar to query (dim floats). hits must hold k entries; *n_hits gets
 * min(k, rows). Hits are sorted best first.
 * @return EP_OK; EP_ERR_USAGE when dim differs from the folder's; shard errors. */
ep_status ep_search_folder(const char *dir, const float *query, int dim, int k, ep_search_hit *hits, int *n_hits,
                           ep_error *err);

/* Fetches the texts of the given rows by reading the folder's inputs again in
 * the same order and with the same options (rows are the good records, in
 * input order). texts[i] receives a malloc'd copy (NULL when not found).
 * @return EP_OK, or an error opening an input (moved or deleted since). */
ep_status ep_search_fetch_texts(const char *dir, const uint64_t *rows, int n, char **texts, char **ids,
                                ep_error *err);

#ifdef __cplusplus
}
#endif

#endif /* EP_SEARCH_H */
