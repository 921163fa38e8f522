/*
 * fixture_util.h - reading the committed reference fixtures (zstd-compressed
 * NDJSON and .npy files written by scripts/make-reference.py), lines of
 * the shared data files, and the model and tokenizer the conformance tests
 * hold against the vectors fixture.
 */
#ifndef EP_FIXTURE_UTIL_H
#define EP_FIXTURE_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "test_util.h"

/* Reads a whole file, decompressing it when its name ends in .zst.
 * @return a malloc'd, NUL-terminated buffer (length in *len), or NULL after printing why. */
static inline char *ep_fixture_read(const char *path, size_t *len) {
    size_t n = 0;
    char *raw = (char *)ep_test_read_file(path, &n);
    if (!raw) {
        fprintf(stderr, "cannot read fixture %s (regenerate with scripts/make-reference.py)\n", path);
        return NULL;
    }
    size_t plen = strlen(path);
    if (plen < 4 || strcmp(path + plen - 4, ".zst") != 0) {
        *len = n;
        return raw;
    }
    ZSTD_DStream *ds = ZSTD_createDStream();
    size_t out_cap = n * 4 + 1024, out_n = 0;
    char *out = malloc(out_cap);
    ZSTD_inBuffer in = {raw, n, 0};
    size_t r = 1, made = 1; /* r is 0 once a frame is complete: a cut-off fixture is an error */
    while (out && (in.pos < in.size || (r != 0 && made))) {
        if (out_cap - out_n < 1 << 16) out = realloc(out, out_cap *= 2);
        ZSTD_outBuffer ob = {out + out_n, out_cap - out_n - 1, 0};
        r = ZSTD_decompressStream(ds, &ob, &in);
        made = ob.pos;
        out_n += ob.pos;
        if (ZSTD_isError(r)) {
            fprintf(stderr, "fixture %s: %s\n", path, ZSTD_getErrorName(r));
            free(out);
            out = NULL;
        }
    }
    if (out && r != 0) {
        fprintf(stderr, "fixture %s: the zstd frame is cut off\n", path);
        free(out);
        out = NULL;
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

// ----------------------------------------------------------------------------
// The embedding-conformance fixture: real tweets (named by file and line of the shared data, never
// copied) and the vectors sentence-transformers gave them.

#include <cjson/cJSON.h>
#include <xxhash.h>

#include "model.h"
#include "tokenizer.h"

#define EP_FIXTURE_MAX_FILES 64

typedef struct ep_fixture_tweet {
    const char *text;   /* the line of the shared data file (points into files[]) */
    size_t len;
    char where[160];    /* "tweeteval/NAME.txt:LINE", for messages */
    int n_tokens;       /* what sentence-transformers fed its model */
} ep_fixture_tweet;

typedef struct ep_fixture_vectors {
    ep_fixture_tweet *rows;
    size_t n;
    size_t dim;
    const float *ref;   /* [n][dim] sentence-transformers fp32, L2-normalised (points into npy) */
    char *npy;
    ep_fixture_lines files[EP_FIXTURE_MAX_FILES];
    char file_names[EP_FIXTURE_MAX_FILES][256];
    int n_files;
} ep_fixture_vectors;

/* Loads tests/fixtures/vectors-tweeteval.* under src and the texts they name from data, each checked
 * against the fixture's XXH3 (the caller skips beforehand when data is absent).
 * @return 0, or -1 after printing what is wrong. */
static inline int ep_fixture_vectors_load(const char *src, const char *data, ep_fixture_vectors *v) {
    char path[4600];
    size_t rows_len = 0, npy_len = 0;
    memset(v, 0, sizeof *v);
    snprintf(path, sizeof path, "%s/tests/fixtures/vectors-tweeteval.rows.ndjson.zst", src);
    char *rows_text = ep_fixture_read(path, &rows_len);
    snprintf(path, sizeof path, "%s/tests/fixtures/vectors-tweeteval.f32.npy.zst", src);
    v->npy = ep_fixture_read(path, &npy_len);
    size_t n_ref = 0;
    v->ref = v->npy ? ep_fixture_npy_f32(v->npy, npy_len, &n_ref, &v->dim) : NULL;
    if (!rows_text || !v->ref) {
        fprintf(stderr, "the vectors fixture is missing or not a float32 .npy\n");
        free(rows_text);
        return -1;
    }
    v->rows = calloc(n_ref, sizeof *v->rows);
    int bad = 0;
    for (char *line = strtok(rows_text, "\n"); line && v->n < n_ref && !bad; line = strtok(NULL, "\n")) {
        cJSON *o = cJSON_Parse(line);
        const char *file = cJSON_GetStringValue(cJSON_GetObjectItem(o, "file"));
        const char *xxh = cJSON_GetStringValue(cJSON_GetObjectItem(o, "xxh3"));
        cJSON *ln = cJSON_GetObjectItem(o, "line"), *nt = cJSON_GetObjectItem(o, "n_tokens");
        if (!file || !xxh || !cJSON_IsNumber(ln) || !cJSON_IsNumber(nt)) {
            fprintf(stderr, "malformed fixture row: %s\n", line);
            bad = 1;
        }
        int f = 0;
        while (!bad && f < v->n_files && strcmp(v->file_names[f], file) != 0) f++;
        if (!bad && f == v->n_files) {
            snprintf(path, sizeof path, "%s/%s", data, file);
            if (f == EP_FIXTURE_MAX_FILES || ep_fixture_lines_load(path, &v->files[f]) != 0) {
                fprintf(stderr, "cannot read %s\n", path);
                bad = 1;
            } else {
                snprintf(v->file_names[f], sizeof v->file_names[f], "%s", file);
                v->n_files++;
            }
        }
        size_t li = bad ? 0 : (size_t)ln->valuedouble - 1;
        if (!bad && li >= v->files[f].n) {
            fprintf(stderr, "%s has no line %zu\n", file, li + 1);
            bad = 1;
        }
        if (!bad) {
            ep_fixture_tweet *t = &v->rows[v->n++];
            t->text = v->files[f].line[li];
            t->len = v->files[f].len[li];
            t->n_tokens = (int)nt->valuedouble;
            snprintf(t->where, sizeof t->where, "%s:%zu", file, li + 1);
            char hex[17];
            snprintf(hex, sizeof hex, "%016llx", (unsigned long long)XXH3_64bits(t->text, t->len));
            if (strcmp(hex, xxh) != 0) {
                fprintf(stderr, "%s changed since the fixture was made\n", t->where);
                bad = 1;
            }
        }
        cJSON_Delete(o);
    }
    free(rows_text);
    if (!bad && v->n != n_ref) {
        fprintf(stderr, "the fixture names %zu tweets for %zu vectors\n", v->n, n_ref);
        bad = 1;
    }
    return bad ? -1 : 0;
}

static inline void ep_fixture_vectors_free(ep_fixture_vectors *v) {
    for (int i = 0; i < v->n_files; i++) ep_fixture_lines_free(&v->files[i]);
    free(v->rows);
    free(v->npy);
    memset(v, 0, sizeof *v);
}

/* Loads the model in model_dir and its tokenizer (lowercasing as the model's config says), as the
 * conformance tests feed the fixture's tweets to them; checks that the model's width is the
 * fixture's dim. @return 0, or -1 when either cannot be loaded (the failed check says why). */
static inline int ep_fixture_model_open(const char *model_dir, size_t dim, ep_model **model, ep_tokenizer **tok) {
    char path[4096];
    ep_error err = {0};
    *model = NULL;
    *tok = NULL;
    CHECK_OK(ep_model_load(model_dir, model, &err), &err);
    if (!*model) return -1;
    CHECK((size_t)(*model)->config.hidden == dim);
    snprintf(path, sizeof path, "%s/vocab.txt", model_dir);
    ep_tokenizer_options to = ep_tokenizer_default_options();
    to.lowercase = (*model)->config.do_lower_case;
    CHECK_OK(ep_tokenizer_create(path, &to, tok, &err), &err);
    return *tok ? 0 : -1;
}

/* @return the cosine similarity of a and b (n values each), in double precision; 0 for a zero vector. */
static inline double ep_fixture_cosine(const float *a, const float *b, int n) {
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < n; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return ab / (sqrt(aa) * sqrt(bb) + 1e-30);
}

#endif /* EP_FIXTURE_UTIL_H */
