/*
 * emu.h - controls and findings of the CUDA emulation (kernels/emu/), for tests.
 *
 * The emulation runs kernels on the CPU: each block's threads are fibers that
 * switch at __syncthreads and warp shuffles; device allocations carry poisoned
 * guard zones; __shared__ arrays are bounds- and race-checked. What it finds
 * ("violations") becomes a sticky CUDA error, as a fault on a real GPU would,
 * and its text is kept here. Plain C.
 */
#ifndef EP_EMU_H
#define EP_EMU_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ep_emu_stats {
    uint64_t launches;          /* kernels run */
    uint64_t blocks;            /* blocks run */
    uint64_t violations;        /* races, out-of-range indices, guard-zone hits, divergent barriers */
    uint64_t async_copies;      /* cudaMemcpyAsync calls */
    uint64_t unpinned_async;    /* ... whose host side was not from cudaHostAlloc (no overlap on a GPU) */
    uint64_t streams_used;      /* distinct non-default streams that ran work */
    uint64_t failed_allocs;     /* cudaMalloc calls refused by the memory limit */
    uint64_t spinning_waits;    /* host waits that would spin a core: cudaEventSynchronize on an event
                                   without cudaEventBlockingSync, any stream or device synchronisation
                                   (cudaDeviceScheduleBlockingSync is not modelled) */
    uint64_t pageable_uploads;  /* cudaMemcpy host-to-device from pageable memory (staged, deferred) */
    size_t bytes_in_use;        /* device bytes allocated now */
    size_t peak_bytes;          /* most device bytes allocated at once */
} ep_emu_stats;

/* Sets the emulated device's memory (cudaMalloc fails past it; cudaMemGetInfo
 * reports it). 0 restores the default (512 MiB). */
void ep_emu_set_memory_limit(size_t bytes);

/* Makes cudaGetDeviceCount (and cudaSetDevice, cudaGetDeviceProperties) fail
 * with cuda_error (a cudaError_t; 0 = work again), and cudaDriverGetVersion
 * report driver_version (0 = no driver installed; CUDA 12.2 = 12020): an old
 * driver, a missing one, or no GPU, as the probe of --device auto meets them. */
void ep_emu_set_device_error(int cuda_error, int driver_version);

/* Order in which a block's threads run between barriers: 0 = ascending thread
 * index (default), 1 = descending. Results must not depend on it. */
void ep_emu_set_schedule(int order);

/* @return counters since the last ep_emu_reset. */
ep_emu_stats ep_emu_get_stats(void);

/* @return the first violation's description since the last reset ("" when none). */
const char *ep_emu_first_violation(void);

/* Clears the sticky error, the violation log and the counters (like
 * cudaDeviceReset, but allocations stay valid). */
void ep_emu_reset(void);

#ifdef __cplusplus
}
#endif

#endif /* EP_EMU_H */
