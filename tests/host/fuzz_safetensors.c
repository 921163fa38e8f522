/*
 * fuzz_safetensors.c - libFuzzer target: any bytes as a safetensors file.
 *
 * Malformed input must come back as an error value with a message, never a
 * crash, an out-of-bounds read or a leak; accepted input must satisfy the
 * reader's promises (views inside the image, sizes consistent, no overlaps,
 * names findable). A violated promise traps, which the fuzzer reports.
 *
 * With libFuzzer (clang):
 *   clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Ihost \
 *     tests/host/fuzz_safetensors.c host/safetensors.c host/error.c -lcjson -lm -o fuzz_safetensors
 *   ./fuzz_safetensors -max_len=4096 -max_total_time=60
 * In ctest, a deterministic replay driver runs it on generated inputs.
 */
#include "safetensors.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define REQUIRE(c)                  \
    do {                            \
        if (!(c)) __builtin_trap(); \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* A private copy, so that a read past the input is a sanitizer error rather than a read of
     * the fuzzer's own buffer slack. */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    if (size) memcpy(copy, data, size);

    ep_safetensors *st = NULL;
    ep_error err = {0};
    ep_status s = ep_safetensors_parse(copy, size, "fuzz-input", &st, &err);
    if (s != EP_OK) {
        REQUIRE(st == NULL);
        REQUIRE(err.code == s && err.message[0] != '\0');
        free(copy);
        return 0;
    }
    REQUIRE(st != NULL);
    const uint8_t *end = copy + size;
    const ep_tensor_view *prev = NULL;
    for (int i = 0; i < ep_safetensors_count(st); i++) {
        const ep_tensor_view *t = ep_safetensors_at(st, i);
        REQUIRE(t && t->ndim >= 0 && t->ndim <= EP_SAFETENSORS_MAX_DIMS && t->numel >= 0);
        REQUIRE(t->nbytes == (size_t)t->numel * ep_dtype_size(t->dtype));
        const uint8_t *p = t->data;
        REQUIRE(p >= copy + 8 && p <= end && t->nbytes <= (size_t)(end - p));
        if (t->nbytes) {
            if (prev) REQUIRE((const uint8_t *)prev->data + prev->nbytes <= p);
            prev = t;
        }
        /* Touch every byte, so that any view past the image is caught by the sanitizer. */
        volatile uint8_t acc = 0;
        for (size_t k = 0; k < t->nbytes; k++) acc ^= p[k];
        (void)acc;
        REQUIRE(ep_safetensors_find(st, t->name) == t);
        if ((t->dtype == EP_DTYPE_F32 || t->dtype == EP_DTYPE_F16 || t->dtype == EP_DTYPE_BF16) &&
            t->numel <= 1 << 16) {
            float *f = malloc(sizeof(float) * (size_t)(t->numel ? t->numel : 1));
            if (f) REQUIRE(ep_tensor_to_f32(t, f, &err) == EP_OK);
            free(f);
        }
    }
    REQUIRE(ep_safetensors_at(st, ep_safetensors_count(st)) == NULL);
    (void)ep_safetensors_metadata(st, "format");
    ep_safetensors_close(st);
    free(copy);
    return 0;
}
