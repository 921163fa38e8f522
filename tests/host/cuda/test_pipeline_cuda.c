/*
 * test_pipeline_cuda.c - the CUDA backend driven by the real pipeline.
 *
 * The same NDJSON input through ep_run twice, once on the CPU backend and
 * once on the CUDA backend (emulated here, real in the _gpu build): with a
 * small token budget the compute stage keeps two batches in flight across
 * many shards, so rows must come back in order from the asynchronous
 * backend. The ids files must be byte-identical (same rows, same order),
 * every row must agree with the CPU's (min cosine >= 0.999), and the folder
 * must verify. The model is a small random BERT written by
 * scripts/make-tiny-model.py (hidden 64: the kernels want multiples of 64).
 */
#include "backend.h"
#include "float16.h"
#include "backend_cuda.h"
#include "cpu_ops.h"
#include "manifest.h"
#include "model.h"
#include "pipeline.h"
#include "shard.h"
#include "test_util.h"

#include <math.h>
#include <unistd.h>

static double min_cosine_of_folders(const char *a, const char *b, size_t *rows) {
    ep_error err = {0};
    ep_manifest *ma = NULL, *mb = NULL;
    CHECK_OK(ep_manifest_read(a, &ma, &err), &err);
    CHECK_OK(ep_manifest_read(b, &mb, &err), &err);
    double worst = 1.0;
    *rows = 0;
    if (!ma || !mb || ma->n_shards != mb->n_shards) {
        CHECKF(0, "shard counts differ");
        return -1;
    }
    for (size_t s = 0; s < ma->n_shards; s++) {
        char pa[4352], pb[4352];
        snprintf(pa, sizeof pa, "%s/%s", a, ma->shards[s].name);
        snprintf(pb, sizeof pb, "%s/%s", b, mb->shards[s].name);
        uint16_t *ra = NULL, *rb = NULL;
        size_t na = 0, nb = 0;
        int da = 0, db = 0;
        CHECK_OK(ep_shard_read(pa, &ra, &na, &da, &err), &err);
        CHECK_OK(ep_shard_read(pb, &rb, &nb, &db, &err), &err);
        CHECK(na == nb && da == db);
        for (size_t r = 0; ra && rb && r < na && r < nb; r++) {
            double ab = 0, aa = 0, bb = 0;
            for (int i = 0; i < da; i++) {
                double x = ep_f16_to_f32(ra[r * da + i]), y = ep_f16_to_f32(rb[r * da + i]);
                ab += x * y;
                aa += x * x;
                bb += y * y;
            }
            double c = ab / (sqrt(aa * bb) + 1e-30);
            if (c < worst) worst = c;
            (*rows)++;
        }
        free(ra);
        free(rb);
    }
    ep_manifest_free(ma);
    ep_manifest_free(mb);
    return worst;
}

static int same_file(const char *a, const char *b) {
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", a, b);
    return system(cmd) == 0;
}

int main(void) {
    if (ep_cuda_device_count() <= 0) {
        printf("SKIP: no CUDA device\n");
        return EP_TEST_SKIP;
    }
    const char *src = ep_test_env("EP_SOURCE_DIR", ".");
    char tmp[] = "/tmp/ep-pipeline-cuda-XXXXXX";
    if (!mkdtemp(tmp)) return 1;
    char cmd[8192], model_dir[4200], input[4200], out_cpu[4200], out_cuda[4200];
    snprintf(model_dir, sizeof model_dir, "%s/model", tmp);
    snprintf(cmd, sizeof cmd,
             "python3 '%s/scripts/make-tiny-model.py' --out '%s' --hidden 64 --heads 2 --layers 2 "
             "--intermediate 128 --max-seq-length 64 --seed 3 > /dev/null",
             src, model_dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "cannot run scripts/make-tiny-model.py\n");
        return 1;
    }
    // Texts of the tiny model's synthetic vocabulary, of varied lengths, with a few bad lines.
    snprintf(input, sizeof input, "%s/input.ndjson", tmp);
    FILE *f = fopen(input, "w");
    static const char *words[] = {"the", "model", "tweet", "embedding", "search", "hello", "world", "tokenizer"};
    for (int i = 0; i < 900; i++) {
        if (i % 97 == 96) {
            fprintf(f, "{\"id\": \"%d\", \"text\": 5}\n", i);
            continue;
        }
        fprintf(f, "{\"id\": \"%d\", \"text\": \"", i);
        for (int w = 0; w < 1 + (i * 7) % 60; w++) fprintf(f, "%s%s", w ? " " : "", words[(i + w * 3) % 8]);
        fprintf(f, "\"}\n");
    }
    fclose(f);

    ep_error err = {0};
    ep_model *model = NULL;
    CHECK_OK(ep_model_load(model_dir, &model, &err), &err);
    ep_backend *cuda = NULL;
    if (model) CHECK_OK(ep_backend_cuda_create(model, 0, 0, &cuda, &err), &err);
    if (!cuda) return 1;

    const char *inputs[] = {input};
    ep_run_options o = ep_run_options_default();
    o.inputs = inputs;
    o.n_inputs = 1;
    o.model_dir = model_dir;
    o.rows_per_shard = 128;   /* several shards */
    o.batch_tokens = 300;     /* many small batches: two in flight most of the time */
    snprintf(out_cpu, sizeof out_cpu, "%s/cpu", tmp);
    snprintf(out_cuda, sizeof out_cuda, "%s/cuda", tmp);
    o.device = "cpu";
    o.precision = "fp32-reference";
    o.out_dir = out_cpu;
    ep_run_summary sum;
    CHECK_OK(ep_run(&o, &sum, &err), &err);
    o.backend = cuda;
    o.out_dir = out_cuda;
    CHECK_OK(ep_run(&o, &sum, &err), &err);
    CHECKF(sum.records_embedded == 891 && sum.records_rejected == 9, "embedded %llu, rejected %llu",
           (unsigned long long)sum.records_embedded, (unsigned long long)sum.records_rejected);
    CHECK_OK(ep_output_verify(out_cuda, &err), &err);

    size_t rows = 0;
    double worst = min_cosine_of_folders(out_cpu, out_cuda, &rows);
    printf("CUDA backend (%s) through the pipeline vs CPU: %zu rows, min cosine %.6f\n", cuda->name, rows, worst);
    CHECKF(worst >= 0.999, "min cosine %.6f < 0.999", worst);
    for (int s = 0; s < 7; s++) {
        char a[4400], b[4400];
        snprintf(a, sizeof a, "%s/shard-%05d.ids.ndjson.zst", out_cpu, s);
        snprintf(b, sizeof b, "%s/shard-%05d.ids.ndjson.zst", out_cuda, s);
        CHECKF(same_file(a, b), "%s differs from the CPU run's", b);
    }
    snprintf(cmd, sizeof cmd, "%s/errors.ndjson", out_cpu);
    char e2[4400];
    snprintf(e2, sizeof e2, "%s/errors.ndjson", out_cuda);
    CHECK(same_file(cmd, e2));

    ep_backend_free(cuda);
    ep_model_free(model);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
    return ep_test_finish("test_pipeline_cuda");
}
