/*
 * reader_test_util.h - reads every record of an input into memory, and writes
 * test inputs (plain, zstd, gzip) into a temporary folder.
 */
#ifndef EP_READER_TEST_UTIL_H
#define EP_READER_TEST_UTIL_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "reader.h"
#include "test_util.h"

typedef struct got_rec {
    ep_read_kind kind;
    uint64_t line;
    char *text;     /* NULL for a rejection */
    size_t text_len;
    char *id;
    char *reason;   /* NULL for a record */
    bool blank;     /* lines format: a blank line, read as the empty text */
} got_rec;

typedef struct got_all {
    got_rec *v;
    size_t n;
    size_t records, rejected;
    ep_status open_status, status;  /* ep_reader_open's and the last ep_reader_next's */
    ep_error err;
    ep_input_format format;
    char warning[512];              /* ep_reader_warning, or "" */
    uint64_t end_byte, end_line;    /* ep_reader_position after the last call */
} got_all;

static inline char *dup_n(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (!d) abort();
    if (n) memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static inline void drain(ep_reader *r, got_all *g) {
    size_t cap = 0;
    for (;;) {
        ep_record rec;
        ep_read_kind kind;
        g->status = ep_reader_next(r, &rec, &kind, &g->err);
        if (g->status != EP_OK || kind == EP_READ_END) break;
        if (g->n == cap) {
            cap = cap ? cap * 2 : 64;
            g->v = realloc(g->v, cap * sizeof *g->v);
            if (!g->v) abort();
        }
        got_rec *o = &g->v[g->n++];
        memset(o, 0, sizeof *o);
        o->kind = kind;
        o->line = rec.line;
        o->blank = rec.blank;
        o->id = dup_n(rec.id ? rec.id : "", rec.id ? strlen(rec.id) : 0);
        if (kind == EP_READ_RECORD) {
            o->text = dup_n(rec.text, rec.text_len);
            o->text_len = rec.text_len;
            g->records++;
        } else {
            o->reason = dup_n(rec.reason ? rec.reason : "", rec.reason ? strlen(rec.reason) : 0);
            g->rejected++;
        }
    }
}

/* Everything an opened reader r gives (g->open_status already set), then frees r. */
static inline void read_all(ep_reader *r, got_all *g) {
    g->format = ep_reader_format(r);
    if (ep_reader_warning(r)) snprintf(g->warning, sizeof g->warning, "%s", ep_reader_warning(r));
    drain(r, g);
    ep_reader_position(r, &g->end_byte, &g->end_line);
    ep_reader_free(r);
}

static inline got_all read_path(const char *path, const ep_reader_options *o) {
    got_all g;
    memset(&g, 0, sizeof g);
    ep_reader *r = NULL;
    g.open_status = ep_reader_open(path, o, &r, &g.err);
    if (g.open_status == EP_OK) read_all(r, &g);
    return g;
}

static inline got_all read_mem(const char *data, size_t len, const char *name, const ep_reader_options *o) {
    got_all g;
    memset(&g, 0, sizeof g);
    ep_reader *r = NULL;
    g.open_status = ep_reader_open_memory(data, len, name, o, &r, &g.err);
    if (g.open_status == EP_OK) read_all(r, &g);
    return g;
}

static inline void got_free(got_all *g) {
    for (size_t i = 0; i < g->n; i++) {
        free(g->v[i].text);
        free(g->v[i].id);
        free(g->v[i].reason);
    }
    free(g->v);
    memset(g, 0, sizeof *g);
}

static inline void got_dump(const char *what, const got_all *g) {
    fprintf(stderr, "  %s: open %d, status %d (%s), format %s, %zu records, %zu rejected\n", what,
            (int)g->open_status, (int)g->status, g->err.message, ep_input_format_name(g->format), g->records,
            g->rejected);
    for (size_t i = 0; i < g->n && i < 40; i++) {
        const got_rec *r = &g->v[i];
        if (r->kind == EP_READ_RECORD)
            fprintf(stderr, "    [%zu] line %llu id '%s' text '%.60s'\n", i, (unsigned long long)r->line, r->id,
                    r->text);
        else
            fprintf(stderr, "    [%zu] line %llu id '%s' REJECTED: %s\n", i, (unsigned long long)r->line, r->id,
                    r->reason);
    }
}

// ----------------------------------------------------------------------------
// Temporary files

static char ep_tmpdir[256];

static inline const char *tmp_dir(void) {
    if (!ep_tmpdir[0]) {
        snprintf(ep_tmpdir, sizeof ep_tmpdir, "%s/ep_reader_XXXXXX", ep_test_env("TMPDIR", "/tmp"));
        if (!mkdtemp(ep_tmpdir)) {
            perror("mkdtemp");
            exit(1);
        }
    }
    return ep_tmpdir;
}

static inline void tmp_cleanup(void) {
    if (!ep_tmpdir[0]) return;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", ep_tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", ep_tmpdir);
}

/* Writes len bytes to <tmp>/name. @return the path (static storage, one of 8 rotating buffers). */
static inline const char *tmp_write(const char *name, const void *data, size_t len) {
    static char paths[8][512];
    static int next = 0;
    char *path = paths[next++ % 8];
    snprintf(path, 512, "%s/%s", tmp_dir(), name);
    if (ep_test_write_file(path, data, len) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    return path;
}

/* @return a malloc'd zstd frame holding data; *out_len its size. */
static inline void *zstd_bytes(const void *data, size_t len, size_t *out_len) {
    size_t cap = ZSTD_compressBound(len);
    void *out = malloc(cap);
    size_t n = ZSTD_compress(out, cap, data, len, 3);
    if (!out || ZSTD_isError(n)) abort();
    *out_len = n;
    return out;
}

/* @return a malloc'd gzip member holding data; *out_len its size. */
static inline void *gzip_bytes(const void *data, size_t len, size_t *out_len) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) abort();
    size_t cap = deflateBound(&z, (uLong)len) + 64;
    unsigned char *out = malloc(cap);
    if (!out) abort();
    z.next_in = (unsigned char *)data;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) abort();
    *out_len = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

/* A growing string for building inputs. */
typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

static inline void sb_add(sbuf *b, const void *data, size_t len) {
    if (b->n + len + 1 > b->cap) {
        b->cap = (b->n + len + 1) * 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p) abort();
    }
    memcpy(b->p + b->n, data, len);
    b->n += len;
    b->p[b->n] = '\0';
}

static inline void sb_printf(sbuf *b, const char *fmt, ...) {
    char tmp[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) abort();
    sb_add(b, tmp, (size_t)n);
}

#endif /* EP_READER_TEST_UTIL_H */
