/*
 * read_file.h - a whole (small) file into memory, the one way embedpipe does
 * it: configs, vocab.txt, manifest.json.
 */
#ifndef EP_READ_FILE_H
#define EP_READ_FILE_H

#include "embedpipe.h"

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Reads all of path into *buf (malloc'd, with a NUL after the *len bytes, so text
 * can be parsed in place). max_bytes > 0 refuses a larger file (0 = no limit).
 * @return EP_OK; EP_ERR_IO naming path when it cannot be opened or read;
 *         EP_ERR_FORMAT when it is larger than max_bytes; EP_ERR_NOMEM. */
ep_status ep_read_file(const char *path, size_t max_bytes, char **buf, size_t *len, ep_error *err);

/* As ep_read_file, from a stream the caller opened (and closes); path names it in messages.
 * @return as ep_read_file. */
ep_status ep_read_stream(FILE *f, const char *path, size_t max_bytes, char **buf, size_t *len, ep_error *err);

#ifdef __cplusplus
}
#endif

#endif /* EP_READ_FILE_H */
