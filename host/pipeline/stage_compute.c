/*
 * stage_compute.c - the compute thread: puts chunks back in read order,
 * numbers their records (seq) and good records (row) - the workers parsed them,
 * so only here, in read order, is it known which are good - and applies what
 * depends on those numbers: --skip-blank, the resume skip, the stop at a shard
 * boundary, --part. It cuts the record stream into shard groups (rows_per_shard
 * rows each), and embeds
 * each group of this part: rows found unchanged in --reuse are copied, the
 * others go to the batcher (batcher.h), which sorts them by length and cuts
 * them into packed batches under the token budget; the backend computes them
 * (up to max_in_flight at once). The cut depends only on the group's own
 * records, so an interrupted run resumed at a shard boundary computes the same
 * batches as an uninterrupted one.
 */
#include "pipeline_internal.h"
#include "setting_names.h"

#include "batcher.h"
#include "resume.h"

#include <stdlib.h>
#include <string.h>

#define MAX_SLOTS 4

/* Sequences per batch: as many as the token budget can hold (every sequence has at least [CLS] and
 * [SEP]), so that short texts fill a GPU's large batches instead of stopping at a fixed count. Vectors
 * do not depend on the cut (every backend is batch invariant), so this decides speed only. */
static int max_seqs_per_batch(size_t batch_tokens) {
    size_t n = batch_tokens / 2;
    return n < 1 ? 1 : n > 65536 ? 65536 : (int)n;
}

typedef struct slot {
    ep_packed_batch packed; /* packed.pos[i]: the sequence's index into compute.todo */
    ep_batch batch;
    uint16_t *out;          /* [max_seqs][dim] */
} slot;

/* Where a computed sequence of the group goes: its record among the group's items (for messages)
 * and its row's position among the group's rows. */
typedef struct todo {
    size_t item, row;
} todo;

/* Frames that held no record (empty API pages), read one after the other: a single reader parsing in
 * order said that damage found right after them begins before the first of them. */
typedef struct empty_run {
    bool active;
    uint64_t byte, line;          /* where the input stood before the first of them */
} empty_run;

typedef struct compute {
    ep_pipeline *p;
    int dim;
    int max_seqs;                 /* sequences per batch (max_seqs_per_batch) */
    slot slots[MAX_SLOTS];
    int n_slots;
    int queue[MAX_SLOTS], queued; /* submitted slots, oldest first */
    ep_chunk **pending;           /* chunks that arrived early */
    size_t n_pending, cap_pending;
    uint64_t next_chunk;
    ep_group *group;              /* the group being filled */
    uint64_t next_row;            /* global row the next good record gets */
    uint64_t next_seq;            /* seq after the last record taken */
    uint64_t all_seq, all_row;    /* records and rows numbered so far, from the first input's first
                                     (those before the resume point included) */
    uint64_t *file_records;       /* per input: records and rejections it gave */
    empty_run *empty;             /* per input: the frames without a record read last, if any */
    bool stopped;                 /* a stop request ended the run at a shard boundary */
    bool abandoned;               /* SIGTERM: the group in progress was dropped; nothing more is computed */
    todo *todo;                   /* [n] the rows of the group being embedded that are computed */
    ep_batcher_seq *seqs;         /* [n] ...and their tokens */
    double batch_s, compute_s;
} compute;

/* A row with a NaN or Inf must never reach a shard: it would poison every search and mean computed
 * from the output, and `verify` cannot tell. float16 is non-finite when its exponent bits are all set.
 * @return EP_OK, or EP_ERR_MODEL naming the record and the shard. */
static ep_status check_finite(const compute *c, const ep_group *g, const slot *s, ep_error *err) {
    for (int i = 0; i < s->packed.n_seqs; i++) {
        const uint16_t *v = s->out + (size_t)i * c->dim;
        uint16_t bad = 0;
        for (int k = 0; k < c->dim; k++) bad |= (uint16_t)((v[k] & 0x7C00u) == 0x7C00u);
        if (!bad) continue;
        const ep_item *it = &g->items[c->todo[s->packed.pos[i]].item];
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
    for (int i = 0; i < s->packed.n_seqs; i++)
        memcpy(g->vectors + c->todo[s->packed.pos[i]].row * (size_t)c->dim, s->out + (size_t)i * c->dim,
               sizeof(uint16_t) * c->dim);
    c->p->rows_done += (uint64_t)s->packed.n_seqs; /* progress moves per batch, not per shard */
    memmove(c->queue, c->queue + 1, sizeof(int) * (size_t)(c->queued - 1));
    c->queued--;
    return EP_OK;
}

static ep_status submit(compute *c, int si, ep_group *g, ep_error *err) {
    slot *s = &c->slots[si];
    double t0 = ep_now();
    ep_status st = c->p->backend->submit(c->p->backend, &s->batch, NULL, s->out, err);
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

/* Copies the rows found unchanged in --reuse and lists the others in c->todo / c->seqs.
 * @return EP_OK, or an error reading the previous output. */
static ep_status collect(compute *c, ep_group *g, size_t *n_out, ep_error *err) {
    ep_pipeline *p = c->p;
    size_t n = 0, row = 0;
    ep_status st = EP_OK;
    for (size_t i = 0; i < g->n_items && st == EP_OK; i++) {
        ep_item *it = &g->items[i];
        if (it->row < 0) continue;
        if (p->reuse)
            st = ep_reuse_lookup(p->reuse, it->id, it->hash, g->vectors + row * (size_t)c->dim, &it->reused, err);
        if (!it->reused) {
            c->todo[n] = (todo){.item = i, .row = row};
            c->seqs[n++] = (ep_batcher_seq){.ids = it->ids, .n_tokens = it->n_tokens};
        } else {
            p->rows_reused++;
            p->rows_done++;
        }
        row++;
    }
    *n_out = n;
    return st;
}

/* Packs and submits the batches of plan, up to n_slots at once; waits for all of them. */
static ep_status compute_batches(compute *c, ep_group *g, const ep_batch_plan *plan, ep_error *err) {
    ep_pipeline *p = c->p;
    ep_status st = EP_OK;
    for (size_t k = 0; k < plan->n_batches && st == EP_OK; k++) {
        if (ep_pipeline_should_abandon(p)) { /* SIGTERM: drop the group; what is in flight is waited for */
            c->abandoned = true;
            break;
        }
        int si = free_slot(c);
        slot *s = &c->slots[si];
        st = ep_batch_pack(plan, k, c->seqs, &s->packed, &s->batch, err);
        if (st != EP_OK) break;
        p->tokens += (uint64_t)s->batch.n_tokens;
        for (int i = 0; i < s->packed.n_seqs; i++) p->truncated += g->items[c->todo[s->packed.pos[i]].item].truncated;
        st = submit(c, si, g, err);
    }
    while (st == EP_OK && c->queued > 0) st = retire(c, g, err);
    return st;
}

/* Computes (or copies) the vectors of every row of this part in g. */
static ep_status embed_group(compute *c, ep_group *g, ep_error *err) {
    if (g->n_rows == 0) return EP_OK;
    g->vectors = malloc(sizeof(uint16_t) * g->n_rows * (size_t)c->dim);
    c->todo = malloc(sizeof *c->todo * g->n_rows);
    c->seqs = malloc(sizeof *c->seqs * g->n_rows);
    ep_status st = EP_OK;
    if (!g->vectors || !c->todo || !c->seqs)
        st = ep_error_set(err, EP_ERR_NOMEM, "out of memory for a shard of %zu rows", g->n_rows);
    double t0 = ep_now();
    size_t n = 0;
    ep_batch_plan plan = {0};
    if (st == EP_OK) st = collect(c, g, &n, err);
    if (st == EP_OK) st = ep_batch_plan_make(c->seqs, n, c->p->batch_tokens, c->max_seqs, &plan, err);
    c->batch_s += ep_now() - t0;
    if (st == EP_OK) st = compute_batches(c, g, &plan, err);
    ep_batch_plan_free(&plan);
    free(c->todo);
    free(c->seqs);
    c->todo = NULL;
    c->seqs = NULL;
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

/* Damage found right after frames without a record begins before the first of them, as it did when one
 * thread parsed the records in order: the damage item (reason, line, byte, prefix hash) is moved there.
 * @return EP_OK, or the error hashing the input's prefix. */
static ep_status move_damage(compute *c, ep_item *it, ep_error *err) {
    const empty_run *e = &c->empty[it->file_index];
    const char *path = c->p->opt->inputs[it->file_index];
    char message[1024], reason[1200];
    ep_damage_message(message, sizeof message, it->reason);
    ep_damage_reason(reason, sizeof reason, message, e->byte);
    char *moved = strdup(reason);
    if (!moved) return ep_error_set(err, EP_ERR_NOMEM, "out of memory");
    free(it->reason);
    it->reason = moved;
    it->line = e->line;
    it->damage_byte = e->byte;
    it->damage_xxh3[0] = '\0';
    if (strcmp(path, "-") != 0) return ep_input_prefix_hash(path, e->byte, it->damage_xxh3, err);
    return EP_OK;
}

/* Numbers the next record in read order, as one reader thread did before parsing moved to the
 * workers. @return EP_OK with *take set when the record goes into a group (false: it is dropped:
 * a blank line under --skip-blank, a record before the resume point, an input's end that is no
 * rejection; or c->stopped: a stop request at a shard boundary); or EP_ERR_MISMATCH. */
static ep_status number_record(compute *c, ep_item *it, bool *take, ep_error *err) {
    ep_pipeline *p = c->p;
    const ep_run_options *o = p->opt;
    *take = false;
    if (it->kind == EP_ITEM_EMPTY_FRAME) {
        empty_run *e = &c->empty[it->file_index];
        if (!e->active) *e = (empty_run){.active = true, .byte = it->before_byte, .line = it->before_line};
        return EP_OK;
    }
    if (it->damage && c->empty[it->file_index].active) {
        ep_status st = move_damage(c, it, err);
        if (st != EP_OK) return st;
    }
    c->empty[it->file_index].active = false;
    if (it->kind == EP_ITEM_END_OF_INPUT) {
        // One rejection for an input that gave nothing, so that a run over many files says which one.
        if (c->file_records[it->file_index] > 0) return EP_OK;
        it->kind = EP_ITEM_REJECTED;
    }
    c->file_records[it->file_index]++;
    const bool good = it->kind == EP_ITEM_RECORD;
    if (good && it->blank) {
        p->blank_lines++;
        if (o->skip_blank) return EP_OK; /* dropped, and numbered as if it had never been there */
    }
    if (good && it->skipped) { /* --clean retweets: dropped the same way */
        p->retweets_skipped++;
        return EP_OK;
    }
    // A stop request takes effect at a shard boundary, so that the last group is whole.
    if (good && c->all_row % p->rows_per_shard == 0 && c->all_seq >= p->start_seq && ep_pipeline_should_stop(p)) {
        c->stopped = true;
        p->read_stop = 1;
        return EP_OK;
    }
    const uint64_t seq = c->all_seq++;
    const int64_t row = good ? (int64_t)c->all_row++ : -1;
    if (seq < p->start_seq) return EP_OK; /* done by the interrupted run */
    if (seq == p->start_seq && (row < 0 ? c->all_row : (uint64_t)row) != p->start_row)
        return ep_error_set(err, EP_ERR_MISMATCH,
                            "%s changed since the interrupted run (record %llu is not row %llu any more); "
                            "rerun with %s",
                            o->inputs[it->file_index], (unsigned long long)seq, (unsigned long long)p->start_row,
                            ep_setting_name(EP_SETTING_OVERWRITE));
    it->seq = seq;
    it->row = row;
    if (good) {
        it->mine = ep_row_is_mine(p, (uint64_t)row);
        // The workers counted rows on their own to tokenise only this run's (row_ahead.h): a row they
        // numbered otherwise would be embedded without tokens or with another row's vector.
        if (p->rows_ahead_on && (it->ahead_row != (uint64_t)row || it->wanted != it->mine))
            return ep_error_set(err, EP_ERR_MISMATCH,
                                "internal error: the workers counted the record of %s line %llu as row %llu%s, the "
                                "compute stage as row %llu; nothing of the shard in progress was written",
                                o->inputs[it->file_index], (unsigned long long)it->line,
                                (unsigned long long)it->ahead_row, it->wanted ? " of this part" : "",
                                (unsigned long long)row);
        if (!it->mine) { /* another part's row travels without its text, fields and tokens */
            free(it->text);
            free(it->fields);
            it->text = it->fields = NULL;
            it->text_len = 0;
            free(it->ids);
            it->ids = NULL;
            it->n_tokens = 0;
            it->truncated = false;
            it->hash = 0;
        }
    }
    p->records_read++;
    *take = true;
    return EP_OK;
}

static ep_status take_chunk(compute *c, ep_chunk *ch, bool *done, ep_error *err) {
    ep_pipeline *p = c->p;
    ep_status st = EP_OK;
    for (int i = 0; i < ch->n && st == EP_OK && !c->abandoned && !c->stopped; i++) {
        ep_item *it = &ch->items[i];
        bool take;
        st = number_record(c, it, &take, err);
        if (st != EP_OK || !take) continue;
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
    if (st == EP_OK && (ch->last || c->abandoned || c->stopped)) {
        *done = true;
        const bool stopped = ch->stopped || c->stopped;
        if (!stopped && !c->abandoned && c->all_seq < p->start_seq)
            st = ep_error_set(err, EP_ERR_MISMATCH,
                              "the inputs hold %llu records, fewer than the %llu the interrupted run had read; "
                              "they changed since: rerun with %s",
                              (unsigned long long)c->all_seq, (unsigned long long)p->start_seq,
                              ep_setting_name(EP_SETTING_OVERWRITE));
        // After a stop request the open group holds only rejections read past the boundary:
        // they are read again on resume, so it is not written.
        if (st != EP_OK || stopped || c->abandoned) {
            ep_group_free(c->group);
            c->group = NULL;
        } else {
            if (!c->group && !(c->group = new_group(c))) return ep_error_set(err, EP_ERR_NOMEM, "out of memory");
            st = finish_group(c, true, err);
        }
    }
    ep_chunk_free(ch);
    return st;
}

void *ep_stage_compute(void *arg) {
    ep_pipeline *p = arg;
    compute c = {.p = p, .dim = ep_model_output_dim(p->model), .next_row = p->start_row, .next_seq = p->start_seq,
                 .max_seqs = max_seqs_per_batch(p->batch_tokens)};
    ep_error err = {0};
    ep_status st = EP_OK;
    c.file_records = calloc(p->opt->n_inputs ? p->opt->n_inputs : 1, sizeof *c.file_records);
    c.empty = calloc(p->opt->n_inputs ? p->opt->n_inputs : 1, sizeof *c.empty);
    if (!c.file_records || !c.empty) st = ep_error_set(&err, EP_ERR_NOMEM, "out of memory");
    c.n_slots = p->backend->max_in_flight < 1 ? 1 : p->backend->max_in_flight;
    if (c.n_slots > MAX_SLOTS) c.n_slots = MAX_SLOTS;
    for (int s = 0; s < c.n_slots && st == EP_OK; s++) {
        st = ep_packed_batch_init(&c.slots[s].packed, p->batch_tokens, c.max_seqs, &err);
        c.slots[s].out = malloc(sizeof(uint16_t) * (size_t)c.max_seqs * (size_t)c.dim);
        if (st == EP_OK && !c.slots[s].out) st = ep_error_set(&err, EP_ERR_NOMEM, "out of memory for batches");
    }
    bool done = false;
    ep_chunk *ch;
    while (st == EP_OK && !done && (ch = ep_queue_pop(&p->to_compute)) != NULL) {
        if (p->failed || c.abandoned || ep_pipeline_should_abandon(p)) {
            c.abandoned = !p->failed;
            ep_chunk_free(ch);
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
    while ((ch = ep_queue_pop(&p->to_compute)) != NULL) ep_chunk_free(ch);
    for (size_t i = 0; i < c.n_pending; i++) ep_chunk_free(c.pending[i]);
    free(c.pending);
    free(c.file_records);
    free(c.empty);
    ep_group_free(c.group);
    for (int s = 0; s < c.n_slots; s++) {
        ep_packed_batch_free(&c.slots[s].packed);
        free(c.slots[s].out);
    }
    ep_queue_close(&p->to_write);
    pthread_mutex_lock(&p->times_mu);
    p->times.batch += c.batch_s;
    p->times.compute += c.compute_s;
    p->times.compute_cpu += ep_thread_cpu();
    pthread_mutex_unlock(&p->times_mu);
    return NULL;
}
