/* sha256.h - SHA-256 (FIPS 180-4) for weight and shard checksums. */
#ifndef EP_SHA256_H
#define EP_SHA256_H

#include "embedpipe.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ep_sha256 {
    uint32_t state[8];
    uint64_t total_bytes;
    uint8_t block[64];
    size_t block_len;
} ep_sha256;

void ep_sha256_init(ep_sha256 *ctx);
void ep_sha256_update(ep_sha256 *ctx, const void *data, size_t len);
/* Writes the 32-byte digest. The context must be re-initialised before reuse. */
void ep_sha256_final(ep_sha256 *ctx, uint8_t digest[32]);
/* Like ep_sha256_final, but writes 64 lowercase hex digits plus NUL. */
void ep_sha256_final_hex(ep_sha256 *ctx, char hex[65]);
/* Writes the digest of data as 64 lowercase hex digits plus NUL. */
void ep_sha256_hex(const void *data, size_t len, char hex[65]);
/* Hashes a whole file, streaming. @return EP_OK, or EP_ERR_IO naming the file. */
ep_status ep_sha256_file(const char *path, char hex[65], ep_error *err);
/* @return true when s is exactly 64 lowercase hex digits (a digest as this file writes it). */
bool ep_sha256_is_hex(const char *s);

#ifdef __cplusplus
}
#endif

#endif /* EP_SHA256_H */
