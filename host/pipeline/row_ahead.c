/* row_ahead.c - rows counted in read order by the workers; see row_ahead.h. */
#include "row_ahead.h"

int ep_row_ahead_init(ep_row_ahead *r) {
    r->next_chunk = r->next_row = 0;
    r->ready = false;
    if (pthread_mutex_init(&r->mu, NULL) != 0) return -1;
    if (pthread_cond_init(&r->turn, NULL) != 0) {
        pthread_mutex_destroy(&r->mu);
        return -1;
    }
    r->ready = true;
    return 0;
}

void ep_row_ahead_destroy(ep_row_ahead *r) {
    if (!r->ready) return;
    pthread_cond_destroy(&r->turn);
    pthread_mutex_destroy(&r->mu);
    r->ready = false;
}

uint64_t ep_row_ahead_count(ep_row_ahead *r, uint64_t number, uint64_t rows) {
    pthread_mutex_lock(&r->mu);
    while (r->next_chunk != number) pthread_cond_wait(&r->turn, &r->mu);
    const uint64_t first = r->next_row;
    r->next_row += rows;
    r->next_chunk++;
    pthread_cond_broadcast(&r->turn);
    pthread_mutex_unlock(&r->mu);
    return first;
}
