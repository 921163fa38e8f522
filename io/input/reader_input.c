/*
 * reader_input.c - the reader's input window and record buffer (see reader_input.h).
 */
#include "reader_input.h"

#include <stdlib.h>
#include <string.h>

#include "json_frame.h"

ep_status ep_input_init(ep_reader_input *in, ep_byte_source *src, const char *path, size_t max_record,
                        ep_error *err) {
    memset(in, 0, sizeof *in);
    in->src = src;
    in->path = path;
    in->max_record = max_record;
    in->line = 1;
    in->win = malloc(EP_INPUT_WINDOW);
    if (!in->win) return ep_error_set(err, EP_ERR_NOMEM, "out of memory opening %s", path);
    return EP_OK;
}

void ep_input_release(ep_reader_input *in) {
    ep_byte_source_free(in->src);
    free(in->win);
    free(in->rec);
    memset(in, 0, sizeof *in);
}

// ----------------------------------------------------------------------------
// The input window

/* Reads more bytes behind the unread ones. @return EP_OK (eof set at the end) or the source's error. */
ep_status ep_input_fill(ep_reader_input *in, ep_error *err) {
    if (in->eof) return EP_OK;
    if (in->pos > 0) {
        memmove(in->win, in->win + in->pos, in->end - in->pos);
        in->end -= in->pos;
        in->pos = 0;
    }
    if (in->end == EP_INPUT_WINDOW) return EP_OK;
    size_t got = 0;
    ep_status st = ep_byte_source_read(in->src, in->win + in->end, EP_INPUT_WINDOW - in->end, &got, err);
    if (st != EP_OK) return st;
    if (got == 0) in->eof = true;
    in->end += got;
    return EP_OK;
}

/* Moves past n window bytes, counting lines. */
void ep_input_consume(ep_reader_input *in, size_t n) {
    const unsigned char *p = in->win + in->pos, *e = p + n;
    while ((p = memchr(p, '\n', (size_t)(e - p))) != NULL) {
        in->line++;
        p++;
    }
    in->pos += n;
    in->consumed += n;
}

/* *c = the next byte, or -1 at the end of the data. */
ep_status ep_input_peek(ep_reader_input *in, int *c, ep_error *err) {
    while (in->pos == in->end && !in->eof) {
        ep_status st = ep_input_fill(in, err);
        if (st != EP_OK) return st;
    }
    *c = in->pos < in->end ? in->win[in->pos] : -1;
    return EP_OK;
}

/* Skips JSON whitespace; *c = the byte after it, or -1. */
ep_status ep_input_skip_space(ep_reader_input *in, int *c, ep_error *err) {
    for (;;) {
        ep_status st = ep_input_peek(in, c, err);
        if (st != EP_OK || !ep_json_is_space(*c)) return st;
        ep_input_consume(in, 1);
    }
}

// ----------------------------------------------------------------------------
// The record buffer: keeps at most max_record bytes, counts them all.

static void rec_reset(ep_reader_input *in) {
    in->rec_len = 0;
    in->rec_total = 0;
    in->rec_too_big = false;
    if (in->rec) in->rec[0] = '\0';
}

static ep_status rec_append(ep_reader_input *in, const unsigned char *p, size_t n, ep_error *err) {
    in->rec_total += n;
    if (in->rec_too_big || n == 0) return EP_OK;
    if (in->rec_len + n > in->max_record) {
        in->rec_too_big = true;
        return EP_OK;
    }
    if (in->rec_len + n + 1 > in->rec_cap) {
        size_t cap = in->rec_cap ? in->rec_cap : 4096;
        while (cap < in->rec_len + n + 1) cap *= 2;
        if (cap > in->max_record + 1) cap = in->max_record + 1;
        char *grown = realloc(in->rec, cap);
        if (!grown) return ep_error_set(err, EP_ERR_NOMEM, "out of memory reading %s", in->path);
        in->rec = grown;
        in->rec_cap = cap;
    }
    memcpy(in->rec + in->rec_len, p, n);
    in->rec_len += n;
    in->rec[in->rec_len] = '\0';
    return EP_OK;
}

/* Reads the next line (without '\n') into the record buffer.
 * *got = false at the end of the data; *newline = whether the line ended with '\n'. */
ep_status ep_input_read_line(ep_reader_input *in, bool *got, bool *newline, ep_error *err) {
    rec_reset(in);
    *got = false;
    *newline = false;
    for (;;) {
        if (in->pos == in->end) {
            if (in->eof) return EP_OK;
            ep_status st = ep_input_fill(in, err);
            if (st != EP_OK) return st;
            continue;
        }
        const unsigned char *start = in->win + in->pos;
        const unsigned char *nl = memchr(start, '\n', in->end - in->pos);
        size_t n = nl ? (size_t)(nl - start) : in->end - in->pos;
        ep_status st = rec_append(in, start, n, err);
        if (st != EP_OK) return st;
        *got = true;
        ep_input_consume(in, n + (nl ? 1 : 0));
        if (nl) {
            *newline = true;
            return EP_OK;
        }
    }
}

/* Frames one JSON value that starts at the next (non-space) byte, keeping its
 * bytes when store. *complete = false when the data ended inside it. */
ep_status ep_input_read_value(ep_reader_input *in, bool store, bool *complete, ep_error *err) {
    ep_json_frame f;
    ep_json_frame_begin(&f);
    rec_reset(in);
    *complete = false;
    for (;;) {
        if (in->pos == in->end) {
            if (in->eof) break;
            ep_status st = ep_input_fill(in, err);
            if (st != EP_OK) return st;
            continue;
        }
        size_t n = ep_json_frame_feed(&f, in->win + in->pos, in->end - in->pos);
        if (store) {
            ep_status st = rec_append(in, in->win + in->pos, n, err);
            if (st != EP_OK) return st;
        } else {
            in->rec_total += n;
        }
        ep_input_consume(in, n);
        if (f.done) {
            *complete = true;
            return EP_OK;
        }
    }
    // A number or literal may end with the data itself.
    *complete = f.started && f.bare;
    return EP_OK;
}
