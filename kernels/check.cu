/* check.cu - turning a failed CUDA runtime call into an ep_status with where and what. */
#include "common.cuh"

#include <stdio.h>

#ifdef EP_CUDA_EMULATION
#include "emu/emu.h"
#endif

extern "C" ep_status ep_cuda_check_fail(ep_error *err, int cuda_error, const char *call, const char *file, int line) {
    const cudaError_t e = (cudaError_t)cuda_error;
    const ep_status code = e == cudaErrorMemoryAllocation ? EP_ERR_NOMEM : EP_ERR_DEVICE;
    const char *detail = "";
#ifdef EP_CUDA_EMULATION
    detail = ep_emu_first_violation();
#endif
    return ep_error_set(err, code, "%s:%d: %s failed: %s (%s)%s%s", file, line, call, cudaGetErrorName(e),
                        cudaGetErrorString(e), *detail ? "; emulation found: " : "", detail);
}

extern "C" int ep_cuda_device_count(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        (void)cudaGetLastError(); // no driver or no device: not an error for the caller
        return 0;
    }
    return n;
}

extern "C" ep_status ep_cuda_supports(int hidden, int n_heads, int intermediate, ep_error *err) {
    if (hidden <= 0 || n_heads <= 0 || hidden % n_heads)
        return ep_error_set(err, EP_ERR_MODEL, "CUDA backend: hidden size %d is not a multiple of %d heads", hidden,
                            n_heads);
    const int d = hidden / n_heads, p = hidden / 64;
    if (hidden % 64 || (p != 1 && p != 2 && p != 3 && p != 4 && p != 6 && p != 8 && p != 12 && p != 16))
        return ep_error_set(err, EP_ERR_MODEL,
                            "CUDA backend: hidden size %d is not supported (64, 128, 192, 256, 384, 512, 768 or "
                            "1024); use --device cpu",
                            hidden);
    if (d != 32 && d != 64)
        return ep_error_set(err, EP_ERR_MODEL, "CUDA backend: head size %d is not supported (32 or 64); use --device cpu",
                            d);
    if (intermediate <= 0 || intermediate % 8)
        return ep_error_set(err, EP_ERR_MODEL,
                            "CUDA backend: feed-forward width %d is not a multiple of 8; use --device cpu",
                            intermediate);
    return EP_OK;
}
