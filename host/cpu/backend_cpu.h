/*
 * backend_cpu.h - the plain CPU backend: the reference ops of cpu_ops.c with
 * OpenBLAS GEMMs, the oracle every other backend is tested against
 * (`--precision fp32-reference`).
 */
#ifndef EP_BACKEND_CPU_H
#define EP_BACKEND_CPU_H

#include "backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The batch budget (tokens) both CPU backends ask for: big enough that the per-batch
 * overhead vanishes, small enough that the activations stay modest. */
#define EP_CPU_BATCH_TOKENS 4096

/* Creates the CPU backend (backend_cpu.c). threads <= 0 means all cores.
 * @return EP_OK and *out set, or an error. */
ep_status ep_backend_cpu_create(const ep_model *model, int threads, ep_backend **out, ep_error *err);

#ifdef __cplusplus
}
#endif

#endif /* EP_BACKEND_CPU_H */
