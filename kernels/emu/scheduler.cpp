/*
 * scheduler.cpp - runs a grid on the CPU: blocks one after another, each
 * block's threads as fibers that meet at __syncthreads and warp shuffles.
 * It also owns the block's shared memory and the violation log.
 */
#include "emu_internal.h"
#include "fiber.h"

#include <signal.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace ep_emu {

uint3 g_thread_idx;
uint3 g_block_idx;
dim3 g_block_dim;
dim3 g_grid_dim;
unsigned g_tid;
uint64_t g_epoch;

namespace {

enum { T_RUNNABLE, T_BARRIER, T_WARP, T_EXITED };

struct thread_state {
    fiber *f;
    uint3 idx;
    int status;
    unsigned parity;      // slot bank of the shuffle this thread waits on
    const char *file;     // where it waits
    int line;
};

struct warp_state {
    unsigned live;        // lanes that exist and have not exited
    unsigned arrived;     // lanes waiting at the current warp operation
    unsigned mask;        // the mask they named
    unsigned parity;      // slot bank being filled
    const char *file;
    int line;
    uint64_t slots[2][32];
};

struct shared_entry {
    const void *key;
    const char *name;
    size_t bytes, count;
    char *data;
    shadow *sh;
    uint64_t block_serial; // block that last poisoned it
};

struct block_run {
    std::vector<thread_state> threads;
    std::vector<warp_state> warps;
    const std::function<void()> *body;
    unsigned n, live, at_barrier;
    size_t static_smem;
    // dynamic shared memory
    std::vector<char> dyn;
    std::vector<shadow> dyn_shadow;
    size_t dyn_elem;
    bool dyn_bound;
    bool aborted;
};

std::vector<fiber *> g_fibers;
std::vector<shared_entry> g_shared; // kept across blocks and launches; re-poisoned per block
block_run g_run;

// Returns the fibers' stacks and the shared arrays at exit, so that leak checkers stay quiet.
struct pools_at_exit {
    ~pools_at_exit() {
        for (fiber *f : g_fibers) fiber_destroy(f);
        g_fibers.clear();
        for (auto &e : g_shared) {
            free(e.data);
            free(e.sh);
        }
        g_shared.clear();
    }
} g_pools_at_exit; // declared after the pools: destroyed before them

uint64_t g_epoch_counter;
uint64_t g_block_serial;
int g_order; // 0 ascending, 1 descending

// violation log
std::string g_context;
std::string g_first;
uint64_t g_violations;
bool g_launch_violated;
uint64_t g_launches, g_blocks;

constexpr size_t kStackBytes = 128 * 1024;
volatile sig_atomic_t g_in_grid;

// A wild index can leave the guard zones altogether; then the host faults. Say which kernel
// did it before the process dies (a GPU would report an illegal address there too).
void on_fault(int sig) {
    if (g_in_grid) {
        char msg[1024];
        const int n = snprintf(msg, sizeof msg,
                               "ep_emu: %s: thread (%u,%u,%u) of block (%u,%u,%u) touched memory outside every "
                               "allocation and its guard zones (signal %d): an out-of-range index\n",
                               g_context.c_str(), g_thread_idx.x, g_thread_idx.y, g_thread_idx.z, g_block_idx.x,
                               g_block_idx.y, g_block_idx.z, sig);
        if (n > 0) (void)!write(2, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
    }
    signal(sig, SIG_DFL); // returning re-runs the access, which now ends the process
}

void install_fault_handler() {
#if defined(__SANITIZE_ADDRESS__)
    return; // AddressSanitizer reports faults itself, with more detail
#endif
    static bool done;
    if (done) return;
    done = true;
    static char alt[64 * 1024]; // the fault may be a fiber's stack overflow: handle it elsewhere
    stack_t ss{};
    ss.ss_sp = alt;
    ss.ss_size = sizeof alt;
    sigaltstack(&ss, nullptr);
    struct sigaction sa{};
    sa.sa_handler = on_fault;
    sa.sa_flags = SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, nullptr);
    sigaction(SIGBUS, &sa, nullptr);
}
constexpr size_t kStaticSmemLimit = 48 * 1024;

void thread_entry(void *) {
    (*g_run.body)();
    thread_state &t = g_run.threads[g_tid];
    t.status = T_EXITED;
    g_run.live--;
    g_run.warps[g_tid / 32].live &= ~(1u << (g_tid % 32));
}

thread_state &me() { return g_run.threads[g_tid]; }

void set_current(unsigned i) {
    g_tid = i;
    g_thread_idx = g_run.threads[i].idx;
}

unsigned lanes_live(unsigned warp) { return g_run.warps[warp].live; }

// Arrival at a warp-level meeting point; returns the slot bank to read.
unsigned warp_arrive(unsigned mask, uint64_t bits, const char *file, int line) {
    const unsigned warp = g_tid / 32, lane = g_tid % 32;
    warp_state &w = g_run.warps[warp];
    if (!(mask & (1u << lane)))
        violation("%s:%d: lane %u calls a warp operation with mask 0x%08x that excludes itself", file, line, lane, mask);
    if (w.arrived == 0) {
        w.mask = mask;
        w.file = file;
        w.line = line;
    } else if (w.mask != mask || w.line != line || w.file != file) {
        violation("%s:%d: lanes of warp %u meet at different warp operations (%s:%d, mask 0x%08x vs 0x%08x)", file,
                  line, warp, w.file, w.line, w.mask, mask);
    }
    const unsigned live = lanes_live(warp);
    if (w.mask & ~live)
        violation("%s:%d: warp %u names lanes 0x%08x in its mask that do not exist or have exited", file, line, warp,
                  w.mask & ~live);
    w.slots[w.parity][lane] = bits;
    w.arrived |= 1u << lane;
    const unsigned bank = w.parity;
    if ((w.arrived & live) == (w.mask & live)) { // everyone named is here: release them
        for (unsigned l = 0; l < 32; l++)
            if ((w.arrived & (1u << l)) && l != lane) g_run.threads[warp * 32 + l].status = T_RUNNABLE;
        w.arrived = 0;
        w.parity ^= 1u;
        return bank;
    }
    thread_state &t = me();
    t.status = T_WARP;
    t.parity = bank;
    t.file = file;
    t.line = line;
    const unsigned self = g_tid;
    fiber_yield(t.f);
    set_current(self);
    return g_run.threads[self].parity;
}

} // namespace

// ----------------------------------------------------------------------------
// Violations

void violation(const char *fmt, ...) {
    g_violations++;
    if (g_launch_violated) return; // one message per launch: the first is the cause
    g_launch_violated = true;
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    std::string full = g_context.empty() ? std::string(msg) : g_context + ": " + msg;
    fprintf(stderr, "ep_emu: VIOLATION: %s\n", full.c_str());
    if (g_first.empty()) g_first = full;
}

void set_violation_context(const char *who) {
    g_context = who ? who : "";
    g_launch_violated = false;
}

uint64_t violation_count() { return g_violations; }
void count_launch(uint64_t blocks) {
    g_launches++;
    g_blocks += blocks;
}

void shared_race(const char *name, size_t index, const char *what, uint32_t other) {
    char by[48];
    if (other == UINT32_MAX) snprintf(by, sizeof by, "several threads");
    else snprintf(by, sizeof by, "thread %u", other);
    violation("race on shared '%s'[%zu]: thread %u of block (%u,%u,%u) %s by %s since the last __syncthreads (a "
              "barrier is missing)",
              name, index, g_tid, g_block_idx.x, g_block_idx.y, g_block_idx.z, what, by);
}

void check_aligned(const void *p, size_t align, const char *what, const char *file, int line) {
    if ((uintptr_t)p % align)
        violation("%s:%d: %s = %p is not %zu-byte aligned (a vector access would fault on a GPU)", file, line, what, p,
                  align);
}

// ----------------------------------------------------------------------------
// Barriers and shuffles, called from inside fibers

void syncthreads(const char *file, int line) {
    thread_state &t = me();
    t.status = T_BARRIER;
    t.file = file;
    t.line = line;
    g_run.at_barrier++;
    const unsigned self = g_tid;
    fiber_yield(t.f);
    set_current(self);
}

void syncwarp(const char *file, int line, unsigned mask) { (void)warp_arrive(mask, 0, file, line); }

uint64_t shuffle(unsigned mask, uint64_t bits, int mode, int arg, int width, const char *file, int line) {
    const unsigned bank = warp_arrive(mask, bits, file, line);
    if (width <= 0 || width > 32 || (width & (width - 1)))
        violation("%s:%d: shuffle width %d is not a power of two in [1, 32]", file, line, width);
    const int lane = (int)(g_tid % 32);
    const int base = lane & ~(width - 1);
    int src = lane;
    switch (mode) {
    case 0: src = base + ((arg % width) + width) % width; break;
    case 1: src = lane - arg >= base ? lane - arg : lane; break;
    case 2: src = lane + arg < base + width ? lane + arg : lane; break;
    case 3: // earlier groups may be read; a later group gives the caller its own value (CUDA guide)
        src = lane ^ arg;
        if (src >= base + width) src = lane;
        break;
    }
    const warp_state &w = g_run.warps[g_tid / 32];
    if (!(w.mask & (1u << src))) {
        violation("%s:%d: lane %d reads lane %d, which is not in the shuffle's mask 0x%08x (undefined value)", file,
                  line, lane, src, w.mask);
        return bits;
    }
    return w.slots[bank][src];
}

// ----------------------------------------------------------------------------
// Shared memory of the running block

void *shared_storage(const void *key, const char *name, size_t bytes, size_t elem_size, size_t count,
                     void **shadow_out) {
    (void)elem_size;
    shared_entry *e = nullptr;
    for (auto &x : g_shared)
        if (x.key == key) e = &x;
    if (!e) {
        shared_entry n{};
        n.key = key;
        n.name = name;
        n.bytes = bytes;
        n.count = count;
        n.data = static_cast<char *>(aligned_alloc(64, (bytes + 63) / 64 * 64));
        n.sh = static_cast<shadow *>(calloc(count, sizeof(shadow)));
        if (!n.data || !n.sh) {
            fprintf(stderr, "ep_emu: out of host memory for shared array '%s'\n", name);
            abort();
        }
        g_shared.push_back(n);
        e = &g_shared.back();
    }
    if (e->block_serial != g_block_serial) { // first use in this block: fresh, poisoned storage
        e->block_serial = g_block_serial;
        memset(e->data, 0xff, e->bytes);
        g_run.static_smem += e->bytes;
        if (g_run.static_smem > kStaticSmemLimit)
            violation("static shared memory of the block exceeds %zu bytes ('%s' brings it to %zu)", kStaticSmemLimit,
                      name, g_run.static_smem);
    }
    *shadow_out = e->sh; // stale entries carry older epochs: no reset needed
    return e->data;
}

void *dynamic_shared_storage(const char *name, size_t elem_size, size_t *count_out, void **shadow_out) {
    block_run &r = g_run;
    if (!r.dyn_bound) {
        r.dyn_bound = true;
        r.dyn_elem = elem_size;
        r.dyn_shadow.assign(r.dyn.size() / elem_size, shadow{});
    } else if (r.dyn_elem != elem_size) {
        violation("dynamic shared memory viewed as elements of %zu and %zu bytes ('%s'): the race check needs one "
                  "element type",
                  r.dyn_elem, elem_size, name);
    }
    *count_out = r.dyn.size() / r.dyn_elem;
    *shadow_out = r.dyn_shadow.data();
    return r.dyn.data();
}

// ----------------------------------------------------------------------------
// The grid

bool run_grid(const char *kernel, const char *site, dim3 grid, dim3 block, size_t smem,
              const std::function<void()> &body) {
    (void)kernel;
    (void)site;
    block_run &r = g_run;
    r.n = block.x * block.y * block.z;
    r.body = &body;
    r.threads.assign(r.n, thread_state{});
    r.warps.assign((r.n + 31) / 32, warp_state{});
    while (g_fibers.size() < r.n) {
        fiber *f = fiber_create(kStackBytes);
        if (!f) {
            violation("cannot create %u fibers (out of host memory)", r.n);
            return false;
        }
        g_fibers.push_back(f);
    }
    install_fault_handler();
    g_grid_dim = grid;
    g_block_dim = block;
    const uint64_t before = g_violations;
    g_in_grid = 1;
    uint64_t blocks = 0;
    for (unsigned bz = 0; bz < grid.z; bz++)
        for (unsigned by = 0; by < grid.y; by++)
            for (unsigned bx = 0; bx < grid.x; bx++) {
                blocks++;
                g_block_idx = make_uint3(bx, by, bz);
                g_block_serial++;
                g_epoch = ++g_epoch_counter;
                r.live = r.n;
                r.at_barrier = 0;
                r.static_smem = 0;
                r.aborted = false;
                r.dyn.assign(smem, (char)0xff);
                r.dyn_bound = false;
                for (unsigned w = 0; w < r.warps.size(); w++) {
                    r.warps[w] = warp_state{};
                    const unsigned lanes = r.n - 32 * w >= 32 ? 32 : r.n - 32 * w;
                    r.warps[w].live = lanes == 32 ? 0xffffffffu : (1u << lanes) - 1u;
                }
                for (unsigned i = 0; i < r.n; i++) {
                    thread_state &t = r.threads[i];
                    t = thread_state{};
                    t.f = g_fibers[i];
                    t.idx = make_uint3(i % block.x, (i / block.x) % block.y, i / (block.x * block.y));
                    t.status = T_RUNNABLE;
                    fiber_reset(t.f, thread_entry, nullptr);
                }
                while (r.live > 0) {
                    bool ran = false;
                    for (unsigned k = 0; k < r.n; k++) {
                        const unsigned i = g_order ? r.n - 1 - k : k;
                        if (r.threads[i].status != T_RUNNABLE) continue;
                        set_current(i);
                        fiber_resume(r.threads[i].f);
                        ran = true;
                    }
                    if (r.live == 0) break;
                    if (r.at_barrier == r.live) {
                        const thread_state *first = nullptr;
                        for (auto &t : r.threads) {
                            if (t.status != T_BARRIER) continue;
                            if (!first) {
                                first = &t;
                            } else if (t.line != first->line || t.file != first->file) {
                                violation("threads of block (%u,%u,%u) wait at different __syncthreads (%s:%d and "
                                          "%s:%d): divergent barrier",
                                          bx, by, bz, first->file, first->line, t.file, t.line);
                                break;
                            }
                        }
                        if (r.live < r.n)
                            violation("%u thread(s) of block (%u,%u,%u) exited while the others wait at __syncthreads "
                                      "(%s:%d): divergent barrier",
                                      r.n - r.live, bx, by, bz, first->file, first->line);
                        g_epoch = ++g_epoch_counter;
                        for (auto &t : r.threads)
                            if (t.status == T_BARRIER) t.status = T_RUNNABLE;
                        r.at_barrier = 0;
                        continue;
                    }
                    if (!ran) {
                        const thread_state *w = nullptr;
                        for (auto &t : r.threads)
                            if (t.status == T_WARP || t.status == T_BARRIER) w = w ? w : &t;
                        violation("deadlock in block (%u,%u,%u): %u thread(s) wait (e.g. at %s:%d) for threads that "
                                  "exited or wait elsewhere",
                                  bx, by, bz, r.live, w ? w->file : "?", w ? w->line : 0);
                        r.aborted = true;
                        break;
                    }
                }
                if (r.aborted) {
                    g_in_grid = 0;
                    count_launch(blocks);
                    return false;
                }
            }
    g_in_grid = 0;
    count_launch(blocks);
    return g_violations == before;
}

} // namespace ep_emu

// ----------------------------------------------------------------------------
// Public controls (emu.h) that live here

extern "C" void ep_emu_set_schedule(int order) {
    std::lock_guard<std::recursive_mutex> lock(ep_emu::api_mutex());
    ep_emu::g_order = order ? 1 : 0;
}

extern "C" const char *ep_emu_first_violation(void) { return ep_emu::g_first.c_str(); }

namespace ep_emu {
void reset_violations() {
    g_first.clear();
    g_violations = 0;
    g_launches = 0;
    g_blocks = 0;
}
void violation_stats(uint64_t *violations, uint64_t *launches, uint64_t *blocks) {
    *violations = g_violations;
    *launches = g_launches;
    *blocks = g_blocks;
}
} // namespace ep_emu
