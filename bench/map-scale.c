/* map-scale.c - the map's UMAP layout at scale, without an output folder: a synthetic neighbour table
 * of N rows (default 1,000,000) in G planted groups (each row's K neighbours drawn from its own group,
 * cosines falling from 0.9), the graph, a start, E epochs (default 20). Prints the seconds of each step,
 * the seconds per epoch and the peak RSS, the memory `embedpipe map` needs beyond reading the table.
 *
 *   build/bench/map-scale [ROWS [EPOCHS [THREADS [START [BRIDGES]]]]]
 *
 * START: random (default: random positions, standing in for the PCA start, which needs the vectors) or
 * spectral (ep_map_spectral_start over the graph, from those positions). BRIDGES: the percentage of rows
 * whose last neighbour is in the next group instead (default 0: the groups are 200 components; any
 * bridges make one component of 200 clusters, the spectral solver's hard case: eigenvalues close to 1).
 */
#include "map_layout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    const uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    const int epochs = argc > 2 ? atoi(argv[2]) : 20, threads = argc > 3 ? atoi(argv[3]) : 0;
    const bool spectral = argc > 4 && strcmp(argv[4], "spectral") == 0;
    const int bridges = argc > 5 ? atoi(argv[5]) : 0;
    const int k = 14, groups = 200;
    int32_t *rows = malloc(sizeof(int32_t) * n * k);
    float *scores = malloc(sizeof(float) * n * k), *xy = malloc(sizeof(float) * 2 * n);
    if (!rows || !scores || !xy || n < (uint64_t)groups * 2 * k) {
        fprintf(stderr, "map-scale: out of memory or too few rows (at least %d)\n", groups * 2 * k);
        return 1;
    }
    double t0 = now();
    const uint64_t per_group = n / groups;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t g = i % groups, members = per_group + (g < n % groups);
        for (int e = 0; e < k; e++) {
            /* a distinct other member of the group: rows g, g + groups, g + 2 groups, ... */
            uint64_t j, attempt = 0;
            do {
                j = g + (ep_map_hash(7, i, (uint64_t)e, attempt++) % members) * groups;
            } while (j == i || j >= n);
            for (int f = 0; f < e; f++)
                if ((uint64_t)rows[i * k + f] == j) j = (j + groups < n) ? j + groups : g;
            if (e == k - 1 && (int)(ep_map_hash(9, i, 0, 0) % 100) < bridges)
                j = (g + 1) % groups + (ep_map_hash(9, i, 1, 0) % (per_group - 1)) * groups; /* the next group */
            rows[i * k + e] = j == i ? (int32_t)((i + groups) % n) : (int32_t)j;
            scores[i * k + e] = 0.9f - 0.01f * (float)e;
        }
        xy[2 * i] = (float)(ep_map_hash(8, i, 0, 0) >> 40);
        xy[2 * i + 1] = (float)(ep_map_hash(8, i, 1, 0) >> 40);
    }
    double t1 = now();
    ep_map_graph g = {0};
    ep_error err = {0};
    if (ep_map_graph_build(rows, scores, n, k, 200, &g, &err) != EP_OK) {
        fprintf(stderr, "map-scale: %s\n", err.message);
        return 1;
    }
    free(rows);
    free(scores);
    double t2 = now(), t_start = 0, t_graph = t2 - t1;
    if (spectral) {
        ep_map_start_report rep;
        ep_map_spectral_options so = {.threads = threads};
        if (ep_map_spectral_start(&g, &so, xy, &rep, &err) != EP_OK) {
            fprintf(stderr, "map-scale: %s\n", err.message);
            return 1;
        }
        t_start = now() - t2;
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        printf("spectral start: %.2f s, %llu components (largest %llu rows: %d products, residual %.2g, %s), "
               "%llu rows spectral, %llu small, %llu in %llu unconverged components; peak RSS so far %.0f MiB\n",
               t_start, (unsigned long long)rep.components, (unsigned long long)rep.largest,
               rep.largest_solve.products, rep.largest_solve.residual,
               rep.largest_solve.converged ? "converged" : "not converged", (unsigned long long)rep.spectral_rows,
               (unsigned long long)rep.small_rows, (unsigned long long)rep.unconverged_rows,
               (unsigned long long)rep.unconverged, ru.ru_maxrss / 1024.0);
        fflush(stdout);
        t2 = now();
    }
    ep_map_scale_start(xy, n, 1);
    ep_map_options o = {.epochs = epochs, .seed = 1, .threads = threads};
    if (ep_map_optimize(&g, &o, xy, &err) != EP_OK) {
        fprintf(stderr, "map-scale: %s\n", err.message);
        return 1;
    }
    double t3 = now();
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("rows %llu, edges %llu (%.1f a row), table %.2f s, graph %.2f s, %d epochs %.2f s (%.3f s an epoch; "
           "200 epochs ~ %.0f s), peak RSS %.0f MiB (%.0f bytes a row)\n",
           (unsigned long long)n, (unsigned long long)g.n_edges, (double)g.n_edges / (double)n, t1 - t0, t_graph,
           epochs, t3 - t2, (t3 - t2) / epochs, (t3 - t2) / epochs * 200, ru.ru_maxrss / 1024.0,
           ru.ru_maxrss * 1024.0 / (double)n);
    ep_map_graph_free(&g);
    free(xy);
    return 0;
}
