/*
 * shard.h - the output shards: zstd-compressed .npy arrays of float16 rows,
 * each with a companion ids file.
 *
 *   shard-00000.npy.zst      one zstd frame (content checksum on) holding a
 *                            .npy v1.0 array '<f2' of shape (rows, dim)
 *   shard-00000.ids.ndjson.zst  one JSON line per row:
 *                            {"id":..,"file":..,"line":..,"tokens":..,"truncated":..,"hash":..,
 *                             "text":.. (when kept), the kept fields' own keys (--keep)}
 * Rows are buffered until a shard is full, then written to a temporary name
 * (.shard-00000.npy.zst.tmp), fsynced and renamed, and the folder fsynced, so
 * a file under a final name is always complete. A crash can leave a
 * temporary file, or a shard whose ids file was not yet written; neither is
 * listed in manifest.json, which is the list of finished shards, and the next
 * writer of that shard number overwrites both.
 */
#ifndef EP_SHARD_H
#define EP_SHARD_H

#include "embedpipe.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What is stored about each row besides its vector. */
typedef struct ep_row_meta {
    const char *id;        /* record id ("" when it had none) */
    uint32_t file_index;   /* index into the run's input files */
    uint64_t line;         /* 1-based source line */
    int n_tokens;          /* tokens fed to the model, incl. [CLS]/[SEP] */
    bool truncated;        /* the text had more tokens than max_seq_length */
    uint64_t text_hash;    /* XXH3-64 of the text's UTF-8 bytes */
    const char *text;      /* the text as embedded; NULL when not kept (--no-text, older folders) */
    const char *fields;    /* the kept fields (--keep) as one JSON object text, e.g.
                            * {"created_at":"...","user.screen_name":"..."}; NULL when none */
} ep_row_meta;

/* A finished shard, as recorded in the manifest. */
typedef struct ep_shard_info {
    char name[64];         /* "shard-00000.npy.zst" */
    char ids_name[64];     /* "shard-00000.ids.ndjson.zst" */
    uint64_t rows;
    uint64_t first_row;    /* global index of the shard's first row */
    uint64_t bytes;        /* size of the .npy.zst file */
    char sha256[65];       /* of the .npy.zst file */
    char ids_sha256[65];   /* of the .ids.ndjson.zst file */
} ep_shard_info;

typedef struct ep_shard_writer_options {
    const char *dir;         /* output folder (must exist) */
    int dim;                 /* row width */
    size_t rows_per_shard;   /* 0 = 32768 */
    int zstd_level;          /* 0 = 1; negative = zstd's fast levels */
    int zstd_workers;        /* zstd's own threads; 0 = none */
    unsigned first_shard;    /* number of the first shard to write (resume) */
    uint64_t first_row;      /* global row index of that shard's first row */
} ep_shard_writer_options;

typedef struct ep_shard_writer ep_shard_writer;

/* @return EP_OK and *out set, or EP_ERR_USAGE / EP_ERR_NOMEM. */
ep_status ep_shard_writer_open(const ep_shard_writer_options *options, ep_shard_writer **out, ep_error *err);

/* Appends n rows (n x dim halves, row-major) with their metadata; writes a
 * shard whenever rows_per_shard rows are buffered.
 * @return EP_OK, or EP_ERR_IO naming the file. */
ep_status ep_shard_writer_append(ep_shard_writer *w, const uint16_t *rows, const ep_row_meta *meta, size_t n,
                                 ep_error *err);

/* Writes the buffered rows as a last, shorter shard (none if no rows are buffered).
 * @return EP_OK, or EP_ERR_IO. */
ep_status ep_shard_writer_flush(ep_shard_writer *w, ep_error *err);

/* @return the number of shards written so far by this writer. */
size_t ep_shard_writer_count(const ep_shard_writer *w);
/* @return the i-th shard written by this writer (i < count), or NULL. */
const ep_shard_info *ep_shard_writer_info(const ep_shard_writer *w, size_t i);

/* @return the zstd worker threads actually in use: options->zstd_workers,
 * clamped to what libzstd allows; 0 when libzstd was built without
 * multithreading (compression then runs on the calling thread). */
int ep_shard_writer_zstd_workers(const ep_shard_writer *w);
/* @return the global index the next appended row will get (first_row + rows appended). */
uint64_t ep_shard_writer_next_row(const ep_shard_writer *w);
/* @return rows appended but not yet written to a shard. */
size_t ep_shard_writer_buffered(const ep_shard_writer *w);

/* Frees the writer; buffered rows not flushed are discarded. Accepts NULL. */
void ep_shard_writer_free(ep_shard_writer *w);

/* Reads a shard back: decompresses, checks the zstd checksum and the .npy header.
 * *rows is malloc'd (n_rows x dim halves); the caller frees it.
 * @return EP_OK; EP_ERR_IO; EP_ERR_FORMAT saying what is wrong with the file. */
ep_status ep_shard_read(const char *path, uint16_t **rows, size_t *n_rows, int *dim, ep_error *err);

/* Reads an ids file back (shard-NNNNN.ids.ndjson.zst): decompresses, checks
 * the zstd checksum and parses every line strictly (all six keys, right types;
 * "text" a string when present; every other key is a kept field, handed back
 * in fields as one JSON object text, numbers with their digits as written).
 * *meta is a malloc'd array of *n_rows entries whose strings it owns; free
 * it with ep_shard_ids_free. Ids that were not valid UTF-8 when written come
 * back with U+FFFD in place of each bad byte.
 * @return EP_OK; EP_ERR_IO; EP_ERR_NOMEM; EP_ERR_FORMAT naming the file and line. */
ep_status ep_shard_read_ids(const char *path, ep_row_meta **meta, size_t *n_rows, ep_error *err);

/* Frees an array from ep_shard_read_ids and its strings. Accepts NULL. */
void ep_shard_ids_free(ep_row_meta *meta, size_t n_rows);

#ifdef __cplusplus
}
#endif

#endif /* EP_SHARD_H */
