/*
 * emu_rename.h - under EP_CUDA_EMULATION, every CUDA runtime function we use
 * is renamed to ep_emu_* before the toolkit's cuda_runtime_api.h declares it.
 *
 * Why: the emulation implements the runtime with the toolkit's own types and
 * signatures (so host code compiles unchanged), but under other names, so an
 * executable can link the emulation and the real libcudart side by side.
 * Plain C: host/cuda/backend_cuda.c and the C tests include it too.
 */
#ifndef EP_EMU_RENAME_H
#define EP_EMU_RENAME_H

#define cudaDeviceSynchronize ep_emu_cudaDeviceSynchronize
#define cudaDriverGetVersion ep_emu_cudaDriverGetVersion
#define cudaEventCreate ep_emu_cudaEventCreate
#define cudaEventCreateWithFlags ep_emu_cudaEventCreateWithFlags
#define cudaEventDestroy ep_emu_cudaEventDestroy
#define cudaEventElapsedTime ep_emu_cudaEventElapsedTime
#define cudaEventQuery ep_emu_cudaEventQuery
#define cudaEventRecord ep_emu_cudaEventRecord
#define cudaEventSynchronize ep_emu_cudaEventSynchronize
#define cudaFree ep_emu_cudaFree
#define cudaFreeHost ep_emu_cudaFreeHost
#define cudaFuncSetAttribute ep_emu_cudaFuncSetAttribute
#define cudaGetDevice ep_emu_cudaGetDevice
#define cudaGetDeviceCount ep_emu_cudaGetDeviceCount
#define cudaGetDeviceProperties ep_emu_cudaGetDeviceProperties
#define cudaGetErrorName ep_emu_cudaGetErrorName
#define cudaGetErrorString ep_emu_cudaGetErrorString
#define cudaGetLastError ep_emu_cudaGetLastError
#define cudaHostAlloc ep_emu_cudaHostAlloc
#define cudaMalloc ep_emu_cudaMalloc
#define cudaMallocHost ep_emu_cudaMallocHost
#define cudaMemGetInfo ep_emu_cudaMemGetInfo
#define cudaMemcpy ep_emu_cudaMemcpy
#define cudaMemcpyAsync ep_emu_cudaMemcpyAsync
#define cudaMemset ep_emu_cudaMemset
#define cudaMemsetAsync ep_emu_cudaMemsetAsync
#define cudaPeekAtLastError ep_emu_cudaPeekAtLastError
#define cudaRuntimeGetVersion ep_emu_cudaRuntimeGetVersion
#define cudaSetDevice ep_emu_cudaSetDevice
#define cudaStreamCreate ep_emu_cudaStreamCreate
#define cudaStreamCreateWithFlags ep_emu_cudaStreamCreateWithFlags
#define cudaStreamDestroy ep_emu_cudaStreamDestroy
#define cudaStreamSynchronize ep_emu_cudaStreamSynchronize
#define cudaStreamWaitEvent ep_emu_cudaStreamWaitEvent

#endif /* EP_EMU_RENAME_H */
