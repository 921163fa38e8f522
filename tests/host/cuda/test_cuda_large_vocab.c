/*
 * test_cuda_large_vocab.c - an XLM-R-sized vocabulary (250,037 rows, as paraphrase-multilingual-MiniLM-L12-v2
 * and multilingual-e5-small have) with RoBERTa positions, in memory (backend_test_util.h): the
 * highest ids and padding ids inside the sequences embed alike on the CUDA backend, the plain CPU
 * backend and the fast one (min cosine >= 0.9999 between CUDA's fp16 and the CPU's fp32 rows, and the
 * fast backend >= 0.99999 against the plain one), sequences of the longest length the position
 * table allows (514 positions less pad_token_id + 1 = 512) are taken and one more is refused, and an
 * id just past the table is refused by all three.
 */
#include "backend_cpu.h"
#include "backend_test_util.h"
#include "cpu_fast.h"

#define VOCAB 250037
#define PAD 1

static void check_refusals(ep_backend *be, const char *who) {
    ep_error err = {0};
    int32_t ids[513], seq[2] = {0, 513};
    for (int i = 0; i < 513; i++) ids[i] = 5 + i;
    float out[64];
    ep_batch b = {.n_seqs = 1, .n_tokens = 513, .max_seq_len = 513, .token_ids = ids, .seq_start = seq};
    ep_status st = ep_backend_encode(be, &b, out, NULL, &err);
    CHECKF(st == EP_ERR_USAGE, "%s: a sequence of 513 tokens was not refused (%s)", who, ep_status_name(st));
    seq[1] = 3;
    ids[1] = VOCAB;
    b.n_tokens = b.max_seq_len = 3;
    st = ep_backend_encode(be, &b, out, NULL, &err);
    CHECKF(st == EP_ERR_USAGE && strstr(err.message, "250037"), "%s: id %d was not refused: %s", who, VOCAB,
           err.message);
}

int main(void) {
    kt_require_device();
    ep_model *m = bt_model(VOCAB, 64, 2, 1, 128, 514, EP_POOLING_MEAN);
    m->config.positions = EP_POSITIONS_AFTER_PAD;
    m->config.pad_token_id = PAD;
    CHECK(ep_model_max_tokens(&m->config) == 512);
    bt_batch r = bt_random_batch(24, 2, 90, VOCAB);
    for (int t = 0; t < r.b.n_tokens; t += 5) r.ids[t] = VOCAB - 1 - t % 3; /* the table's last rows */
    for (int t = 3; t < r.b.n_tokens; t += 11) r.ids[t] = PAD;             /* padding ids inside texts */
    /* and one sequence as long as the positions allow */
    const int32_t n_long = 512;
    int32_t *ids = (int32_t *)malloc(sizeof(int32_t) * (size_t)(r.b.n_tokens + n_long));
    int32_t *seq = (int32_t *)malloc(sizeof(int32_t) * 26);
    memcpy(ids, r.ids, sizeof(int32_t) * (size_t)r.b.n_tokens);
    memcpy(seq, r.seq_start, sizeof(int32_t) * 25);
    for (int i = 0; i < n_long; i++) ids[r.b.n_tokens + i] = VOCAB - 1 - i;
    seq[25] = seq[24] + n_long;
    ep_batch b = {.n_seqs = 25, .n_tokens = seq[25], .max_seq_len = n_long, .token_ids = ids, .seq_start = seq};

    ep_error err = {0};
    ep_backend *cpu = NULL, *fast = NULL, *cuda = NULL;
    CHECK_OK(ep_backend_cpu_create(m, 2, &cpu, &err), &err);
    CHECK_OK(ep_backend_cpu_fast_create(m, 2, EP_CPU_PRECISION_FP32, NULL, &fast, &err), &err);
    CHECK_OK(ep_backend_cuda_create(m, 0, 2048, &cuda, &err), &err);
    if (cpu && fast && cuda) {
        float *want = bt_cpu_rows(cpu, &b), *got_fast = bt_cpu_rows(fast, &b), *got = bt_cpu_rows(cuda, &b);
        int worst = 0;
        const double c_fast = bt_min_cosine(got_fast, want, b.n_seqs, 64, &worst);
        const double c_cuda = bt_min_cosine(got, want, b.n_seqs, 64, &worst);
        printf("vocabulary %d, RoBERTa positions, %d texts up to %d tokens: min cosine fast %.7f, cuda %.7f\n", VOCAB,
               b.n_seqs, n_long, c_fast, c_cuda);
        CHECKF(c_fast >= 0.99999, "fast vs plain backend: %.7f", c_fast);
        CHECKF(c_cuda >= 0.9999, "cuda vs plain backend: %.7f (row %d)", c_cuda, worst);
        free(want);
        free(got_fast);
        free(got);
        check_refusals(cpu, "cpu");
        check_refusals(fast, "fast cpu");
        check_refusals(cuda, "cuda");
    }
    ep_backend_free(cpu);
    ep_backend_free(fast);
    ep_backend_free(cuda);
    free(ids);
    free(seq);
    bt_batch_free(&r);
    bt_model_free(m);
    return ep_test_finish("test_cuda_large_vocab");
}
