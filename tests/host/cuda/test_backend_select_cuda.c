/*
 * test_backend_select.c - ep_backend_create's CUDA path in a real CUDA build
 * (host/backend.c): --precision checked against what the CUDA backend computes
 * in, and - where no device is usable, as on a CPU-only CI machine - the real
 * CUDA error in the --device cuda failure and in the --device auto fallback's
 * description. Where a GPU is present, that branch checks the CUDA backend's
 * description instead. Runs on every CUDA build, GPU or not.
 */
#include "backend_test_util.h"

#include <string.h>

static ep_status create(ep_model *m, const char *device, const char *precision, ep_backend **out, ep_error *err) {
    ep_backend_options o = {.device = device, .threads = 1, .batch_tokens = 1024, .precision = precision};
    return ep_backend_create(m, &o, out, err);
}

int main(void) {
    ep_model *m = bt_model(300, 128, 4, 1, 256, 128, EP_POOLING_MEAN);
    ep_error err;
    ep_backend *b = NULL;

    CHECK(create(m, "cuda", "fp32", &b, &err) == EP_ERR_USAGE && b == NULL);
    printf("--device cuda --precision fp32: %s\n", err.message);
    CHECKF(strstr(err.message, "fp16") && strstr(err.message, "cpu device"), "%s", err.message);
    CHECK(create(m, "cuda:0", "bf16", &b, &err) == EP_ERR_USAGE && b == NULL);
    CHECK(create(m, "cpu", "fp16", &b, &err) == EP_ERR_USAGE && b == NULL);
    printf("--device cpu --precision fp16: %s\n", err.message);
    CHECKF(strstr(err.message, "CUDA") != NULL, "%s", err.message);

    /* auto with a CPU precision: the CPU, saying why */
    CHECK_OK(create(m, "auto", "fp32-reference", &b, &err), &err);
    if (b) {
        printf("--device auto --precision fp32-reference: %s\n", b->description);
        CHECKF(strstr(b->name, "cuda") == NULL && strstr(b->description, "CUDA not used: precision fp32-reference"),
               "%s", b->description);
        ep_backend_free(b);
        b = NULL;
    }

    int count = 0;
    ep_error probe;
    if (ep_cuda_probe(&count, NULL, &probe) != EP_OK) {
        printf("no usable device here: %s\n", probe.message);
        CHECKF(strstr(probe.message, "cudaError") != NULL, "the probe does not name the CUDA error: %s", probe.message);
        CHECK(create(m, "cuda", NULL, &b, &err) == EP_ERR_DEVICE && b == NULL);
        printf("--device cuda: %s\n", err.message);
        CHECKF(strstr(err.message, "cudaError") && strstr(err.message, "cpu device"), "%s", err.message);
        CHECK(create(m, "auto", "fp16", &b, &err) == EP_ERR_DEVICE && b == NULL);
        CHECK_OK(create(m, "auto", NULL, &b, &err), &err);
        if (b) {
            printf("--device auto: %s\n", b->description);
            CHECKF(strstr(b->description, "CUDA not used") && strstr(b->description, "cudaError"), "%s",
                   b->description);
        }
    } else {
        CHECK_OK(create(m, "cuda", "fp16", &b, &err), &err);
        if (b) {
            printf("--device cuda --precision fp16: %s\n", b->description);
            CHECKF(strstr(b->name, "cuda") && strstr(b->description, "precision fp16"), "%s", b->description);
        }
    }
    ep_backend_free(b);
    bt_model_free(m);
    return ep_test_finish("test_backend_select");
}
