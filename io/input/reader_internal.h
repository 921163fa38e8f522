/*
 * reader_internal.h - what reader.c (NDJSON, lines, the public interface) and
 * reader_array.c (the tweets.js / archive.json state machine) share: the
 * reader's state and the helpers that return records, rejections and errors.
 * Private to io/input/.
 */
#ifndef EP_READER_INTERNAL_H
#define EP_READER_INTERNAL_H

#include "reader.h"
#include "reader_fields.h"
#include "reader_input.h"
#include "reader_keep.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#define MAX_ARCHIVE_KEYS 16

/* Where the tweets.js / archive.json state machine stands. */
typedef enum {
    ST_START,        /* before the prefix / the opening '{' */
    ST_ARRAY_FIRST,  /* just after an array's '[' */
    ST_ARRAY_NEXT,   /* after an element: ',' or ']' next */
    ST_OBJECT_FIRST, /* archive.json, just after the top-level '{' */
    ST_OBJECT_NEXT,  /* archive.json, after a top-level value: ',' or '}' next */
    ST_TRAILER,      /* after the outermost ']' or '}': only whitespace (or ';') may follow */
    ST_DONE,
    ST_FAILED
} frame_state;

struct ep_reader {
    char *path;
    ep_input_format format;
    char *text_path, *id_path;       /* copies of the options' paths */
    const char *given_text[1], *given_id[1];
    ep_field_paths paths;
    char *archive_keys_buf;
    const char *archive_keys[MAX_ARCHIVE_KEYS];
    size_t n_archive_keys;
    ep_keep keep;                    /* --keep, parsed */
    char account[128];               /* the export's account name ("" = unknown) */

    ep_reader_input in;              /* window, line count, record bytes */

    cJSON *doc;                      /* the parsed current record */
    const cJSON *page_item;          /* next element of an API page's "data" array */
    size_t page_index;
    uint64_t page_line;
    ep_fields fields;
    char reason[1024];

    frame_state state;
    uint64_t open_line;              /* line of the array / object being read */
    bool found_array;                /* archive.json: a selected array was seen */
    uint64_t emitted;                /* records and rejections returned */
    uint64_t good_byte, good_line;   /* just past the last record returned: where damage found next begins */
    char warning[512];               /* a doubt about the detected format, or "" */
    ep_error fatal;                  /* repeated on every call after a structural error */
};

/* Stops reading for good (the file's structure is broken beyond one record): every later
 * call repeats the error. @return EP_ERR_FORMAT, with err (when non-NULL) naming path:line. */
ep_status ep_reader_fail(ep_reader *r, ep_error *err, uint64_t line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* Returns a rejection of the record at line with r->reason (and the id, if known). */
void ep_reader_set_reject(ep_reader *r, ep_record *rec, ep_read_kind *kind, uint64_t line, const char *id);

/* Returns the rejection of a record longer than max_record_bytes. */
void ep_reader_reject_too_big(ep_reader *r, ep_record *rec, ep_read_kind *kind, uint64_t line);

/* Parses the current record's bytes into r->doc (reader_record.c).
 * @return the document, or NULL with r->reason set. */
cJSON *ep_reader_parse_rec(ep_reader *r, uint64_t line, bool one_line, bool truncated);

/* Returns the text and id of one JSON object as a record, or its rejection. */
void ep_reader_emit_fields(ep_reader *r, const cJSON *obj, const char *where, uint64_t line, ep_record *rec,
                           ep_read_kind *kind);

/* One step of the tweets.js / archive.json state machine (reader_array.c): *produced says
 * whether rec / kind hold a result. @return EP_OK, or the error that stopped the file. */
ep_status ep_reader_next_framed(ep_reader *r, ep_record *rec, ep_read_kind *kind, bool *produced, ep_error *err);

#endif /* EP_READER_INTERNAL_H */
