/*
 * export.c - an output folder as one .npy or one NDJSON stream (see export.h).
 */
#include "export.h"
#include "setting_names.h"

#include "atomic_file.h"
#include "float16.h"
#include "folder_lock.h"
#include "manifest.h"
#include "output_reader.h"
#include "npy.h"
#include "shard.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATH_CAP 4352
#define SINK_CAP (1u << 20)
#define DEC_CAP 24 /* "-1.17549435e-38" and a NUL fit many times over */

ep_status ep_export_format_parse(const char *name, ep_export_format *out, ep_error *err) {
    if (name && strcmp(name, "npy") == 0) *out = EP_EXPORT_NPY;
    else if (name && strcmp(name, "ndjson") == 0) *out = EP_EXPORT_NDJSON;
    else return ep_error_set(err, EP_ERR_USAGE, "%s %s: expected npy, ndjson or llm",
                             ep_setting_name(EP_SETTING_EXPORT_TO), name ? name : "(none)");
    return EP_OK;
}

const char *ep_export_format_name(ep_export_format format) {
    return format == EP_EXPORT_NDJSON ? "ndjson" : "npy";
}

// ----------------------------------------------------------------------------
// Where the bytes go: a file that appears complete or not at all, or stdout.

typedef struct sink {
    bool to_stdout;
    ep_atomic_file file;
    char *buf;
    size_t len;
    uint64_t bytes;
} sink;

static ep_status sink_open(sink *s, const char *path, ep_error *err) {
    memset(s, 0, sizeof *s);
    s->file.fd = -1;
    s->buf = malloc(SINK_CAP);
    if (!s->buf) return ep_error_set(err, EP_ERR_NOMEM, "out of memory");
    if (strcmp(path, "-") == 0) {
        s->to_stdout = true;
        return EP_OK;
    }
    char dir[PATH_CAP];
    const char *slash = strrchr(path, '/'), *name = slash ? slash + 1 : path;
    if (!*name) return ep_error_set(err, EP_ERR_USAGE, "export: %s names a folder, not a file", path);
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    return ep_atomic_file_open(&s->file, dir, name, err);
}

static ep_status sink_flush(sink *s, ep_error *err) {
    if (s->len == 0) return EP_OK;
    ep_status st = EP_OK;
    if (s->to_stdout) {
        if (fwrite(s->buf, 1, s->len, stdout) != s->len)
            st = ep_error_set(err, EP_ERR_IO, "cannot write to standard output: %s", strerror(errno));
    } else {
        st = ep_atomic_file_write(&s->file, s->buf, s->len, err);
    }
    s->bytes += s->len;
    s->len = 0;
    return st;
}

static ep_status sink_write(sink *s, const void *data, size_t n, ep_error *err) {
    const char *p = data;
    while (n > 0) {
        if (s->len == SINK_CAP) {
            ep_status st = sink_flush(s, err);
            if (st != EP_OK) return st;
        }
        size_t take = SINK_CAP - s->len < n ? SINK_CAP - s->len : n;
        memcpy(s->buf + s->len, p, take);
        s->len += take;
        p += take;
        n -= take;
    }
    return EP_OK;
}

/* Flushes and, for a file, commits it. */
static ep_status sink_close(sink *s, ep_error *err) {
    ep_status st = sink_flush(s, err);
    if (s->to_stdout) {
        if (st == EP_OK && fflush(stdout) != 0)
            st = ep_error_set(err, EP_ERR_IO, "cannot write to standard output: %s", strerror(errno));
    } else if (st == EP_OK) {
        st = ep_atomic_file_commit(&s->file, NULL, err);
    } else {
        ep_atomic_file_abort(&s->file);
    }
    free(s->buf);
    s->buf = NULL;
    return st;
}

static void sink_abort(sink *s) {
    if (!s->to_stdout) ep_atomic_file_abort(&s->file);
    free(s->buf);
    s->buf = NULL;
}

// ----------------------------------------------------------------------------
// npy

static ep_status export_npy(ep_output_reader *r, sink *s, uint64_t rows, ep_error *err) {
    const ep_manifest *m = ep_output_manifest(r);
    uint8_t header[EP_NPY_MAX_WRITE_HEADER];
    size_t hlen = ep_npy_f16_header(header, sizeof header, rows, (uint64_t)m->dim);
    if (hlen == 0) return ep_error_set(err, EP_ERR_USAGE, "cannot describe a (%" PRIu64 ", %d) array", rows, m->dim);
    ep_status st = sink_write(s, header, hlen, err);
    for (size_t i = 0; i < m->n_shards && st == EP_OK; i++) {
        ep_output_shard shard;
        st = ep_output_read_shard(r, i, EP_OUTPUT_VECTORS, &shard, err);
        const uint16_t *v = shard.rows;
        size_t n = (size_t)m->shards[i].rows * (size_t)m->dim;
        // '<f2' is little-endian whatever the host is.
        uint8_t le[4096];
        for (size_t k = 0; k < n && st == EP_OK;) {
            size_t take = n - k < sizeof le / 2 ? n - k : sizeof le / 2;
            for (size_t j = 0; j < take; j++) {
                le[2 * j] = (uint8_t)(v[k + j] & 0xff);
                le[2 * j + 1] = (uint8_t)(v[k + j] >> 8);
            }
            st = sink_write(s, le, 2 * take, err);
            k += take;
        }
        ep_output_shard_free(&shard);
    }
    return st;
}

// ----------------------------------------------------------------------------
// ndjson

/* A growable line. */
typedef struct line {
    char *p;
    size_t len, cap;
} line;

static bool line_put(line *l, const char *s, size_t n) {
    if (l->len + n > l->cap) {
        size_t cap = l->cap ? l->cap : 4096;
        while (cap < l->len + n) cap *= 2;
        char *grown = realloc(l->p, cap);
        if (!grown) return false;
        l->p = grown;
        l->cap = cap;
    }
    memcpy(l->p + l->len, s, n);
    l->len += n;
    return true;
}

/* The shortest decimal that reads back (as a float) to the value of h. There
 * are only 65536 halves, so each is worked out once and kept. */
static const char *half_decimal(char (*table)[DEC_CAP], uint16_t h) {
    char *d = table[h];
    if (d[0]) return d;
    float f = ep_f16_to_f32(h);
    if (!isfinite(f)) {
        snprintf(d, DEC_CAP, "null");
    } else if (f == 0.0f) {
        snprintf(d, DEC_CAP, "%s", signbit(f) ? "-0.0" : "0");
    } else {
        for (int prec = 1; prec <= 9; prec++) { /* 9 significant digits always round-trip a float */
            snprintf(d, DEC_CAP, "%.*g", prec, (double)f);
            if (strtof(d, NULL) == f) break;
        }
    }
    return d;
}

/* Appends s as a JSON string (cJSON's escaping). */
static bool put_json_string(line *l, const char *s) {
    cJSON *item = cJSON_CreateString(s);
    char *text = item ? cJSON_PrintUnformatted(item) : NULL;
    bool ok = text && line_put(l, text, strlen(text));
    cJSON_free(text);
    cJSON_Delete(item);
    return ok;
}

static ep_status export_ndjson(const char *r_dir, ep_output_reader *r, sink *s, ep_error *err) {
    const ep_manifest *m = ep_output_manifest(r);
    char(*table)[DEC_CAP] = calloc(65536, DEC_CAP);
    line l = {0};
    if (!table) return ep_error_set(err, EP_ERR_NOMEM, "out of memory");
    ep_status st = EP_OK;
    for (size_t i = 0; i < m->n_shards && st == EP_OK; i++) {
        ep_output_shard shard;
        st = ep_output_read_shard(r, i, EP_OUTPUT_VECTORS | EP_OUTPUT_IDS, &shard, err);
        const uint16_t *v = shard.rows;
        for (size_t row_i = 0; st == EP_OK && row_i < shard.n_rows; row_i++) {
            const ep_row_meta *row = &shard.meta[row_i];
            if (row->file_index >= m->n_inputs) {
                st = ep_error_set(err, EP_ERR_MISMATCH, "%s/%s line %zu: file index %u, but manifest.json lists %zu "
                                  "inputs", r_dir, shard.info->ids_name, row_i + 1, (unsigned)row->file_index,
                                  m->n_inputs);
                break;
            }
            char num[32];
            l.len = 0;
            bool ok = line_put(&l, "{\"id\":", 6) && put_json_string(&l, row->id ? row->id : "") &&
                      line_put(&l, ",\"file\":", 8) && put_json_string(&l, m->inputs[row->file_index].path);
            snprintf(num, sizeof num, ",\"line\":%" PRIu64, row->line);
            ok = ok && line_put(&l, num, strlen(num));
            // The stored text and kept fields, as in the ids lines, before the vector.
            if (row->text) ok = ok && line_put(&l, ",\"text\":", 8) && put_json_string(&l, row->text);
            size_t fl = row->fields ? strlen(row->fields) : 0;
            if (fl > 2 && row->fields[0] == '{' && row->fields[fl - 1] == '}')
                ok = ok && line_put(&l, ",", 1) && line_put(&l, row->fields + 1, fl - 2);
            ok = ok && line_put(&l, ",\"vector\":[", 11);
            const uint16_t *vec = v + row_i * (size_t)m->dim;
            for (int k = 0; k < m->dim && ok; k++) {
                const char *d = half_decimal(table, vec[k]);
                ok = (k == 0 || line_put(&l, ",", 1)) && line_put(&l, d, strlen(d));
            }
            ok = ok && line_put(&l, "]}\n", 3);
            st = ok ? sink_write(s, l.p, l.len, err) : ep_error_set(err, EP_ERR_NOMEM, "out of memory");
        }
        ep_output_shard_free(&shard);
    }
    free(l.p);
    free(table);
    return st;
}

// ----------------------------------------------------------------------------

/* An export written into the output folder itself is one more writer of that
 * folder: it takes the folder's lock, so that it never runs beside an embed or
 * merge there (whose --overwrite or resume would remove or outdate it). An
 * export elsewhere only reads the folder and needs no lock. */
static ep_status lock_if_inside(const char *dir, const char *path, ep_folder_lock **lock, ep_error *err) {
    *lock = NULL;
    if (strcmp(path, "-") == 0) return EP_OK;
    char dest[PATH_CAP];
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(dest, sizeof dest, ".");
    else if (slash == path) snprintf(dest, sizeof dest, "/");
    else snprintf(dest, sizeof dest, "%.*s", (int)(slash - path), path);
    struct stat a, b;
    if (stat(dir, &a) != 0 || stat(dest, &b) != 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino) return EP_OK;
    return ep_folder_lock_create(dir, lock, err);
}

ep_status ep_export(const char *dir, ep_export_format format, const char *path, ep_export_summary *summary,
                    ep_error *err) {
    ep_export_summary local;
    if (!summary) summary = &local;
    memset(summary, 0, sizeof *summary);
    if (!dir || !path || !*path) return ep_error_set(err, EP_ERR_USAGE, "export: no folder or destination given");
    ep_folder_lock *lock = NULL;
    ep_status st = lock_if_inside(dir, path, &lock, err);
    if (st != EP_OK) return st;
    ep_output_reader *r = NULL;
    st = ep_output_open(dir, &r, err);
    if (st != EP_OK) {
        ep_folder_lock_free(lock);
        return st;
    }
    const ep_manifest *m = ep_output_manifest(r);
    uint64_t rows = 0;
    for (size_t i = 0; i < m->n_shards; i++) rows += m->shards[i].rows;
    summary->rows = rows;
    summary->dim = m->dim;
    summary->shards = m->n_shards;
    summary->complete = m->complete && m->run.part_count <= 1;
    sink s;
    st = sink_open(&s, path, err);
    if (st == EP_OK)
        st = format == EP_EXPORT_NPY ? export_npy(r, &s, rows, err) : export_ndjson(dir, r, &s, err);
    if (st == EP_OK) st = sink_close(&s, err);
    else sink_abort(&s);
    summary->bytes = s.bytes;
    ep_output_close(r);
    ep_folder_lock_free(lock);
    return st;
}
