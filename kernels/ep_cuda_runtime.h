/*
 * ep_cuda_runtime.h - the CUDA runtime API for host code (C or C++), real or
 * emulated, and the one macro through which every runtime call is checked.
 */
#ifndef EP_CUDA_RUNTIME_H
#define EP_CUDA_RUNTIME_H

#ifdef EP_CUDA_EMULATION
#include "emu/emu_rename.h" /* before the toolkit header: it declares the emulation's names */
#endif
#include <cuda_runtime_api.h>

#include "ep_cuda.h"

/* Runs call; on failure returns an ep_status naming the call, file and line. */
#define EP_CUDA_CHECK(call, err)                                                                            \
    do {                                                                                                    \
        cudaError_t ep_cuda_e_ = (call);                                                                    \
        if (ep_cuda_e_ != cudaSuccess) return ep_cuda_check_fail((err), (int)ep_cuda_e_, #call, __FILE__, __LINE__); \
    } while (0)

/* The same for paths that must clean up: sets status and jumps to label. */
#define EP_CUDA_CHECK_GOTO(call, err, status, label)                                                        \
    do {                                                                                                    \
        cudaError_t ep_cuda_e_ = (call);                                                                    \
        if (ep_cuda_e_ != cudaSuccess) {                                                                    \
            (status) = ep_cuda_check_fail((err), (int)ep_cuda_e_, #call, __FILE__, __LINE__);               \
            goto label;                                                                                     \
        }                                                                                                   \
    } while (0)

#endif /* EP_CUDA_RUNTIME_H */
