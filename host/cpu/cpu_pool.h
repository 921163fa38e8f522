/*
 * cpu_pool.h - the fast CPU backend's threads.
 *
 * One pool per backend, sized by --threads; the thread that calls run() is
 * thread 0 and works too, so `threads` threads compute and none spins while
 * another works. Workers sleep on a condition variable between runs: a batch
 * is one run, so a wake-up (microseconds) is paid once per batch, and idle
 * workers leave the cores to the pipeline's tokenizer and writer threads.
 */
#ifndef EP_CPU_POOL_H
#define EP_CPU_POOL_H

#include "embedpipe.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ep_cpu_pool ep_cpu_pool;

/* Starts threads - 1 workers (threads >= 1).
 * @return EP_OK and *out, or EP_ERR_NOMEM when a thread cannot be started. */
ep_status ep_cpu_pool_create(int threads, ep_cpu_pool **out, ep_error *err);

/* Runs fn(arg, i) once on each thread i = 0 .. threads-1 (the caller is 0) and
 * returns when every call has returned. Not reentrant: one run at a time. */
void ep_cpu_pool_run(ep_cpu_pool *pool, void (*fn)(void *arg, int thread), void *arg);

/* @return the number of threads, the caller included. */
int ep_cpu_pool_threads(const ep_cpu_pool *pool);

/* Stops and joins the workers. Accepts NULL. */
void ep_cpu_pool_free(ep_cpu_pool *pool);

#ifdef __cplusplus
}
#endif

#endif /* EP_CPU_POOL_H */
