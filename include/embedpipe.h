/*
 * embedpipe.h - the public interface of libembedpipe.
 *
 * libembedpipe turns text records into L2-normalised sentence embeddings with
 * a BERT-architecture sentence-transformers model (all-MiniLM-L6-v2 by
 * default). Every function that can fail returns an ep_status and, when given
 * a non-NULL ep_error, fills it with a message that says what went wrong,
 * where, and what to do. Create/free pairs: every *_free accepts NULL.
 */
#ifndef EMBEDPIPE_H
#define EMBEDPIPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EP_VERSION_MAJOR 0
#define EP_VERSION_MINOR 1
#define EP_VERSION_PATCH 0
#define EP_VERSION_STRING "0.1.0"

/* Status codes. EP_OK is zero; every failure is a positive code. */
typedef enum ep_status {
    EP_OK = 0,
    EP_ERR_IO = 1,          /* a file could not be opened, read, written or synced */
    EP_ERR_FORMAT = 2,      /* a file's contents are malformed (JSON, safetensors, npy, shard) */
    EP_ERR_MODEL = 3,       /* the model folder is incomplete or inconsistent with its config */
    EP_ERR_NOMEM = 4,       /* an allocation failed */
    EP_ERR_USAGE = 5,       /* an argument or option is invalid */
    EP_ERR_DEVICE = 6,      /* the requested compute device is missing or failed */
    EP_ERR_MISMATCH = 7,    /* existing output disagrees with what this run would write */
    EP_ERR_INTERRUPTED = 8, /* stopped by a signal; the output folder stays resumable */
    EP_ERR_BUSY = 9         /* another process holds the output folder's lock */
} ep_status;

/* An error value: the code and a human-readable message (file, line, remedy). */
typedef struct ep_error {
    ep_status code;
    char message[1024];
} ep_error;

/* Fills err (when non-NULL) with code and a printf-style message.
 * @return code, so that `return ep_error_set(err, EP_ERR_IO, ...)` reads naturally. */
ep_status ep_error_set(ep_error *err, ep_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Adds "context: " in front of an existing message, keeping its code.
 * @return err->code (EP_OK when err is NULL). */
ep_status ep_error_prefix(ep_error *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* @return a short constant name for a status ("io error", "malformed input", ...). */
const char *ep_status_name(ep_status code);

/* @return the library version, EP_VERSION_STRING. */
const char *ep_version(void);

#ifdef __cplusplus
}
#endif

#endif /* EMBEDPIPE_H */
