/* settings.c - every environment variable embedpipe reads, read once. */
#include "settings.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static ep_settings settings;
static pthread_once_t settings_once = PTHREAD_ONCE_INIT;

static void read_environment(void) {
    ep_settings *s = &settings;
    const char *v = getenv("EMBEDPIPE_MODEL");
    s->model = v && *v ? v : NULL;
    v = getenv("EMBEDPIPE_CPU_ISA");
    if (v && *v) {
        static const char *const levels[] = {"generic", "avx2", "avx512", "avx512-vnni", "avx512-bf16"};
        for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
            if (strcmp(v, levels[i]) == 0) s->cpu_isa = levels[i];
        if (!s->cpu_isa)
            snprintf(s->problem, sizeof s->problem,
                     "EMBEDPIPE_CPU_ISA=%.100s is not one of generic, avx2, avx512, avx512-vnni, avx512-bf16; ignored", v);
    }
    v = getenv("EMBEDPIPE_CPU_CHUNK_TOKENS");
    if (v && atoi(v) >= 16 && atoi(v) <= 65536) s->cpu_chunk_tokens = atoi(v);
    s->sha256_portable = getenv("EMBEDPIPE_SHA256_PORTABLE") != NULL;
}

const ep_settings *ep_settings_get(void) {
    pthread_once(&settings_once, read_environment);
    return &settings;
}

int ep_default_threads(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}
