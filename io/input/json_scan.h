/*
 * json_scan.h - a strict, allocation-free JSON scanner for the record fast
 * path (record_extract.c): it checks a record once, then finds values by
 * dotted path in the raw bytes and decodes the few strings wanted, without
 * building a tree. It accepts only a plain subset of what cJSON accepts (see
 * ep_jscan_plain), so that whatever it takes, cJSON would take the same way;
 * anything else goes to the cJSON path, which also words every rejection.
 * Private to io/input/.
 */
#ifndef EP_JSON_SCAN_H
#define EP_JSON_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Nesting deeper than this is left to cJSON (whose limit is 1000). */
#define EP_JSCAN_MAX_DEPTH 64

/* A number token this long or longer is left to cJSON (which reads at most 63 of its bytes). */
#define EP_JSCAN_MAX_NUMBER 60

/* @return true when s[0..len) is one JSON value, surrounded by nothing but spaces, tabs and line
 * ends, that keeps to the plain subset: strict JSON numbers shorter than EP_JSCAN_MAX_NUMBER,
 * strings without raw control bytes, escapes only \" \\ \/ \b \f \n \r \t and \uXXXX with
 * surrogates in pairs and never \u0000, object keys without escapes, nesting at most
 * EP_JSCAN_MAX_DEPTH. Every such document cJSON parses to the same values. */
bool ep_jscan_plain(const char *s, size_t len);

/* The scanner's answer for a lookup. */
typedef enum {
    EP_JSCAN_MISSING = 0, /* no such value: as ep_json_path's NULL */
    EP_JSCAN_FOUND = 1,   /* *at is the value's first byte */
    EP_JSCAN_DEFER = 2,   /* a key on the way appears twice: leave the record to cJSON */
} ep_jscan_result;

/* One member of an object: its key's bytes (no escapes) and the offset of its value. */
typedef struct ep_jscan_member {
    const char *key;
    uint32_t key_len;
    uint32_t value;
} ep_jscan_member;

/* Member lists of the objects looked into, so that each is scanned once per record. */
typedef struct ep_jscan_cache {
    size_t objects[8];          /* offsets of the indexed objects */
    size_t first[8], count[8];  /* their members in members[] */
    size_t n_objects;
    ep_jscan_member *members;
    size_t n_members, cap_members;
} ep_jscan_cache;

/* Forgets the objects indexed so far (keeps the memory). */
void ep_jscan_cache_reset(ep_jscan_cache *c);

/* Frees the cache's memory. */
void ep_jscan_cache_release(ep_jscan_cache *c);

/* @return the offset just past the value at s[at] of a document ep_jscan_plain accepted. */
size_t ep_jscan_skip(const char *s, size_t at);

/* Follows a dotted path from the value at s[at] exactly as ep_json_path does over cJSON's tree
 * (object keys, decimal indices below 10 digits into arrays; a step of 256 bytes or more finds
 * nothing) in a document ep_jscan_plain accepted.
 * @return EP_JSCAN_FOUND with *out set, EP_JSCAN_MISSING, or EP_JSCAN_DEFER when a key on the
 *         way appears twice in its object (or out of memory): cJSON must decide. */
ep_jscan_result ep_jscan_path(const char *s, size_t at, const char *path, ep_jscan_cache *c, size_t *out);

/* Walks the elements of an array, or the members of an object, of a document ep_jscan_plain accepted.
 * @return the offset of the first element (an object's: its first key) of the array or object at
 *         s[at], or 0 when it is empty. */
size_t ep_jscan_first(const char *s, size_t at);

/* @return the offset of the value after the one at s[at] in its array (in an object: the next key,
 *         when at is a member's value), or 0 when it was the last. */
size_t ep_jscan_next(const char *s, size_t at);

/* @return the offset of the value of the object member whose key is at s[key]. */
size_t ep_jscan_member_value(const char *s, size_t key);

/* Decodes the string at s[at] (a plain document's) into out, which needs as many bytes as the
 * raw token plus one; NUL-terminates it. @return the decoded length. */
size_t ep_jscan_string(const char *s, size_t at, char *out);

/* @return the length of the raw string token at s[at], quotes included. */
size_t ep_jscan_string_len(const char *s, size_t at);

#ifdef __cplusplus
}
#endif

#endif /* EP_JSON_SCAN_H */
