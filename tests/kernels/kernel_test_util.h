/*
 * kernel_test_util.h - what the kernel tests share: deterministic random data,
 * device upload/download with fp16 conversion, and error reporting in the
 * style of ggml's test-backend-ops (one line per op: shape, relative error,
 * bound, verdict). The same test sources build for real CUDA (label "gpu")
 * and for the CPU emulation (EP_CUDA_EMULATION, label "emulated").
 */
#ifndef EP_KERNEL_TEST_UTIL_H
#define EP_KERNEL_TEST_UTIL_H

#include "cpu_ops.h"
#include "float16.h"
#include "ep_cuda_runtime.h"
#include "test_util.h"

#ifdef EP_CUDA_EMULATION
#include "emu/emu.h"
#endif

#include <math.h>
#include <stdint.h>

static uint64_t kt_rng = 0x9e3779b97f4a7c15ull;

/* @return a uniform float in [-1, 1) (xorshift64*; the same sequence on every machine). */
static inline float kt_rand(void) {
    kt_rng ^= kt_rng >> 12;
    kt_rng ^= kt_rng << 25;
    kt_rng ^= kt_rng >> 27;
    const uint64_t r = kt_rng * 0x2545f4914f6cdd1dull;
    return (float)((double)(r >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static inline float *kt_alloc(size_t n) {
    float *p = (float *)calloc(n ? n : 1, sizeof(float));
    if (!p) {
        fprintf(stderr, "out of host memory\n");
        exit(1);
    }
    return p;
}

/* Random values in [offset - scale, offset + scale), rounded to fp16 so that the
 * CPU reference sees exactly what the device sees. */
static inline float *kt_random(size_t n, float scale, float offset) {
    float *p = kt_alloc(n);
    for (size_t i = 0; i < n; i++) p[i] = ep_f16_to_f32(ep_f32_to_f16(offset + scale * kt_rand()));
    return p;
}

static inline void kt_cuda(cudaError_t e, const char *what) {
    if (e != cudaSuccess) {
        fprintf(stderr, "%s failed: %s\n", what, cudaGetErrorString(e));
        exit(1);
    }
}

static inline uint16_t *kt_dev_f16(const float *x, size_t n) {
    uint16_t *h = (uint16_t *)malloc(2 * (n ? n : 1)), *d = NULL;
    for (size_t i = 0; i < n; i++) h[i] = ep_f32_to_f16(x[i]);
    kt_cuda(cudaMalloc((void **)&d, 2 * (n ? n : 1)), "cudaMalloc");
    kt_cuda(cudaMemcpy(d, h, 2 * n, cudaMemcpyHostToDevice), "cudaMemcpy");
    free(h);
    return d;
}

static inline float *kt_dev_f32(const float *x, size_t n) {
    float *d = NULL;
    kt_cuda(cudaMalloc((void **)&d, 4 * (n ? n : 1)), "cudaMalloc");
    kt_cuda(cudaMemcpy(d, x, 4 * n, cudaMemcpyHostToDevice), "cudaMemcpy");
    return d;
}

static inline int32_t *kt_dev_i32(const int32_t *x, size_t n) {
    int32_t *d = NULL;
    kt_cuda(cudaMalloc((void **)&d, 4 * (n ? n : 1)), "cudaMalloc");
    kt_cuda(cudaMemcpy(d, x, 4 * n, cudaMemcpyHostToDevice), "cudaMemcpy");
    return d;
}

static inline void *kt_dev_empty(size_t bytes) {
    void *d = NULL;
    kt_cuda(cudaMalloc(&d, bytes ? bytes : 1), "cudaMalloc");
    return d;
}

/* Waits for the device and copies n halves back as floats. */
static inline float *kt_host_f16(const uint16_t *d, size_t n) {
    kt_cuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize (a kernel failed)");
    uint16_t *h = (uint16_t *)malloc(2 * (n ? n : 1));
    kt_cuda(cudaMemcpy(h, d, 2 * n, cudaMemcpyDeviceToHost), "cudaMemcpy");
    float *f = kt_alloc(n);
    for (size_t i = 0; i < n; i++) f[i] = ep_f16_to_f32(h[i]);
    free(h);
    return f;
}

static inline float *kt_host_f32(const float *d, size_t n) {
    kt_cuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize (a kernel failed)");
    float *f = kt_alloc(n);
    kt_cuda(cudaMemcpy(f, d, 4 * n, cudaMemcpyDeviceToHost), "cudaMemcpy");
    return f;
}

/* Compares got with want: relative L2 error must be <= bound, every value finite.
 * Prints one line per op; on failure also the first differing element. */
static inline void kt_compare(const char *op, const char *shape, const float *got, const float *want, size_t n,
                              double bound) {
    double diff = 0.0, norm = 0.0, max_abs = 0.0;
    size_t nonfinite = 0, worst = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(got[i])) {
            if (!nonfinite) worst = i;
            nonfinite++;
            continue;
        }
        const double d = (double)got[i] - want[i];
        diff += d * d;
        norm += (double)want[i] * want[i];
        if (fabs(d) > max_abs && !nonfinite) {
            max_abs = fabs(d);
            worst = i;
        }
    }
    const double rel = norm > 0 ? sqrt(diff / norm) : sqrt(diff);
    const int ok = nonfinite == 0 && rel <= bound;
    printf("  %-28s %-34s rel_err %.3e  max_abs %.3e  (bound %.1e)  %s\n", op, shape, rel, max_abs, bound,
           ok ? "OK" : "FAIL");
    if (!ok) {
        fprintf(stderr, "%s %s: element %zu: got %g, want %g (%zu non-finite)\n", op, shape, worst, (double)got[worst],
                (double)want[worst], nonfinite);
        ep_test_failures++;
    }
}

/* Skips (exit 77) the real-GPU variant where no device exists; the emulated variant always runs. */
static inline void kt_require_device(void) {
#ifndef EP_CUDA_EMULATION
    int n = 0;
    ep_error why;
    if (ep_cuda_probe(&n, NULL, &why) != EP_OK) {
        printf("SKIP: %s: this is the real-GPU variant; "
               "the same checks run under the CPU emulation in the tests labelled 'emulated'\n", why.message);
        exit(EP_TEST_SKIP);
    }
#endif
}

#endif /* EP_KERNEL_TEST_UTIL_H */
