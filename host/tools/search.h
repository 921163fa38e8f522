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

/* Scans every shard of dir (through the checked output reader: each shard's
 * SHA-256, place and shape against the manifest) for the k rows most similar
 * to query (dim floats). hits must hold k entries; *n_hits gets min(k, rows).
 * Hits are sorted best first.
 * @return EP_OK; EP_ERR_USAGE when dim differs from the folder's; EP_ERR_MISMATCH
 *         naming a shard that is not the one the manifest lists; shard errors. */
ep_status ep_search_folder(const char *dir, const float *query, int dim, int k, ep_search_hit *hits, int *n_hits,
                           ep_error *err);

/* Fetches the ids and texts of the given rows. ids[i] comes from the folder's
 * (checked) ids files, and so does texts[i] when the run stored its texts (the
 * default; the inputs are then not needed at all). Otherwise (--no-text, or a
 * folder of an older version) texts[i] is read again from the input the run recorded
 * (its absolute path in manifest.json), and only when that file still has the
 * size and modification time the run recorded and the record at the recorded
 * line has the recorded text hash; otherwise texts[i] stays NULL and *why gets
 * a malloc'd sentence saying why (the first reason only; NULL when every text
 * was found). Both arrays get malloc'd copies.
 * @return EP_OK (also when texts are missing); EP_ERR_MISMATCH / EP_ERR_IO /
 *         EP_ERR_FORMAT when the folder itself cannot be read. */
ep_status ep_search_fetch_texts(const char *dir, const uint64_t *rows, int n, char **texts, char **ids, char **why,
                                ep_error *err);

#ifdef __cplusplus
}
#endif

#endif /* EP_SEARCH_H */
