/* device.c - picking a backend from --device and --precision. */
#include "device.h"

#include "backend_cpu.h"
#include "cpu_fast.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef EP_HAVE_CUDA_BACKEND
#include "backend_cuda.h"
#endif

/* The CPU backend for a precision mode: fp32 (the fast kernels, cpu_fast.h),
 * bf16 (bfloat16 GEMMs on AMX or AVX512-BF16), or fp32-reference (the plain
 * ops every other path is tested against). */
static ep_status create_cpu(const ep_model *model, const ep_backend_options *o, ep_backend **out, ep_error *err) {
    const char *p = o->precision && *o->precision ? o->precision : "fp32";
    if (strcmp(p, "fp32") == 0) {
        // a model the fast kernels do not fit still runs, on the plain backend
        if (model && !ep_cpu_fast_supports(model)) return ep_backend_cpu_create(model, o->threads, out, err);
        return ep_backend_cpu_fast_create(model, o->threads, EP_CPU_PRECISION_FP32, NULL, out, err);
    }
    if (strcmp(p, "bf16") == 0)
        return ep_backend_cpu_fast_create(model, o->threads, EP_CPU_PRECISION_BF16, NULL, out, err);
    if (strcmp(p, "fp32-reference") == 0) return ep_backend_cpu_create(model, o->threads, out, err);
    return ep_error_set(err, EP_ERR_USAGE, "--precision %s: expected fp32, bf16 or fp32-reference", p);
}

ep_status ep_backend_create(const ep_model *model, const ep_backend_options *o, ep_backend **out, ep_error *err) {
    *out = NULL;
    const char *device = o->device && *o->device ? o->device : "auto";
    const size_t batch_tokens = o->batch_tokens;
    if (strcmp(device, "cpu") == 0) return create_cpu(model, o, out, err);

    int want_cuda = strcmp(device, "auto") != 0;
    int index = 0;
    if (want_cuda) {
        if (strcmp(device, "cuda") == 0) {
            index = 0;
        } else if (strncmp(device, "cuda:", 5) == 0) {
            char *end = NULL;
            long v = strtol(device + 5, &end, 10);
            if (!device[5] || *end || v < 0 || v > 1024)
                return ep_error_set(err, EP_ERR_USAGE, "--device %s: expected cuda:N with N a device number", device);
            index = (int)v;
        } else {
            return ep_error_set(err, EP_ERR_USAGE, "--device %s: expected cpu, cuda, cuda:N or auto", device);
        }
    }
#ifdef EP_HAVE_CUDA_BACKEND
    int count = ep_cuda_device_count();
    if (count > 0) {
        if (index >= count)
            return ep_error_set(err, EP_ERR_DEVICE, "--device %s: only %d CUDA device%s present", device, count,
                                count == 1 ? "" : "s");
        ep_status st = ep_backend_cuda_create(model, index, batch_tokens, out, err);
        if (st == EP_OK) {
            (*out)->batch_tokens = ep_backend_cuda_batch_tokens(*out);
            return EP_OK;
        }
        // With --device auto, a model the kernels do not support (or a GPU too full) still runs, on the CPU.
        if (want_cuda || (st != EP_ERR_MODEL && st != EP_ERR_NOMEM)) return st;
        char why[sizeof err->message];
        snprintf(why, sizeof why, "%s", err ? err->message : "unsupported");
        st = create_cpu(model, o, out, err);
        if (st == EP_OK) {
            size_t n = strlen((*out)->description);
            snprintf((*out)->description + n, sizeof (*out)->description - n, " (CUDA not used: %.150s)", why);
        }
        return st;
    }
    if (want_cuda)
        return ep_error_set(err, EP_ERR_DEVICE,
                            "--device %s: no CUDA device is usable here (no driver or no GPU); use --device cpu",
                            device);
#else
    (void)index;
    if (want_cuda)
        return ep_error_set(err, EP_ERR_DEVICE,
                            "--device %s: this embedpipe was built without CUDA (no nvcc at build time); "
                            "rebuild with the CUDA toolkit installed, or use --device cpu",
                            device);
#endif
    (void)batch_tokens;
    return create_cpu(model, o, out, err);
}
