/*
 * resume.h - what an output folder already holds, and the manifest this run
 * writes (resume.c). Used by the run's set-up and by the read and write stages.
 */
#ifndef EP_RESUME_H
#define EP_RESUME_H

#include "pipeline_internal.h"

/* XXH3-64 of the first n decompressed bytes of path, as 16 hex digits into hex.
 * @return EP_OK; EP_ERR_MISMATCH when the file holds fewer bytes; the reader's error otherwise. */
ep_status ep_input_prefix_hash(const char *path, uint64_t n, char hex[17], ep_error *err);

/* Compares the folder's manifest with this run and cleans up after a crash: a fresh folder is marked as this
 * run's, an interrupted run of the same job sets the resume point (p->start_seq, start_row, checkpoint), a
 * complete one sets p->already_complete.
 * @return EP_OK; EP_ERR_MISMATCH when the folder holds a different run or was changed since; EP_ERR_IO. */
ep_status ep_resume_prepare(ep_pipeline *p, ep_error *err);

/* Fills what the manifest says about the model and its rows (name, weights, width, pooling, normalisation,
 * truncation, prompt, max_seq_length): the fields a job's vectors depend on, for resume and --reuse. */
void ep_pipeline_model_fields(const ep_pipeline *p, ep_manifest *m);

/* Builds the manifest this run writes at a checkpoint. The caller frees *out with ep_manifest_free (also after
 * a failure). @return EP_OK or EP_ERR_NOMEM. */
ep_status ep_pipeline_manifest(const ep_pipeline *p, const ep_shard_info *shards, size_t n_shards,
                               uint64_t records_read, uint64_t rows, uint64_t rejected, uint64_t next_row,
                               bool complete, ep_manifest **out, ep_error *err);

#endif /* EP_RESUME_H */
