/*
 * explore_gemm.h - out = A * B^T for the explore commands, on the fast CPU
 * backend's kernel tables (host/cpu: AVX-512, else AVX2, else plain C), with
 * B packed once into the table's panel layout. Not OpenBLAS: the distribution's
 * OpenBLAS runs its SSE3 fallback kernel on CPUs newer than itself (0.3.21 on
 * this Xeon: sgemm_kernel_PRESCOTT, ~10x slower), and our tables do not depend on it.
 */
#ifndef EP_EXPLORE_GEMM_H
#define EP_EXPLORE_GEMM_H

#include "cpu_fast.h"
#include "embedpipe.h"

#ifdef __cplusplus
extern "C" {
#endif

/* B's rows are padded with zero rows to a multiple of this (every table's panel width divides it). */
#define EP_GEMM_PAD 64
/* A is taken in chunks of this many rows, so that its packed copy stays in the core's L2 cache. */
#define EP_GEMM_CHUNK 256

/* @return the best float32 kernel table this CPU runs (never NULL). */
const ep_cpu_kernels *ep_explore_kernels(void);

/* Packs B (n x k rows) for kern, padded to a multiple of EP_GEMM_PAD rows (w->n is the padded count).
 * @return EP_OK, EP_ERR_NOMEM. */
ep_status ep_explore_pack(const ep_cpu_kernels *kern, const float *b, int n, int k, ep_packed *w, ep_error *err);

/* @return the floats of 64-byte aligned scratch ep_explore_gemm needs for k-wide rows and n <= max_n. */
size_t ep_explore_gemm_scratch(const ep_cpu_kernels *kern, int k, int max_n);

/* out[M][w->n] (row stride ldo >= w->n) = A[M][k] * B^T; zeros holds w->n zeros (the kernels' bias).
 * A is float32 (a) for a float32 table, bfloat16 (a_bf16, room for M rounded up to 16 rows) for a bf16 one. */
void ep_explore_gemm(const ep_cpu_kernels *kern, float *out, int ldo, const float *a, const uint16_t *a_bf16, int lda,
                     int M, const ep_packed *w, const float *zeros, float *scratch);

/* @return the bf16 table this CPU runs (AMX, else AVX512-BF16), or NULL. */
const ep_cpu_kernels *ep_explore_kernels_bf16(void);

#ifdef __cplusplus
}
#endif

#endif /* EP_EXPLORE_GEMM_H */
