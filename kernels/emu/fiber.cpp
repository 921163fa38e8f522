/* fiber.cpp - cooperative fibers for the kernel emulation (see fiber.h). */
#include "fiber.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#if defined(__x86_64__) && !defined(EP_EMU_UCONTEXT)
#define EP_EMU_ASM_SWITCH 1
#else
#include <ucontext.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define EP_EMU_ASAN 1
#endif

namespace ep_emu {

struct fiber {
    char *map;          // mmap'ed region: guard page + stack
    size_t map_bytes;
    char *stack_lo;     // lowest usable stack byte
    size_t stack_bytes;
    void (*entry)(void *);
    void *arg;
#if EP_EMU_ASM_SWITCH
    void *sp;           // saved stack pointer of the fiber while suspended
    void *sched_sp;     // saved stack pointer of the scheduler while the fiber runs
#else
    ucontext_t ctx;
    ucontext_t sched_ctx;
#endif
#if EP_EMU_ASAN
    void *fake_stack;
    const void *sched_stack_lo;
    size_t sched_stack_bytes;
#endif
};

} // namespace ep_emu

#if EP_EMU_ASM_SWITCH
// ep_emu_ctx_switch(save, load): pushes the callee-saved registers and the
// SSE/x87 control words, stores rsp in *save, loads rsp = load and pops the
// same set from there. A new fiber's stack is laid out so that this "returns"
// into ep_emu_fiber_start with r12 = fiber, r13 = the function to call.
extern "C" void ep_emu_ctx_switch(void **save, void *load);
extern "C" void ep_emu_fiber_start(void);
asm(R"(
    .pushsection .text
    .globl ep_emu_ctx_switch
    .hidden ep_emu_ctx_switch
    .type ep_emu_ctx_switch,@function
ep_emu_ctx_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size ep_emu_ctx_switch, .-ep_emu_ctx_switch

    .globl ep_emu_fiber_start
    .hidden ep_emu_fiber_start
    .type ep_emu_fiber_start,@function
ep_emu_fiber_start:
    movq %r12, %rdi
    callq *%r13
    ud2
    .size ep_emu_fiber_start, .-ep_emu_fiber_start
    .popsection
)");
#endif

namespace ep_emu {

static void fiber_main(fiber *f) {
#if EP_EMU_ASAN
    __sanitizer_finish_switch_fiber(nullptr, &f->sched_stack_lo, &f->sched_stack_bytes);
#endif
    f->entry(f->arg);
    fiber_exit(f);
}

#if !EP_EMU_ASM_SWITCH
static fiber *g_starting; // ucontext passes int arguments only; the scheduler is single-threaded
static void ucontext_main(void) { fiber_main(g_starting); }
#endif

fiber *fiber_create(size_t stack_bytes) {
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    stack_bytes = (stack_bytes + page - 1) / page * page;
    fiber *f = static_cast<fiber *>(calloc(1, sizeof(fiber)));
    if (!f) return nullptr;
    f->map_bytes = stack_bytes + page;
    void *m = mmap(nullptr, f->map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) {
        free(f);
        return nullptr;
    }
    f->map = static_cast<char *>(m);
    mprotect(f->map, page, PROT_NONE); // overflow faults here
    f->stack_lo = f->map + page;
    f->stack_bytes = stack_bytes;
    return f;
}

void fiber_destroy(fiber *f) {
    if (!f) return;
    munmap(f->map, f->map_bytes);
    free(f);
}

void fiber_reset(fiber *f, void (*entry)(void *), void *arg) {
    f->entry = entry;
    f->arg = arg;
#if EP_EMU_ASAN
    // A fiber abandoned mid-kernel (a deadlocked block) left its frames' redzones poisoned.
    __asan_unpoison_memory_region(f->stack_lo, f->stack_bytes);
#endif
#if EP_EMU_ASM_SWITCH
    uintptr_t top = ((uintptr_t)(f->stack_lo + f->stack_bytes)) & ~(uintptr_t)15;
    void **sp = reinterpret_cast<void **>(top) - 8;
    const uint32_t mxcsr = 0x1f80, fpcw = 0x037f; // the ABI's initial control words
    sp[0] = reinterpret_cast<void *>((uintptr_t)mxcsr | ((uintptr_t)fpcw << 32));
    sp[1] = nullptr;                                           // r15
    sp[2] = nullptr;                                           // r14
    sp[3] = reinterpret_cast<void *>(&fiber_main);             // r13: called by the start stub
    sp[4] = f;                                                 // r12: its argument
    sp[5] = nullptr;                                           // rbx
    sp[6] = nullptr;                                           // rbp
    sp[7] = reinterpret_cast<void *>(&ep_emu_fiber_start);     // return address
    f->sp = sp;
#else
    getcontext(&f->ctx);
    f->ctx.uc_stack.ss_sp = f->stack_lo;
    f->ctx.uc_stack.ss_size = f->stack_bytes;
    f->ctx.uc_link = nullptr;
    makecontext(&f->ctx, ucontext_main, 0);
#endif
}

void fiber_resume(fiber *f) {
#if EP_EMU_ASAN
    void *fake = nullptr;
    __sanitizer_start_switch_fiber(&fake, f->stack_lo, f->stack_bytes);
#endif
#if EP_EMU_ASM_SWITCH
    ep_emu_ctx_switch(&f->sched_sp, f->sp);
#else
    g_starting = f;
    swapcontext(&f->sched_ctx, &f->ctx);
#endif
#if EP_EMU_ASAN
    __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#endif
}

void fiber_yield(fiber *f) {
#if EP_EMU_ASAN
    __sanitizer_start_switch_fiber(&f->fake_stack, f->sched_stack_lo, f->sched_stack_bytes);
#endif
#if EP_EMU_ASM_SWITCH
    ep_emu_ctx_switch(&f->sp, f->sched_sp);
#else
    swapcontext(&f->ctx, &f->sched_ctx);
#endif
#if EP_EMU_ASAN
    __sanitizer_finish_switch_fiber(f->fake_stack, &f->sched_stack_lo, &f->sched_stack_bytes);
#endif
}

void fiber_exit(fiber *f) {
#if EP_EMU_ASAN
    __sanitizer_start_switch_fiber(nullptr, f->sched_stack_lo, f->sched_stack_bytes);
#endif
#if EP_EMU_ASM_SWITCH
    void *dead;
    ep_emu_ctx_switch(&dead, f->sched_sp);
#else
    setcontext(&f->sched_ctx);
#endif
    fprintf(stderr, "ep_emu: a finished fiber was resumed\n");
    abort();
}

} // namespace ep_emu
