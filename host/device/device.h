/*
 * device.h - choosing the backend for a run: --device (auto, cpu, cuda, cuda:N)
 * and --precision. The only code that knows every backend; each backend
 * knows only the interface in host/backend/backend.h.
 */
#ifndef EP_DEVICE_H
#define EP_DEVICE_H

#include "backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How to build a backend; zero / NULL fields take their defaults. */
typedef struct ep_backend_options {
    const char *device;     /* "cpu", "cuda", "cuda:N" or "auto" (NULL = "auto") */
    int threads;            /* CPU threads; <= 0 = all cores */
    size_t batch_tokens;    /* largest batch the caller will submit (CUDA sizes its buffers from it; 0 = auto) */
    const char *precision;  /* NULL = the device's default; CPU: "fp32", "bf16", "fp32-reference";
                               CUDA: "fp16" (its only mode: fp16 storage, fp32 accumulation) */
} ep_backend_options;

/* Creates the backend the options ask for. "auto" takes CUDA when a device is
 * usable and the precision is CUDA's (or unset), else the CPU, its description
 * saying why CUDA was not used (and a warning on stderr when a driver is there
 * but unusable, e.g. too old).
 * @return EP_OK; EP_ERR_DEVICE when CUDA was asked for and is unavailable
 *         (not compiled in, or no device: the CUDA error's name and text);
 *         EP_ERR_USAGE for an unknown device or precision, or one the device
 *         does not compute in. */
ep_status ep_backend_create(const ep_model *model, const ep_backend_options *options, ep_backend **out,
                            ep_error *err);

#ifdef __cplusplus
}
#endif

#endif /* EP_DEVICE_H */
