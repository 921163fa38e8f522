/*
 * fixture_util.h - reading the committed reference fixtures (zstd-compressed
 * NDJSON and .npy files written by scripts/make-reference.py) and lines of
 * the shared data files.
 */
#ifndef EP_FIXTURE_UTIL_H
#define EP_FIXTURE_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

/* Reads a whole file, decompressing it when its name ends in .zst.
 * @return a malloc'd, NUL-terminated buffer (length in *len), or NULL after printing why. */
static inline char *ep_fixture_read(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open fixture %s (regenerate with scripts/make-reference.py)\n", path);
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *raw = malloc(cap);
    size_t got;
    while (raw && (got = fread(raw + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) raw = realloc(raw, cap *= 2);
    }
    fclose(f);
    if (!raw) return NULL;
    size_t plen = strlen(path);
    if (plen < 4 || strcmp(path + plen - 4, ".zst") != 0) {
        raw = realloc(raw, n + 1);
        raw[n] = '\0';
        *len = n;
        return raw;
    }
    ZSTD_DStream *ds = ZSTD_createDStream();
    size_t out_cap = n * 4 + 1024, out_n = 0;
    char *out = malloc(out_cap);
    ZSTD_inBuffer in = {raw, n, 0};
    while (out && in.pos < in.size) {
        if (out_cap - out_n < 1 << 16) out = realloc(out, out_cap *= 2);
        ZSTD_outBuffer ob = {out + out_n, out_cap - out_n - 1, 0};
        size_t r = ZSTD_decompressStream(ds, &ob, &in);
        out_n += ob.pos;
        if (ZSTD_isError(r)) {
            fprintf(stderr, "fixture %s: %s\n", path, ZSTD_getErrorName(r));
            free(out);
            out = NULL;
        }
    }
    ZSTD_freeDStream(ds);
    free(raw);
    if (!out) return NULL;
    out[out_n] = '\0';
    *len = out_n;
    return out;
}

/* The lines of a file, split on '\n' only (a '\r' stays part of its line). */
typedef struct ep_fixture_lines {
    char *data;
    char **line;   /* line[i] = i-th line (0-based), NUL-terminated */
    size_t *len;
    size_t n;
} ep_fixture_lines;

static inline int ep_fixture_lines_load(const char *path, ep_fixture_lines *out) {
    size_t n = 0;
    memset(out, 0, sizeof *out);
    out->data = ep_fixture_read(path, &n);
    if (!out->data) return -1;
    size_t count = 1;
    for (size_t i = 0; i < n; i++) count += out->data[i] == '\n';
    out->line = malloc(sizeof(char *) * count);
    out->len = malloc(sizeof(size_t) * count);
    char *p = out->data, *end = out->data + n;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        out->line[out->n] = p;
        out->len[out->n] = l;
        out->n++;
        p[l] = '\0';
        p += l + 1;
    }
    return 0;
}

static inline void ep_fixture_lines_free(ep_fixture_lines *l) {
    free(l->data);
    free(l->line);
    free(l->len);
    memset(l, 0, sizeof *l);
}

/* Parses a .npy v1/v2 float32 2-D array in memory. @return pointer to the data, or NULL. */
static inline const float *ep_fixture_npy_f32(const char *buf, size_t len, size_t *rows, size_t *cols) {
    if (len < 10 || memcmp(buf, "\x93NUMPY", 6) != 0) return NULL;
    size_t hlen, off;
    if (buf[6] == 1) {
        hlen = (unsigned char)buf[8] | ((size_t)(unsigned char)buf[9] << 8);
        off = 10;
    } else {
        hlen = (unsigned char)buf[8] | ((size_t)(unsigned char)buf[9] << 8) |
               ((size_t)(unsigned char)buf[10] << 16) | ((size_t)(unsigned char)buf[11] << 24);
        off = 12;
    }
    if (off + hlen > len) return NULL;
    const char *h = buf + off;
    if (!strstr(h, "'<f4'")) return NULL;
    const char *shape = strstr(h, "'shape': (");
    if (!shape || sscanf(shape, "'shape': (%zu, %zu)", rows, cols) != 2) return NULL;
    if (off + hlen + *rows * *cols * 4 > len) return NULL;
    return (const float *)(buf + off + hlen);
}

#endif /* EP_FIXTURE_UTIL_H */
