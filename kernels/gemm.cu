/*
 * gemm.cu - the one place that does matrix multiplication: every GEMM of the
 * encoder goes through ep_cuda_linear, which owns the cuBLASLt handle, its
 * workspace and a small cache of matmul plans. fp16 operands and result,
 * fp32 accumulation and scaling, tensor-core algorithms (cuBLASLt's pick).
 *
 * Under EP_CUDA_EMULATION the same column-major problem (the same m, n, k,
 * transposes and leading dimensions, derived by one function below) is
 * handed to cblas_sgemm on fp32 copies and rounded back to fp16 once, as
 * cuBLAS rounds its fp32 accumulator - so the operand plumbing is tested too.
 */
#include "common.cuh"

#include <stdlib.h>
#include <string.h>

#ifdef EP_CUDA_EMULATION
#include <cblas.h>
#include <vector>

#include "float16.h"
#else
#include <cublasLt.h>
#endif

#define EP_GEMM_WORKSPACE ((size_t)32 << 20) /* cuBLAS's recommendation for Hopper */

// ----------------------------------------------------------------------------
// The problem in cuBLAS's column-major terms.
//
// Row-major out[T][n_out] is column-major out^T (n_out x T, ld n_out); row-major
// weight[n_out][n_in] is column-major weight^T (n_in x n_out, ld n_in); row-major
// in[T][n_in] is column-major in^T (n_in x T, ld n_in). So
//   out^T = op(A) * B  with  A = weight^T transposed (op = T), B = in^T (op = N),
//   m = n_out, n = T, k = n_in.

struct gemm_problem {
    int m, n, k;
    bool trans_a, trans_b;
    int lda, ldb, ldc;
};

static gemm_problem linear_problem(int n_tokens, int n_in, int n_out) {
    gemm_problem p;
    p.m = n_out;
    p.n = n_tokens;
    p.k = n_in;
    p.trans_a = true;
    p.trans_b = false;
    p.lda = n_in;
    p.ldb = n_in;
    p.ldc = n_out;
    return p;
}

#ifndef EP_CUDA_EMULATION
// ----------------------------------------------------------------------------
// cuBLASLt

#define EP_CUBLAS_CHECK(call, err)                                                                          \
    do {                                                                                                    \
        cublasStatus_t ep_st_ = (call);                                                                     \
        if (ep_st_ != CUBLAS_STATUS_SUCCESS)                                                                \
            return ep_error_set((err), ep_st_ == CUBLAS_STATUS_ALLOC_FAILED ? EP_ERR_NOMEM : EP_ERR_DEVICE, \
                                "%s:%d: %s failed: %s (%s)", __FILE__, __LINE__, #call,                     \
                                cublasLtGetStatusName(ep_st_), cublasLtGetStatusString(ep_st_));            \
    } while (0)

#define EP_GEMM_PLANS 64

struct gemm_plan {
    int m, n, k; // 0: empty slot
    cublasLtMatmulDesc_t op;
    cublasLtMatrixLayout_t a, b, c;
    cublasLtMatmulAlgo_t algo;
};

struct ep_cuda_gemm {
    cublasLtHandle_t lt;
    void *workspace;
    gemm_plan plans[EP_GEMM_PLANS];
    int next_victim;
};

static void plan_clear(gemm_plan *p) {
    if (p->c) cublasLtMatrixLayoutDestroy(p->c);
    if (p->b) cublasLtMatrixLayoutDestroy(p->b);
    if (p->a) cublasLtMatrixLayoutDestroy(p->a);
    if (p->op) cublasLtMatmulDescDestroy(p->op);
    memset(p, 0, sizeof *p);
}

static ep_status plan_build(ep_cuda_gemm *g, gemm_plan *p, const gemm_problem &q, ep_error *err) {
    p->m = q.m;
    p->n = q.n;
    p->k = q.k;
    const cublasOperation_t ta = q.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, tb = q.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    EP_CUBLAS_CHECK(cublasLtMatmulDescCreate(&p->op, CUBLAS_COMPUTE_32F, CUDA_R_32F), err);
    EP_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta), err);
    EP_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb), err);
    // Layouts describe the stored matrices (before op): rows x cols, column-major.
    EP_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p->a, CUDA_R_16F, q.trans_a ? q.k : q.m, q.trans_a ? q.m : q.k, q.lda),
                    err);
    EP_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p->b, CUDA_R_16F, q.trans_b ? q.n : q.k, q.trans_b ? q.k : q.n, q.ldb),
                    err);
    EP_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p->c, CUDA_R_16F, q.m, q.n, q.ldc), err);
    cublasLtMatmulPreference_t pref = nullptr;
    EP_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref), err);
    size_t ws = EP_GEMM_WORKSPACE;
    cublasStatus_t st =
        cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws);
    cublasLtMatmulHeuristicResult_t result;
    memset(&result, 0, sizeof result);
    int found = 0;
    if (st == CUBLAS_STATUS_SUCCESS)
        st = cublasLtMatmulAlgoGetHeuristic(g->lt, p->op, p->a, p->b, p->c, p->c, pref, 1, &result, &found);
    cublasLtMatmulPreferenceDestroy(pref);
    EP_CUBLAS_CHECK(st, err);
    if (found == 0)
        return ep_error_set(err, EP_ERR_DEVICE, "%s:%d: cuBLASLt has no algorithm for a %d x %d x %d fp16 GEMM",
                            __FILE__, __LINE__, q.m, q.n, q.k);
    p->algo = result.algo;
    return EP_OK;
}

static ep_status plan_get(ep_cuda_gemm *g, const gemm_problem &q, gemm_plan **out, ep_error *err) {
    for (int i = 0; i < EP_GEMM_PLANS; i++) {
        gemm_plan *p = &g->plans[i];
        if (p->m == q.m && p->n == q.n && p->k == q.k) {
            *out = p;
            return EP_OK;
        }
    }
    gemm_plan *p = &g->plans[g->next_victim];
    g->next_victim = (g->next_victim + 1) % EP_GEMM_PLANS;
    plan_clear(p);
    const ep_status st = plan_build(g, p, q, err);
    if (st != EP_OK) {
        plan_clear(p);
        return st;
    }
    *out = p;
    return EP_OK;
}

extern "C" ep_status ep_cuda_gemm_create(ep_cuda_gemm **out, ep_error *err) {
    *out = nullptr;
    ep_cuda_gemm *g = static_cast<ep_cuda_gemm *>(calloc(1, sizeof(ep_cuda_gemm)));
    if (!g) return ep_error_set(err, EP_ERR_NOMEM, "%s:%d: out of host memory", __FILE__, __LINE__);
    cublasStatus_t st = cublasLtCreate(&g->lt);
    if (st != CUBLAS_STATUS_SUCCESS) {
        free(g);
        EP_CUBLAS_CHECK(st, err);
    }
    const cudaError_t e = cudaMalloc(&g->workspace, EP_GEMM_WORKSPACE);
    if (e != cudaSuccess) {
        cublasLtDestroy(g->lt);
        free(g);
        return ep_cuda_check_fail(err, (int)e, "cudaMalloc(&g->workspace, EP_GEMM_WORKSPACE)", __FILE__, __LINE__);
    }
    *out = g;
    return EP_OK;
}

extern "C" void ep_cuda_gemm_free(ep_cuda_gemm *g) {
    if (!g) return;
    for (int i = 0; i < EP_GEMM_PLANS; i++) plan_clear(&g->plans[i]);
    cudaFree(g->workspace);
    cublasLtDestroy(g->lt);
    free(g);
}

extern "C" ep_status ep_cuda_linear(ep_cuda_gemm *g, uint16_t *out, const uint16_t *in, const uint16_t *weight,
                                    int n_tokens, int n_in, int n_out, ep_cuda_stream stream, ep_error *err) {
    if (n_tokens <= 0) return EP_OK;
    const gemm_problem q = linear_problem(n_tokens, n_in, n_out);
    gemm_plan *p = nullptr;
    const ep_status st = plan_get(g, q, &p, err);
    if (st != EP_OK) return st;
    const float alpha = 1.0f, beta = 0.0f;
    EP_CUBLAS_CHECK(cublasLtMatmul(g->lt, p->op, &alpha, weight, p->a, in, p->b, &beta, out, p->c, out, p->c, &p->algo,
                                   g->workspace, EP_GEMM_WORKSPACE, stream),
                    err);
    return EP_OK;
}

#else
// ----------------------------------------------------------------------------
// Emulation: cblas_sgemm on fp32 copies, queued on the stream like the real call.

struct ep_cuda_gemm {
    void *workspace; // held only so that device memory use matches the real backend
};

extern "C" ep_status ep_cuda_gemm_create(ep_cuda_gemm **out, ep_error *err) {
    *out = nullptr;
    ep_cuda_gemm *g = static_cast<ep_cuda_gemm *>(calloc(1, sizeof(ep_cuda_gemm)));
    if (!g) return ep_error_set(err, EP_ERR_NOMEM, "%s:%d: out of host memory", __FILE__, __LINE__);
    const cudaError_t e = cudaMalloc(&g->workspace, EP_GEMM_WORKSPACE);
    if (e != cudaSuccess) {
        free(g);
        return ep_cuda_check_fail(err, (int)e, "cudaMalloc(&g->workspace, EP_GEMM_WORKSPACE)", __FILE__, __LINE__);
    }
    *out = g;
    return EP_OK;
}

extern "C" void ep_cuda_gemm_free(ep_cuda_gemm *g) {
    if (!g) return;
    cudaFree(g->workspace);
    free(g);
}

// Every half's float value, computed once: the conversion dominates an emulated GEMM otherwise.
static const float *half_table() {
    static std::vector<float> table;
    if (table.empty()) {
        table.resize(65536);
        for (unsigned i = 0; i < 65536; i++) table[i] = ep_f16_to_f32((uint16_t)i);
    }
    return table.data();
}

static void to_f32(std::vector<float> &dst, const __half *src, size_t n) {
    const float *table = half_table();
    const uint16_t *bits = reinterpret_cast<const uint16_t *>(src);
    dst.resize(n);
    for (size_t i = 0; i < n; i++) dst[i] = table[bits[i]];
}

extern "C" ep_status ep_cuda_linear(ep_cuda_gemm *g, uint16_t *out, const uint16_t *in, const uint16_t *weight,
                                    int n_tokens, int n_in, int n_out, ep_cuda_stream stream, ep_error *err) {
    (void)g;
    if (n_tokens <= 0) return EP_OK;
    const gemm_problem q = linear_problem(n_tokens, n_in, n_out);
    const size_t a_elems = (size_t)q.lda * (q.trans_a ? q.m : q.k);
    const size_t b_elems = (size_t)q.ldb * (q.trans_b ? q.k : q.n);
    const size_t c_elems = (size_t)q.ldc * q.n;
    // What cuBLAS would reject or fault on: operands outside device memory.
    if (!ep_emu::is_device_range(weight, a_elems * 2) || !ep_emu::is_device_range(in, b_elems * 2) ||
        !ep_emu::is_device_range(out, c_elems * 2))
        return ep_error_set(err, EP_ERR_DEVICE, "%s:%d: ep_cuda_linear: an operand (%d x %d x %d) is not inside one "
                            "device allocation", __FILE__, __LINE__, q.m, q.n, q.k);
    const __half *A = reinterpret_cast<const __half *>(weight), *B = reinterpret_cast<const __half *>(in);
    __half *C = reinterpret_cast<__half *>(out);
    ep_emu::enqueue_host(stream, [=]() {
        std::vector<float> a, b, c(c_elems);
        to_f32(a, A, a_elems);
        to_f32(b, B, b_elems);
        cblas_sgemm(CblasColMajor, q.trans_a ? CblasTrans : CblasNoTrans, q.trans_b ? CblasTrans : CblasNoTrans, q.m,
                    q.n, q.k, 1.0f, a.data(), q.lda, b.data(), q.ldb, 0.0f, c.data(), q.ldc);
        for (size_t i = 0; i < c_elems; i++) C[i] = __float2half_rn(c[i]);
    });
    EP_LAUNCH_CHECK(err);
    return EP_OK;
}
#endif

extern "C" size_t ep_cuda_gemm_workspace_bytes(void) { return EP_GEMM_WORKSPACE; }
