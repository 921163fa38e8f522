/* emu_internal.h - what scheduler.cpp and runtime.cpp share inside the emulation. */
#ifndef EP_EMU_INTERNAL_H
#define EP_EMU_INTERNAL_H

#include "cuda_emu.cuh"

#include <mutex>

namespace ep_emu {

// Every runtime entry point holds this while it works: streams, allocations and
// the running grid are process-wide, as a device is.
std::recursive_mutex &api_mutex();

// Runs a whole grid now (scheduler.cpp). @return false when a violation stopped it.
bool run_grid(const char *kernel, const char *site, dim3 grid, dim3 block, size_t smem,
              const std::function<void()> &body);

// Re-checks every device allocation's guard zones (runtime.cpp); damage is a
// violation attributed to `who`, and the guards are re-poisoned.
void check_guards(const char *who);

// Violation bookkeeping (scheduler.cpp).
void set_violation_context(const char *who); // prefix of messages: the kernel and its launch site
void note_sticky_error(cudaError_t e);       // runtime.cpp: makes later calls fail, as a faulted GPU does
uint64_t violation_count();
void count_launch(uint64_t blocks);

} // namespace ep_emu

#endif
