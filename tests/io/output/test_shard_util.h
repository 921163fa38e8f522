/*
 * test_shard_util.h - helpers shared by the shard, manifest and verify tests:
 * zstd framing of hand-made content (scratch folders, random data and
 * whole-file read/write are test_util.h's).
 */
#ifndef EP_TEST_SHARD_UTIL_H
#define EP_TEST_SHARD_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "test_util.h"

/* Writes data as one zstd frame (content size in the header, checksum when
 * asked) to path. @return 0 on success. */
static inline int ts_write_zst(const char *path, const void *data, size_t len, int checksum) {
    ZSTD_CCtx *c = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, checksum);
    size_t cap = ZSTD_compressBound(len);
    void *out = malloc(cap);
    size_t n = ZSTD_compress2(c, out, cap, data, len);
    ZSTD_freeCCtx(c);
    int rc = ZSTD_isError(n) ? -1 : ep_test_write_file(path, out, n);
    free(out);
    return rc;
}

/* @return a malloc'd copy of the decompressed single frame in path, or NULL. */
static inline uint8_t *ts_read_zst(const char *path, size_t *len) {
    size_t n;
    uint8_t *raw = ep_test_read_file(path, &n);
    if (!raw) return NULL;
    unsigned long long size = ZSTD_getFrameContentSize(raw, n);
    uint8_t *out = NULL;
    if (size != ZSTD_CONTENTSIZE_ERROR && size != ZSTD_CONTENTSIZE_UNKNOWN) {
        out = malloc(size ? size : 1);
        size_t got = ZSTD_decompress(out, size, raw, n);
        if (ZSTD_isError(got) || got != size) {
            free(out);
            out = NULL;
        }
        *len = (size_t)size;
    }
    free(raw);
    return out;
}

#endif /* EP_TEST_SHARD_UTIL_H */
