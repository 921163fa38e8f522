/*
 * test_emu_catches.cpp - the emulation must catch the bugs it exists for.
 *
 * Each case is a small kernel with one deliberate bug (a missing
 * __syncthreads in a reduction, an off-by-one index into global or shared
 * memory, a divergent barrier, a misaligned vector load, a shuffle with
 * exited lanes) and, where it makes sense, its correct twin. The buggy one
 * must leave a failed synchronisation and a violation naming the problem (or,
 * for an out-of-range read, poisoned NaN in its output); the twin must pass
 * with the right values - so the checks neither miss bugs nor cry wolf.
 * Under both thread orders (ascending and descending between barriers).
 */
#include "common.cuh"

#include "emu/emu.h"
#include "test_util.h"

#include <cmath>
#include <cstring>
#include <vector>

// ----------------------------------------------------------------------------
// Kernels

// Block sum, thread 0 reads what all threads wrote.
template <int WITH_BARRIER> __global__ void flat_sum(float *out, const float *in) {
    EP_SHARED(float, part, 128);
    part[threadIdx.x] = in[blockIdx.x * blockDim.x + threadIdx.x];
    if (WITH_BARRIER) __syncthreads();
    if (threadIdx.x == 0) {
        float s = 0.0f;
        for (unsigned i = 0; i < blockDim.x; i++) s += part[i];
        out[blockIdx.x] = s;
    }
}

// Tree reduction; the bug is the classic one: no barrier between the halving steps.
template <int WITH_BARRIER> __global__ void tree_sum(float *out, const float *in) {
    EP_SHARED(float, part, 128);
    part[threadIdx.x] = in[blockIdx.x * blockDim.x + threadIdx.x];
    __syncthreads();
    for (unsigned stride = blockDim.x / 2; stride > 0; stride /= 2) {
        if (threadIdx.x < stride) part[threadIdx.x] += part[threadIdx.x + stride];
        if (WITH_BARRIER) __syncthreads();
    }
    if (threadIdx.x == 0) out[blockIdx.x] = part[0];
}

// Two block sums in a row through one shared array; the bug is omitting the barrier that
// protects the array from being overwritten while slow threads still read the first result.
template <int WITH_BARRIER> __global__ void two_sums(float *out, const float *in) {
    EP_SHARED(float, red, 32);
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, n_warps = blockDim.x / 32;
    float v = in[blockIdx.x * blockDim.x + threadIdx.x];
    float results[2];
    for (int round = 0; round < 2; round++) {
        const float w = ep_warp_sum(round ? v * v : v);
        if (lane == 0) red[warp] = w;
        __syncthreads();
        float total = 0.0f;
        for (int i = 0; i < n_warps; i++) total += red[i];
        if (WITH_BARRIER) __syncthreads();
        results[round] = total;
    }
    if (threadIdx.x == 0) {
        out[2 * blockIdx.x] = results[0];
        out[2 * blockIdx.x + 1] = results[1];
    }
}

// Elementwise copy; OFF_BY_ONE writes one element past the end (i <= n).
template <int OFF_BY_ONE> __global__ void copy_write(float *out, const float *in, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (OFF_BY_ONE ? i <= n : i < n) out[i] = in[i < n ? i : 0];
}

// Shift by one; OFF_BY_ONE reads in[n] (one past the end) for the last element.
template <int OFF_BY_ONE> __global__ void shift_read(float *out, const float *in, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = OFF_BY_ONE ? in[i + 1] : in[i + 1 < n ? i + 1 : i];
}

// Shared neighbour exchange; OFF_BY_ONE indexes part[threadIdx.x + 1] for the last thread.
template <int OFF_BY_ONE> __global__ void neighbour(float *out, const float *in) {
    EP_SHARED(float, part, 64);
    part[threadIdx.x] = in[threadIdx.x];
    __syncthreads();
    const unsigned j = OFF_BY_ONE ? threadIdx.x + 1 : (threadIdx.x + 1) % blockDim.x;
    out[threadIdx.x] = part[j];
}

// Half of the block leaves before a barrier the other half waits at.
__global__ void divergent_barrier(float *out) {
    EP_SHARED(float, part, 64);
    if (threadIdx.x >= 32) return;
    part[threadIdx.x] = 1.0f;
    __syncthreads();
    out[threadIdx.x] = part[(threadIdx.x + 1) % 32];
}

// Threads of one block wait at two different barriers.
__global__ void mismatched_barriers(float *out) {
    if (threadIdx.x < 32) {
        __syncthreads();
    } else {
        __syncthreads();
    }
    out[threadIdx.x] = 1.0f;
}

// A 16-byte load from an address that is only 2-byte aligned.
template <int MISALIGNED> __global__ void vector_load(__half *out, const __half *in) {
    const ep_half8 v = ep_ld16(in + (MISALIGNED ? 1 : 0));
    ep_st16(out, v);
}

// A full-mask warp sum after half the warp has returned.
__global__ void shuffle_after_exit(float *out) {
    if (threadIdx.x >= 16) return;
    out[threadIdx.x] = ep_warp_sum(1.0f);
}

// ----------------------------------------------------------------------------
// Harness

static float *dev_floats(const std::vector<float> &h) {
    float *d = nullptr;
    cudaMalloc((void **)&d, h.size() * sizeof(float));
    cudaMemcpy(d, h.data(), h.size() * sizeof(float), cudaMemcpyHostToDevice);
    return d;
}

static std::vector<float> host_floats(const float *d, size_t n) {
    std::vector<float> h(n);
    cudaMemcpy(h.data(), d, n * sizeof(float), cudaMemcpyDeviceToHost);
    return h;
}

/* The launch just made must fail at synchronisation with a violation mentioning `keyword`. */
static void expect_caught(const char *what, const char *keyword) {
    const cudaError_t e = cudaDeviceSynchronize();
    const char *v = ep_emu_first_violation();
    const bool ok = e != cudaSuccess && strstr(v, keyword) != nullptr;
    printf("  %-46s %s\n", what, ok ? "caught" : "MISSED");
    if (ok) printf("      -> %s\n", v);
    CHECKF(ok, "%s: sync returned %s, violation \"%s\" (wanted one mentioning \"%s\")", what, cudaGetErrorName(e), v,
           keyword);
    ep_emu_reset();
}

/* The launch just made must succeed with no violation. */
static void expect_clean(const char *what) {
    const cudaError_t e = cudaDeviceSynchronize();
    const bool ok = e == cudaSuccess && ep_emu_get_stats().violations == 0;
    printf("  %-46s %s\n", what, ok ? "clean" : "FALSE ALARM");
    CHECKF(ok, "%s: %s / %s", what, cudaGetErrorName(e), ep_emu_first_violation());
    ep_emu_reset();
}

static void run_cases() {
    const int blocks = 3, threads = 128, n = blocks * threads;
    std::vector<float> in(n);
    for (int i = 0; i < n; i++) in[i] = (float)(i % 7) - 2.0f;
    float *d_in = dev_floats(in), *d_out = nullptr;
    cudaMalloc((void **)&d_out, sizeof(float) * n);

    // Missing barriers
    std::vector<float> want(blocks, 0.0f), want_sq(blocks, 0.0f);
    for (int i = 0; i < n; i++) {
        want[i / threads] += in[i];
        want_sq[i / threads] += in[i] * in[i];
    }
    EP_LAUNCH(flat_sum<1>, blocks, threads, 0, nullptr, d_out, d_in);
    expect_clean("block sum with its barrier");
    CHECK(host_floats(d_out, blocks) == want);
    EP_LAUNCH(flat_sum<0>, blocks, threads, 0, nullptr, d_out, d_in);
    expect_caught("block sum missing __syncthreads", "race");
    EP_LAUNCH(tree_sum<1>, blocks, threads, 0, nullptr, d_out, d_in);
    expect_clean("tree reduction with its barriers");
    CHECK(host_floats(d_out, blocks) == want);
    EP_LAUNCH(tree_sum<0>, blocks, threads, 0, nullptr, d_out, d_in);
    expect_caught("tree reduction missing __syncthreads", "race");
    EP_LAUNCH(two_sums<1>, blocks, threads, 0, nullptr, d_out, d_in);
    expect_clean("two block sums, shared array protected");
    {
        const std::vector<float> got = host_floats(d_out, 2 * blocks);
        for (int b = 0; b < blocks; b++) CHECK(got[2 * b] == want[b] && got[2 * b + 1] == want_sq[b]);
    }
    EP_LAUNCH(two_sums<0>, blocks, threads, 0, nullptr, d_out, d_in);
    expect_caught("two block sums missing the reuse barrier", "race");

    // Out-of-range indices
    float *d_small = nullptr;
    cudaMalloc((void **)&d_small, sizeof(float) * 100);
    EP_LAUNCH(copy_write<0>, 1, 128, 0, nullptr, d_small, d_in, 100);
    expect_clean("copy, i < n");
    EP_LAUNCH(copy_write<1>, 1, 128, 0, nullptr, d_small, d_in, 100);
    expect_caught("copy writing out[n] (i <= n)", "outside a device allocation");
    EP_LAUNCH(shift_read<0>, 1, 128, 0, nullptr, d_out, d_small, 100);
    expect_clean("shift, clamped read");
    CHECK(std::isfinite(host_floats(d_out, 100)[99]));
    EP_LAUNCH(shift_read<1>, 1, 128, 0, nullptr, d_out, d_small, 100);
    {
        // A read past the end is not a write the guards can see; it reads the poison (NaN).
        const cudaError_t e = cudaDeviceSynchronize();
        const std::vector<float> got = host_floats(d_out, 100);
        const bool ok = e == cudaSuccess && std::isnan(got[99]) && std::isfinite(got[98]);
        printf("  %-46s %s\n", "shift reading in[n] (one past the end)", ok ? "caught (NaN poison in out[n-1])" : "MISSED");
        CHECKF(ok, "out-of-range read: out[99] = %g", (double)got[99]);
        ep_emu_reset();
    }
    EP_LAUNCH(neighbour<0>, 1, 64, 0, nullptr, d_out, d_in);
    expect_clean("shared neighbour, wrapped index");
    EP_LAUNCH(neighbour<1>, 1, 64, 0, nullptr, d_out, d_in);
    expect_caught("shared neighbour indexing part[blockDim.x]", "outside [0, 64)");

    // Barriers and warps
    EP_LAUNCH(divergent_barrier, 1, 64, 0, nullptr, d_out);
    expect_caught("half the block returns before __syncthreads", "divergent barrier");
    EP_LAUNCH(mismatched_barriers, 1, 64, 0, nullptr, d_out);
    expect_caught("threads wait at two different __syncthreads", "divergent barrier");
    EP_LAUNCH(shuffle_after_exit, 1, 32, 0, nullptr, d_out);
    expect_caught("full-mask shuffle after half the warp exited", "exited");

    // Vector alignment
    __half *d_h = nullptr, *d_h_out = nullptr;
    cudaMalloc((void **)&d_h, 64);
    cudaMalloc((void **)&d_h_out, 64);
    cudaMemset(d_h, 0, 64);
    EP_LAUNCH(vector_load<0>, 1, 32, 0, nullptr, d_h_out, d_h);
    expect_clean("16-byte load, aligned");
    EP_LAUNCH(vector_load<1>, 1, 32, 0, nullptr, d_h_out, d_h);
    expect_caught("16-byte load from a 2-byte aligned address", "aligned");

    // Through the product's error path: the violation reaches the ep_error message.
    EP_LAUNCH(flat_sum<0>, blocks, threads, 0, nullptr, d_out, d_in);
    ep_error err;
    memset(&err, 0, sizeof err);
    const ep_status st = ep_cuda_check_fail(&err, (int)cudaDeviceSynchronize(), "cudaDeviceSynchronize()", __FILE__,
                                            __LINE__);
    CHECKF(st == EP_ERR_DEVICE && strstr(err.message, "race on shared 'part'"), "ep_error: %s", err.message);
    ep_emu_reset();

    cudaFree(d_in);
    cudaFree(d_out);
    cudaFree(d_small);
    cudaFree(d_h);
    cudaFree(d_h_out);
}

int main() {
    printf("deliberately broken kernels, threads in ascending order:\n");
    run_cases();
    printf("the same, threads in descending order:\n");
    ep_emu_set_schedule(1);
    run_cases();
    ep_emu_set_schedule(0);
    return ep_test_finish("test_emu_catches");
}
