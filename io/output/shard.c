/* shard.c - the shard writer: buffers rows, then writes one .npy.zst and one
 * .ids.ndjson.zst per rows_per_shard rows, each as a single checksummed zstd
 * frame through an atomic file. */
#include "shard.h"

#include "atomic_file.h"
#include "npy.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <utf8proc.h>
#include <zstd.h>

#define DEFAULT_ROWS_PER_SHARD 32768
/* Float16 vectors hold almost no repeats: what zstd saves (~8%) is the Huffman coding of their
 * literals, and level 1 saves as much as level 3 (0.2% less) for less CPU; the fast (negative)
 * levels save nothing on them but cost ~15x less. bench/zstd-levels.sh measures it on real shards (docs/PERFORMANCE.md). */
#define DEFAULT_ZSTD_LEVEL 1

struct ep_shard_writer {
    char *dir;
    int dim;
    size_t rows_per_shard;
    int zstd_workers;          /* workers zstd actually uses (0 when libzstd is single-threaded) */
    unsigned next_shard;       /* number of the next shard file */
    uint64_t next_row;         /* global index of the first buffered row */

    uint16_t *rows;            /* buffered rows, already little-endian */
    size_t n_rows, rows_cap;   /* in rows */
    char *ids;                 /* buffered ids lines (NDJSON text) */
    size_t ids_len, ids_cap;

    ZSTD_CCtx *cctx;
    uint8_t *zout;             /* compressed output staging buffer */
    size_t zout_cap;

    ep_shard_info *infos;
    size_t n_infos, infos_cap;
};

static bool host_is_little_endian(void) {
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

/* ------------------------------------------------------------------------ */
/* Options and lifetime */

ep_status ep_shard_writer_open(const ep_shard_writer_options *options, ep_shard_writer **out, ep_error *err) {
    *out = NULL;
    if (!options || !options->dir || !*options->dir)
        return ep_error_set(err, EP_ERR_USAGE, "shard writer: no output folder given");
    if (options->dim <= 0)
        return ep_error_set(err, EP_ERR_USAGE, "shard writer: row width must be positive, got %d", options->dim);
    struct stat st;
    if (stat(options->dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return ep_error_set(err, EP_ERR_USAGE, "shard writer: output folder %s does not exist (create it first)",
                            options->dir);
    int level = options->zstd_level ? options->zstd_level : DEFAULT_ZSTD_LEVEL;
    if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel())
        return ep_error_set(err, EP_ERR_USAGE, "shard writer: zstd level %d is outside %d..%d", level,
                            ZSTD_minCLevel(), ZSTD_maxCLevel());
    if (options->zstd_workers < 0)
        return ep_error_set(err, EP_ERR_USAGE, "shard writer: zstd workers must be >= 0, got %d",
                            options->zstd_workers);
    size_t rows_per_shard = options->rows_per_shard ? options->rows_per_shard : DEFAULT_ROWS_PER_SHARD;
    if (rows_per_shard > SIZE_MAX / 2 / (size_t)options->dim)
        return ep_error_set(err, EP_ERR_USAGE, "shard writer: rows_per_shard %zu is too large", rows_per_shard);

    ep_shard_writer *w = calloc(1, sizeof *w);
    if (!w) return ep_error_set(err, EP_ERR_NOMEM, "out of memory creating the shard writer");
    w->dir = strdup(options->dir);
    w->dim = options->dim;
    w->rows_per_shard = rows_per_shard;
    w->next_shard = options->first_shard;
    w->next_row = options->first_row;
    w->cctx = ZSTD_createCCtx();
    w->zout_cap = ZSTD_CStreamOutSize();
    w->zout = malloc(w->zout_cap);
    if (!w->dir || !w->cctx || !w->zout) {
        ep_shard_writer_free(w);
        return ep_error_set(err, EP_ERR_NOMEM, "out of memory creating the shard writer");
    }
    size_t r = ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, level);
    if (!ZSTD_isError(r)) r = ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 1);
    if (!ZSTD_isError(r)) r = ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_contentSizeFlag, 1);
    if (ZSTD_isError(r)) {
        ep_shard_writer_free(w);
        return ep_error_set(err, EP_ERR_USAGE, "shard writer: zstd rejected its parameters: %s", ZSTD_getErrorName(r));
    }
    if (options->zstd_workers > 0) {
        /* A libzstd built without multithreading refuses any worker count;
         * compressing on the calling thread is then the only choice, and the
         * output is the same format either way. */
        ZSTD_bounds b = ZSTD_cParam_getBounds(ZSTD_c_nbWorkers);
        int workers = options->zstd_workers;
        if (ZSTD_isError(b.error) || b.upperBound <= 0) workers = 0;
        else if (workers > b.upperBound) workers = b.upperBound;
        if (workers > 0 && ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_nbWorkers, workers))) {
            ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_nbWorkers, 0);
            workers = 0;
        }
        w->zstd_workers = workers;
    }
    *out = w;
    return EP_OK;
}

void ep_shard_writer_free(ep_shard_writer *w) {
    if (!w) return;
    free(w->dir);
    free(w->rows);
    free(w->ids);
    ZSTD_freeCCtx(w->cctx);
    free(w->zout);
    free(w->infos);
    free(w);
}

size_t ep_shard_writer_count(const ep_shard_writer *w) { return w ? w->n_infos : 0; }

const ep_shard_info *ep_shard_writer_info(const ep_shard_writer *w, size_t i) {
    return (w && i < w->n_infos) ? &w->infos[i] : NULL;
}

int ep_shard_writer_zstd_workers(const ep_shard_writer *w) { return w ? w->zstd_workers : 0; }

uint64_t ep_shard_writer_next_row(const ep_shard_writer *w) { return w ? w->next_row + w->n_rows : 0; }

size_t ep_shard_writer_buffered(const ep_shard_writer *w) { return w ? w->n_rows : 0; }

/* ------------------------------------------------------------------------ */
/* The ids lines */

static bool reserve_ids(ep_shard_writer *w, size_t extra) {
    if (w->ids_cap - w->ids_len >= extra) return true;
    size_t cap = w->ids_cap ? w->ids_cap : 1 << 16;
    while (cap - w->ids_len < extra) {
        if (cap > SIZE_MAX / 2) return false;
        cap *= 2;
    }
    char *p = realloc(w->ids, cap);
    if (!p) return false;
    w->ids = p;
    w->ids_cap = cap;
    return true;
}

/* Appends s as the body of a JSON string. Control characters, quotes and
 * backslashes are escaped; valid UTF-8 is copied as is; a byte that does not
 * start a valid UTF-8 sequence becomes U+FFFD, so every line is valid JSON
 * whatever the reader handed us. Needs at most 6 bytes per input byte. */
static size_t json_escape(char *out, const char *s) {
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    const uint8_t *p = (const uint8_t *)s;
    while (*p) {
        uint8_t c = *p;
        if (c >= 0x80) {
            utf8proc_int32_t cp;
            utf8proc_ssize_t len = utf8proc_iterate(p, -1, &cp);
            if (len > 0) {
                memcpy(out + n, p, (size_t)len);
                n += (size_t)len;
                p += len;
            } else {
                memcpy(out + n, "\\ufffd", 6);
                n += 6;
                p++;
            }
            continue;
        }
        p++;
        switch (c) {
        case '"': out[n++] = '\\'; out[n++] = '"'; break;
        case '\\': out[n++] = '\\'; out[n++] = '\\'; break;
        case '\n': out[n++] = '\\'; out[n++] = 'n'; break;
        case '\r': out[n++] = '\\'; out[n++] = 'r'; break;
        case '\t': out[n++] = '\\'; out[n++] = 't'; break;
        default:
            if (c < 0x20 || c == 0x7f) {
                memcpy(out + n, "\\u00", 4);
                out[n + 4] = hex[c >> 4];
                out[n + 5] = hex[c & 15];
                n += 6;
            } else {
                out[n++] = (char)c;
            }
        }
    }
    return n;
}

static bool append_ids_line(ep_shard_writer *w, const ep_row_meta *m) {
    const char *id = m->id ? m->id : "";
    size_t id_len = strlen(id);
    size_t text_len = m->text ? strlen(m->text) : 0;
    size_t fields_len = m->fields ? strlen(m->fields) : 0;
    if (id_len > (SIZE_MAX / 4) / 6 || text_len > (SIZE_MAX / 4) / 6 || fields_len > SIZE_MAX / 4 ||
        !reserve_ids(w, id_len * 6 + text_len * 6 + fields_len + 256))
        return false;
    char *out = w->ids + w->ids_len;
    size_t n = 0;
    memcpy(out, "{\"id\": \"", 8);
    n += 8;
    n += json_escape(out + n, id);
    n += (size_t)snprintf(out + n, 200,
                          "\", \"file\": %" PRIu32 ", \"line\": %" PRIu64 ", \"tokens\": %d, \"truncated\": %s, "
                          "\"hash\": \"%016" PRIx64 "\"",
                          m->file_index, m->line, m->n_tokens, m->truncated ? "true" : "false", m->text_hash);
    // The text and the kept fields come last, in this order: the checked reader finds the fields' own bytes there.
    if (m->text) {
        memcpy(out + n, ", \"text\": \"", 11);
        n += 11;
        n += json_escape(out + n, m->text);
        out[n++] = '"';
    }
    // fields is one JSON object ({"k": v, ...}) from the reader: its members join the line's own (an empty one adds none).
    if (fields_len > 2 && m->fields[0] == '{' && m->fields[fields_len - 1] == '}') {
        out[n++] = ',';
        out[n++] = ' ';
        memcpy(out + n, m->fields + 1, fields_len - 2);
        n += fields_len - 2;
    }
    out[n++] = '}';
    out[n++] = '\n';
    w->ids_len += n;
    return true;
}

/* ------------------------------------------------------------------------ */
/* Writing one frame */

typedef struct piece {
    const void *data;
    size_t len;
} piece;

/* Compresses the concatenation of pieces into dir/name as one zstd frame whose
 * header carries the content size (so that one-shot decoders such as
 * python-zstandard's decompress() work) and whose end carries a checksum. */
static ep_status write_frame(ep_shard_writer *w, const char *name, const piece *pieces, int n_pieces,
                             char sha_hex[65], uint64_t *bytes, ep_error *err) {
    ep_atomic_file f;
    ep_status st = ep_atomic_file_open(&f, w->dir, name, err);
    if (st != EP_OK) return st;
    unsigned long long total = 0;
    for (int i = 0; i < n_pieces; i++) total += pieces[i].len;
    size_t r = ZSTD_CCtx_reset(w->cctx, ZSTD_reset_session_only);
    if (!ZSTD_isError(r)) r = ZSTD_CCtx_setPledgedSrcSize(w->cctx, total);
    for (int i = 0; i < n_pieces && !ZSTD_isError(r) && st == EP_OK; i++) {
        ZSTD_EndDirective mode = i == n_pieces - 1 ? ZSTD_e_end : ZSTD_e_continue;
        ZSTD_inBuffer in = {pieces[i].data, pieces[i].len, 0};
        bool done = false;
        while (!done) {
            ZSTD_outBuffer out = {w->zout, w->zout_cap, 0};
            r = ZSTD_compressStream2(w->cctx, &out, &in, mode);
            if (ZSTD_isError(r)) break;
            st = ep_atomic_file_write(&f, w->zout, out.pos, err);
            if (st != EP_OK) break;
            done = mode == ZSTD_e_end ? r == 0 : in.pos == in.size;
        }
    }
    if (ZSTD_isError(r) && st == EP_OK)
        st = ep_error_set(err, EP_ERR_IO, "%s/%s: zstd compression failed: %s", w->dir, name, ZSTD_getErrorName(r));
    if (st != EP_OK) {
        ep_atomic_file_abort(&f);
        return st;
    }
    *bytes = f.bytes;
    return ep_atomic_file_commit_nodirsync(&f, sha_hex, err); /* write_shard fsyncs the folder once */
}

static ep_status write_shard(ep_shard_writer *w, ep_error *err) {
    if (w->n_rows == 0) return EP_OK;
    if (w->n_infos == w->infos_cap) {
        size_t cap = w->infos_cap ? w->infos_cap * 2 : 16;
        ep_shard_info *p = realloc(w->infos, cap * sizeof *p);
        if (!p) return ep_error_set(err, EP_ERR_NOMEM, "out of memory recording shard %u", w->next_shard);
        w->infos = p;
        w->infos_cap = cap;
    }
    ep_shard_info info;
    memset(&info, 0, sizeof info);
    snprintf(info.name, sizeof info.name, "shard-%05u.npy.zst", w->next_shard);
    snprintf(info.ids_name, sizeof info.ids_name, "shard-%05u.ids.ndjson.zst", w->next_shard);
    info.rows = w->n_rows;
    info.first_row = w->next_row;

    uint8_t header[EP_NPY_MAX_WRITE_HEADER];
    size_t header_len = ep_npy_f16_header(header, sizeof header, w->n_rows, (uint64_t)w->dim);
    piece npy[2] = {{header, header_len}, {w->rows, w->n_rows * (size_t)w->dim * sizeof(uint16_t)}};
    ep_status st = write_frame(w, info.name, npy, 2, info.sha256, &info.bytes, err);
    if (st != EP_OK) return st;
    uint64_t ids_bytes;
    piece ids = {w->ids, w->ids_len};
    st = write_frame(w, info.ids_name, &ids, 1, info.ids_sha256, &ids_bytes, err);
    // One fsync of the folder for both renames, per shard rather than per file: both are durable
    // before the shard is recorded (and before any manifest names it).
    if (st == EP_OK) st = ep_fsync_dir(w->dir, err);
    if (st != EP_OK) return st;

    w->infos[w->n_infos++] = info;
    w->next_shard++;
    w->next_row += w->n_rows;
    w->n_rows = 0;
    w->ids_len = 0;
    return EP_OK;
}

/* ------------------------------------------------------------------------ */
/* Appending */

static bool reserve_rows(ep_shard_writer *w, size_t need) {
    if (need <= w->rows_cap) return true;
    /* Grow towards rows_per_shard instead of allocating it up front: a short
     * run with a huge rows_per_shard should not reserve gigabytes. */
    size_t cap = w->rows_cap ? w->rows_cap : 1024;
    while (cap < need) cap = cap > w->rows_per_shard / 2 ? w->rows_per_shard : cap * 2;
    if (cap > w->rows_per_shard) cap = w->rows_per_shard;
    uint16_t *p = realloc(w->rows, cap * (size_t)w->dim * sizeof *p);
    if (!p) return false;
    w->rows = p;
    w->rows_cap = cap;
    return true;
}

ep_status ep_shard_writer_append(ep_shard_writer *w, const uint16_t *rows, const ep_row_meta *meta, size_t n,
                                 ep_error *err) {
    if (!w || (n > 0 && (!rows || !meta)))
        return ep_error_set(err, EP_ERR_USAGE, "ep_shard_writer_append: NULL writer, rows or meta");
    const bool little = host_is_little_endian();
    size_t dim = (size_t)w->dim;
    while (n > 0) {
        /* A shard left full by an earlier failed write is retried first. */
        if (w->n_rows == w->rows_per_shard) {
            ep_status st = write_shard(w, err);
            if (st != EP_OK) return st;
        }
        size_t take = w->rows_per_shard - w->n_rows;
        if (take > n) take = n;
        if (!reserve_rows(w, w->n_rows + take))
            return ep_error_set(err, EP_ERR_NOMEM, "out of memory buffering %zu rows of width %d", w->n_rows + take,
                                w->dim);
        size_t done = 0;
        for (; done < take; done++) {
            if (!append_ids_line(w, &meta[done])) break;
            uint16_t *dst = w->rows + (w->n_rows + done) * dim;
            const uint16_t *src = rows + done * dim;
            if (little) {
                memcpy(dst, src, dim * sizeof *dst);
            } else {
                for (size_t j = 0; j < dim; j++) dst[j] = (uint16_t)(src[j] << 8 | src[j] >> 8);
            }
        }
        w->n_rows += done;
        if (done < take) return ep_error_set(err, EP_ERR_NOMEM, "out of memory buffering the ids of a shard");
        rows += take * dim;
        meta += take;
        n -= take;
        if (w->n_rows == w->rows_per_shard) {
            ep_status st = write_shard(w, err);
            if (st != EP_OK) return st;
        }
    }
    return EP_OK;
}

ep_status ep_shard_writer_flush(ep_shard_writer *w, ep_error *err) {
    if (!w) return ep_error_set(err, EP_ERR_USAGE, "ep_shard_writer_flush: NULL writer");
    return write_shard(w, err);
}
