/*
 * json_frame.h - finds where one JSON value ends in a byte stream, so that
 * the elements of a huge array (tweets.js, archive.json) can be cut out one
 * by one and handed to cJSON. It tracks only nesting depth, strings and
 * escapes: it is not a parser, and cJSON still judges every element.
 */
#ifndef EP_JSON_FRAME_H
#define EP_JSON_FRAME_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ep_json_frame {
    long depth;         /* open '{' / '[' not yet closed */
    bool started;       /* the first byte has been seen */
    bool bare;          /* a number or literal: ends at a delimiter, which is not consumed */
    bool in_string;
    bool escape;        /* the previous byte was a backslash inside a string */
    bool done;          /* the value is complete */
} ep_json_frame;

/* Resets f for the next value. */
void ep_json_frame_begin(ep_json_frame *f);

/* Feeds the next n bytes of a value whose first byte is non-space. Stops
 * after the value's last byte (f->done), or at the delimiter that ends a bare
 * number or literal (not consumed), or when the n bytes are used up.
 * @return the number of bytes consumed (at least 1 when n > 0 and not done). */
size_t ep_json_frame_feed(ep_json_frame *f, const unsigned char *p, size_t n);

/* @return true for the bytes JSON counts as whitespace. */
static inline bool ep_json_is_space(int c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

#ifdef __cplusplus
}
#endif

#endif /* EP_JSON_FRAME_H */
