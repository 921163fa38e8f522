/*
 * backend_cuda.h - the CUDA backend (host/cuda/backend_cuda.c over kernels/).
 *
 * Plain C; no CUDA type appears. Compiled when the build has CUDA
 * (EP_HAVE_CUDA); the same source also builds the "cuda-emulated" backend
 * of the CPU emulation (EP_CUDA_EMULATION, tests only), whose functions
 * carry an _emu suffix.
 */
#ifndef EP_BACKEND_CUDA_H
#define EP_BACKEND_CUDA_H

#include "backend.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef EP_CUDA_EMULATION
#define ep_backend_cuda_create ep_backend_cuda_create_emu
#define ep_backend_cuda_batch_tokens ep_backend_cuda_batch_tokens_emu
#define ep_cuda_device_count ep_cuda_device_count_emu
#define ep_cuda_probe ep_cuda_probe_emu
#endif

/* Creates the CUDA backend on device `device` (0-based). Weights are uploaded
 * once as fp16; device and pinned buffers are sized for batch_tokens tokens
 * per batch (0: a default from the free device memory, at most 65536). When
 * that does not fit, the budget is halved until it does (down to one
 * sequence of max_position tokens); batches larger than the budget are then
 * split internally, so callers need not know. max_in_flight is 2: upload,
 * compute and download of consecutive batches overlap on three streams.
 * @return EP_OK and *out; EP_ERR_DEVICE (no such device, CUDA failure),
 *         EP_ERR_NOMEM (not even the smallest budget fits), EP_ERR_MODEL
 *         (a shape the kernels do not support: hidden a multiple of 64 up to
 *         1024, head size 32 or 64). */
ep_status ep_backend_cuda_create(const ep_model *model, int device, size_t batch_tokens, ep_backend **out,
                                 ep_error *err);

/* @return the token budget per batch the backend settled on (after any
 * out-of-memory shrinking); batches up to this size are pipelined. */
size_t ep_backend_cuda_batch_tokens(const ep_backend *backend);

/* @return the number of CUDA devices; 0 when there is no driver or no device. */
int ep_cuda_device_count(void);

/* The probe behind --device auto / cuda (kernels/check.cu): *count devices,
 * *driver_version the driver's CUDA version (0: no driver installed; may be
 * NULL). @return EP_OK with *count >= 1, or EP_ERR_DEVICE with err naming
 * the CUDA error (name and text) that makes no device usable. */
ep_status ep_cuda_probe(int *count, int *driver_version, ep_error *err);

#ifdef __cplusplus
}
#endif

#endif /* EP_BACKEND_CUDA_H */
