/*
 * merge.h - joins the output folders of a `--part I/N` job into one folder
 * that is byte-identical to what a single-process run of the same job writes.
 *
 * Every part reads all records, so each part's errors.ndjson, record counts
 * and run checkpoint already equal the single run's; only the shards are
 * split (part I holds shards k with k % N == I, under their global names).
 * Merging therefore checks that the parts are complete pieces of one job,
 * places every shard in the new folder (a hard link when the filesystem
 * allows it, else a copy) and writes the single run's manifest.
 */
#ifndef EP_MERGE_H
#define EP_MERGE_H

#include "embedpipe.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ep_merge_options {
    const char *const *parts;  /* part folders, in any order */
    size_t n_parts;
    const char *out_dir;       /* created if missing; must not hold another output (see overwrite) */
    bool overwrite;            /* remove an output already in out_dir (shards, manifest, errors) first */
    bool copy;                 /* always copy shards, never hard-link them */
    bool skip_verify;          /* trust the parts' shards (sizes are still checked) instead of
                                  checking every SHA-256, zstd checksum and row count */
} ep_merge_options;

typedef struct ep_merge_summary {
    int part_count;            /* N */
    size_t shards;             /* shards in the merged folder */
    size_t linked, copied;     /* how they got there */
    uint64_t rows;             /* rows in the merged folder */
    uint64_t records_read, records_rejected;
    bool already_merged;       /* out_dir held this very merge already: nothing was written */
} ep_merge_summary;

/* Checks that the parts are every part 0..N-1 of one complete job, exactly
 * once (same model, options, inputs and sizes, identical errors.ndjson; shards
 * intact unless skip_verify), then writes out_dir: the shards and ids files,
 * errors.ndjson and manifest.json (last, so that a folder with a manifest is
 * always a whole merge). Like `embed`, running the same merge again is safe:
 * an out_dir that holds this merge already is left alone (already_merged),
 * and what an interrupted merge left (its files, no manifest) is replaced.
 * @return EP_OK;
 *         EP_ERR_MISMATCH naming the part and the problem (incomplete, another
 *         job, a part missing or given twice, a corrupt shard, out_dir holds
 *         another output);
 *         EP_ERR_IO / EP_ERR_FORMAT for an unreadable folder or manifest;
 *         EP_ERR_USAGE for bad options. */
ep_status ep_merge(const ep_merge_options *options, ep_merge_summary *summary, ep_error *err);

#ifdef __cplusplus
}
#endif

#endif /* EP_MERGE_H */
