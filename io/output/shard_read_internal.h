/*
 * shard_read_internal.h - what the readers of io/output share and nothing else
 * sees: the one-frame zstd reader with its sink, and the shard and ids readers
 * with the checks the output reader (output_reader.c) passes in. Not installed.
 */
#ifndef EP_SHARD_READ_INTERNAL_H
#define EP_SHARD_READ_INTERNAL_H

#include "embedpipe.h"
#include "shard.h"

#include <stddef.h>
#include <stdint.h>

/* Where decompressed bytes go, as they arrive. */
typedef struct zsink zsink;
struct zsink {
    ep_status (*write)(zsink *s, const uint8_t *data, size_t len, ep_error *err);
    uint64_t content_size;   /* from the frame header; ZSTD_CONTENTSIZE_UNKNOWN if absent */
    uint64_t max_content;    /* refuse a frame that claims more (0 = no bound); checked before any allocation */
};

/* What the caller knows of the file before opening it (all optional). */
typedef struct zfile_check {
    uint64_t bytes;          /* the file's size (0 = not known) */
    const char *sha256;      /* its SHA-256 in hex (NULL = not known); checked once the whole file is read */
    const char *what;        /* how the mismatch is explained: "manifest.json" */
} zfile_check;

/* Streams the single zstd frame of path into sink, with the checks of check
 * (NULL = none). The frame must carry a content checksum.
 * @return EP_OK; EP_ERR_IO (missing or unreadable, naming check->what when
 *         given); EP_ERR_MISMATCH for a size or SHA-256 other than check's;
 *         EP_ERR_FORMAT for anything else wrong with the frame; or the sink's error. */
ep_status ep_zstd_read_file(const char *path, const zfile_check *check, zsink *sink, ep_error *err);

/* Reads a shard; with want_rows set, one that is not (want_rows, want_cols)
 * is refused before its rows are allocated.
 * @return as ep_shard_read, plus EP_ERR_MISMATCH from check or the shape. */
ep_status ep_shard_read_checked(const char *path, const zfile_check *check, uint64_t want_rows, uint64_t want_cols,
                                uint16_t **rows, size_t *n_rows, int *dim, ep_error *err);

/* Reads an ids file; with max_lines set, more lines than that or a line
 * longer than max_line is refused as the bytes arrive.
 * @return as ep_shard_read_ids, plus EP_ERR_MISMATCH from check or the bounds. */
ep_status ep_shard_read_ids_checked(const char *path, const zfile_check *check, uint64_t max_lines, uint64_t max_line,
                                    ep_row_meta **meta, size_t *n_rows, ep_error *err);

#endif /* EP_SHARD_READ_INTERNAL_H */
