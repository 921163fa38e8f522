/*
 * embedpipe.h - the public interface of libembedpipe.
 *
 * libembedpipe turns text records into L2-normalised sentence embeddings with
 * a BERT-architecture sentence-transformers model (all-MiniLM-L6-v2 by
 * default). Two things are offered (docs/api.md shows both with examples):
 *
 *   ep_embedder   texts in, float32 rows out: the very vectors `embedpipe embed`
 *                 writes (it stores their float16 cast), same tokenizer, same
 *                 truncation, same batching;
 *   ep_folder     an output folder of `embedpipe embed` read back, row by row,
 *                 through the same checks as `embedpipe verify` (sizes, SHA-256,
 *                 shapes), as float32 or float16, with each row's record id.
 *
 * Conventions (zstd-style), which also keep the API easy to call from Python
 * through ctypes/cffi:
 *   - errors are values: every function that can fail returns an ep_status
 *     (EP_OK = 0) and, when given a non-NULL ep_error, fills it with a message
 *     that says what went wrong, where, and what to do;
 *   - objects are opaque handles made by *_create / *_open and released by the
 *     matching *_free / *_close, which accept NULL;
 *   - only plain C types cross the boundary: UTF-8 strings (with a length, or
 *     NUL-terminated), row-major float32 (or float16 bits as uint16_t) arrays the
 *     caller allocates, integers. The one struct whose layout is part of the ABI
 *     is ep_error (an int code, then char message[1024]);
 *   - a handle may be used by one thread at a time; different handles are
 *     independent.
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

/* What libembedpipe.so exports: the functions of this header and nothing else
 * (the libraries are built with -fvisibility=hidden). */
#if defined(__GNUC__)
#define EP_API __attribute__((visibility("default")))
#else
#define EP_API
#endif

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
EP_API ep_status ep_error_set(ep_error *err, ep_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Adds "context: " in front of an existing message, keeping its code.
 * @return err->code (EP_OK when err is NULL). */
EP_API ep_status ep_error_prefix(ep_error *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* @return a short constant name for a status ("io error", "malformed input", ...). */
EP_API const char *ep_status_name(ep_status code);

/* @return the library version, EP_VERSION_STRING. */
EP_API const char *ep_version(void);

/* ---------------------------------------------------------------------------
 * Embedding texts
 *
 * An ep_embedder holds a model folder (a Hugging Face sentence-transformers
 * folder: config.json, model.safetensors, vocab.txt, ...), its tokenizer and a
 * compute device. ep_embedder_encode turns n UTF-8 texts into n rows of
 * ep_embedder_dim() float32 values: mean- or CLS-pooled as the folder's
 * 1_Pooling/config.json says, and L2-normalised when its modules.json has a
 * Normalize module (ep_embedder_normalized), so that cosine similarity is a dot
 * product. Texts longer than the model's max_seq_length tokens are truncated, as
 * sentence-transformers does. The rows are bit for bit those `embedpipe embed`
 * computes for the same texts with the same options (it stores them as float16).
 */
typedef struct ep_embedder ep_embedder;

/* Options of ep_embedder_create, set by name so that adding one never changes
 * a struct layout. Every option has a default; see ep_embedder_options_set. */
typedef struct ep_embedder_options ep_embedder_options;

/* @return new options, all at their defaults; NULL when out of memory. */
EP_API ep_embedder_options *ep_embedder_options_create(void);

/* Frees options. Accepts NULL. */
EP_API void ep_embedder_options_free(ep_embedder_options *options);

/* Sets one option from its text value (what the command line's flag of the same
 * name takes; the value is copied):
 *   "device"          "auto" (default: CUDA when built in and present, else the CPU),
 *                     "cpu", "cuda" or "cuda:N"
 *   "precision"       "auto" (default: the fastest mode with a minimum cosine >= 0.999
 *                     on this machine: CPU bf16 on AMX or AMD Zen 5, else fp32; CUDA
 *                     fp16), "fp32", "bf16" (AMX, AMD Zen 5), "int8" (AVX512-VNNI, where
 *                     measured 1.5x the mode below it; minimum cosine 0.998),
 *                     "fp32-reference", or "fp16" (CUDA)
 *   "threads"         CPU threads, an integer; 0 (default) = all cores
 *   "max_seq_length"  tokens per text including [CLS] and [SEP], 2 .. the model's
 *                     position table; 0 (default) = the model's own limit
 *   "batch_tokens"    tokens per batch handed to the device; 0 (default) = the
 *                     device's choice, as `embedpipe embed` makes it
 *   "prompt"          the name of one of the model's prompts (config_sentence_transformers.json)
 *                     put before every text; default: the model's default_prompt_name, if any,
 *                     as sentence-transformers' encode
 *   "prompt_text"     a prompt given as text instead ("" = none, not even the default)
 *   "dim"             keep the first dim values of each row (Matryoshka truncation, normalised
 *                     after when the model normalises); 0 (default) = the model's width
 * @return EP_OK; EP_ERR_USAGE (message names the option and what it accepts) for
 *         an unknown name or a value that is not one of the above. Whether the
 *         device and precision exist is checked by ep_embedder_create. */
EP_API ep_status ep_embedder_options_set(ep_embedder_options *options, const char *name, const char *value,
                                         ep_error *err);

/* Loads the model folder model_dir and starts the device. options may be NULL
 * (all defaults) and may be freed once this returns.
 * @return EP_OK and *out set; on failure *out is NULL and:
 *         EP_ERR_IO / EP_ERR_MODEL / EP_ERR_FORMAT naming the missing or malformed
 *         file of the folder; EP_ERR_DEVICE when CUDA was asked for and is not
 *         available; EP_ERR_USAGE for an unknown device, precision or prompt name,
 *         a dim wider than the model's rows, or a max_seq_length the model cannot
 *         take; EP_ERR_NOMEM. */
EP_API ep_status ep_embedder_create(const char *model_dir, const ep_embedder_options *options, ep_embedder **out,
                                    ep_error *err);

/* Frees the embedder, its model and its device. Accepts NULL. */
EP_API void ep_embedder_free(ep_embedder *embedder);

/* @return the width of a row (384 for all-MiniLM-L6-v2: the hidden size; for other models the width
 *         after their pooling modes, Dense modules and any truncation). */
EP_API int ep_embedder_dim(const ep_embedder *embedder);

/* @return the most tokens a text keeps (including [CLS] and [SEP]); longer texts
 *         are cut to it. */
EP_API int ep_embedder_max_seq_length(const ep_embedder *embedder);

/* @return 1 when the rows are L2-normalised (the model folder says so), else 0. */
EP_API int ep_embedder_normalized(const ep_embedder *embedder);

/* @return what runs the model, for people: e.g. "cpu (avx2, 8 threads, fp32)".
 *         Owned by the embedder. */
EP_API const char *ep_embedder_device(const ep_embedder *embedder);

/* Embeds n texts into out, row i (dim float32 values, row-major) for texts[i].
 * texts[i] is UTF-8 of lengths[i] bytes, or NUL-terminated when lengths is NULL;
 * invalid UTF-8 is read as U+FFFD, as Hugging Face does; the empty text is
 * allowed. Texts are batched by length internally, so one call with many texts is
 * much faster than many calls with one. n = 0 does nothing.
 * @return EP_OK and out filled (n x ep_embedder_dim floats); EP_ERR_USAGE for a
 *         NULL argument (texts[i] may be NULL only when lengths[i] is 0);
 *         EP_ERR_MODEL when the model produced a NaN or Inf (the message names
 *         the text's index); EP_ERR_DEVICE / EP_ERR_NOMEM. On failure the
 *         contents of out are unspecified. */
EP_API ep_status ep_embedder_encode(ep_embedder *embedder, const char *const *texts, const size_t *lengths,
                                    size_t n, float *out, ep_error *err);

/* ---------------------------------------------------------------------------
 * Reading an output folder
 *
 * An ep_folder is the folder `embedpipe embed -o DIR` wrote, opened read-only:
 * its manifest is checked on open and every shard against the manifest (size,
 * SHA-256, shape) before any of its rows is handed out, so a damaged or swapped
 * file is an error, never wrong vectors. Rows are numbered 0 .. ep_folder_rows-1
 * in input order (for a folder of one --part, its own rows in order). One shard
 * is kept in memory at a time: reading rows in order is cheap, jumping between
 * shards re-reads them.
 */
typedef struct ep_folder ep_folder;

/* Opens the output folder dir.
 * @return EP_OK and *out set; on failure *out is NULL and: EP_ERR_IO when
 *         dir/manifest.json cannot be read; EP_ERR_FORMAT / EP_ERR_MISMATCH
 *         naming what in the manifest is malformed or inconsistent; EP_ERR_NOMEM. */
EP_API ep_status ep_folder_open(const char *dir, ep_folder **out, ep_error *err);

/* Closes the folder. Accepts NULL. */
EP_API void ep_folder_close(ep_folder *folder);

/* @return the number of rows in the folder's shards. */
EP_API uint64_t ep_folder_rows(const ep_folder *folder);

/* @return the width of a row. */
EP_API int ep_folder_dim(const ep_folder *folder);

/* @return 1 when the run that wrote the folder reached the end of its input and
 *         the folder holds all of it (not one --part of it); 0 when it was
 *         interrupted (resumable: rows so far are readable) or is one part. */
EP_API int ep_folder_complete(const ep_folder *folder);

/* @return the name of the model that made the rows (its folder's name). Owned by
 *         the folder. */
EP_API const char *ep_folder_model(const ep_folder *folder);

/* Reads rows first .. first+n-1 as float32 into out (n x dim, row-major): the
 * stored float16 values, converted exactly.
 * @return EP_OK; EP_ERR_USAGE when the range goes past ep_folder_rows or out is
 *         NULL (with n > 0); EP_ERR_MISMATCH naming a shard file that is not the
 *         one the manifest lists; EP_ERR_IO / EP_ERR_FORMAT / EP_ERR_NOMEM. */
EP_API ep_status ep_folder_read(ep_folder *folder, uint64_t first, size_t n, float *out, ep_error *err);

/* As ep_folder_read, but the stored IEEE float16 bits, unconverted.
 * @return as ep_folder_read. */
EP_API ep_status ep_folder_read_f16(ep_folder *folder, uint64_t first, size_t n, uint16_t *out, ep_error *err);

/* Sets *id to the record id of row (UTF-8, NUL-terminated; "" when the record
 * had none). The string is owned by the folder and stays valid until the next
 * ep_folder_id call for a row of another shard, or ep_folder_close.
 * @return EP_OK; EP_ERR_USAGE for a row past the end or a NULL id; errors of
 *         reading the shard's ids file as ep_folder_read. */
EP_API ep_status ep_folder_id(ep_folder *folder, uint64_t row, const char **id, ep_error *err);

/* Sets *ndjson to the metadata of rows first .. first+n-1, one JSON object per
 * line (each ending in '\n'), as the shard's ids file records them: "id" (a
 * string), "file" (index into the manifest's inputs), "line", "tokens",
 * "truncated", "hash" (XXH3-64 of the text, 16 hex digits), then "text" when
 * the run kept it and the kept fields (--keep) as further keys. Read through
 * the same checks as ep_folder_read. Bindings read a whole block in one call,
 * rather than one ep_folder_id call per row. *ndjson is allocated by the library
 * and released with ep_folder_text_free; *length (when non-NULL) gets its bytes.
 * @return EP_OK and *ndjson set (n = 0 gives ""); EP_ERR_USAGE when the range
 *         goes past ep_folder_rows or ndjson is NULL; errors of reading the
 *         shards' ids files as ep_folder_read; on failure *ndjson is NULL. */
EP_API ep_status ep_folder_meta_ndjson(ep_folder *folder, uint64_t first, size_t n, char **ndjson, size_t *length,
                                       ep_error *err);

/* Frees text made by ep_folder_meta_ndjson. Accepts NULL. */
EP_API void ep_folder_text_free(char *text);

#ifdef __cplusplus
}
#endif

#endif /* EMBEDPIPE_H */
