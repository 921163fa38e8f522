/* manifest_internal.h - what manifest.c (write), manifest_read.c and verify.c share. Private to io/output/. */
#ifndef EP_MANIFEST_INTERNAL_H
#define EP_MANIFEST_INTERNAL_H

#define MANIFEST_NAME "manifest.json"
#define ERRORS_FILE "errors.ndjson"
#define FORMAT_NAME "embedpipe-output"
#define FORMAT_VERSION 1
#define MAX_EXACT_INT 9007199254740992ull /* 2^53: the largest integer a manifest holds exactly */

/* "shard-NNNNN.npy.zst" and "shard-NNNNN.ids.ndjson.zst" with the same
 * number of at least five digits (verify.c). @return the shard number, or -1. */
long long ep_manifest_shard_number(const char *name, const char *ids_name);

#endif /* EP_MANIFEST_INTERNAL_H */
