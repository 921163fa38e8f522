/*
 * gemm.cu - the one place that does matrix multiplication: every GEMM of the
 * encoder goes through ep_cuda_linear, which owns the cuBLASLt handle, its
 * workspace and a small cache of matmul plans. fp16 operands and result,
 * fp32 accumulation and scaling, tensor-core algorithms (cuBLASLt's pick),
 * optionally the bias added in the epilogue (CUBLASLT_EPILOGUE_BIAS); and the
 * fp32-result product of two fp16 row blocks for `related` (ep_cuda_gemm_scores).
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

// ----------------------------------------------------------------------------
// The plan cache, shared by the real and the emulated GEMM.
//
// A cuBLASLt layout has a fixed column count, and the expensive part of a plan is the
// algorithm search (cublasLtMatmulAlgoGetHeuristic, tens of microseconds to milliseconds).
// Batches have nearly every token count, so a cache keyed on the exact count would search
// again on nearly every batch. Plans are therefore keyed on a token-count bucket (64, then
// powers of two): the heuristic runs once per bucket, for the bucket's largest count, and a
// call for n tokens sets the layouts' column count to n (a host-side attribute write) and
// reuses that algorithm. An algorithm chosen for the larger problem is normally valid for the
// smaller one (the alignments and the leading dimensions, which decide validity, do not
// change); should cuBLASLt refuse it for some n, the call searches again for that exact
// problem, runs with that, and counts an algo_fallback - correct either way, fast normally.
// 4 GEMM shapes x 11 buckets up to 65536 tokens fit the 64 plans; beyond, the least recently
// used plan is rebuilt.

#define EP_GEMM_PLANS 64
#define EP_GEMM_MIN_BUCKET 64

static int token_bucket(int n) {
    int b = EP_GEMM_MIN_BUCKET;
    while (b < n && b < (1 << 30)) b <<= 1;
    return b;
}

#ifndef EP_CUDA_EMULATION
#define EP_CUBLAS_CHECK(call, err)                                                                          \
    do {                                                                                                    \
        cublasStatus_t ep_st_ = (call);                                                                     \
        if (ep_st_ != CUBLAS_STATUS_SUCCESS)                                                                \
            return ep_error_set((err), ep_st_ == CUBLAS_STATUS_ALLOC_FAILED ? EP_ERR_NOMEM : EP_ERR_DEVICE, \
                                "%s:%d: %s failed: %s (%s)", __FILE__, __LINE__, #call,                     \
                                cublasLtGetStatusName(ep_st_), cublasLtGetStatusString(ep_st_));            \
    } while (0)
#endif

struct gemm_plan {
    int m, k, bucket, bias, out32; // the key; m == 0: an empty slot; out32: fp32 result (scores)
    uint64_t last_use;
    gemm_problem q; // the problem as the latest call set it (n = that call's token count)
#ifndef EP_CUDA_EMULATION
    cublasLtMatmulDesc_t op;
    cublasLtMatrixLayout_t a, b, c;
    cublasLtMatmulAlgo_t algo;
#endif
};

struct ep_cuda_gemm {
#ifndef EP_CUDA_EMULATION
    cublasLtHandle_t lt;
#endif
    void *workspace; // under emulation held only so that device memory use matches the real backend
    gemm_plan plans[EP_GEMM_PLANS];
    uint64_t clock;
    ep_cuda_gemm_stats stats;
};

#ifndef EP_CUDA_EMULATION
// ----------------------------------------------------------------------------
// cuBLASLt

static void plan_clear(gemm_plan *p) {
    if (p->c) cublasLtMatrixLayoutDestroy(p->c);
    if (p->b) cublasLtMatrixLayoutDestroy(p->b);
    if (p->a) cublasLtMatrixLayoutDestroy(p->a);
    if (p->op) cublasLtMatmulDescDestroy(p->op);
    memset(p, 0, sizeof *p);
}

/* The best algorithm for p's descriptors as they stand (their n, their bias pointer). */
static ep_status plan_search(ep_cuda_gemm *g, const gemm_plan *p, cublasLtMatmulAlgo_t *algo, ep_error *err) {
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
        return ep_error_set(err, EP_ERR_DEVICE, "%s:%d: cuBLASLt has no algorithm for a %d x %d x %d fp16 GEMM%s",
                            __FILE__, __LINE__, p->q.m, p->q.n, p->q.k, p->bias ? " with a bias epilogue" : "");
    *algo = result.algo;
    return EP_OK;
}

/* Points p's layouts at n tokens (the column count of B and C in cuBLAS's terms). */
static ep_status plan_set_n(gemm_plan *p, int n, ep_error *err) {
    const uint64_t cols = (uint64_t)n;
    EP_CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(p->b, p->q.trans_b ? CUBLASLT_MATRIX_LAYOUT_ROWS
                                                                        : CUBLASLT_MATRIX_LAYOUT_COLS,
                                                     &cols, sizeof cols),
                    err);
    EP_CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(p->c, CUBLASLT_MATRIX_LAYOUT_COLS, &cols, sizeof cols), err);
    p->q.n = n;
    return EP_OK;
}

static ep_status plan_set_bias(gemm_plan *p, const uint16_t *bias, ep_error *err) {
    const void *ptr = bias;
    EP_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &ptr, sizeof ptr), err);
    return EP_OK;
}

/* Descriptors for q at the bucket's largest n, and the algorithm searched for them. */
static ep_status plan_build(ep_cuda_gemm *g, gemm_plan *p, const gemm_problem &q, const uint16_t *bias,
                            ep_error *err) {
    p->q = q;
    p->q.n = p->bucket;
    const cublasOperation_t ta = q.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, tb = q.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    EP_CUBLAS_CHECK(cublasLtMatmulDescCreate(&p->op, CUBLAS_COMPUTE_32F, CUDA_R_32F), err);
    EP_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta), err);
    EP_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb), err);
    if (bias) {
        // D = A*B + bias, the bias broadcast along n (one value per output feature), added to the
        // fp32 accumulator before the one rounding to fp16: exactly a linear layer. The bias is fp16
        // (cuBLASLt's bias type follows D's for fp16 output). The GELU epilogues are the tanh form,
        // not the erf form BERT was trained with, so GELU stays a kernel (gelu.cu).
        const cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
        const int32_t bias_type = CUDA_R_16F;
        EP_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi), err);
        EP_CUBLAS_CHECK(
            cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type, sizeof bias_type),
            err);
        // The heuristic reads the pointer's alignment (every bias is a cudaMalloc'd, 256-byte aligned
        // allocation, so one plan serves every layer's bias).
        ep_status st = plan_set_bias(p, bias, err);
        if (st != EP_OK) return st;
    }
    // Layouts describe the stored matrices (before op): rows x cols, column-major.
    const int n = p->q.n;
    EP_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p->a, CUDA_R_16F, q.trans_a ? q.k : q.m, q.trans_a ? q.m : q.k, q.lda),
                    err);
    EP_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p->b, CUDA_R_16F, q.trans_b ? n : q.k, q.trans_b ? q.k : n, q.ldb),
                    err);
    EP_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p->c, p->out32 ? CUDA_R_32F : CUDA_R_16F, q.m, n, q.ldc), err);
    return plan_search(g, p, &p->algo, err);
}

#else
// ----------------------------------------------------------------------------
// The emulation's plan: the problem only; the GEMM runs as cblas_sgemm with its n.

static void plan_clear(gemm_plan *p) { memset(p, 0, sizeof *p); }

static ep_status plan_build(ep_cuda_gemm *g, gemm_plan *p, const gemm_problem &q, const uint16_t *bias,
                            ep_error *err) {
    (void)g;
    (void)bias;
    (void)err;
    p->q = q;
    p->q.n = p->bucket;
    return EP_OK;
}

static ep_status plan_set_n(gemm_plan *p, int n, ep_error *err) {
    (void)err;
    p->q.n = n;
    return EP_OK;
}
#endif

/* The cached plan for q (bias or not), built on a miss; p->q.n is still the last call's. */
static ep_status plan_get(ep_cuda_gemm *g, const gemm_problem &q, const uint16_t *bias, int out32, gemm_plan **out,
                          ep_error *err) {
    const int bucket = token_bucket(q.n), has_bias = bias != nullptr;
    g->clock++;
    gemm_plan *victim = &g->plans[0];
    for (int i = 0; i < EP_GEMM_PLANS; i++) {
        gemm_plan *p = &g->plans[i];
        if (p->m == q.m && p->k == q.k && p->bucket == bucket && p->bias == has_bias && p->out32 == out32) {
            p->last_use = g->clock;
            *out = p;
            return EP_OK;
        }
        if (victim->m != 0 && (p->m == 0 || p->last_use < victim->last_use)) victim = p;
    }
    plan_clear(victim);
    victim->m = q.m;
    victim->k = q.k;
    victim->bucket = bucket;
    victim->bias = has_bias;
    victim->out32 = out32;
    victim->last_use = g->clock;
    const ep_status st = plan_build(g, victim, q, bias, err);
    if (st != EP_OK) {
        plan_clear(victim);
        return st;
    }
    g->stats.plans_built++;
    *out = victim;
    return EP_OK;
}

extern "C" ep_cuda_gemm_stats ep_cuda_gemm_get_stats(const ep_cuda_gemm *g) {
    ep_cuda_gemm_stats s = g->stats;
    s.plans_cached = 0;
    for (int i = 0; i < EP_GEMM_PLANS; i++) s.plans_cached += g->plans[i].m != 0;
    return s;
}

#ifndef EP_CUDA_EMULATION
// ----------------------------------------------------------------------------
// cuBLASLt

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
                                    const uint16_t *bias, int n_tokens, int n_in, int n_out, ep_cuda_stream stream,
                                    ep_error *err) {
    if (n_tokens <= 0) return EP_OK;
    g->stats.calls++;
    const gemm_problem q = linear_problem(n_tokens, n_in, n_out);
    gemm_plan *p = nullptr;
    ep_status st = plan_get(g, q, bias, 0, &p, err);
    if (st == EP_OK) st = plan_set_n(p, n_tokens, err);
    if (st == EP_OK && bias) st = plan_set_bias(p, bias, err);
    if (st != EP_OK) return st;
    const float alpha = 1.0f, beta = 0.0f;
    cublasStatus_t cs = cublasLtMatmul(g->lt, p->op, &alpha, weight, p->a, in, p->b, &beta, out, p->c, out, p->c,
                                       &p->algo, g->workspace, EP_GEMM_WORKSPACE, stream);
    if (cs == CUBLAS_STATUS_NOT_SUPPORTED || cs == CUBLAS_STATUS_INVALID_VALUE) {
        // The bucket's algorithm does not take this n: search for the exact problem (see the top).
        cublasLtMatmulAlgo_t exact;
        st = plan_search(g, p, &exact, err);
        if (st != EP_OK) return st;
        g->stats.algo_fallbacks++;
        cs = cublasLtMatmul(g->lt, p->op, &alpha, weight, p->a, in, p->b, &beta, out, p->c, out, p->c, &exact,
                            g->workspace, EP_GEMM_WORKSPACE, stream);
    }
    EP_CUBLAS_CHECK(cs, err);
    return EP_OK;
}


extern "C" ep_status ep_cuda_gemm_scores(ep_cuda_gemm *g, float *out, const uint16_t *a, const uint16_t *b, int n_a,
                                         int n_b, int dim, ep_cuda_stream stream, ep_error *err) {
    if (n_a <= 0 || n_b <= 0) return EP_OK;
    g->stats.calls++;
    // out[n_a][n_b] = a b^T is ep_cuda_linear's problem with b as the weight and a as the input,
    // the result in fp32: the plan's C layout is CUDA_R_32F (fp16 A and B, fp32 compute and scale).
    const gemm_problem q = linear_problem(n_a, dim, n_b);
    gemm_plan *p = nullptr;
    ep_status st = plan_get(g, q, nullptr, 1, &p, err);
    if (st == EP_OK) st = plan_set_n(p, n_a, err);
    if (st != EP_OK) return st;
    const float alpha = 1.0f, beta = 0.0f;
    cublasStatus_t cs = cublasLtMatmul(g->lt, p->op, &alpha, b, p->a, a, p->b, &beta, out, p->c, out, p->c, &p->algo,
                                       g->workspace, EP_GEMM_WORKSPACE, stream);
    if (cs == CUBLAS_STATUS_NOT_SUPPORTED || cs == CUBLAS_STATUS_INVALID_VALUE) {
        cublasLtMatmulAlgo_t exact;
        st = plan_search(g, p, &exact, err);
        if (st != EP_OK) return st;
        g->stats.algo_fallbacks++;
        cs = cublasLtMatmul(g->lt, p->op, &alpha, b, p->a, a, p->b, &beta, out, p->c, out, p->c, &exact, g->workspace,
                            EP_GEMM_WORKSPACE, stream);
    }
    EP_CUBLAS_CHECK(cs, err);
    return EP_OK;
}

#else
// ----------------------------------------------------------------------------
// Emulation: cblas_sgemm on fp32 copies, queued on the stream like the real call.

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
                                    const uint16_t *bias, int n_tokens, int n_in, int n_out, ep_cuda_stream stream,
                                    ep_error *err) {
    if (n_tokens <= 0) return EP_OK;
    g->stats.calls++;
    gemm_plan *p = nullptr;
    ep_status st = plan_get(g, linear_problem(n_tokens, n_in, n_out), bias, 0, &p, err);
    if (st == EP_OK) st = plan_set_n(p, n_tokens, err);
    if (st != EP_OK) return st;
    // The plan's problem, as cuBLASLt reads the descriptors at the call: a plan whose n was not
    // set for this call computes the wrong number of rows here too.
    const gemm_problem q = p->q;
    const size_t a_elems = (size_t)q.lda * (q.trans_a ? q.m : q.k);
    const size_t b_elems = (size_t)q.ldb * (q.trans_b ? q.k : q.n);
    const size_t c_elems = (size_t)q.ldc * q.n;
    // What cuBLAS would reject or fault on: operands outside device memory.
    if (!ep_emu::is_device_range(weight, a_elems * 2) || !ep_emu::is_device_range(in, b_elems * 2) ||
        !ep_emu::is_device_range(out, c_elems * 2) || (bias && !ep_emu::is_device_range(bias, (size_t)q.m * 2)))
        return ep_error_set(err, EP_ERR_DEVICE, "%s:%d: ep_cuda_linear: an operand (%d x %d x %d%s) is not inside one "
                            "device allocation", __FILE__, __LINE__, q.m, q.n, q.k, bias ? ", bias" : "");
    const __half *A = reinterpret_cast<const __half *>(weight), *B = reinterpret_cast<const __half *>(in);
    const __half *bias_h = reinterpret_cast<const __half *>(bias);
    __half *C = reinterpret_cast<__half *>(out);
    ep_emu::enqueue_host(stream, [=]() {
        std::vector<float> a, b, c(c_elems), bv;
        to_f32(a, A, a_elems);
        to_f32(b, B, b_elems);
        cblas_sgemm(CblasColMajor, q.trans_a ? CblasTrans : CblasNoTrans, q.trans_b ? CblasTrans : CblasNoTrans, q.m,
                    q.n, q.k, 1.0f, a.data(), q.lda, b.data(), q.ldb, 0.0f, c.data(), q.ldc);
        if (bias_h) {
            // CUBLASLT_EPILOGUE_BIAS: the fp16 bias of row i (an output feature) added to the fp32
            // accumulator of every column, before the one rounding.
            to_f32(bv, bias_h, (size_t)q.m);
            for (int j = 0; j < q.n; j++)
                for (int i = 0; i < q.m; i++) c[(size_t)j * q.ldc + i] += bv[(size_t)i];
        }
        for (size_t i = 0; i < c_elems; i++) C[i] = __float2half_rn(c[i]);
    });
    EP_LAUNCH_CHECK(err);
    return EP_OK;
}

extern "C" ep_status ep_cuda_gemm_scores(ep_cuda_gemm *g, float *out, const uint16_t *a, const uint16_t *b, int n_a,
                                         int n_b, int dim, ep_cuda_stream stream, ep_error *err) {
    if (n_a <= 0 || n_b <= 0) return EP_OK;
    g->stats.calls++;
    gemm_plan *p = nullptr;
    ep_status st = plan_get(g, linear_problem(n_a, dim, n_b), nullptr, 1, &p, err);
    if (st == EP_OK) st = plan_set_n(p, n_a, err);
    if (st != EP_OK) return st;
    const gemm_problem q = p->q;
    const size_t a_elems = (size_t)q.lda * (q.trans_a ? q.m : q.k);
    const size_t b_elems = (size_t)q.ldb * (q.trans_b ? q.k : q.n);
    const size_t c_elems = (size_t)q.ldc * q.n;
    if (!ep_emu::is_device_range(b, a_elems * 2) || !ep_emu::is_device_range(a, b_elems * 2) ||
        !ep_emu::is_device_range(out, c_elems * 4))
        return ep_error_set(err, EP_ERR_DEVICE, "%s:%d: ep_cuda_gemm_scores: an operand (%d x %d x %d) is not inside "
                            "one device allocation", __FILE__, __LINE__, q.m, q.n, q.k);
    const __half *A = reinterpret_cast<const __half *>(b), *B = reinterpret_cast<const __half *>(a);
    float *C = out;
    ep_emu::enqueue_host(stream, [=]() {
        // fp16 operands are exact in fp32; the product accumulates in fp32 and is stored unrounded.
        std::vector<float> av, bv;
        to_f32(av, A, a_elems);
        to_f32(bv, B, b_elems);
        cblas_sgemm(CblasColMajor, q.trans_a ? CblasTrans : CblasNoTrans, q.trans_b ? CblasTrans : CblasNoTrans, q.m,
                    q.n, q.k, 1.0f, av.data(), q.lda, bv.data(), q.ldb, 0.0f, C, q.ldc);
    });
    EP_LAUNCH_CHECK(err);
    return EP_OK;
}
#endif

extern "C" size_t ep_cuda_gemm_workspace_bytes(void) { return EP_GEMM_WORKSPACE; }
