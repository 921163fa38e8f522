/*
 * fuzz_replay.h - what a libFuzzer-style target may share with
 * tests/fuzz_replay_main.c, the deterministic stand-in for libFuzzer that ctest
 * runs. A target defines LLVMFuzzerTestOneInput (and optionally
 * LLVMFuzzerInitialize and ep_fuzz_seeds); it builds unchanged with
 * clang -fsanitize=fuzzer, where libFuzzer provides main instead.
 */
#ifndef EP_FUZZ_REPLAY_H
#define EP_FUZZ_REPLAY_H

#include <stddef.h>
#include <stdint.h>

/* One seed input. A target may define
 *     const ep_fuzz_seed ep_fuzz_seeds[] = {{"text", 4}, ..., {NULL, 0}};
 * the replay main mutates these (and any files named on its command line). */
typedef struct ep_fuzz_seed {
    const void *data;
    size_t len;
} ep_fuzz_seed;

/* Helper for string literals (without their NUL). */
#define EP_FUZZ_SEED(lit) {(lit), sizeof(lit) - 1}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif /* EP_FUZZ_REPLAY_H */
