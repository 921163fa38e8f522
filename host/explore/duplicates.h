/*
 * duplicates.h - groups of near-identical rows: the connected components of the
 * graph whose edges are the neighbour pairs (related) scoring at least a
 * threshold; and groups of exactly equal texts, from the per-row text hash.
 */
#ifndef EP_DUPLICATES_H
#define EP_DUPLICATES_H

#include "embedpipe.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Groups of rows, largest first (equal sizes: smallest first row first); each
 * group's rows are ascending in rows[start .. start + size). */
typedef struct ep_groups {
    uint64_t *rows;        /* every grouped row */
    uint64_t *start;       /* n_groups offsets into rows */
    uint64_t *size;        /* n_groups sizes (each >= 2) */
    float *min_score;      /* n_groups: the lowest edge score that joined the group (1 for exact groups) */
    size_t n_groups;
    uint64_t n_grouped;    /* rows in some group */
} ep_groups;

/* Components over the edges (i, nb_rows[i*k+e]) with nb_scores >= threshold.
 * @return EP_OK and *out (free with ep_groups_free), EP_ERR_NOMEM. */
ep_status ep_groups_from_neighbours(const int32_t *nb_rows, const float *nb_scores, uint64_t n_rows, int k,
                                    float threshold, ep_groups *out, ep_error *err);

/* Rows with equal hashes (XXH3 of the text), groups of two or more.
 * @return EP_OK and *out, EP_ERR_NOMEM. */
ep_status ep_groups_from_hashes(const uint64_t *hashes, uint64_t n_rows, ep_groups *out, ep_error *err);

/* Frees the arrays of g (and clears it). Accepts NULL. */
void ep_groups_free(ep_groups *g);

#ifdef __cplusplus
}
#endif

#endif /* EP_DUPLICATES_H */
