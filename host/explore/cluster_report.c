/* cluster_report.c - the cluster report as JSON and as text; see cluster_report.h. */
#include "cluster_report.h"

#include "cluster_words.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ep_cluster_suggest_k(const uint64_t *sizes, int k, uint64_t n_rows) {
    if (k < 2) return 0;
    double mean = (double)n_rows / k;
    uint64_t largest = 0;
    int tiny = 0;
    for (int c = 0; c < k; c++) {
        if (sizes[c] > largest) largest = sizes[c];
        tiny += (double)sizes[c] < mean / 10;
    }
    // Many crumbs: fewer clusters describe the rows as well; one giant: it needs splitting.
    if (tiny * 4 > k) return k - tiny > 2 ? k - tiny : 2;
    if ((double)largest > 5 * mean) {
        int more = k * 2;
        return (uint64_t)more > n_rows ? 0 : more;
    }
    return 0;
}

static const uint64_t *g_sizes;
static int by_size(const void *pa, const void *pb) {
    int a = *(const int *)pa, b = *(const int *)pb;
    if (g_sizes[a] != g_sizes[b]) return g_sizes[a] > g_sizes[b] ? -1 : 1;
    return a - b;
}

/* Appends printf output to a growing buffer. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
    bool failed;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    if (b->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = true;
            return;
        }
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap + (size_t)n + 1) * 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->failed = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
}

/* One line of text, newlines as spaces, cut at max code points. */
static void sb_snippet(sbuf *b, const char *text, int max) {
    int chars = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if ((*p & 0xC0) != 0x80 && ++chars > max) {
            sb_printf(b, "...");
            return;
        }
        sb_printf(b, "%c", *p == '\n' || *p == '\r' || *p == '\t' ? ' ' : *p);
    }
}

ep_status ep_cluster_nearest(const ep_kmeans_result *km, int near, uint64_t **rows, ep_error *err) {
    uint64_t *nearest = malloc(sizeof(uint64_t) * (size_t)km->k * (size_t)near);
    int *n_near = calloc((size_t)km->k, sizeof(int));
    if (!nearest || !n_near) {
        free(nearest);
        free(n_near);
        return ep_error_set(err, EP_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < (size_t)km->k * (size_t)near; i++) nearest[i] = UINT64_MAX;
    for (uint64_t i = 0; i < km->n_rows; i++) {
        int c = km->labels[i];
        uint64_t *nc = nearest + (size_t)c * (size_t)near;
        int m = n_near[c];
        if (m == near && km->scores[i] <= km->scores[nc[near - 1]]) continue;
        int p = m < near ? m++ : near - 1;
        while (p > 0 && km->scores[i] > km->scores[nc[p - 1]]) {
            nc[p] = nc[p - 1];
            p--;
        }
        nc[p] = i;
        n_near[c] = m;
    }
    free(n_near);
    *rows = nearest;
    return EP_OK;
}

ep_status ep_cluster_report(const ep_cluster_report_input *in, int show, char **json, char **summary, ep_error *err) {
    *json = *summary = NULL;
    const ep_kmeans_result *km = in->km;
    const int k = km->k, near = in->nearest > 0 ? in->nearest : 3, top = in->words > 0 ? in->words : 8;
    uint64_t *sizes = calloc((size_t)k, sizeof *sizes);
    double *cos_sum = calloc((size_t)k, sizeof *cos_sum);
    int *order = malloc(sizeof(int) * (size_t)k);
    uint64_t *nearest = NULL;
    char **words = NULL;
    ep_status st = sizes && cos_sum && order ? EP_OK : ep_error_set(err, EP_ERR_NOMEM, "out of memory");
    if (st == EP_OK) st = ep_cluster_nearest(km, near, &nearest, err);
    if (st == EP_OK && in->texts) st = ep_cluster_words(in->texts, km->labels, km->n_rows, k, top, &words, err);
    if (st != EP_OK) goto done;
    for (uint64_t i = 0; i < km->n_rows; i++) {
        int c = km->labels[i];
        sizes[c]++;
        cos_sum[c] += km->scores[i];
    }
    for (int c = 0; c < k; c++) order[c] = c;
    g_sizes = sizes;
    qsort(order, (size_t)k, sizeof *order, by_size);
    int suggest = ep_cluster_suggest_k(sizes, k, km->n_rows);

    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "k", k);
    cJSON_AddNumberToObject(root, "rows", (double)km->n_rows);
    cJSON_AddNumberToObject(root, "seed", (double)in->seed);
    cJSON_AddNumberToObject(root, "iterations", km->iterations_run);
    cJSON_AddNumberToObject(root, "inertia", km->inertia);
    cJSON_AddBoolToObject(root, "texts", in->texts != NULL);
    cJSON_AddBoolToObject(root, "uneven", suggest != 0);
    if (suggest) cJSON_AddNumberToObject(root, "suggested_k", suggest);
    else cJSON_AddNullToObject(root, "suggested_k");
    cJSON *list = cJSON_AddArrayToObject(root, "clusters");
    sbuf sb = {0};
    sb_printf(&sb, "%d clusters of %llu rows (%d iterations, inertia %.1f)\n", k, (unsigned long long)km->n_rows,
              km->iterations_run, km->inertia);
    if (!in->texts)
        sb_printf(&sb, "(no words: the folder keeps no texts; embed again with texts kept to see them%s)\n",
                  in->shown ? "; the texts below were read again from the run's inputs" : "");
    if (suggest)
        sb_printf(&sb, "sizes are very uneven (largest %llu, mean %.0f): try -k %d\n", (unsigned long long)sizes[order[0]],
                  (double)km->n_rows / k, suggest);
    for (int oi = 0; oi < k; oi++) {
        int c = order[oi];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "cluster", c);
        cJSON_AddNumberToObject(e, "size", (double)sizes[c]);
        cJSON_AddNumberToObject(e, "share", (double)sizes[c] / (double)km->n_rows);
        cJSON_AddNumberToObject(e, "mean_cosine", sizes[c] ? cos_sum[c] / (double)sizes[c] : 0);
        cJSON *w = cJSON_AddArrayToObject(e, "words");
        bool shown = show <= 0 || oi < show;
        if (shown) sb_printf(&sb, "\ncluster %d: %llu row%s (%.1f%%), mean cosine %.3f\n", c,
                             (unsigned long long)sizes[c], sizes[c] == 1 ? "" : "s",
                             100.0 * (double)sizes[c] / (double)km->n_rows,
                             sizes[c] ? cos_sum[c] / (double)sizes[c] : 0);
        if (words && shown && words[(size_t)c * (size_t)top]) sb_printf(&sb, "  words:");
        for (int i = 0; words && i < top && words[(size_t)c * (size_t)top + (size_t)i]; i++) {
            cJSON_AddItemToArray(w, cJSON_CreateString(words[(size_t)c * (size_t)top + (size_t)i]));
            if (shown) sb_printf(&sb, " %s", words[(size_t)c * (size_t)top + (size_t)i]);
        }
        if (words && shown && words[(size_t)c * (size_t)top]) sb_printf(&sb, "\n");
        cJSON *nl = cJSON_AddArrayToObject(e, "nearest");
        for (int i = 0; i < near && nearest[(size_t)c * (size_t)near + (size_t)i] != UINT64_MAX; i++) {
            uint64_t row = nearest[(size_t)c * (size_t)near + (size_t)i];
            const char *text = in->texts ? in->texts[row] : in->shown ? in->shown[row] : NULL;
            cJSON *r = cJSON_CreateObject();
            cJSON_AddNumberToObject(r, "row", (double)row);
            cJSON_AddNumberToObject(r, "cosine", km->scores[row]);
            if (in->ids && in->ids[row] && in->ids[row][0]) cJSON_AddStringToObject(r, "id", in->ids[row]);
            if (text) cJSON_AddStringToObject(r, "text", text);
            cJSON_AddItemToArray(nl, r);
            if (!shown) continue;
            sb_printf(&sb, "  %.3f row %llu", km->scores[row], (unsigned long long)row);
            if (in->ids && in->ids[row] && in->ids[row][0]) sb_printf(&sb, " id %s", in->ids[row]);
            if (text) {
                sb_printf(&sb, "  ");
                sb_snippet(&sb, text, 100);
            }
            sb_printf(&sb, "\n");
        }
        cJSON_AddItemToArray(list, e);
    }
    if (show > 0 && show < k)
        sb_printf(&sb, "\n(%d more cluster%s in cluster-report.json)\n", k - show, k - show == 1 ? "" : "s");
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text || sb.failed) {
        free(text);
        free(sb.p);
        st = ep_error_set(err, EP_ERR_NOMEM, "out of memory writing the cluster report");
        goto done;
    }
    size_t len = strlen(text);
    char *with_nl = realloc(text, len + 2);
    if (!with_nl) {
        free(text);
        free(sb.p);
        st = ep_error_set(err, EP_ERR_NOMEM, "out of memory writing the cluster report");
        goto done;
    }
    with_nl[len] = '\n';
    with_nl[len + 1] = 0;
    *json = with_nl;
    *summary = sb.p;
done:
    ep_cluster_words_free(words, k, top);
    free(sizes);
    free(cos_sum);
    free(order);
    free(nearest);
    return st;
}
