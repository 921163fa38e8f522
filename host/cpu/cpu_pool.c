/* cpu_pool.c - a fixed set of worker threads that run one function together. */
#include "cpu_pool.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct worker {
    ep_cpu_pool *pool;
    int index;
    pthread_t thread;
} worker;

struct ep_cpu_pool {
    int threads;
    worker *workers; /* [threads - 1] */
    int started;     /* workers actually started */
    pthread_mutex_t lock;
    pthread_cond_t work, done;
    unsigned long generation; /* bumped by every run */
    int running;              /* workers still inside the current run */
    int stop;
    void (*fn)(void *, int);
    void *arg;
};

static void *worker_main(void *p) {
    worker *w = p;
    ep_cpu_pool *pool = w->pool;
    unsigned long seen = 0;
    pthread_mutex_lock(&pool->lock);
    for (;;) {
        while (pool->generation == seen && !pool->stop) pthread_cond_wait(&pool->work, &pool->lock);
        if (pool->stop) break;
        seen = pool->generation;
        void (*fn)(void *, int) = pool->fn;
        void *arg = pool->arg;
        pthread_mutex_unlock(&pool->lock);
        fn(arg, w->index);
        pthread_mutex_lock(&pool->lock);
        if (--pool->running == 0) pthread_cond_signal(&pool->done);
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

ep_status ep_cpu_pool_create(int threads, ep_cpu_pool **out, ep_error *err) {
    *out = NULL;
    if (threads < 1) threads = 1;
    ep_cpu_pool *pool = calloc(1, sizeof *pool);
    if (!pool) return ep_error_set(err, EP_ERR_NOMEM, "cpu pool: out of memory");
    pool->threads = threads;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->work, NULL);
    pthread_cond_init(&pool->done, NULL);
    if (threads > 1) {
        pool->workers = calloc((size_t)threads - 1, sizeof *pool->workers);
        if (!pool->workers) {
            ep_cpu_pool_free(pool);
            return ep_error_set(err, EP_ERR_NOMEM, "cpu pool: out of memory");
        }
    }
    for (int i = 0; i < threads - 1; i++) {
        pool->workers[i] = (worker){.pool = pool, .index = i + 1};
        if (pthread_create(&pool->workers[i].thread, NULL, worker_main, &pool->workers[i]) != 0) {
            ep_cpu_pool_free(pool);
            return ep_error_set(err, EP_ERR_NOMEM, "cpu pool: cannot start thread %d of %d", i + 2, threads);
        }
        pool->started++;
    }
    *out = pool;
    return EP_OK;
}

void ep_cpu_pool_run(ep_cpu_pool *pool, void (*fn)(void *arg, int thread), void *arg) {
    if (pool->started > 0) {
        pthread_mutex_lock(&pool->lock);
        pool->fn = fn;
        pool->arg = arg;
        pool->running = pool->started;
        pool->generation++;
        pthread_cond_broadcast(&pool->work);
        pthread_mutex_unlock(&pool->lock);
    }
    fn(arg, 0);
    if (pool->started > 0) {
        pthread_mutex_lock(&pool->lock);
        while (pool->running > 0) pthread_cond_wait(&pool->done, &pool->lock);
        pthread_mutex_unlock(&pool->lock);
    }
}

int ep_cpu_pool_threads(const ep_cpu_pool *pool) { return pool->threads; }

void ep_cpu_pool_free(ep_cpu_pool *pool) {
    if (!pool) return;
    pthread_mutex_lock(&pool->lock);
    pool->stop = 1;
    pthread_cond_broadcast(&pool->work);
    pthread_mutex_unlock(&pool->lock);
    for (int i = 0; i < pool->started; i++) pthread_join(pool->workers[i].thread, NULL);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->work);
    pthread_cond_destroy(&pool->done);
    free(pool->workers);
    free(pool);
}
