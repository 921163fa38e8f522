/* device.c - picking a backend from the device and precision options. */
#include "device.h"

#include "backend_cpu.h"
#include "backend_null.h"
#include "cpu_fast.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef EP_HAVE_CUDA_BACKEND
#include "backend_cuda.h"
#endif

static const char *const precision_names[] = {
    [EP_PRECISION_AUTO] = "auto",
    [EP_PRECISION_FP32] = "fp32",
    [EP_PRECISION_BF16] = "bf16",
    [EP_PRECISION_FP32_REFERENCE] = "fp32-reference",
    [EP_PRECISION_FP16] = "fp16",
    [EP_PRECISION_INT8] = "int8",
};
#define LAST_PRECISION EP_PRECISION_INT8

ep_status ep_precision_parse(const char *text, ep_precision *out, ep_error *err) {
    *out = EP_PRECISION_AUTO;
    if (!text || !*text) return EP_OK;
    for (int p = EP_PRECISION_AUTO; p <= LAST_PRECISION; p++)
        if (strcmp(text, precision_names[p]) == 0) {
            *out = (ep_precision)p;
            return EP_OK;
        }
    return ep_error_set(err, EP_ERR_USAGE,
                        "precision %s: expected auto, fp32, bf16, int8 or fp32-reference (CPU), or fp16 (CUDA)",
                        text);
}

const char *ep_precision_name(ep_precision p) {
    return p >= EP_PRECISION_AUTO && p <= LAST_PRECISION ? precision_names[p] : "unknown";
}

/* @return true for the modes only the CPU backends compute. */
static bool is_cpu_precision(ep_precision p) {
    return p == EP_PRECISION_FP32 || p == EP_PRECISION_BF16 || p == EP_PRECISION_INT8 ||
           p == EP_PRECISION_FP32_REFERENCE;
}

/* The CPU backend for a precision mode: fp32 (the fast kernels, cpu_fast.h),
 * bf16 (bfloat16 GEMMs where offered), int8 (int8 GEMMs where offered),
 * fp32-reference (the plain ops every other path is tested against), or auto
 * (ep_cpu_auto_precision). Records the precision used in the backend. */
static ep_status create_cpu(const ep_model *model, ep_precision p, int threads, ep_backend **out, ep_error *err) {
    // a model the fast kernels do not fit still runs, on the plain backend
    const bool fits = !model || ep_cpu_fast_supports(model);
    if (p == EP_PRECISION_AUTO) {
        const ep_cpu_precision a = fits ? ep_cpu_auto_precision(NULL, 0) : EP_CPU_PRECISION_FP32;
        p = a == EP_CPU_PRECISION_BF16 ? EP_PRECISION_BF16 : a == EP_CPU_PRECISION_INT8 ? EP_PRECISION_INT8
                                                                                        : EP_PRECISION_FP32;
    }
    ep_status st;
    switch (p) {
    case EP_PRECISION_FP32:
        if (!fits) {
            st = ep_backend_cpu_create(model, threads, out, err);
            break;
        }
        st = ep_backend_cpu_fast_create(model, threads, EP_CPU_PRECISION_FP32, NULL, out, err);
        break;
    case EP_PRECISION_BF16:
        st = ep_backend_cpu_fast_create(model, threads, EP_CPU_PRECISION_BF16, NULL, out, err);
        break;
    case EP_PRECISION_INT8:
        st = ep_backend_cpu_fast_create(model, threads, EP_CPU_PRECISION_INT8, NULL, out, err);
        break;
    case EP_PRECISION_FP32_REFERENCE: st = ep_backend_cpu_create(model, threads, out, err); break;
    default:
        return ep_error_set(err, EP_ERR_USAGE,
                            "precision %s is the CUDA backend's; the CPU computes in fp32, bf16, int8 or fp32-reference",
                            ep_precision_name(p));
    }
    if (st == EP_OK) snprintf((*out)->precision, sizeof (*out)->precision, "%s", ep_precision_name(p));
    return st;
}

/* Parses "auto", "cuda" or "cuda:N". @return EP_OK with *want_cuda and *index, or EP_ERR_USAGE. */
static ep_status parse_device(const char *device, int *want_cuda, int *index, ep_error *err) {
    *want_cuda = strcmp(device, "auto") != 0;
    *index = 0;
    if (!*want_cuda || strcmp(device, "cuda") == 0) return EP_OK;
    if (strncmp(device, "cuda:", 5) != 0)
        return ep_error_set(err, EP_ERR_USAGE, "device %s: expected cpu, cuda, cuda:N, auto or null", device);
    char *end = NULL;
    long v = strtol(device + 5, &end, 10);
    if (!device[5] || *end || v < 0 || v > 1024)
        return ep_error_set(err, EP_ERR_USAGE, "device %s: expected cuda:N with N a device number", device);
    *index = (int)v;
    return EP_OK;
}

#ifdef EP_HAVE_CUDA_BACKEND
/* The CPU backend for device "auto", its description saying why CUDA was not used. */
static ep_status create_cpu_instead(const ep_model *model, ep_precision p, int threads, const char *why,
                                    ep_backend **out, ep_error *err) {
    const ep_status st = create_cpu(model, p, threads, out, err);
    if (st == EP_OK) {
        size_t n = strlen((*out)->description);
        snprintf((*out)->description + n, sizeof (*out)->description - n, " (CUDA not used: %.150s)", why);
    }
    return st;
}
#endif

ep_status ep_backend_create(const ep_model *model, const ep_backend_options *o, ep_backend **out, ep_error *err) {
    *out = NULL;
    const char *device = o->device && *o->device ? o->device : "auto";
    ep_precision precision;
    ep_status st = ep_precision_parse(o->precision, &precision, err);
    if (st != EP_OK) return st;
    if (strcmp(device, "cpu") == 0) return create_cpu(model, precision, o->threads, out, err);
    if (strcmp(device, "null") == 0) {
        // No arithmetic at all, so no precision to choose: refusing one says the run is not what was asked.
        if (precision != EP_PRECISION_AUTO)
            return ep_error_set(err, EP_ERR_USAGE,
                                "device null with precision %s: the null device computes nothing (zero rows), "
                                "so it takes no precision", ep_precision_name(precision));
        return ep_backend_null_create(model, out, err);
    }
    int want_cuda, index;
    st = parse_device(device, &want_cuda, &index, err);
    if (st != EP_OK) return st;
    const bool fp16_asked = precision == EP_PRECISION_FP16;
    if (is_cpu_precision(precision)) {
        if (want_cuda)
            return ep_error_set(err, EP_ERR_USAGE,
                                "device %s with precision %s: the CUDA backend computes in one precision, fp16 "
                                "(fp16 weights and activations, fp32 accumulation); %s is a mode of the cpu device",
                                device, ep_precision_name(precision), ep_precision_name(precision));
#ifdef EP_HAVE_CUDA_BACKEND
        char why[96];
        snprintf(why, sizeof why, "precision %s is a CPU mode", ep_precision_name(precision));
        return create_cpu_instead(model, precision, o->threads, why, out, err); /* a CPU mode picks the CPU */
#else
        return create_cpu(model, precision, o->threads, out, err);
#endif
    }
#ifdef EP_HAVE_CUDA_BACKEND
    int count = 0, driver = 0;
    ep_error probe;
    if (ep_cuda_probe(&count, &driver, &probe) != EP_OK) {
        if (want_cuda || fp16_asked)
            return ep_error_set(err, EP_ERR_DEVICE, "device %s%s: no CUDA device is usable: %s; the cpu device runs "
                                "everywhere%s", device, fp16_asked ? " with precision fp16" : "", probe.message,
                                fp16_asked ? " (in fp32, bf16, int8 or fp32-reference)" : "");
        // A driver that is there but unusable (too old for this build, broken) is a setup to fix, not
        // a CPU-only machine: say so loudly. Without any driver, the description says it quietly.
        st = create_cpu_instead(model, precision, o->threads, probe.message, out, err);
        if (st == EP_OK && driver > 0)
            snprintf((*out)->warning, sizeof (*out)->warning, "CUDA is not usable, running on the CPU: %s",
                     probe.message);
        return st;
    }
    if (index >= count)
        return ep_error_set(err, EP_ERR_DEVICE, "device %s: only %d CUDA device%s present", device, count,
                            count == 1 ? "" : "s");
    st = ep_backend_cuda_create(model, index, o->batch_tokens, out, err);
    if (st == EP_OK) {
        (*out)->batch_tokens = ep_backend_cuda_batch_tokens(*out);
        snprintf((*out)->precision, sizeof (*out)->precision, "fp16");
        snprintf((*out)->kernels, sizeof (*out)->kernels, "cuda");
        return EP_OK;
    }
    // With device auto, a model the kernels do not support (or a GPU too full) still runs, on the CPU.
    if (want_cuda || fp16_asked || (st != EP_ERR_MODEL && st != EP_ERR_NOMEM)) return st;
    char why[sizeof err->message];
    snprintf(why, sizeof why, "%s", err ? err->message : "unsupported");
    st = create_cpu_instead(model, precision, o->threads, why, out, err);
    if (st == EP_OK)
        snprintf((*out)->warning, sizeof (*out)->warning, "the CUDA backend failed, running on the CPU: %s", why);
    return st;
#else
    (void)index;
    if (want_cuda || fp16_asked)
        return ep_error_set(err, EP_ERR_DEVICE,
                            "device %s: this embedpipe was built without CUDA (no nvcc at build time); rebuild "
                            "with the CUDA toolkit installed, or use the cpu device", device);
    return create_cpu(model, precision, o->threads, out, err);
#endif
}

ep_status ep_cuda_devices(int *count, int *driver, ep_error *err) {
    *count = 0, *driver = 0;
#ifdef EP_HAVE_CUDA_BACKEND
    ep_status st = ep_cuda_probe(count, driver, err);
    if (st == EP_OK && *count < 1) st = ep_error_set(err, EP_ERR_DEVICE, "no CUDA device present");
    return st;
#else
    return ep_error_set(err, EP_ERR_DEVICE, "this embedpipe was built without CUDA (no nvcc at build time)");
#endif
}
