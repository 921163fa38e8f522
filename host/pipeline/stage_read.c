/*
 * stage_read.c - the reader thread: reads the inputs in order and cuts them
 * into records without parsing them (ep_reader_next_frame), and hands chunks
 * of these frames to the workers, which parse them. It numbers nothing: whether
 * a record is good is known only once parsed, so the compute stage numbers
 * records and rows in read order (stage_compute.c). What only the reader can
 * say travels as items of their own: a record over max_record_bytes, the damage
 * that ends an input, and the end of each input.
 */
#include "pipeline_internal.h"
#include "resume.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static ep_chunk *new_chunk(uint64_t number) {
    ep_chunk *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->number = number;
    c->cap = EP_CHUNK_RECORDS;
    c->items = calloc((size_t)c->cap, sizeof *c->items);
    c->raw_cap = (size_t)EP_CHUNK_RECORDS * 512;
    c->raw = malloc(c->raw_cap);
    if (!c->items || !c->raw) {
        ep_chunk_free(c);
        return NULL;
    }
    return c;
}

/* What the reader thread carries from one record to the next. */
typedef struct read_state {
    ep_pipeline *p;
    ep_chunk *c;            /* the chunk being filled; NULL once out of memory */
    uint64_t chunks;
    uint64_t bytes_before;  /* bytes of the inputs already finished */
    bool stopped;           /* a stop request ended the reading */
    double busy, t0;        /* busy time so far; when the current stretch of work began */
    ep_error err;
} read_state;

static bool out_of_memory(read_state *s) {
    ep_error_set(&s->err, EP_ERR_NOMEM, "reader: out of memory");
    ep_pipeline_fail(s->p, &s->err);
    return false;
}

/* The chunk's next item, zeroed, for input f at line. */
static ep_item *next_item(read_state *s, size_t f, uint64_t line, ep_item_kind kind) {
    ep_item *it = &s->c->items[s->c->n++];
    memset(it, 0, sizeof *it);
    it->kind = (uint8_t)kind;
    it->file_index = (uint32_t)f;
    it->line = line;
    return it;
}

/* --keep: the account name as the frame saw it (it can appear partway through an archive.json), kept
 * by the pipeline until the end so that items may point at it. @return it, or NULL when out of memory. */
static const char *frame_account(read_state *s, const char *account) {
    ep_pipeline *p = s->p;
    if (!account) account = "";
    if (p->n_accounts && strcmp(p->accounts[p->n_accounts - 1], account) == 0) return p->accounts[p->n_accounts - 1];
    if (p->n_accounts == p->cap_accounts) {
        size_t cap = p->cap_accounts ? 2 * p->cap_accounts : 4;
        char **grown = realloc(p->accounts, sizeof *grown * cap);
        if (!grown) return NULL;
        p->accounts = grown;
        p->cap_accounts = cap;
    }
    char *copy = strdup(account);
    if (copy) p->accounts[p->n_accounts++] = copy;
    return copy;
}

/* Copies a frame's bytes into the chunk, NUL-terminated: the workers parse them there.
 * @return false after failing the run (out of memory). */
static bool add_frame(read_state *s, size_t f, ep_reader *r, const ep_frame *frame) {
    ep_chunk *c = s->c;
    if (c->raw_len + frame->len + 1 > c->raw_cap) {
        size_t cap = c->raw_cap * 2;
        while (cap < c->raw_len + frame->len + 1) cap *= 2;
        char *grown = realloc(c->raw, cap);
        if (!grown) return out_of_memory(s);
        c->raw = grown;
        c->raw_cap = cap;
    }
    ep_item *it = next_item(s, f, frame->line, EP_ITEM_FRAME);
    ep_reader_position(r, &it->before_byte, &it->before_line);
    if (s->p->opt->keep && !(it->account = frame_account(s, frame->account))) {
        s->c->n--;
        return out_of_memory(s);
    }
    it->raw_format = (uint8_t)frame->format;
    it->raw_truncated = frame->truncated;
    it->raw_off = c->raw_len;
    it->raw_len = frame->len;
    if (frame->len) memcpy(c->raw + c->raw_len, frame->bytes, frame->len);
    c->raw[c->raw_len + frame->len] = '\0';
    c->raw_len += frame->len + 1;
    return true;
}

/* A rejection only the reader can give (reason), or the end of input f (END_OF_INPUT). */
static bool add_message(read_state *s, size_t f, uint64_t line, ep_item_kind kind, const char *reason) {
    ep_item *it = next_item(s, f, line, kind);
    it->id = strdup("");
    it->reason = strdup(reason);
    return it->id && it->reason ? true : out_of_memory(s);
}

/* The damage that ends input f (EP_ERR_FORMAT from the reader, or from opening it: r NULL): a
 * rejection saying where; only what follows the damage is lost. @return false after failing the run. */
static bool add_damage(read_state *s, size_t f, ep_reader *r) {
    ep_pipeline *p = s->p;
    const ep_run_options *o = p->opt;
    uint64_t line = 1, byte = 0;
    if (r) ep_reader_position(r, &byte, &line);
    char reason[1200];
    ep_damage_reason(reason, sizeof reason, s->err.message, byte);
    if (!add_message(s, f, line, EP_ITEM_REJECTED, reason)) return false;
    ep_item *it = &s->c->items[s->c->n - 1];
    it->damage = true;
    it->damage_byte = byte;
    // The bytes before the damage, hashed now, tell a later run whether a repaired file still
    // holds the records already embedded (see ep_resume_prepare).
    if (strcmp(o->inputs[f], "-") != 0 && ep_input_prefix_hash(o->inputs[f], byte, it->damage_xxh3, &s->err) != EP_OK) {
        ep_pipeline_fail(p, &s->err);
        return false;
    }
    return true;
}

/* Hands the chunk to the workers when full (EP_CHUNK_RECORDS items or EP_CHUNK_BYTES bytes) and
 * starts the next one.
 * @return false when the run failed (the queue was closed, or out of memory). */
static bool push_chunk(read_state *s, ep_reader *r) {
    ep_pipeline *p = s->p;
    if (s->c->n < EP_CHUNK_RECORDS && s->c->raw_len < EP_CHUNK_BYTES) return true;
    p->bytes_read = s->bytes_before + (r ? ep_reader_bytes_read(r) : 0);
    s->busy += ep_now() - s->t0;
    ep_chunk *c = s->c;
    s->c = NULL;
    if (!ep_queue_push(&p->to_tokenize, c)) {
        ep_chunk_free(c); /* closed by a failure */
        return false;
    }
    s->t0 = ep_now();
    if (!(s->c = new_chunk(s->chunks++))) return out_of_memory(s);
    return true;
}

/* Reads input f (r, or NULL when opening it found it damaged) up to its end, its damage, a stop
 * or a failure. */
static void read_frames(read_state *s, size_t f, ep_reader *r) {
    ep_pipeline *p = s->p;
    for (;;) {
        if (p->failed) return;
        if (p->read_stop || ep_pipeline_should_abandon(p)) { /* what was read ahead is read again on resume */
            s->stopped = true;
            return;
        }
        ep_frame frame;
        ep_frame_kind kind = EP_FRAME_END;
        ep_status st = r ? ep_reader_next_frame(r, &frame, &kind, &s->err) : EP_ERR_FORMAT;
        bool ok;
        if (st == EP_ERR_FORMAT) {
            // Nothing after the damage can be trusted: on to the next input.
            if (add_damage(s, f, r)) push_chunk(s, r);
            return;
        }
        if (st != EP_OK) {
            ep_pipeline_fail(p, &s->err);
            return;
        }
        if (kind == EP_FRAME_END) {
            // Whether the input gave any record is known only once its frames are parsed: compute decides.
            if (add_message(s, f, 0, EP_ITEM_END_OF_INPUT, ep_reader_no_records_reason(r))) push_chunk(s, r);
            return;
        }
        ok = kind == EP_FRAME_REJECTED ? add_message(s, f, frame.line, EP_ITEM_REJECTED, frame.reason)
                                       : add_frame(s, f, r, &frame);
        if (!ok || !push_chunk(s, r)) return;
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
    read_frames(s, f, r);
    s->bytes_before += p->input_sizes[f];
    p->bytes_read = s->bytes_before;
    ep_reader_free(r);
    s->busy += ep_now() - s->t0;
    return true;
}

/* Sends the last chunk. */
static void finish_reading(read_state *s) {
    ep_pipeline *p = s->p;
    ep_chunk *c = s->c;
    if (c) {
        c->last = true;
        c->stopped = s->stopped;
        if (!ep_queue_push(&p->to_tokenize, c)) ep_chunk_free(c);
    }
    ep_queue_close(&p->to_tokenize);
    pthread_mutex_lock(&p->times_mu);
    p->times.read += s->busy;
    p->times.read_cpu += ep_thread_cpu();
    pthread_mutex_unlock(&p->times_mu);
}

void *ep_stage_read(void *arg) {
    read_state s = {.p = arg};
    if (!(s.c = new_chunk(s.chunks++))) out_of_memory(&s);
    for (size_t f = 0; s.c && f < s.p->opt->n_inputs && !s.stopped && !s.p->failed; f++)
        if (!read_input(&s, f)) break;
    finish_reading(&s);
    return NULL;
}
