/*
 * reader_fields.h - takes the text and the id out of one JSON record that
 * cJSON has parsed, by dotted paths ("tweet.full_text", "data.0.text"), and
 * says in words why a record cannot be used. Internal to the reader.
 */
#ifndef EP_READER_FIELDS_H
#define EP_READER_FIELDS_H

#include <cjson/cJSON.h>

#include "reader.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Paths tried in order; *_given marks a path the user chose (--text / --id),
 * which must then be present. */
typedef struct ep_field_paths {
    const char *const *text;
    size_t n_text;
    bool text_given;
    const char *const *id;
    size_t n_id;
    bool id_given;
    const struct ep_keep *keep; /* --keep (NULL = nothing kept) */
    unsigned clean;             /* --clean: EP_CLEAN_* */
    const char *account;        /* the export's account name, for "default"'s author (or NULL) */
    size_t max_value;           /* a kept value printed longer than this is stored as null */
} ep_field_paths;

typedef struct ep_fields {
    const char *text;       /* points into the cJSON tree */
    size_t text_len;
    const char *id;         /* "" when the record has none; into the tree or id_digits */
    char id_digits[64];     /* a numeric id, exactly as its digits stand in the source */
    char reason[896];       /* set when rejected */
    char *nul_free;         /* the text decoded again without its \u0000 escapes (owned) */
    bool raw_nul_known;     /* set by the caller: raw_has_nul says whether raw holds "\u0000" at all */
    bool raw_has_nul;       /* (else each string looked for is searched for in the whole of raw) */
    size_t nul_free_cap;
    char *clean;            /* the text after --clean (owned) */
    size_t clean_cap;
    char *fields;           /* the kept fields' JSON object text (owned); see fields_len */
    size_t fields_cap;
    const char *kept;       /* fields when --keep is on, else NULL */
    bool skipped;           /* --clean retweets: the record is a retweet */
} ep_fields;

/* Frees what ep_fields_extract allocated in f. */
void ep_fields_release(ep_fields *f);

/* Finds text and id in obj, a node of the document root parsed from raw
 * (raw_len bytes; used to read numbers' exact digits and to spot \u0000
 * escapes that cJSON would silently cut). where ("" or e.g. "data[3]: ")
 * is put in front of a rejection reason.
 * @return EP_READ_RECORD, or EP_READ_REJECTED with out->reason (and out->id when known). */
ep_read_kind ep_fields_extract(const cJSON *root, const cJSON *obj, const char *raw, size_t raw_len,
                               const ep_field_paths *paths, const char *where, ep_fields *out);

/* The text's last steps, for every format: --clean, then the kept fields
 * (root / obj NULL for plain lines: every kept column null). Sets out->text,
 * text_len, kept and skipped.
 * @return EP_READ_RECORD, or EP_READ_REJECTED with out->reason (a text that
 *         --clean left empty, or out of memory). */
ep_read_kind ep_fields_finish(const cJSON *root, const cJSON *obj, const char *raw, size_t raw_len,
                              const ep_field_paths *paths, const char *text, size_t text_len, const char *id,
                              const char *where, ep_fields *out);

/* Finds the raw bytes [*start, *end) of node (a string or number of root) in raw.
 * @return false when it cannot be found. */
bool ep_json_raw_token(const cJSON *root, const cJSON *node, const char *raw, size_t len, size_t *start, size_t *end);

/* @return true when any text path leads to a node of obj (of any type). */
bool ep_fields_has_text(const cJSON *obj, const ep_field_paths *paths);

/* Follows a dotted path: object keys, and decimal indices into arrays.
 * @return the node, or NULL when a step is missing. */
const cJSON *ep_json_path(const cJSON *node, const char *path);

/* @return "a string", "a number", "null", "a boolean", "an object" or "an array". */
const char *ep_json_type_name(const cJSON *node);

/* @return the offset of the first byte of s that is not valid UTF-8, or len when all are. */
size_t ep_utf8_invalid_at(const char *s, size_t len);

/* Writes at most max bytes of s into out (cap bytes, NUL-terminated) as valid,
 * printable UTF-8 for quoting input inside a message: control bytes become
 * spaces, invalid bytes '?'. */
void ep_snippet(char *out, size_t cap, const char *s, size_t len, size_t max);

#ifdef __cplusplus
}
#endif

#endif /* EP_READER_FIELDS_H */
