/*
 * output_reader.h - the one way the tools (export, search, merge, --reuse,
 * verify) read an output folder back. Nothing is handed out unchecked:
 *
 *   ep_output_open       reads manifest.json and checks the place of every
 *                        shard in it (ep_manifest_check_layout: numbers in
 *                        order, row ranges that tile, row counts, the part a
 *                        shard belongs to, the total against counts.embedded);
 *   ep_output_read_shard reads one shard's files, each checked against its
 *                        manifest entry before any row is handed out: the file
 *                        size and SHA-256 (so a shard swapped with another or
 *                        changed is refused), the .npy header's shape against
 *                        the listed rows and dim, the ids file's line count
 *                        and line length; sizes the files claim are bounded by
 *                        the manifest before anything is allocated for them.
 *
 * A mismatch with the manifest is EP_ERR_MISMATCH (exit 3, as `verify`),
 * naming the file and what disagrees.
 */
#ifndef EP_OUTPUT_READER_H
#define EP_OUTPUT_READER_H

#include "embedpipe.h"
#include "manifest.h"
#include "shard.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ep_output_reader ep_output_reader;

/* Which files of a shard ep_output_read_shard reads. */
enum { EP_OUTPUT_VECTORS = 1, EP_OUTPUT_IDS = 2 };

/* One shard as read: the arrays are owned by the struct (ep_output_shard_free). */
typedef struct ep_output_shard {
    const ep_shard_info *info;  /* its manifest entry */
    uint16_t *rows;             /* info->rows x dim halves (EP_OUTPUT_VECTORS), else NULL */
    ep_row_meta *meta;          /* info->rows entries (EP_OUTPUT_IDS), else NULL */
    size_t n_rows;              /* info->rows */
} ep_output_shard;

/* Opens the output folder dir: reads and checks its manifest (see above).
 * @return EP_OK and *out set; EP_ERR_IO when manifest.json is missing;
 *         EP_ERR_FORMAT / EP_ERR_MISMATCH naming what is wrong. */
ep_status ep_output_open(const char *dir, ep_output_reader **out, ep_error *err);

/* @return the folder's manifest (owned by r). */
const ep_manifest *ep_output_manifest(const ep_output_reader *r);

/* @return the index of the shard holding global row `row`, or SIZE_MAX. */
size_t ep_output_shard_of_row(const ep_output_reader *r, uint64_t row);

/* Reads shard i (what: EP_OUTPUT_VECTORS and/or EP_OUTPUT_IDS), checked as
 * described above.
 * @return EP_OK and *out filled; EP_ERR_MISMATCH naming the file when it is
 *         not the one the manifest lists; EP_ERR_IO / EP_ERR_FORMAT / EP_ERR_NOMEM.
 *         On failure *out holds nothing. */
ep_status ep_output_read_shard(ep_output_reader *r, size_t i, unsigned what, ep_output_shard *out, ep_error *err);

/* Checks the size and SHA-256 of shard i's files without decompressing them
 * (what as above). @return EP_OK, or EP_ERR_MISMATCH / EP_ERR_IO naming the file. */
ep_status ep_output_check_shard_files(const ep_output_reader *r, size_t i, unsigned what, ep_error *err);

/* Frees what ep_output_read_shard put in s (and clears it). Accepts NULL. */
void ep_output_shard_free(ep_output_shard *s);

/* Closes r. Accepts NULL. */
void ep_output_close(ep_output_reader *r);

#ifdef __cplusplus
}
#endif

#endif /* EP_OUTPUT_READER_H */
