/*
 * queue.h - a bounded blocking FIFO of pointers between pipeline threads.
 * Bounded so that a fast stage waits for a slow one instead of filling memory.
 */
#ifndef EP_QUEUE_H
#define EP_QUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct ep_queue {
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    void **items;
    size_t cap, head, count;
    bool closed;
} ep_queue;

/* @return 0, or -1 when memory or a pthread object cannot be had. */
int ep_queue_init(ep_queue *q, size_t capacity);
void ep_queue_destroy(ep_queue *q);

/* Blocks while full. @return true; false when the queue was closed (item not taken). */
bool ep_queue_push(ep_queue *q, void *item);
/* Blocks while empty and open. @return the oldest item, or NULL once closed and drained. */
void *ep_queue_pop(ep_queue *q);
/* No more pushes; poppers drain what is left, then get NULL. */
void ep_queue_close(ep_queue *q);

#endif /* EP_QUEUE_H */
