/* map_view.c - what the map's pictures show, read from an output folder; see map_view.h. */
#include "map_view.h"

#include "derived.h"
#include "output_reader.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint32_t ep_map_colour(int c) {
    /* hues picked to stay apart on white and on dark grey; the first ones the most different */
    static const uint32_t palette[20] = {
        0x1f77d0, 0xe8601c, 0x2ca02c, 0xd62738, 0x8c5bc4, 0x8c564b, 0xe377c2, 0x6b6b6b, 0xb5b51d, 0x17b3c8,
        0x0b4f8a, 0xf5a623, 0x66c24a, 0xff8f8f, 0x3d2d8f, 0xc49c7a, 0xa8326e, 0x39a889, 0x9e9e3a, 0x5aa0e6,
    };
    return palette[(c < 0 ? -c : c) % 20];
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

/* The first string (or number) member whose key is one of names, as text. */
static char *pick_field(const cJSON *obj, const char *const *names) {
    for (int i = 0; names[i]; i++) {
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, names[i]);
        if (cJSON_IsString(it) && it->valuestring[0]) return strdup(it->valuestring);
        if (cJSON_IsNumber(it)) {
            char buf[64];
            snprintf(buf, sizeof buf, "%.17g", it->valuedouble);
            return strdup(buf);
        }
    }
    return NULL;
}

/* True for a "word" that reads as nothing on a label: only general punctuation (U+2000-U+206F: an
 * ellipsis, zero-width joiners) and variation selectors (U+FE00-U+FE0F), which tweets' emoji leave. */
static bool invisible_word(const char *w) {
    const unsigned char *p = (const unsigned char *)w;
    if (!*p) return true;
    while (*p) {
        if (p[0] == 0xE2 && (p[1] == 0x80 || p[1] == 0x81) && p[2]) p += 3;      /* U+2000-U+207F */
        else if (p[0] == 0xEF && p[1] == 0xB8 && p[2] >= 0x80 && p[2] <= 0x8F) p += 3; /* U+FE00-U+FE0F */
        else return false;
    }
    return true;
}

/* The cluster names: the first words of each cluster in cluster-report.json (when listed). */
static void load_cluster_names(const char *dir, ep_map_view *v) {
    char path[4096];
    snprintf(path, sizeof path, "%s/cluster-report.json", dir);
    FILE *f = fopen(path, "rb");
    if (!f) return;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = len > 0 ? malloc((size_t)len + 1) : NULL;
    if (text && fread(text, 1, (size_t)len, f) == (size_t)len) {
        text[len] = 0;
        cJSON *root = cJSON_Parse(text);
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "clusters"), *e;
        cJSON_ArrayForEach(e, list) {
            const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "cluster");
            if (!cJSON_IsNumber(c) || c->valueint < 0 || c->valueint >= v->n_clusters) continue;
            char name[128] = "";
            size_t at = 0;
            const cJSON *w;
            int used = 0;
            cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(e, "words")) {
                if (!cJSON_IsString(w) || used == 3 || invisible_word(w->valuestring)) continue;
                int n = snprintf(name + at, sizeof name - at, "%s%s", used ? " " : "", w->valuestring);
                if (n < 0 || (size_t)n >= sizeof name - at) break;
                at += (size_t)n;
                used++;
            }
            free(v->cluster_names[c->valueint]);
            v->cluster_names[c->valueint] = strdup(name);
        }
        cJSON_Delete(root);
    }
    free(text);
    fclose(f);
}

ep_status ep_map_view_load(const char *dir, const ep_manifest *m, float *xy, int max_neighbours, ep_map_view *v,
                           ep_error *err) {
    memset(v, 0, sizeof *v);
    const uint64_t n = m->records_embedded;
    v->n_rows = n;
    v->xy = xy;
    snprintf(v->title, sizeof v->title, "%s", dir);
    ep_derived_index idx;
    ep_status st = ep_derived_index_read(dir, &idx, err);
    if (st != EP_OK) return st;
    char digest[65];
    ep_derived_run_digest(m, digest);
    bool same_run = strcmp(idx.run_digest, digest) == 0;
    if (st == EP_OK && same_run && ep_derived_listed(&idx, "cluster-labels.npy.zst")) {
        void *data = NULL;
        uint64_t rows = 0, cols = 0;
        st = ep_derived_read_array(dir, m, "cluster-labels.npy.zst", 'i', &data, &rows, &cols, err);
        if (st == EP_OK && (rows != n || cols != 0)) {
            free(data);
            data = NULL;
            st = ep_error_set(err, EP_ERR_MISMATCH, "%s/cluster-labels.npy.zst has %llu rows, the run %llu; run "
                              "`embedpipe cluster %s` again", dir, (unsigned long long)rows, (unsigned long long)n, dir);
        }
        v->labels = data;
        for (uint64_t i = 0; st == EP_OK && i < n; i++)
            if (v->labels[i] + 1 > v->n_clusters) v->n_clusters = v->labels[i] + 1;
        if (st == EP_OK && v->n_clusters > 0) {
            v->cluster_names = calloc((size_t)v->n_clusters, sizeof(char *));
            v->cluster_sizes = calloc((size_t)v->n_clusters, sizeof(uint64_t));
            if (!v->cluster_names || !v->cluster_sizes) st = ep_error_set(err, EP_ERR_NOMEM, "map: out of memory");
            for (uint64_t i = 0; st == EP_OK && i < n; i++)
                if (v->labels[i] >= 0) v->cluster_sizes[v->labels[i]]++;
            if (st == EP_OK && ep_derived_listed(&idx, "cluster-report.json")) load_cluster_names(dir, v);
        }
    }
    if (st == EP_OK && same_run && max_neighbours > 0 && ep_derived_listed(&idx, "related-rows.npy.zst")) {
        void *data = NULL;
        uint64_t rows = 0, cols = 0;
        st = ep_derived_read_array(dir, m, "related-rows.npy.zst", 'i', &data, &rows, &cols, err);
        if (st == EP_OK && rows == n && cols > 0) {
            int keep = (int)cols < max_neighbours ? (int)cols : max_neighbours;
            int32_t *src = data;
            for (uint64_t i = 0; i < n; i++)
                memmove(src + i * (size_t)keep, src + i * (size_t)cols, sizeof(int32_t) * (size_t)keep);
            v->neighbours = src;
            v->n_neighbours = keep;
        } else {
            free(data);
        }
    }
    ep_derived_index_clear(&idx);
    /* texts, fields and ids, one shard at a time */
    static const char *const DATE_KEYS[] = {"created_at", "date", "timestamp", "time", "tweet.created_at", NULL};
    static const char *const AUTHOR_KEYS[] = {"user.screen_name", "screen_name", "author", "username", "user",
                                              "user.name", "tweet.user.screen_name", "name", NULL};
    ep_output_reader *r = NULL;
    if (st == EP_OK) st = ep_output_open(dir, &r, err);
    if (st == EP_OK) {
        v->texts = calloc((size_t)n + 1, sizeof(char *));
        v->dates = calloc((size_t)n + 1, sizeof(char *));
        v->authors = calloc((size_t)n + 1, sizeof(char *));
        v->ids = calloc((size_t)n + 1, sizeof(char *));
        if (!v->texts || !v->dates || !v->authors || !v->ids) st = ep_error_set(err, EP_ERR_NOMEM, "map: out of memory");
    }
    bool any_text = false, any_date = false, any_author = false, any_id = false;
    for (size_t s = 0; st == EP_OK && s < m->n_shards; s++) {
        ep_output_shard shard;
        st = ep_output_read_shard(r, s, EP_OUTPUT_IDS, &shard, err);
        for (size_t i = 0; st == EP_OK && i < shard.n_rows; i++) {
            uint64_t row = shard.info->first_row + i;
            if (row >= n) break;
            const ep_row_meta *meta = &shard.meta[i];
            if (meta->text) any_text = (v->texts[row] = dup_or_null(meta->text)) != NULL || any_text;
            if (meta->id && meta->id[0]) any_id = (v->ids[row] = strdup(meta->id)) != NULL || any_id;
            if (meta->fields) {
                cJSON *obj = cJSON_Parse(meta->fields);
                if (obj) {
                    if ((v->dates[row] = pick_field(obj, DATE_KEYS))) any_date = true;
                    if ((v->authors[row] = pick_field(obj, AUTHOR_KEYS))) any_author = true;
                }
                cJSON_Delete(obj);
            }
        }
        ep_output_shard_free(&shard);
    }
    ep_output_close(r);
    /* an all-NULL column is no column: the page then says "no text kept" once */
    if (!any_text) free(v->texts), v->texts = NULL;
    if (!any_date) free(v->dates), v->dates = NULL;
    if (!any_author) free(v->authors), v->authors = NULL;
    if (!any_id) free(v->ids), v->ids = NULL;
    if (st != EP_OK) ep_map_view_free(v);
    return st;
}

static void free_strings(char **s, uint64_t n) {
    for (uint64_t i = 0; s && i < n; i++) free(s[i]);
    free(s);
}

void ep_map_view_free(ep_map_view *v) {
    if (!v) return;
    free(v->labels);
    free_strings(v->cluster_names, (uint64_t)v->n_clusters);
    free(v->cluster_sizes);
    free_strings(v->texts, v->n_rows);
    free_strings(v->dates, v->n_rows);
    free_strings(v->authors, v->n_rows);
    free_strings(v->ids, v->n_rows);
    free(v->neighbours);
    memset(v, 0, sizeof *v);
}

float *ep_map_view_centres(const ep_map_view *v) {
    if (!v->labels || v->n_clusters < 1) return NULL;
    double *sum = calloc((size_t)v->n_clusters * 3, sizeof(double));
    float *out = malloc(sizeof(float) * 2 * (size_t)v->n_clusters);
    if (!sum || !out) {
        free(sum);
        free(out);
        return NULL;
    }
    for (uint64_t i = 0; i < v->n_rows; i++) {
        int c = v->labels[i];
        if (c < 0 || c >= v->n_clusters) continue;
        sum[3 * c] += v->xy[2 * i];
        sum[3 * c + 1] += v->xy[2 * i + 1];
        sum[3 * c + 2] += 1;
    }
    for (int c = 0; c < v->n_clusters; c++) {
        out[2 * c] = sum[3 * c + 2] > 0 ? (float)(sum[3 * c] / sum[3 * c + 2]) : NAN;
        out[2 * c + 1] = sum[3 * c + 2] > 0 ? (float)(sum[3 * c + 1] / sum[3 * c + 2]) : NAN;
    }
    free(sum);
    return out;
}
