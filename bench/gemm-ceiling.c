/*
 * gemm-ceiling - how many tokens/s the encoder's matrix products alone allow.
 *
 *   gemm-ceiling [--model DIR] [--threads N] [--tokens M] [--repeat R] [--json]
 *
 * A BERT layer is four GEMMs per token row: QKV (3H x H), attention output
 * (H x H), FFN in (I x H), FFN out (H x I); for all-MiniLM-L6-v2 (H 384,
 * I 1536, 6 layers) that is 21.2 MFLOP per token. This times those four
 * shapes for M token rows (default 4096, the CPU batch) and reports GFLOP/s
 * and the implied ceiling tokens/s = M / (layers x the four times):
 *   - openblas: cblas_sgemm with N threads, exactly as the plain backend calls
 *     it - the "fp32 GEMM ceiling of this machine";
 *   - embedpipe fp32 / bf16 / int8: the fast backend's own kernels (cpu_fast.h),
 *     split into 256-row chunks over a pool of N threads as the backend does
 *     (int8: the avx512-vnni table, its activation quantisation included).
 * Every figure is the median of R runs (default 7). Nothing but GEMMs runs, so
 * an end-to-end rate near the ceiling means the rest of the work is cheap.
 */
#include "cpu_fast.h"
#include "cpu_pool.h"
#include "model.h"

#include <cblas.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void openblas_set_num_threads(int num_threads);
char *openblas_get_config(void);
char *openblas_get_corename(void);

#define CHUNK 256

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static float *random_floats(size_t n, float scale) {
    float *p = ep_aligned_calloc(sizeof(float) * n);
    uint64_t s = 0x9e3779b97f4a7c15ull ^ n;
    for (size_t i = 0; p && i < n; i++) {
        s ^= s >> 12, s ^= s << 25, s ^= s >> 27;
        p[i] = scale * ((float)((s * 0x2545F4914F6CDD1Dull) >> 40) / (float)(1 << 23) - 1.0f);
    }
    return p;
}

typedef struct shape {
    const char *name;
    int n, k;
} shape;

/* One GEMM through our kernels, chunked over the pool. */
typedef struct job {
    const ep_cpu_kernels *k;
    const ep_packed *w;
    const float *a, *bias;
    const uint16_t *ab;
    float *c;
    uint16_t *cb;
    int M;
    atomic_int next;
    float **scratch;
} job;

static void run_job(void *arg, int thread) {
    job *j = arg;
    for (;;) {
        int m0 = atomic_fetch_add(&j->next, CHUNK);
        if (m0 >= j->M) break;
        int m = j->M - m0 < CHUNK ? j->M - m0 : CHUNK;
        const int K = j->w->k, N = j->w->n;
        j->k->linear(j->c ? j->c + (size_t)m0 * N : NULL, j->cb ? j->cb + (size_t)m0 * N : NULL, N,
                     j->a ? j->a + (size_t)m0 * K : NULL, j->ab ? j->ab + (size_t)m0 * K : NULL, K, j->w, j->bias, m,
                     EP_ACT_NONE, j->scratch[thread]);
    }
}

int main(int argc, char **argv) {
    const char *model_dir = getenv("EMBEDPIPE_MODEL") ? getenv("EMBEDPIPE_MODEL") : "models/all-MiniLM-L6-v2";
    int threads = (int)sysconf(_SC_NPROCESSORS_ONLN), M = 4096, repeat = 7, json = 0;
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--model") == 0 && a + 1 < argc) model_dir = argv[++a];
        else if (strcmp(argv[a], "--threads") == 0 && a + 1 < argc) threads = atoi(argv[++a]);
        else if (strcmp(argv[a], "--tokens") == 0 && a + 1 < argc) M = atoi(argv[++a]);
        else if (strcmp(argv[a], "--repeat") == 0 && a + 1 < argc) repeat = atoi(argv[++a]);
        else if (strcmp(argv[a], "--json") == 0) json = 1;
        else {
            fprintf(stderr, "usage: %s [--model DIR] [--threads N] [--tokens M] [--repeat R] [--json]\n", argv[0]);
            return 2;
        }
    }
    if (threads < 1 || M < 1 || repeat < 1) return 2;
    if (threads > 64) threads = 64;
    int H = 384, FF = 1536, layers = 6;
    ep_model_config cfg;
    ep_error err = {0};
    if (ep_model_load_config(model_dir, &cfg, &err) == EP_OK) {
        H = cfg.hidden, FF = cfg.intermediate, layers = cfg.n_layers;
    } else {
        fprintf(stderr, "gemm-ceiling: %s; using all-MiniLM-L6-v2's sizes\n", err.message);
    }
    const shape shapes[4] = {{"qkv", 3 * H, H}, {"attn_out", H, H}, {"ffn_in", FF, H}, {"ffn_out", H, FF}};
    const int widest = FF > 3 * H ? FF : 3 * H;
    double flop_token = 0;
    for (int s = 0; s < 4; s++) flop_token += 2.0 * shapes[s].n * shapes[s].k;
    flop_token *= layers;

    float *a = random_floats((size_t)(M + 16) * widest, 1.0f), *c = random_floats((size_t)M * widest, 0.0f);
    uint16_t *ab = ep_aligned_calloc(sizeof(uint16_t) * (size_t)(M + 16) * widest);
    uint16_t *cb = ep_aligned_calloc(sizeof(uint16_t) * (size_t)M * widest);
    float *bias = random_floats((size_t)widest, 0.1f);
    float *w[4];
    for (int s = 0; s < 4; s++) w[s] = random_floats((size_t)shapes[s].n * shapes[s].k, 0.05f);
    if (!a || !c || !ab || !cb || !bias) return 1;
    for (size_t i = 0; i < (size_t)(M + 16) * widest; i++) ab[i] = ep_f32_to_bf16(a[i]);

    const ep_cpu_features *f = ep_cpu_features_get();
    const char *names[4] = {"openblas", "embedpipe-fp32", "embedpipe-bf16", "embedpipe-int8"};
    const ep_cpu_kernels *tables[4] = {NULL, ep_cpu_kernels_avx512(), ep_cpu_kernels_amx(),
                                       ep_cpu_kernels_avx512_vnni()};
    if (!tables[1]) tables[1] = ep_cpu_kernels_avx2();
    if (!tables[1]) tables[1] = ep_cpu_kernels_generic();
    if (!tables[2]) tables[2] = ep_cpu_kernels_avx512_bf16();
    ep_cpu_pool *pool = NULL;
    if (ep_cpu_pool_create(threads, &pool, &err) != EP_OK) {
        fprintf(stderr, "gemm-ceiling: %s\n", err.message);
        return 1;
    }
    if (!json)
        printf("gemm-ceiling: %s, %d thread%s, M = %d tokens, H %d, I %d, %d layers (%.1f MFLOP/token), "
               "median of %d\nOpenBLAS: %s (%s)\n",
               f->model, threads, threads == 1 ? "" : "s", M, H, FF, layers, flop_token / 1e6, repeat,
               openblas_get_config(), openblas_get_corename());
    if (json) printf("{\"cpu\": \"%s\", \"threads\": %d, \"tokens\": %d, \"mflop_per_token\": %.3f, \"results\": [",
                     f->model, threads, M, flop_token / 1e6);
    int first = 1;
    for (int v = 0; v < 4; v++) {
        if (v > 0 && !tables[v]) {
            if (!json) printf("%-16s not available on this CPU\n", names[v]);
            continue;
        }
        const ep_cpu_kernels *k = tables[v];
        ep_packed packed[4];
        float *scratch[64];
        memset(packed, 0, sizeof packed);
        if (k) {
            for (int s = 0; s < 4; s++)
                if (k->pack(&packed[s], w[s], shapes[s].n, shapes[s].k, &err) != EP_OK) {
                    fprintf(stderr, "gemm-ceiling: %s\n", err.message);
                    return 1;
                }
            for (int t = 0; t < threads && t < 64; t++)
                scratch[t] = ep_aligned_calloc(sizeof(float) * k->linear_scratch(CHUNK, widest));
        } else {
            openblas_set_num_threads(threads);
        }
        double total = 0, t_shape[4];
        for (int s = 0; s < 4; s++) {
            double times[64];
            int R = repeat > 64 ? 64 : repeat;
            for (int r = -1; r < R; r++) { /* r = -1 warms up */
                double t0 = now();
                if (!k) {
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, shapes[s].n, shapes[s].k, 1.0f, a,
                                shapes[s].k, w[s], shapes[s].k, 1.0f, c, shapes[s].n);
                } else {
                    job j = {.k = k, .w = &packed[s], .a = k->bf16 ? NULL : a, .ab = k->bf16 ? ab : NULL,
                             .bias = bias, .c = c, .M = M, .scratch = scratch};
                    atomic_store(&j.next, 0);
                    ep_cpu_pool_run(pool, run_job, &j);
                }
                if (r >= 0) times[r] = now() - t0;
            }
            t_shape[s] = median(times, R);
            total += t_shape[s];
        }
        const double tok_s = M / (layers * total), gflops = flop_token * tok_s / 1e9;
        if (json) {
            printf("%s{\"gemm\": \"%s\", \"kernels\": \"%s\", \"tokens_per_s\": %.1f, \"gflops\": %.2f}",
                   first ? "" : ", ", names[v], k ? k->name : "cblas_sgemm", tok_s, gflops);
            first = 0;
        } else {
            printf("%-16s %-12s", names[v], k ? k->name : "cblas_sgemm");
            for (int s = 0; s < 4; s++)
                printf("  %s %.1f", shapes[s].name, 2.0 * M * shapes[s].n * shapes[s].k / t_shape[s] / 1e9);
            printf("  GFLOP/s | layer GEMMs %.1f GFLOP/s = %.0f tokens/s\n", gflops, tok_s);
        }
        if (k) {
            for (int s = 0; s < 4; s++) ep_packed_free(&packed[s]);
            for (int t = 0; t < threads && t < 64; t++) free(scratch[t]);
        }
    }
    if (json) printf("]}\n");
    ep_cpu_pool_free(pool);
    return 0;
}
