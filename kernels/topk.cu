/*
 * topk.cu - `related`'s selection: merges one tile of fp32 scores into every
 * row's running top-k list (best first: higher score, then the smaller row,
 * exactly the order of host/explore/neighbours.c).
 *
 * One block per row of the tile. The tile's columns are taken in chunks of
 * EP_TOPK_CHUNK; a column is a candidate only when it beats the row's k-th entry
 * (after the first chunks almost none do), the candidates are compacted in
 * shared memory (a per-thread count and one scan: no atomics, so the order of
 * candidates is fixed), sorted by a bitonic network, and merged with the list
 * by ranks: an entry's new place is its old place plus the number of entries of
 * the other list that beat it (binary search; no two entries are equal, since
 * the row numbers differ), and only places < k are kept.
 */
#include "common.cuh"

#define EP_TOPK_THREADS 256
#define EP_TOPK_PER_THREAD 4
#define EP_TOPK_CHUNK (EP_TOPK_THREADS * EP_TOPK_PER_THREAD) /* columns a pass looks at */
#define EP_TOPK_MAX_K 1000

// a beats b: higher score, then the smaller row; an empty slot (row -1) is beaten by any entry.
static __device__ __forceinline__ bool topk_better(float s, int32_t r, float s2, int32_t r2) {
    if (r2 < 0) return r >= 0;
    if (r < 0) return false;
    return s > s2 || (s == s2 && r < r2);
}

static __global__ void __launch_bounds__(EP_TOPK_THREADS)
    topk_merge_kernel(int32_t *best_rows, float *best_scores, const float *scores, int n_cols, long long row0,
                      long long col0, int k) {
    EP_SHARED(float, list_s, EP_TOPK_MAX_K);
    EP_SHARED(int32_t, list_r, EP_TOPK_MAX_K);
    EP_SHARED(float, next_s, EP_TOPK_MAX_K);
    EP_SHARED(int32_t, next_r, EP_TOPK_MAX_K);
    EP_SHARED(float, cand_s, EP_TOPK_CHUNK);
    EP_SHARED(int32_t, cand_r, EP_TOPK_CHUNK);
    EP_SHARED(int, offset, EP_TOPK_THREADS + 1);
    const int i = blockIdx.x, tid = threadIdx.x;
    const int32_t self = (int32_t)(row0 + i);
    const float *row = scores + (size_t)i * (size_t)n_cols;
    int32_t *g_rows = best_rows + (size_t)i * (size_t)k;
    float *g_scores = best_scores + (size_t)i * (size_t)k;
    for (int e = tid; e < k; e += EP_TOPK_THREADS) {
        list_s[e] = g_scores[e];
        list_r[e] = g_rows[e];
    }
    __syncthreads();
    for (int c0 = 0; c0 < n_cols; c0 += EP_TOPK_CHUNK) {
        // 1. Which of this thread's columns beat the k-th entry.
        const float worst_s = list_s[k - 1];
        const int32_t worst_r = list_r[k - 1];
        float mine_s[EP_TOPK_PER_THREAD];
        int32_t mine_r[EP_TOPK_PER_THREAD];
        int mine = 0;
        EP_UNROLL
        for (int t = 0; t < EP_TOPK_PER_THREAD; t++) {
            const int j = c0 + tid * EP_TOPK_PER_THREAD + t;
            if (j >= n_cols) continue;
            const int32_t col = (int32_t)(col0 + j);
            const float s = row[j];
            if (col == self || !topk_better(s, col, worst_s, worst_r)) continue;
            mine_s[mine] = s;
            mine_r[mine] = col;
            mine++;
        }
        offset[tid + 1] = mine;
        __syncthreads();
        if (tid == 0) {
            offset[0] = 0;
            for (int t = 1; t <= EP_TOPK_THREADS; t++) offset[t] = offset[t] + offset[t - 1];
        }
        __syncthreads();
        const int n_cand = offset[EP_TOPK_THREADS];
        const int at = offset[tid];
        for (int t = 0; t < mine; t++) {
            cand_s[at + t] = mine_s[t];
            cand_r[at + t] = mine_r[t];
        }
        __syncthreads(); // every thread has read offset[] and written its candidates
        if (n_cand == 0) continue; // uniform: every thread read the same total
        // 2. Sort the candidates, best first (padded to a power of two with empty slots).
        int padded = 2;
        while (padded < n_cand) padded <<= 1;
        for (int e = n_cand + tid; e < padded; e += EP_TOPK_THREADS) {
            cand_s[e] = 0.0f;
            cand_r[e] = -1;
        }
        __syncthreads();
        for (int size = 2; size <= padded; size <<= 1) {
            for (int stride = size >> 1; stride > 0; stride >>= 1) {
                for (int e = tid; e < padded; e += EP_TOPK_THREADS) {
                    const int o = e ^ stride;
                    if (o <= e) continue;
                    const float se = cand_s[e], so = cand_s[o];
                    const int32_t re = cand_r[e], ro = cand_r[o];
                    // ascending segments (e & size == 0) put the better one first
                    const bool swap = (e & size) == 0 ? topk_better(so, ro, se, re) : topk_better(se, re, so, ro);
                    if (swap) {
                        cand_s[e] = so;
                        cand_r[e] = ro;
                        cand_s[o] = se;
                        cand_r[o] = re;
                    }
                }
                __syncthreads();
            }
        }
        // 3. Merge by ranks into next (places >= k fall off).
        for (int e = tid; e < k; e += EP_TOPK_THREADS) {
            next_s[e] = nanf(""); // an empty slot
            next_r[e] = -1;
        }
        __syncthreads();
        for (int e = tid; e < k + n_cand; e += EP_TOPK_THREADS) {
            float s;
            int32_t r;
            int place;
            if (e < k) {
                s = list_s[e];
                r = list_r[e];
                if (r < 0) continue;
                int lo = 0, hi = n_cand; // candidates that beat it
                while (lo < hi) {
                    const int mid = (lo + hi) >> 1;
                    if (topk_better(cand_s[mid], cand_r[mid], s, r)) lo = mid + 1;
                    else hi = mid;
                }
                place = e + lo;
            } else {
                s = cand_s[e - k];
                r = cand_r[e - k];
                int lo = 0, hi = k; // list entries that beat it
                while (lo < hi) {
                    const int mid = (lo + hi) >> 1;
                    if (topk_better(list_s[mid], list_r[mid], s, r)) lo = mid + 1;
                    else hi = mid;
                }
                place = e - k + lo;
            }
            if (place < k) {
                next_s[place] = s;
                next_r[place] = r;
            }
        }
        __syncthreads();
        for (int e = tid; e < k; e += EP_TOPK_THREADS) {
            list_s[e] = next_s[e];
            list_r[e] = next_r[e];
        }
        __syncthreads();
    }
    for (int e = tid; e < k; e += EP_TOPK_THREADS) {
        g_scores[e] = list_s[e];
        g_rows[e] = list_r[e];
    }
}

extern "C" ep_status ep_cuda_topk_merge(int32_t *best_rows, float *best_scores, const float *scores, int n_rows,
                                        int n_cols, int64_t row0, int64_t col0, int k, ep_cuda_stream stream,
                                        ep_error *err) {
    if (n_rows <= 0 || n_cols <= 0) return EP_OK;
    if (k < 1 || k > EP_TOPK_MAX_K)
        return ep_error_set(err, EP_ERR_USAGE, "ep_cuda_topk_merge: k %d outside 1..%d", k, EP_TOPK_MAX_K);
    EP_LAUNCH(topk_merge_kernel, (unsigned)n_rows, EP_TOPK_THREADS, 0, stream, best_rows, best_scores, scores, n_cols,
              (long long)row0, (long long)col0, k);
    EP_LAUNCH_CHECK(err);
    return EP_OK;
}
