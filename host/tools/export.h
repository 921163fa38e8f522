/*
 * export.h - an output folder's rows in formats other tools read directly:
 *
 *   npy     one plain (uncompressed) .npy file, '<f2', shape (rows, dim): all
 *           shards concatenated in row order, so that numpy.load(path,
 *           mmap_mode='r') maps it without reading it;
 *   ndjson  one JSON object per row, in row order:
 *           {"id": "...", "file": "<input path>", "line": N, "vector": [...]}
 *           where each float16 value is printed as the shortest decimal that
 *           reads back to the same float (-0.0 keeps its sign; a non-finite
 *           value, which embedpipe never writes, becomes null).
 *
 * Both stream one shard at a time: memory stays at one shard whatever the size
 * of the folder. A file is written under a temporary name and renamed when
 * complete; "-" writes to standard output.
 */
#ifndef EP_EXPORT_H
#define EP_EXPORT_H

#include "embedpipe.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ep_export_format {
    EP_EXPORT_NPY = 0,
    EP_EXPORT_NDJSON
} ep_export_format;

typedef struct ep_export_summary {
    uint64_t rows;
    int dim;
    size_t shards;
    uint64_t bytes;        /* written to the destination */
    bool complete;         /* the folder holds a complete run of the whole input (not a part) */
} ep_export_summary;

/* Parses "npy" or "ndjson". @return EP_OK, or EP_ERR_USAGE naming the choices. */
ep_status ep_export_format_parse(const char *name, ep_export_format *out, ep_error *err);

/* @return "npy" or "ndjson". */
const char *ep_export_format_name(ep_export_format format);

/* Writes the rows of the output folder dir to path ("-" = standard output).
 * Shards are read through the checked output reader (output_reader.h): each
 * file's size and SHA-256, its place in the manifest, its shape and row count
 * are checked before any of its rows is written; an incomplete run or a single
 * part exports the rows it holds and sets summary->complete to false.
 * @return EP_OK; EP_ERR_IO / EP_ERR_FORMAT naming the file; EP_ERR_MISMATCH
 *         when a shard disagrees with the manifest; EP_ERR_USAGE. On failure
 *         no file appears at path (standard output may have received part). */
ep_status ep_export(const char *dir, ep_export_format format, const char *path, ep_export_summary *summary,
                    ep_error *err);

#ifdef __cplusplus
}
#endif

#endif /* EP_EXPORT_H */
