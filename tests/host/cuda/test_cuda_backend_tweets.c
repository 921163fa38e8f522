/*
 * test_cuda_backend_tweets.c - the whole CUDA backend (every kernel, the
 * GEMMs, the two-slot pipeline) on real tweets with the real model, against
 * the CPU backend: minimum cosine over all rows >= 0.999, for the fp32 rows
 * and for the fp16 rows the shards store.
 *
 * Emulated variant: the backend's C code and the kernels run on the CPU
 * emulation ("cuda-emulated"). GPU variant: the real thing. Skips (77) when the
 * model (EP_MODEL_DIR) or the tweets (EP_SHARED_DATA) are absent.
 * EP_TEST_TWEETS sets how many lines (default 100) from each of three files.
 */
#include "backend_cpu.h"
#include "backend_test_util.h"
#include "float16.h"
#include "tokenizer.h"

#include <string.h>

#define MIN_COSINE 0.999
#define BATCH_TOKENS 2048

static const char *const FILES[] = {"sentiment-test_text.txt", "emotion-test_text.txt", "hate-test_text.txt"};

typedef struct texts {
    char **line;
    int n;
} texts;

static texts read_lines(const char *dir, int per_file) {
    texts t = {(char **)calloc(3 * (size_t)per_file, sizeof(char *)), 0};
    for (size_t f = 0; f < sizeof FILES / sizeof FILES[0]; f++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/tweeteval/%s", dir, FILES[f]);
        ep_test_require(path, "the tweeteval data is part of ../shared/data");
        FILE *fp = fopen(path, "r");
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        for (int i = 0; i < per_file && (len = getline(&line, &cap, fp)) > 0; i++) {
            while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
            t.line[t.n++] = strdup(line);
        }
        free(line);
        fclose(fp);
    }
    return t;
}

int main(void) {
    kt_require_device();
    const char *model_dir = ep_test_model_dir();
    const char *data = ep_test_shared_data();
    const int per_file = atoi(ep_test_env("EP_TEST_TWEETS", "100"));
    ep_error err;

    ep_model *model = NULL;
    CHECK_OK(ep_model_load(model_dir, &model, &err), &err);
    if (!model) return ep_test_finish("test_cuda_backend_tweets");
    char vocab[4200];
    snprintf(vocab, sizeof vocab, "%s/vocab.txt", model_dir);
    ep_tokenizer_options opt = ep_tokenizer_default_options();
    opt.lowercase = model->config.do_lower_case;
    ep_tokenizer *tok = NULL;
    CHECK_OK(ep_tokenizer_create(vocab, &opt, &tok, &err), &err);
    if (!tok) return ep_test_finish("test_cuda_backend_tweets");

    texts tx = read_lines(data, per_file);
    const int max_len = model->config.max_seq_length;
    int32_t *ids = (int32_t *)malloc(sizeof(int32_t) * (size_t)tx.n * (size_t)max_len);
    int32_t *seq_start = (int32_t *)malloc(sizeof(int32_t) * (size_t)(tx.n + 1));
    seq_start[0] = 0;
    for (int i = 0; i < tx.n; i++) {
        const int n = ep_tokenizer_encode(tok, tx.line[i], strlen(tx.line[i]), ids + seq_start[i], max_len, NULL);
        seq_start[i + 1] = seq_start[i] + n;
    }
    printf("%d tweets, %d tokens, model %s\n", tx.n, seq_start[tx.n], model->config.name);

    ep_backend *cpu = NULL, *cuda = NULL;
    CHECK_OK(ep_backend_cpu_create(model, 0, &cpu, &err), &err);
    CHECK_OK(ep_backend_cuda_create(model, 0, BATCH_TOKENS, &cuda, &err), &err);
    if (!cpu || !cuda) return ep_test_finish("test_cuda_backend_tweets");
    printf("backend: %s\n", cuda->description);

    const int H = model->config.hidden;
    float *want = kt_alloc((size_t)tx.n * H), *got32 = kt_alloc((size_t)tx.n * H);
    uint16_t *got16 = (uint16_t *)calloc((size_t)tx.n * H, sizeof(uint16_t));
    /* Batches of up to BATCH_TOKENS tokens, two in flight on the CUDA side as the pipeline runs them. */
    int first = 0, pending = 0;
    while (first < tx.n) {
        int n = 0, longest = 0;
        while (first + n < tx.n && seq_start[first + n + 1] - seq_start[first] <= BATCH_TOKENS) {
            const int len = seq_start[first + n + 1] - seq_start[first + n];
            longest = len > longest ? len : longest;
            n++;
        }
        int32_t *rel = (int32_t *)malloc(sizeof(int32_t) * (size_t)(n + 1));
        for (int i = 0; i <= n; i++) rel[i] = seq_start[first + i] - seq_start[first];
        ep_batch b = {n, rel[n], longest, ids + seq_start[first], rel};
        CHECK_OK(ep_backend_encode(cpu, &b, want + (size_t)first * H, NULL, &err), &err);
        if (pending == cuda->max_in_flight) {
            CHECK_OK(cuda->wait_oldest(cuda, &err), &err);
            pending--;
        }
        CHECK_OK(cuda->submit(cuda, &b, got32 + (size_t)first * H, got16 + (size_t)first * H, &err), &err);
        pending++;
        free(rel); /* the backend copied what it needs */
        first += n;
    }
    while (pending-- > 0) CHECK_OK(cuda->wait_oldest(cuda, &err), &err);

    float *got16f = kt_alloc((size_t)tx.n * H);
    for (size_t i = 0; i < (size_t)tx.n * H; i++) got16f[i] = ep_f16_to_f32(got16[i]);
    int worst32 = 0, worst16 = 0;
    const double c32 = bt_min_cosine(got32, want, tx.n, H, &worst32);
    const double c16 = bt_min_cosine(got16f, want, tx.n, H, &worst16);
    printf("min cosine vs CPU backend: fp32 rows %.6f (tweet %d), fp16 rows %.6f (tweet %d); need >= %.3f\n", c32,
           worst32, c16, worst16, MIN_COSINE);
    CHECKF(c32 >= MIN_COSINE, "fp32 rows: tweet %d: \"%s\"", worst32, tx.line[worst32]);
    CHECKF(c16 >= MIN_COSINE, "fp16 rows: tweet %d: \"%s\"", worst16, tx.line[worst16]);
#ifdef EP_CUDA_EMULATION
    const ep_emu_stats st = ep_emu_get_stats();
    printf("emulation: %llu launches, %llu blocks, %llu violations, %llu async copies (%llu unpinned)\n",
           (unsigned long long)st.launches, (unsigned long long)st.blocks, (unsigned long long)st.violations,
           (unsigned long long)st.async_copies, (unsigned long long)st.unpinned_async);
    CHECKF(st.violations == 0, "%s", ep_emu_first_violation());
    CHECK(st.unpinned_async == 0);
#endif

    ep_backend_free(cuda);
    ep_backend_free(cpu);
    ep_tokenizer_free(tok);
    ep_model_free(model);
    for (int i = 0; i < tx.n; i++) free(tx.line[i]);
    free(tx.line);
    free(ids);
    free(seq_start);
    free(want);
    free(got32);
    free(got16);
    free(got16f);
    return ep_test_finish("test_cuda_backend_tweets");
}
