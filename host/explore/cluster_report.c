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

/* What the report says of each cluster, worked out once. */
typedef struct report_data {
    const ep_cluster_report_input *in;
    int k, near, top;          /* clusters, nearest rows and words per cluster */
    uint64_t *sizes;           /* [k] rows per cluster */
    double *cos_sum;           /* [k] sum of the rows' cosines to the centroid */
    int *order;                /* [k] clusters, largest first */
    uint64_t *nearest;         /* [k * near], ep_cluster_nearest */
    char **words;              /* [k * top], ep_cluster_words; NULL without texts */
    int suggest;               /* ep_cluster_suggest_k */
} report_data;

static void report_data_free(report_data *d) {
    ep_cluster_words_free(d->words, d->k, d->top);
    free(d->sizes);
    free(d->cos_sum);
    free(d->order);
    free(d->nearest);
}

/* Sizes, cosine sums, the order by size, the nearest rows, the words and the suggested k. */
static ep_status report_data_make(const ep_cluster_report_input *in, report_data *d, ep_error *err) {
    const ep_kmeans_result *km = in->km;
    *d = (report_data){.in = in, .k = km->k, .near = in->nearest > 0 ? in->nearest : 3,
                       .top = in->words > 0 ? in->words : 8};
    d->sizes = calloc((size_t)d->k, sizeof *d->sizes);
    d->cos_sum = calloc((size_t)d->k, sizeof *d->cos_sum);
    d->order = malloc(sizeof(int) * (size_t)d->k);
    ep_status st = d->sizes && d->cos_sum && d->order ? EP_OK : ep_error_set(err, EP_ERR_NOMEM, "out of memory");
    if (st == EP_OK) st = ep_cluster_nearest(km, d->near, &d->nearest, err);
    if (st == EP_OK && in->texts)
        st = ep_cluster_words(in->texts, km->labels, km->n_rows, d->k, d->top, &d->words, err);
    if (st != EP_OK) return st;
    for (uint64_t i = 0; i < km->n_rows; i++) {
        int c = km->labels[i];
        d->sizes[c]++;
        d->cos_sum[c] += km->scores[i];
    }
    for (int c = 0; c < d->k; c++) d->order[c] = c;
    g_sizes = d->sizes;
    qsort(d->order, (size_t)d->k, sizeof *d->order, by_size);
    d->suggest = ep_cluster_suggest_k(d->sizes, d->k, km->n_rows);
    return EP_OK;
}

/* The report's top-level JSON fields; the clusters go into the "clusters" array it adds. */
static cJSON *report_json_head(const report_data *d, cJSON **list) {
    const ep_kmeans_result *km = d->in->km;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "k", d->k);
    cJSON_AddNumberToObject(root, "rows", (double)km->n_rows);
    cJSON_AddNumberToObject(root, "seed", (double)d->in->seed);
    cJSON_AddNumberToObject(root, "iterations", km->iterations_run);
    cJSON_AddNumberToObject(root, "inertia", km->inertia);
    cJSON_AddBoolToObject(root, "texts", d->in->texts != NULL);
    cJSON_AddBoolToObject(root, "uneven", d->suggest != 0);
    if (d->suggest) cJSON_AddNumberToObject(root, "suggested_k", d->suggest);
    else cJSON_AddNullToObject(root, "suggested_k");
    *list = cJSON_AddArrayToObject(root, "clusters");
    return root;
}

/* The summary's first lines: the run, why there are no words, whether the sizes are uneven. */
static void summary_head(const report_data *d, sbuf *sb) {
    const ep_kmeans_result *km = d->in->km;
    sb_printf(sb, "%d clusters of %llu rows (%d iterations, inertia %.1f)\n", d->k, (unsigned long long)km->n_rows,
              km->iterations_run, km->inertia);
    if (!d->in->texts)
        sb_printf(sb, "(no words: the folder keeps no texts; embed again with texts kept to see them%s)\n",
                  d->in->shown ? "; the texts below were read again from the run's inputs" : "");
    if (d->suggest)
        sb_printf(sb, "sizes are very uneven (largest %llu, mean %.0f): try -k %d\n",
                  (unsigned long long)d->sizes[d->order[0]], (double)km->n_rows / d->k, d->suggest);
}

/* Cluster c's words into the JSON array w and, when shown, the summary. */
static void cluster_words_out(const report_data *d, int c, bool shown, cJSON *w, sbuf *sb) {
    char *const *words = d->words ? d->words + (size_t)c * (size_t)d->top : NULL;
    if (words && shown && words[0]) sb_printf(sb, "  words:");
    for (int i = 0; words && i < d->top && words[i]; i++) {
        cJSON_AddItemToArray(w, cJSON_CreateString(words[i]));
        if (shown) sb_printf(sb, " %s", words[i]);
    }
    if (words && shown && words[0]) sb_printf(sb, "\n");
}

/* Cluster c's rows nearest its centroid into the JSON array nl and, when shown, the summary. */
static void cluster_nearest_out(const report_data *d, int c, bool shown, cJSON *nl, sbuf *sb) {
    const ep_cluster_report_input *in = d->in;
    const uint64_t *nearest = d->nearest + (size_t)c * (size_t)d->near;
    for (int i = 0; i < d->near && nearest[i] != UINT64_MAX; i++) {
        uint64_t row = nearest[i];
        const char *text = in->texts ? in->texts[row] : in->shown ? in->shown[row] : NULL;
        const bool has_id = in->ids && in->ids[row] && in->ids[row][0];
        cJSON *r = cJSON_CreateObject();
        cJSON_AddNumberToObject(r, "row", (double)row);
        cJSON_AddNumberToObject(r, "cosine", in->km->scores[row]);
        if (has_id) cJSON_AddStringToObject(r, "id", in->ids[row]);
        if (text) cJSON_AddStringToObject(r, "text", text);
        cJSON_AddItemToArray(nl, r);
        if (!shown) continue;
        sb_printf(sb, "  %.3f row %llu", in->km->scores[row], (unsigned long long)row);
        if (has_id) sb_printf(sb, " id %s", in->ids[row]);
        if (text) {
            sb_printf(sb, "  ");
            sb_snippet(sb, text, 100);
        }
        sb_printf(sb, "\n");
    }
}

/* Cluster c as a JSON object and, when shown, its lines of the summary. */
static cJSON *cluster_out(const report_data *d, int c, bool shown, sbuf *sb) {
    const double n_rows = (double)d->in->km->n_rows, size = (double)d->sizes[c];
    const double mean_cos = d->sizes[c] ? d->cos_sum[c] / size : 0;
    cJSON *e = cJSON_CreateObject();
    cJSON_AddNumberToObject(e, "cluster", c);
    cJSON_AddNumberToObject(e, "size", size);
    cJSON_AddNumberToObject(e, "share", size / n_rows);
    cJSON_AddNumberToObject(e, "mean_cosine", mean_cos);
    cJSON *w = cJSON_AddArrayToObject(e, "words");
    if (shown)
        sb_printf(sb, "\ncluster %d: %llu row%s (%.1f%%), mean cosine %.3f\n", c, (unsigned long long)d->sizes[c],
                  d->sizes[c] == 1 ? "" : "s", 100.0 * size / n_rows, mean_cos);
    cluster_words_out(d, c, shown, w, sb);
    cluster_nearest_out(d, c, shown, cJSON_AddArrayToObject(e, "nearest"), sb);
    return e;
}

/* root printed, with a final newline. @return the malloc'd text, or NULL when out of memory. */
static char *json_text(const cJSON *root) {
    char *text = cJSON_Print(root);
    if (!text) return NULL;
    size_t len = strlen(text);
    char *with_nl = realloc(text, len + 2);
    if (!with_nl) {
        free(text);
        return NULL;
    }
    with_nl[len] = '\n';
    with_nl[len + 1] = 0;
    return with_nl;
}

ep_status ep_cluster_report(const ep_cluster_report_input *in, int show, char **json, char **summary, ep_error *err) {
    *json = *summary = NULL;
    report_data d;
    ep_status st = report_data_make(in, &d, err);
    if (st != EP_OK) {
        report_data_free(&d);
        return st;
    }
    cJSON *list = NULL, *root = report_json_head(&d, &list);
    sbuf sb = {0};
    summary_head(&d, &sb);
    for (int oi = 0; oi < d.k; oi++)
        cJSON_AddItemToArray(list, cluster_out(&d, d.order[oi], show <= 0 || oi < show, &sb));
    if (show > 0 && show < d.k)
        sb_printf(&sb, "\n(%d more cluster%s in cluster-report.json)\n", d.k - show, d.k - show == 1 ? "" : "s");
    char *text = json_text(root);
    cJSON_Delete(root);
    if (!text || sb.failed) {
        free(text);
        free(sb.p);
        st = ep_error_set(err, EP_ERR_NOMEM, "out of memory writing the cluster report");
    } else {
        *json = text;
        *summary = sb.p;
    }
    report_data_free(&d);
    return st;
}
