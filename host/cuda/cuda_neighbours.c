/* cuda_neighbours.c - `related` on a GPU: blocked GEMM tiles plus a device top-k; see cuda_neighbours.h. */
#include "cuda_neighbours.h"

#include "ep_cuda_runtime.h"

#include <stdlib.h>
#include <string.h>

/* The largest block: its score tile (rows x rows fp32) is 1 GiB. */
#define EP_CUDA_NB_MAX_BLOCK 16384
#define EP_CUDA_NB_MIN_BLOCK 256

/* Device bytes for blocks of `block` rows: two fp16 row blocks, the fp32 tile, the lists. */
static size_t block_bytes(uint64_t block, int dim, int k) {
    return 2 * (size_t)block * (size_t)dim * 2 + (size_t)block * (size_t)block * 4 + (size_t)block * (size_t)k * 8;
}

/* Rows per block: as many as the budget holds (so one block, one pass over the rows, where they fit). */
static uint64_t choose_block(uint64_t n, int dim, int k, size_t budget) {
    uint64_t block = n < EP_CUDA_NB_MAX_BLOCK ? n : EP_CUDA_NB_MAX_BLOCK;
    while (block > EP_CUDA_NB_MIN_BLOCK && block_bytes(block, dim, k) > budget)
        block = (block + 1) / 2 > EP_CUDA_NB_MIN_BLOCK ? (block + 1) / 2 : EP_CUDA_NB_MIN_BLOCK;
    return block ? block : 1;
}

typedef struct nb_state {
    ep_cuda_gemm *gemm;
    ep_cuda_stream stream;
    uint16_t *d_a, *d_b; /* row blocks, fp16 */
    float *d_tile;       /* block x block scores */
    int32_t *d_rows;     /* block x k: the lists of block a's rows */
    float *d_scores;
    uint16_t *host;      /* one block of rows as read */
} nb_state;

static void nb_free(nb_state *s) {
    if (s->stream) cudaStreamDestroy((cudaStream_t)s->stream);
    cudaFree(s->d_a);
    cudaFree(s->d_b);
    cudaFree(s->d_tile);
    cudaFree(s->d_rows);
    cudaFree(s->d_scores);
    ep_cuda_gemm_free(s->gemm);
    free(s->host);
}

/* Reads rows [first, first + count) and uploads them to dst. */
static ep_status upload(const ep_cuda_neighbours_job *job, nb_state *s, uint64_t first, uint64_t count, uint16_t *dst,
                        ep_error *err) {
    ep_status st = job->read(job->ctx, first, count, s->host, err);
    if (st != EP_OK) return st;
    EP_CUDA_CHECK(cudaMemcpy(dst, s->host, (size_t)count * (size_t)job->dim * 2, cudaMemcpyHostToDevice), err);
    return EP_OK;
}

ep_status ep_cuda_neighbours(const ep_cuda_neighbours_job *job, int32_t *rows, float *scores, uint64_t *block_rows,
                             ep_error *err) {
    const uint64_t n = job->n_rows;
    const int k = job->k, dim = job->dim;
    if (k < 1 || k > 1000) return ep_error_set(err, EP_ERR_USAGE, "related: k must be between 1 and 1000");
    if (n >= ((uint64_t)1 << 31))
        return ep_error_set(err, EP_ERR_USAGE, "related: %llu rows: the CUDA path numbers rows in 32 bits",
                            (unsigned long long)n);
    const size_t budget = job->memory_bytes ? job->memory_bytes : ((size_t)2 << 30);
    const uint64_t block = choose_block(n, dim, k, budget);
    if (block_rows) *block_rows = block;
    if (n == 0) return EP_OK;
    nb_state s;
    memset(&s, 0, sizeof s);
    ep_status st = EP_OK;
    cudaStream_t stream = NULL;
    const size_t row_bytes = (size_t)block * (size_t)dim * 2;
    EP_CUDA_CHECK_GOTO(cudaSetDevice(job->device), err, st, done);
    st = ep_cuda_gemm_create(&s.gemm, err);
    if (st != EP_OK) goto done;
    EP_CUDA_CHECK_GOTO(cudaStreamCreate(&stream), err, st, done);
    s.stream = (ep_cuda_stream)stream;
    EP_CUDA_CHECK_GOTO(cudaMalloc((void **)&s.d_a, row_bytes), err, st, done);
    if (block < n) EP_CUDA_CHECK_GOTO(cudaMalloc((void **)&s.d_b, row_bytes), err, st, done);
    EP_CUDA_CHECK_GOTO(cudaMalloc((void **)&s.d_tile, (size_t)block * (size_t)block * 4), err, st, done);
    EP_CUDA_CHECK_GOTO(cudaMalloc((void **)&s.d_rows, (size_t)block * (size_t)k * 4), err, st, done);
    EP_CUDA_CHECK_GOTO(cudaMalloc((void **)&s.d_scores, (size_t)block * (size_t)k * 4), err, st, done);
    if (!(s.host = malloc(row_bytes))) {
        st = ep_error_set(err, EP_ERR_NOMEM, "related: out of host memory for a block of %llu rows",
                          (unsigned long long)block);
        goto done;
    }
    // Every tile is computed (not only those above the diagonal as on the CPU): a block's lists stay
    // on the device until all its columns are seen, and the GEMM is cheap next to the selection.
    for (uint64_t a0 = 0; a0 < n && st == EP_OK; a0 += block) {
        const uint64_t a_rows = n - a0 < block ? n - a0 : block;
        st = upload(job, &s, a0, a_rows, s.d_a, err);
        if (st != EP_OK) break;
        // all bytes 0xff: rows -1 (empty), scores NaN
        EP_CUDA_CHECK_GOTO(cudaMemsetAsync(s.d_rows, 0xff, (size_t)a_rows * (size_t)k * 4, stream), err, st, done);
        EP_CUDA_CHECK_GOTO(cudaMemsetAsync(s.d_scores, 0xff, (size_t)a_rows * (size_t)k * 4, stream), err, st, done);
        for (uint64_t b0 = 0; b0 < n && st == EP_OK; b0 += block) {
            const uint64_t b_rows = n - b0 < block ? n - b0 : block;
            const uint16_t *d_cols = s.d_a;
            if (b0 != a0) {
                // the previous tile's GEMM may still read d_b
                EP_CUDA_CHECK_GOTO(cudaStreamSynchronize(stream), err, st, done);
                st = upload(job, &s, b0, b_rows, s.d_b, err);
                d_cols = s.d_b;
            }
            if (st == EP_OK)
                st = ep_cuda_gemm_scores(s.gemm, s.d_tile, s.d_a, d_cols, (int)a_rows, (int)b_rows, dim, s.stream, err);
            if (st == EP_OK)
                st = ep_cuda_topk_merge(s.d_rows, s.d_scores, s.d_tile, (int)a_rows, (int)b_rows, (int64_t)a0,
                                        (int64_t)b0, k, s.stream, err);
        }
        if (st != EP_OK) break;
        EP_CUDA_CHECK_GOTO(cudaStreamSynchronize(stream), err, st, done);
        EP_CUDA_CHECK_GOTO(cudaMemcpy(rows + a0 * (uint64_t)k, s.d_rows, (size_t)a_rows * (size_t)k * 4,
                                      cudaMemcpyDeviceToHost),
                           err, st, done);
        EP_CUDA_CHECK_GOTO(cudaMemcpy(scores + a0 * (uint64_t)k, s.d_scores, (size_t)a_rows * (size_t)k * 4,
                                      cudaMemcpyDeviceToHost),
                           err, st, done);
    }
done:
    nb_free(&s);
    return st;
}
