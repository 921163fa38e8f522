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

void *ep_stage_read(void *arg) {
    ep_pipeline *p = arg;
    const ep_run_options *o = p->opt;
    ep_error err = {0};
    uint64_t seq = 0, row = 0, chunks = 0;
    bool stopped = false;
    ep_chunk *c = new_chunk(chunks++);
    double busy = 0;
    if (!c) {
        ep_error_set(&err, EP_ERR_NOMEM, "reader: out of memory");
        ep_pipeline_fail(p, &err);
    }
    uint64_t bytes_before = 0; /* bytes of the inputs already finished */
    for (size_t f = 0; c && f < o->n_inputs && !stopped && !p->failed; f++) {
        double t0 = ep_now();
        ep_reader_options ro = {.format = o->format,
                                .text_path = o->text_path,
                                .id_path = o->id_path,
                                .max_record_bytes = o->max_record_bytes};
        ep_reader *r = NULL;
        // A damaged input (EP_ERR_FORMAT: corrupt or truncated data, a broken structure, UTF-16) costs only
        // what follows the damage: it becomes one entry of errors.ndjson, and the next input is read.
        ep_status open_st = ep_reader_open(o->inputs[f], &ro, &r, &err);
        if (open_st != EP_OK && open_st != EP_ERR_FORMAT) {
            ep_pipeline_fail(p, &err);
            break;
        }
        if (r) {
            p->formats[f] = ep_reader_format(r);
            if (ep_reader_warning(r)) ep_pipeline_say(p, EP_EVENT_WARNING, "%s", ep_reader_warning(r));
        }
        for (;;) {
            ep_record rec;
            ep_read_kind kind;
            char damage_reason[1200];
            bool damaged = false;
            uint64_t damage_byte = 0;
            if (p->failed) break;
            ep_status st = r ? ep_reader_next(r, &rec, &kind, &err) : open_st;
            if (st == EP_ERR_FORMAT) {
                uint64_t line = 1;
                if (r) ep_reader_position(r, &damage_byte, &line);
                snprintf(damage_reason, sizeof damage_reason,
                         "damaged input: %s (every record before byte %llu was read; repair the file and run the "
                         "same command again to embed the rest)",
                         err.message, (unsigned long long)damage_byte);
                memset(&rec, 0, sizeof rec);
                rec.id = "";
                rec.line = line;
                rec.reason = damage_reason;
                kind = EP_READ_REJECTED;
                damaged = true;
            } else if (st != EP_OK) {
                ep_pipeline_fail(p, &err);
                break;
            }
            if (kind == EP_READ_END) break;
            if (ep_pipeline_should_abandon(p)) { /* SIGTERM: the records read ahead are read again on resume */
                stopped = true;
                break;
            }
            if (kind == EP_READ_RECORD && rec.blank) {
                p->blank_lines++;
                if (o->skip_blank) continue; /* dropped, and numbered as if it had never been there */
            }
            // A stop request takes effect at a shard boundary, so that the last group is whole.
            if (kind == EP_READ_RECORD && row % p->rows_per_shard == 0 && seq >= p->start_seq && ep_pipeline_should_stop(p)) {
                stopped = true;
                break;
            }
            const uint64_t my_seq = seq++;
            const int64_t my_row = kind == EP_READ_RECORD ? (int64_t)row++ : -1;
            if (my_seq < p->start_seq) {
                if (damaged) break;
                continue; /* done by the interrupted run */
            }
            if (my_seq == p->start_seq && (uint64_t)(my_row < 0 ? row : (uint64_t)my_row) != p->start_row) {
                ep_error_set(&err, EP_ERR_MISMATCH,
                             "%s changed since the interrupted run (record %llu is not row %llu any more); "
                             "rerun with --overwrite",
                             o->inputs[f], (unsigned long long)my_seq, (unsigned long long)p->start_row);
                ep_pipeline_fail(p, &err);
                break;
            }
            ep_item *it = &c->items[c->n];
            memset(it, 0, sizeof *it);
            it->seq = my_seq;
            it->row = my_row;
            it->file_index = (uint32_t)f;
            it->line = rec.line;
            it->id = strdup(rec.id ? rec.id : "");
            bool ok = it->id != NULL;
            if (kind == EP_READ_REJECTED) {
                it->reason = strdup(rec.reason ? rec.reason : "rejected");
                ok = ok && it->reason;
                if (damaged) {
                    it->damage = true;
                    it->damage_byte = damage_byte;
                    // The bytes before the damage, hashed now, tell a later run whether a repaired file still
                    // holds the records already embedded (see ep_resume_prepare).
                    if (strcmp(o->inputs[f], "-") != 0 &&
                        ep_input_prefix_hash(o->inputs[f], damage_byte, it->damage_xxh3, &err) != EP_OK) {
                        ep_pipeline_fail(p, &err);
                        ep_item_clear(it);
                        break;
                    }
                }
            } else {
                it->mine = row_is_mine(p, (uint64_t)my_row);
                if (it->mine) {
                    it->text = dup_bytes(rec.text, rec.text_len);
                    it->text_len = rec.text_len;
                    ok = ok && it->text;
                }
            }
            c->n++;
            p->records_read++;
            if (!ok) {
                ep_error_set(&err, EP_ERR_NOMEM, "reader: out of memory");
                ep_pipeline_fail(p, &err);
                break;
            }
            if (c->n == EP_CHUNK_RECORDS) {
                p->bytes_read = bytes_before + (r ? ep_reader_bytes_read(r) : 0);
                busy += ep_now() - t0;
                if (!ep_queue_push(&p->to_tokenize, c)) {
                    for (int i = 0; i < c->n; i++) ep_item_clear(&c->items[i]); /* closed by a failure */
                    c->n = 0;
                    break;
                }
                t0 = ep_now();
                c = new_chunk(chunks++);
                if (!c) {
                    ep_error_set(&err, EP_ERR_NOMEM, "reader: out of memory");
                    ep_pipeline_fail(p, &err);
                    break;
                }
            }
            if (damaged) break; /* nothing after the damage can be trusted: on to the next input */
        }
        bytes_before += p->input_sizes[f];
        p->bytes_read = bytes_before;
        ep_reader_free(r);
        busy += ep_now() - t0;
    }
    if (c && !stopped && !p->failed && seq < p->start_seq) {
        ep_error_set(&err, EP_ERR_MISMATCH,
                     "the inputs hold %llu records, fewer than the %llu the interrupted run had read; "
                     "they changed since: rerun with --overwrite",
                     (unsigned long long)seq, (unsigned long long)p->start_seq);
        ep_pipeline_fail(p, &err);
    }
    if (c) {
        c->last = true;
        c->stopped = stopped;
        if (!ep_queue_push(&p->to_tokenize, c)) {
            for (int i = 0; i < c->n; i++) ep_item_clear(&c->items[i]);
            free(c);
        }
    }
    ep_queue_close(&p->to_tokenize);
    pthread_mutex_lock(&p->times_mu);
    p->times.read += busy;
    pthread_mutex_unlock(&p->times_mu);
    return NULL;
}
