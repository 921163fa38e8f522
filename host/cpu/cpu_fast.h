/*
 * cpu_fast.h - the fast CPU path: instruction-set detection, kernels chosen
 * at run time, and the backend built from them.
 *
 * The plain reference (cpu_ops.c, backend_cpu.c) stays the oracle; every
 * kernel here is tested against it op by op (tests/host/cpu/test_cpu_fast.c) and
 * end to end (tests/host/cpu/test_cpu_fast_conformance.c).
 *
 * Why it is faster than the reference (measured in docs/PERFORMANCE.md):
 *  - one pool of `threads` threads (the caller is one of them) and no BLAS
 *    threads: each thread takes whole chunks of sequences (~256 tokens) from
 *    an atomic counter and runs all layers on them, so there is no barrier
 *    inside a batch and a chunk's activations stay in the core's L2 cache;
 *  - weights packed once at start-up into the GEMM kernel's panel layout;
 *  - bias and GELU fused into the GEMM's store, residual + LayerNorm in one
 *    pass, attention per (sequence, head) over a transposed key block with a
 *    vectorised exp;
 *  - bf16: AMX tiles with float32 accumulation, or AVX512-BF16 dot products where
 *    they were measured to pay (cpu_choice.c says where and why);
 *  - int8: vpdpbusd GEMMs over per-channel int8 weights and per-token int8
 *    activations (cpu_int8.h); in both, the residual stream, LayerNorm, softmax
 *    and GELU stay float32.
 * The AVX2, AVX-512 and AMX code is compiled with function-level target attributes
 * and only called after cpuid says the instructions (and the OS state for
 * AMX) are there, so the binary still runs on any x86-64.
 */
#ifndef EP_CPU_FAST_H
#define EP_CPU_FAST_H

#include "backend.h"
#include "embedpipe.h"
#include "model.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// ----------------------------------------------------------------------------
// What this CPU can do

typedef struct ep_cpu_features {
    bool avx2_fma;     /* AVX2 + FMA (Haswell, Zen 1 and later) */
    bool avx512;       /* AVX-512 F, BW, VL, DQ, with the OS saving zmm state */
    bool avx512_vnni;  /* AVX512_VNNI: vpdpbusd on zmm (Cascade Lake, Ice Lake, Zen 4 and later) */
    bool avx512_bf16;  /* AVX512_BF16: vdpbf16ps, vcvtne2ps2bf16 (Cooper Lake, Sapphire Rapids, Zen 4) */
    bool amx_bf16;     /* AMX-TILE + AMX-BF16, and the kernel granted this process the tile state */
    char model[128];   /* the CPU's brand string, e.g. "AMD Ryzen 9 7950X 16-Core Processor" */
    char vendor[13];   /* cpuid's vendor string: "AuthenticAMD", "GenuineIntel", "" elsewhere */
    int family;        /* cpuid's display family (base + extended): 0x19 Zen 3/4, 0x1a Zen 5, 6 Intel Core/Xeon */
    char capped[32];   /* the EMBEDPIPE_CPU_ISA value that capped these flags ("" if none) */
} ep_cpu_features;

/* Detects the features once (cpuid, xgetbv, and for AMX the arch_prctl
 * permission request) and caches them. The environment variable
 * EMBEDPIPE_CPU_ISA=generic|avx2|avx512|avx512-vnni|avx512-bf16 caps what is
 * reported (each level keeps what it names and the levels below it), to test the
 * fallbacks and refusals on a CPU that has more.
 * @return the cached features (never NULL). */
const ep_cpu_features *ep_cpu_features_get(void);

// ----------------------------------------------------------------------------
// Kernels: one table per instruction-set level, all over the packed layout of
// cpu_ops.h (float32 rows [T][width], sequences given by seq_start).

/* A weight matrix W [n][k] (Hugging Face [out][in] layout) packed for one kernel table. */
typedef struct ep_packed {
    int n, k;
    int bf16;           /* 1: bfloat16 panels (bf16 GEMM), 0: float32 */
    const void *panels; /* what the kernel reads (`owned`) */
    void *owned;        /* 64-byte aligned, or NULL */
} ep_packed;

/* Epilogue of a linear layer, applied to each output value before it is stored. */
enum { EP_ACT_NONE = 0, EP_ACT_GELU = 1 };

typedef struct ep_cpu_kernels {
    const char *name;   /* "generic", "avx2", "avx512", "avx512-vnni", "avx512-bf16", "amx" */
    int bf16;           /* 1: linear() reads bfloat16 activations (a_bf16) */
    int int8;           /* 1: linear() quantises its float32 activations to int8 itself (cpu_int8.h) */
    /* Packs W [n][k] into dst (zeroed first). @return EP_OK, or EP_ERR_NOMEM / EP_ERR_USAGE
     * when the shape does not suit this table (n or k not a multiple of 32 where needed). */
    ep_status (*pack)(ep_packed *dst, const float *w, int n, int k, ep_error *err);
    /* out[M][N] (row stride ldo) = act(A[M][K] * W^T + bias). A is float32 (a, stride lda)
     * for float32 tables and bfloat16 (a_bf16, stride lda) for bf16 tables; for bf16 tables
     * A must have room for M rounded up to 16 rows (the extra rows are read, not used).
     * out_bf16 (stride ldo, may be NULL) also gets the result rounded to bfloat16; out
     * may be NULL when out_bf16 is not. `scratch` holds linear_scratch(M, max(K, N)) floats, 64-byte
     * aligned. */
    void (*linear)(float *out, uint16_t *out_bf16, int ldo, const float *a, const uint16_t *a_bf16, int lda,
                   const ep_packed *w, const float *bias, int M, int act, float *scratch);
    /* @return floats of scratch linear() needs for up to max_m rows when no K or N exceeds max_width. */
    size_t (*linear_scratch)(int max_m, int max_width);
    /* Same contract as ep_cpu_attention; scratch holds attention_scratch(max_len, hidden, n_heads) floats. */
    void (*attention)(float *out, const float *qkv, const int32_t *seq_start, int n_seqs, int hidden, int n_heads,
                      float *scratch);
    /* x[t] = LayerNorm(x[t] + residual[t]) as ep_cpu_residual_layernorm; x_bf16 (may be NULL)
     * also gets the result in bfloat16 (row stride hidden). */
    void (*residual_layernorm)(float *x, uint16_t *x_bf16, const float *residual, const float *gamma,
                               const float *beta, int T, int hidden, float eps);
    /* As ep_cpu_embed_layernorm (pad_id included), with the same optional bfloat16 copy. */
    void (*embed_layernorm)(float *out, uint16_t *out_bf16, const int32_t *ids, const int32_t *seq_start,
                            int n_seqs, const float *word_emb, const float *pos_emb, const float *type_emb,
                            const float *gamma, const float *beta, int hidden, float eps, int pad_id);
    /* As ep_cpu_pool_normalize. */
    void (*pool_normalize)(float *out, const float *x, const int32_t *seq_start, int n_seqs, int hidden,
                           int pooling, int normalize);
    /* dst[i] = bfloat16(src[i]), round to nearest even, n values. */
    void (*to_bf16)(uint16_t *dst, const float *src, size_t n);
} ep_cpu_kernels;

/* @return floats of attention scratch for sequences up to max_len tokens. */
size_t ep_cpu_attention_scratch(int max_len, int hidden, int n_heads);

/* The vector attention kernels' layout of that scratch for one sequence of L
 * tokens: one head's keys transposed to kt[D][Lp] (Lp = L rounded up to 16,
 * zero past L so that full-width loads read zeros), then, on a 64-byte
 * boundary, four rows of Lp scores. The same layout for every ISA, so that
 * ep_cpu_attention_scratch sizes it once. */
typedef struct ep_attention_block {
    float *kt;      /* [D][Lp] */
    float *scores;  /* [4][Lp] */
    int Lp;
} ep_attention_block;

/* @return the block for a sequence of L tokens with heads of D floats in scratch. */
ep_attention_block ep_attention_block_at(float *scratch, int D, int L);

/* Copies head h's keys of the sequence's L tokens into b->kt, transposed, and
 * zeroes the padding. qkv rows are [Q | K | V], 3 * hidden floats each,
 * starting at the sequence's first token. */
void ep_attention_load_keys(const ep_attention_block *b, const float *qkv, int hidden, int h, int D, int L);

/* One group of up to four queries of one head of one sequence: what an ISA's
 * group function needs for the scores, the softmax and the weighted sum. */
typedef struct ep_attention_group {
    const ep_attention_block *blk; /* keys of this head, transposed; scores [4][Lp] */
    const float *q[4];             /* query rows; past nq they repeat the first */
    const float *v0;               /* token 0's value row of this head; token j's at v0 + j * stride */
    float *out;                    /* the first query's output for this head; query r's at out + r * hidden */
    size_t stride;                 /* floats from one token's qkv row to the next (3 * hidden) */
    int nq, L, D, hidden;
    float scale; /* 1 / sqrt(D) */
} ep_attention_group;

/* Computes one group's outputs (scores, softmax, P V) with one ISA's vectors. */
typedef void (*ep_attention_group_fn)(const ep_attention_group *g);

/* The attention skeleton the vector tables share: per sequence, per head (keys
 * loaded with ep_attention_load_keys), per group of four queries, calls group.
 * Heads whose width is not a multiple of 16 up to 256 go to ep_cpu_attention.
 * Same contract as ep_cpu_attention otherwise; scratch as attention_scratch sizes it. */
void ep_attention_by_groups(float *out, const float *qkv, const int32_t *seq_start, int n_seqs, int hidden, int n_heads,
                            float *scratch, ep_attention_group_fn group);

/* The kernel tables. Each returns NULL when this CPU (as ep_cpu_features_get
 * reports it, EMBEDPIPE_CPU_ISA included) cannot run it. The generic table
 * always exists: plain C, with a GEMM of its own. Every table is batch
 * invariant: a text's vector has the same bits alone and in any batch.
 * avx2: AVX2 + FMA (+ F16C), the fp32 table for CPUs without AVX-512.
 * @return the table or NULL. */
const ep_cpu_kernels *ep_cpu_kernels_generic(void);
const ep_cpu_kernels *ep_cpu_kernels_avx2(void);
const ep_cpu_kernels *ep_cpu_kernels_avx512(void);
const ep_cpu_kernels *ep_cpu_kernels_avx512_bf16(void);
const ep_cpu_kernels *ep_cpu_kernels_amx(void);
/* avx512-vnni: int8 GEMMs on vpdpbusd (cpu_fast_int8.c), the AVX-512 float32 ops elsewhere. */
const ep_cpu_kernels *ep_cpu_kernels_avx512_vnni(void);

/* Fills a table's non-GEMM ops with the AVX-512 ones (the bf16 tables share them). */
void ep_avx512_ops(ep_cpu_kernels *k);

/* Frees a packed matrix's data (the struct itself is the caller's). Accepts NULL. */
void ep_packed_free(ep_packed *p);

/* @return a 64-byte aligned, zeroed block of n bytes, or NULL (free with free()). */
void *ep_aligned_calloc(size_t n);

/* float -> bfloat16 bits, round to nearest even (NaN stays NaN). @return the bits. */
static inline uint16_t ep_f32_to_bf16(float f) {
    union { float f; uint32_t u; } v = {f};
    if ((v.u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((v.u >> 16) | 0x40u);
    return (uint16_t)((v.u + 0x7fffu + ((v.u >> 16) & 1u)) >> 16);
}
/* @return the float value of bfloat16 bits. */
static inline float ep_bf16_to_f32(uint16_t h) {
    union { uint32_t u; float f; } v = {(uint32_t)h << 16};
    return v.f;
}

// ----------------------------------------------------------------------------
// The backend

typedef enum ep_cpu_precision {
    EP_CPU_PRECISION_FP32 = 0, /* float32 everywhere (AVX-512 kernels, else AVX2, else the generic table) */
    EP_CPU_PRECISION_BF16 = 1, /* bfloat16 GEMM inputs, float32 accumulation (AMX; see ep_cpu_pick_kernels) */
    EP_CPU_PRECISION_INT8 = 2  /* int8 GEMMs, float32 epilogue and everything else (VNNI; cpu_int8.h) */
} ep_cpu_precision;

/* @return true when the model's shape suits the fast kernels (hidden and intermediate
 * sizes multiples of 32, hidden divisible by the head count): every BERT-family model
 * published so far. ep_backend_create runs "fp32" on the plain backend otherwise. */
bool ep_cpu_fast_supports(const ep_model *model);

/* @return the fp32 table the backend runs on this CPU: avx512, else avx2, else generic. */
const ep_cpu_kernels *ep_cpu_kernels_best_fp32(void);

/* The table the backend runs for a precision on this CPU (cpu_choice.c says which and why).
 * bf16 is offered on AMX, and with AVX512-BF16 alone only on CPU families where it was
 * measured to pay (AMD Zen 5; on an Intel Xeon it was slower than fp32); int8 where it
 * meets its accuracy bar and was measured 1.5x the precision below it.
 * @return EP_OK and *out; EP_ERR_DEVICE naming why not and what this CPU offers instead. */
ep_status ep_cpu_pick_kernels(ep_cpu_precision precision, const ep_cpu_kernels **out, ep_error *err);

/* What precision "auto" runs on this CPU: the fastest offered one whose minimum cosine
 * against sentence-transformers is >= 0.999 (so not int8: see ep_cpu_int8_min_cosine).
 * why (may be NULL) gets a one-line reason.
 * @return the precision. */
ep_cpu_precision ep_cpu_auto_precision(char *why, size_t cap);

/* int8's minimum and mean cosine against sentence-transformers fp32 on the fixture's tweets,
 * as test_cpu_int8_conformance measures them (the same on every CPU that runs the table). */
extern const double ep_cpu_int8_min_cosine, ep_cpu_int8_mean_cosine;

/* One kernel table as `embedpipe info` shows it. */
typedef struct ep_cpu_table_info {
    const char *name;      /* "amx", "avx512-vnni", "avx512-bf16", "avx512", "avx2", "generic" */
    const char *precision; /* "bf16", "int8" or "fp32" */
    bool runs;             /* this CPU (EMBEDPIPE_CPU_ISA included) can execute it */
    bool offered;          /* the backend picks it for its precision */
    char why[400];
} ep_cpu_table_info;

enum { EP_CPU_N_TABLES = 6 };

/* Fills out[] with every table, fastest first. @return EP_CPU_N_TABLES. */
int ep_cpu_tables_describe(ep_cpu_table_info out[EP_CPU_N_TABLES]);

/* Creates the fast CPU backend. threads <= 0 means all cores. kernels == NULL picks the
 * best table for the precision; a table given explicitly is used as is (tests).
 * @return EP_OK and *out; EP_ERR_DEVICE with a message naming the missing instruction set
 *         when this CPU cannot run the precision; EP_ERR_USAGE when the model's shape does
 *         not suit the kernels (hidden or intermediate not a multiple of 32). */
ep_status ep_backend_cpu_fast_create(const ep_model *model, int threads, ep_cpu_precision precision,
                                     const ep_cpu_kernels *kernels, ep_backend **out, ep_error *err);

#ifdef __cplusplus
}
#endif

#endif /* EP_CPU_FAST_H */
