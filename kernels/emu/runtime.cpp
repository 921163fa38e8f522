/*
 * runtime.cpp - the CUDA runtime calls embedpipe uses, emulated on the host:
 * device memory with poisoned guard zones and an optional size limit, pinned
 * host memory, and streams/events as queues of deferred work.
 *
 * Deferred work is the point: an async copy or a launch only runs when
 * something waits for it (a stream or event synchronisation, a stream waiting
 * on an event, a synchronous copy, the default stream). Host code that reads a
 * pinned buffer before synchronising, or refills one that a queued copy still
 * has to read, gets wrong data here just as it would on a GPU - so the
 * two-stream pipeline's ordering is tested, not assumed.
 *
 * The legacy default stream is modelled as far as it can race: a cudaMemcpy
 * from pageable host memory to the device returns once the source has been
 * staged, and the copy itself lands only when something synchronises with the
 * legacy stream (the device, the legacy stream, a blocking stream's later work,
 * legacy-stream work). Streams created with cudaStreamNonBlocking do not wait
 * for it - so a kernel on such a stream that reads freshly "uploaded" weights
 * without a synchronisation in between reads poison (NaN), as it could on a GPU.
 *
 * Why one file of ~650 lines: it is the emulated CUDA runtime API, one small
 * function per runtime call over the shared queue model above; the scheduler
 * that runs kernels lives apart (scheduler.cpp).
 */
#include "emu_internal.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace ep_emu {

std::recursive_mutex &api_mutex() {
    static std::recursive_mutex m;
    return m;
}

void reset_violations();
void violation_stats(uint64_t *violations, uint64_t *launches, uint64_t *blocks);

namespace {

constexpr size_t kDefaultLimit = (size_t)512 << 20;
constexpr size_t kGuard = 4096;   // poisoned bytes before and after every allocation
// Guard bytes alternate 0x81, 0xFF by address parity: as float32 0xFF81FF81, a signalling NaN
// that any arithmetic turns into another bit pattern (a quiet NaN such as 0xFFFFFFFF would
// survive `x[n] += 1` unchanged); as fp16 0xFF81, a NaN. Fresh memory inside an allocation is
// 0xFF: NaN as half and float, -1 as an index, so reading it before writing stays harmless.
inline unsigned char guard_byte(const unsigned char *p) { return ((uintptr_t)p & 1) ? 0xff : 0x81; }
constexpr size_t kAlign = 256;    // cudaMalloc's alignment
constexpr size_t kSmemOptin = 227 * 1024;

struct allocation {
    char *raw;
    size_t size;
};

struct stream_rec {
    std::deque<std::function<void()>> queue;
    uint64_t enqueued = 0, executed = 0;
    bool used = false;
    bool blocking = true; // false: cudaStreamNonBlocking (no implicit ordering with the legacy stream)
};

struct event_rec {
    stream_rec *stream = nullptr; // nullptr: recorded on the default stream (complete at once)
    uint64_t position = 0;
    bool recorded = false;
    unsigned flags = 0;
    double time_ms = 0.0;
};

std::map<uintptr_t, allocation> g_allocs; // by user pointer
std::map<uintptr_t, size_t> g_pinned;
std::set<stream_rec *> g_streams;
std::map<const void *, int> g_smem_optin;
size_t g_limit = kDefaultLimit, g_in_use, g_peak;
cudaError_t g_last = cudaSuccess, g_sticky = cudaSuccess;
uint64_t g_async_copies, g_unpinned_async, g_failed_allocs, g_spinning_waits, g_pageable_uploads;
std::set<stream_rec *> g_streams_used;
int g_device;
stream_rec g_legacy; // the legacy default stream's deferred work: staged pageable uploads only
// ep_emu_set_device_error: what cudaGetDeviceCount reports (an old or missing driver, no GPU).
cudaError_t g_device_error = cudaSuccess;
int g_driver_version = CUDART_VERSION;

double now_ms() {
    using namespace std::chrono;
    return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

cudaError_t fail(cudaError_t e) {
    g_last = e;
    return e;
}

// Runs queued work of s until `position` items of it have executed.
void flush(stream_rec *s, uint64_t position) {
    while (s->executed < position && !s->queue.empty()) {
        std::function<void()> work = std::move(s->queue.front());
        s->queue.pop_front();
        s->executed++;
        work();
    }
}

void flush_legacy() { flush(&g_legacy, g_legacy.enqueued); }

// The streams first, the legacy stream's staged uploads last: of the orders a GPU may pick, the
// one that exposes a kernel on a non-blocking stream reading an upload it never waited for.
void flush_all() {
    for (stream_rec *s : g_streams) flush(s, s->enqueued);
    flush_legacy();
}

// Queues work on s; on the default stream it runs now, after everything queued elsewhere
// (the legacy default stream waits for all blocking streams). Work on a blocking stream
// first waits for what the legacy stream has pending; a non-blocking stream does not.
void submit(cudaStream_t stream, std::function<void()> work) {
    stream_rec *s = reinterpret_cast<stream_rec *>(stream);
    if (!s) {
        flush_all();
        work();
        return;
    }
    g_streams_used.insert(s);
    s->used = true;
    if (s->blocking && g_legacy.executed < g_legacy.enqueued) {
        const uint64_t position = g_legacy.enqueued;
        s->queue.push_back([position]() { flush(&g_legacy, position); });
        s->enqueued++;
    }
    s->queue.push_back(std::move(work));
    s->enqueued++;
}

const allocation *find_alloc(const void *p, size_t bytes) {
    const uintptr_t a = (uintptr_t)p;
    auto it = g_allocs.upper_bound(a);
    if (it == g_allocs.begin()) return nullptr;
    --it;
    if (a < it->first || a + bytes > it->first + it->second.size) return nullptr;
    return &it->second;
}

bool is_pinned(const void *p, size_t bytes) {
    const uintptr_t a = (uintptr_t)p;
    auto it = g_pinned.upper_bound(a);
    if (it == g_pinned.begin()) return false;
    --it;
    return a >= it->first && a + bytes <= it->first + it->second;
}

// Which side of a copy must be device memory.
bool check_copy(void *dst, const void *src, size_t n, cudaMemcpyKind kind) {
    if (n == 0) return true;
    const bool dst_dev = find_alloc(dst, n) != nullptr, src_dev = find_alloc(src, n) != nullptr;
    switch (kind) {
    case cudaMemcpyHostToDevice: return dst_dev && !src_dev;
    case cudaMemcpyDeviceToHost: return src_dev && !dst_dev;
    case cudaMemcpyDeviceToDevice: return dst_dev && src_dev;
    case cudaMemcpyHostToHost: return !dst_dev && !src_dev;
    case cudaMemcpyDefault: return true;
    }
    return false;
}

bool guard_intact(const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != guard_byte(p + i)) return false;
    return true;
}

void guard_fill(unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] = guard_byte(p + i);
}

} // namespace

bool is_device_range(const void *p, size_t bytes) {
    std::lock_guard<std::recursive_mutex> lock(api_mutex());
    return find_alloc(p, bytes) != nullptr;
}

void check_guards(const char *who) {
    for (auto &kv : g_allocs) {
        unsigned char *user = reinterpret_cast<unsigned char *>(kv.first);
        const size_t size = kv.second.size;
        unsigned char *before = user - kGuard, *after = user + size;
        if (!guard_intact(before, kGuard) || !guard_intact(after, kGuard)) {
            long off = 0;
            for (size_t i = 0; i < kGuard; i++)
                if (after[i] != guard_byte(after + i)) {
                    off = (long)(size + i);
                    break;
                }
            if (!off)
                for (size_t i = kGuard; i > 0; i--)
                    if (before[i - 1] != guard_byte(before + i - 1)) {
                        off = -(long)(kGuard - (i - 1));
                        break;
                    }
            set_violation_context(who);
            violation("wrote outside a device allocation of %zu bytes at %p: byte offset %ld (an out-of-range index)",
                      size, (void *)user, off);
            guard_fill(before, kGuard);
            guard_fill(after, kGuard);
            note_sticky_error(cudaErrorIllegalAddress);
        }
    }
}

void note_sticky_error(cudaError_t e) {
    if (g_sticky == cudaSuccess) g_sticky = e;
    g_last = e;
}

void launch(const char *kernel, const char *file, int line, dim3 grid, dim3 block, size_t smem, cudaStream_t stream,
            std::function<void()> body) {
    std::lock_guard<std::recursive_mutex> lock(api_mutex());
    const unsigned long long threads = (unsigned long long)block.x * block.y * block.z;
    if (threads == 0 || threads > 1024 || block.z > 64 || grid.x == 0 || grid.y == 0 || grid.z == 0 ||
        grid.y > 65535 || grid.z > 65535) {
        fprintf(stderr, "ep_emu: %s:%d: launch of %s with grid (%u,%u,%u) block (%u,%u,%u): invalid configuration\n",
                file, line, kernel, grid.x, grid.y, grid.z, block.x, block.y, block.z);
        fail(cudaErrorInvalidConfiguration);
        return;
    }
    if (smem > 48 * 1024) {
        fprintf(stderr, "ep_emu: %s:%d: launch of %s asks %zu bytes of dynamic shared memory (over 48 KiB needs "
                "cudaFuncSetAttribute, up to %zu)\n", file, line, kernel, smem, kSmemOptin);
        fail(cudaErrorInvalidValue);
        return;
    }
    std::string who = std::string("kernel ") + kernel + " (launched at " + file + ":" + std::to_string(line) + ")";
    submit(stream, [=]() {
        if (g_sticky != cudaSuccess) return; // a faulted context runs nothing more
        set_violation_context(who.c_str());
        const bool ok = run_grid(kernel, who.c_str(), grid, block, smem, body);
        if (!ok) note_sticky_error(cudaErrorLaunchFailure);
        check_guards(who.c_str());
    });
}

void enqueue_host(cudaStream_t stream, std::function<void()> work) {
    std::lock_guard<std::recursive_mutex> lock(api_mutex());
    submit(stream, [=]() {
        if (g_sticky != cudaSuccess) return;
        work();
        check_guards("host work on a stream (emulated library call)");
    });
}

} // namespace ep_emu

using namespace ep_emu;

#define EMU_LOCK std::lock_guard<std::recursive_mutex> lock_(api_mutex())
#define EMU_STICKY                                                                                                  \
    do {                                                                                                           \
        if (g_sticky != cudaSuccess) return fail(g_sticky);                                                        \
    } while (0)

// ----------------------------------------------------------------------------
// Memory

extern "C" cudaError_t ep_emu_cudaMalloc(void **ptr, size_t size) {
    EMU_LOCK;
    EMU_STICKY;
    if (!ptr) return fail(cudaErrorInvalidValue);
    *ptr = nullptr;
    const size_t rounded = (size + kAlign - 1) / kAlign * kAlign;
    if (g_in_use + rounded > g_limit) {
        g_failed_allocs++;
        return fail(cudaErrorMemoryAllocation);
    }
    char *raw = static_cast<char *>(aligned_alloc(kAlign, kGuard + rounded + kGuard));
    if (!raw) return fail(cudaErrorMemoryAllocation);
    char *user = raw + kGuard;
    guard_fill(reinterpret_cast<unsigned char *>(raw), kGuard);
    memset(user, 0xff, size); // uninitialised device memory reads as NaN / -1
    guard_fill(reinterpret_cast<unsigned char *>(user + size), rounded - size + kGuard);
    g_allocs[(uintptr_t)user] = allocation{raw, size};
    g_in_use += rounded;
    if (g_in_use > g_peak) g_peak = g_in_use;
    *ptr = user;
    return cudaSuccess;
}

extern "C" cudaError_t ep_emu_cudaFree(void *ptr) {
    EMU_LOCK;
    if (!ptr) return cudaSuccess;
    flush_all(); // cudaFree synchronises the device
    auto it = g_allocs.find((uintptr_t)ptr);
    if (it == g_allocs.end()) return fail(cudaErrorInvalidValue);
    check_guards("cudaFree");
    g_in_use -= (it->second.size + kAlign - 1) / kAlign * kAlign;
    free(it->second.raw);
    g_allocs.erase(it);
    return cudaSuccess;
}

extern "C" cudaError_t ep_emu_cudaHostAlloc(void **ptr, size_t size, unsigned int flags) {
    EMU_LOCK;
    (void)flags;
    if (!ptr) return fail(cudaErrorInvalidValue);
    *ptr = aligned_alloc(kAlign, (size + kAlign - 1) / kAlign * kAlign + kAlign);
    if (!*ptr) return fail(cudaErrorMemoryAllocation);
    memset(*ptr, 0xff, size);
    g_pinned[(uintptr_t)*ptr] = size;
    return cudaSuccess;
}

extern "C" cudaError_t ep_emu_cudaMallocHost(void **ptr, size_t size) { return ep_emu_cudaHostAlloc(ptr, size, 0); }

extern "C" cudaError_t ep_emu_cudaFreeHost(void *ptr) {
    EMU_LOCK;
    if (!ptr) return cudaSuccess;
    flush_all();
    auto it = g_pinned.find((uintptr_t)ptr);
    if (it == g_pinned.end()) return fail(cudaErrorInvalidValue);
    g_pinned.erase(it);
    free(ptr);
    return cudaSuccess;
}

extern "C" cudaError_t ep_emu_cudaMemGetInfo(size_t *free_bytes, size_t *total) {
    EMU_LOCK;
    EMU_STICKY;
    if (free_bytes) *free_bytes = g_limit - g_in_use;
    if (total) *total = g_limit;
    return cudaSuccess;
}

extern "C" cudaError_t ep_emu_cudaMemcpyAsync(void *dst, const void *src, size_t count, enum cudaMemcpyKind kind,
                                              cudaStream_t stream) {
    EMU_LOCK;
    EMU_STICKY;
    if (!check_copy(dst, src, count, kind)) {
        fprintf(stderr, "ep_emu: cudaMemcpy of %zu bytes %p -> %p: a device side is not inside one allocation, or "
                "the kind does not match the pointers\n", count, src, dst);
        return fail(cudaErrorInvalidValue);
    }
    if (stream) {
        g_async_copies++;
        const void *host = kind == cudaMemcpyHostToDevice ? src : kind == cudaMemcpyDeviceToHost ? dst : nullptr;
        if (host && !is_pinned(host, count)) g_unpinned_async++;
    }
    submit(stream, [=]() {
        if (g_sticky == cudaSuccess && count) memcpy(dst, src, count);
    });
    return cudaSuccess;
}

extern "C" cudaError_t ep_emu_cudaMemcpy(void *dst, const void *src, size_t count, enum cudaMemcpyKind kind) {
    {
        EMU_LOCK;
        EMU_STICKY;
        if (kind == cudaMemcpyHostToDevice && count && check_copy(dst, src, count, kind) && !is_pinned(src, count)) {
            // From pageable memory the runtime stages the source and returns; the copy to the device
            // lands later, ordered on the legacy stream only (see the top of this file).
            auto staged = std::make_shared<std::vector<char>>((const char *)src, (const char *)src + count);
            g_pageable_uploads++;
            g_legacy.queue.push_back([dst, staged]() {
                if (g_sticky == cudaSuccess) memcpy(dst, staged->data(), staged->size());
            });
            g_legacy.enqueued++;
            return cudaSuccess;
        }
    }
    return ep_emu_cudaMemcpyAsync(dst, src, count, kind, nullptr);
}

extern "C" cudaError_t ep_emu_cudaMemsetAsync(void *dst, int value, size_t count, cudaStream_t stream) {
    EMU_LOCK;
    EMU_STICKY;
    if (count && !find_alloc(dst, count)) return fail(cudaErrorInvalidValue);
    submit(stream, [=]() {
        if (g_sticky == cudaSuccess && count) memset(dst, value, count);
    });
    return cudaSuccess;
}

extern "C" cudaError_t ep_emu_cudaMemset(void *dst, int value, size_t count) {
    return ep_emu_cudaMemsetAsync(dst, value, count, nullptr);
}

// ----------------------------------------------------------------------------
// Streams and events

extern "C" cudaError_t ep_emu_cudaStreamCreateWithFlags(cudaStream_t *stream, unsigned int flags) {
    EMU_LOCK;
    if (!stream) return fail(cudaErrorInvalidValue);
    stream_rec *s = new stream_rec();
    s->blocking = !(flags & cudaStreamNonBlocking);
    g_streams.insert(s);
    *stream = reinterpret_cast<cudaStream_t>(s);
    return cudaSuccess;
}

extern "C" cudaError_t ep_emu_cudaStreamCreate(cudaStream_t *stream) {
    return ep_emu_cudaStreamCreateWithFlags(stream, 0);
}

extern "C" cudaError_t ep_emu_cudaStreamDestroy(cudaStream_t stream) {
    EMU_LOCK;
    stream_rec *s = reinterpret_cast<stream_rec *>(stream);
    if (!s || !g_streams.count(s)) return fail(cudaErrorInvalidResourceHandle);
    flush(s, s->enqueued);
    g_streams.erase(s);
    delete s;
    return cudaSuccess;
}

extern "C" cudaError_t ep_emu_cudaStreamSynchronize(cudaStream_t stream) {
    EMU_LOCK;
    g_spinning_waits++; // cudaDeviceScheduleBlockingSync is not modelled: a stream wait spins
    stream_rec *s = reinterpret_cast<stream_rec *>(stream);
    if (!s) flush_all();
    else flush(s, s->enqueued);
    EMU_STICKY;
    return cudaSuccess;
}

extern "C" cudaError_t ep_emu_cudaDeviceSynchronize(void) {
    EMU_LOCK;
    g_spinning_waits++;
    flush_all();
    EMU_STICKY;
    return cudaSuccess;
}

extern "C" cudaError_t ep_emu_cudaEventCreateWithFlags(cudaEvent_t *event, unsigned int flags) {
    EMU_LOCK;
    if (!event) return fail(cudaErrorInvalidValue);
    event_rec *e = new event_rec();
    e->flags = flags;
    *event = reinterpret_cast<cudaEvent_t>(e);
    return cudaSuccess;
}

extern "C" cudaError_t ep_emu_cudaEventCreate(cudaEvent_t *event) { return ep_emu_cudaEventCreateWithFlags(event, 0); }

extern "C" cudaError_t ep_emu_cudaEventDestroy(cudaEvent_t event) {
    EMU_LOCK;
    delete reinterpret_cast<event_rec *>(event);
    return cudaSuccess;
}

extern "C" cudaError_t ep_emu_cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
    EMU_LOCK;
    EMU_STICKY;
    event_rec *e = reinterpret_cast<event_rec *>(event);
    if (!e) return fail(cudaErrorInvalidResourceHandle);
    e->recorded = true;
    e->stream = reinterpret_cast<stream_rec *>(stream);
    submit(stream, [e]() { e->time_ms = now_ms(); });
    e->position = e->stream ? e->stream->enqueued : 0;
    return cudaSuccess;
}

extern "C" cudaError_t ep_emu_cudaEventSynchronize(cudaEvent_t event) {
    EMU_LOCK;
    event_rec *e = reinterpret_cast<event_rec *>(event);
    if (!e) return fail(cudaErrorInvalidResourceHandle);
    if (!(e->flags & cudaEventBlockingSync)) g_spinning_waits++; // the host thread would spin on it
    if (e->stream) flush(e->stream, e->position);
    EMU_STICKY;
    return cudaSuccess;
}

extern "C" cudaError_t ep_emu_cudaEventQuery(cudaEvent_t event) {
    EMU_LOCK;
    event_rec *e = reinterpret_cast<event_rec *>(event);
    if (!e) return fail(cudaErrorInvalidResourceHandle);
    // The emulated GPU makes progress only when asked: a query is the host asking.
    if (e->stream) flush(e->stream, e->position);
    EMU_STICKY;
    return cudaSuccess;
}

extern "C" cudaError_t ep_emu_cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end) {
    EMU_LOCK;
    const event_rec *a = reinterpret_cast<event_rec *>(start), *b = reinterpret_cast<event_rec *>(end);
    if (!ms || !a || !b) return fail(cudaErrorInvalidValue);
    *ms = (float)(b->time_ms - a->time_ms);
    return cudaSuccess;
}

extern "C" cudaError_t ep_emu_cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned int flags) {
    EMU_LOCK;
    EMU_STICKY;
    (void)flags;
    event_rec *e = reinterpret_cast<event_rec *>(event);
    if (!e) return fail(cudaErrorInvalidResourceHandle);
    stream_rec *other = e->stream;
    const uint64_t position = e->position; // the event as recorded now, not as re-recorded later
    if (other) submit(stream, [other, position]() { flush(other, position); });
    return cudaSuccess;
}

// ----------------------------------------------------------------------------
// Device, errors

extern "C" cudaError_t ep_emu_cudaGetDeviceCount(int *count) {
    EMU_LOCK;
    if (g_device_error != cudaSuccess) return fail(g_device_error); // *count untouched, as libcudart leaves it
    if (count) *count = 1;
    return cudaSuccess;
}

extern "C" cudaError_t ep_emu_cudaDriverGetVersion(int *version) {
    if (!version) return cudaErrorInvalidValue;
    EMU_LOCK;
    *version = g_driver_version; // 0: no driver installed
    return cudaSuccess;
}

extern "C" cudaError_t ep_emu_cudaRuntimeGetVersion(int *version) {
    if (!version) return cudaErrorInvalidValue;
    *version = CUDART_VERSION;
    return cudaSuccess;
}

extern "C" cudaError_t ep_emu_cudaSetDevice(int device) {
    EMU_LOCK;
    if (g_device_error != cudaSuccess) return fail(g_device_error);
    if (device != 0) return fail(cudaErrorInvalidDevice);
    g_device = device;
    return cudaSuccess;
}

extern "C" cudaError_t ep_emu_cudaGetDevice(int *device) {
    if (device) *device = 0;
    return cudaSuccess;
}

extern "C" cudaError_t ep_emu_cudaGetDeviceProperties(struct cudaDeviceProp *prop, int device) {
    EMU_LOCK;
    if (g_device_error != cudaSuccess) return fail(g_device_error);
    if (!prop || device != 0) return fail(cudaErrorInvalidDevice);
    memset(prop, 0, sizeof *prop);
    snprintf(prop->name, sizeof prop->name, "CPU emulation of a CUDA device (ep_emu)");
    prop->totalGlobalMem = g_limit;
    prop->sharedMemPerBlock = 48 * 1024;
    prop->sharedMemPerBlockOptin = kSmemOptin;
    prop->warpSize = 32;
    prop->maxThreadsPerBlock = 1024;
    prop->multiProcessorCount = 4;
    prop->major = 9;
    prop->minor = 0;
    prop->l2CacheSize = 4 << 20;
    return cudaSuccess;
}

extern "C" cudaError_t ep_emu_cudaFuncSetAttribute(const void *func, enum cudaFuncAttribute attr, int value) {
    EMU_LOCK;
    if (attr == cudaFuncAttributeMaxDynamicSharedMemorySize) {
        if (value < 0 || (size_t)value > kSmemOptin) return fail(cudaErrorInvalidValue);
        g_smem_optin[func] = value;
    }
    return cudaSuccess;
}

extern "C" cudaError_t ep_emu_cudaGetLastError(void) {
    EMU_LOCK;
    const cudaError_t e = g_last;
    g_last = g_sticky; // sticky errors stay
    return e;
}

extern "C" cudaError_t ep_emu_cudaPeekAtLastError(void) {
    EMU_LOCK;
    return g_last;
}

extern "C" const char *ep_emu_cudaGetErrorName(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorNotReady: return "cudaErrorNotReady";
    case cudaErrorIllegalAddress: return "cudaErrorIllegalAddress";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    case cudaErrorInsufficientDriver: return "cudaErrorInsufficientDriver";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    default: return "cudaError (emulated)";
    }
}

extern "C" const char *ep_emu_cudaGetErrorString(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorNotReady: return "device not ready";
    case cudaErrorIllegalAddress: return "an illegal memory access was encountered (emulation: see the violation)";
    case cudaErrorLaunchFailure: return "unspecified launch failure (emulation: see the violation)";
    case cudaErrorInsufficientDriver: return "CUDA driver version is insufficient for CUDA runtime version";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    default: return "emulated CUDA error";
    }
}

// ----------------------------------------------------------------------------
// emu.h

extern "C" void ep_emu_set_memory_limit(size_t bytes) {
    EMU_LOCK;
    g_limit = bytes ? bytes : kDefaultLimit;
}

extern "C" void ep_emu_set_device_error(int cuda_error, int driver_version) {
    EMU_LOCK;
    g_device_error = (cudaError_t)cuda_error;
    g_driver_version = driver_version;
}

extern "C" ep_emu_stats ep_emu_get_stats(void) {
    EMU_LOCK;
    ep_emu_stats s;
    memset(&s, 0, sizeof s);
    violation_stats(&s.violations, &s.launches, &s.blocks);
    s.async_copies = g_async_copies;
    s.unpinned_async = g_unpinned_async;
    s.streams_used = g_streams_used.size();
    s.failed_allocs = g_failed_allocs;
    s.spinning_waits = g_spinning_waits;
    s.pageable_uploads = g_pageable_uploads;
    s.bytes_in_use = g_in_use;
    s.peak_bytes = g_peak;
    return s;
}

extern "C" void ep_emu_reset(void) {
    EMU_LOCK;
    for (stream_rec *s : g_streams) { // work queued before the reset is dropped, as a reset device drops it
        s->queue.clear();
        s->executed = s->enqueued;
    }
    g_legacy.queue.clear();
    g_legacy.executed = g_legacy.enqueued;
    g_sticky = cudaSuccess;
    g_last = cudaSuccess;
    g_async_copies = g_unpinned_async = g_failed_allocs = g_spinning_waits = g_pageable_uploads = 0;
    g_streams_used.clear();
    g_peak = g_in_use;
    reset_violations();
}
