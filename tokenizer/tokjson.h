/*
 * tokjson.h - what the tokenizer.json loader's files share: the parse context,
 * the strict value readers (tokjson_util.c) and each part's parser
 * (tokjson_model.c, tokjson_parts.c, postprocess.c).
 *
 * Strict means: a value that decides ids must be present when tokenizers
 * requires it and of the right type and range, and a component type embedpipe
 * does not implement is refused by name, with the list of what is supported.
 * Keys tokenizers itself ignores are ignored here too (they cannot change ids).
 * Every message names the file and the JSON path ("normalizer.normalizers[2]").
 */
#ifndef EP_TOKJSON_H
#define EP_TOKJSON_H

#include <cjson/cJSON.h>

#include "chain.h"
#include "tokenizer_internal.h"

typedef struct ep_tokjson {
    const char *file; // the path (or name) of the tokenizer.json, for messages
    ep_error *err;
} ep_tokjson;

// Sets err to "tokenizer.json FILE: PATH: <message>". @return code.
ep_status ep_tokjson_fail(const ep_tokjson *j, ep_status code, const char *path, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

// Typed members of obj (at path). A required member that is absent is an error;
// an optional one leaves *out at the default the caller set. @return EP_OK or EP_ERR_FORMAT.
ep_status ep_tokjson_bool(const ep_tokjson *j, const cJSON *obj, const char *path, const char *key, bool required,
                          bool *out);
ep_status ep_tokjson_int(const ep_tokjson *j, const cJSON *obj, const char *path, const char *key, bool required,
                         long lo, long hi, long *out);
// *out points into the cJSON tree.
ep_status ep_tokjson_string(const ep_tokjson *j, const cJSON *obj, const char *path, const char *key, bool required,
                            const char **out);
// The "type" of a component object. @return EP_OK or EP_ERR_FORMAT.
ep_status ep_tokjson_type(const ep_tokjson *j, const cJSON *obj, const char *path, const char **type);
// @return a child path: "path.key" (or "path[i]" when key is NULL) in buf.
const char *ep_tokjson_path(char *buf, size_t cap, const char *path, const char *key, int index);

// The model ("model"): the vocabulary into tok (strings, tables, unk_id) and the model kind
// and its data into c. @return EP_OK, EP_ERR_FORMAT, EP_ERR_MODEL (unsupported), EP_ERR_NOMEM.
ep_status ep_tokjson_model(const ep_tokjson *j, const cJSON *model, ep_tokenizer *tok, ep_tok_chain *c);

// "normalizer" (null, one, or a Sequence) appended to c->norm; lowercase >= 0 replaces a
// BertNormalizer's own setting. @return as ep_tokjson_model.
ep_status ep_tokjson_normalizer(const ep_tokjson *j, const cJSON *node, const char *path, int lowercase,
                                ep_tok_chain *c);

// "pre_tokenizer" (null, one, or a Sequence) appended to c->pre. @return as ep_tokjson_model.
ep_status ep_tokjson_pre_tokenizer(const ep_tokjson *j, const cJSON *node, const char *path, ep_tok_chain *c);

// "post_processor" into tok->prefix / tok->suffix (single-sequence template).
// @return as ep_tokjson_model.
ep_status ep_tokjson_post_processor(const ep_tokjson *j, const cJSON *node, ep_tokenizer *tok);

#endif /* EP_TOKJSON_H */
