/*
 * cuda_emu.cuh - what a kernel source needs from CUDA, implemented for the
 * host C++ compiler, so that the same kernel sources (kernels/NAME.cu) run on a machine without a
 * GPU (included by kernels/common.cuh when EP_CUDA_EMULATION is defined).
 *
 * Model: a launch runs its blocks one after another; a block's threads are
 * fibers (emu/fiber.cpp) run by emu/scheduler.cpp. A thread runs until it
 * reaches __syncthreads (all threads of the block must arrive), a warp
 * shuffle (all lanes named in the mask must arrive; values go through
 * per-warp slots), or its end. Shared arrays (EP_SHARED, EP_DYNAMIC_SHARED)
 * belong to the block, start poisoned (0xFF: NaN as half and float), and
 * every access is bounds-checked and race-checked: a thread touching an
 * element that another thread wrote (or read, for a write) since the last
 * barrier is a violation - exactly what a missing __syncthreads leaves.
 * Device memory comes from the emulated cudaMalloc, poisoned and guarded
 * (emu/runtime.cpp), so out-of-range global writes are found after the launch
 * and out-of-range reads return NaN.
 */
#ifndef EP_CUDA_EMU_CUH
#define EP_CUDA_EMU_CUH

#ifndef EP_CUDA_EMULATION
#error "cuda_emu.cuh is for EP_CUDA_EMULATION builds"
#endif

#include "emu_rename.h"

#include <cuda_runtime_api.h>
#include <cuda_fp16.h>

#include <math.h>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>

#include "emu.h"

#define __launch_bounds__(...)
static constexpr int warpSize = 32;

namespace ep_emu {

// ----------------------------------------------------------------------------
// The running thread: set by the scheduler before it switches to a fiber.

extern uint3 g_thread_idx;  // of the running thread
extern uint3 g_block_idx;
extern dim3 g_block_dim;
extern dim3 g_grid_dim;
extern unsigned g_tid;      // linear index of the running thread in its block
extern uint64_t g_epoch;    // barrier epoch of the running block (unique across blocks)

// Records a violation (first one kept verbatim, all counted) and marks the launch failed.
void violation(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

void syncthreads(const char *file, int line);
void syncwarp(const char *file, int line, unsigned mask = 0xffffffffu);
// Mode: 0 idx, 1 up, 2 down, 3 xor. Returns the source lane's 64-bit payload.
uint64_t shuffle(unsigned mask, uint64_t bits, int mode, int arg, int width, const char *file, int line);

// Shared memory registry of the running block: storage per declaration key.
void *shared_storage(const void *key, const char *name, size_t bytes, size_t elem_size, size_t count,
                     void **shadow_out);
void *dynamic_shared_storage(const char *name, size_t elem_size, size_t *count_out, void **shadow_out);

// Launch: type-erased body run by every thread of every block (on the given stream's order).
void launch(const char *kernel, const char *file, int line, dim3 grid, dim3 block, size_t smem, cudaStream_t stream,
            std::function<void()> body);
// Host work queued on a stream, run in order with its kernels and copies.
void enqueue_host(cudaStream_t stream, std::function<void()> work);
// @return whether [p, p + bytes) lies inside one live device allocation.
bool is_device_range(const void *p, size_t bytes);

// ----------------------------------------------------------------------------
// Race shadow of one shared element: who wrote it and who read it, in which epoch.

struct shadow {
    uint64_t w_epoch, r_epoch;
    uint32_t w_tid, r_tid; // r_tid == UINT32_MAX: read by several threads
};

void shared_race(const char *name, size_t index, const char *what, uint32_t other);

template <class T> class shared_ref {
  public:
    shared_ref(T *p, shadow *s, const char *name, size_t index) : p_(p), s_(s), name_(name), index_(index) {}
    operator T() const { return read(); }
    shared_ref &operator=(const T &v) {
        write();
        *p_ = v;
        return *this;
    }
    shared_ref &operator=(const shared_ref &o) { return *this = o.read(); }
    template <class U> shared_ref &operator+=(const U &v) { return *this = T(read() + v); }
    template <class U> shared_ref &operator-=(const U &v) { return *this = T(read() - v); }
    template <class U> shared_ref &operator*=(const U &v) { return *this = T(read() * v); }
    template <class U> shared_ref &operator/=(const U &v) { return *this = T(read() / v); }

  private:
    T read() const {
        if (s_) {
            if (s_->w_epoch == g_epoch && s_->w_tid != g_tid) shared_race(name_, index_, "reads a value written", s_->w_tid);
            if (s_->r_epoch != g_epoch) {
                s_->r_epoch = g_epoch;
                s_->r_tid = g_tid;
            } else if (s_->r_tid != g_tid) {
                s_->r_tid = UINT32_MAX;
            }
        }
        return *p_;
    }
    void write() {
        if (!s_) return;
        if (s_->w_epoch == g_epoch && s_->w_tid != g_tid) shared_race(name_, index_, "overwrites a value written", s_->w_tid);
        if (s_->r_epoch == g_epoch && s_->r_tid != g_tid)
            shared_race(name_, index_, "overwrites a value read", s_->r_tid);
        s_->w_epoch = g_epoch;
        s_->w_tid = g_tid;
    }
    T *p_;
    shadow *s_;
    const char *name_;
    size_t index_;
};

// A handle on a block's shared array: indexing is bounds- and race-checked.
template <class T> class shared_array {
  public:
    shared_array(T *data, shadow *sh, size_t n, const char *name) : data_(data), sh_(sh), n_(n), name_(name) {}
    shared_ref<T> operator[](long long i) const {
        if (i < 0 || (unsigned long long)i >= n_) {
            violation("shared array '%s' indexed at %lld, outside [0, %zu), by thread (%u,%u,%u) of block (%u,%u,%u)",
                      name_, i, n_, g_thread_idx.x, g_thread_idx.y, g_thread_idx.z, g_block_idx.x, g_block_idx.y,
                      g_block_idx.z);
            static T scratch; // the access goes nowhere; the launch is already marked failed
            return shared_ref<T>(&scratch, nullptr, name_, 0);
        }
        return shared_ref<T>(data_ + i, sh_ + i, name_, (size_t)i);
    }
    size_t size() const { return n_; }

  private:
    T *data_;
    shadow *sh_;
    size_t n_;
    const char *name_;
};

template <class T, size_t N> shared_array<T> bind_shared(const void *key, const char *name) {
    void *sh = nullptr;
    T *p = static_cast<T *>(shared_storage(key, name, sizeof(T) * N, sizeof(T), N, &sh));
    return shared_array<T>(p, static_cast<shadow *>(sh), N, name);
}

template <class T> shared_array<T> bind_dynamic_shared(const char *name) {
    void *sh = nullptr;
    size_t n = 0;
    T *p = static_cast<T *>(dynamic_shared_storage(name, sizeof(T), &n, &sh));
    return shared_array<T>(p, static_cast<shadow *>(sh), n, name);
}

void check_aligned(const void *p, size_t align, const char *what, const char *file, int line);

} // namespace ep_emu

// ----------------------------------------------------------------------------
// The CUDA names kernels use.

#define threadIdx (::ep_emu::g_thread_idx)
#define blockIdx (::ep_emu::g_block_idx)
#define blockDim (::ep_emu::g_block_dim)
#define gridDim (::ep_emu::g_grid_dim)
#define __syncthreads() ::ep_emu::syncthreads(__FILE__, __LINE__)
#define __syncwarp(...) ::ep_emu::syncwarp(__FILE__, __LINE__, ##__VA_ARGS__)

#define EP_EMU_SHUFFLE(name, mode, argname)                                                                   \
    template <class T>                                                                                       \
    static inline T name(unsigned mask, T var, int argname, int width = 32, const char *file = __builtin_FILE(), \
                         int line = __builtin_LINE()) {                                                      \
        static_assert(sizeof(T) <= 8, #name ": at most 8 bytes per lane");                                    \
        uint64_t bits = 0;                                                                                   \
        std::memcpy(&bits, &var, sizeof(T));                                                                 \
        bits = ::ep_emu::shuffle(mask, bits, mode, argname, width, file, line);                      \
        T r;                                                                                                 \
        std::memcpy(static_cast<void *>(&r), &bits, sizeof(T));                                              \
        return r;                                                                                            \
    }
EP_EMU_SHUFFLE(__shfl_sync, 0, srcLane)
EP_EMU_SHUFFLE(__shfl_up_sync, 1, delta)
EP_EMU_SHUFFLE(__shfl_down_sync, 2, delta)
EP_EMU_SHUFFLE(__shfl_xor_sync, 3, laneMask)
#undef EP_EMU_SHUFFLE

// Threads are fibers on one OS thread: a read-modify-write cannot be interrupted.
template <class T> static inline T atomicAdd(T *address, T val) {
    T old = *address;
    *address = old + val;
    return old;
}
template <class T> static inline T atomicMax(T *address, T val) {
    T old = *address;
    if (val > old) *address = val;
    return old;
}

static inline int min(int a, int b) { return a < b ? a : b; }
static inline int max(int a, int b) { return a > b ? a : b; }
static inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
static inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
static inline long long min(long long a, long long b) { return a < b ? a : b; }
static inline long long max(long long a, long long b) { return a > b ? a : b; }
static inline float __fdividef(float a, float b) { return a / b; }
static inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }

#define EP_SHARED(T, name, N)                                                                                \
    static const char name##_ep_key = 0;                                                                     \
    const ::ep_emu::shared_array<T> name = ::ep_emu::bind_shared<T, (N)>(&name##_ep_key, #name)
#define EP_DYNAMIC_SHARED(T, name) const ::ep_emu::shared_array<T> name = ::ep_emu::bind_dynamic_shared<T>(#name)

// The body captures the arguments by value once, as a real launch copies them.
#define EP_LAUNCH(kernel, grid, block, smem, stream, ...)                                                    \
    ::ep_emu::launch(#kernel, __FILE__, __LINE__, dim3(grid), dim3(block), (smem), (stream),                 \
                     [=]() { kernel(__VA_ARGS__); })

#define EP_CHECK_ALIGNED(p, align) ::ep_emu::check_aligned((p), (align), #p, __FILE__, __LINE__)
#define EP_UNROLL

#endif /* EP_CUDA_EMU_CUH */
