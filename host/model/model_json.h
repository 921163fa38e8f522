/*
 * model_json.h - reading the JSON files of a model folder (private to host/model/).
 *
 * Every config file of a sentence-transformers folder is read the same way: the path dir/name,
 * the file parsed (a malformed one named with its line and column), its top-level shape checked,
 * the caller's reader run on it, the tree freed. ep_model_json_read is that prologue and epilogue,
 * written once; the typed getters below give every message the same form ("PATH: \"key\" must be
 * ..., found ...").
 */
#ifndef EP_MODEL_JSON_H
#define EP_MODEL_JSON_H

#include "embedpipe.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/* What the top level of a file must be, and whether the file may be absent. */
enum {
    EP_JSON_OBJECT = 0,   /* a JSON object (the default) */
    EP_JSON_ARRAY = 1,    /* a JSON array (modules.json) */
    EP_JSON_ANY = 2,      /* anything (tokenizer.json, consulted for one key) */
    EP_JSON_OPTIONAL = 4, /* an absent file is not an error: the reader is called with root NULL */
};

/* A reader of one parsed file: root (NULL for an absent optional file) and its path for messages.
 * @return EP_OK, or an error with err filled. */
typedef ep_status (*ep_json_reader)(const cJSON *root, const char *path, void *ctx, ep_error *err);

/* Parses dir/name (flags: EP_JSON_*) and calls read(root, path, ctx); frees the tree after.
 * @return what read returns; EP_ERR_MODEL for a missing required file (with the fetch hint),
 *         EP_ERR_FORMAT for malformed JSON (file:line:col) or a top level of the wrong shape,
 *         EP_ERR_IO when it cannot be read. */
ep_status ep_model_json_read(const char *dir, const char *name, unsigned flags, ep_json_reader read, void *ctx,
                             ep_error *err);

/* An integer key in [lo, hi]; dflt < 0 means required.
 * @return EP_OK and *out; EP_ERR_MODEL naming path, key and what was found. */
ep_status ep_json_int(const cJSON *obj, const char *path, const char *key, long lo, long hi, long dflt, int *out,
                      ep_error *err);

/* A boolean key; *present says whether it was there (null counts as absent), *out is set only then.
 * @return EP_OK; EP_ERR_MODEL for a non-boolean value. */
ep_status ep_json_bool(const cJSON *obj, const char *path, const char *key, bool *out, bool *present, ep_error *err);

/* A string key; *out is NULL when absent or null.
 * @return EP_OK; EP_ERR_MODEL for a non-string value. */
ep_status ep_json_string(const cJSON *obj, const char *path, const char *key, const char **out, ep_error *err);

/* Writes item as compact JSON into buf (cut to 60 characters with "..."; "nothing" for NULL), for messages. */
void ep_json_describe(const cJSON *item, char *buf, size_t cap);

#endif /* EP_MODEL_JSON_H */
