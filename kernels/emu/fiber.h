/*
 * fiber.h - cooperative user-space threads for the kernel emulation: one per
 * emulated GPU thread, all on the OS thread that runs the launch.
 *
 * Switching is a few instructions on x86-64 (hand-written, callee-saved
 * registers only); elsewhere ucontext (correct, slower: it saves the signal
 * mask with a system call). Stacks are mmap'ed with a guard page below, so a
 * kernel that overflows its stack faults instead of corrupting a neighbour.
 */
#ifndef EP_EMU_FIBER_H
#define EP_EMU_FIBER_H

#include <cstddef>

namespace ep_emu {

struct fiber;

// Creates a fiber with a stack of stack_bytes; it runs entry(arg) when first resumed.
fiber *fiber_create(size_t stack_bytes);
void fiber_destroy(fiber *f);
// Re-arms f so that its next resume starts entry(arg) afresh on its stack.
void fiber_reset(fiber *f, void (*entry)(void *), void *arg);
// Runs f until it yields or its entry returns. Called from the scheduler only.
void fiber_resume(fiber *f);
// From inside a fiber: back to the scheduler that resumed it.
void fiber_yield(fiber *f);
// From inside a fiber: its entry is done; never returns. (Not marked noreturn: AddressSanitizer
// would then unpoison "the stack" before the call, and it cannot tell a fiber's stack from the rest.)
void fiber_exit(fiber *f);

} // namespace ep_emu

#endif
