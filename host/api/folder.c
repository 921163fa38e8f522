/*
 * folder.c - ep_folder of include/embedpipe.h: an output folder read back
 * through io/output's checked reader (output_reader.h), which checks the
 * manifest on open and each shard's files against it before handing out rows.
 * One shard's vectors and one shard's ids are kept at a time.
 */
#include "float16.h"
#include "output_reader.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ep_folder {
    ep_output_reader *reader;
    const ep_manifest *m;
    uint64_t *start;        /* [n_shards + 1]: the folder row each shard starts at */
    ep_output_shard vectors; /* the shard last read for its vectors (vectors.info NULL: none) */
    size_t vectors_shard;
    ep_output_shard ids;    /* the shard last read for its ids */
    size_t ids_shard;
};

ep_status ep_folder_open(const char *dir, ep_folder **out, ep_error *err) {
    if (!out) return ep_error_set(err, EP_ERR_USAGE, "ep_folder_open: out must not be NULL");
    *out = NULL;
    if (!dir || !*dir) return ep_error_set(err, EP_ERR_USAGE, "ep_folder_open: no folder given");
    ep_folder *f = calloc(1, sizeof *f);
    if (!f) return ep_error_set(err, EP_ERR_NOMEM, "out of memory");
    ep_status st = ep_output_open(dir, &f->reader, err);
    if (st == EP_OK) {
        f->m = ep_output_manifest(f->reader);
        f->start = malloc(sizeof *f->start * (f->m->n_shards + 1));
        if (!f->start) st = ep_error_set(err, EP_ERR_NOMEM, "out of memory");
    }
    if (st != EP_OK) {
        ep_folder_close(f);
        return st;
    }
    f->start[0] = 0;
    for (size_t i = 0; i < f->m->n_shards; i++) f->start[i + 1] = f->start[i] + f->m->shards[i].rows;
    *out = f;
    return EP_OK;
}

void ep_folder_close(ep_folder *f) {
    if (!f) return;
    ep_output_shard_free(&f->vectors);
    ep_output_shard_free(&f->ids);
    ep_output_close(f->reader);
    free(f->start);
    free(f);
}

uint64_t ep_folder_rows(const ep_folder *f) { return f ? f->start[f->m->n_shards] : 0; }
int ep_folder_dim(const ep_folder *f) { return f ? f->m->dim : 0; }
int ep_folder_complete(const ep_folder *f) { return f && f->m->complete && f->m->run.part_count <= 1; }
const char *ep_folder_model(const ep_folder *f) { return f ? f->m->model_name : ""; }

/* @return the shard holding folder row `row` (< ep_folder_rows), by binary search over start[]. */
static size_t shard_of(const ep_folder *f, uint64_t row) {
    size_t lo = 0, hi = f->m->n_shards - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo + 1) / 2;
        if (f->start[mid] <= row) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

/* Makes *cache hold shard i's `what` (EP_OUTPUT_VECTORS or EP_OUTPUT_IDS), reading it when it does not.
 * @return EP_OK, or the reader's error (the cache is then empty). */
static ep_status load(ep_folder *f, size_t i, unsigned what, ep_output_shard *cache, size_t *cached, ep_error *err) {
    if (cache->info && *cached == i) return EP_OK;
    ep_output_shard_free(cache);
    ep_status st = ep_output_read_shard(f->reader, i, what, cache, err);
    if (st == EP_OK) *cached = i;
    return st;
}

/* Copies rows first .. first+n-1 shard by shard: as float16 bits to out16, or converted to out32. */
static ep_status read_rows(ep_folder *f, uint64_t first, size_t n, float *out32, uint16_t *out16, ep_error *err) {
    if (n == 0) return EP_OK;
    if (!f || (!out32 && !out16))
        return ep_error_set(err, EP_ERR_USAGE, "ep_folder_read: folder and out must not be NULL");
    uint64_t rows = ep_folder_rows(f);
    if (first > rows || n > rows - first)
        return ep_error_set(err, EP_ERR_USAGE, "ep_folder_read: rows %llu .. %llu asked for, the folder has %llu",
                            (unsigned long long)first, (unsigned long long)(first + n - 1), (unsigned long long)rows);
    const size_t dim = (size_t)f->m->dim;
    size_t done = 0;
    while (done < n) {
        uint64_t row = first + done;
        size_t i = shard_of(f, row);
        ep_status st = load(f, i, EP_OUTPUT_VECTORS, &f->vectors, &f->vectors_shard, err);
        if (st != EP_OK) return st;
        size_t at = (size_t)(row - f->start[i]), take = (size_t)(f->start[i + 1] - row);
        if (take > n - done) take = n - done;
        const uint16_t *src = f->vectors.rows + at * dim;
        if (out16) memcpy(out16 + done * dim, src, sizeof(uint16_t) * take * dim);
        else
            for (size_t k = 0; k < take * dim; k++) out32[done * dim + k] = ep_f16_to_f32(src[k]);
        done += take;
    }
    return EP_OK;
}

ep_status ep_folder_read(ep_folder *f, uint64_t first, size_t n, float *out, ep_error *err) {
    return read_rows(f, first, n, out, NULL, err);
}

ep_status ep_folder_read_f16(ep_folder *f, uint64_t first, size_t n, uint16_t *out, ep_error *err) {
    return read_rows(f, first, n, NULL, out, err);
}

ep_status ep_folder_id(ep_folder *f, uint64_t row, const char **id, ep_error *err) {
    if (!f || !id) return ep_error_set(err, EP_ERR_USAGE, "ep_folder_id: folder and id must not be NULL");
    *id = NULL;
    uint64_t rows = ep_folder_rows(f);
    if (row >= rows)
        return ep_error_set(err, EP_ERR_USAGE, "ep_folder_id: row %llu asked for, the folder has %llu",
                            (unsigned long long)row, (unsigned long long)rows);
    size_t i = shard_of(f, row);
    ep_status st = load(f, i, EP_OUTPUT_IDS, &f->ids, &f->ids_shard, err);
    if (st != EP_OK) return st;
    const char *s = f->ids.meta[row - f->start[i]].id;
    *id = s ? s : "";
    return EP_OK;
}

/* Adds the JSON object text of one row's metadata to *buf (grown as needed), then '\n'.
 * The kept fields' object (m->fields) is parsed and its keys added after "text", so that a
 * binding sees every column the ids file has without knowing their names.
 * @return EP_OK, EP_ERR_FORMAT for fields that are not a JSON object, or EP_ERR_NOMEM. */
static ep_status append_meta(const ep_row_meta *m, char **buf, size_t *len, size_t *cap, ep_error *err) {
    char hash[17];
    snprintf(hash, sizeof hash, "%016" PRIx64, m->text_hash);
    cJSON *o = cJSON_CreateObject();
    bool ok = o && cJSON_AddStringToObject(o, "id", m->id ? m->id : "") &&
              cJSON_AddNumberToObject(o, "file", m->file_index) &&
              cJSON_AddNumberToObject(o, "line", (double)m->line) &&
              cJSON_AddNumberToObject(o, "tokens", m->n_tokens) &&
              cJSON_AddBoolToObject(o, "truncated", m->truncated) && cJSON_AddStringToObject(o, "hash", hash) &&
              (!m->text || cJSON_AddStringToObject(o, "text", m->text));
    if (ok && m->fields) {
        cJSON *fields = cJSON_Parse(m->fields);
        if (!cJSON_IsObject(fields)) {
            cJSON_Delete(fields);
            cJSON_Delete(o);
            return ep_error_set(err, EP_ERR_FORMAT, "row %" PRIu64 " of input %" PRIu32 ": kept fields are not a JSON "
                                "object; run `embedpipe verify` on the folder", m->line, m->file_index);
        }
        while (ok && fields->child) {
            cJSON *item = cJSON_DetachItemViaPointer(fields, fields->child);
            const char *key = item->string;
            if (cJSON_GetObjectItemCaseSensitive(o, key)) cJSON_Delete(item); /* the row's own keys win */
            else ok = cJSON_AddItemToObject(o, key, item);
        }
        cJSON_Delete(fields);
    }
    char *text = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!text) return ep_error_set(err, EP_ERR_NOMEM, "out of memory");
    size_t n = strlen(text);
    if (*len + n + 2 > *cap) {
        size_t want = (*cap ? *cap * 2 : 4096) + n + 2;
        char *grown = realloc(*buf, want);
        if (!grown) {
            free(text);
            return ep_error_set(err, EP_ERR_NOMEM, "out of memory");
        }
        *buf = grown;
        *cap = want;
    }
    memcpy(*buf + *len, text, n);
    *len += n;
    (*buf)[(*len)++] = '\n';
    (*buf)[*len] = '\0';
    free(text);
    return EP_OK;
}

ep_status ep_folder_meta_ndjson(ep_folder *f, uint64_t first, size_t n, char **ndjson, size_t *length,
                                ep_error *err) {
    if (!f || !ndjson)
        return ep_error_set(err, EP_ERR_USAGE, "ep_folder_meta_ndjson: folder and ndjson must not be NULL");
    *ndjson = NULL;
    if (length) *length = 0;
    uint64_t rows = ep_folder_rows(f);
    if (first > rows || n > rows - first)
        return ep_error_set(err, EP_ERR_USAGE,
                            "ep_folder_meta_ndjson: rows %llu .. %llu asked for, the folder has %llu",
                            (unsigned long long)first, (unsigned long long)(first + n) - 1, (unsigned long long)rows);
    size_t len = 0, cap = 1;
    char *buf = calloc(1, 1);
    if (!buf) return ep_error_set(err, EP_ERR_NOMEM, "out of memory");
    ep_status st = EP_OK;
    for (size_t done = 0; done < n && st == EP_OK;) {
        uint64_t row = first + done;
        size_t i = shard_of(f, row);
        st = load(f, i, EP_OUTPUT_IDS, &f->ids, &f->ids_shard, err);
        size_t at = (size_t)(row - f->start[i]), take = (size_t)(f->start[i + 1] - row);
        if (take > n - done) take = n - done;
        for (size_t k = 0; k < take && st == EP_OK; k++) st = append_meta(&f->ids.meta[at + k], &buf, &len, &cap, err);
        done += take;
    }
    if (st != EP_OK) {
        free(buf);
        return st;
    }
    *ndjson = buf;
    if (length) *length = len;
    return EP_OK;
}

void ep_folder_text_free(char *text) { free(text); }
