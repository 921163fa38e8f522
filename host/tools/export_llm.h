/*
 * export_llm.h - an output folder's rows written into an embeddings database
 * of Simon Willison's `llm` (https://llm.datasette.io), in llm's own schema, so
 * that `llm similar NAME --id ID`, `llm similar NAME -c TEXT` (through the
 * embedpipe plugin, python/llm_embedpipe) and `llm-cluster` read it unchanged:
 *
 *   collections(id, name, model)            one row per collection, model = the
 *                                           llm model id that embeds its queries
 *   embeddings(collection_id, id, embedding, content, content_blob,
 *              content_hash, metadata, updated)
 *     embedding     the row as little-endian float32 (llm.encode), from the
 *                   stored float16, converted exactly
 *     content       the text, when the run kept it (else NULL)
 *     content_hash  MD5 of the text's UTF-8 bytes (llm's Collection.content_hash);
 *                   when the text was not kept, MD5 of "embedpipe-xxh3:" + the
 *                   ids file's 16-hex-digit text hash, which changes when the
 *                   text does
 *     metadata      the kept fields (--keep) as a JSON object, else NULL
 *     updated       Unix time of the export that wrote the row
 *   _sqlite_migrations                       llm's five embeddings migrations marked
 *                                           applied, as llm itself would leave them
 *
 * Re-running writes only the rows whose content_hash differs from the
 * database's (or that it lacks); rows of the collection that the folder no
 * longer has are kept. Everything happens in one SQLite transaction: on
 * failure the database is as it was.
 *
 * Built only with SQLite (EP_HAVE_SQLITE); without it ep_export_llm says so.
 */
#ifndef EP_EXPORT_LLM_H
#define EP_EXPORT_LLM_H

#include "embedpipe.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ep_export_llm_options {
    const char *db_path;     /* the SQLite file (created when missing) */
    const char *collection;  /* collection name (created when missing) */
    const char *model_id;    /* llm model id of the collection; NULL = "embedpipe/" + the folder's model name */
} ep_export_llm_options;

typedef struct ep_export_llm_summary {
    uint64_t rows;           /* rows read from the folder */
    uint64_t written;        /* rows inserted or replaced (new or changed content_hash) */
    uint64_t unchanged;      /* rows whose content_hash was already there */
    char model_id[300];      /* the collection's model id */
    bool complete;           /* the folder holds a complete run of the whole input */
} ep_export_llm_summary;

/* @return true when this build can write llm databases (it found SQLite). */
bool ep_export_llm_available(void);

/* Writes (or updates) collection options->collection of options->db_path from
 * the output folder dir, read through the checked reader (as export.h).
 * A row without an id gets "<input path>:<line>".
 * @return EP_OK; EP_ERR_USAGE when built without SQLite or an option is
 *         missing; EP_ERR_MISMATCH when the collection exists with another
 *         model, or the database's llm schema is older than this one (the
 *         message says to open it once with `llm`); EP_ERR_IO naming the
 *         database for SQLite errors; the reader's errors. */
ep_status ep_export_llm(const char *dir, const ep_export_llm_options *options, ep_export_llm_summary *summary,
                        ep_error *err);

#ifdef __cplusplus
}
#endif

#endif /* EP_EXPORT_LLM_H */
