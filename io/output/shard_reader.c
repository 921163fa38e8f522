/* shard_reader.c - reads shards back, trusting nothing: one zstd frame with a
 * content checksum, then a strict .npy header whose shape is checked before
 * the rows are allocated. The ids files are read by ids_reader.c and the
 * folder as a whole by output_reader.c, over the same frame reader. */
#include "shard.h"
#include "shard_read_internal.h"

#include "npy.h"
#include "sha256.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zstd.h>
#include <zstd_errors.h>

/* ------------------------------------------------------------------------ */
/* Decompressing one frame into a sink */

#define ZSTD_MAGIC 0xFD2FB528u

/* Opens path for reading and checks its size against check->bytes (when given).
 * @return EP_OK and *out; EP_ERR_IO; EP_ERR_MISMATCH for another size. */
static ep_status open_checked(const char *path, const zfile_check *check, FILE **out, ep_error *err) {
    FILE *f = fopen(path, "rb");
    *out = NULL;
    if (!f && check && errno == ENOENT)
        return ep_error_set(err, EP_ERR_IO, "%s is missing (%s lists it): %s", path, check->what, strerror(errno));
    if (!f) return ep_error_set(err, EP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (check && check->bytes) {
        struct stat sb;
        ep_status st = EP_OK;
        if (fstat(fileno(f), &sb) != 0)
            st = ep_error_set(err, EP_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        else if ((uint64_t)sb.st_size != check->bytes)
            st = ep_error_set(err, EP_ERR_MISMATCH, "%s is %" PRIu64 " bytes but %s says %" PRIu64
                              " (truncated, replaced or swapped with another shard?)", path, (uint64_t)sb.st_size,
                              check->what, check->bytes);
        if (st != EP_OK) {
            fclose(f);
            return st;
        }
    }
    *out = f;
    return EP_OK;
}

/* Checks the first n bytes of the file: the zstd magic, the content-checksum
 * flag, and the content size the frame claims against sink->max_content.
 * @return EP_OK (sink->content_size set); EP_ERR_FORMAT; EP_ERR_MISMATCH. */
static ep_status check_frame_start(const char *path, const uint8_t *buf, size_t n, zsink *sink, ep_error *err) {
    uint32_t magic = n >= 4 ? (uint32_t)buf[0] | (uint32_t)buf[1] << 8 | (uint32_t)buf[2] << 16 | (uint32_t)buf[3] << 24
                            : 0;
    if (magic != ZSTD_MAGIC) return ep_error_set(err, EP_ERR_FORMAT, "%s: not a zstd frame (bad magic number)", path);
    if (n >= 5 && !(buf[4] & 0x04))
        return ep_error_set(err, EP_ERR_FORMAT, "%s: the zstd frame has no content checksum, so it cannot be "
                            "verified (embedpipe always writes one)", path);
    unsigned long long cs = ZSTD_getFrameContentSize(buf, n);
    sink->content_size = cs == ZSTD_CONTENTSIZE_ERROR ? ZSTD_CONTENTSIZE_UNKNOWN : cs;
    if (sink->max_content && sink->content_size != ZSTD_CONTENTSIZE_UNKNOWN && sink->content_size > sink->max_content)
        return ep_error_set(err, EP_ERR_MISMATCH, "%s: the zstd frame says it holds %" PRIu64 " bytes, more than the %"
                            PRIu64 " that manifest.json allows for it (a damaged or hostile file)", path,
                            (uint64_t)sink->content_size, sink->max_content);
    return EP_OK;
}

/* Decompresses n bytes of the file into the sink; *frame_done once the frame ended.
 * @return EP_OK; EP_ERR_FORMAT for corrupt data or data after the frame; the sink's error. */
static ep_status decompress_chunk(ZSTD_DCtx *d, const char *path, const uint8_t *buf, size_t n, uint8_t *out_buf,
                                  size_t out_cap, zsink *sink, bool *frame_done, ep_error *err) {
    ZSTD_inBuffer in = {buf, n, 0};
    while (in.pos < in.size) {
        if (*frame_done)
            return ep_error_set(err, EP_ERR_FORMAT, "%s: data after the end of the zstd frame (one frame expected)",
                                path);
        ZSTD_outBuffer out = {out_buf, out_cap, 0};
        size_t ret = ZSTD_decompressStream(d, &out, &in);
        if (ZSTD_isError(ret)) {
            if (ZSTD_getErrorCode(ret) == ZSTD_error_checksum_wrong)
                return ep_error_set(err, EP_ERR_FORMAT, "%s: zstd content checksum mismatch: the file is corrupt",
                                    path);
            return ep_error_set(err, EP_ERR_FORMAT, "%s: corrupt zstd data: %s", path, ZSTD_getErrorName(ret));
        }
        ep_status st;
        if (out.pos > 0 && (st = sink->write(sink, out_buf, out.pos, err)) != EP_OK)
            return ep_error_prefix(err, "%s", path);
        if (ret == 0) *frame_done = true;
    }
    return EP_OK;
}

/* The verdict on the file's SHA-256 against check->sha256, given the status
 * st of its decoding. A file that is not the one listed is reported as such,
 * not by whatever its bytes first broke: after a format error the rest of the
 * file is hashed too. @return st, or EP_ERR_MISMATCH for another SHA-256. */
static ep_status sha_verdict(const char *path, const zfile_check *check, FILE *f, ep_sha256 *sha, uint8_t *buf,
                             size_t cap, ep_status st, ep_error *err) {
    if (!check || !check->sha256 || st == EP_ERR_IO || st == EP_ERR_NOMEM || !buf) return st;
    if (st != EP_OK) {
        size_t n;
        while ((n = fread(buf, 1, cap, f)) > 0) ep_sha256_update(sha, buf, n);
        if (ferror(f)) return st;
    }
    char hex[65];
    ep_sha256_final_hex(sha, hex);
    if (strcmp(hex, check->sha256) == 0) return st;
    return ep_error_set(err, EP_ERR_MISMATCH, "%s: SHA-256 %s does not match %s (%s): the file was changed, "
                        "corrupted or swapped with another shard after it was written", path, hex, check->what,
                        check->sha256);
}

/* Streams the single zstd frame of path into sink. The frame must carry a
 * content checksum (RFC 8878 frame header descriptor, bit 2) - embedpipe
 * always writes one, and without it corruption could go unnoticed. The
 * SHA-256 is taken of the bytes as they are decompressed, so the file is read
 * once and what was hashed is what was decoded. */
ep_status ep_zstd_read_file(const char *path, const zfile_check *check, zsink *sink, ep_error *err) {
    FILE *f;
    ep_status st = open_checked(path, check, &f, err);
    if (st != EP_OK) return st;
    ep_sha256 sha;
    ep_sha256_init(&sha);
    ZSTD_DCtx *d = ZSTD_createDCtx();
    size_t in_cap = ZSTD_DStreamInSize(), out_cap = ZSTD_DStreamOutSize();
    uint8_t *in_buf = malloc(in_cap), *out_buf = malloc(out_cap);
    bool frame_done = false, first = true;
    if (!d || !in_buf || !out_buf) st = ep_error_set(err, EP_ERR_NOMEM, "%s: out of memory for decompression", path);
    size_t n;
    while (st == EP_OK && (n = fread(in_buf, 1, in_cap, f)) > 0) {
        if (first) {
            first = false;
            if ((st = check_frame_start(path, in_buf, n, sink, err)) != EP_OK) break;
        }
        ep_sha256_update(&sha, in_buf, n);
        st = decompress_chunk(d, path, in_buf, n, out_buf, out_cap, sink, &frame_done, err);
    }
    if (st == EP_OK && ferror(f))
        st = ep_error_set(err, EP_ERR_IO, "%s: read error: %s", path, strerror(errno));
    else if (st == EP_OK && first)
        st = ep_error_set(err, EP_ERR_FORMAT, "%s: the file is empty", path);
    else if (st == EP_OK && !frame_done)
        st = ep_error_set(err, EP_ERR_FORMAT, "%s: truncated: the zstd frame ends early (the file was cut short)",
                          path);
    st = sha_verdict(path, check, f, &sha, in_buf, in_cap, st, err);
    free(in_buf);
    free(out_buf);
    ZSTD_freeDCtx(d);
    fclose(f);
    return st;
}

/* ------------------------------------------------------------------------ */
/* .npy shards */

typedef struct npy_sink {
    zsink base;
    uint8_t *head;           /* preamble + header as it arrives */
    size_t head_len, head_total;
    bool header_done;
    uint64_t rows, cols;
    uint8_t *data;
    size_t data_len, data_cap, data_bytes;
    uint64_t want_rows, want_cols; /* from the manifest; 0 = not known */
} npy_sink;

static ep_status npy_header_complete(npy_sink *s, ep_error *err) {
    ep_status st = ep_npy_parse_f16_header(s->head, s->head_total, &s->rows, &s->cols, err);
    if (st != EP_OK) return st;
    /* Before anything is sized by the header: it must describe exactly the
     * rows the manifest lists, or a small file could claim millions. */
    if (s->want_rows && (s->rows != s->want_rows || s->cols != s->want_cols))
        return ep_error_set(err, EP_ERR_MISMATCH, "the .npy header says it holds %" PRIu64 " rows of width %" PRIu64
                            " but manifest.json says %" PRIu64 " rows of width %" PRIu64, s->rows, s->cols, s->want_rows,
                            s->want_cols);
    if (s->rows == 0 || s->cols == 0)
        return ep_error_set(err, EP_ERR_FORMAT, "shape (%" PRIu64 ", %" PRIu64 ") is empty (embedpipe never writes "
                            "an empty shard)", s->rows, s->cols);
    if (s->cols > (uint64_t)INT32_MAX || s->rows > SIZE_MAX / 2 / s->cols)
        return ep_error_set(err, EP_ERR_FORMAT, "shape (%" PRIu64 ", %" PRIu64 ") is too large", s->rows, s->cols);
    s->data_bytes = (size_t)(s->rows * s->cols * 2);
    if (s->base.content_size != ZSTD_CONTENTSIZE_UNKNOWN && s->base.content_size != s->head_total + s->data_bytes)
        return ep_error_set(err, EP_ERR_FORMAT, "header + shape (%" PRIu64 ", %" PRIu64 ") make %zu bytes but the "
                            "zstd frame says it holds %" PRIu64, s->rows, s->cols, s->head_total + s->data_bytes,
                            (uint64_t)s->base.content_size);
    s->header_done = true;
    return EP_OK;
}

static ep_status npy_write(zsink *base, const uint8_t *p, size_t len, ep_error *err) {
    npy_sink *s = (npy_sink *)base;
    while (len > 0 && !s->header_done) {
        /* First the 8 bytes that give the version, then the preamble that
         * gives the header length, then the header itself. */
        size_t want = s->head_total ? s->head_total : s->head_len < 8 ? 8 : (s->head[6] == 1 ? 10 : 12);
        size_t take = want - s->head_len < len ? want - s->head_len : len;
        memcpy(s->head + s->head_len, p, take);
        s->head_len += take;
        p += take;
        len -= take;
        if (s->head_len < want) break;
        if (!s->head_total) {
            size_t total;
            ep_status st = ep_npy_header_size(s->head, s->head_len, &total, err);
            if (st != EP_OK) return st;
            if (total) {
                uint8_t *h = realloc(s->head, total);
                if (!h) return ep_error_set(err, EP_ERR_NOMEM, "out of memory for a %zu-byte .npy header", total);
                s->head = h;
                s->head_total = total;
            }
        } else {
            ep_status st = npy_header_complete(s, err);
            if (st != EP_OK) return st;
        }
    }
    if (len == 0) return EP_OK;
    if (len > s->data_bytes - s->data_len)
        return ep_error_set(err, EP_ERR_FORMAT, "more data than the shape (%" PRIu64 ", %" PRIu64 ") holds", s->rows,
                            s->cols);
    if (s->data_len + len > s->data_cap) {
        /* Grow with the data actually decompressed, never trusting the header
         * for one big allocation: a 100-byte file can claim a terabyte. */
        size_t cap = s->data_cap ? s->data_cap : 1 << 20;
        while (cap < s->data_len + len) cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
        if (cap > s->data_bytes) cap = s->data_bytes;
        uint8_t *d = realloc(s->data, cap);
        if (!d) return ep_error_set(err, EP_ERR_NOMEM, "out of memory for %zu bytes of rows", cap);
        s->data = d;
        s->data_cap = cap;
    }
    memcpy(s->data + s->data_len, p, len);
    s->data_len += len;
    return EP_OK;
}

/* Reads a shard; with want_rows set, one that is not (want_rows, want_cols)
 * is refused before its rows are allocated. */
ep_status ep_shard_read_checked(const char *path, const zfile_check *check, uint64_t want_rows, uint64_t want_cols,
                            uint16_t **rows, size_t *n_rows, int *dim, ep_error *err) {
    *rows = NULL;
    *n_rows = 0;
    *dim = 0;
    npy_sink s;
    memset(&s, 0, sizeof s);
    s.base.write = npy_write;
    s.base.content_size = ZSTD_CONTENTSIZE_UNKNOWN;
    s.want_rows = want_rows;
    s.want_cols = want_cols;
    if (want_rows) {
        if (want_cols == 0 || want_cols > (uint64_t)INT32_MAX || want_rows > (SIZE_MAX - (1u << 20)) / 2 / want_cols)
            return ep_error_set(err, EP_ERR_MISMATCH, "%s: manifest.json lists %" PRIu64 " rows of width %" PRIu64
                                ", which cannot be held in memory", path, want_rows, want_cols);
        s.base.max_content = EP_NPY_MAX_READ_HEADER + want_rows * want_cols * 2;
    }
    s.head = malloc(12);
    if (!s.head) return ep_error_set(err, EP_ERR_NOMEM, "out of memory reading %s", path);
    ep_status st = ep_zstd_read_file(path, check, &s.base, err);
    if (st == EP_OK && !s.header_done)
        st = ep_error_set(err, EP_ERR_FORMAT, "%s: the file ends inside the .npy header", path);
    if (st == EP_OK && s.data_len != s.data_bytes)
        st = ep_error_set(err, EP_ERR_FORMAT, "%s: the rows are short: %zu of %zu bytes for shape (%" PRIu64
                          ", %" PRIu64 ")", path, s.data_len, s.data_bytes, s.rows, s.cols);
    free(s.head);
    if (st != EP_OK) {
        free(s.data);
        return st;
    }
    const uint16_t one = 1;
    if (*(const uint8_t *)&one != 1) {
        for (size_t i = 0; i < s.data_bytes; i += 2) {
            uint8_t t = s.data[i];
            s.data[i] = s.data[i + 1];
            s.data[i + 1] = t;
        }
    }
    *rows = (uint16_t *)s.data;
    *n_rows = (size_t)s.rows;
    *dim = (int)s.cols;
    return EP_OK;
}

ep_status ep_shard_read(const char *path, uint16_t **rows, size_t *n_rows, int *dim, ep_error *err) {
    return ep_shard_read_checked(path, NULL, 0, 0, rows, n_rows, dim, err);
}
