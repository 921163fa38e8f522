/* explore_gemm.c - A * B^T on the fast CPU kernel tables; see explore_gemm.h. */
#include "explore_gemm.h"

#include <stdlib.h>
#include <string.h>

const ep_cpu_kernels *ep_explore_kernels(void) {
    const ep_cpu_kernels *k = ep_cpu_kernels_avx512();
    if (!k) k = ep_cpu_kernels_avx2();
    if (!k) k = ep_cpu_kernels_generic();
    return k;
}

ep_status ep_explore_pack(const ep_cpu_kernels *kern, const float *b, int n, int k, ep_packed *w, ep_error *err) {
    const int padded = (n + EP_GEMM_PAD - 1) / EP_GEMM_PAD * EP_GEMM_PAD;
    if (padded == n) return kern->pack(w, b, n, k, err);
    float *tmp = calloc((size_t)padded * (size_t)k, sizeof(float));
    if (!tmp) return ep_error_set(err, EP_ERR_NOMEM, "out of memory packing %d rows", n);
    memcpy(tmp, b, sizeof(float) * (size_t)n * (size_t)k);
    ep_status st = kern->pack(w, tmp, padded, k, err);
    free(tmp);
    return st;
}

size_t ep_explore_gemm_scratch(const ep_cpu_kernels *kern, int k, int max_n) {
    return kern->linear_scratch(EP_GEMM_CHUNK, k > max_n ? k : max_n);
}

const ep_cpu_kernels *ep_explore_kernels_bf16(void) {
    const ep_cpu_kernels *k = ep_cpu_kernels_amx();
    return k ? k : ep_cpu_kernels_avx512_bf16();
}

void ep_explore_gemm(const ep_cpu_kernels *kern, float *out, int ldo, const float *a, const uint16_t *a_bf16, int lda,
                     int M, const ep_packed *w, const float *zeros, float *scratch) {
    for (int m0 = 0; m0 < M; m0 += EP_GEMM_CHUNK) {
        const int m = M - m0 < EP_GEMM_CHUNK ? M - m0 : EP_GEMM_CHUNK;
        const size_t at = (size_t)m0 * (size_t)lda;
        kern->linear(out + (size_t)m0 * (size_t)ldo, NULL, ldo, a ? a + at : NULL, a_bf16 ? a_bf16 + at : NULL, lda, w,
                     zeros, m, EP_ACT_NONE, scratch);
    }
}
