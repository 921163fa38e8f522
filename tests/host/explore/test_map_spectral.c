/* test_map_spectral.c - the spectral start's eigen-solver (host/explore/map_spectral.c) on graphs whose
 * eigenvectors are known: a ring (the top pair: a circle in the plane), a torus (the top pair depends on
 * one coordinate only), two cliques joined by one edge (checked against a dense Jacobi solve here); the
 * same bits on 1 and 3 threads; a disconnected graph refused by the solver and laid out component by
 * component by ep_map_spectral_start, small components and a solve that does not converge left at their
 * PCA places. */
#include "map_layout.h"
#include "test_util.h"

#include <math.h>

/* A graph from an edge list (both directions added, weight w each). */
static void graph_from_edges(ep_map_graph *g, uint64_t n, const int32_t (*edges)[2], uint64_t n_edges, float w) {
    g->n_rows = n;
    g->n_edges = 2 * n_edges;
    g->offsets = calloc(n + 1, sizeof(uint64_t));
    g->cols = malloc(sizeof(int32_t) * 2 * n_edges + 4);
    g->weights = malloc(sizeof(float) * 2 * n_edges + 4);
    for (uint64_t e = 0; e < n_edges; e++) g->offsets[edges[e][0] + 1]++, g->offsets[edges[e][1] + 1]++;
    for (uint64_t i = 0; i < n; i++) g->offsets[i + 1] += g->offsets[i];
    uint64_t *fill = malloc(sizeof(uint64_t) * (n + 1));
    memcpy(fill, g->offsets, sizeof(uint64_t) * (n + 1));
    for (uint64_t e = 0; e < n_edges; e++)
        for (int s = 0; s < 2; s++) {
            g->cols[fill[edges[e][s]]] = edges[e][1 - s];
            g->weights[fill[edges[e][s]]++] = w;
        }
    free(fill);
}

static int ring_edges(int32_t (*e)[2], int first, int n) {
    for (int i = 0; i < n; i++) e[i][0] = first + i, e[i][1] = first + (i + 1) % n;
    return n;
}

static int clique_pair_edges(int32_t (*e)[2], int first, int size) {
    int k = 0;
    for (int c = 0; c < 2; c++)
        for (int i = 0; i < size; i++)
            for (int j = i + 1; j < size; j++) e[k][0] = first + c * size + i, e[k++][1] = first + c * size + j;
    e[k][0] = first, e[k++][1] = first + size; /* the bridge */
    return k;
}

/* Dense A = D^-1/2 W D^-1/2 of a small graph, its eigenvalues descending (plain cyclic Jacobi). */
static void dense_eigen(const ep_map_graph *g, int n, double *values, double *vectors /* n x n, columns */) {
    double *a = calloc((size_t)n * n, sizeof(double)), *d = calloc((size_t)n, sizeof(double));
    for (int i = 0; i < n; i++)
        for (uint64_t e = g->offsets[i]; e < g->offsets[i + 1]; e++) d[i] += g->weights[e];
    for (int i = 0; i < n; i++)
        for (uint64_t e = g->offsets[i]; e < g->offsets[i + 1]; e++)
            a[i * n + g->cols[e]] = g->weights[e] / sqrt(d[i] * d[g->cols[e]]);
    for (int i = 0; i < n * n; i++) vectors[i] = i % (n + 1) == 0;
    for (int sweep = 0; sweep < 100; sweep++)
        for (int p = 0; p < n; p++)
            for (int q = p + 1; q < n; q++) {
                if (fabs(a[p * n + q]) < 1e-300) continue;
                double th = (a[q * n + q] - a[p * n + p]) / (2 * a[p * n + q]);
                double t = (th >= 0 ? 1 : -1) / (fabs(th) + sqrt(th * th + 1)), c = 1 / sqrt(t * t + 1), s = t * c;
                for (int k = 0; k < n; k++) {
                    double x = a[k * n + p], y = a[k * n + q];
                    a[k * n + p] = c * x - s * y, a[k * n + q] = s * x + c * y;
                }
                for (int k = 0; k < n; k++) {
                    double x = a[p * n + k], y = a[q * n + k];
                    a[p * n + k] = c * x - s * y, a[q * n + k] = s * x + c * y;
                }
                for (int k = 0; k < n; k++) {
                    double x = vectors[k * n + p], y = vectors[k * n + q];
                    vectors[k * n + p] = c * x - s * y, vectors[k * n + q] = s * x + c * y;
                }
            }
    for (int i = 0; i < n; i++) values[i] = a[i * n + i];
    /* sort descending, vectors with them */
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (values[j] > values[i]) {
                double t = values[i];
                values[i] = values[j], values[j] = t;
                for (int k = 0; k < n; k++) t = vectors[k * n + i], vectors[k * n + i] = vectors[k * n + j], vectors[k * n + j] = t;
            }
    free(a);
    free(d);
}

static void test_ring(void) {
    enum { N = 60 };
    int32_t e[N][2];
    ep_map_graph g;
    graph_from_edges(&g, N, e, (uint64_t)ring_edges(e, 0, N), 0.5f);
    double v[2 * N];
    ep_map_eigen r;
    ep_error err = {0};
    ep_map_spectral_options o = {.threads = 2, .tolerance = 1e-10};
    CHECK_OK(ep_map_spectral_eigen(&g, &o, v, &r, &err), &err);
    /* A = W / 2: eigenvalues cos(2 pi k / N); the top non-trivial pair, k = +-1, spans cos and sin of 2 pi i / N */
    const double want = cos(2 * M_PI / N);
    CHECKF(r.converged && fabs(r.values[0] - want) < 1e-9 && fabs(r.values[1] - want) < 1e-9,
           "ring: values %.12f %.12f, cos(2 pi / %d) = %.12f, converged %d after %d products", r.values[0],
           r.values[1], N, want, r.converged, r.products);
    /* so row i sits on a circle of radius sqrt(2 / N), one step of 2 pi / N from row i - 1, always the same way */
    int bad = 0;
    double turn = 0;
    for (int i = 0; i < N; i++) {
        int j = (i + 1) % N;
        double radius = hypot(v[2 * i], v[2 * i + 1]), step = atan2(v[2 * i] * v[2 * j + 1] - v[2 * i + 1] * v[2 * j],
                                                                    v[2 * i] * v[2 * j] + v[2 * i + 1] * v[2 * j + 1]);
        bad += fabs(radius - sqrt(2.0 / N)) > 1e-6 || fabs(fabs(step) - 2 * M_PI / N) > 1e-6;
        turn += step;
    }
    CHECKF(bad == 0 && fabs(fabs(turn) - 2 * M_PI) < 1e-6, "ring: %d rows off the circle, total turn %.6f", bad, turn);
    /* too few products: not converged, and said so */
    o.max_products = 1;
    CHECK_OK(ep_map_spectral_eigen(&g, &o, v, &r, &err), &err);
    CHECKF(!r.converged && r.products == 1, "ring after 1 product: converged %d, %d products", r.converged, r.products);
    ep_map_graph_free(&g);
}

static void test_cliques(void) {
    enum { SIZE = 10, N = 2 * SIZE };
    int32_t e[SIZE * SIZE][2];
    ep_map_graph g;
    graph_from_edges(&g, N, e, (uint64_t)clique_pair_edges(e, 0, SIZE), 1.0f);
    double v[2 * N], values[N], vectors[N * N];
    ep_map_eigen r;
    ep_error err = {0};
    /* the solver keeps the operator's entries (1/9, 1/sqrt(90), 1/10 here) as float, so the residuals of
     * the exact operator stop near 1e-8 and its eigenvalues are good to about 1e-7 */
    ep_map_spectral_options o = {.threads = 1, .tolerance = 1e-7};
    CHECK_OK(ep_map_spectral_eigen(&g, &o, v, &r, &err), &err);
    dense_eigen(&g, N, values, vectors);
    CHECKF(fabs(values[0] - 1) < 1e-12, "two cliques: the trivial eigenvalue %.15f", values[0]);
    CHECKF(r.converged && fabs(r.values[0] - values[1]) < 1e-6 && fabs(r.values[1] - values[2]) < 1e-6,
           "two cliques: values %.12f %.12f, dense Jacobi %.12f %.12f", r.values[0], r.values[1], values[1], values[2]);
    /* the first vector (a simple eigenvalue) is the dense one up to sign: one clique positive, the other negative */
    double dot = 0;
    int split = 0;
    for (int i = 0; i < N; i++) {
        dot += v[2 * i] * vectors[i * N + 1];
        split += (v[2 * i] > 0) == (i < SIZE);
    }
    CHECKF(fabs(values[1] - values[2]) > 1e-3 && fabs(fabs(dot) - 1) < 1e-6, "two cliques: |cos| %.12f to Jacobi's", dot);
    CHECKF(split == 0 || split == N, "two cliques: the first vector does not split the cliques (%d of %d)", split, N);
    ep_map_graph_free(&g);
}

/* A 60 x 40 torus (every row 4 neighbours): the top pair of A = W / 4 is (1 + cos(2 pi / 60)) / 2, twice,
 * with eigenvectors that depend only on the position along the 60. 2,400 rows: several chunks. */
static void test_torus_threads(void) {
    enum { A = 60, B = 40, N = A * B };
    static int32_t e[2 * N][2];
    int k = 0;
    for (int a = 0; a < A; a++)
        for (int b = 0; b < B; b++) {
            e[k][0] = a * B + b, e[k++][1] = ((a + 1) % A) * B + b;
            e[k][0] = a * B + b, e[k++][1] = a * B + (b + 1) % B;
        }
    ep_map_graph g;
    graph_from_edges(&g, N, e, (uint64_t)k, 1.0f);
    static double v1[2 * N], v3[2 * N];
    ep_map_eigen r1, r3;
    ep_error err = {0};
    ep_map_spectral_options o = {.threads = 1, .tolerance = 1e-9};
    CHECK_OK(ep_map_spectral_eigen(&g, &o, v1, &r1, &err), &err);
    o.threads = 3;
    CHECK_OK(ep_map_spectral_eigen(&g, &o, v3, &r3, &err), &err);
    CHECK(memcmp(v1, v3, sizeof v1) == 0 && memcmp(&r1, &r3, sizeof r1) == 0);
    const double want = (1 + cos(2 * M_PI / A)) / 2;
    CHECKF(r1.converged && fabs(r1.values[0] - want) < 1e-9 && fabs(r1.values[1] - want) < 1e-9,
           "torus: values %.12f %.12f, want %.12f (%d products)", r1.values[0], r1.values[1], want, r1.products);
    double worst = 0;
    for (int a = 0; a < A; a++)
        for (int b = 1; b < B; b++)
            for (int c = 0; c < 2; c++) worst = fmax(worst, fabs(v1[2 * (a * B + b) + c] - v1[2 * (a * B) + c]));
    CHECKF(worst < 1e-6, "torus: rows of one ring around the 40 differ by %.3g", worst);
    fprintf(stderr, "torus %dx%d: %d products, residual %.2g\n", A, B, r1.products, r1.residual);
    ep_map_graph_free(&g);
}

/* A ring of 60, two cliques of 10 joined by an edge, a pair and a lone row: four components. */
static void test_components(void) {
    enum { RING = 60, SIZE = 10, N = RING + 2 * SIZE + 3 };
    int32_t e[RING + SIZE * SIZE + 1][2];
    int k = ring_edges(e, 0, RING);
    k += clique_pair_edges(e + k, RING, SIZE);
    e[k][0] = RING + 2 * SIZE, e[k++][1] = RING + 2 * SIZE + 1;
    ep_map_graph g;
    graph_from_edges(&g, N, e, (uint64_t)k, 1.0f);
    float pca[2 * N], xy[2 * N];
    for (int i = 0; i < 2 * N; i++) pca[i] = (float)(ep_test_frand() * 10.0);
    memcpy(xy, pca, sizeof xy);
    ep_map_start_report rep;
    ep_error err = {0};
    double v[2 * N];
    ep_map_eigen r;
    ep_map_spectral_options o = {.threads = 2};
    CHECKF(ep_map_spectral_eigen(&g, &o, v, &r, &err) == EP_ERR_USAGE, "a graph of 4 components is not refused");
    CHECK_OK(ep_map_spectral_start(&g, &o, xy, &rep, &err), &err);
    CHECKF(rep.components == 4 && rep.largest == RING && rep.spectral_rows == RING + 2 * SIZE && rep.small_rows == 3 &&
           rep.unconverged == 0 && rep.largest_solve.converged,
           "report: %llu components, largest %llu, spectral %llu, small %llu, unconverged %llu",
           (unsigned long long)rep.components, (unsigned long long)rep.largest, (unsigned long long)rep.spectral_rows,
           (unsigned long long)rep.small_rows, (unsigned long long)rep.unconverged);
    CHECK(memcmp(xy + 2 * (RING + 2 * SIZE), pca + 2 * (RING + 2 * SIZE), sizeof(float) * 6) == 0);
    /* each laid-out component keeps its PCA centre and mean square spread; the ring is a circle about it */
    const int first[2] = {0, RING}, size[2] = {RING, 2 * SIZE};
    for (int c = 0; c < 2; c++) {
        double cp[2] = {0}, cx[2] = {0}, sp = 0, sx = 0;
        for (int i = first[c]; i < first[c] + size[c]; i++)
            for (int d = 0; d < 2; d++) cp[d] += pca[2 * i + d] / size[c], cx[d] += xy[2 * i + d] / size[c];
        for (int i = first[c]; i < first[c] + size[c]; i++)
            for (int d = 0; d < 2; d++)
                sp += pow(pca[2 * i + d] - cp[d], 2) / size[c], sx += pow(xy[2 * i + d] - cx[d], 2) / size[c];
        CHECKF(hypot(cp[0] - cx[0], cp[1] - cx[1]) < 1e-4 && fabs(sp - sx) < 1e-3 * sp,
               "component %d: centre (%.4f %.4f) -> (%.4f %.4f), spread %.4f -> %.4f", c, cp[0], cp[1], cx[0], cx[1], sp, sx);
        for (int i = first[c]; c == 0 && i < first[c] + size[c]; i++)
            CHECKF(fabs(hypot(xy[2 * i] - cx[0], xy[2 * i + 1] - cx[1]) - sqrt(sx)) < 1e-3 * sqrt(sx), "ring row %d", i);
    }
    /* a solve that cannot converge leaves every row at its PCA place, and says so */
    memcpy(xy, pca, sizeof xy);
    o.max_products = 1;
    CHECK_OK(ep_map_spectral_start(&g, &o, xy, &rep, &err), &err);
    CHECKF(rep.spectral_rows == 0 && rep.unconverged == 2 && rep.unconverged_rows == RING + 2 * SIZE &&
           !rep.largest_solve.converged && memcmp(xy, pca, sizeof xy) == 0,
           "without convergence: %llu spectral rows, %llu unconverged", (unsigned long long)rep.spectral_rows,
           (unsigned long long)rep.unconverged);
    ep_map_graph_free(&g);
}

int main(void) {
    test_ring();
    test_cliques();
    test_torus_threads();
    test_components();
    return ep_test_finish("test_map_spectral");
}
