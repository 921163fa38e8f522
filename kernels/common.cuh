/*
 * common.cuh - what every kernel file includes: real CUDA under nvcc, the CPU
 * emulation (emu/cuda_emu.cuh) under EP_CUDA_EMULATION, and the few helpers
 * written once for both (launch, shared arrays, vector loads, reductions).
 *
 * Kernel sources stay valid for both compilers by three conventions:
 *   - launches go through EP_LAUNCH(kernel, grid, block, smem, stream, args...)
 *   - shared arrays are one-dimensional, declared with EP_SHARED(T, name, N),
 *     and only indexed (name[i] read, written, or +=) - never their address
 *   - 16-byte vector accesses go through ep_ld16 / ep_st16, which check alignment
 */
#ifndef EP_KERNELS_COMMON_CUH
#define EP_KERNELS_COMMON_CUH

#ifdef EP_CUDA_EMULATION
#include "emu/cuda_emu.cuh"
#else
#include <cuda_runtime.h>
#include <cuda_fp16.h>
#define EP_SHARED(T, name, N) __shared__ T name[N]
#define EP_DYNAMIC_SHARED(T, name)                                                                          \
    extern __shared__ __align__(16) unsigned char ep_dynamic_smem_[];                                       \
    T *name = reinterpret_cast<T *>(ep_dynamic_smem_)
#define EP_LAUNCH(kernel, grid, block, smem, stream, ...) kernel<<<(grid), (block), (smem), (stream)>>>(__VA_ARGS__)
#define EP_CHECK_ALIGNED(p, align) ((void)0)
#define EP_UNROLL _Pragma("unroll")
#endif

#include "ep_cuda_runtime.h"

#include <stdint.h>

// ----------------------------------------------------------------------------
// 16-byte vectors: 8 halves

// A 16-byte aligned struct: nvcc moves it with one 128-bit load or store.
struct __align__(16) ep_half8 {
    __half2 h2[4];
};

__device__ __forceinline__ ep_half8 ep_ld16(const __half *p) {
    EP_CHECK_ALIGNED(p, 16);
#ifdef EP_CUDA_EMULATION
    ep_half8 v; // the emulation has reported a misaligned p already; the host copy must not be UB too
    memcpy(static_cast<void *>(&v), p, sizeof v);
    return v;
#else
    return *reinterpret_cast<const ep_half8 *>(p);
#endif
}

__device__ __forceinline__ void ep_st16(__half *p, const ep_half8 &v) {
    EP_CHECK_ALIGNED(p, 16);
#ifdef EP_CUDA_EMULATION
    memcpy(static_cast<void *>(p), &v, sizeof v);
#else
    *reinterpret_cast<ep_half8 *>(p) = v;
#endif
}

// ----------------------------------------------------------------------------
// Reductions

__device__ __forceinline__ float ep_warp_sum(float v) {
    EP_UNROLL
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// Sum over the block; every thread gets it. red: a shared array of >= 32 floats
// (EP_SHARED), free on entry and on return. All threads must call it.
template <class Shared> __device__ __forceinline__ float ep_block_sum(float v, Shared &red) {
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, n_warps = (blockDim.x + 31) / 32;
    v = ep_warp_sum(v);
    if (lane == 0) red[warp] = v;
    __syncthreads();
    float total = 0.0f;
    for (int w = 0; w < n_warps; w++) total += red[w];
    __syncthreads(); // everyone has read red before anyone may reuse it
    return total;
}

// ----------------------------------------------------------------------------
// Launch helpers (host side)

static inline unsigned ep_div_up(long long a, long long b) { return (unsigned)((a + b - 1) / b); }

// Checks the launch itself (configuration, sticky errors); the kernel's own
// faults surface at the next synchronisation.
#define EP_LAUNCH_CHECK(err) EP_CUDA_CHECK(cudaGetLastError(), err)

#endif /* EP_KERNELS_COMMON_CUH */
