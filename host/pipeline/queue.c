/* queue.c - bounded blocking FIFO; see queue.h. */
#include "queue.h"

#include <stdlib.h>

int ep_queue_init(ep_queue *q, size_t capacity) {
    q->items = calloc(capacity ? capacity : 1, sizeof(void *));
    q->cap = capacity ? capacity : 1;
    q->head = q->count = 0;
    q->closed = false;
    if (!q->items) return -1;
    if (pthread_mutex_init(&q->mu, NULL) != 0) goto fail_mutex;
    if (pthread_cond_init(&q->not_empty, NULL) != 0) goto fail_empty;
    if (pthread_cond_init(&q->not_full, NULL) != 0) goto fail_full;
    return 0;
fail_full:
    pthread_cond_destroy(&q->not_empty);
fail_empty:
    pthread_mutex_destroy(&q->mu);
fail_mutex:
    free(q->items);
    q->items = NULL;
    return -1;
}

void ep_queue_destroy(ep_queue *q) {
    if (!q->items) return;
    pthread_cond_destroy(&q->not_full);
    pthread_cond_destroy(&q->not_empty);
    pthread_mutex_destroy(&q->mu);
    free(q->items);
    q->items = NULL;
}

bool ep_queue_push(ep_queue *q, void *item) {
    pthread_mutex_lock(&q->mu);
    while (q->count == q->cap && !q->closed) pthread_cond_wait(&q->not_full, &q->mu);
    if (q->closed) {
        pthread_mutex_unlock(&q->mu);
        return false;
    }
    q->items[(q->head + q->count) % q->cap] = item;
    q->count++;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->mu);
    return true;
}

void *ep_queue_pop(ep_queue *q) {
    pthread_mutex_lock(&q->mu);
    while (q->count == 0 && !q->closed) pthread_cond_wait(&q->not_empty, &q->mu);
    void *item = NULL;
    if (q->count > 0) {
        item = q->items[q->head];
        q->head = (q->head + 1) % q->cap;
        q->count--;
        pthread_cond_signal(&q->not_full);
    }
    pthread_mutex_unlock(&q->mu);
    return item;
}

void ep_queue_close(ep_queue *q) {
    pthread_mutex_lock(&q->mu);
    q->closed = true;
    pthread_cond_broadcast(&q->not_empty);
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->mu);
}
