/*
 * fuzz_safetensors.c - libFuzzer target: any bytes as a safetensors file.
 *
 * Malformed input must come back as an error value with a message, never a
 * crash, an out-of-bounds read or a leak; accepted input must satisfy the
 * reader's promises (views inside the image, sizes consistent, no overlaps,
 * names findable). A violated promise traps, which the fuzzer reports.
 *
 * With libFuzzer (clang):
 *   clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Ihost -Itests \
 *     tests/host/model/fuzz_safetensors.c host/model/safetensors.c common/error.c -lcjson -lm -o fuzz_safetensors
 *   ./fuzz_safetensors -max_len=8192 -max_total_time=60 CORPUS_DIR
 * (a model.safetensors written by scripts/make-tiny-model.py --hidden 4 --heads 1 --layers 1
 * --intermediate 4 --max-position 4 makes a good corpus file). In ctest, tests/fuzz_replay_main.c
 * replays mutations of the seeds below deterministically.
 */
#include "fuzz_replay.h"
#include "safetensors.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define REQUIRE(c)                  \
    do {                            \
        if (!(c)) __builtin_trap(); \
    } while (0)

// ----------------------------------------------------------------------------
// seeds: valid files whose mutations reach deep into the checks

#define HDR_A                                                                                                  \
    "{\"__metadata__\":{\"format\":\"pt\"},\"b\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[32,40]},"      \
    "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"                                          \
    "\"c\":{\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[40,42]},"                                           \
    "\"e\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[42,42]},"                                         \
    "\"i\":{\"dtype\":\"I64\",\"shape\":[1,2],\"data_offsets\":[48,64]}}    "
#define DATA_A 64
#define HDR_B                                                                                                  \
    "{\"embeddings.word_embeddings.weight\":{\"dtype\":\"BF16\",\"shape\":[3,2],\"data_offsets\":[0,12]},"       \
    "\"embeddings.LayerNorm.gamma\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]},"                 \
    "\"pooler.dense.bias\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[20,24]}}"
#define DATA_B 24
#define HDR_C "{}      "

static uint8_t seed_a[8 + sizeof(HDR_A) - 1 + DATA_A];
static uint8_t seed_b[8 + sizeof(HDR_B) - 1 + DATA_B];
static uint8_t seed_c[8 + sizeof(HDR_C) - 1];

const ep_fuzz_seed ep_fuzz_seeds[] = {{seed_a, sizeof seed_a}, {seed_b, sizeof seed_b}, {seed_c, sizeof seed_c},
                                      {NULL, 0}};

static void fill(uint8_t *dst, const char *header, size_t header_len, size_t data_len) {
    for (int i = 0; i < 8; i++) dst[i] = (uint8_t)((uint64_t)header_len >> (8 * i));
    memcpy(dst + 8, header, header_len);
    for (size_t i = 0; i < data_len; i++) dst[8 + header_len + i] = (uint8_t)(i * 37 + 11);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    fill(seed_a, HDR_A, sizeof(HDR_A) - 1, DATA_A);
    fill(seed_b, HDR_B, sizeof(HDR_B) - 1, DATA_B);
    fill(seed_c, HDR_C, sizeof(HDR_C) - 1, 0);
    return 0;
}

// ----------------------------------------------------------------------------

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
