/* search.c - brute-force top-k over float16 shards; see search.h. */
#include "search.h"

#include "cpu_ops.h"
#include "manifest.h"
#include "reader.h"
#include "shard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Inserts (row, score) into hits[0..*n) kept sorted best first, capacity k. */
static void keep_best(ep_search_hit *hits, int *n, int k, uint64_t row, float score) {
    if (*n == k && score <= hits[k - 1].score) return;
    int i = *n < k ? (*n)++ : k - 1;
    while (i > 0 && hits[i - 1].score < score) {
        hits[i] = hits[i - 1];
        i--;
    }
    hits[i].row = row;
    hits[i].score = score;
}

ep_status ep_search_folder(const char *dir, const float *query, int dim, int k, ep_search_hit *hits, int *n_hits,
                           ep_error *err) {
    *n_hits = 0;
    if (k < 1) return ep_error_set(err, EP_ERR_USAGE, "search: k must be at least 1");
    ep_manifest *m = NULL;
    ep_status st = ep_manifest_read(dir, &m, err);
    if (st != EP_OK) return st;
    if (m->dim != dim) {
        st = ep_error_set(err, EP_ERR_USAGE, "search: %s holds %d-dimensional rows, the query has %d", dir, m->dim,
                          dim);
        ep_manifest_free(m);
        return st;
    }
    for (size_t s = 0; s < m->n_shards && st == EP_OK; s++) {
        char path[4352];
        snprintf(path, sizeof path, "%s/%s", dir, m->shards[s].name);
        uint16_t *rows = NULL;
        size_t n = 0;
        int shard_dim = 0;
        st = ep_shard_read(path, &rows, &n, &shard_dim, err);
        if (st != EP_OK) break;
        if (shard_dim != dim) {
            st = ep_error_set(err, EP_ERR_FORMAT, "%s: rows of width %d, manifest says %d", path, shard_dim, dim);
        } else {
            for (size_t r = 0; r < n; r++) {
                float dot = 0.0f;
                const uint16_t *row = rows + r * (size_t)dim;
                for (int i = 0; i < dim; i++) dot += query[i] * ep_f16_to_f32(row[i]);
                keep_best(hits, n_hits, k, m->shards[s].first_row + r, dot);
            }
        }
        free(rows);
    }
    ep_manifest_free(m);
    return st;
}

ep_status ep_search_fetch_texts(const char *dir, const uint64_t *rows, int n, char **texts, char **ids,
                                ep_error *err) {
    for (int i = 0; i < n; i++) texts[i] = ids[i] = NULL;
    ep_manifest *m = NULL;
    ep_status st = ep_manifest_read(dir, &m, err);
    if (st != EP_OK) return st;
    uint64_t row = 0;
    int found = 0;
    for (size_t f = 0; f < m->n_inputs && st == EP_OK && found < n; f++) {
        ep_reader_options ro = {.format = EP_FORMAT_AUTO,
                                .text_path = m->text_path[0] ? m->text_path : NULL,
                                .id_path = m->id_path[0] ? m->id_path : NULL};
        ep_input_format_parse(m->inputs[f].format, &ro.format, NULL);
        ep_reader *r = NULL;
        st = ep_reader_open(m->inputs[f].path, &ro, &r, err);
        if (st != EP_OK) break;
        for (;;) {
            ep_record rec;
            ep_read_kind kind;
            st = ep_reader_next(r, &rec, &kind, err);
            if (st != EP_OK || kind == EP_READ_END) break;
            if (kind != EP_READ_RECORD) continue;
            for (int i = 0; i < n; i++) {
                if (rows[i] == row && !texts[i]) {
                    texts[i] = strdup(rec.text);
                    ids[i] = strdup(rec.id);
                    found++;
                }
            }
            row++;
            if (found == n) break;
        }
        ep_reader_free(r);
    }
    ep_manifest_free(m);
    return st;
}
