/*
 * reuse.h - the vectors of a previous output (--reuse), by id and text hash (reuse.c).
 */
#ifndef EP_REUSE_H
#define EP_REUSE_H

#include "embedpipe.h"
#include "manifest.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct ep_reuse ep_reuse;

/* Opens the previous output in dir and indexes its ids; refuses one whose vectors another model, width,
 * prompt or max_seq_length made (the EP_JOB_MODEL fields of want, this run's manifest).
 * @return EP_OK; EP_ERR_MISMATCH; the checked reader's error; EP_ERR_NOMEM. */
ep_status ep_reuse_open(const char *dir, const ep_manifest *want, ep_reuse **out, ep_error *err);
/* Looks id up: *found is set, and the row's vector copied to out (dim halves), when
 * the previous output has id with the same text hash. Counts new / changed ids.
 * @return EP_OK, or an error reading a previous shard. */
ep_status ep_reuse_lookup(ep_reuse *r, const char *id, uint64_t hash, uint16_t *out, bool *found, ep_error *err);
/* Fills counts[0..3] = reused, new, changed, gone (ids of the previous output never looked up). */
void ep_reuse_counts(const ep_reuse *r, uint64_t counts[4]);
void ep_reuse_free(ep_reuse *r); /* accepts NULL */

#endif /* EP_REUSE_H */
