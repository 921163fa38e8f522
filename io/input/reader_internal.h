/*
 * reader_internal.h - what reader.c (NDJSON, lines, the public interface),
 * reader_array.c (the tweets.js / archive.json state machine) and
 * record_extract.c (parsing one framed record) share: the reader's state and
 * the helpers that return frames, rejections and errors. Private to io/input/.
 */
#ifndef EP_READER_INTERNAL_H
#define EP_READER_INTERNAL_H

#include "reader.h"
#include "reader_fields.h"
#include "reader_input.h"
#include "record_extract.h"
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
    char *archive_keys_buf;
    const char *archive_keys[MAX_ARCHIVE_KEYS];
    size_t n_archive_keys;
    ep_keep keep;                    /* --keep, parsed */
    char account[128];               /* the export's account name ("" = unknown) */

    ep_reader_input in;              /* window, line count, record bytes */
    ep_extractor *x;                 /* ep_reader_next's own extractor (the frames' second half) */
    char reason[1024];               /* a rejection the framer gives (too big, no records) */

    frame_state state;
    uint64_t open_line;              /* line of the array / object being read */
    bool found_array;                /* archive.json: a selected array was seen */
    uint64_t emitted;                /* ep_reader_next: records and rejections returned */
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

/* Sets *frame to the record at line (the bytes in r->in.rec), or to its rejection when it was over
 * max_record_bytes; truncated: a last line without '\n'. */
void ep_reader_set_frame(ep_reader *r, ep_frame *frame, ep_frame_kind *kind, uint64_t line, bool truncated);

/* Parses one record's bytes (len of them, bytes[len] == '\0') with cJSON (reader_record.c); one_line:
 * a line of NDJSON (the error says only the column); truncated: the file's last line had no newline.
 * @return the document, or NULL with reason (cap bytes) saying where and why it broke. */
cJSON *ep_parse_record(const char *bytes, size_t len, uint64_t line, bool one_line, bool truncated, char *reason,
                       size_t cap);

/* One step of the tweets.js / archive.json state machine (reader_array.c): *produced says
 * whether frame / kind hold a result. @return EP_OK, or the error that stopped the file. */
ep_status ep_reader_next_framed(ep_reader *r, ep_frame *frame, ep_frame_kind *kind, bool *produced, ep_error *err);

#endif /* EP_READER_INTERNAL_H */
