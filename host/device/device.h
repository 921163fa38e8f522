/*
 * device.h - choosing the backend for a run: the device (auto, cpu, cuda,
 * cuda:N) and the precision. The only code that knows every backend; each backend
 * knows only the interface in host/backend/backend.h.
 */
#ifndef EP_DEVICE_H
#define EP_DEVICE_H

#include "backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The arithmetic of a backend. Each device takes only its own modes:
 * the CPU fp32, bf16, int8 and fp32-reference; CUDA fp16 (float16 storage, float32
 * accumulation). With device "auto", a CPU mode picks the CPU. */
typedef enum ep_precision {
    EP_PRECISION_AUTO = 0,       /* "auto" (the default): the fastest mode that meets auto's accuracy bar on this
                                    machine: CPU bf16 on AMX or AMD Zen 5, else fp32 (ep_cpu_auto_precision);
                                    CUDA fp16 */
    EP_PRECISION_FP32,           /* "fp32": CPU, float32 everywhere (the fast kernels) */
    EP_PRECISION_BF16,           /* "bf16": CPU, bfloat16 GEMM inputs, float32 accumulation (AMX, AVX512-BF16) */
    EP_PRECISION_FP32_REFERENCE, /* "fp32-reference": CPU, the plain backend every other path is tested against */
    EP_PRECISION_FP16,           /* "fp16": CUDA, float16 storage, float32 accumulation */
    EP_PRECISION_INT8            /* "int8": CPU, int8 GEMMs (AVX512-VNNI), float32 elsewhere; where offered */
} ep_precision;

/* Parses a precision name; NULL or "" is EP_PRECISION_AUTO.
 * @return EP_OK and *out; EP_ERR_USAGE naming the accepted values otherwise. */
ep_status ep_precision_parse(const char *text, ep_precision *out, ep_error *err);

/* @return the name ep_precision_parse accepts for p ("auto" for EP_PRECISION_AUTO). */
const char *ep_precision_name(ep_precision p);

/* How to build a backend; zero / NULL fields take their defaults. */
typedef struct ep_backend_options {
    const char *device;     /* "cpu", "cuda", "cuda:N", "auto" (NULL = "auto"), or "null":
                               no encoder, zero rows (host/null/backend_null.h) */
    int threads;            /* CPU threads; <= 0 = all cores */
    size_t batch_tokens;    /* largest batch the caller will submit (CUDA sizes its buffers from it; 0 = auto) */
    const char *precision;  /* a name for ep_precision_parse (NULL = the device's default) */
} ep_backend_options;

/* Creates the backend the options ask for. "auto" takes CUDA when a device is
 * usable and the precision is CUDA's (or auto), else the CPU, its description
 * saying why CUDA was not used; backend->warning also says it when a driver is
 * there but unusable (e.g. too old) or the CUDA backend failed: a setup to fix,
 * which the caller shows (this library prints nothing).
 * @return EP_OK; EP_ERR_DEVICE when CUDA was asked for and is unavailable
 *         (not compiled in, or no device: the CUDA error's name and text), or this
 *         CPU lacks what the precision needs; EP_ERR_USAGE for an unknown device or
 *         precision, or a precision the device does not compute in. Messages name
 *         the device and precision values, never command-line flags: the caller adds those.
 *         On EP_OK, (*out)->precision names the precision actually used ("auto" resolved). */
ep_status ep_backend_create(const ep_model *model, const ep_backend_options *options, ep_backend **out,
                            ep_error *err);

/* The CUDA devices this process can use (for `embedpipe info`).
 * @return EP_OK with *count >= 1 and *driver (the driver's version number); EP_ERR_DEVICE with a
 *         message saying why none is usable, or that this build has no CUDA backend. */
ep_status ep_cuda_devices(int *count, int *driver, ep_error *err);

#ifdef __cplusplus
}
#endif

#endif /* EP_DEVICE_H */
