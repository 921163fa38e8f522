/* neighbours.c - exact all-rows top-k by blocked, symmetric sgemm; see neighbours.h. */
#include "neighbours.h"
#include "setting_names.h"

#include "cpu_pool.h"
#include "explore_gemm.h"
#include "float16.h"
#include "output_reader.h"
#include "settings.h"
#ifdef EP_HAVE_CUDA_BACKEND
#include "backend_cuda.h"
#include "cuda_neighbours.h"
#endif

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Tile side: one tile's scores (TILE x TILE floats, 4 MiB) stay in the cache while selected. */
#define TILE 1024

/* Copies rows [first, first + count) of the folder's shards into out: as float32 (f32) or as the
 * stored float16 (!f32), reading only the shards that hold some of them. @return EP_OK or the read's error. */
static ep_status read_rows(ep_output_reader *r, uint64_t first, uint64_t count, bool f32, void *out, ep_error *err) {
    const ep_manifest *m = ep_output_manifest(r);
    const size_t dim = (size_t)m->dim;
    for (size_t s = 0; s < m->n_shards; s++) {
        const ep_shard_info *info = &m->shards[s];
        uint64_t lo = info->first_row > first ? info->first_row : first;
        uint64_t hi = info->first_row + info->rows < first + count ? info->first_row + info->rows : first + count;
        if (lo >= hi) continue;
        ep_output_shard shard;
        ep_status st = ep_output_read_shard(r, s, EP_OUTPUT_VECTORS, &shard, err);
        if (st != EP_OK) return st;
        if (f32) {
            for (uint64_t row = lo; row < hi; row++) {
                const uint16_t *src = shard.rows + (row - info->first_row) * dim;
                float *dst = (float *)out + (row - first) * dim;
                for (size_t i = 0; i < dim; i++) dst[i] = ep_f16_to_f32(src[i]);
            }
        } else {
            memcpy((uint16_t *)out + (lo - first) * dim, shard.rows + (lo - info->first_row) * dim,
                   (size_t)(hi - lo) * dim * 2);
        }
        ep_output_shard_free(&shard);
    }
    return EP_OK;
}

ep_status ep_explore_read_rows(struct ep_output_reader *r, uint64_t first, uint64_t count, float *out, ep_error *err) {
    return read_rows(r, first, count, true, out, err);
}

/* One row's best k so far, best first: higher score, then smaller row. */
typedef struct topk {
    float *score;
    int32_t *row;
    float *worst;  /* score of the k-th entry, -inf until k are kept */
    int *count;
    int k;
} topk;

static inline bool better(float s, int32_t r, float s2, int32_t r2) { return s > s2 || (s == s2 && r < r2); }

/* Offers (s, r) to list i of t. */
static inline void offer(const topk *t, size_t i, float s, int32_t r) {
    const int k = t->k;
    float *sc = t->score + i * (size_t)k;
    int32_t *rw = t->row + i * (size_t)k;
    int n = t->count[i];
    if (n == k && !better(s, r, sc[k - 1], rw[k - 1])) return;
    int p = n < k ? n++ : k - 1;
    while (p > 0 && better(s, r, sc[p - 1], rw[p - 1])) {
        sc[p] = sc[p - 1];
        rw[p] = rw[p - 1];
        p--;
    }
    sc[p] = s;
    rw[p] = r;
    t->count[i] = n;
    t->worst[i] = n == k ? sc[k - 1] : -INFINITY;
}

static ep_status topk_alloc(topk *t, size_t n, int k) {
    t->k = k;
    t->score = malloc(sizeof(float) * n * (size_t)k);
    t->row = malloc(sizeof(int32_t) * n * (size_t)k);
    t->worst = malloc(sizeof(float) * n);
    t->count = calloc(n, sizeof(int));
    if (!t->score || !t->row || !t->worst || !t->count) return EP_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) t->worst[i] = -INFINITY;
    return EP_OK;
}

static void topk_free(topk *t) {
    free(t->score);
    free(t->row);
    free(t->worst);
    free(t->count);
    memset(t, 0, sizeof *t);
}

/* What the threads share while one tile row (rows [i0, i0+ti) of block A) meets the tiles of block B. */
typedef struct tile_job {
    const float *a;         /* block A's rows, float32 */
    const uint16_t *a16;    /* the same in bfloat16, for a bf16 table (else NULL) */
    uint64_t a_first, b_first, b_rows;
    uint64_t i0;            /* tile row's first row, relative to A */
    size_t ti;
    size_t first_tile;      /* first column tile of B to visit */
    size_t n_tiles;
    int dim;
    int next_tile;          /* taken atomically */
    topk *global;           /* every row of the folder */
    topk *priv;             /* per thread: the tile row's rows */
    float **scratch;        /* per thread: TILE x TILE scores */
    float **gemm_scratch;   /* per thread: the kernel's packed A */
    const ep_cpu_kernels *kern;
    const ep_packed *packs; /* block B's tiles, packed */
    const float *zeros;     /* TILE zeros: the kernel's bias */
    bool same_block;
} tile_job;

static void tile_worker(void *arg, int thread) {
    tile_job *job = arg;
    topk *mine = &job->priv[thread];
    float *s = job->scratch[thread];
    const int dim = job->dim;
    for (;;) {
        int t = __atomic_fetch_add(&job->next_tile, 1, __ATOMIC_RELAXED);
        if ((size_t)t >= job->n_tiles) break;
        uint64_t j0 = (uint64_t)(job->first_tile + (size_t)t) * TILE;
        size_t tj = (size_t)(job->b_rows - j0 < TILE ? job->b_rows - j0 : TILE);
        const ep_packed *w = &job->packs[job->first_tile + (size_t)t];
        const size_t ldo = (size_t)w->n; /* tj, padded with zero rows */
        ep_explore_gemm(job->kern, s, (int)ldo, job->a16 ? NULL : job->a + job->i0 * (size_t)dim,
                        job->a16 ? job->a16 + job->i0 * (size_t)dim : NULL, dim, (int)job->ti, w, job->zeros,
                        job->gemm_scratch[thread]);
        const uint64_t gi0 = job->a_first + job->i0, gj0 = job->b_first + j0;
        const bool diagonal = job->same_block && j0 == job->i0;
        const float *floor = job->global->worst + gi0; /* the i-tile's global lists: stable during this phase */
        for (size_t i = 0; i < job->ti; i++) {
            const float *srow = s + i * ldo;
            float worst = fmaxf(mine->worst[i], floor[i]);
            for (size_t j0v = 0; j0v < tj; j0v += 16) {
                // Most scores lose to the k-th best: one vectorisable test per 16 of them.
                const size_t end = tj - j0v < 16 ? tj : j0v + 16;
                int any = 0;
                for (size_t j = j0v; j < end; j++) any |= srow[j] >= worst;
                if (!any) continue;
                for (size_t j = j0v; j < end; j++) {
                    if (srow[j] < worst || (diagonal && i == j)) continue;
                    offer(mine, i, srow[j], (int32_t)(gj0 + j));
                    worst = fmaxf(mine->worst[i], floor[i]);
                }
            }
        }
        // The same scores seen from the column's rows, which this thread alone owns in this tile row.
        if (diagonal) continue;
        topk *g = job->global;
        const float *worst = g->worst + gj0;
        for (size_t i = 0; i < job->ti; i++) {
            const float *srow = s + i * ldo;
            for (size_t j0v = 0; j0v < tj; j0v += 16) {
                const size_t end = tj - j0v < 16 ? tj : j0v + 16;
                int any = 0;
                for (size_t j = j0v; j < end; j++) any |= srow[j] >= worst[j];
                if (!any) continue;
                for (size_t j = j0v; j < end; j++)
                    if (srow[j] >= worst[j]) offer(g, gj0 + j, srow[j], (int32_t)(gi0 + i));
            }
        }
    }
}

typedef struct merge_job {
    tile_job *tiles;
    int threads;
} merge_job;

/* Folds every thread's list of the tile row's rows into the global lists (rows split between threads). */
static void merge_worker(void *arg, int thread) {
    merge_job *mj = arg;
    tile_job *job = mj->tiles;
    const uint64_t gi0 = job->a_first + job->i0;
    for (size_t i = (size_t)thread; i < job->ti; i += (size_t)mj->threads)
        for (int t = 0; t < mj->threads; t++) {
            const topk *p = &job->priv[t];
            for (int e = 0; e < p->count[i]; e++)
                offer(job->global, gi0 + i, p->score[i * (size_t)p->k + (size_t)e], p->row[i * (size_t)p->k + (size_t)e]);
        }
}

/* Every tile of block A (rows a_first..) against block B (rows b_first..); when they are the same block,
 * only the tiles on and above the diagonal. */
static void block_pair(ep_cpu_pool *pool, tile_job *proto, const float *a, uint64_t a_first, uint64_t a_rows,
                       const ep_packed *packs, uint64_t b_first, uint64_t b_rows, bool same) {
    const int threads = ep_cpu_pool_threads(pool);
    size_t b_tiles = (size_t)((b_rows + TILE - 1) / TILE);
    for (uint64_t i0 = 0; i0 < a_rows; i0 += TILE) {
        tile_job job = *proto;
        job.a = a;
        job.a16 = proto->a16;
        job.packs = packs;
        job.a_first = a_first;
        job.b_first = b_first;
        job.b_rows = b_rows;
        job.i0 = i0;
        job.ti = (size_t)(a_rows - i0 < TILE ? a_rows - i0 : TILE);
        job.same_block = same;
        job.first_tile = same ? (size_t)(i0 / TILE) : 0;
        job.n_tiles = b_tiles - job.first_tile;
        job.next_tile = 0;
        for (int t = 0; t < threads; t++) {
            memset(job.priv[t].count, 0, sizeof(int) * TILE);
            for (size_t i = 0; i < TILE; i++) job.priv[t].worst[i] = -INFINITY;
        }
        ep_cpu_pool_run(pool, tile_worker, &job);
        merge_job mj = {&job, threads};
        ep_cpu_pool_run(pool, merge_worker, &mj);
    }
}

/* Packs the tiles of a block (rows x dim) for the kernels; packs must hold ceil(rows / TILE) entries. */
static ep_status pack_block(const ep_cpu_kernels *kern, const float *rows, uint64_t n, int dim, ep_packed *packs,
                            ep_error *err) {
    for (uint64_t j0 = 0; j0 < n; j0 += TILE) {
        int tj = (int)(n - j0 < TILE ? n - j0 : TILE);
        ep_status st = ep_explore_pack(kern, rows + j0 * (size_t)dim, tj, dim, &packs[j0 / TILE], err);
        if (st != EP_OK) return st;
    }
    return EP_OK;
}

static void free_packs(ep_packed *packs, size_t n) {
    for (size_t i = 0; packs && i < n; i++) ep_packed_free(&packs[i]);
}

void ep_neighbours_free(ep_neighbours *n) {
    if (!n) return;
    free(n->rows);
    free(n->scores);
    memset(n, 0, sizeof *n);
}

/* Re-scores each row's candidates (kk of them, from a bfloat16 product) in float32 and keeps the best k,
 * in the same order as the float32 path: higher score, then smaller row. */
static void rerank(topk *g, const float *x, uint64_t n, int dim, int k, int32_t *rows, float *scores) {
    const int kk = g->k;
    for (uint64_t i = 0; i < n; i++) {
        topk one = {.score = scores + i * (size_t)k, .row = rows + i * (size_t)k, .worst = &(float){-INFINITY},
                    .count = &(int){0}, .k = k};
        const float *xi = x + i * (size_t)dim;
        for (int e = 0; e < g->count[i]; e++) {
            int32_t j = g->row[i * (size_t)kk + (size_t)e];
            const float *xj = x + (size_t)j * (size_t)dim;
            float dot = 0.0f;
            for (int d = 0; d < dim; d++) dot += xi[d] * xj[d];
            offer(&one, 0, dot, j);
        }
        for (int e = *one.count; e < k; e++) {
            rows[i * (size_t)k + (size_t)e] = -1;
            scores[i * (size_t)k + (size_t)e] = NAN;
        }
    }
}

/* What the CPU path holds while it runs: two blocks of rows, block B's packed tiles, the lists, the threads. */
typedef struct cpu_work {
    int k, kk, dim, threads;   /* kk: candidates kept per row (2k with bf16, re-scored at the end) */
    uint64_t n, block;         /* rows of the folder, rows per block */
    size_t budget, n_tiles;    /* memory budget; tiles per block */
    const ep_cpu_kernels *kern;
    uint16_t *a16;             /* block A in bfloat16 when a bf16 table runs, else NULL */
    topk global;               /* every row's list */
    topk *priv;                /* per thread: one tile row's lists */
    float **scratch, **gemm_scratch;
    float *a, *b, *zeros;      /* blocks A and B as float32 (b NULL when one block holds every row) */
    ep_packed *packs;
    ep_cpu_pool *pool;
} cpu_work;

/* The sizes: rows, threads, the budget and the rows per block, three blocks of float32 rows in the budget
 * (block A, block B, B packed), a whole number of tiles each. */
static void work_plan(cpu_work *w, const ep_neighbours_options *options, const ep_manifest *m) {
    memset(w, 0, sizeof *w);
    w->k = options->k;
    w->threads = options->threads > 0 ? options->threads : ep_default_threads();
    w->budget = options->memory_bytes ? options->memory_bytes : ((size_t)2 << 30);
    w->n = m->records_embedded;
    w->dim = m->dim;
    uint64_t block = w->budget / 3 / ((size_t)w->dim * sizeof(float));
    block = block / TILE * TILE;
    if (block < TILE) block = TILE;
    if (block > w->n) block = w->n ? w->n : 1;
    w->block = block;
    w->n_tiles = (size_t)((block + TILE - 1) / TILE);
    w->kern = ep_explore_kernels();
}

/* With options->bf16: the bfloat16 table and block A's bfloat16 copy when this CPU, the width and the budget
 * allow it, else a note (note_cap bytes) saying why float32 is used. @return EP_OK, EP_ERR_NOMEM (no message:
 * work_alloc says it). */
static ep_status choose_bf16(const ep_neighbours_options *options, cpu_work *w, char *note, size_t note_cap) {
    ep_status st = EP_OK;
    if (options->bf16) {
        const ep_cpu_kernels *k16 = ep_explore_kernels_bf16();
        if (!k16) snprintf(note, note_cap, "this CPU has neither AVX512-BF16 nor AMX: float32 used");
        else if (w->dim % 32)
            snprintf(note, note_cap, "rows of %d floats (not a multiple of 32): float32 used", w->dim);
        else if (w->block < w->n) snprintf(note, note_cap, "the rows do not fit %s in one block: float32 used",
                                           ep_setting_name(EP_SETTING_MEMORY));
        else if (!(w->a16 = calloc(((size_t)w->block + 16) * (size_t)w->dim, sizeof(uint16_t)))) st = EP_ERR_NOMEM;
        else w->kern = k16;
    }
    w->kk = w->a16 ? 2 * w->k : w->k;
    return st;
}

/* Everything else the blocks need, and the thread pool. st: choose_bf16's answer.
 * @return EP_OK, EP_ERR_NOMEM, or the pool's error. */
static ep_status work_alloc(cpu_work *w, ep_status st, ep_error *err) {
    const int threads = w->threads;
    const size_t block_floats = (size_t)w->block * (size_t)w->dim;
    w->priv = calloc((size_t)threads, sizeof *w->priv);
    w->scratch = calloc((size_t)threads, sizeof *w->scratch);
    w->a = malloc(sizeof(float) * block_floats);
    w->b = w->n > w->block ? malloc(sizeof(float) * block_floats) : NULL;
    w->packs = calloc(w->n_tiles, sizeof *w->packs);
    w->gemm_scratch = calloc((size_t)threads, sizeof *w->gemm_scratch);
    w->zeros = calloc(TILE, sizeof(float));
    bool ok = w->priv && w->scratch && w->a && (w->n <= w->block || w->b) && w->packs && w->gemm_scratch &&
              w->zeros && st == EP_OK && topk_alloc(&w->global, w->n ? w->n : 1, w->kk) == EP_OK;
    for (int t = 0; ok && t < threads; t++)
        ok = topk_alloc(&w->priv[t], TILE, w->kk) == EP_OK &&
             (w->scratch[t] = malloc(sizeof(float) * TILE * TILE)) != NULL &&
             (w->gemm_scratch[t] =
                  ep_aligned_calloc(sizeof(float) * ep_explore_gemm_scratch(w->kern, w->dim, TILE))) != NULL;
    if (!ok) st = ep_error_set(err, EP_ERR_NOMEM, "related: out of memory for %llu rows (budget %zu MiB)",
                               (unsigned long long)w->n, w->budget >> 20);
    if (st == EP_OK) st = ep_cpu_pool_create(threads, &w->pool, err);
    return st;
}

static void work_free(cpu_work *w) {
    ep_cpu_pool_free(w->pool);
    for (int t = 0; w->priv && t < w->threads; t++) topk_free(&w->priv[t]);
    for (int t = 0; w->scratch && t < w->threads; t++) free(w->scratch[t]);
    for (int t = 0; w->gemm_scratch && t < w->threads; t++) free(w->gemm_scratch[t]);
    free_packs(w->packs, w->n_tiles);
    free(w->packs);
    free(w->gemm_scratch);
    free(w->zeros);
    free(w->priv);
    free(w->scratch);
    free(w->a);
    free(w->a16);
    free(w->b);
    topk_free(&w->global);
}

/* Every block A against itself and every later block B: all pairs of rows, each once. */
static ep_status run_blocks(ep_output_reader *r, cpu_work *w, ep_error *err) {
    const uint64_t n = w->n, block = w->block;
    const int dim = w->dim;
    tile_job proto = {.dim = dim, .global = &w->global, .priv = w->priv, .scratch = w->scratch,
                      .gemm_scratch = w->gemm_scratch, .kern = w->kern, .zeros = w->zeros, .a16 = NULL};
    ep_status st = EP_OK;
    for (uint64_t a0 = 0; a0 < n && st == EP_OK; a0 += block) {
        uint64_t a_rows = n - a0 < block ? n - a0 : block;
        st = ep_explore_read_rows(r, a0, a_rows, w->a, err);
        if (st == EP_OK && w->a16) {
            w->kern->to_bf16(w->a16, w->a, (size_t)a_rows * (size_t)dim);
            proto.a16 = w->a16;
        }
        if (st == EP_OK) st = pack_block(w->kern, w->a, a_rows, dim, w->packs, err);
        if (st == EP_OK) block_pair(w->pool, &proto, w->a, a0, a_rows, w->packs, a0, a_rows, true);
        free_packs(w->packs, w->n_tiles);
        for (uint64_t b0 = a0 + block; b0 < n && st == EP_OK; b0 += block) {
            uint64_t b_rows = n - b0 < block ? n - b0 : block;
            st = ep_explore_read_rows(r, b0, b_rows, w->b, err);
            if (st == EP_OK) st = pack_block(w->kern, w->b, b_rows, dim, w->packs, err);
            if (st == EP_OK) block_pair(w->pool, &proto, w->a, a0, a_rows, w->packs, b0, b_rows, false);
            free_packs(w->packs, w->n_tiles);
        }
    }
    return st;
}

/* The lists into out, k per row, -1 / NaN where a row has fewer: the bf16 candidates re-scored in float32,
 * or the float32 lists themselves (taken over from w->global). @return EP_OK, EP_ERR_NOMEM. */
static ep_status hand_over(cpu_work *w, ep_neighbours *out, ep_error *err) {
    const uint64_t n = w->n;
    const int k = w->k;
    if (w->a16) {
        out->rows = malloc(sizeof(int32_t) * (size_t)(n ? n : 1) * (size_t)k);
        out->scores = malloc(sizeof(float) * (size_t)(n ? n : 1) * (size_t)k);
        if (!out->rows || !out->scores) return ep_error_set(err, EP_ERR_NOMEM, "related: out of memory");
        rerank(&w->global, w->a, n, w->dim, k, out->rows, out->scores);
        out->used_bf16 = true;
    } else {
        out->rows = w->global.row;
        out->scores = w->global.score;
        w->global.row = NULL;
        w->global.score = NULL;
        for (uint64_t i = 0; i < n; i++)
            for (int e = w->global.count[i]; e < k; e++) {
                out->rows[i * (size_t)k + (size_t)e] = -1;
                out->scores[i * (size_t)k + (size_t)e] = NAN;
            }
    }
    out->n_rows = n;
    out->k = k;
    out->dim = w->dim;
    return EP_OK;
}

/* The CPU path (see neighbours.h). */
static ep_status neighbours_cpu(const char *dir, const ep_neighbours_options *options, ep_neighbours *out,
                                ep_error *err) {
    memset(out, 0, sizeof *out);
    if (options->k < 1 || options->k > 1000)
        return ep_error_set(err, EP_ERR_USAGE, "related: k must be between 1 and 1000");
    ep_output_reader *r = NULL;
    ep_status st = ep_output_open(dir, &r, err);
    if (st != EP_OK) return st;
    cpu_work w;
    work_plan(&w, options, ep_output_manifest(r));
    st = work_alloc(&w, choose_bf16(options, &w, out->note, sizeof out->note), err);
    if (st == EP_OK) st = run_blocks(r, &w, err);
    if (st == EP_OK) st = hand_over(&w, out, err);
    work_free(&w);
    ep_output_close(r);
    return st;
}

/* Parses options->device: *cuda -1 = auto, 0 = cpu, 1 = cuda (device *index). @return EP_OK or EP_ERR_USAGE. */
static ep_status parse_device(const char *device, int *cuda, int *index, ep_error *err) {
    *index = 0;
    if (!device || !*device || strcmp(device, "cpu") == 0) *cuda = 0;
    else if (strcmp(device, "auto") == 0) *cuda = -1;
    else if (strcmp(device, "cuda") == 0) *cuda = 1;
    else {
        char *end = NULL;
        long v = strncmp(device, "cuda:", 5) == 0 && device[5] ? strtol(device + 5, &end, 10) : -1;
        if (v < 0 || v > 1023 || !end || *end)
            return ep_error_set(err, EP_ERR_USAGE, "related: device %s: expected cpu, cuda, cuda:N or auto", device);
        *cuda = 1;
        *index = (int)v;
    }
    return EP_OK;
}

#ifdef EP_HAVE_CUDA_BACKEND
/* ep_cuda_rows_fn over the checked reader: the shards' float16 rows as they are. */
static ep_status read_rows_f16(void *ctx, uint64_t first, uint64_t count, uint16_t *out, ep_error *err) {
    return read_rows(ctx, first, count, false, out, err);
}

/* The CUDA path: the folder's rows through cuda_neighbours.c. */
static ep_status neighbours_cuda(const char *dir, const ep_neighbours_options *options, int device, ep_neighbours *out,
                                 ep_error *err) {
    ep_output_reader *r = NULL;
    ep_status st = ep_output_open(dir, &r, err);
    if (st != EP_OK) return st;
    const ep_manifest *m = ep_output_manifest(r);
    const uint64_t n = m->records_embedded;
    const int k = options->k;
    out->rows = malloc(sizeof(int32_t) * (size_t)(n ? n : 1) * (size_t)k);
    out->scores = malloc(sizeof(float) * (size_t)(n ? n : 1) * (size_t)k);
    if (!out->rows || !out->scores) {
        st = ep_error_set(err, EP_ERR_NOMEM, "related: out of memory for %llu rows x %d", (unsigned long long)n, k);
    } else {
        ep_cuda_neighbours_job job = {.device = device, .n_rows = n, .dim = m->dim, .k = k,
                                      .memory_bytes = options->memory_bytes, .read = read_rows_f16, .ctx = r};
        st = ep_cuda_neighbours(&job, out->rows, out->scores, NULL, err);
    }
    if (st == EP_OK) {
        out->n_rows = n;
        out->k = k;
        out->dim = m->dim;
        out->cuda_device = device;
    } else {
        ep_neighbours_free(out);
    }
    ep_output_close(r);
    return st;
}
#endif

/* Decides the device: *device >= 0 for CUDA, -1 for the CPU. @return EP_OK, or why the asked device is unusable. */
static ep_status choose_device(const ep_neighbours_options *options, int *device, ep_error *err) {
    int cuda, index;
    *device = -1;
    ep_status st = parse_device(options->device, &cuda, &index, err);
    if (st != EP_OK || cuda == 0) return st;
    if (options->bf16) {
        if (cuda == 1)
            return ep_error_set(err, EP_ERR_USAGE, "related: precision bf16 is the CPU's; CUDA computes fp16");
        return EP_OK; // auto with bf16: the CPU
    }
#ifdef EP_HAVE_CUDA_BACKEND
    int count = 0;
    ep_error probe = {0};
    if (ep_cuda_probe(&count, NULL, &probe) != EP_OK) {
        if (cuda == 1) {
            if (err) *err = probe;
            return EP_ERR_DEVICE;
        }
        return EP_OK;
    }
    if (index >= count)
        return ep_error_set(err, EP_ERR_DEVICE, "related: device cuda:%d: this machine has %d CUDA device(s)", index,
                            count);
    *device = index;
    return EP_OK;
#else
    if (cuda == 1)
        return ep_error_set(err, EP_ERR_DEVICE, "related: device %s: this embedpipe was built without CUDA",
                            options->device);
    return EP_OK;
#endif
}

ep_status ep_neighbours_compute(const char *dir, const ep_neighbours_options *options, ep_neighbours *out,
                                ep_error *err) {
    memset(out, 0, sizeof *out);
    out->cuda_device = -1;
    if (options->k < 1 || options->k > 1000)
        return ep_error_set(err, EP_ERR_USAGE, "related: k must be between 1 and 1000");
    int device = -1;
    ep_status st = choose_device(options, &device, err);
    if (st != EP_OK) return st;
#ifdef EP_HAVE_CUDA_BACKEND
    if (device >= 0) return neighbours_cuda(dir, options, device, out, err);
#endif
    st = neighbours_cpu(dir, options, out, err);
    out->cuda_device = -1;
    return st;
}
