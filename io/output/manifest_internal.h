/* manifest_internal.h - what manifest.c (read, write) and verify.c share. Private to io/output/. */
#ifndef EP_MANIFEST_INTERNAL_H
#define EP_MANIFEST_INTERNAL_H

#define MANIFEST_NAME "manifest.json"
#define ERRORS_FILE "errors.ndjson"

/* "shard-NNNNN.npy.zst" and "shard-NNNNN.ids.ndjson.zst" with the same
 * number of at least five digits (verify.c). @return the shard number, or -1. */
long long ep_manifest_shard_number(const char *name, const char *ids_name);

#endif /* EP_MANIFEST_INTERNAL_H */
