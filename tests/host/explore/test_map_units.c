/* test_map_units.c - the map layout (host/explore/map_*.c) on planted data: a and b fitted as umap-learn
 * fits them; the fuzzy graph is symmetric; planted clusters stay apart in the UMAP and PCA layouts; the
 * layout is the same for a seed whatever the thread count, and differs for another seed; so is the
 * spectral start, from which UMAP keeps the groups apart too; PCA finds the two planted directions. */
#include "map_layout.h"
#include "test_util.h"

#include <math.h>

enum { GROUPS = 6, PER_GROUP = 300, N = GROUPS * PER_GROUP, DIM = 32, K = 14 };

static void planted_rows(float *x, int *truth) {
    float centres[GROUPS][DIM];
    for (int g = 0; g < GROUPS; g++)
        for (int d = 0; d < DIM; d++) centres[g][d] = ep_test_frand();
    for (int i = 0; i < N; i++) {
        int g = i % GROUPS;
        truth[i] = g;
        float norm = 0;
        for (int d = 0; d < DIM; d++) {
            x[i * DIM + d] = centres[g][d] + 0.3f * ep_test_frand();
            norm += x[i * DIM + d] * x[i * DIM + d];
        }
        for (int d = 0; d < DIM; d++) x[i * DIM + d] /= sqrtf(norm);
    }
}

/* The exact top-K by cosine, the row left out, ties to the smaller row (what `related` writes). */
static void brute_knn(const float *x, int32_t *rows, float *scores) {
    for (int i = 0; i < N; i++) {
        for (int e = 0; e < K; e++) {
            rows[i * K + e] = -1;
            scores[i * K + e] = -INFINITY;
        }
        for (int j = 0; j < N; j++) {
            if (j == i) continue;
            float s = 0;
            for (int d = 0; d < DIM; d++) s += x[i * DIM + d] * x[j * DIM + d];
            if (s <= scores[i * K + K - 1]) continue;
            int e = K - 1;
            while (e > 0 && s > scores[i * K + e - 1]) {
                rows[i * K + e] = rows[i * K + e - 1];
                scores[i * K + e] = scores[i * K + e - 1];
                e--;
            }
            rows[i * K + e] = j;
            scores[i * K + e] = s;
        }
    }
}

/* The share of rows whose 10 nearest rows in the layout are of their own group. */
static double layout_purity(const float *xy, const int *truth) {
    int good = 0, total = 0;
    for (int i = 0; i < N; i += 7) {
        float best[10];
        int who[10];
        for (int e = 0; e < 10; e++) best[e] = INFINITY, who[e] = -1;
        for (int j = 0; j < N; j++) {
            if (j == i) continue;
            float dx = xy[2 * i] - xy[2 * j], dy = xy[2 * i + 1] - xy[2 * j + 1], d = dx * dx + dy * dy;
            if (d >= best[9]) continue;
            int e = 9;
            while (e > 0 && d < best[e - 1]) {
                best[e] = best[e - 1];
                who[e] = who[e - 1];
                e--;
            }
            best[e] = d;
            who[e] = j;
        }
        for (int e = 0; e < 10; e++) good += truth[who[e]] == truth[i], total++;
    }
    return (double)good / total;
}

/* The smallest gap between two groups' points over the largest group's radius (about its centre). */
static double separation(const float *xy, const int *truth) {
    double cx[GROUPS] = {0}, cy[GROUPS] = {0}, radius = 0, gap = INFINITY;
    for (int i = 0; i < N; i++) cx[truth[i]] += xy[2 * i] / PER_GROUP, cy[truth[i]] += xy[2 * i + 1] / PER_GROUP;
    for (int i = 0; i < N; i++) {
        double r = hypot(xy[2 * i] - cx[truth[i]], xy[2 * i + 1] - cy[truth[i]]);
        if (r > radius) radius = r;
    }
    for (int a = 0; a < GROUPS; a++)
        for (int b = a + 1; b < GROUPS; b++) gap = fmin(gap, hypot(cx[a] - cx[b], cy[a] - cy[b]));
    return gap / radius;
}

int main(void) {
    static float x[N * DIM], scores[N * K], start[2 * N], xy1[2 * N], xy3[2 * N], xy_other[2 * N];
    static int32_t rows[N * K];
    static int truth[N];
    ep_error err = {0};
    double a, b;
    ep_map_fit_ab(1.0, 0.1, &a, &b);
    CHECKF(fabs(a - 1.577) < 0.005 && fabs(b - 0.8951) < 0.005, "a %.4f b %.4f, umap-learn: 1.577 0.895", a, b);

    planted_rows(x, truth);
    brute_knn(x, rows, scores);
    ep_map_graph g = {0};
    CHECK_OK(ep_map_graph_build(rows, scores, N, K, 500, &g, &err), &err);
    CHECKF(g.n_edges >= (uint64_t)N * K && g.n_edges <= 2ull * N * K, "%llu edges", (unsigned long long)g.n_edges);
    /* symmetric: every edge's twin has the same weight */
    int asym = 0;
    for (uint64_t i = 0; i < g.n_rows; i++)
        for (uint64_t e = g.offsets[i]; e < g.offsets[i + 1]; e++) {
            uint64_t j = (uint64_t)g.cols[e], f = g.offsets[j];
            while (f < g.offsets[j + 1] && (uint64_t)g.cols[f] != i) f++;
            asym += f == g.offsets[j + 1] || g.weights[f] != g.weights[e];
        }
    CHECKF(asym == 0, "%d edges without an equal twin", asym);

    /* PCA start: planted groups already apart a little; then UMAP separates them */
    float mean[DIM], axes[2 * DIM];
    CHECK_OK(ep_map_pca_fit(x, N, DIM, 0, mean, axes, &err), &err);
    ep_map_pca_project(x, N, DIM, mean, axes, start);
    ep_map_scale_start(start, N, 7);
    memcpy(xy1, start, sizeof start);
    memcpy(xy3, start, sizeof start);
    memcpy(xy_other, start, sizeof start);
    ep_map_options o = {.epochs = 200, .seed = 42, .threads = 1};
    CHECK_OK(ep_map_optimize(&g, &o, xy1, &err), &err);
    o.threads = 3;
    CHECK_OK(ep_map_optimize(&g, &o, xy3, &err), &err);
    CHECK(memcmp(xy1, xy3, sizeof xy1) == 0);
    o.seed = 43;
    CHECK_OK(ep_map_optimize(&g, &o, xy_other, &err), &err);
    CHECK(memcmp(xy1, xy_other, sizeof xy1) != 0);
    double purity = layout_purity(xy1, truth), sep = separation(xy1, truth);
    fprintf(stderr, "umap layout: 10-NN purity %.4f, centre gap / radius %.2f\n", purity, sep);
    CHECKF(purity > 0.99, "UMAP 10-NN purity %.4f", purity);
    CHECKF(sep > 1.0, "UMAP groups overlap: smallest centre gap / largest radius %.2f", sep);
    for (int i = 0; i < 2 * N; i++) CHECKF(isfinite(xy1[i]), "coordinate %d is %g", i, xy1[i]);

    /* the spectral start (each planted group may be its own component): the same on 1 and 3 threads, and
     * UMAP from it keeps the groups apart as well */
    ep_map_start_report rep;
    ep_map_pca_project(x, N, DIM, mean, axes, xy1);
    memcpy(xy3, xy1, sizeof xy1);
    ep_map_spectral_options so = {.threads = 1};
    CHECK_OK(ep_map_spectral_start(&g, &so, xy1, &rep, &err), &err);
    so.threads = 3;
    CHECK_OK(ep_map_spectral_start(&g, &so, xy3, &rep, &err), &err);
    CHECK(memcmp(xy1, xy3, sizeof xy1) == 0);
    CHECKF(rep.spectral_rows == N && rep.unconverged == 0, "spectral start: %llu of %d rows, %llu components",
           (unsigned long long)rep.spectral_rows, N, (unsigned long long)rep.components);
    ep_map_scale_start(xy1, N, 7);
    o.seed = 42;
    o.threads = 2;
    CHECK_OK(ep_map_optimize(&g, &o, xy1, &err), &err);
    purity = layout_purity(xy1, truth);
    sep = separation(xy1, truth);
    fprintf(stderr, "umap from the spectral start (%llu components): 10-NN purity %.4f, centre gap / radius %.2f\n",
            (unsigned long long)rep.components, purity, sep);
    CHECKF(purity > 0.99 && sep > 1.0, "spectral start: purity %.4f, gap / radius %.2f", purity, sep);

    /* PCA: two planted directions of large variance are the axes */
    static float y[N * DIM];
    for (int i = 0; i < N; i++)
        for (int d = 0; d < DIM; d++)
            y[i * DIM + d] = 0.01f * ep_test_frand() + (d == 3 ? 5.0f : d == 9 ? -2.0f : 0.0f) * ep_test_frand();
    CHECK_OK(ep_map_pca_fit(y, N, DIM, 0, mean, axes, &err), &err);
    CHECKF(fabsf(axes[3]) > 0.999f && fabsf(axes[DIM + 9]) > 0.999f, "axes %.4f %.4f", axes[3], axes[DIM + 9]);
    ep_map_graph_free(&g);
    return ep_test_finish("test_map_units");
}
