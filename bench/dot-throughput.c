/*
 * dot-throughput - how many multiply-adds per second one core issues as float32
 * FMAs (vfmadd231ps zmm: 16 per instruction), as bfloat16 pair dot products
 * (vdpbf16ps zmm: 32 per instruction) and, where the CPU has them, as int8
 * quad dot products (vpdpbusd: 64 per zmm instruction with AVX512-VNNI, 32 per
 * ymm one with AVX-VNNI), with 12 independent accumulators so latency does not
 * limit any of them.
 *
 *   dot-throughput [--repeat R]
 *
 * It decides whether an AVX512-BF16 GEMM can beat the float32 AVX-512 one on a
 * CPU without AMX: if the "bf16/fp32" ratio is below 1, no register blocking
 * makes bf16 faster, since both GEMMs are bound by these instructions
 * (docs/PERFORMANCE.md, "bf16 without AMX"). Times are CPU time of this
 * thread, so a loaded machine slows the figures less than wall time would.
 * The "int8/bf16" ratio is the same bound for --precision int8 against bf16.
 * Exits 77 when the CPU lacks AVX512-BF16.
 */
#include <cpuid.h>
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ACC 12

static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

__attribute__((target("avx512f,avx512bf16"), noinline)) static float run_dp(long n) {
    __m512 c[ACC];
    for (int i = 0; i < ACC; i++) c[i] = _mm512_set1_ps((float)i);
    __m512bh a = (__m512bh)_mm512_set1_epi32(0x3f803f80), b = (__m512bh)_mm512_set1_epi32(0x3c003c00);
    for (long k = 0; k < n; k++) {
#pragma GCC unroll 12
        for (int i = 0; i < ACC; i++) c[i] = _mm512_dpbf16_ps(c[i], a, b);
        __asm__ volatile("" : "+v"(a), "+v"(b)); /* keeps the loop from being folded */
    }
    __m512 s = c[0];
    for (int i = 1; i < ACC; i++) s = _mm512_add_ps(s, c[i]);
    return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx512f,fma"), noinline)) static float run_fma(long n) {
    __m512 c[ACC];
    for (int i = 0; i < ACC; i++) c[i] = _mm512_set1_ps((float)i);
    __m512 a = _mm512_set1_ps(1.0001f), b = _mm512_set1_ps(0.9999f);
    for (long k = 0; k < n; k++) {
#pragma GCC unroll 12
        for (int i = 0; i < ACC; i++) c[i] = _mm512_fmadd_ps(c[i], a, b);
        __asm__ volatile("" : "+v"(a), "+v"(b));
    }
    __m512 s = c[0];
    for (int i = 1; i < ACC; i++) s = _mm512_add_ps(s, c[i]);
    return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx512f,avx512vnni"), noinline)) static int run_vnni512(long n) {
    __m512i c[ACC];
    for (int i = 0; i < ACC; i++) c[i] = _mm512_set1_epi32(i);
    __m512i a = _mm512_set1_epi32(0x01010101), b = _mm512_set1_epi32(0x01ff01ff);
    for (long k = 0; k < n; k++) {
#pragma GCC unroll 12
        for (int i = 0; i < ACC; i++) c[i] = _mm512_dpbusd_epi32(c[i], a, b);
        __asm__ volatile("" : "+v"(a), "+v"(b));
    }
    __m512i s = c[0];
    for (int i = 1; i < ACC; i++) s = _mm512_add_epi32(s, c[i]);
    return _mm512_reduce_add_epi32(s);
}

__attribute__((target("avx2,avxvnni"), noinline)) static int run_vnni256(long n) {
    __m256i c[ACC];
    for (int i = 0; i < ACC; i++) c[i] = _mm256_set1_epi32(i);
    __m256i a = _mm256_set1_epi32(0x01010101), b = _mm256_set1_epi32(0x01ff01ff);
    for (long k = 0; k < n; k++) {
#pragma GCC unroll 12
        for (int i = 0; i < ACC; i++) c[i] = _mm256_dpbusd_avx_epi32(c[i], a, b);
        __asm__ volatile("" : "+x"(a), "+x"(b));
    }
    __m256i s = c[0];
    for (int i = 1; i < ACC; i++) s = _mm256_add_epi32(s, c[i]);
    return _mm256_extract_epi32(s, 0) + _mm256_extract_epi32(s, 7);
}

int main(int argc, char **argv) {
    int repeat = 3;
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--repeat") == 0 && a + 1 < argc) repeat = atoi(argv[++a]);
        else {
            fprintf(stderr, "usage: %s [--repeat R]\n", argv[0]);
            return 2;
        }
    }
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx) || !((eax >> 5) & 1)) {
        printf("SKIP: this CPU has no AVX512-BF16\n");
        return 77;
    }
    __get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx);
    const int vnni512 = (ecx >> 11) & 1;
    __get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx);
    const int vnni256 = (eax >> 4) & 1;
    const long n = 100000000;
    volatile float sink;
    volatile int isink;
    for (int r = 0; r < repeat; r++) {
        double t = cpu_now();
        sink = run_fma(n);
        const double f = cpu_now() - t;
        t = cpu_now();
        sink = run_dp(n);
        const double d = cpu_now() - t;
        const double fma_gmac = ACC * n * 16.0 / f / 1e9, dp_gmac = ACC * n * 32.0 / d / 1e9;
        printf("vfmadd231ps zmm: %.2f G/s = %.1f GMAC/s | vdpbf16ps zmm: %.2f G/s = %.1f GMAC/s | bf16/fp32 %.2fx\n",
               ACC * n / f / 1e9, fma_gmac, ACC * n / d / 1e9, dp_gmac, dp_gmac / fma_gmac);
        if (vnni512) {
            t = cpu_now();
            isink = run_vnni512(n);
            const double v = cpu_now() - t, gmac = ACC * n * 64.0 / v / 1e9;
            printf("  vpdpbusd zmm (AVX512-VNNI): %.2f G/s = %.1f GMAC/s | int8/fp32 %.2fx, int8/bf16 %.2fx\n",
                   ACC * n / v / 1e9, gmac, gmac / fma_gmac, gmac / dp_gmac);
        }
        if (vnni256) {
            t = cpu_now();
            isink = run_vnni256(n);
            const double v = cpu_now() - t, gmac = ACC * n * 32.0 / v / 1e9;
            printf("  vpdpbusd ymm (AVX-VNNI): %.2f G/s = %.1f GMAC/s | int8/fp32-zmm %.2fx\n", ACC * n / v / 1e9,
                   gmac, gmac / fma_gmac);
        }
    }
    (void)sink;
    (void)isink;
    return 0;
}
