/*
 * stage_compute.c - the compute thread: puts chunks back in read order, cuts
 * the record stream into shard groups (rows_per_shard rows each), and embeds
 * each group of this part: rows found unchanged in --reuse are copied, the
 * others are sorted by length and cut into packed batches under the token
 * budget, which the backend computes (up to max_in_flight at once). The cut
 * depends only on the group's own records, so an interrupted run resumed at a
 * shard boundary computes the same batches as an uninterrupted one.
 */
#include "pipeline_internal.h"

#include <stdlib.h>
#include <string.h>

#define MAX_SLOTS 4
#define MAX_SEQS_PER_BATCH 1024

typedef struct slot {
    int32_t *ids;        /* [batch_tokens] */
    int32_t seq_start[MAX_SEQS_PER_BATCH + 1];
    size_t rows[MAX_SEQS_PER_BATCH]; /* position of each sequence's row in the group */
    size_t items[MAX_SEQS_PER_BATCH]; /* and of its record among the group's items (for messages) */
    int n_seqs;
    uint16_t *out;       /* [MAX_SEQS_PER_BATCH][dim] */
} slot;

typedef struct compute {
    ep_pipeline *p;
    int dim;
    slot slots[MAX_SLOTS];
    int n_slots;
    int queue[MAX_SLOTS], queued; /* submitted slots, oldest first */
    ep_chunk **pending;           /* chunks that arrived early */
    size_t n_pending, cap_pending;
    uint64_t next_chunk;
    ep_group *group;              /* the group being filled */
    uint64_t next_row;            /* global row the next good record gets */
    uint64_t next_seq;            /* seq after the last record taken */
    bool abandoned;               /* SIGTERM: the group in progress was dropped; nothing more is computed */
    double batch_s, compute_s;
} compute;

/* A row with a NaN or Inf must never reach a shard: it would poison every search and mean computed
 * from the output, and `verify` cannot tell. float16 is non-finite when its exponent bits are all set.
 * @return EP_OK, or EP_ERR_MODEL naming the record and the shard. */
static ep_status check_finite(const compute *c, const ep_group *g, const slot *s, ep_error *err) {
    for (int i = 0; i < s->n_seqs; i++) {
        const uint16_t *v = s->out + (size_t)i * c->dim;
        uint16_t bad = 0;
        for (int k = 0; k < c->dim; k++) bad |= (uint16_t)((v[k] & 0x7C00u) == 0x7C00u);
        if (!bad) continue;
        const ep_item *it = &g->items[s->items[i]];
        return ep_error_set(err, EP_ERR_MODEL,
                            "the model produced a non-finite value (NaN or Inf) for the record of %s line %llu%s%s%s "
                            "(row %llu, shard %llu): its activations overflow float32. Nothing of shard %llu was "
                            "written; the shards before it are kept. Check the model (%s): its weights are finite "
                            "but not usable as they are",
                            c->p->opt->inputs[it->file_index], (unsigned long long)it->line,
                            it->id && *it->id ? " (id " : "", it->id && *it->id ? it->id : "",
                            it->id && *it->id ? ")" : "", (unsigned long long)it->row, (unsigned long long)g->shard,
                            (unsigned long long)g->shard, c->p->opt->model_dir);
    }
    return EP_OK;
}

static ep_status retire(compute *c, ep_group *g, ep_error *err) {
    slot *s = &c->slots[c->queue[0]];
    double t0 = ep_now();
    ep_status st = c->p->backend->wait_oldest(c->p->backend, err);
    c->compute_s += ep_now() - t0;
    if (st == EP_OK) st = check_finite(c, g, s, err);
    if (st != EP_OK) return st;
    for (int i = 0; i < s->n_seqs; i++)
        memcpy(g->vectors + s->rows[i] * (size_t)c->dim, s->out + (size_t)i * c->dim, sizeof(uint16_t) * c->dim);
    c->p->rows_done += (uint64_t)s->n_seqs; /* progress moves per batch, not per shard */
    memmove(c->queue, c->queue + 1, sizeof(int) * (size_t)(c->queued - 1));
    c->queued--;
    return EP_OK;
}

static ep_status submit(compute *c, int si, ep_group *g, ep_error *err) {
    slot *s = &c->slots[si];
    ep_batch batch = {.n_seqs = s->n_seqs,
                      .n_tokens = s->seq_start[s->n_seqs],
                      .token_ids = s->ids,
                      .seq_start = s->seq_start};
    for (int i = 0; i < s->n_seqs; i++) {
        int len = s->seq_start[i + 1] - s->seq_start[i];
        if (len > batch.max_seq_len) batch.max_seq_len = len;
    }
    double t0 = ep_now();
    ep_status st = c->p->backend->submit(c->p->backend, &batch, NULL, s->out, err);
    c->compute_s += ep_now() - t0;
    if (st != EP_OK) return st;
    c->queue[c->queued++] = si;
    if (c->queued == c->n_slots) return retire(c, g, err);
    return EP_OK;
}

/* A free slot (one not waiting on the backend). */
static int free_slot(const compute *c) {
    for (int s = 0; s < c->n_slots; s++) {
        bool busy = false;
        for (int q = 0; q < c->queued; q++) busy |= c->queue[q] == s;
        if (!busy) return s;
    }
    return -1;
}

typedef struct by_length {
    int n_tokens;
    size_t item;  /* index into group items */
    size_t row;   /* position among the group's rows */
} by_length;

static int cmp_length(const void *a, const void *b) {
    const by_length *x = a, *y = b;
    if (x->n_tokens != y->n_tokens) return x->n_tokens < y->n_tokens ? -1 : 1;
    return x->item < y->item ? -1 : x->item > y->item;
}

/* Computes (or copies) the vectors of every row of this part in g. */
static ep_status embed_group(compute *c, ep_group *g, ep_error *err) {
    ep_pipeline *p = c->p;
    if (g->n_rows == 0) return EP_OK;
    g->vectors = malloc(sizeof(uint16_t) * g->n_rows * (size_t)c->dim);
    by_length *order = malloc(sizeof *order * g->n_rows);
    if (!g->vectors || !order) {
        free(order);
        return ep_error_set(err, EP_ERR_NOMEM, "out of memory for a shard of %zu rows", g->n_rows);
    }
    double t0 = ep_now();
    size_t n = 0, row = 0;
    ep_status st = EP_OK;
    for (size_t i = 0; i < g->n_items && st == EP_OK; i++) {
        ep_item *it = &g->items[i];
        if (it->row < 0) continue;
        if (p->reuse)
            st = ep_reuse_lookup(p->reuse, it->id, it->hash, g->vectors + row * (size_t)c->dim, &it->reused, err);
        if (!it->reused) order[n++] = (by_length){.n_tokens = it->n_tokens, .item = i, .row = row};
        else {
            p->rows_reused++;
            p->rows_done++;
        }
        row++;
    }
    qsort(order, n, sizeof *order, cmp_length);
    c->batch_s += ep_now() - t0;

    int si = free_slot(c);
    slot *s = &c->slots[si];
    s->n_seqs = 0;
    s->seq_start[0] = 0;
    for (size_t k = 0; k < n && st == EP_OK; k++) {
        if (ep_pipeline_should_abandon(p)) { /* SIGTERM: drop the group; what is in flight is waited for */
            c->abandoned = true;
            break;
        }
        const ep_item *it = &g->items[order[k].item];
        if (s->n_seqs == MAX_SEQS_PER_BATCH ||
            (size_t)s->seq_start[s->n_seqs] + (size_t)it->n_tokens > p->batch_tokens) {
            st = submit(c, si, g, err);
            if (st != EP_OK) break;
            si = free_slot(c);
            s = &c->slots[si];
            s->n_seqs = 0;
        }
        memcpy(s->ids + s->seq_start[s->n_seqs], it->ids, sizeof(int32_t) * (size_t)it->n_tokens);
        s->rows[s->n_seqs] = order[k].row;
        s->items[s->n_seqs] = order[k].item;
        s->seq_start[s->n_seqs + 1] = s->seq_start[s->n_seqs] + it->n_tokens;
        s->n_seqs++;
        p->tokens += (uint64_t)it->n_tokens;
        p->truncated += it->truncated;
    }
    if (st == EP_OK && s->n_seqs > 0 && !c->abandoned) st = submit(c, si, g, err);
    while (st == EP_OK && c->queued > 0) st = retire(c, g, err);
    free(order);
    // Tokens are not needed past this point; the writer wants ids, lines and hashes only.
    for (size_t i = 0; i < g->n_items; i++) {
        free(g->items[i].ids);
        g->items[i].ids = NULL;
    }
    return st;
}

static ep_group *new_group(compute *c) {
    ep_group *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->first_row = c->next_row;
    g->next_seq = c->next_seq;
    g->shard = c->next_row / c->p->rows_per_shard;
    return g;
}

static bool group_add(ep_group *g, ep_item *it) {
    if (g->n_items == g->cap_items) {
        size_t cap = g->cap_items ? g->cap_items * 2 : 256;
        ep_item *items = realloc(g->items, sizeof *items * cap);
        if (!items) return false;
        g->items = items;
        g->cap_items = cap;
    }
    g->items[g->n_items++] = *it;
    memset(it, 0, sizeof *it); /* ownership moved */
    return true;
}

/* Embeds a finished group and hands it to the writer. */
static ep_status finish_group(compute *c, bool last, ep_error *err) {
    ep_group *g = c->group;
    c->group = NULL;
    g->next_row = c->next_row;
    g->last = last;
    ep_status st = embed_group(c, g, err);
    if (st != EP_OK || c->abandoned || !ep_queue_push(&c->p->to_write, g)) {
        ep_group_free(g);
        return st;
    }
    return EP_OK;
}

static ep_status take_chunk(compute *c, ep_chunk *ch, bool *done, ep_error *err) {
    ep_pipeline *p = c->p;
    ep_status st = EP_OK;
    for (int i = 0; i < ch->n && st == EP_OK && !c->abandoned; i++) {
        ep_item *it = &ch->items[i];
        if (!c->group && !(c->group = new_group(c))) return ep_error_set(err, EP_ERR_NOMEM, "out of memory");
        const bool is_row = it->row >= 0, mine = it->mine;
        c->next_seq = it->seq + 1;
        c->group->next_seq = c->next_seq;
        if (is_row) {
            c->next_row++;
            if (mine) c->group->n_rows++;
        }
        if (!group_add(c->group, it)) return ep_error_set(err, EP_ERR_NOMEM, "out of memory");
        if (!is_row) p->rejected++;
        if (is_row && c->next_row % p->rows_per_shard == 0) st = finish_group(c, false, err);
    }
    if (st == EP_OK && (ch->last || c->abandoned)) {
        *done = true;
        // After a stop request the open group holds only rejections read past the boundary:
        // they are read again on resume, so it is not written.
        if (ch->stopped || c->abandoned) {
            ep_group_free(c->group);
            c->group = NULL;
        } else {
            if (!c->group && !(c->group = new_group(c))) return ep_error_set(err, EP_ERR_NOMEM, "out of memory");
            st = finish_group(c, true, err);
        }
    }
    for (int i = 0; i < ch->n; i++) ep_item_clear(&ch->items[i]);
    free(ch);
    return st;
}

void *ep_stage_compute(void *arg) {
    ep_pipeline *p = arg;
    compute c = {.p = p, .dim = p->model->config.hidden, .next_row = p->start_row, .next_seq = p->start_seq};
    ep_error err = {0};
    ep_status st = EP_OK;
    c.n_slots = p->backend->max_in_flight < 1 ? 1 : p->backend->max_in_flight;
    if (c.n_slots > MAX_SLOTS) c.n_slots = MAX_SLOTS;
    for (int s = 0; s < c.n_slots && st == EP_OK; s++) {
        c.slots[s].ids = malloc(sizeof(int32_t) * p->batch_tokens);
        c.slots[s].out = malloc(sizeof(uint16_t) * MAX_SEQS_PER_BATCH * (size_t)c.dim);
        if (!c.slots[s].ids || !c.slots[s].out) st = ep_error_set(&err, EP_ERR_NOMEM, "out of memory for batches");
    }
    bool done = false;
    ep_chunk *ch;
    while (st == EP_OK && !done && (ch = ep_queue_pop(&p->to_compute)) != NULL) {
        if (p->failed || c.abandoned || ep_pipeline_should_abandon(p)) {
            c.abandoned = !p->failed;
            for (int i = 0; i < ch->n; i++) ep_item_clear(&ch->items[i]);
            free(ch);
            continue;
        }
        if (c.n_pending == c.cap_pending) {
            size_t cap = c.cap_pending ? c.cap_pending * 2 : 16;
            ep_chunk **grown = realloc(c.pending, sizeof *grown * cap);
            if (!grown) {
                st = ep_error_set(&err, EP_ERR_NOMEM, "out of memory");
                break;
            }
            c.pending = grown;
            c.cap_pending = cap;
        }
        c.pending[c.n_pending++] = ch;
        // Take every chunk that is next in read order.
        for (size_t i = 0; i < c.n_pending && st == EP_OK && !done;) {
            if (c.pending[i]->number != c.next_chunk) {
                i++;
                continue;
            }
            ep_chunk *next = c.pending[i];
            c.pending[i] = c.pending[--c.n_pending];
            c.next_chunk++;
            st = take_chunk(&c, next, &done, &err);
            i = 0;
        }
    }
    if (st != EP_OK) ep_pipeline_fail(p, &err);
    // Drain what is left so that upstream never blocks on a full queue.
    ep_queue_close(&p->to_compute);
    while ((ch = ep_queue_pop(&p->to_compute)) != NULL) {
        for (int k = 0; k < ch->n; k++) ep_item_clear(&ch->items[k]);
        free(ch);
    }
    for (size_t i = 0; i < c.n_pending; i++) {
        for (int k = 0; k < c.pending[i]->n; k++) ep_item_clear(&c.pending[i]->items[k]);
        free(c.pending[i]);
    }
    free(c.pending);
    ep_group_free(c.group);
    for (int s = 0; s < c.n_slots; s++) {
        free(c.slots[s].ids);
        free(c.slots[s].out);
    }
    ep_queue_close(&p->to_write);
    pthread_mutex_lock(&p->times_mu);
    p->times.batch += c.batch_s;
    p->times.compute += c.compute_s;
    pthread_mutex_unlock(&p->times_mu);
    return NULL;
}
