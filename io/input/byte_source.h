/*
 * byte_source.h - a stream of decompressed bytes from a file, standard input
 * or memory. zstd and gzip data are recognised by their magic bytes (not by
 * the name, so that compressed standard input works too) and decompressed on
 * the fly; memory use is a few fixed buffers whatever the file's size.
 */
#ifndef EP_BYTE_SOURCE_H
#define EP_BYTE_SOURCE_H

#include "embedpipe.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ep_byte_source ep_byte_source;

typedef enum ep_compression {
    EP_COMPRESSION_NONE = 0,
    EP_COMPRESSION_ZSTD,
    EP_COMPRESSION_GZIP
} ep_compression;

/* Opens path for reading; "-" is standard input (left open on free).
 * @return EP_OK and *out set; EP_ERR_IO when it cannot be opened or is a folder;
 *         EP_ERR_NOMEM. */
ep_status ep_byte_source_open(const char *path, ep_byte_source **out, ep_error *err);

/* A source over len bytes at data, which must outlive it; name is used in messages.
 * Compressed bytes are recognised here too. @return EP_OK, or EP_ERR_NOMEM. */
ep_status ep_byte_source_open_memory(const void *data, size_t len, const char *name, ep_byte_source **out,
                                     ep_error *err);

/* Reads up to cap decompressed bytes into buf; *got = 0 only at the end of the data.
 * @return EP_OK; EP_ERR_IO on a read error; EP_ERR_FORMAT when compressed data
 *         is corrupt or truncated (the message names the file and what to do). */
ep_status ep_byte_source_read(ep_byte_source *src, void *buf, size_t cap, size_t *got, ep_error *err);

/* @return the compression detected (known after the first read). */
ep_compression ep_byte_source_compression(const ep_byte_source *src);

/* @return bytes consumed from the underlying file (compressed bytes), for progress. */
uint64_t ep_byte_source_bytes_in(const ep_byte_source *src);

/* Closes the file (not standard input) and frees the source. Accepts NULL. */
void ep_byte_source_free(ep_byte_source *src);

#ifdef __cplusplus
}
#endif

#endif /* EP_BYTE_SOURCE_H */
