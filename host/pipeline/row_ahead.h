/*
 * row_ahead.h - the workers' own count of rows in read order, so that each
 * worker knows the global row of every record it extracted before the compute
 * stage numbers them, and tokenises only the rows this run embeds: those of
 * its part (--part I/N) and past the resume point. Without it every part
 * tokenised every row of the job, and a resumed run every row already done.
 *
 * A worker extracts its chunk (parsing decides which records are rows), then
 * takes the chunk's turn: it waits until every earlier chunk has been counted,
 * adds its own rows and learns its first row. Chunks leave the reader in order
 * and every chunk taken from the queue is counted by the worker that holds it,
 * whatever happens to it, so a turn never waits forever: the chunk before it is
 * held by a worker that waits only for chunks before that.
 */
#ifndef EP_ROW_AHEAD_H
#define EP_ROW_AHEAD_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct ep_row_ahead {
    pthread_mutex_t mu;
    pthread_cond_t turn;     /* broadcast each time a chunk is counted */
    uint64_t next_chunk;     /* the chunk whose rows are counted next */
    uint64_t next_row;       /* ...its first row */
    bool ready;              /* init succeeded (destroy may be called either way) */
} ep_row_ahead;

/* @return 0, or -1 when a pthread object cannot be had. */
int ep_row_ahead_init(ep_row_ahead *r);

/* Frees what init made; does nothing when init failed or was not called on a zeroed r. */
void ep_row_ahead_destroy(ep_row_ahead *r);

/* Waits for chunk `number`'s turn (every chunk before it counted), counts its `rows` rows.
 * Each chunk number from 0 up must be counted exactly once, in any thread.
 * @return the global row of the chunk's first row. */
uint64_t ep_row_ahead_count(ep_row_ahead *r, uint64_t number, uint64_t rows);

#endif /* EP_ROW_AHEAD_H */
