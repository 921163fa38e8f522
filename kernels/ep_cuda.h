/*
 * ep_cuda.h - the CUDA kernels' launchers, callable from plain C.
 *
 * No CUDA type appears here: device pointers are plain pointers (half
 * precision as uint16_t bits), a stream is an opaque ep_cuda_stream (the same
 * pointer as a cudaStream_t). Every launcher checks its launch and returns an
 * ep_status with err filled (file, line, call); kernels run asynchronously on
 * the stream, so their own faults surface at the next synchronisation.
 *
 * Layouts (T = tokens of the packed batch, H = hidden, D = head size, nh = heads):
 *   activations  [T][width] row-major fp16
 *   qkv          [T][3H] fp16, the QKV GEMM's output (bias included): row t holds query,
 *                key, value, each [nh][D]; attention reads it in place
 *   seq_start    [n_seqs + 1] int32 on the device, as in ep_batch
 *   biases, LayerNorm gamma/beta: fp32; weights and embedding tables: fp16
 *
 * Under EP_CUDA_EMULATION the same functions are built from the same sources
 * for the CPU emulation (kernels/emu/) and carry an _emu suffix, so one test
 * program can hold both worlds without a clash.
 */
#ifndef EP_CUDA_H
#define EP_CUDA_H

#include "embedpipe.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifdef EP_CUDA_EMULATION
#define ep_cuda_device_count ep_cuda_device_count_emu
#define ep_cuda_probe ep_cuda_probe_emu
#define ep_cuda_check_fail ep_cuda_check_fail_emu
#define ep_cuda_embed_layernorm ep_cuda_embed_layernorm_emu
#define ep_cuda_attention ep_cuda_attention_emu
#define ep_cuda_bias_residual_layernorm ep_cuda_bias_residual_layernorm_emu
#define ep_cuda_bias_gelu ep_cuda_bias_gelu_emu
#define ep_cuda_pool_normalize ep_cuda_pool_normalize_emu
#define ep_cuda_pool ep_cuda_pool_emu
#define ep_cuda_bias_activation ep_cuda_bias_activation_emu
#define ep_cuda_rows_normalize ep_cuda_rows_normalize_emu
#define ep_cuda_gemm_create ep_cuda_gemm_create_emu
#define ep_cuda_gemm_free ep_cuda_gemm_free_emu
#define ep_cuda_gemm_workspace_bytes ep_cuda_gemm_workspace_bytes_emu
#define ep_cuda_linear ep_cuda_linear_emu
#define ep_cuda_gemm_get_stats ep_cuda_gemm_get_stats_emu
#define ep_cuda_supports ep_cuda_supports_emu
#define ep_cuda_gemm_scores ep_cuda_gemm_scores_emu
#define ep_cuda_topk_merge ep_cuda_topk_merge_emu
#endif

typedef struct CUstream_st *ep_cuda_stream;
typedef struct ep_cuda_gemm ep_cuda_gemm;

/* @return the number of CUDA devices; 0 when there is no driver or no device
 * (ep_cuda_probe says which). */
int ep_cuda_device_count(void);

/* Asks the CUDA runtime for devices. *driver_version (may be NULL) gets the
 * driver's CUDA version as cudaDriverGetVersion reports it (12020 = 12.2;
 * 0 = no driver installed).
 * @return EP_OK with *count >= 1; else EP_ERR_DEVICE, *count = 0, and err
 *         saying why no device is usable: the CUDA error's name and text
 *         (cudaErrorInsufficientDriver: the driver's and the runtime's CUDA
 *         versions; cudaErrorNoDevice: no GPU). */
ep_status ep_cuda_probe(int *count, int *driver_version, ep_error *err);

/* @return EP_OK when the kernels support this shape (hidden a multiple of 64 up
 * to 1024, head size 32 or 64, intermediate a multiple of 8); else EP_ERR_MODEL
 * with err saying what is unsupported. */
ep_status ep_cuda_supports(int hidden, int n_heads, int intermediate, ep_error *err);

/* out[t] = LayerNorm(word[ids[t]] + pos[position of t] + type[0]): the position is t's offset in its
 * sequence (pad_id < 0, BERT), or for RoBERTa (pad_id >= 0) pad_id + the number of non-padding tokens
 * up to t (pad_id itself for a padding token), as host/cpu/cpu_ops.h's ep_cpu_position.
 * The host has checked ids < vocab and sequence lengths against the position table. */
ep_status ep_cuda_embed_layernorm(uint16_t *out, const int32_t *ids, const int32_t *seq_start, int n_seqs,
                                  int n_tokens, const uint16_t *word_emb, const uint16_t *pos_emb,
                                  const uint16_t *type_emb, const float *gamma, const float *beta, int hidden,
                                  float eps, int pad_id, ep_cuda_stream stream, ep_error *err);

/* out[t][h*D + d] = softmax(Q K^T / sqrt(D)) V per sequence and head (keys of its
 * own sequence only), Q, K, V read straight from qkv [T][3H] (the QKV GEMM's output,
 * bias added in its epilogue). max_seq_len <= 512 (the longest sequence of the batch). */
ep_status ep_cuda_attention(uint16_t *out, const uint16_t *qkv, const int32_t *seq_start, int n_seqs, int n_tokens,
                            int max_seq_len, int hidden, int n_heads, ep_cuda_stream stream, ep_error *err);

/* x[t] = LayerNorm(y[t] + bias + x[t]) in place (the residual is x). */
ep_status ep_cuda_bias_residual_layernorm(uint16_t *x, const uint16_t *y, const float *bias, const float *gamma,
                                          const float *beta, int n_tokens, int hidden, float eps,
                                          ep_cuda_stream stream, ep_error *err);

/* y = gelu(y + bias) in place, exact erf form; y is [n_tokens][width]. */
ep_status ep_cuda_bias_gelu(uint16_t *y, const float *bias, int n_tokens, int width, ep_cuda_stream stream,
                            ep_error *err);

/* Row i of out16 (and of out32 when not NULL) = pool(x over sequence i),
 * L2-normalised when normalize; pooling 0 = mean, 1 = first ([CLS]) token. */
ep_status ep_cuda_pool_normalize(uint16_t *out16, float *out32, const uint16_t *x, const int32_t *seq_start,
                                 int n_seqs, int hidden, int pooling, int normalize, ep_cuda_stream stream,
                                 ep_error *err);

/* The head after the encoder when it is more than one mean or CLS pooling (kernels/head.cu; reference
 * host/cpu/cpu_head.c). Pooling modes and activations are numbered as host/model/model.h's ep_pooling
 * (0 mean, 1 cls, 2 max, 3 mean_sqrt_len_tokens, 4 weightedmean, 5 lasttoken) and ep_activation
 * (0 identity, 1 tanh, 2 relu, 3 gelu (erf), 4 sigmoid, 5 silu). */

/* Row i of out32 and/or out16 (either may be NULL) = modes[0..n_modes) of sequence i concatenated,
 * [n_seqs][n_modes * hidden], the first skip tokens of each sequence left out (include_prompt false)
 * as ep_cpu_pooling does. */
ep_status ep_cuda_pool(float *out32, uint16_t *out16, const uint16_t *x, const int32_t *seq_start, int n_seqs,
                       int hidden, const int *modes, int n_modes, int skip, ep_cuda_stream stream, ep_error *err);

/* y = act(y + bias) in place, y [n_rows][width] fp16; bias fp32 or NULL. */
ep_status ep_cuda_bias_activation(uint16_t *y, const float *bias, int n_rows, int width, int act,
                                  ep_cuda_stream stream, ep_error *err);

/* out16 (and out32 when not NULL) [n_rows][dim] = the first dim values of each row of the input
 * (in32 [n_rows][in_width] fp32, or in16 fp16: exactly one), L2-normalised when normalize. */
ep_status ep_cuda_rows_normalize(uint16_t *out16, float *out32, const float *in32, const uint16_t *in16, int n_rows,
                                 int in_width, int dim, int normalize, ep_cuda_stream stream, ep_error *err);

/* The GEMM context (kernels/gemm.cu): cuBLASLt handle and a device workspace.
 * @return EP_OK and *out; EP_ERR_NOMEM / EP_ERR_DEVICE on failure. */
ep_status ep_cuda_gemm_create(ep_cuda_gemm **out, ep_error *err);
void ep_cuda_gemm_free(ep_cuda_gemm *g);
/* @return the device bytes a GEMM context holds (its workspace). */
size_t ep_cuda_gemm_workspace_bytes(void);

/* out[T][n_out] = in[T][n_in] * weight^T (+ bias), weight [n_out][n_in] (Hugging Face
 * layout); fp16 in and out, fp32 accumulation, tensor cores. bias: NULL, or n_out fp16
 * values added to the fp32 accumulator in cuBLASLt's epilogue (CUBLASLT_EPILOGUE_BIAS)
 * before the one rounding - where the next kernel does not add it for free anyway. */
ep_status ep_cuda_linear(ep_cuda_gemm *g, uint16_t *out, const uint16_t *in, const uint16_t *weight,
                         const uint16_t *bias, int n_tokens, int n_in, int n_out, ep_cuda_stream stream,
                         ep_error *err);

/* out[n_a][n_b] = a[n_a][dim] * b[n_b][dim]^T: fp16 rows in, fp32 accumulation and
 * fp32 result (the scores of `related`: one tile of the rows' product with themselves). */
ep_status ep_cuda_gemm_scores(ep_cuda_gemm *g, float *out, const uint16_t *a, const uint16_t *b, int n_a, int n_b,
                              int dim, ep_cuda_stream stream, ep_error *err);

/* Merges one tile of scores into running per-row top-k lists (kernels/topk.cu).
 * scores [n_rows][n_cols] fp32: row i is global row row0 + i, column j global row
 * col0 + j; a row is never its own neighbour. best_rows / best_scores [n_rows][k]
 * hold each row's best so far, best first (higher score, then the smaller row),
 * row -1 for an empty slot (start them as all bytes 0xff: rows -1, scores NaN);
 * they stay so ordered. k 1..1000. */
ep_status ep_cuda_topk_merge(int32_t *best_rows, float *best_scores, const float *scores, int n_rows, int n_cols,
                             int64_t row0, int64_t col0, int k, ep_cuda_stream stream, ep_error *err);

/* What a GEMM context's plan cache did (for tests and profiling). */
typedef struct ep_cuda_gemm_stats {
    uint64_t calls;          /* ep_cuda_linear and ep_cuda_gemm_scores calls with work */
    uint64_t plans_built;    /* algorithm searches for a new (shape, token bucket, bias) plan */
    uint64_t algo_fallbacks; /* calls whose bucket algorithm cuBLASLt refused, searched again exactly */
    int plans_cached;        /* plans held now */
} ep_cuda_gemm_stats;

/* @return g's counters since creation. */
ep_cuda_gemm_stats ep_cuda_gemm_get_stats(const ep_cuda_gemm *g);

/* Turns a failed CUDA runtime call into an ep_status (EP_ERR_NOMEM for out of
 * memory, else EP_ERR_DEVICE) with "file:line: call: name (text)" in err; under
 * emulation the first emulation finding is appended. @return that status. */
ep_status ep_cuda_check_fail(ep_error *err, int cuda_error, const char *call, const char *file, int line);

#ifdef __cplusplus
}
#endif

#endif /* EP_CUDA_H */
