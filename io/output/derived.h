/*
 * derived.h - files computed from a finished run and kept beside its shards:
 *
 *   related-rows.npy.zst       int32 (rows, k): each row's k nearest other rows   (`embedpipe related`)
 *   related-scores.npy.zst     float32 (rows, k): their cosine similarities
 *   cluster-labels.npy.zst     int32 (rows,): each row's cluster                    (`embedpipe cluster`)
 *   cluster-scores.npy.zst     float32 (rows,): its cosine to the cluster's centroid
 *   cluster-centroids.npy.zst  float32 (k, dim): the unit-length centroids
 *   cluster-report.json        sizes, words, nearest texts (plain JSON)
 *   map-xy.npy.zst             float32 (rows, 2): each row's place on the 2D map       (`embedpipe map`)
 *   derived.json               the list of the above: name, bytes, SHA-256, which command wrote
 *                              it with which settings, and the digest of the run they were
 *                              computed from
 *
 * Each .npy.zst is one zstd frame (content checksum on) of a plain .npy v1.0
 * array, so `numpy.load(io.BytesIO(zstandard.decompress(open(p,'rb').read())))`
 * reads it. Every file is written atomically; derived.json is replaced last, so
 * it never lists a file that is not there. `verify` checks the listed files'
 * SHA-256 and that derived.json belongs to the run in the folder (the digest of
 * its shards); a resume or --overwrite removes them all, as they describe the
 * rows before it.
 */
#ifndef EP_DERIVED_H
#define EP_DERIVED_H

#include "embedpipe.h"
#include "manifest.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EP_DERIVED_INDEX "derived.json"
#define EP_DERIVED_MAX_FILES 16

typedef struct ep_derived_file {
    char name[64];
    char by[16];          /* the command that wrote it: "related", "cluster" */
    uint64_t bytes;
    char sha256[65];
} ep_derived_file;

typedef struct ep_derived_index {
    char run_digest[65];  /* ep_derived_run_digest of the run they were computed from */
    ep_derived_file files[EP_DERIVED_MAX_FILES];
    size_t n_files;
    char *settings[EP_DERIVED_MAX_FILES]; /* per command ("by"), a JSON object text; parallel to by_names */
    char by_names[EP_DERIVED_MAX_FILES][16];
    size_t n_settings;
} ep_derived_index;

/* An array to write: '<i4' or '<f4', 1-D (cols = 0) or 2-D. */
typedef struct ep_derived_array {
    const char *name;     /* e.g. "related-rows.npy.zst" */
    char kind;            /* 'i' (int32) or 'f' (float32) */
    uint64_t rows, cols;  /* cols = 0: a 1-D array of rows */
    const void *data;
} ep_derived_array;

/* @return true for the names above and their temporaries ".NAME.tmp". */
bool ep_output_is_derived_file(const char *name);

/* The digest of the run a derived file is computed from: SHA-256 over the
 * shards' names, rows and checksums in order. Writes 64 hex digits + NUL. */
void ep_derived_run_digest(const ep_manifest *m, char hex[65]);

/* Writes one array as dir/NAME (zstd-compressed .npy) atomically; *out gets its
 * name, size and SHA-256 (by is left for the caller).
 * @return EP_OK, EP_ERR_IO naming the file, EP_ERR_NOMEM. */
ep_status ep_derived_write_array(const char *dir, const ep_derived_array *a, ep_derived_file *out, ep_error *err);

/* Writes dir/name holding the text (a JSON report) atomically; *out as above.
 * @return EP_OK, EP_ERR_IO. */
ep_status ep_derived_write_text(const char *dir, const char *name, const char *text, ep_derived_file *out,
                                ep_error *err);

/* Reads dir/derived.json. A missing one gives an empty index (run_digest "").
 * @return EP_OK; EP_ERR_FORMAT naming the bad field; EP_ERR_IO. */
ep_status ep_derived_index_read(const char *dir, ep_derived_index *out, ep_error *err);

/* Frees the settings texts of idx. Accepts NULL. */
void ep_derived_index_clear(ep_derived_index *idx);

/* Records the files command `by` just wrote (with its settings, a JSON object
 * text): replaces the entries `by` had, keeps the other commands' entries
 * when they belong to the same run (else drops them, and removes their files,
 * which describe other rows), and rewrites derived.json atomically.
 * The caller holds the folder's lock.
 * @return EP_OK, EP_ERR_IO, EP_ERR_FORMAT (an unreadable derived.json). */
ep_status ep_derived_index_update(const char *dir, const ep_manifest *m, const char *by, const char *settings_json,
                                  const ep_derived_file *files, size_t n, ep_error *err);

/* Reads dir/NAME as listed in derived.json (its SHA-256 checked) into a malloc'd
 * array of the kind asked for; *rows / *cols get its shape (cols 0 for 1-D).
 * @return EP_OK; EP_ERR_IO when missing; EP_ERR_MISMATCH when it is not the
 *         listed file or derived.json belongs to another run; EP_ERR_FORMAT. */
ep_status ep_derived_read_array(const char *dir, const ep_manifest *m, const char *name, char kind, void **data,
                                uint64_t *rows, uint64_t *cols, ep_error *err);

/* verify's part: derived.json (when present) belongs to the run m, every file it
 * lists is there as a regular file with its size and SHA-256.
 * @return EP_OK, or EP_ERR_MISMATCH / EP_ERR_FORMAT naming the file. */
ep_status ep_derived_verify(const char *dir, const ep_manifest *m, ep_error *err);

/* @return true when name (not a temporary) is listed in idx. */
bool ep_derived_listed(const ep_derived_index *idx, const char *name);

#ifdef __cplusplus
}
#endif

#endif /* EP_DERIVED_H */
