/*
 * backend-bench - the compute stage alone: tokenised real text through one
 * CPU backend, batched as the pipeline batches it.
 *
 *   backend-bench [--model DIR] [--threads N] [--precision P]... [--batch-tokens B]
 *                 [--limit N] [--repeat R] FILE...
 *
 * Each line of each FILE is a text. Texts are tokenised once (not timed),
 * sorted by length and packed into batches of at most B tokens (default
 * 4096), as stage_compute.c does; then every precision given (default: fp32,
 * and bf16 when this CPU has it) embeds all batches R times (default 3). It
 * prints, per precision, the median wall time as tokens/s and texts/s, the
 * process CPU time per token (a figure that other programs on a busy machine
 * disturb less than the wall clock), and the minimum (and mean) cosine against the first
 * precision listed (give fp32-reference first to check against the oracle).
 * A precision written kernels:NAME runs the fast backend on that kernel table
 * (generic, avx2, avx512, avx512-vnni, avx512-bf16, amx) even where the backend does not
 * offer it: how a table not offered is measured (docs/PERFORMANCE.md).
 */
#include "cpu_fast.h"
#include "device.h"
#include "model.h"
#include "model_tokenizer.h"
#include "tokenizer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct text {
    int32_t *ids;
    int n;
    size_t index;
} text;

static int by_length(const void *a, const void *b) {
    const text *x = a, *y = b;
    if (x->n != y->n) return x->n - y->n;
    return x->index < y->index ? -1 : x->index > y->index;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    const char *model_dir = getenv("EMBEDPIPE_MODEL") ? getenv("EMBEDPIPE_MODEL") : "models/all-MiniLM-L6-v2";
    const char *precisions[8];
    int n_prec = 0, threads = 0, batch_tokens = 4096, repeat = 3;
    size_t limit = (size_t)-1;
    const char *files[64];
    int n_files = 0;
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--model") == 0 && a + 1 < argc) model_dir = argv[++a];
        else if (strcmp(argv[a], "--threads") == 0 && a + 1 < argc) threads = atoi(argv[++a]);
        else if (strcmp(argv[a], "--precision") == 0 && a + 1 < argc && n_prec < 8) precisions[n_prec++] = argv[++a];
        else if (strcmp(argv[a], "--batch-tokens") == 0 && a + 1 < argc) batch_tokens = atoi(argv[++a]);
        else if (strcmp(argv[a], "--limit") == 0 && a + 1 < argc) limit = (size_t)atol(argv[++a]);
        else if (strcmp(argv[a], "--repeat") == 0 && a + 1 < argc) repeat = atoi(argv[++a]);
        else if (argv[a][0] != '-' && n_files < 64) files[n_files++] = argv[a];
        else {
            fprintf(stderr, "usage: %s [--model DIR] [--threads N] [--precision P]... [--batch-tokens B] "
                            "[--limit N] [--repeat R] FILE...\n", argv[0]);
            return 2;
        }
    }
    if (n_files == 0 || repeat < 1 || repeat > 99 || batch_tokens < 512) {
        fprintf(stderr, "backend-bench: give at least one FILE (one text per line); --batch-tokens >= 512\n");
        return 2;
    }
    ep_error err = {0};
    ep_model *model = NULL;
    if (ep_model_load(model_dir, &model, &err) != EP_OK) {
        fprintf(stderr, "backend-bench: %s\n", err.message);
        return 1;
    }
    const int dim = model->config.hidden, max_len = model->config.max_seq_length;
    ep_tokenizer *tok = NULL;
    if (ep_model_tokenizer_create(model_dir, &model->config, &tok, &err) != EP_OK) {
        fprintf(stderr, "backend-bench: %s\n", err.message);
        return 1;
    }
    // --- texts
    size_t n = 0, cap = 1024, tokens = 0;
    text *texts = malloc(sizeof *texts * cap);
    int32_t *buf = malloc(sizeof(int32_t) * (size_t)max_len);
    for (int f = 0; f < n_files && n < limit; f++) {
        FILE *fp = fopen(files[f], "rb");
        if (!fp) {
            fprintf(stderr, "backend-bench: cannot open %s\n", files[f]);
            return 1;
        }
        char *line = NULL;
        size_t lcap = 0;
        ssize_t len;
        while (n < limit && (len = getline(&line, &lcap, fp)) > 0) {
            if (line[len - 1] == '\n') len--;
            int t = ep_tokenizer_encode(tok, line, (size_t)len, buf, max_len, NULL);
            if (t <= 0) continue;
            if (n == cap) texts = realloc(texts, sizeof *texts * (cap *= 2));
            texts[n].ids = malloc(sizeof(int32_t) * (size_t)t);
            memcpy(texts[n].ids, buf, sizeof(int32_t) * (size_t)t);
            texts[n].n = t;
            texts[n].index = n;
            tokens += (size_t)t;
            n++;
        }
        free(line);
        fclose(fp);
    }
    qsort(texts, n, sizeof *texts, by_length);
    // --- batches: sorted texts packed under the token budget
    size_t n_batches = 0;
    size_t *first = malloc(sizeof(size_t) * (n + 1));
    for (size_t i = 0; i < n;) {
        size_t j = i, t = 0;
        while (j < n && t + (size_t)texts[j].n <= (size_t)batch_tokens && j - i < 1024) t += (size_t)texts[j++].n;
        if (j == i) j++;
        first[n_batches++] = i;
        i = j;
    }
    first[n_batches] = n;
    int32_t *ids = malloc(sizeof(int32_t) * ((size_t)batch_tokens + (size_t)max_len));
    int32_t *seq_start = malloc(sizeof(int32_t) * 1026);
    if (n_prec == 0) {
        precisions[n_prec++] = "fp32";
        precisions[n_prec++] = "bf16";
    }
    float *out[8] = {0};
    printf("backend-bench: %zu texts, %zu tokens (%.1f per text), %zu batches of <= %d tokens\n", n, tokens,
           (double)tokens / (double)(n ? n : 1), n_batches, batch_tokens);
    for (int p = 0; p < n_prec; p++) {
        ep_backend *be = NULL;
        ep_backend_options bo = {.device = "cpu", .threads = threads, .precision = precisions[p]};
        ep_status st;
        if (strncmp(precisions[p], "kernels:", 8) == 0) {
            const ep_cpu_kernels *all[6] = {ep_cpu_kernels_generic(),     ep_cpu_kernels_avx2(),
                                            ep_cpu_kernels_avx512(),      ep_cpu_kernels_avx512_vnni(),
                                            ep_cpu_kernels_avx512_bf16(), ep_cpu_kernels_amx()};
            const ep_cpu_kernels *k = NULL;
            for (int t = 0; t < 6; t++)
                if (all[t] && strcmp(all[t]->name, precisions[p] + 8) == 0) k = all[t];
            const ep_cpu_precision kp = k && k->bf16   ? EP_CPU_PRECISION_BF16
                                        : k && k->int8 ? EP_CPU_PRECISION_INT8
                                                       : EP_CPU_PRECISION_FP32;
            st = k ? ep_backend_cpu_fast_create(model, threads, kp, k, &be, &err)
                   : ep_error_set(&err, EP_ERR_DEVICE, "this CPU cannot run the %s table", precisions[p] + 8);
        } else {
            st = ep_backend_create(model, &bo, &be, &err);
        }
        if (st != EP_OK) {
            printf("%-16s unavailable: %s\n", precisions[p], err.message);
            continue;
        }
        out[p] = malloc(sizeof(float) * n * (size_t)dim);
        double wall[99], cpu[99];
        for (int r = 0; r < repeat; r++) {
            double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
            for (size_t b = 0; b < n_batches; b++) {
                int k = 0;
                seq_start[0] = 0;
                for (size_t i = first[b]; i < first[b + 1]; i++, k++) {
                    memcpy(ids + seq_start[k], texts[i].ids, sizeof(int32_t) * (size_t)texts[i].n);
                    seq_start[k + 1] = seq_start[k] + texts[i].n;
                }
                ep_batch batch = {.n_seqs = k, .n_tokens = seq_start[k], .token_ids = ids, .seq_start = seq_start};
                if (ep_backend_encode(be, &batch, out[p] + first[b] * (size_t)dim, NULL, &err) != EP_OK) {
                    fprintf(stderr, "backend-bench: %s\n", err.message);
                    return 1;
                }
            }
            wall[r] = now(CLOCK_MONOTONIC) - w0;
            cpu[r] = now(CLOCK_PROCESS_CPUTIME_ID) - c0;
        }
        qsort(wall, (size_t)repeat, sizeof(double), cmp_double);
        qsort(cpu, (size_t)repeat, sizeof(double), cmp_double);
        const double tw = wall[repeat / 2], tc = cpu[repeat / 2];
        double min_cos = 1.0, sum_cos = 0;
        if (p > 0 && out[0]) {
            for (size_t i = 0; i < n; i++) {
                double ab = 0, aa = 0, bb = 0;
                for (int d = 0; d < dim; d++) {
                    const double x = out[0][i * dim + d], y = out[p][i * dim + d];
                    ab += x * y, aa += x * x, bb += y * y;
                }
                const double c = ab / (sqrt(aa * bb) + 1e-30);
                if (c < min_cos) min_cos = c;
                sum_cos += c;
            }
        }
        printf("%-16s %9.0f tokens/s %8.0f texts/s  wall %.3f s  cpu %.3f s (%.1f us/token)", precisions[p],
               (double)tokens / tw, (double)n / tw, tw, tc, 1e6 * tc / (double)tokens);
        if (p > 0 && out[0])
            printf("  min cos vs %s %.7f (mean %.7f)", precisions[0], min_cos, sum_cos / (double)(n ? n : 1));
        printf("   [%s]\n", be->description);
        ep_backend_free(be);
    }
    for (int p = 0; p < n_prec; p++) free(out[p]);
    for (size_t i = 0; i < n; i++) free(texts[i].ids);
    free(texts);
    free(first);
    free(ids);
    free(seq_start);
    free(buf);
    ep_tokenizer_free(tok);
    ep_model_free(model);
    return 0;
}
