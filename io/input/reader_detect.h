/*
 * reader_detect.h - guesses an input file's format from its first bytes and
 * its name (the rules are listed in reader.h). Internal to the reader.
 */
#ifndef EP_READER_DETECT_H
#define EP_READER_DETECT_H

#include "reader.h"

#ifdef __cplusplus
extern "C" {
#endif

/* p holds the first n decompressed bytes (after a byte order mark); whole says
 * they are the entire file. archive_keys are the top-level keys the caller
 * reads from an archive.json (they count as archive keys here too).
 * @return the format; never EP_FORMAT_AUTO. */
ep_input_format ep_detect_format(const unsigned char *p, size_t n, bool whole, const char *name,
                                 const char *const *archive_keys, size_t n_archive_keys);

/* A JavaScript assignment of an array at p[0..n): `<name>(.<name>)* = [`, with
 * an optional `var` / `let` / `const` before it, on the first line (as in
 * `window.YTD.tweets.part0 = [`, `YTD.tweet.part1 = [`, `var tweets = [`).
 * @return the offset of its '[', or 0 when p does not start so. */
size_t ep_detect_js_prefix(const unsigned char *p, size_t n);

/* Counts, among the first lines of p[0..n) (up to 20 that are not blank),
 * those that look like pieces of JSON: starting with { [ } ] or "key":.
 * @return true when at least 3 were counted and more than half look like JSON. */
bool ep_detect_json_like_lines(const unsigned char *p, size_t n, int *like, int *total);

/* @return "UTF-16LE" / "UTF-16BE" when p starts with that byte order mark, or
 * holds ASCII text with a NUL beside every byte (UTF-16 without a mark); NULL
 * otherwise. */
const char *ep_detect_utf16(const unsigned char *p, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* EP_READER_DETECT_H */
