/*
 * keep_scan.h - the kept fields (--keep) of a plain JSON record, read by the
 * record fast path (json_scan.h) from the raw bytes without a cJSON tree. It
 * writes the same JSON object text as ep_keep_build (reader_keep.h) writes
 * from the tree, byte for byte, or says "defer" when the record needs cJSON:
 * a key that appears twice on a path looked up, a kept value that is not
 * valid UTF-8, out of memory. The derived columns of "default" are found
 * where keep_columns.h says, like ep_keep_build's. Private to io/input/.
 */
#ifndef EP_KEEP_SCAN_H
#define EP_KEEP_SCAN_H

#include "json_scan.h"
#include "reader_keep.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ep_keep_scan_build's answer when cJSON must build the fields. */
#define EP_KEEP_SCAN_DEFER ((size_t)-1)

/* One element of an API page's includes.users: its "id" (decoded into ep_keep_scan.ids) and where
 * its "username" string is. */
typedef struct ep_keep_scan_user {
    size_t id;                /* offset into ids, or SIZE_MAX when "id" is not a string */
    size_t name;              /* offset of the "username" string in the frame, or 0 when it is not one */
} ep_keep_scan_user;

/* Buffers for the strings decoded on the way, kept from record to record so that a plain record
 * allocates nothing, and the frame's includes.users, read once for all the tweets of an API page
 * (looked up tweet by tweet, a page of a hundred tweets and users read its users ten thousand
 * times). Zero it to start; free with ep_keep_scan_release. */
typedef struct ep_keep_scan {
    char *buf[3];
    size_t cap[3];
    int users_state;          /* 0: includes.users not read yet for this frame; 1: read; 2: cJSON must read it */
    ep_keep_scan_user *users;
    size_t n_users, cap_users;
    char *ids;                /* the users' ids, decoded, each NUL-terminated */
    size_t ids_len, ids_cap;
} ep_keep_scan;

/* Forgets the frame's includes.users: call it for each new frame (keeps the memory). */
void ep_keep_scan_reset(ep_keep_scan *ks);

/* Frees the buffers. Accepts a zeroed ks. */
void ep_keep_scan_release(ep_keep_scan *ks);

/* What one record hands the builder: as ep_keep_source, with offsets into the raw bytes for nodes. */
typedef struct ep_keep_scan_source {
    const char *s;            /* the frame's bytes, which ep_jscan_plain accepted (NUL-terminated) */
    size_t root;              /* offset of the document's top-level object (an API page's, for its tweets) */
    size_t obj;               /* offset of the record's object */
    const char *id;           /* the record's id ("" = none) */
    const char *text;         /* the text as found, before --clean */
    const char *account;      /* the export's account name, or NULL */
    size_t max_value;         /* a printed value longer than this is stored as null */
} ep_keep_scan_source;

/* Builds the kept columns of src as one JSON object text into *buf (grown as needed; *cap its size),
 * looking values up through cache (the record's member index, json_scan.h).
 * @return the length, or EP_KEEP_SCAN_DEFER: build them with ep_keep_build from cJSON's tree. */
size_t ep_keep_scan_build(const ep_keep *k, const ep_keep_scan_source *src, ep_jscan_cache *cache, ep_keep_scan *ks,
                          char **buf, size_t *cap);

#ifdef __cplusplus
}
#endif

#endif /* EP_KEEP_SCAN_H */
