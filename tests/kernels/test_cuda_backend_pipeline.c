/*
 * test_cuda_backend_pipeline.c - the CUDA backend's host side: the
 * submit / wait_oldest protocol with two batches in flight, out-of-memory
 * shrinking, oversized batches, and bad input - on a small random model, each
 * result held against the CPU backend.
 *
 * Under the emulation, copies and kernels run only when something waits for
 * them (kernels/emu/runtime.cpp): a result read before its download, or a
 * pinned buffer refilled while a queued copy still needs it, shows up here as
 * wrong rows. The out-of-memory cases need the emulation's memory limit and
 * run only there; the rest also runs on a GPU.
 */
#include "backend_cpu.h"
#include "backend_test_util.h"
#include "float16.h"

#define MIN_COSINE 0.999
#define VOCAB 300

static int check_rows(const char *what, const float *got, const float *want, int rows, int dim) {
    int worst = 0;
    const double c = bt_min_cosine(got, want, rows, dim, &worst);
    printf("  %-52s min cosine %.6f\n", what, c);
    CHECKF(c >= MIN_COSINE, "%s: row %d of %d", what, worst, rows);
    return c >= MIN_COSINE;
}

/* Four batches through two slots: each wait_oldest must deliver the oldest batch's rows,
 * whatever the caller did with its arrays after submit. */
static void test_in_flight(ep_model *m, ep_backend *cpu) {
    ep_error err;
    ep_backend *cuda = NULL;
    CHECK_OK(ep_backend_cuda_create(m, 0, 1024, &cuda, &err), &err);
    if (!cuda) return;
    CHECK(cuda->max_in_flight == 2);
    const int H = m->config.hidden;
    enum { N = 4 };
    bt_batch b[N];
    float *want[N], *got32[N];
    uint16_t *got16[N];
    for (int i = 0; i < N; i++) {
        b[i] = bt_random_batch(5 + 7 * i, 2, 30 + 25 * i, VOCAB);
        want[i] = bt_cpu_rows(cpu, &b[i].b);
        got32[i] = kt_alloc((size_t)b[i].b.n_seqs * H);
        got16[i] = (uint16_t *)calloc((size_t)b[i].b.n_seqs * H, 2);
    }
    /* submit 0, submit 1, (third submit refused), wait -> 0, submit 2, wait -> 1, submit 3, wait -> 2, wait -> 3 */
    CHECK_OK(cuda->submit(cuda, &b[0].b, got32[0], got16[0], &err), &err);
    CHECK_OK(cuda->submit(cuda, &b[1].b, got32[1], NULL, &err), &err);
    CHECK(cuda->submit(cuda, &b[2].b, got32[2], NULL, &err) == EP_ERR_USAGE);
    for (int i = 0; i < 2; i++) /* the caller reuses its arrays: the backend must have copied them */
        for (int t = 0; t < b[i].b.n_tokens; t++) b[i].ids[t] = 4;
    CHECK_OK(cuda->wait_oldest(cuda, &err), &err);
    check_rows("in flight: batch 0 after the first wait (fp32)", got32[0], want[0], b[0].b.n_seqs, H);
    CHECK_OK(cuda->submit(cuda, &b[2].b, NULL, got16[2], &err), &err);
    CHECK_OK(cuda->wait_oldest(cuda, &err), &err);
    check_rows("in flight: batch 1 after the second wait", got32[1], want[1], b[1].b.n_seqs, H);
    CHECK_OK(cuda->submit(cuda, &b[3].b, got32[3], got16[3], &err), &err);
    CHECK_OK(cuda->wait_oldest(cuda, &err), &err);
    for (size_t i = 0; i < (size_t)b[2].b.n_seqs * H; i++) got32[2][i] = ep_f16_to_f32(got16[2][i]);
    check_rows("in flight: batch 2, fp16 rows only", got32[2], want[2], b[2].b.n_seqs, H);
    CHECK_OK(cuda->wait_oldest(cuda, &err), &err);
    check_rows("in flight: batch 3 after the last wait", got32[3], want[3], b[3].b.n_seqs, H);
    for (size_t i = 0; i < (size_t)b[0].b.n_seqs * H; i++) got32[0][i] = ep_f16_to_f32(got16[0][i]);
    check_rows("in flight: batch 0, its fp16 rows", got32[0], want[0], b[0].b.n_seqs, H);
    CHECK(cuda->wait_oldest(cuda, &err) == EP_ERR_USAGE); /* nothing left */
#ifdef EP_CUDA_EMULATION
    const ep_emu_stats st = ep_emu_get_stats();
    CHECKF(st.streams_used >= 3 && st.unpinned_async == 0, "%llu streams, %llu unpinned async copies",
           (unsigned long long)st.streams_used, (unsigned long long)st.unpinned_async);
#endif

    /* An empty batch and a batch of one token per sequence (more sequences than output rows budgeted). */
    ep_batch empty = {0, 0, 0, NULL, NULL};
    float dummy[1];
    CHECK_OK(ep_backend_encode(cuda, &empty, dummy, NULL, &err), &err);
    bt_batch ones = bt_random_batch(700, 1, 1, VOCAB);
    float *w1 = bt_cpu_rows(cpu, &ones.b), *g1 = kt_alloc((size_t)700 * H);
    CHECK_OK(ep_backend_encode(cuda, &ones.b, g1, NULL, &err), &err);
    check_rows("700 one-token sequences (split: more rows than budgeted)", g1, w1, 700, H);
    free(w1);
    free(g1);
    bt_batch_free(&ones);

    for (int i = 0; i < N; i++) {
        bt_batch_free(&b[i]);
        free(want[i]);
        free(got32[i]);
        free(got16[i]);
    }
    ep_backend_free(cuda);
}

static void test_bad_input(ep_model *m) {
    ep_error err;
    ep_backend *cuda = NULL;
    CHECK_OK(ep_backend_cuda_create(m, 0, 1024, &cuda, &err), &err);
    if (!cuda) return;
    float out[4 * 128];
    bt_batch b = bt_random_batch(2, 3, 5, VOCAB);
    b.ids[1] = VOCAB; /* outside the vocabulary */
    CHECK(ep_backend_encode(cuda, &b.b, out, NULL, &err) == EP_ERR_USAGE);
    printf("  out-of-vocabulary id refused: %s\n", err.message);
    bt_batch_free(&b);
    b = bt_random_batch(1, m->config.max_position + 1, m->config.max_position + 1, VOCAB);
    CHECK(ep_backend_encode(cuda, &b.b, out, NULL, &err) == EP_ERR_USAGE);
    printf("  over-long sequence refused: %s\n", err.message);
    bt_batch_free(&b);
    CHECK(cuda->submit(cuda, &b.b, NULL, NULL, &err) == EP_ERR_USAGE); /* no output buffer */
    ep_backend_free(cuda);

    ep_model *odd = bt_model(VOCAB, 96, 3, 1, 192, 64, EP_POOLING_MEAN); /* hidden 96: not supported */
    CHECK(ep_backend_cuda_create(odd, 0, 0, &cuda, &err) == EP_ERR_MODEL && cuda == NULL);
    printf("  unsupported shape refused: %s\n", err.message);
    bt_model_free(odd);
    CHECK(ep_backend_cuda_create(m, 999, 0, &cuda, &err) == EP_ERR_DEVICE && cuda == NULL);
    printf("  missing device refused: %s\n", err.message);
}

#ifdef EP_CUDA_EMULATION
/* Device memory too small for the requested budget: the backend halves it until it fits,
 * and batches larger than what it settled on are still encoded right. */
static void test_out_of_memory(ep_model *m, ep_backend *cpu) {
    ep_error err;
    const int H = m->config.hidden;
    ep_emu_reset();
    ep_emu_set_memory_limit((size_t)40 << 20); /* weights + cuBLAS workspace (32 MiB) + ~3k tokens */
    ep_backend *cuda = NULL;
    CHECK_OK(ep_backend_cuda_create(m, 0, 65536, &cuda, &err), &err);
    if (cuda) {
        const size_t budget = ep_backend_cuda_batch_tokens(cuda);
        const ep_emu_stats st = ep_emu_get_stats();
        printf("  asked for 65536 tokens, settled on %zu after %llu refused allocations (peak %.1f MiB)\n", budget,
               (unsigned long long)st.failed_allocs, st.peak_bytes / 1048576.0);
        CHECK(budget < 65536 && budget >= (size_t)m->config.max_position);
        CHECK(st.failed_allocs > 0);
        CHECK(st.peak_bytes <= ((size_t)40 << 20));
        bt_batch big = bt_random_batch(120, 20, 60, VOCAB); /* ~4800 tokens: more than the budget */
        CHECKF((size_t)big.b.n_tokens > budget, "%d tokens", big.b.n_tokens);
        float *want = bt_cpu_rows(cpu, &big.b), *got = kt_alloc((size_t)120 * H);
        CHECK_OK(ep_backend_encode(cuda, &big.b, got, NULL, &err), &err);
        check_rows("out of memory: shrunk budget, oversized batch split", got, want, 120, H);
        /* ... and the pipelined path with batches that fit the shrunk budget */
        bt_batch small[3];
        float *ws[3], *gs[3];
        for (int i = 0; i < 3; i++) {
            small[i] = bt_random_batch(10, 5, 50, VOCAB);
            ws[i] = bt_cpu_rows(cpu, &small[i].b);
            gs[i] = kt_alloc((size_t)10 * H);
        }
        CHECK_OK(cuda->submit(cuda, &small[0].b, gs[0], NULL, &err), &err);
        CHECK_OK(cuda->submit(cuda, &small[1].b, gs[1], NULL, &err), &err);
        CHECK_OK(cuda->wait_oldest(cuda, &err), &err);
        CHECK_OK(cuda->submit(cuda, &small[2].b, gs[2], NULL, &err), &err);
        CHECK_OK(cuda->wait_oldest(cuda, &err), &err);
        CHECK_OK(cuda->wait_oldest(cuda, &err), &err);
        for (int i = 0; i < 3; i++) {
            check_rows("out of memory: pipelined batches in the shrunk budget", gs[i], ws[i], 10, H);
            bt_batch_free(&small[i]);
            free(ws[i]);
            free(gs[i]);
        }
        free(want);
        free(got);
        bt_batch_free(&big);
        ep_backend_free(cuda);
    }
    /* Not even the weights fit: a clear out-of-memory error, no crash, nothing leaked. */
    ep_emu_set_memory_limit((size_t)1 << 20);
    cuda = NULL;
    CHECK(ep_backend_cuda_create(m, 0, 0, &cuda, &err) == EP_ERR_NOMEM && cuda == NULL);
    printf("  weights larger than the device: %s\n", err.message);
    CHECK(ep_emu_get_stats().bytes_in_use == 0);
    ep_emu_set_memory_limit(0);
    ep_emu_reset();
}
#endif

int main(void) {
    kt_require_device();
    ep_error err;
    ep_model *m = bt_model(VOCAB, 128, 4, 2, 256, 128, EP_POOLING_MEAN); /* head size 32 */
    ep_model *cls = bt_model(VOCAB, 64, 1, 1, 128, 128, EP_POOLING_CLS); /* head size 64, [CLS] pooling */
    ep_backend *cpu = NULL, *cpu_cls = NULL;
    CHECK_OK(ep_backend_cpu_create(m, 1, &cpu, &err), &err);
    CHECK_OK(ep_backend_cpu_create(cls, 1, &cpu_cls, &err), &err);
    if (!cpu || !cpu_cls) return ep_test_finish("test_cuda_backend_pipeline");

    printf("two batches in flight (hidden 128, 4 heads, mean pooling):\n");
    test_in_flight(m, cpu);
    printf("the same with hidden 64, one head of 64, [CLS] pooling:\n");
    test_in_flight(cls, cpu_cls);
    printf("bad input:\n");
    test_bad_input(m);
#ifdef EP_CUDA_EMULATION
    printf("out of memory (emulated device memory limit):\n");
    test_out_of_memory(m, cpu);
    const ep_emu_stats st = ep_emu_get_stats();
    CHECKF(st.violations == 0, "%s", ep_emu_first_violation());
#endif
    ep_backend_free(cpu);
    ep_backend_free(cpu_cls);
    bt_model_free(m);
    bt_model_free(cls);
    return ep_test_finish("test_cuda_backend_pipeline");
}
