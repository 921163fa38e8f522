/*
 * test_cuda_backend_fixes.c - what only hardware used to show, made visible
 * by the emulation (kernels/emu/runtime.cpp):
 *   - a driver too old (cudaErrorInsufficientDriver), no driver, no GPU: the
 *     probe and the backend name the real CUDA error instead of "no GPU";
 *   - the weights go up with pageable cudaMemcpy on the legacy stream, which
 *     the emulation lands late, while the encoder runs on non-blocking
 *     streams: without the synchronisation after the upload the first batch
 *     reads poison (NaN) and fails here;
 *   - the host waits for batches without spinning a core (blocking-sync events);
 *   - fp32 row buffers exist only once a caller asks for fp32 rows.
 * Emulation only: the faults are injected, and the counters are the emulation's.
 */
#include "backend_test_util.h"

#include <string.h>

#define VOCAB 300

static void test_probe_errors(ep_model *m) {
    ep_error err;
    int count = -1, driver = -1;
    ep_backend *cuda = NULL;

    ep_emu_set_device_error(cudaErrorInsufficientDriver, 12020); /* a CUDA 12.2 driver under a CUDA 13 build */
    CHECK(ep_cuda_probe(&count, &driver, &err) == EP_ERR_DEVICE && count == 0 && driver == 12020);
    printf("  old driver:  %s\n", err.message);
    CHECKF(strstr(err.message, "cudaErrorInsufficientDriver") && strstr(err.message, "CUDA 12.2") &&
               strstr(err.message, "update the driver"),
           "%s", err.message);
    CHECK(ep_cuda_device_count() == 0);
    CHECK(ep_backend_cuda_create(m, 0, 1024, &cuda, &err) == EP_ERR_DEVICE && cuda == NULL);
    printf("  backend:     %s\n", err.message);
    CHECKF(strstr(err.message, "cudaErrorInsufficientDriver") != NULL, "%s", err.message);

    ep_emu_set_device_error(cudaErrorInsufficientDriver, 0); /* libcuda missing: the same error, driver 0 */
    CHECK(ep_cuda_probe(&count, &driver, &err) == EP_ERR_DEVICE && driver == 0);
    printf("  no driver:   %s\n", err.message);
    CHECKF(strstr(err.message, "no NVIDIA driver") && strstr(err.message, "cudaErrorInsufficientDriver"), "%s",
           err.message);

    ep_emu_set_device_error(cudaErrorNoDevice, 13000);
    CHECK(ep_cuda_probe(&count, &driver, &err) == EP_ERR_DEVICE);
    printf("  no GPU:      %s\n", err.message);
    CHECKF(strstr(err.message, "cudaErrorNoDevice") != NULL, "%s", err.message);

    ep_emu_set_device_error(0, CUDART_VERSION);
    CHECK_OK(ep_cuda_probe(&count, &driver, &err), &err);
    CHECK(count == 1 && ep_cuda_device_count() == 1);
    ep_emu_reset(); /* the failed calls left a last error behind, as a real runtime would */
}

static double rows_cosine(ep_backend *cpu, const bt_batch *b, const float *got) {
    float *want = bt_cpu_rows(cpu, &b->b);
    const double c = bt_min_cosine(got, want, b->b.n_seqs, cpu->dim, NULL);
    free(want);
    return c;
}

static void test_first_batch_and_waits(ep_model *m, ep_backend *cpu) {
    ep_error err;
    ep_emu_reset();
    const size_t before = ep_emu_get_stats().bytes_in_use;
    ep_backend *cuda = NULL;
    CHECK_OK(ep_backend_cuda_create(m, 0, 2048, &cuda, &err), &err);
    if (!cuda) return;
    const int H = m->config.hidden;
    const ep_emu_stats created = ep_emu_get_stats();
    /* The weights really went up from pageable memory (so the race was there to be lost). */
    CHECKF(created.pageable_uploads > 0, "%llu pageable uploads", (unsigned long long)created.pageable_uploads);

    /* The very first batch, submitted right after creation: it reads every weight. */
    bt_batch first = bt_random_batch(9, 2, 60, VOCAB);
    uint16_t *g16 = (uint16_t *)calloc((size_t)9 * H, 2);
    float *g = kt_alloc((size_t)9 * H);
    CHECK_OK(cuda->submit(cuda, &first.b, NULL, g16, &err), &err);
    CHECK_OK(cuda->wait_oldest(cuda, &err), &err);
    for (size_t i = 0; i < (size_t)9 * H; i++) g[i] = ep_f16_to_f32(g16[i]);
    const double c = rows_cosine(cpu, &first, g);
    printf("  first batch after the weight upload: min cosine %.6f\n", c);
    CHECKF(c >= 0.999, "min cosine %f: the encoder read weights still in flight?", c);

    /* Steady state: batches in flight, the host waiting for each; no wait may spin. fp16 rows
     * only: no fp32 row buffer may appear. */
    const size_t fp16_bytes = ep_emu_get_stats().bytes_in_use;
    ep_emu_reset();
    bt_batch b[4];
    for (int i = 0; i < 4; i++) b[i] = bt_random_batch(6 + i, 2, 40, VOCAB);
    CHECK_OK(cuda->submit(cuda, &b[0].b, NULL, g16, &err), &err);
    for (int i = 1; i < 4; i++) {
        CHECK_OK(cuda->submit(cuda, &b[i].b, NULL, g16, &err), &err);
        CHECK_OK(cuda->wait_oldest(cuda, &err), &err);
    }
    CHECK_OK(cuda->wait_oldest(cuda, &err), &err);
    const ep_emu_stats steady = ep_emu_get_stats();
    printf("  4 batches: %llu spinning host waits; device bytes %zu -> %zu with fp16 rows only\n",
           (unsigned long long)steady.spinning_waits, fp16_bytes, steady.bytes_in_use);
    CHECKF(steady.spinning_waits == 0, "%llu waits would spin a core", (unsigned long long)steady.spinning_waits);
    CHECK(steady.bytes_in_use == fp16_bytes);

    /* The first fp32 request allocates the fp32 rows (both slots), and they are right. */
    const size_t budget = ep_backend_cuda_batch_tokens(cuda), seqs = budget / 2 + 1;
    CHECK_OK(ep_backend_encode(cuda, &b[3].b, g, NULL, &err), &err);
    const size_t with32 = ep_emu_get_stats().bytes_in_use;
    printf("  first fp32 request: device bytes %zu -> %zu (%zu expected for 2 x %zu rows)\n", fp16_bytes, with32,
           2 * 4 * seqs * (size_t)H, seqs);
    CHECKF(with32 >= fp16_bytes + 2 * 4 * seqs * (size_t)H, "%zu -> %zu", fp16_bytes, with32);
    CHECK(rows_cosine(cpu, &b[3], g) >= 0.999);

    for (int i = 0; i < 4; i++) bt_batch_free(&b[i]);
    bt_batch_free(&first);
    free(g);
    free(g16);
    ep_backend_free(cuda);
    CHECK(ep_emu_get_stats().bytes_in_use == before);
}

int main(void) {
    ep_error err;
    ep_model *m = bt_model(VOCAB, 128, 4, 2, 256, 128, EP_POOLING_MEAN);
    ep_backend *cpu = NULL;
    CHECK_OK(ep_backend_cpu_create(m, 1, &cpu, &err), &err);
    if (!cpu) return ep_test_finish("test_cuda_backend_fixes");
    printf("a device that cannot be used:\n");
    test_probe_errors(m);
    printf("the backend on a usable device:\n");
    test_first_batch_and_waits(m, cpu);
    CHECKF(ep_emu_get_stats().violations == 0, "%s", ep_emu_first_violation());
    ep_backend_free(cpu);
    bt_model_free(m);
    return ep_test_finish("test_cuda_backend_fixes");
}
