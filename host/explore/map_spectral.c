/* map_spectral.c - UMAP's spectral start: the two largest non-trivial eigenvectors of D^-1/2 W D^-1/2 of
 * each connected component of the fuzzy graph, by Chebyshev-filtered subspace iteration; see map_layout.h.
 *
 * Why this method: the wanted eigenvalues sit just below 1 and close together (0.999, 0.998, ...), where
 * plain power iteration would take thousands of products. A Chebyshev polynomial of the operator that is
 * small on [-1, cut] (cut: the block's smallest Ritz value) and grows fast above it separates them in a
 * few dozen products (Zhou & Saad 2007). Memory: two blocks of rows x 8 doubles, and no Krylov basis
 * (umap-learn's ARPACK keeps sqrt(rows) vectors: 8 GB at a million rows).
 * Why it is the same on any thread count: every row of a product is computed by one thread in edge order,
 * and every sum over rows is taken in fixed chunks of CHUNK rows whose partial sums are added in chunk order.
 */
#include "map_layout.h"

#include "cpu_pool.h"
#include "settings.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { BLOCK = 8, PARTIAL = BLOCK * BLOCK + BLOCK, CHUNK = 1024, MIN_ROWS = 4, MAX_DEGREE = 16, DEFAULT_PRODUCTS = 1500, JACOBI_SWEEPS = 60 };
static const double DEFAULT_TOLERANCE = 1e-4, MAX_GROWTH = 1e4;

/* One component's solve: its rows, the operator's scaling and the two blocks. */
typedef struct solver {
    const ep_map_graph *g;
    const int32_t *rows;  /* the component's rows (global indices), ascending */
    const int32_t *local; /* global row -> its index in rows; NULL when the component is every row */
    uint64_t m;           /* rows in the component */
    int b;                /* block width: min(BLOCK, m - 1); the stride of x and y is always BLOCK */
    uint64_t n_chunks;
    double *s;            /* m: 1 / sqrt(degree) */
    float *a;             /* per edge of the graph (the component's edges filled): w_ij / sqrt(d_i d_j) */
    double *u;            /* m: sqrt(degree) / its norm, the trivial eigenvector (eigenvalue 1) */
    double *x, *y;        /* m x BLOCK each */
    double *partial;      /* n_chunks x PARTIAL: per-chunk sums */
    ep_cpu_pool *pool;    /* NULL: the calling thread does every chunk */
} solver;

typedef enum { OP_PRODUCT, OP_GRAM, OP_TRANSFORM, OP_RESIDUAL } op_kind;

/* What the threads do in one pass over the rows. */
typedef struct pass {
    solver *s;
    op_kind kind;
    int threads;
    /* OP_PRODUCT: out = alpha (M in) + beta in + gamma out, row by row (out may hold the previous term) */
    const double *in;
    double *out;
    double alpha, beta, gamma;
    /* OP_GRAM: per chunk a^T b and u^T a */
    const double *a, *bb;
    /* OP_TRANSFORM: a <- (a - u w^T) t and, when tb, bb <- bb t */
    double *ta, *tb;
    double t[BLOCK * BLOCK], w[BLOCK];
    /* OP_RESIDUAL: per chunk |y_c - theta_c x_c|^2 for the first two columns */
    double theta[2];
} pass;

static void product_rows(const pass *p, uint64_t lo, uint64_t hi) {
    const solver *s = p->s;
    const ep_map_graph *g = s->g;
    for (uint64_t r = lo; r < hi; r++) {
        double acc[BLOCK] = {0};
        const uint64_t i = (uint64_t)s->rows[r];
        /* one random read per edge: the other row's block (the scaled weights are in edge order) */
        for (uint64_t e = g->offsets[i]; p->alpha != 0 && e < g->offsets[i + 1]; e++) {
            const uint64_t j = s->local ? (uint64_t)s->local[g->cols[e]] : (uint64_t)g->cols[e];
            const double w = (double)s->a[e];
            const double *xj = p->in + j * BLOCK;
            for (int c = 0; c < BLOCK; c++) acc[c] += w * xj[c];
        }
        double *o = p->out + r * BLOCK;
        const double *xr = p->in + r * BLOCK;
        for (int c = 0; c < BLOCK; c++)
            o[c] = p->alpha * acc[c] + p->beta * xr[c] + (p->gamma != 0 ? p->gamma * o[c] : 0.0);
    }
}

static void gram_rows(const pass *p, uint64_t chunk, uint64_t lo, uint64_t hi) {
    const solver *s = p->s;
    double *ab = s->partial + chunk * PARTIAL, *ua = ab + BLOCK * BLOCK;
    memset(ab, 0, sizeof(double) * PARTIAL);
    for (uint64_t r = lo; r < hi; r++) {
        const double *a = p->a + r * BLOCK, *b = p->bb + r * BLOCK;
        for (int i = 0; i < BLOCK; i++) {
            ua[i] += s->u[r] * a[i];
            for (int j = 0; j < BLOCK; j++) ab[i * BLOCK + j] += a[i] * b[j];
        }
    }
}

static void residual_rows(const pass *p, uint64_t chunk, uint64_t lo, uint64_t hi) {
    const solver *s = p->s;
    double *out = s->partial + chunk * PARTIAL;
    out[0] = out[1] = 0;
    for (uint64_t r = lo; r < hi; r++)
        for (int c = 0; c < 2; c++) {
            double d = s->y[r * BLOCK + c] - p->theta[c] * s->x[r * BLOCK + c];
            out[c] += d * d;
        }
}

static void transform_rows(const pass *p, uint64_t lo, uint64_t hi) {
    const solver *s = p->s;
    for (uint64_t r = lo; r < hi; r++) {
        double in[BLOCK], *a = p->ta + r * BLOCK;
        for (int c = 0; c < BLOCK; c++) in[c] = a[c] - s->u[r] * p->w[c];
        for (int c = 0; c < BLOCK; c++) {
            double v = 0;
            for (int k = 0; k < BLOCK; k++) v += in[k] * p->t[k * BLOCK + c];
            a[c] = v;
        }
        if (!p->tb) continue;
        double *b = p->tb + r * BLOCK;
        memcpy(in, b, sizeof in);
        for (int c = 0; c < BLOCK; c++) {
            double v = 0;
            for (int k = 0; k < BLOCK; k++) v += in[k] * p->t[k * BLOCK + c];
            b[c] = v;
        }
    }
}

static void pass_thread(void *arg, int thread) {
    const pass *p = arg;
    const solver *s = p->s;
    for (uint64_t c = (uint64_t)thread; c < s->n_chunks; c += (uint64_t)p->threads) {
        uint64_t lo = c * CHUNK, hi = lo + CHUNK < s->m ? lo + CHUNK : s->m;
        if (p->kind == OP_PRODUCT) product_rows(p, lo, hi);
        else if (p->kind == OP_GRAM) gram_rows(p, c, lo, hi);
        else if (p->kind == OP_RESIDUAL) residual_rows(p, c, lo, hi);
        else transform_rows(p, lo, hi);
    }
}

static void run_pass(solver *s, pass *p) {
    p->s = s;
    p->threads = s->pool ? ep_cpu_pool_threads(s->pool) : 1;
    if (s->pool) ep_cpu_pool_run(s->pool, pass_thread, p);
    else pass_thread(p, 0);
}

/* out = alpha (M in) + beta in + gamma out. */
static void product(solver *s, const double *in, double *out, double alpha, double beta, double gamma) {
    pass p = {.kind = OP_PRODUCT, .in = in, .out = out, .alpha = alpha, .beta = beta, .gamma = gamma};
    run_pass(s, &p);
}

/* ab = a^T b and ua = u^T a, each summed over chunks in chunk order. */
static void gram(solver *s, const double *a, const double *b, double *ab, double *ua) {
    pass p = {.kind = OP_GRAM, .a = a, .bb = b};
    run_pass(s, &p);
    memset(ab, 0, sizeof(double) * BLOCK * BLOCK);
    memset(ua, 0, sizeof(double) * BLOCK);
    for (uint64_t c = 0; c < s->n_chunks; c++) {
        const double *part = s->partial + c * PARTIAL;
        for (int k = 0; k < BLOCK * BLOCK; k++) ab[k] += part[k];
        for (int k = 0; k < BLOCK; k++) ua[k] += part[BLOCK * BLOCK + k];
    }
}

/* a <- (a - u w^T) t, and b <- b t when b is not NULL (w NULL: no projection). */
static void transform(solver *s, double *a, double *b, const double *t, const double *w) {
    pass p = {.kind = OP_TRANSFORM, .ta = a, .tb = b};
    memcpy(p.t, t, sizeof p.t);
    if (w) memcpy(p.w, w, sizeof p.w);
    run_pass(s, &p);
}

/* Eigenvalues (descending) and eigenvectors (columns of v) of the symmetric n x n matrix a (stride BLOCK,
 * destroyed): cyclic Jacobi, a fixed order of rotations, so the same bits every time. */
static void jacobi(double *a, int n, double *values, double *v) {
    memset(v, 0, sizeof(double) * BLOCK * BLOCK);
    for (int i = 0; i < n; i++) v[i * BLOCK + i] = 1;
    for (int sweep = 0; sweep < JACOBI_SWEEPS; sweep++) {
        double off = 0, diag = 0;
        for (int i = 0; i < n; i++) {
            diag += a[i * BLOCK + i] * a[i * BLOCK + i];
            for (int j = i + 1; j < n; j++) off += a[i * BLOCK + j] * a[i * BLOCK + j];
        }
        if (off <= 1e-30 * diag || off == 0) break;
        for (int p = 0; p < n; p++)
            for (int q = p + 1; q < n; q++) {
                double apq = a[p * BLOCK + q];
                if (apq == 0) continue;
                double theta = (a[q * BLOCK + q] - a[p * BLOCK + p]) / (2 * apq);
                double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1));
                double c = 1 / sqrt(t * t + 1), sn = t * c;
                for (int k = 0; k < n; k++) { /* columns p, q */
                    double akp = a[k * BLOCK + p], akq = a[k * BLOCK + q];
                    a[k * BLOCK + p] = c * akp - sn * akq;
                    a[k * BLOCK + q] = sn * akp + c * akq;
                }
                for (int k = 0; k < n; k++) { /* rows p, q */
                    double apk = a[p * BLOCK + k], aqk = a[q * BLOCK + k];
                    a[p * BLOCK + k] = c * apk - sn * aqk;
                    a[q * BLOCK + k] = sn * apk + c * aqk;
                }
                for (int k = 0; k < n; k++) {
                    double vkp = v[k * BLOCK + p], vkq = v[k * BLOCK + q];
                    v[k * BLOCK + p] = c * vkp - sn * vkq;
                    v[k * BLOCK + q] = sn * vkp + c * vkq;
                }
            }
    }
    /* sort descending (selection sort: stable for equal values, so deterministic) */
    int order[BLOCK];
    for (int i = 0; i < n; i++) order[i] = i;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (a[order[j] * BLOCK + order[j]] > a[order[i] * BLOCK + order[i]]) {
                int t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
    double sorted[BLOCK * BLOCK] = {0};
    for (int j = 0; j < n; j++) {
        values[j] = a[order[j] * BLOCK + order[j]];
        for (int k = 0; k < n; k++) sorted[k * BLOCK + j] = v[k * BLOCK + order[j]];
    }
    memcpy(v, sorted, sizeof sorted);
}

/* Start vectors for columns [from, b) of x: uniform in (-1, 1) from a hash of (row, column, attempt),
 * so the start never depends on the thread count, the seed or the component's place in the order. */
static void fill_random(solver *s, int from, int attempt) {
    for (uint64_t r = 0; r < s->m; r++)
        for (int c = 0; c < BLOCK; c++)
            if (c >= from)
                s->x[r * BLOCK + c] = c < s->b ? (double)(ep_map_hash(0x5BEC7, (uint64_t)s->rows[r], (uint64_t)c,
                                                                      (uint64_t)attempt) >> 11) * 0x1.0p-52 - 1.0
                                               : 0.0;
}

/* Makes the first b columns of x orthonormal and orthogonal to u: SVQB (Stathopoulos & Wu 2002) twice.
 * A column that depends on the others numerically is drawn again from new start values. */
static void orthonormalise(solver *s) {
    const int b = s->b;
    for (int attempt = 1; attempt <= 8; attempt++) {
        int dropped = 0;
        for (int round = 0; round < 2; round++) {
            double g[BLOCK * BLOCK], ua[BLOCK], d[BLOCK], lam[BLOCK], v[BLOCK * BLOCK], t[BLOCK * BLOCK] = {0};
            gram(s, s->x, s->x, g, ua);
            /* the Gram of x - u ua^T, its diagonal scaled to 1 */
            for (int i = 0; i < b; i++) d[i] = g[i * BLOCK + i] - ua[i] * ua[i];
            for (int i = 0; i < b; i++) d[i] = d[i] > 0 ? 1 / sqrt(d[i]) : 0;
            for (int i = 0; i < b; i++)
                for (int j = 0; j < b; j++) g[i * BLOCK + j] = d[i] * (g[i * BLOCK + j] - ua[i] * ua[j]) * d[j];
            jacobi(g, b, lam, v);
            dropped = 0;
            for (int c = 0; c < b; c++) {
                if (!(lam[c] > 1e-18 * lam[0]) || !(lam[0] > 0)) { /* sorted: the dropped ones come last */
                    dropped++;
                    continue;
                }
                for (int k = 0; k < b; k++) t[k * BLOCK + c] = d[k] * v[k * BLOCK + c] / sqrt(lam[c]);
            }
            transform(s, s->x, NULL, t, ua);
        }
        if (!dropped) return;
        fill_random(s, b - dropped, attempt);
    }
}

/* The rows' scaling 1 / sqrt(degree), the operator's entries a_ij = w_ij / sqrt(d_i d_j) (multiplied in
 * the same order for (i, j) and (j, i), so that the operator stays exactly symmetric in float) and the
 * trivial eigenvector u = sqrt(degree) / norm. */
static void scale_rows(solver *s) {
    double total = 0;
    const ep_map_graph *g = s->g;
    for (uint64_t r = 0; r < s->m; r++) {
        const uint64_t i = (uint64_t)s->rows[r];
        double d = 0;
        for (uint64_t e = g->offsets[i]; e < g->offsets[i + 1]; e++) d += (double)g->weights[e];
        s->s[r] = d > 0 ? 1 / sqrt(d) : 0;
        s->u[r] = sqrt(d);
        total += d;
    }
    for (uint64_t r = 0; r < s->m; r++) s->u[r] = total > 0 ? s->u[r] / sqrt(total) : 0;
    for (uint64_t r = 0; r < s->m; r++) {
        const uint64_t i = (uint64_t)s->rows[r];
        for (uint64_t e = g->offsets[i]; e < g->offsets[i + 1]; e++) {
            const uint64_t j = s->local ? (uint64_t)s->local[g->cols[e]] : (uint64_t)g->cols[e];
            const double lo = s->s[r < j ? r : j], hi = s->s[r < j ? j : r];
            s->a[e] = (float)((double)g->weights[e] * lo * hi);
        }
    }
}

/* One Rayleigh-Ritz step: y = M x, then x and y rotated onto the Ritz vectors. @return the larger
 * residual of the first two; values get the Ritz values, descending. */
static double rayleigh_ritz(solver *s, double *values) {
    double h[BLOCK * BLOCK], ua[BLOCK], v[BLOCK * BLOCK];
    product(s, s->x, s->y, 1, 0, 0);
    gram(s, s->x, s->y, h, ua);
    for (int i = 0; i < s->b; i++)
        for (int j = 0; j < i; j++) h[i * BLOCK + j] = h[j * BLOCK + i] = (h[i * BLOCK + j] + h[j * BLOCK + i]) / 2;
    jacobi(h, s->b, values, v);
    transform(s, s->x, s->y, v, NULL);
    /* |y_c - theta_c x_c| directly: from the Gram matrices it would lose every digit below 1e-8 */
    pass p = {.kind = OP_RESIDUAL, .theta = {values[0], values[1]}};
    run_pass(s, &p);
    double sum[2] = {0, 0};
    for (uint64_t c = 0; c < s->n_chunks; c++)
        for (int j = 0; j < 2; j++) sum[j] += s->partial[c * PARTIAL + (uint64_t)j];
    return sqrt(fmax(sum[0], sum[1]));
}

/* x <- T_deg((M - c) / e) x, the Chebyshev filter that keeps the spectrum above cut (from x and y = M x).
 * @return the block products it made (deg - 1: the first term reuses y). */
static int chebyshev_filter(solver *s, double cut, int budget) {
    const double lo = -1.0, e = fmax((cut - lo) / 2, 1e-3), c = (cut + lo) / 2, top = (1.0 - c) / e;
    /* the largest growth, T_deg(top), stays below MAX_GROWTH: the block keeps its smaller directions */
    int deg = top > 1 + 1e-12 ? (int)(acosh(MAX_GROWTH) / acosh(top)) : MAX_DEGREE;
    deg = deg < 2 ? 2 : deg > MAX_DEGREE ? MAX_DEGREE : deg;
    if (deg - 1 > budget) deg = budget + 1 < 2 ? 2 : budget + 1;
    double *prev = s->x, *cur = s->y;
    product(s, prev, cur, 0, -c / e, 1 / e); /* T1 = (y - c x) / e */
    for (int k = 1; k < deg; k++) {
        product(s, cur, prev, 2 / e, -2 * c / e, -1); /* T_{k+1} = 2 (M - c) / e T_k - T_{k-1} */
        double *t = prev;
        prev = cur;
        cur = t;
    }
    s->x = cur;
    s->y = prev;
    return deg - 1;
}

/* Solves one component: out (m x 2) gets the two eigenvectors, each with its largest entry positive. */
static void solve(solver *s, const ep_map_spectral_options *o, double *out, ep_map_eigen *res) {
    const int max_products = o->max_products > 0 ? o->max_products : DEFAULT_PRODUCTS;
    const double tol = o->tolerance > 0 ? o->tolerance : DEFAULT_TOLERANCE;
    scale_rows(s);
    fill_random(s, 0, 0);
    orthonormalise(s);
    *res = (ep_map_eigen){0};
    double values[BLOCK];
    for (;;) {
        res->residual = rayleigh_ritz(s, values);
        res->products++;
        if (res->residual <= tol || res->products >= max_products) break;
        res->products += chebyshev_filter(s, values[s->b - 1], max_products - res->products - 1);
        orthonormalise(s);
    }
    res->converged = res->residual <= tol;
    res->values[0] = values[0];
    res->values[1] = values[1];
    for (int c = 0; c < 2; c++) {
        uint64_t big = 0;
        for (uint64_t r = 0; r < s->m; r++)
            if (fabs(s->x[r * BLOCK + c]) > fabs(s->x[big * BLOCK + c])) big = r;
        double sign = s->x[big * BLOCK + c] < 0 ? -1.0 : 1.0;
        for (uint64_t r = 0; r < s->m; r++) out[2 * r + c] = sign * s->x[r * BLOCK + c];
    }
}

/* The connected components: label[i] in 0 .. count-1, numbered in the order of their first rows.
 * @return the number of components. */
static uint64_t components(const ep_map_graph *g, int32_t *label) {
    const uint64_t n = g->n_rows;
    for (uint64_t i = 0; i < n; i++) label[i] = (int32_t)i;
    for (uint64_t i = 0; i < n; i++)
        for (uint64_t e = g->offsets[i]; e < g->offsets[i + 1]; e++) {
            /* union by the smaller root, with path halving */
            int32_t a = (int32_t)i, b = g->cols[e];
            while (label[a] != a) a = label[a] = label[label[a]];
            while (label[b] != b) b = label[b] = label[label[b]];
            if (a < b) label[b] = a;
            else if (b < a) label[a] = b;
        }
    /* every row to its root (roots come first: each is its component's smallest row), then the roots
     * numbered as -1, -2, ... so that they cannot be taken for rows, then every row to its root's number */
    for (uint64_t i = 0; i < n; i++) label[i] = label[label[i]];
    uint64_t count = 0;
    for (uint64_t i = 0; i < n; i++)
        if (label[i] == (int32_t)i) label[i] = -(int32_t)(count++) - 1;
    for (uint64_t i = 0; i < n; i++)
        if (label[i] >= 0) label[i] = label[label[i]];
    for (uint64_t i = 0; i < n; i++) label[i] = -label[i] - 1;
    return count;
}

/* The solver's arrays for components of up to max_m rows (x, y, s, u, partial sums, pool). */
static ep_status solver_open(solver *s, const ep_map_graph *g, uint64_t max_m, int threads, ep_error *err) {
    memset(s, 0, sizeof *s);
    s->g = g;
    const uint64_t chunks = (max_m + CHUNK - 1) / CHUNK + 1;
    s->s = malloc(sizeof(double) * (size_t)(max_m + 1));
    s->u = malloc(sizeof(double) * (size_t)(max_m + 1));
    double *x = malloc(sizeof(double) * BLOCK * (size_t)(max_m + 1));
    double *y = malloc(sizeof(double) * BLOCK * (size_t)(max_m + 1));
    s->partial = malloc(sizeof(double) * PARTIAL * (size_t)chunks);
    s->a = malloc(sizeof(float) * (size_t)(g->n_edges + 1));
    s->x = x;
    s->y = y;
    if (!s->s || !s->u || !x || !y || !s->partial || !s->a)
        return ep_error_set(err, EP_ERR_NOMEM, "map: out of memory for the spectral start of %llu rows",
                            (unsigned long long)max_m);
    if (threads > 1 && max_m > CHUNK) return ep_cpu_pool_create(threads, &s->pool, err);
    return EP_OK;
}

/* Frees what solver_open allocated; base holds its two blocks in their first order. */
static void solver_close(solver *s, double *base[2]) {
    free(s->s);
    free(s->u);
    free(base[0]);
    free(base[1]);
    free(s->partial);
    free(s->a);
    ep_cpu_pool_free(s->pool);
}

/* Points the solver at one component and solves it. */
static void solve_component(solver *s, double *base[2], const int32_t *rows, const int32_t *local, uint64_t m,
                            const ep_map_spectral_options *o, double *out, ep_map_eigen *res) {
    s->rows = rows;
    s->local = m == s->g->n_rows ? NULL : local; /* every row, in order: the global index is the local one */
    s->m = m;
    s->b = m - 1 < BLOCK ? (int)m - 1 : BLOCK;
    s->n_chunks = (m + CHUNK - 1) / CHUNK;
    s->x = base[0];
    s->y = base[1];
    /* a small component on the calling thread alone: the same chunks, so the same sums */
    ep_cpu_pool *pool = s->pool;
    if (m <= CHUNK) s->pool = NULL;
    solve(s, o, out, res);
    s->pool = pool;
}

ep_status ep_map_spectral_eigen(const ep_map_graph *g, const ep_map_spectral_options *o, double *vectors,
                                ep_map_eigen *out, ep_error *err) {
    const uint64_t n = g->n_rows;
    *out = (ep_map_eigen){0};
    if (n < MIN_ROWS) return ep_error_set(err, EP_ERR_USAGE, "map: the spectral start needs at least %d rows", MIN_ROWS);
    int32_t *label = malloc(sizeof(int32_t) * (size_t)n), *rows = malloc(sizeof(int32_t) * (size_t)n);
    if (!label || !rows) {
        free(label);
        free(rows);
        return ep_error_set(err, EP_ERR_NOMEM, "map: out of memory for the spectral start");
    }
    uint64_t count = components(g, label);
    ep_status st = EP_OK;
    if (count != 1)
        st = ep_error_set(err, EP_ERR_USAGE, "map: the graph has %llu components; ep_map_spectral_eigen needs one",
                          (unsigned long long)count);
    for (uint64_t i = 0; i < n; i++) rows[i] = label[i] = (int32_t)i; /* one component: local = global */
    solver s = {0};
    int threads = o->threads > 0 ? o->threads : ep_default_threads();
    if (st == EP_OK) st = solver_open(&s, g, n, threads, err);
    double *base[2] = {s.x, s.y};
    if (st == EP_OK) solve_component(&s, base, rows, label, n, o, vectors, out);
    solver_close(&s, base);
    free(label);
    free(rows);
    return st;
}

/* A component's eigenvectors v (m x 2) in place of its PCA positions: centred on their mean, scaled to the
 * same mean square distance from it. The components thus keep the places and sizes the PCA start gives
 * them, and each its spectral shape. A degenerate v (all equal) leaves the PCA positions. */
static void place(float *xy, const int32_t *rows, uint64_t m, const double *v) {
    double c[2] = {0, 0}, mv[2] = {0, 0}, spread_pca = 0, spread_v = 0;
    for (uint64_t r = 0; r < m; r++)
        for (int d = 0; d < 2; d++) {
            c[d] += xy[2 * (size_t)rows[r] + (size_t)d];
            mv[d] += v[2 * r + (size_t)d];
        }
    for (int d = 0; d < 2; d++) {
        c[d] /= (double)m;
        mv[d] /= (double)m;
    }
    for (uint64_t r = 0; r < m; r++)
        for (int d = 0; d < 2; d++) {
            double p = xy[2 * (size_t)rows[r] + (size_t)d] - c[d], q = v[2 * r + (size_t)d] - mv[d];
            spread_pca += p * p;
            spread_v += q * q;
        }
    if (!(spread_v > 0)) return;
    const double k = sqrt(spread_pca / spread_v);
    for (uint64_t r = 0; r < m; r++)
        for (int d = 0; d < 2; d++) xy[2 * (size_t)rows[r] + (size_t)d] = (float)(c[d] + (v[2 * r + (size_t)d] - mv[d]) * k);
}

/* The rows of each component in ascending order (order[start[c] .. start[c+1])) and each row's index there.
 * @return the component with the most rows (the first of equals). */
static uint64_t group_rows(const int32_t *label, uint64_t n, uint64_t count, uint64_t *start, int32_t *order,
                           int32_t *local) {
    memset(start, 0, sizeof(uint64_t) * (size_t)(count + 1));
    for (uint64_t i = 0; i < n; i++) start[label[i] + 1]++;
    uint64_t largest = 0;
    for (uint64_t c = 0; c < count; c++)
        if (start[c + 1] > start[largest + 1]) largest = c;
    for (uint64_t c = 0; c < count; c++) start[c + 1] += start[c];
    for (uint64_t i = 0; i < n; i++) {
        /* start[c] is the next free slot while filling; shifted back below */
        uint64_t at = start[label[i]]++;
        order[at] = (int32_t)i;
        local[i] = (int32_t)at;
    }
    for (uint64_t c = count; c > 0; c--) start[c] = start[c - 1];
    start[0] = 0;
    for (uint64_t i = 0; i < n; i++) local[i] -= (int32_t)start[label[i]];
    return largest;
}

ep_status ep_map_spectral_start(const ep_map_graph *g, const ep_map_spectral_options *o, float *xy,
                                ep_map_start_report *rep, ep_error *err) {
    const uint64_t n = g->n_rows;
    memset(rep, 0, sizeof *rep);
    int32_t *label = malloc(sizeof(int32_t) * (size_t)(n + 1)), *order = malloc(sizeof(int32_t) * (size_t)(n + 1));
    int32_t *local = malloc(sizeof(int32_t) * (size_t)(n + 1));
    uint64_t *start = malloc(sizeof(uint64_t) * (size_t)(n + 2));
    if (!label || !order || !local || !start) {
        free(label);
        free(order);
        free(local);
        free(start);
        return ep_error_set(err, EP_ERR_NOMEM, "map: out of memory for the spectral start of %llu rows",
                            (unsigned long long)n);
    }
    const uint64_t count = n ? components(g, label) : 0;
    const uint64_t big = count ? group_rows(label, n, count, start, order, local) : 0;
    rep->components = count;
    rep->largest = count ? start[big + 1] - start[big] : 0;
    solver s = {0};
    ep_status st = EP_OK;
    double *vec = malloc(sizeof(double) * 2 * (size_t)(rep->largest + 1));
    if (!vec) st = ep_error_set(err, EP_ERR_NOMEM, "map: out of memory for the spectral start");
    if (st == EP_OK && rep->largest >= MIN_ROWS)
        st = solver_open(&s, g, rep->largest, o->threads > 0 ? o->threads : ep_default_threads(), err);
    double *base[2] = {s.x, s.y};
    for (uint64_t c = 0; st == EP_OK && c < count; c++) {
        const uint64_t m = start[c + 1] - start[c];
        if (m < MIN_ROWS) {
            rep->small_rows += m;
            continue;
        }
        ep_map_eigen res;
        solve_component(&s, base, order + start[c], local, m, o, vec, &res);
        if (c == big) rep->largest_solve = res;
        if (!res.converged) {
            rep->unconverged++;
            rep->unconverged_rows += m;
            continue;
        }
        place(xy, order + start[c], m, vec);
        rep->spectral_rows += m;
    }
    solver_close(&s, base);
    free(vec);
    free(label);
    free(order);
    free(local);
    free(start);
    return st;
}
