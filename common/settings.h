/*
 * settings.h - the environment variables embedpipe reads, read in one place.
 *
 * Each variable is read once, on the first ep_settings_get(), and kept; a
 * value that is malformed is ignored and described in `problem`, which the
 * command line prints (library code never prints). docs/environment.md lists
 * them for users.
 */
#ifndef EP_SETTINGS_H
#define EP_SETTINGS_H

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ep_settings {
    const char *model;     /* EMBEDPIPE_MODEL: default model folder, or NULL when unset or empty */
    const char *cpu_isa;   /* EMBEDPIPE_CPU_ISA: generic, avx2, avx512, avx512-vnni or avx512-bf16 caps the CPU
                              kernels (tests of the fallbacks); NULL when unset or not one of those */
    int cpu_chunk_tokens;  /* EMBEDPIPE_CPU_CHUNK_TOKENS: tokens per chunk of the fast CPU backend,
                              16..65536 (tuning, bench/README.md); 0 when unset or out of range */
    bool sha256_portable;  /* EMBEDPIPE_SHA256_PORTABLE set: SHA-256 without the SHA-NI instructions (tests) */
    char problem[256];     /* "" or why a value was ignored, e.g. "EMBEDPIPE_CPU_ISA=x is not one of ..." */
} ep_settings;

/* Reads the environment on the first call (thread-safe) and keeps the result.
 * @return the settings (never NULL). */
const ep_settings *ep_settings_get(void);

/* The thread count used when none is given: the online CPUs, at least 1.
 * @return the count. */
int ep_default_threads(void);

#ifdef __cplusplus
}
#endif

#endif /* EP_SETTINGS_H */
