/* check.cu - turning a failed CUDA runtime call into an ep_status with where and what. */
#include "common.cuh"
#include "setting_names.h"

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

static void cuda_version_text(char *out, size_t size, int version) {
    snprintf(out, size, "CUDA %d.%d", version / 1000, version % 1000 / 10);
}

extern "C" ep_status ep_cuda_probe(int *count, int *driver_version, ep_error *err) {
    int n = 0, driver = 0, runtime = 0;
    *count = 0;
    if (driver_version) *driver_version = 0;
    // cudaDriverGetVersion reports 0 where no driver is installed at all: the one way to tell a
    // machine without a GPU stack from an old driver, since cudart says "insufficient driver" for both.
    if (cudaDriverGetVersion(&driver) != cudaSuccess) driver = 0;
    (void)cudaRuntimeGetVersion(&runtime);
    if (driver_version) *driver_version = driver;
    const cudaError_t e = cudaGetDeviceCount(&n);
    (void)cudaGetLastError(); // a failed probe must not stay behind as the "last error"
    char have[32], need[32];
    cuda_version_text(have, sizeof have, driver);
    cuda_version_text(need, sizeof need, runtime);
    if (e == cudaSuccess && n > 0) {
        *count = n;
        return EP_OK;
    }
    if (e == cudaSuccess)
        return ep_error_set(err, EP_ERR_DEVICE, "no CUDA device found (cudaGetDeviceCount reports 0; driver for %s)",
                            have);
    if (e == cudaErrorNoDevice)
        return ep_error_set(err, EP_ERR_DEVICE, "no CUDA device found (cudaGetDeviceCount: %s: %s; driver for %s)",
                            cudaGetErrorName(e), cudaGetErrorString(e), have);
    if (e == cudaErrorInsufficientDriver && driver == 0)
        return ep_error_set(err, EP_ERR_DEVICE, "no NVIDIA driver is installed (cudaGetDeviceCount: %s: %s)",
                            cudaGetErrorName(e), cudaGetErrorString(e));
    if (e == cudaErrorInsufficientDriver)
        return ep_error_set(err, EP_ERR_DEVICE,
                            "cudaGetDeviceCount failed: %s: %s: the NVIDIA driver supports up to %s, this embedpipe "
                            "was built with %s; update the driver",
                            cudaGetErrorName(e), cudaGetErrorString(e), have, need);
    return ep_error_set(err, EP_ERR_DEVICE, "cudaGetDeviceCount failed: %s: %s (driver for %s, runtime %s)",
                        cudaGetErrorName(e), cudaGetErrorString(e), have, need);
}

extern "C" int ep_cuda_device_count(void) {
    int n = 0;
    ep_error ignored;
    return ep_cuda_probe(&n, NULL, &ignored) == EP_OK ? n : 0;
}

extern "C" ep_status ep_cuda_supports(int hidden, int n_heads, int intermediate, ep_error *err) {
    if (hidden <= 0 || n_heads <= 0 || hidden % n_heads)
        return ep_error_set(err, EP_ERR_MODEL, "CUDA backend: hidden size %d is not a multiple of %d heads", hidden,
                            n_heads);
    const int d = hidden / n_heads, p = hidden / 64;
    if (hidden % 64 || (p != 1 && p != 2 && p != 3 && p != 4 && p != 6 && p != 8 && p != 12 && p != 16))
        return ep_error_set(err, EP_ERR_MODEL,
                            "CUDA backend: hidden size %d is not supported (64, 128, 192, 256, 384, 512, 768 or "
                            "1024); use %s cpu",
                            hidden, ep_setting_name(EP_SETTING_DEVICE));
    if (d != 32 && d != 64)
        return ep_error_set(err, EP_ERR_MODEL, "CUDA backend: head size %d is not supported (32 or 64); use %s cpu",
                            d, ep_setting_name(EP_SETTING_DEVICE));
    if (intermediate <= 0 || intermediate % 8)
        return ep_error_set(err, EP_ERR_MODEL,
                            "CUDA backend: feed-forward width %d is not a multiple of 8; use %s cpu",
                            intermediate, ep_setting_name(EP_SETTING_DEVICE));
    return EP_OK;
}
