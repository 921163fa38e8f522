/*
 * reader_input.h - the reader's view of its byte source: a 64 KiB window that
 * counts lines as bytes are used, and a record buffer that keeps at most
 * max_record bytes of a line or framed JSON value while counting them all,
 * so that an oversized record is measured and skipped, never stored whole.
 * Internal to the reader.
 */
#ifndef EP_READER_INPUT_H
#define EP_READER_INPUT_H

#include "byte_source.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EP_INPUT_WINDOW (1u << 16)

typedef struct ep_reader_input {
    const char *path;        /* for messages; owned by the caller */
    ep_byte_source *src;     /* owned: freed by ep_input_release */
    unsigned char *win;      /* EP_INPUT_WINDOW bytes; [pos, end) not yet used */
    size_t pos, end;
    bool eof;                /* the source has no more bytes */
    uint64_t line;           /* line of win[pos], 1-based */
    uint64_t consumed;       /* decompressed bytes used */
    size_t max_record;
    char *rec;               /* the current record's bytes, NUL-terminated */
    size_t rec_len, rec_cap;
    uint64_t rec_total;      /* the record's full size, also when too big to keep */
    bool rec_too_big;        /* over max_record: rec holds only a prefix */
} ep_reader_input;

/* Sets in up over src (taking it over). @return EP_OK or EP_ERR_NOMEM. */
ep_status ep_input_init(ep_reader_input *in, ep_byte_source *src, const char *path, size_t max_record,
                        ep_error *err);
/* Frees the window, the record buffer and the source. */
void ep_input_release(ep_reader_input *in);

/* Reads more bytes behind the unread ones. @return EP_OK (eof set at the end) or the source's error. */
ep_status ep_input_fill(ep_reader_input *in, ep_error *err);
/* Moves past n window bytes, counting lines. */
void ep_input_consume(ep_reader_input *in, size_t n);
/* *c = the next byte, or -1 at the end of the data. @return EP_OK or the source's error. */
ep_status ep_input_peek(ep_reader_input *in, int *c, ep_error *err);
/* Skips JSON whitespace; *c = the byte after it, or -1. @return EP_OK or the source's error. */
ep_status ep_input_skip_space(ep_reader_input *in, int *c, ep_error *err);
/* Reads the next line (without '\n') into the record buffer. *got = false at
 * the end of the data; *newline = whether the line ended with '\n'.
 * @return EP_OK, EP_ERR_NOMEM or the source's error. */
ep_status ep_input_read_line(ep_reader_input *in, bool *got, bool *newline, ep_error *err);
/* Frames one JSON value starting at the next (non-space) byte, keeping its
 * bytes when store; *complete = false when the data ended inside it.
 * @return EP_OK, EP_ERR_NOMEM or the source's error. */
ep_status ep_input_read_value(ep_reader_input *in, bool store, bool *complete, ep_error *err);

#ifdef __cplusplus
}
#endif

#endif /* EP_READER_INPUT_H */
