/*
 * md5.h - MD5 (RFC 1321), only because `llm` keys its embeddings by the MD5
 * of their content (llm/embeddings.py: Collection.content_hash), and
 * `export --to llm` must write the same key. Not for anything that needs a
 * secure hash: that is SHA-256 (common/sha256.h).
 */
#ifndef EP_MD5_H
#define EP_MD5_H

#include <stddef.h>
#include <stdint.h>

/* Writes the 16-byte MD5 digest of data[0..len) to out. */
void ep_md5(const void *data, size_t len, uint8_t out[16]);

#endif /* EP_MD5_H */
