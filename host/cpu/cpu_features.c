/*
 * cpu_features.c - which of the fast kernels this CPU and OS can run.
 *
 * cpuid says what the core implements; xgetbv says whether the OS saves the
 * wider registers; AMX additionally needs the kernel to grant the process the
 * 8 KiB tile state (Linux >= 5.16, arch_prctl ARCH_REQ_XCOMP_PERM) - a CPU
 * with AMX under an older kernel or a hypervisor that hides it gets the
 * AVX512-BF16 kernels instead.
 */
#include "cpu_fast.h"
#include "settings.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif
#define EP_X86 1
#endif

static ep_cpu_features features;
static pthread_once_t features_once = PTHREAD_ONCE_INIT;

#ifdef EP_X86
static uint64_t xgetbv0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

/* Asks Linux for the AMX tile data state. @return 1 when granted. */
static int request_amx(void) {
#if defined(__linux__) && defined(SYS_arch_prctl)
    const long ARCH_GET_XCOMP_PERM = 0x1022, ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18;
    if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0) return 0;
    unsigned long mask = 0;
    if (syscall(SYS_arch_prctl, ARCH_GET_XCOMP_PERM, &mask) != 0) return 0;
    return (mask >> XFEATURE_XTILEDATA) & 1;
#else
    return 0;
#endif
}
#endif

static void detect(void) {
    ep_cpu_features *f = &features;
    memset(f, 0, sizeof *f);
    snprintf(f->model, sizeof f->model, "unknown CPU");
#ifdef EP_X86
    unsigned a, b, c, d;
    if (__get_cpuid(0x80000000u, &a, &b, &c, &d) && a >= 0x80000004u) {
        unsigned brand[12];
        for (unsigned i = 0; i < 3; i++)
            __get_cpuid(0x80000002u + i, &brand[4 * i], &brand[4 * i + 1], &brand[4 * i + 2], &brand[4 * i + 3]);
        char s[49];
        memcpy(s, brand, 48);
        s[48] = 0;
        const char *p = s;
        while (*p == ' ') p++;
        snprintf(f->model, sizeof f->model, "%s", p);
    }
    if (__get_cpuid(0, &a, &b, &c, &d)) {
        memcpy(f->vendor, &b, 4);
        memcpy(f->vendor + 4, &d, 4);
        memcpy(f->vendor + 8, &c, 4);
        f->vendor[12] = 0;
    }
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    f->family = (int)((a >> 8) & 0xf) + ((((a >> 8) & 0xf) == 0xf) ? (int)((a >> 20) & 0xff) : 0);
    const int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1;
    if (!osxsave) return;
    const uint64_t xcr0 = xgetbv0();
    const int os_avx = (xcr0 & 0x6) == 0x6, os_avx512 = (xcr0 & 0xe6) == 0xe6;
    const int os_amx = ((xcr0 >> 17) & 3) == 3;
    unsigned max_leaf = __get_cpuid_max(0, NULL);
    if (max_leaf < 7) return;
    __cpuid_count(7, 0, a, b, c, d);
    const int avx2 = (b >> 5) & 1;
    const int avx512 = ((b >> 16) & 1) && ((b >> 17) & 1) && ((b >> 30) & 1) && ((b >> 31) & 1);
    const int vnni = (c >> 11) & 1;
    const int amx = ((d >> 22) & 1) && ((d >> 24) & 1);
    unsigned a1 = 0, b1, c1, d1;
    if (a >= 1) __cpuid_count(7, 1, a1, b1, c1, d1);
    const int bf16 = (a1 >> 5) & 1;
    f->avx2_fma = avx2 && fma && os_avx;
    f->avx512 = f->avx2_fma && avx512 && os_avx512;
    f->avx512_vnni = f->avx512 && vnni;
    f->avx512_bf16 = f->avx512 && bf16;
    f->amx_bf16 = f->avx512 && amx && os_amx;
#endif
    // A cap for testing fallbacks: each level keeps only what it names.
    const char *cap = ep_settings_get()->cpu_isa; /* NULL when unset or invalid (the CLI says so) */
    if (cap) {
        snprintf(f->capped, sizeof f->capped, "%s", cap);
        // avx512-bf16 keeps VNNI (every CPU with AVX512-BF16 has it); avx512-vnni drops bf16
        if (strcmp(cap, "avx512-bf16") == 0) {
            f->amx_bf16 = false;
        } else if (strcmp(cap, "avx512-vnni") == 0) {
            f->amx_bf16 = f->avx512_bf16 = false;
        } else if (strcmp(cap, "avx512") == 0) {
            f->amx_bf16 = f->avx512_bf16 = f->avx512_vnni = false;
        } else if (strcmp(cap, "avx2") == 0) {
            f->amx_bf16 = f->avx512_bf16 = f->avx512_vnni = f->avx512 = false;
        } else { /* "generic" */
            f->amx_bf16 = f->avx512_bf16 = f->avx512_vnni = f->avx512 = f->avx2_fma = false;
        }
    }
#ifdef EP_X86
    // Asked last, so that a capped run does not take the tile state it will not use.
    if (f->amx_bf16) f->amx_bf16 = request_amx();
#endif
}

const ep_cpu_features *ep_cpu_features_get(void) {
    pthread_once(&features_once, detect);
    return &features;
}
