/* shard_reader.c - reads shards and ids files back, trusting nothing: one
 * zstd frame with a content checksum, a strict .npy header, strict ids lines;
 * and the output reader (output_reader.h), the one gate through which the
 * tools read an output folder: every file's SHA-256 and size, its place in
 * the manifest and the sizes its contents claim are checked against the
 * manifest before a byte of it is handed out or a buffer sized for it. */
#include "shard.h"

#include "manifest.h"
#include "npy.h"
#include "output_reader.h"
#include "sha256.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
    uint64_t max_content;    /* refuse a frame that claims more (0 = no bound); checked before any allocation */
};

/* What the caller knows of the file before opening it (all optional). */
typedef struct zfile_check {
    uint64_t bytes;          /* the file's size (0 = not known) */
    const char *sha256;      /* its SHA-256 in hex (NULL = not known); checked once the whole file is read */
    const char *what;        /* how the mismatch is explained: "manifest.json" */
} zfile_check;

#define ZSTD_MAGIC 0xFD2FB528u

/* Streams the single zstd frame of path into sink. The frame must carry a
 * content checksum (RFC 8878 frame header descriptor, bit 2) - embedpipe
 * always writes one, and without it corruption could go unnoticed. */
static ep_status zstd_read_file(const char *path, const zfile_check *check, zsink *sink, ep_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f && check && errno == ENOENT)
        return ep_error_set(err, EP_ERR_IO, "%s is missing (%s lists it): %s", path, check->what, strerror(errno));
    if (!f) return ep_error_set(err, EP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (check && check->bytes) {
        struct stat sb;
        if (fstat(fileno(f), &sb) != 0) {
            ep_status st = ep_error_set(err, EP_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
            fclose(f);
            return st;
        }
        if ((uint64_t)sb.st_size != check->bytes) {
            ep_status st = ep_error_set(err, EP_ERR_MISMATCH, "%s is %" PRIu64 " bytes but %s says %" PRIu64
                                        " (truncated, replaced or swapped with another shard?)", path,
                                        (uint64_t)sb.st_size, check->what, check->bytes);
            fclose(f);
            return st;
        }
    }
    /* The SHA-256 is taken of the bytes as they are decompressed, so the file
     * is read once and what was hashed is what was decoded. */
    ep_sha256 sha;
    ep_sha256_init(&sha);
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
            if (sink->max_content && sink->content_size != ZSTD_CONTENTSIZE_UNKNOWN &&
                sink->content_size > sink->max_content) {
                st = ep_error_set(err, EP_ERR_MISMATCH, "%s: the zstd frame says it holds %" PRIu64 " bytes, more "
                                  "than the %" PRIu64 " that manifest.json allows for it (a damaged or hostile file)",
                                  path, (uint64_t)sink->content_size, sink->max_content);
                goto done;
            }
        }
        ep_sha256_update(&sha, in_buf, n);
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
    if (st != EP_OK && st != EP_ERR_IO && st != EP_ERR_NOMEM && check && check->sha256 && in_buf) {
        /* A file that is not the one listed is reported as such (the SHA-256),
         * not by whatever its bytes first broke: the rest is hashed too. */
        while ((n = fread(in_buf, 1, in_cap, f)) > 0) ep_sha256_update(&sha, in_buf, n);
        char hex[65];
        ep_sha256_final_hex(&sha, hex);
        if (!ferror(f) && strcmp(hex, check->sha256) != 0)
            st = ep_error_set(err, EP_ERR_MISMATCH, "%s: SHA-256 %s does not match %s (%s): the file was changed, "
                              "corrupted or swapped with another shard after it was written", path, hex, check->what,
                              check->sha256);
    } else if (st == EP_OK && check && check->sha256) {
        char hex[65];
        ep_sha256_final_hex(&sha, hex);
        if (strcmp(hex, check->sha256) != 0)
            st = ep_error_set(err, EP_ERR_MISMATCH, "%s: SHA-256 %s does not match %s (%s): the file was changed, "
                              "corrupted or swapped with another shard after it was written", path, hex, check->what,
                              check->sha256);
    }
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
static ep_status shard_read(const char *path, const zfile_check *check, uint64_t want_rows, uint64_t want_cols,
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
    ep_status st = zstd_read_file(path, check, &s.base, err);
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
    return shard_read(path, NULL, 0, 0, rows, n_rows, dim, err);
}

/* ------------------------------------------------------------------------ */
/* Ids files */

typedef struct buf_sink {
    zsink base;
    char *data;
    size_t len, cap;
    uint64_t max_lines;      /* refuse more lines than this (0 = no bound) */
    uint64_t max_line;       /* refuse a longer line (0 = no bound) */
    uint64_t lines, line_len;/* counted as the bytes arrive */
} buf_sink;

static ep_status buf_write(zsink *base, const uint8_t *p, size_t len, ep_error *err) {
    buf_sink *s = (buf_sink *)base;
    if (s->max_lines) {
        /* Bounded as the bytes arrive, before they are kept: no more lines
         * than the manifest's rows, none longer than a record can make. */
        for (size_t i = 0; i < len; i++) {
            if (p[i] == '\n') {
                s->line_len = 0;
                if (++s->lines > s->max_lines)
                    return ep_error_set(err, EP_ERR_MISMATCH, "more than the %" PRIu64 " lines manifest.json "
                                        "lists for it", s->max_lines);
            } else if (++s->line_len > s->max_line) {
                return ep_error_set(err, EP_ERR_MISMATCH, "line %" PRIu64 " is longer than %" PRIu64 " bytes, more "
                                    "than any record of this run can make", s->lines + 1, s->max_line);
            }
        }
    }
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

/* The kept fields of an ids line as the writer put them: after "hash" and
 * "text", up to the closing brace, so that their numbers keep every digit
 * (cJSON would turn a 19-digit id into a double). @return a malloc'd
 * "{...}", or NULL when the line is not laid out that way (the caller then
 * prints the fields from the parsed tree). */
static char *kept_slice(const char *line, size_t len, size_t n_fields) {
    static const char HASH[] = "\"hash\": \"";
    const char *h = memmem(line, len, HASH, sizeof HASH - 1);
    if (!h) return NULL;
    const char *p = h + sizeof HASH - 1 + 17, *end = line + len;
    while (end > line && end[-1] == ' ') end--;
    if (p > end || end[-1] != '}') return NULL;
    static const char TEXT[] = ", \"text\": \"";
    if ((size_t)(end - p) > sizeof TEXT - 1 && memcmp(p, TEXT, sizeof TEXT - 1) == 0) {
        p += sizeof TEXT - 1;
        while (p < end && *p != '"') p += *p == '\\' ? 2 : 1;
        p++;
    }
    if (end - p < 3 || p[0] != ',' || p[1] != ' ') return NULL;
    p += 2;
    size_t n = (size_t)(end - 1 - p);
    char *out = malloc(n + 3);
    if (!out) return NULL;
    out[0] = '{';
    memcpy(out + 1, p, n);
    out[n + 1] = '}';
    out[n + 2] = '\0';
    // A line laid out otherwise (keys reordered by another tool) may slice wrong: only an object with
    // exactly the line's other keys is the fields.
    cJSON *check = cJSON_Parse(out);
    bool ok = cJSON_IsObject(check) && (size_t)cJSON_GetArraySize(check) == n_fields;
    cJSON_Delete(check);
    if (!ok) {
        free(out);
        return NULL;
    }
    return out;
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
    static const char *const keys[7] = {"id", "file", "line", "tokens", "truncated", "hash", "text"};
    const cJSON *vals[7] = {0};
    size_t n_other = 0;
    for (const cJSON *c = obj->child; c; c = c->next) {
        bool known = false;
        for (int k = 0; k < 7; k++) {
            if (c->string && strcmp(c->string, keys[k]) == 0) {
                if (vals[k]) {
                    st = ep_error_set(err, EP_ERR_FORMAT, "\"%s\" appears twice", keys[k]);
                    goto done;
                }
                vals[k] = c;
                known = true;
            }
        }
        if (!known) n_other++; /* a kept field (--keep) */
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
    else if (vals[6] && !cJSON_IsString(vals[6])) st = ep_error_set(err, EP_ERR_FORMAT, "\"text\" is not a string");
    if (st != EP_OK) goto done;
    char *id = strdup(vals[0]->valuestring);
    char *text = vals[6] ? strdup(vals[6]->valuestring) : NULL;
    char *fields = n_other ? kept_slice(line, len, n_other) : NULL;
    if (n_other && !fields) {
        // The kept fields go back out as one JSON object, in the order they were written.
        cJSON *kept = cJSON_CreateObject();
        for (cJSON *c = obj->child, *next; c && kept; c = next) {
            next = c->next;
            bool known = false;
            for (int k = 0; k < 7; k++) known = known || strcmp(c->string, keys[k]) == 0;
            if (known) continue;
            cJSON_AddItemToObject(kept, c->string, cJSON_Duplicate(c, true));
        }
        fields = kept ? cJSON_PrintUnformatted(kept) : NULL;
        cJSON_Delete(kept);
    }
    if (!id || (vals[6] && !text) || (n_other && !fields)) {
        free(id);
        free(text);
        if (fields) cJSON_free(fields);
        st = ep_error_set(err, EP_ERR_NOMEM, "out of memory for an id");
        goto done;
    }
    m->id = id;
    m->text = text;
    m->fields = fields;
    m->file_index = (uint32_t)file;
    m->line = line_no;
    m->n_tokens = (int)tokens;
    m->truncated = cJSON_IsTrue(vals[4]);
    m->text_hash = hash;
done:
    cJSON_Delete(obj);
    return st;
}

static ep_status shard_read_ids(const char *path, const zfile_check *check, uint64_t max_lines, uint64_t max_line,
                                ep_row_meta **meta, size_t *n_rows, ep_error *err) {
    *meta = NULL;
    *n_rows = 0;
    buf_sink s;
    memset(&s, 0, sizeof s);
    s.base.write = buf_write;
    s.base.content_size = ZSTD_CONTENTSIZE_UNKNOWN;
    s.max_lines = max_lines;
    s.max_line = max_line;
    if (max_lines) s.base.max_content = max_lines > UINT64_MAX / (max_line + 1) ? UINT64_MAX : max_lines * (max_line + 1);
    ep_status st = zstd_read_file(path, check, &s.base, err);
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

ep_status ep_shard_read_ids(const char *path, ep_row_meta **meta, size_t *n_rows, ep_error *err) {
    return shard_read_ids(path, NULL, 0, 0, meta, n_rows, err);
}

void ep_shard_ids_free(ep_row_meta *meta, size_t n_rows) {
    if (!meta) return;
    for (size_t i = 0; i < n_rows; i++) {
        free((char *)meta[i].id);
        free((char *)meta[i].text);
        free((char *)meta[i].fields);
    }
    free(meta);
}

/* ------------------------------------------------------------------------ */
/* The output reader (output_reader.h) */

#define PATH_CAP 4352

struct ep_output_reader {
    char *dir;
    ep_manifest *m;
};

ep_status ep_output_open(const char *dir, ep_output_reader **out, ep_error *err) {
    *out = NULL;
    ep_output_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->dir = strdup(dir))) {
        free(r);
        return ep_error_set(err, EP_ERR_NOMEM, "out of memory");
    }
    ep_status st = ep_manifest_read(dir, &r->m, err);
    if (st == EP_OK) st = ep_manifest_check_layout(dir, r->m, err);
    if (st != EP_OK) {
        ep_output_close(r);
        return st;
    }
    *out = r;
    return EP_OK;
}

const ep_manifest *ep_output_manifest(const ep_output_reader *r) { return r->m; }

size_t ep_output_shard_of_row(const ep_output_reader *r, uint64_t row) {
    /* The layout check made first_row increase with the index. */
    const ep_manifest *m = r->m;
    size_t lo = 0, hi = m->n_shards;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->shards[mid].first_row + m->shards[mid].rows <= row) lo = mid + 1;
        else hi = mid;
    }
    return lo < m->n_shards && m->shards[lo].first_row <= row ? lo : SIZE_MAX;
}

/* @return the columns --keep adds (its paths, and six for "default"). */
static uint64_t kept_columns(const char *keep) {
    uint64_t n = 0;
    for (const char *p = keep; *p;) {
        size_t len = strcspn(p, ",");
        size_t lead = strspn(p, " ");
        if (len > lead) n += (len - lead >= 7 && strncmp(p + lead, "default", 7) == 0) ? 6 : 1;
        p += len + (p[len] == ',');
    }
    return n;
}

/* The longest ids line a row of this run can make. The id, the text and each
 * kept value come from one record (max_record_bytes) and are escaped at worst
 * as \u00XX (6 bytes a byte; the writer stores a longer kept value as null);
 * add the column names and the five small keys. */
static uint64_t max_ids_line(const ep_manifest *m) {
    uint64_t record = m->run.max_record_bytes ? m->run.max_record_bytes : 1u << 20;
    uint64_t values = 1 + (m->run.text ? 1 : 0) + kept_columns(m->run.keep);
    if (record > (UINT64_MAX / 2) / 6 / values) return UINT64_MAX;
    return record * 6 * values + 6 * (uint64_t)strlen(m->run.keep) + 64 * values + 512;
}

ep_status ep_output_check_shard_files(const ep_output_reader *r, size_t i, unsigned what, ep_error *err) {
    const ep_shard_info *s = &r->m->shards[i];
    char path[PATH_CAP];
    for (int k = 0; k < 2; k++) {
        if (!(what & (k ? EP_OUTPUT_IDS : EP_OUTPUT_VECTORS))) continue;
        snprintf(path, sizeof path, "%s/%s", r->dir, k ? s->ids_name : s->name);
        struct stat sb;
        if (stat(path, &sb) != 0)
            return ep_error_set(err, EP_ERR_IO, "%s is missing (manifest.json lists it): %s", path, strerror(errno));
        if (!k && (uint64_t)sb.st_size != s->bytes)
            return ep_error_set(err, EP_ERR_MISMATCH, "%s is %" PRIu64 " bytes but manifest.json says %" PRIu64
                                " (truncated, replaced or swapped with another shard?)", path, (uint64_t)sb.st_size,
                                s->bytes);
        char sha[65];
        ep_status st = ep_sha256_file(path, sha, err);
        if (st != EP_OK) return st;
        const char *want = k ? s->ids_sha256 : s->sha256;
        if (strcmp(sha, want) != 0)
            return ep_error_set(err, EP_ERR_MISMATCH, "%s: SHA-256 %s does not match manifest.json (%s): the file was "
                                "changed, corrupted or swapped with another shard after it was written", path, sha,
                                want);
    }
    return EP_OK;
}

ep_status ep_output_read_shard(ep_output_reader *r, size_t i, unsigned what, ep_output_shard *out, ep_error *err) {
    memset(out, 0, sizeof *out);
    const ep_manifest *m = r->m;
    if (i >= m->n_shards) return ep_error_set(err, EP_ERR_USAGE, "%s: no shard %zu", r->dir, i);
    const ep_shard_info *s = &m->shards[i];
    char path[PATH_CAP];
    ep_status st = EP_OK;
    if (what & EP_OUTPUT_VECTORS) {
        snprintf(path, sizeof path, "%s/%s", r->dir, s->name);
        zfile_check check = {s->bytes, s->sha256, "manifest.json"};
        size_t n = 0;
        int dim = 0;
        st = shard_read(path, &check, s->rows, (uint64_t)m->dim, &out->rows, &n, &dim, err);
        if (st == EP_OK && (n != s->rows || dim != m->dim)) /* shard_read checked it; kept as a guard */
            st = ep_error_set(err, EP_ERR_MISMATCH, "%s holds %zu rows of width %d but manifest.json says %" PRIu64
                              " rows of width %d", path, n, dim, s->rows, m->dim);
    }
    if (st == EP_OK && (what & EP_OUTPUT_IDS)) {
        snprintf(path, sizeof path, "%s/%s", r->dir, s->ids_name);
        zfile_check check = {0, s->ids_sha256, "manifest.json"};
        size_t n = 0;
        st = shard_read_ids(path, &check, s->rows, max_ids_line(m), &out->meta, &n, err);
        if (st == EP_OK && n != s->rows)
            st = ep_error_set(err, EP_ERR_MISMATCH, "%s has %zu lines but manifest.json says %" PRIu64 " rows", path,
                              n, s->rows);
        if (st != EP_OK) {
            ep_shard_ids_free(out->meta, n);
            out->meta = NULL;
        }
    }
    if (st != EP_OK) {
        free(out->rows);
        memset(out, 0, sizeof *out);
        return st;
    }
    out->info = s;
    out->n_rows = (size_t)s->rows;
    return EP_OK;
}

void ep_output_shard_free(ep_output_shard *s) {
    if (!s) return;
    free(s->rows);
    ep_shard_ids_free(s->meta, s->meta ? s->n_rows : 0);
    memset(s, 0, sizeof *s);
}

void ep_output_close(ep_output_reader *r) {
    if (!r) return;
    ep_manifest_free(r->m);
    free(r->dir);
    free(r);
}
