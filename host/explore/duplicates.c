/* duplicates.c - connected components over neighbour pairs or equal hashes; see duplicates.h. */
#include "duplicates.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Union-find with path halving; the root is the smallest row, so groups come out in a fixed order. */
static uint64_t find(uint64_t *parent, uint64_t x) {
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

static void join(uint64_t *parent, uint64_t a, uint64_t b) {
    a = find(parent, a);
    b = find(parent, b);
    if (a < b) parent[b] = a;
    else if (b < a) parent[a] = b;
}

void ep_groups_free(ep_groups *g) {
    if (!g) return;
    free(g->rows);
    free(g->start);
    free(g->size);
    free(g->min_score);
    memset(g, 0, sizeof *g);
}

static const uint64_t *g_sizes_for_sort;

static int by_size_then_root(const void *pa, const void *pb) {
    uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
    uint64_t sa = g_sizes_for_sort[a], sb = g_sizes_for_sort[b];
    if (sa != sb) return sa > sb ? -1 : 1;
    return a < b ? -1 : a > b;
}

/* Turns the forest into groups of two or more rows; min_edge[root] (or NULL: 1) is each group's weakest edge. */
static ep_status collect(uint64_t *parent, const float *min_edge, uint64_t n, ep_groups *out, ep_error *err) {
    memset(out, 0, sizeof *out);
    uint64_t *count = calloc(n ? n : 1, sizeof *count);
    if (!count) return ep_error_set(err, EP_ERR_NOMEM, "out of memory grouping %llu rows", (unsigned long long)n);
    for (uint64_t i = 0; i < n; i++) count[find(parent, i)]++;
    size_t groups = 0;
    uint64_t grouped = 0;
    for (uint64_t i = 0; i < n; i++)
        if (parent[i] == i && count[i] > 1) {
            groups++;
            grouped += count[i];
        }
    uint64_t *roots = malloc(sizeof(uint64_t) * (groups ? groups : 1));
    out->rows = malloc(sizeof(uint64_t) * (grouped ? grouped : 1));
    out->start = malloc(sizeof(uint64_t) * (groups ? groups : 1));
    out->size = malloc(sizeof(uint64_t) * (groups ? groups : 1));
    out->min_score = malloc(sizeof(float) * (groups ? groups : 1));
    uint64_t *slot = malloc(sizeof(uint64_t) * (n ? n : 1));
    if (!roots || !out->rows || !out->start || !out->size || !out->min_score || !slot) {
        free(count);
        free(roots);
        free(slot);
        ep_groups_free(out);
        return ep_error_set(err, EP_ERR_NOMEM, "out of memory grouping %llu rows", (unsigned long long)n);
    }
    size_t g = 0;
    for (uint64_t i = 0; i < n; i++)
        if (parent[i] == i && count[i] > 1) roots[g++] = i;
    g_sizes_for_sort = count;
    qsort(roots, groups, sizeof *roots, by_size_then_root);
    uint64_t at = 0;
    for (size_t i = 0; i < groups; i++) {
        out->start[i] = at;
        out->size[i] = 0;
        out->min_score[i] = min_edge ? min_edge[roots[i]] : 1.0f;
        slot[roots[i]] = i;
        at += count[roots[i]];
    }
    for (uint64_t i = 0; i < n; i++) {
        uint64_t root = find(parent, i);
        if (count[root] < 2) continue;
        size_t gi = (size_t)slot[root];
        out->rows[out->start[gi] + out->size[gi]++] = i;
    }
    out->n_groups = groups;
    out->n_grouped = grouped;
    free(count);
    free(roots);
    free(slot);
    return EP_OK;
}

ep_status ep_groups_from_neighbours(const int32_t *nb_rows, const float *nb_scores, uint64_t n_rows, int k,
                                    float threshold, ep_groups *out, ep_error *err) {
    uint64_t *parent = malloc(sizeof(uint64_t) * (n_rows ? n_rows : 1));
    float *weakest = malloc(sizeof(float) * (n_rows ? n_rows : 1));
    if (!parent || !weakest) {
        free(parent);
        free(weakest);
        return ep_error_set(err, EP_ERR_NOMEM, "out of memory grouping %llu rows", (unsigned long long)n_rows);
    }
    for (uint64_t i = 0; i < n_rows; i++) parent[i] = i;
    for (uint64_t i = 0; i < n_rows; i++)
        for (int e = 0; e < k; e++) {
            int32_t j = nb_rows[i * (size_t)k + (size_t)e];
            float s = nb_scores[i * (size_t)k + (size_t)e];
            if (j < 0 || !(s >= threshold)) break; /* best first: the rest score lower */
            join(parent, i, (uint64_t)j);
        }
    // Each group's weakest joining edge, to show how near its members are.
    for (uint64_t i = 0; i < n_rows; i++) weakest[i] = 1.0f;
    for (uint64_t i = 0; i < n_rows; i++)
        for (int e = 0; e < k; e++) {
            int32_t j = nb_rows[i * (size_t)k + (size_t)e];
            float s = nb_scores[i * (size_t)k + (size_t)e];
            if (j < 0 || !(s >= threshold)) break;
            uint64_t root = find(parent, i);
            if (s < weakest[root]) weakest[root] = s;
        }
    ep_status st = collect(parent, weakest, n_rows, out, err);
    free(parent);
    free(weakest);
    return st;
}

static const uint64_t *g_hashes_for_sort;

static int by_hash_then_row(const void *pa, const void *pb) {
    uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
    uint64_t ha = g_hashes_for_sort[a], hb = g_hashes_for_sort[b];
    if (ha != hb) return ha < hb ? -1 : 1;
    return a < b ? -1 : a > b;
}

ep_status ep_groups_from_hashes(const uint64_t *hashes, uint64_t n_rows, ep_groups *out, ep_error *err) {
    uint64_t *parent = malloc(sizeof(uint64_t) * (n_rows ? n_rows : 1));
    uint64_t *order = malloc(sizeof(uint64_t) * (n_rows ? n_rows : 1));
    if (!parent || !order) {
        free(parent);
        free(order);
        return ep_error_set(err, EP_ERR_NOMEM, "out of memory grouping %llu rows", (unsigned long long)n_rows);
    }
    for (uint64_t i = 0; i < n_rows; i++) parent[i] = order[i] = i;
    g_hashes_for_sort = hashes;
    qsort(order, n_rows, sizeof *order, by_hash_then_row);
    for (uint64_t i = 1; i < n_rows; i++)
        if (hashes[order[i]] == hashes[order[i - 1]]) join(parent, order[i], order[i - 1]);
    ep_status st = collect(parent, NULL, n_rows, out, err);
    free(parent);
    free(order);
    return st;
}
