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

#ifdef __cplusplus
}
#endif

#endif /* EP_READER_DETECT_H */
