/*
 * stage_read.c - the reader thread: reads the inputs in order, numbers every
 * record (seq) and every good record (row), and hands chunks of them to the
 * tokenizer workers. Records before the resume point are read and counted
 * but not passed on; rows of other parts (--part) travel without their text.
 */
#include "pipeline_internal.h"
#include "resume.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static ep_chunk *new_chunk(uint64_t number) {
    ep_chunk *c = calloc(1, sizeof *c);
    if (c) c->number = number;
    return c;
}

static bool row_is_mine(const ep_pipeline *p, uint64_t row) {
    const ep_run_options *o = p->opt;
    if (o->part_count <= 1) return true;
    return (row / p->rows_per_shard) % (uint64_t)o->part_count == (uint64_t)o->part_index;
}

static char *dup_bytes(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* What the reader thread carries from one record to the next. */
typedef struct read_state {
    ep_pipeline *p;
    ep_chunk *c;            /* the chunk being filled; NULL once out of memory */
    uint64_t seq, row, chunks;
    uint64_t bytes_before;  /* bytes of the inputs already finished */
    bool stopped;           /* a stop request ended the reading */
    double busy, t0;        /* busy time so far; when the current stretch of work began */
    ep_error err;
} read_state;

/* The next record of an input, or, where the input is damaged (EP_ERR_FORMAT: corrupt or truncated
 * data, a broken structure, UTF-16), a rejection saying where: only what follows the damage is lost.
 * @return true with *rec and *kind; false after failing the run. */
static bool next_record(read_state *s, ep_reader *r, ep_status open_st, ep_record *rec, ep_read_kind *kind,
                        char *reason, size_t reason_size, bool *damaged, uint64_t *damage_byte) {
    ep_status st = r ? ep_reader_next(r, rec, kind, &s->err) : open_st;
    *damaged = false;
    *damage_byte = 0;
    if (st == EP_ERR_FORMAT) {
        uint64_t line = 1;
        if (r) ep_reader_position(r, damage_byte, &line);
        snprintf(reason, reason_size,
                 "damaged input: %s (every record before byte %llu was read; repair the file and run the "
                 "same command again to embed the rest)",
                 s->err.message, (unsigned long long)*damage_byte);
        memset(rec, 0, sizeof *rec);
        rec->id = "";
        rec->line = line;
        rec->reason = reason;
        *kind = EP_READ_REJECTED;
        *damaged = true;
    } else if (st != EP_OK) {
        ep_pipeline_fail(s->p, &s->err);
        return false;
    }
    return true;
}

/* Fills the chunk's next item with record my_seq (row my_row, -1 for a rejection) of input f, and
 * counts it. @return false after failing the run. */
static bool add_item(read_state *s, size_t f, const ep_record *rec, ep_read_kind kind, uint64_t my_seq,
                     int64_t my_row, bool damaged, uint64_t damage_byte) {
    ep_pipeline *p = s->p;
    const ep_run_options *o = p->opt;
    ep_chunk *c = s->c;
    ep_item *it = &c->items[c->n];
    memset(it, 0, sizeof *it);
    it->seq = my_seq;
    it->row = my_row;
    it->file_index = (uint32_t)f;
    it->line = rec->line;
    it->id = strdup(rec->id ? rec->id : "");
    bool ok = it->id != NULL;
    if (kind == EP_READ_REJECTED) {
        it->reason = strdup(rec->reason ? rec->reason : "rejected");
        ok = ok && it->reason;
        if (damaged) {
            it->damage = true;
            it->damage_byte = damage_byte;
            // The bytes before the damage, hashed now, tell a later run whether a repaired file still
            // holds the records already embedded (see ep_resume_prepare).
            if (strcmp(o->inputs[f], "-") != 0 &&
                ep_input_prefix_hash(o->inputs[f], damage_byte, it->damage_xxh3, &s->err) != EP_OK) {
                ep_pipeline_fail(p, &s->err);
                ep_item_clear(it);
                return false;
            }
        }
    } else {
        it->mine = row_is_mine(p, (uint64_t)my_row);
        if (it->mine) {
            it->text = dup_bytes(rec->text, rec->text_len);
            it->text_len = rec->text_len;
            ok = ok && it->text;
            if (rec->fields) {
                it->fields = strdup(rec->fields);
                ok = ok && it->fields;
            }
        }
    }
    c->n++;
    p->records_read++;
    if (!ok) {
        ep_error_set(&s->err, EP_ERR_NOMEM, "reader: out of memory");
        ep_pipeline_fail(p, &s->err);
    }
    return ok;
}

/* Hands the full chunk to the tokenizers and starts the next one.
 * @return false when the run failed (the queue was closed, or out of memory). */
static bool push_full_chunk(read_state *s, ep_reader *r) {
    ep_pipeline *p = s->p;
    ep_chunk *c = s->c;
    p->bytes_read = s->bytes_before + (r ? ep_reader_bytes_read(r) : 0);
    s->busy += ep_now() - s->t0;
    if (!ep_queue_push(&p->to_tokenize, c)) {
        for (int i = 0; i < c->n; i++) ep_item_clear(&c->items[i]); /* closed by a failure */
        c->n = 0;
        return false;
    }
    s->t0 = ep_now();
    s->c = new_chunk(s->chunks++);
    if (!s->c) {
        ep_error_set(&s->err, EP_ERR_NOMEM, "reader: out of memory");
        ep_pipeline_fail(p, &s->err);
        return false;
    }
    return true;
}

/* Reads input f (r, or NULL when opening it found it damaged: open_st) up to its end, its damage,
 * a stop request or a failure. */
static void read_records(read_state *s, size_t f, ep_reader *r, ep_status open_st) {
    ep_pipeline *p = s->p;
    const ep_run_options *o = p->opt;
    for (;;) {
        ep_record rec;
        ep_read_kind kind;
        char damage_reason[1200];
        bool damaged;
        uint64_t damage_byte;
        if (p->failed) break;
        if (!next_record(s, r, open_st, &rec, &kind, damage_reason, sizeof damage_reason, &damaged, &damage_byte))
            break;
        if (kind == EP_READ_END) break;
        if (ep_pipeline_should_abandon(p)) { /* SIGTERM: the records read ahead are read again on resume */
            s->stopped = true;
            break;
        }
        if (kind == EP_READ_RECORD && rec.blank) {
            p->blank_lines++;
            if (o->skip_blank) continue; /* dropped, and numbered as if it had never been there */
        }
        if (kind == EP_READ_RECORD && rec.skipped) { /* --clean retweets: dropped the same way */
            p->retweets_skipped++;
            continue;
        }
        // A stop request takes effect at a shard boundary, so that the last group is whole.
        if (kind == EP_READ_RECORD && s->row % p->rows_per_shard == 0 && s->seq >= p->start_seq &&
            ep_pipeline_should_stop(p)) {
            s->stopped = true;
            break;
        }
        const uint64_t my_seq = s->seq++;
        const int64_t my_row = kind == EP_READ_RECORD ? (int64_t)s->row++ : -1;
        if (my_seq < p->start_seq) {
            if (damaged) break;
            continue; /* done by the interrupted run */
        }
        if (my_seq == p->start_seq && (uint64_t)(my_row < 0 ? s->row : (uint64_t)my_row) != p->start_row) {
            ep_error_set(&s->err, EP_ERR_MISMATCH,
                         "%s changed since the interrupted run (record %llu is not row %llu any more); "
                         "rerun with --overwrite",
                         o->inputs[f], (unsigned long long)my_seq, (unsigned long long)p->start_row);
            ep_pipeline_fail(p, &s->err);
            break;
        }
        if (!add_item(s, f, &rec, kind, my_seq, my_row, damaged, damage_byte)) break;
        if (s->c->n == EP_CHUNK_RECORDS && !push_full_chunk(s, r)) break;
        if (damaged) break; /* nothing after the damage can be trusted: on to the next input */
    }
}

/* Opens input f and reads it. @return false when the run cannot go on (the failure is recorded). */
static bool read_input(read_state *s, size_t f) {
    ep_pipeline *p = s->p;
    const ep_run_options *o = p->opt;
    s->t0 = ep_now();
    ep_reader_options ro = {.format = o->format,
                            .text_path = o->text_path,
                            .keep = o->keep,
                            .clean = p->clean,
                            .id_path = o->id_path,
                            .max_record_bytes = o->max_record_bytes};
    ep_reader *r = NULL;
    // A damaged input costs only what follows the damage: it becomes one entry of errors.ndjson, and
    // the next input is read.
    ep_status open_st = ep_reader_open(o->inputs[f], &ro, &r, &s->err);
    if (open_st != EP_OK && open_st != EP_ERR_FORMAT) {
        ep_pipeline_fail(p, &s->err);
        return false;
    }
    if (r) {
        p->formats[f] = ep_reader_format(r);
        if (ep_reader_warning(r)) ep_pipeline_say(p, EP_EVENT_WARNING, "%s", ep_reader_warning(r));
    }
    read_records(s, f, r, open_st);
    s->bytes_before += p->input_sizes[f];
    p->bytes_read = s->bytes_before;
    ep_reader_free(r);
    s->busy += ep_now() - s->t0;
    return true;
}

/* Checks that a resumed run's inputs still reach its resume point, and sends the last chunk. */
static void finish_reading(read_state *s) {
    ep_pipeline *p = s->p;
    ep_chunk *c = s->c;
    if (c && !s->stopped && !p->failed && s->seq < p->start_seq) {
        ep_error_set(&s->err, EP_ERR_MISMATCH,
                     "the inputs hold %llu records, fewer than the %llu the interrupted run had read; "
                     "they changed since: rerun with --overwrite",
                     (unsigned long long)s->seq, (unsigned long long)p->start_seq);
        ep_pipeline_fail(p, &s->err);
    }
    if (c) {
        c->last = true;
        c->stopped = s->stopped;
        if (!ep_queue_push(&p->to_tokenize, c)) {
            for (int i = 0; i < c->n; i++) ep_item_clear(&c->items[i]);
            free(c);
        }
    }
    ep_queue_close(&p->to_tokenize);
    pthread_mutex_lock(&p->times_mu);
    p->times.read += s->busy;
    pthread_mutex_unlock(&p->times_mu);
}

void *ep_stage_read(void *arg) {
    read_state s = {.p = arg};
    s.c = new_chunk(s.chunks++);
    if (!s.c) {
        ep_error_set(&s.err, EP_ERR_NOMEM, "reader: out of memory");
        ep_pipeline_fail(s.p, &s.err);
    }
    for (size_t f = 0; s.c && f < s.p->opt->n_inputs && !s.stopped && !s.p->failed; f++)
        if (!read_input(&s, f)) break;
    finish_reading(&s);
    return NULL;
}
