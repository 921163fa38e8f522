/*
 * reader_keep.h - what travels with a record besides its text and id: the
 * kept fields (--keep, one JSON object text per record) and the opt-in text
 * preparation for tweets (--clean). Internal to the reader; the public
 * parsers of both settings are in reader.h. Written in three files:
 * reader_keep.c (the list, the JSON object of a record's columns),
 * reader_keep_default.c (the columns of "default", the export's account)
 * and reader_clean.c (--clean).
 */
#ifndef EP_READER_KEEP_H
#define EP_READER_KEEP_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "reader.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EP_KEEP_MAX 64

/* A parsed --keep list: the dotted paths in the order given, and whether
 * "default" asked for the derived tweet columns (created_at, author, url,
 * lang, is_reply, is_retweet), which come first. */
typedef struct ep_keep {
    char *buf;                        /* owned copy of the list, cut into paths */
    const char *paths[EP_KEEP_MAX];
    size_t n_paths;
    bool defaults;
} ep_keep;

/* Parses spec into k (NULL or "" = nothing kept).
 * @return EP_OK, or EP_ERR_USAGE naming the bad entry (empty step, a reserved
 *         column name, a column kept twice, too many). */
ep_status ep_keep_parse(const char *spec, ep_keep *k, ep_error *err);

/* Frees what ep_keep_parse allocated. Accepts a zeroed k. */
void ep_keep_release(ep_keep *k);

/* @return true when k keeps anything. */
static inline bool ep_keep_any(const ep_keep *k) { return k && (k->defaults || k->n_paths > 0); }

/* What one record hands the fields builder. obj/root are NULL for plain lines
 * (every kept column is then null). */
typedef struct ep_keep_source {
    const cJSON *root, *obj;      /* the parsed document and the record's object in it */
    const char *raw;              /* the record's bytes, for numbers' exact digits */
    size_t raw_len;
    const char *id;               /* the record's id ("" = none) */
    const char *text;             /* the text as found, before --clean */
    const char *account;          /* the export's account name (account.js / archive.json), or NULL */
    size_t max_value;             /* a printed value longer than this is stored as null */
} ep_keep_source;

/* Builds the kept columns of one record as one JSON object text into *buf
 * (grown as needed; *cap its size). Bytes that are not UTF-8 become U+FFFD.
 * @return the length, or (size_t)-1 when out of memory. */
size_t ep_keep_build(const ep_keep *k, const ep_keep_source *src, char **buf, size_t *cap);

/* Applies the --clean flags (EP_CLEAN_*) to text[0..len) into *buf (grown as
 * needed). *skip is set when EP_CLEAN_RETWEETS is on and the text is a
 * retweet ("RT @name: ..."); the record is then dropped by the caller.
 * @return the cleaned length, or (size_t)-1 when out of memory. */
size_t ep_text_clean(const char *text, size_t len, unsigned flags, char **buf, size_t *cap, bool *skip);

/* Reads the account name (account.username) of a Twitter export from the
 * account.js beside a tweets.js at path, into out (cap bytes; "" when none).
 * Anything missing or unreadable just leaves out empty: the author is then null. */
void ep_keep_export_account(const char *tweets_js_path, char *out, size_t cap);

/* Takes account.username out of archive.json's parsed "account" value. */
void ep_keep_archive_account(const cJSON *account, char *out, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* EP_READER_KEEP_H */
