/*
 * reader_keep_internal.h - what the files behind reader_keep.h share: the
 * growing JSON text a record's kept columns are written into (reader_keep.c),
 * the "default" columns written into it (reader_keep_default.c), and the tweet
 * text tests that the --clean steps and the default columns both make
 * (reader_clean.c). Internal to io/input.
 */
#ifndef EP_READER_KEEP_INTERNAL_H
#define EP_READER_KEEP_INTERNAL_H

#include "keep_columns.h"
#include "reader_keep.h"

#include <stdbool.h>
#include <stddef.h>

#define EP_COUNT(a) (sizeof(a) / sizeof *(a))

/* Grows *buf (of *cap bytes, possibly NULL) to hold need bytes, doubling from 256.
 * @return false when out of memory (*buf is then unchanged). */
bool ep_keep_grow(char **buf, size_t *cap, size_t need);

/* A JSON text being written into a caller's growing buffer; `failed` once out of memory (later writes do nothing). */
typedef struct ep_keep_out {
    char **buf;
    size_t *cap;
    size_t len;
    bool failed;
} ep_keep_out;

/* Appends n bytes of s, then a NUL that the next write overwrites. */
void ep_keep_out_put(ep_keep_out *b, const char *s, size_t n);

/* Appends the string s. */
void ep_keep_out_puts(ep_keep_out *b, const char *s);

/* Appends s as a JSON string (quotes included; '"', '\\' and control bytes escaped). */
void ep_keep_out_string(ep_keep_out *b, const char *s);

/* Appends the columns "default" stands for (created_at, author, url, lang, is_reply, is_retweet), each
 * "name": value, comma-separated, without braces; every value null when the record is no JSON object. */
void ep_keep_out_default(ep_keep_out *b, const ep_keep_source *s);

/* @return true for a byte of a Twitter screen name: ASCII letters, digits, '_' (keep_columns.h's rule,
 * which the fast path shares). */
static inline bool ep_tweet_name_byte(char c) { return ep_keep_name_byte(c); }

/* @return true for "RT @name:" at the start of s[0..n), how the export and the API write a retweet's text. */
bool ep_tweet_is_retweet_text(const char *s, size_t n);

#endif /* EP_READER_KEEP_INTERNAL_H */
