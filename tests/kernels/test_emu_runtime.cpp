/*
 * test_emu_runtime.cpp - the emulation's own semantics, held against what
 * the CUDA programming guide specifies: warp shuffles (idx, up, down, xor,
 * with sub-warp widths), multi-dimensional grids and blocks, dynamic shared
 * memory (and its race and bounds checks), deferred streams and events,
 * pageable uploads on the legacy stream racing non-blocking streams,
 * the device memory limit, and sticky errors after a fault.
 */
#include "common.cuh"

#include "emu/emu.h"
#include "test_util.h"

#include <cmath>
#include <cstring>
#include <vector>

// Each lane writes what four shuffles gave it: out[lane * 4 + k].
static __global__ void shuffles(int *out, int width) {
    const int lane = threadIdx.x % 32;
    const int v = 100 + lane;
    out[lane * 4 + 0] = __shfl_sync(0xffffffffu, v, 5, width);
    out[lane * 4 + 1] = __shfl_up_sync(0xffffffffu, v, 3, width);
    out[lane * 4 + 2] = __shfl_down_sync(0xffffffffu, v, 5, width);
    out[lane * 4 + 3] = __shfl_xor_sync(0xffffffffu, v, 9, width);
}

// Linear index of every thread from its 3-D block and grid coordinates.
static __global__ void coordinates(int *out) {
    const int block = (blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
    const int local = (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
    const int n_local = blockDim.x * blockDim.y * blockDim.z;
    out[block * n_local + local] = block * 1000 + local;
}

// Reverses each block's slice through dynamic shared memory.
template <int WITH_BARRIER, int OFF_BY_ONE> static __global__ void reverse(float *out, const float *in) {
    EP_DYNAMIC_SHARED(float, buf);
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    buf[threadIdx.x] = in[i];
    if (WITH_BARRIER) __syncthreads();
    out[i] = buf[blockDim.x - 1 - threadIdx.x + OFF_BY_ONE];
}

static __global__ void add_one(float *x, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] += 1.0f;
}

static int expected_shuffle(int lane, int k, int width) {
    const int base = lane & ~(width - 1), pos = lane - base;
    int src = lane;
    switch (k) {
    case 0: src = base + 5 % width; break;
    case 1: src = pos >= 3 ? lane - 3 : lane; break;
    case 2: src = pos + 5 < width ? lane + 5 : lane; break;
    case 3: src = (lane ^ 9) >= base + width ? lane : (lane ^ 9); break;
    }
    return 100 + src;
}

static void test_shuffles() {
    int *d = nullptr;
    cudaMalloc((void **)&d, 128 * sizeof(int));
    for (int width : {32, 16, 8, 4}) {
        EP_LAUNCH(shuffles, 1, 32, 0, nullptr, d, width);
        std::vector<int> got(128);
        CHECK(cudaMemcpy(got.data(), d, 128 * sizeof(int), cudaMemcpyDeviceToHost) == cudaSuccess);
        int bad = 0;
        for (int lane = 0; lane < 32; lane++)
            for (int k = 0; k < 4; k++)
                if (got[lane * 4 + k] != expected_shuffle(lane, k, width)) {
                    if (!bad++)
                        fprintf(stderr, "width %d lane %d shuffle %d: got %d want %d\n", width, lane, k,
                                got[lane * 4 + k], expected_shuffle(lane, k, width));
                }
        printf("  shuffles idx/up/down/xor, width %-2d   %s\n", width, bad ? "WRONG" : "as specified");
        CHECK(bad == 0);
    }
    cudaFree(d);
}

static void test_coordinates() {
    const dim3 grid(3, 2, 2), block(8, 4, 2);
    const int n = 12 * 64;
    int *d = nullptr;
    cudaMalloc((void **)&d, n * sizeof(int));
    EP_LAUNCH(coordinates, grid, block, 0, nullptr, d);
    std::vector<int> got(n);
    CHECK(cudaMemcpy(got.data(), d, n * sizeof(int), cudaMemcpyDeviceToHost) == cudaSuccess);
    int bad = 0;
    for (int i = 0; i < n; i++) bad += got[i] != (i / 64) * 1000 + i % 64;
    printf("  3-D grid (3,2,2) x block (8,4,2)      %s\n", bad ? "WRONG" : "every thread once, right coordinates");
    CHECK(bad == 0);
    cudaFree(d);
}

static void test_dynamic_shared() {
    const int blocks = 2, threads = 64, n = blocks * threads;
    std::vector<float> h(n);
    for (int i = 0; i < n; i++) h[i] = (float)i;
    float *in = nullptr, *out = nullptr;
    cudaMalloc((void **)&in, n * sizeof(float));
    cudaMalloc((void **)&out, n * sizeof(float));
    cudaMemcpy(in, h.data(), n * sizeof(float), cudaMemcpyHostToDevice);
    EP_LAUNCH((reverse<1, 0>), blocks, threads, threads * sizeof(float), nullptr, out, in);
    std::vector<float> got(n);
    CHECK(cudaMemcpy(got.data(), out, n * sizeof(float), cudaMemcpyDeviceToHost) == cudaSuccess);
    int bad = 0;
    for (int i = 0; i < n; i++) bad += got[i] != (float)((i / threads) * threads + threads - 1 - i % threads);
    printf("  dynamic shared memory, reversal        %s\n", bad ? "WRONG" : "right");
    CHECK(bad == 0 && ep_emu_get_stats().violations == 0);
    EP_LAUNCH((reverse<0, 0>), blocks, threads, threads * sizeof(float), nullptr, out, in);
    CHECK(cudaDeviceSynchronize() != cudaSuccess && strstr(ep_emu_first_violation(), "race on shared 'buf'"));
    printf("  ... without its barrier                %s\n", *ep_emu_first_violation() ? "caught" : "MISSED");
    ep_emu_reset();
    EP_LAUNCH((reverse<1, 1>), blocks, threads, threads * sizeof(float), nullptr, out, in);
    CHECK(cudaDeviceSynchronize() != cudaSuccess && strstr(ep_emu_first_violation(), "outside [0, 64)"));
    printf("  ... indexing one past the end          %s\n", *ep_emu_first_violation() ? "caught" : "MISSED");
    ep_emu_reset();
    cudaFree(in);
    cudaFree(out);
}

// Work on a stream runs when something waits for it, in stream order; across streams only
// through events - so host code that forgets a dependency sees stale data here, as on a GPU.
static void test_streams() {
    const int n = 256;
    float *pinned = nullptr, *d = nullptr;
    cudaHostAlloc((void **)&pinned, n * sizeof(float), cudaHostAllocDefault);
    cudaMalloc((void **)&d, n * sizeof(float));
    cudaStream_t a, b;
    cudaStreamCreateWithFlags(&a, cudaStreamNonBlocking);
    cudaStreamCreateWithFlags(&b, cudaStreamNonBlocking);
    cudaEvent_t ev;
    cudaEventCreateWithFlags(&ev, cudaEventDisableTiming);

    for (int i = 0; i < n; i++) pinned[i] = (float)i;
    cudaMemcpyAsync(d, pinned, n * sizeof(float), cudaMemcpyHostToDevice, a);
    EP_LAUNCH(add_one, 1, n, 0, a, d, n);
    cudaMemcpyAsync(pinned, d, n * sizeof(float), cudaMemcpyDeviceToHost, a);
    const bool deferred = pinned[7] == 7.0f; /* nothing ran yet */
    cudaStreamSynchronize(a);
    const bool in_order = pinned[7] == 8.0f;
    printf("  stream work deferred until waited for  %s\n", deferred && in_order ? "yes, then in order" : "WRONG");
    CHECK(deferred && in_order);

    // b reads d while a's kernel has not run: without the event b sees the old values.
    EP_LAUNCH(add_one, 1, n, 0, a, d, n);
    cudaMemcpyAsync(pinned, d, n * sizeof(float), cudaMemcpyDeviceToHost, b);
    cudaStreamSynchronize(b);
    const bool stale = pinned[7] == 8.0f;
    cudaStreamSynchronize(a);
    EP_LAUNCH(add_one, 1, n, 0, a, d, n);
    cudaEventRecord(ev, a);
    cudaStreamWaitEvent(b, ev, 0);
    cudaMemcpyAsync(pinned, d, n * sizeof(float), cudaMemcpyDeviceToHost, b);
    cudaStreamSynchronize(b);
    const bool ordered = pinned[7] == 10.0f;
    printf("  cross-stream read without / with event %s\n", stale && ordered ? "stale / ordered" : "WRONG");
    CHECK(stale && ordered);
    const ep_emu_stats st = ep_emu_get_stats();
    CHECK(st.unpinned_async == 0 && st.streams_used >= 2);

    cudaEventDestroy(ev);
    cudaStreamDestroy(a);
    cudaStreamDestroy(b);
    cudaFree(d);
    cudaFreeHost(pinned);
}

// cudaMemcpy from pageable memory lands on the legacy stream only: a kernel on a non-blocking
// stream that does not synchronise with it reads the poison of fresh memory; after a device
// synchronisation it reads the data; a blocking stream waits for the legacy stream by itself.
static void test_legacy_upload() {
    const int n = 64;
    std::vector<float> host(n, 1.0f), back(n, 0.0f);
    float *d = nullptr, *e = nullptr;
    cudaMalloc((void **)&d, n * sizeof(float));
    cudaMalloc((void **)&e, n * sizeof(float));
    cudaStream_t nb, blk;
    cudaStreamCreateWithFlags(&nb, cudaStreamNonBlocking);
    cudaStreamCreate(&blk);
    const uint64_t before = ep_emu_get_stats().pageable_uploads;
    CHECK(cudaMemcpy(d, host.data(), n * sizeof(float), cudaMemcpyHostToDevice) == cudaSuccess);
    host.assign(n, 5.0f); /* the source may be reused at once: the runtime staged it */
    EP_LAUNCH(add_one, 1, n, 0, nb, d, n);
    cudaMemcpyAsync(back.data(), d, n * sizeof(float), cudaMemcpyDeviceToHost, nb);
    cudaStreamSynchronize(nb);
    const bool raced = std::isnan(back[3]);
    cudaDeviceSynchronize(); /* now the upload has landed (over the kernel's NaN + 1) */
    CHECK(cudaMemcpy(d, host.data(), n * sizeof(float), cudaMemcpyHostToDevice) == cudaSuccess);
    cudaDeviceSynchronize();
    EP_LAUNCH(add_one, 1, n, 0, nb, d, n);
    cudaMemcpyAsync(back.data(), d, n * sizeof(float), cudaMemcpyDeviceToHost, nb);
    cudaStreamSynchronize(nb);
    const bool synced = back[3] == 6.0f;
    CHECK(cudaMemcpy(e, host.data(), n * sizeof(float), cudaMemcpyHostToDevice) == cudaSuccess);
    EP_LAUNCH(add_one, 1, n, 0, blk, e, n); /* a blocking stream: ordered after the legacy upload */
    cudaMemcpyAsync(back.data(), e, n * sizeof(float), cudaMemcpyDeviceToHost, blk);
    cudaStreamSynchronize(blk);
    const bool blocking_ordered = back[3] == 6.0f;
    printf("  pageable upload vs non-blocking stream %s\n",
           raced && synced && blocking_ordered ? "races / ordered by a sync / by a blocking stream" : "WRONG");
    CHECK(raced && synced && blocking_ordered);
    CHECK(ep_emu_get_stats().pageable_uploads == before + 3);
    cudaStreamDestroy(nb);
    cudaStreamDestroy(blk);
    cudaFree(d);
    cudaFree(e);
}

static void test_memory() {
    ep_emu_reset();
    ep_emu_set_memory_limit((size_t)8 << 20);
    size_t free_b = 0, total = 0;
    CHECK(cudaMemGetInfo(&free_b, &total) == cudaSuccess && total == ((size_t)8 << 20));
    void *p = nullptr, *q = nullptr;
    CHECK(cudaMalloc(&p, (size_t)6 << 20) == cudaSuccess);
    CHECK(cudaMalloc(&q, (size_t)6 << 20) == cudaErrorMemoryAllocation && q == nullptr);
    CHECK(cudaGetLastError() == cudaErrorMemoryAllocation);
    CHECK(cudaMalloc(&q, (size_t)1 << 20) == cudaSuccess); /* out of memory is not sticky */
    printf("  memory limit 8 MiB                     %s\n", ep_emu_get_stats().failed_allocs == 1 ? "enforced" : "WRONG");
    CHECK(ep_emu_get_stats().failed_allocs == 1);
    float host[4] = {0};
    CHECK(cudaMemcpy(host, (char *)p + ((size_t)6 << 20) - 8, 16, cudaMemcpyDeviceToHost) == cudaErrorInvalidValue);
    cudaFree(p);
    cudaFree(q);
    ep_emu_set_memory_limit(0);

    // After a fault, the context is unusable until reset, as on a GPU.
    float *d = nullptr;
    cudaMalloc((void **)&d, 16 * sizeof(float));
    EP_LAUNCH(add_one, 1, 32, 0, nullptr, d, 17); /* writes d[16]: one past the end */
    const cudaError_t fault = cudaDeviceSynchronize();
    CHECKF(fault == cudaErrorIllegalAddress, "%s", cudaGetErrorName(fault));
    CHECK(cudaMemcpy(host, d, 16, cudaMemcpyDeviceToHost) == cudaErrorIllegalAddress);
    printf("  fault makes the context sticky         %s\n", "yes");
    ep_emu_reset();
    CHECK(cudaMemcpy(host, d, 16, cudaMemcpyDeviceToHost) == cudaSuccess);
    cudaFree(d);
}

int main() {
    printf("emulation semantics:\n");
    test_shuffles();
    test_coordinates();
    test_dynamic_shared();
    test_streams();
    test_legacy_upload();
    test_memory();
    CHECK(ep_emu_get_stats().violations == 0);
    return ep_test_finish("test_emu_runtime");
}
