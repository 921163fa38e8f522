/*
 * json_frame.c - value boundaries in a JSON byte stream (see json_frame.h).
 */
#include "json_frame.h"

#include <string.h>

void ep_json_frame_begin(ep_json_frame *f) { memset(f, 0, sizeof *f); }

/* One byte inside a string. @return true when it closed the string. */
static bool string_byte(ep_json_frame *f, int c) {
    if (f->escape) {
        f->escape = false;
        return false;
    }
    if (c == '\\') {
        f->escape = true;
        return false;
    }
    if (c == '"') {
        f->in_string = false;
        return true;
    }
    return false;
}

size_t ep_json_frame_feed(ep_json_frame *f, const unsigned char *p, size_t n) {
    size_t i = 0;
    if (n == 0 || f->done) return 0;
    if (!f->started) {
        f->started = true;
        int c = p[0];
        i = 1;
        if (c == '{' || c == '[') {
            f->depth = 1;
        } else if (c == '"') {
            f->in_string = true;
        } else {
            // The first byte is always taken, even a stray delimiter, so that callers always move forward.
            f->bare = true;
        }
    }
    if (f->bare) {
        for (; i < n; i++) {
            int c = p[i];
            if (c == ',' || c == ']' || c == '}' || c == '[' || c == '{' || c == '"' || ep_json_is_space(c)) {
                f->done = true;
                return i;
            }
        }
        return i;
    }
    while (i < n) {
        if (f->in_string) {
            // Fast path: ordinary string bytes.
            if (!f->escape) {
                while (i < n && p[i] != '"' && p[i] != '\\') i++;
                if (i == n) break;
            }
            bool closed = string_byte(f, p[i++]);
            if (closed && f->depth == 0) {
                f->done = true;
                return i;
            }
            continue;
        }
        int c = p[i++];
        if (c == '"') {
            f->in_string = true;
        } else if (c == '{' || c == '[') {
            f->depth++;
        } else if (c == '}' || c == ']') {
            if (--f->depth == 0) {
                f->done = true;
                return i;
            }
        }
    }
    return i;
}
