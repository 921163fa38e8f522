/*
 * neighbours.h - the exact k nearest neighbours of every row of an output
 * folder, by cosine (rows are L2-normalised, so the dot product).
 *
 * A blocked matrix product of the rows with themselves plus a top-k selection:
 * rows are taken in blocks that fit the memory budget (two blocks in float32 and
 * one packed for the GEMM kernel at a time), each pair of blocks in square tiles
 * of 1024 rows whose product is one GEMM (explore_gemm.h: the fast CPU kernel
 * tables) on one thread of the pool; since the product is symmetric only the
 * tiles on and above the diagonal are computed, and each score feeds both its
 * row's list and its column's. Memory: the budget plus the result (rows x k x 8
 * bytes) plus a few MiB per thread, whatever the number of rows (more blocks
 * only mean more passes over the shards). Ties are broken by the smaller row
 * index; a row is never its own neighbour.
 */
#ifndef EP_NEIGHBOURS_H
#define EP_NEIGHBOURS_H

#include "embedpipe.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ep_neighbours_options {
    int k;                 /* neighbours per row, 1..1000 */
    int threads;           /* 0 = ep_default_threads() */
    size_t memory_bytes;   /* for the row blocks; 0 = 2 GiB */
    bool bf16;             /* candidates by a bfloat16 product (AMX, else AVX512-BF16; without AMX it
                            * measured slower than float32 on the Xeon of docs/PERFORMANCE.md),
                            * 2k per row, then re-scored in float32: the scores are exact, a true
                            * neighbour is missed only when rounding pushes it below 2k others. Needs
                            * such a CPU, dim % 32 == 0 and the rows in one block; otherwise float32 */
    const char *device;    /* "cpu", "cuda", "cuda:N" or "auto" (NULL = "cpu"): auto takes CUDA when a
                            * device is usable (and bf16 is not asked for), else the CPU. CUDA:
                            * host/cuda/cuda_neighbours.h, float16 rows, float32 accumulation; memory_bytes
                            * is then the device memory for blocks, tile and lists */
} ep_neighbours_options;

typedef struct ep_neighbours {
    uint64_t n_rows;
    int k;
    int dim;
    int32_t *rows;         /* n_rows x k, best first; -1 where a folder has fewer than k + 1 rows */
    float *scores;         /* n_rows x k; NaN where rows is -1 */
    char note[192];        /* why bf16 was not used when asked for ("" otherwise) */
    bool used_bf16;
    int cuda_device;       /* the CUDA device that computed it; -1: the CPU did */
} ep_neighbours;

/* Computes the k nearest neighbours of every row of the output folder dir
 * (read through the checked output reader).
 * @return EP_OK and *out filled (free with ep_neighbours_free); EP_ERR_USAGE for
 *         a bad k or device (or bf16 on CUDA); EP_ERR_DEVICE when CUDA was asked for
 *         and is not usable (not compiled in, no device: the CUDA error) or fails;
 *         the reader's errors; EP_ERR_NOMEM. */
ep_status ep_neighbours_compute(const char *dir, const ep_neighbours_options *options, ep_neighbours *out,
                                ep_error *err);

/* Frees the arrays of n (and clears it). Accepts NULL. */
void ep_neighbours_free(ep_neighbours *n);

/* Reads rows [first, first + count) of dir's shards as float32 (count x dim),
 * through the checked reader r. Used by the other explore commands too.
 * @return EP_OK, or the reader's error. */
struct ep_output_reader;
ep_status ep_explore_read_rows(struct ep_output_reader *r, uint64_t first, uint64_t count, float *out, ep_error *err);

#ifdef __cplusplus
}
#endif

#endif /* EP_NEIGHBOURS_H */
