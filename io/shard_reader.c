/* shard_reader.c - reads shards and ids files back, trusting nothing: one
 * zstd frame with a content checksum, a strict .npy header, strict ids lines. */
#include "shard.h"

#include "npy.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#include <zstd.h>
#include <zstd_errors.h>

/* Numbers in the ids file go through cJSON's doubles: exact up to 2^53. */
#define MAX_EXACT_INT 9007199254740992.0

/* ------------------------------------------------------------------------ */
/* Decompressing one frame into a sink */

typedef struct zsink zsink;
struct zsink {
    ep_status (*write)(zsink *s, const uint8_t *data, size_t len, ep_error *err);
    uint64_t content_size;   /* from the frame header; ZSTD_CONTENTSIZE_UNKNOWN if absent */
};

#define ZSTD_MAGIC 0xFD2FB528u

/* Streams the single zstd frame of path into sink. The frame must carry a
 * content checksum (RFC 8878 frame header descriptor, bit 2) - embedpipe
 * always writes one, and without it corruption could go unnoticed. */
static ep_status zstd_read_file(const char *path, zsink *sink, ep_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return ep_error_set(err, EP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    ZSTD_DCtx *d = ZSTD_createDCtx();
    size_t in_cap = ZSTD_DStreamInSize(), out_cap = ZSTD_DStreamOutSize();
    uint8_t *in_buf = malloc(in_cap), *out_buf = malloc(out_cap);
    ep_status st = EP_OK;
    if (!d || !in_buf || !out_buf) {
        st = ep_error_set(err, EP_ERR_NOMEM, "%s: out of memory for decompression", path);
        goto done;
    }
    size_t ret = 1; /* non-zero: the frame is not finished */
    bool frame_done = false, first = true;
    size_t n;
    while ((n = fread(in_buf, 1, in_cap, f)) > 0) {
        if (first) {
            first = false;
            uint32_t magic = n >= 4 ? (uint32_t)in_buf[0] | (uint32_t)in_buf[1] << 8 | (uint32_t)in_buf[2] << 16 |
                                          (uint32_t)in_buf[3] << 24
                                    : 0;
            if (magic != ZSTD_MAGIC) {
                st = ep_error_set(err, EP_ERR_FORMAT, "%s: not a zstd frame (bad magic number)", path);
                goto done;
            }
            if (n >= 5 && !(in_buf[4] & 0x04)) {
                st = ep_error_set(err, EP_ERR_FORMAT, "%s: the zstd frame has no content checksum, so it cannot be "
                                  "verified (embedpipe always writes one)", path);
                goto done;
            }
            unsigned long long cs = ZSTD_getFrameContentSize(in_buf, n);
            sink->content_size = cs == ZSTD_CONTENTSIZE_ERROR ? ZSTD_CONTENTSIZE_UNKNOWN : cs;
        }
        ZSTD_inBuffer in = {in_buf, n, 0};
        while (in.pos < in.size) {
            if (frame_done) {
                st = ep_error_set(err, EP_ERR_FORMAT, "%s: data after the end of the zstd frame (one frame expected)",
                                  path);
                goto done;
            }
            ZSTD_outBuffer out = {out_buf, out_cap, 0};
            ret = ZSTD_decompressStream(d, &out, &in);
            if (ZSTD_isError(ret)) {
                if (ZSTD_getErrorCode(ret) == ZSTD_error_checksum_wrong)
                    st = ep_error_set(err, EP_ERR_FORMAT, "%s: zstd content checksum mismatch: the file is corrupt",
                                      path);
                else
                    st = ep_error_set(err, EP_ERR_FORMAT, "%s: corrupt zstd data: %s", path, ZSTD_getErrorName(ret));
                goto done;
            }
            if (out.pos > 0 && (st = sink->write(sink, out_buf, out.pos, err)) != EP_OK) {
                ep_error_prefix(err, "%s", path);
                goto done;
            }
            if (ret == 0) frame_done = true;
        }
    }
    if (ferror(f)) {
        st = ep_error_set(err, EP_ERR_IO, "%s: read error: %s", path, strerror(errno));
    } else if (first) {
        st = ep_error_set(err, EP_ERR_FORMAT, "%s: the file is empty", path);
    } else if (!frame_done) {
        st = ep_error_set(err, EP_ERR_FORMAT, "%s: truncated: the zstd frame ends early (the file was cut short)",
                          path);
    }
done:
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
} npy_sink;

static ep_status npy_header_complete(npy_sink *s, ep_error *err) {
    ep_status st = ep_npy_parse_f16_header(s->head, s->head_total, &s->rows, &s->cols, err);
    if (st != EP_OK) return st;
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

ep_status ep_shard_read(const char *path, uint16_t **rows, size_t *n_rows, int *dim, ep_error *err) {
    *rows = NULL;
    *n_rows = 0;
    *dim = 0;
    npy_sink s;
    memset(&s, 0, sizeof s);
    s.base.write = npy_write;
    s.base.content_size = ZSTD_CONTENTSIZE_UNKNOWN;
    s.head = malloc(12);
    if (!s.head) return ep_error_set(err, EP_ERR_NOMEM, "out of memory reading %s", path);
    ep_status st = zstd_read_file(path, &s.base, err);
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

/* ------------------------------------------------------------------------ */
/* Ids files */

typedef struct buf_sink {
    zsink base;
    char *data;
    size_t len, cap;
} buf_sink;

static ep_status buf_write(zsink *base, const uint8_t *p, size_t len, ep_error *err) {
    buf_sink *s = (buf_sink *)base;
    if (s->cap - s->len < len + 1) {
        size_t cap = s->cap ? s->cap : 1 << 16;
        while (cap - s->len < len + 1) {
            if (cap > SIZE_MAX / 2) return ep_error_set(err, EP_ERR_NOMEM, "ids file too large");
            cap *= 2;
        }
        char *d = realloc(s->data, cap);
        if (!d) return ep_error_set(err, EP_ERR_NOMEM, "out of memory for %zu bytes of ids", cap);
        s->data = d;
        s->cap = cap;
    }
    memcpy(s->data + s->len, p, len);
    s->len += len;
    s->data[s->len] = '\0';
    return EP_OK;
}

static bool as_uint(const cJSON *v, double max, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return false;
    double d = v->valuedouble;
    if (!(d >= 0 && d <= max) || d != floor(d)) return false;
    *out = (uint64_t)d;
    return true;
}

static bool parse_hash(const char *s, uint64_t *out) {
    uint64_t v = 0;
    int i = 0;
    for (; s[i]; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0 || i >= 16) return false;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return i == 16;
}

/* One line, without its '\n'. The id is strdup'd into m->id. */
static ep_status parse_ids_line(const char *line, size_t len, ep_row_meta *m, ep_error *err) {
    for (size_t i = 0; i < len; i++) {
        if ((uint8_t)line[i] < 0x20)
            return ep_error_set(err, EP_ERR_FORMAT, "raw control character 0x%02x at column %zu", (uint8_t)line[i],
                                i + 1);
    }
    const char *end = NULL;
    cJSON *obj = cJSON_ParseWithLengthOpts(line, len, &end, 0);
    if (!obj) return ep_error_set(err, EP_ERR_FORMAT, "not valid JSON");
    ep_status st = EP_OK;
    while (end && end < line + len && *end == ' ') end++;
    if (!end || end != line + len) {
        st = ep_error_set(err, EP_ERR_FORMAT, "text after the JSON object");
        goto done;
    }
    if (!cJSON_IsObject(obj)) {
        st = ep_error_set(err, EP_ERR_FORMAT, "not a JSON object");
        goto done;
    }
    static const char *const keys[6] = {"id", "file", "line", "tokens", "truncated", "hash"};
    const cJSON *vals[6] = {0};
    for (const cJSON *c = obj->child; c; c = c->next) {
        for (int k = 0; k < 6; k++) {
            if (c->string && strcmp(c->string, keys[k]) == 0) {
                if (vals[k]) {
                    st = ep_error_set(err, EP_ERR_FORMAT, "\"%s\" appears twice", keys[k]);
                    goto done;
                }
                vals[k] = c;
            }
        }
    }
    for (int k = 0; k < 6; k++) {
        if (!vals[k]) {
            st = ep_error_set(err, EP_ERR_FORMAT, "\"%s\" is missing", keys[k]);
            goto done;
        }
    }
    uint64_t file = 0, line_no = 0, tokens = 0, hash = 0;
    if (!cJSON_IsString(vals[0])) st = ep_error_set(err, EP_ERR_FORMAT, "\"id\" is not a string");
    else if (!as_uint(vals[1], (double)UINT32_MAX, &file))
        st = ep_error_set(err, EP_ERR_FORMAT, "\"file\" is not an integer in 0..2^32-1");
    else if (!as_uint(vals[2], MAX_EXACT_INT, &line_no))
        st = ep_error_set(err, EP_ERR_FORMAT, "\"line\" is not an integer in 0..2^53");
    else if (!as_uint(vals[3], (double)INT32_MAX, &tokens))
        st = ep_error_set(err, EP_ERR_FORMAT, "\"tokens\" is not a non-negative integer");
    else if (!cJSON_IsBool(vals[4])) st = ep_error_set(err, EP_ERR_FORMAT, "\"truncated\" is not true or false");
    else if (!cJSON_IsString(vals[5]) || !parse_hash(vals[5]->valuestring, &hash))
        st = ep_error_set(err, EP_ERR_FORMAT, "\"hash\" is not 16 lowercase hex digits");
    if (st != EP_OK) goto done;
    char *id = strdup(vals[0]->valuestring);
    if (!id) {
        st = ep_error_set(err, EP_ERR_NOMEM, "out of memory for an id");
        goto done;
    }
    m->id = id;
    m->file_index = (uint32_t)file;
    m->line = line_no;
    m->n_tokens = (int)tokens;
    m->truncated = cJSON_IsTrue(vals[4]);
    m->text_hash = hash;
done:
    cJSON_Delete(obj);
    return st;
}

ep_status ep_shard_read_ids(const char *path, ep_row_meta **meta, size_t *n_rows, ep_error *err) {
    *meta = NULL;
    *n_rows = 0;
    buf_sink s;
    memset(&s, 0, sizeof s);
    s.base.write = buf_write;
    s.base.content_size = ZSTD_CONTENTSIZE_UNKNOWN;
    ep_status st = zstd_read_file(path, &s.base, err);
    if (st != EP_OK) {
        free(s.data);
        return st;
    }
    if (s.len == 0 || s.data[s.len - 1] != '\n') {
        free(s.data);
        return ep_error_set(err, EP_ERR_FORMAT, "%s: %s", path,
                            s.len == 0 ? "no rows (embedpipe never writes an empty shard)"
                                       : "the last line has no newline (the file was cut short?)");
    }
    /* cJSON does not check UTF-8, so the whole text is checked here. */
    size_t line_no = 1;
    for (size_t i = 0; i < s.len;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s.data + i, (utf8proc_ssize_t)(s.len - i), &cp);
        if (n <= 0) {
            free(s.data);
            return ep_error_set(err, EP_ERR_FORMAT, "%s: line %zu: invalid UTF-8", path, line_no);
        }
        if (cp == '\n') line_no++;
        i += (size_t)n;
    }
    size_t count = line_no - 1;
    ep_row_meta *m = calloc(count, sizeof *m);
    if (!m) {
        free(s.data);
        return ep_error_set(err, EP_ERR_NOMEM, "out of memory for %zu ids", count);
    }
    const char *p = s.data;
    for (size_t i = 0; i < count; i++) {
        const char *nl = memchr(p, '\n', (size_t)(s.data + s.len - p));
        st = parse_ids_line(p, (size_t)(nl - p), &m[i], err);
        if (st != EP_OK) {
            ep_error_prefix(err, "%s: line %zu", path, i + 1);
            ep_shard_ids_free(m, i);
            free(s.data);
            return st;
        }
        p = nl + 1;
    }
    free(s.data);
    *meta = m;
    *n_rows = count;
    return EP_OK;
}

void ep_shard_ids_free(ep_row_meta *meta, size_t n_rows) {
    if (!meta) return;
    for (size_t i = 0; i < n_rows; i++) free((char *)meta[i].id);
    free(meta);
}
