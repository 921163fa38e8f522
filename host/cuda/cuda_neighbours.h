/*
 * cuda_neighbours.h - `related` on a GPU: the exact k nearest neighbours of
 * every row, by the rows' product with themselves in cuBLASLt fp16 GEMM tiles
 * (fp32 accumulation and result) and a per-row top-k merge on the device
 * (kernels/topk.cu), in the order of host/explore/neighbours.c: higher score,
 * then the smaller row; a row is never its own neighbour.
 *
 * The rows come through a callback as float16 (the shards' own format), a block
 * at a time, so this layer needs no output-folder reader; device memory stays
 * within the budget whatever the number of rows (more blocks only mean more
 * passes over the rows). Under EP_CUDA_EMULATION (tests only) the function
 * carries an _emu suffix, as the kernels' launchers do.
 */
#ifndef EP_CUDA_NEIGHBOURS_H
#define EP_CUDA_NEIGHBOURS_H

#include "embedpipe.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifdef EP_CUDA_EMULATION
#define ep_cuda_neighbours ep_cuda_neighbours_emu
#endif

/* Fills out (count x dim halves) with rows [first, first + count).
 * @return EP_OK, or an error (err filled) that stops the computation. */
typedef ep_status (*ep_cuda_rows_fn)(void *ctx, uint64_t first, uint64_t count, uint16_t *out, ep_error *err);

typedef struct ep_cuda_neighbours_job {
    int device;           /* CUDA device number */
    uint64_t n_rows;      /* < 2^31 */
    int dim;
    int k;                /* 1..1000 */
    size_t memory_bytes;  /* device memory for row blocks, the score tile and the lists; 0 = 2 GiB */
    ep_cuda_rows_fn read; /* the rows, as float16 */
    void *ctx;
} ep_cuda_neighbours_job;

/* Computes every row's k best neighbours into rows / scores (n_rows x k each,
 * caller-allocated; best first; -1 / NaN where fewer than k other rows exist).
 * *block_rows (may be NULL) gets the rows per block it used.
 * @return EP_OK; EP_ERR_USAGE for a bad k or too many rows; EP_ERR_DEVICE /
 *         EP_ERR_NOMEM from CUDA (the call, file and line in err); the
 *         callback's error. */
ep_status ep_cuda_neighbours(const ep_cuda_neighbours_job *job, int32_t *rows, float *scores, uint64_t *block_rows,
                             ep_error *err);

#ifdef __cplusplus
}
#endif

#endif /* EP_CUDA_NEIGHBOURS_H */
