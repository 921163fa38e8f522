/*
 * stage_tokenize.c - the workers: each takes whole chunks of frames, parses
 * them into records (record_extract.h: JSON, fields, rejections), tokenises
 * the texts and hashes them. Chunks leave in any order; the compute stage
 * puts them back in order and numbers their records.
 */
#include "pipeline_internal.h"

#include "record_extract.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

static char *dup_bytes(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) {
        if (n) memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* Appends one extracted record (or rejection) of the frame `from` to out. @return false when out of memory. */
static bool add_record(ep_item **out, int *n, int *cap, const ep_item *from, const ep_record *rec,
                       ep_read_kind kind) {
    if (*n == *cap) {
        int grown_cap = *cap * 2;
        ep_item *grown = realloc(*out, sizeof *grown * (size_t)grown_cap);
        if (!grown) return false;
        *out = grown;
        *cap = grown_cap;
    }
    ep_item *it = &(*out)[(*n)++];
    memset(it, 0, sizeof *it);
    it->file_index = from->file_index;
    it->line = rec->line;
    it->id = strdup(rec->id ? rec->id : "");
    if (kind == EP_READ_REJECTED) {
        it->kind = EP_ITEM_REJECTED;
        it->reason = strdup(rec->reason ? rec->reason : "rejected");
        return it->id && it->reason;
    }
    it->kind = EP_ITEM_RECORD;
    it->blank = rec->blank;
    it->skipped = rec->skipped;
    it->text = dup_bytes(rec->text, rec->text_len);
    it->text_len = rec->text_len;
    if (rec->fields && !(it->fields = strdup(rec->fields))) return false;
    return it->id && it->text;
}

/* Replaces the chunk's frames by the records they hold, in order; the reader's own items
 * (rejections, damage, the end of an input) keep their place. @return false when out of memory. */
static bool extract_chunk(ep_extractor *x, ep_chunk *c) {
    int cap = c->n > 0 ? c->n + c->n / 4 + 4 : 4, n = 0;
    ep_item *out = malloc(sizeof *out * (size_t)cap);
    bool ok = out != NULL;
    for (int i = 0; i < c->n && ok; i++) {
        ep_item *it = &c->items[i];
        if (it->kind != EP_ITEM_FRAME) {
            if (n == cap) {
                ep_item *grown = realloc(out, sizeof *out * (size_t)(cap *= 2));
                if (!(ok = grown != NULL)) break;
                out = grown;
            }
            out[n++] = *it;
            memset(it, 0, sizeof *it); /* ownership moved */
            continue;
        }
        ep_frame frame = {.format = (ep_input_format)it->raw_format, .bytes = c->raw + it->raw_off,
                          .len = it->raw_len, .line = it->line, .truncated = it->raw_truncated,
                          .account = it->account};
        ep_extractor_begin(x, &frame);
        ep_record rec;
        ep_read_kind kind;
        const int first = n;
        while (ok && ep_extractor_next(x, &rec, &kind)) ok = add_record(&out, &n, &cap, it, &rec, kind);
        if (ok && n == first) { /* no record: compute needs to know where it stood (damage right after it) */
            if (n == cap) {
                ep_item *grown = realloc(out, sizeof *out * (size_t)(cap *= 2));
                if (!(ok = grown != NULL)) break;
                out = grown;
            }
            ep_item *e = &out[n++];
            memset(e, 0, sizeof *e);
            e->kind = EP_ITEM_EMPTY_FRAME;
            e->file_index = it->file_index;
            e->line = it->line;
            e->before_byte = it->before_byte;
            e->before_line = it->before_line;
        }
    }
    for (int i = 0; i < c->n; i++) ep_item_clear(&c->items[i]);
    free(c->items);
    free(c->raw);
    c->raw = NULL;
    c->raw_len = c->raw_cap = 0;
    c->items = out;
    c->n = out ? n : 0;
    c->cap = cap;
    return ok;
}

/* Marks the chunk's rows that this run embeds, from the rows the workers counted before it (row_ahead.h):
 * those of this part and past the resume point. The others are not tokenised; their text and fields
 * go now, as compute would drop them. Every chunk is counted, even one a failure left unextracted, so
 * that no later chunk waits for it. */
static void mark_wanted(ep_pipeline *p, ep_chunk *c) {
    uint64_t rows = 0;
    for (int i = 0; i < c->n; i++) rows += ep_item_makes_row(p, &c->items[i]);
    uint64_t row = ep_row_ahead_count(&p->rows_ahead, c->number, rows);
    for (int i = 0; i < c->n; i++) {
        ep_item *it = &c->items[i];
        if (!ep_item_makes_row(p, it)) continue; /* a rejection, or a record compute drops: never tokenised */
        it->ahead_row = row++;
        if ((it->wanted = it->ahead_row >= p->start_row && ep_row_is_mine(p, it->ahead_row))) continue;
        free(it->text);
        free(it->fields);
        it->text = it->fields = NULL;
        it->text_len = 0;
    }
}

/* Tokenises and hashes the chunk's rows (with rows_ahead_on, those mark_wanted chose), each with the
 * run's prompt before it (one string, as sentence-transformers tokenises it; buf is the worker's). The
 * hash is the text's alone: the prompt is the run's, recorded in the manifest.
 * @return false when out of memory. */
static bool tokenize_chunk(ep_pipeline *p, ep_chunk *c, ep_prompt_buf *buf) {
    uint64_t done = 0;
    for (int i = 0; i < c->n && !p->failed && !ep_pipeline_should_abandon(p); i++) {
        ep_item *it = &c->items[i];
        // A blank line under skip_blank or a retweet under --clean retweets is dropped by compute: no tokens.
        if (!ep_item_makes_row(p, it) || (p->rows_ahead_on && !it->wanted)) continue;
        it->wanted = true;
        it->hash = XXH3_64bits(it->text, it->text_len);
        it->ids = malloc(sizeof(int32_t) * (size_t)p->max_len);
        if (!it->ids) return false;
        it->n_tokens = ep_prompt_encode(p->tok, p->prompt, p->prompt_len, it->text, it->text_len, it->ids, p->max_len,
                                        &it->truncated, buf);
        if (it->n_tokens < 0) return false;
        int32_t *fit = realloc(it->ids, sizeof(int32_t) * (size_t)it->n_tokens); /* keep a group's memory small */
        if (fit) it->ids = fit;
        done++;
        // Unless it is stored with the row, the text is not needed any more: only its tokens and hash travel on.
        if (p->opt->no_text) {
            free(it->text);
            it->text = NULL;
        }
    }
    p->texts_tokenized += done;
    return true;
}

void *ep_stage_tokenize(void *arg) {
    ep_pipeline *p = arg;
    double busy = 0;
    ep_extractor *x = NULL;
    ep_reader_options ro = {.format = p->opt->format, .text_path = p->opt->text_path, .id_path = p->opt->id_path,
                            .max_record_bytes = p->opt->max_record_bytes, .keep = p->opt->keep, .clean = p->clean};
    ep_error err;
    if (ep_extractor_create(&ro, &x, &err) != EP_OK) ep_pipeline_fail(p, &err);
    ep_chunk *c;
    ep_prompt_buf buf = {0};
    while ((c = ep_queue_pop(&p->to_tokenize)) != NULL) {
        double t0 = ep_now();
        bool ok = !x || p->failed || ep_pipeline_should_abandon(p) || extract_chunk(x, c);
        if (p->rows_ahead_on) mark_wanted(p, c); /* always: a later chunk waits for this one's count */
        if (ok && x && !p->failed && !ep_pipeline_should_abandon(p)) ok = tokenize_chunk(p, c, &buf);
        if (!ok) {
            ep_error_set(&err, EP_ERR_NOMEM, "worker: out of memory");
            ep_pipeline_fail(p, &err);
        }
        busy += ep_now() - t0;
        if (!ep_queue_push(&p->to_compute, c)) ep_chunk_free(c);
    }
    ep_extractor_free(x);
    free(buf.data);
    pthread_mutex_lock(&p->times_mu);
    p->times.tokenize += busy;
    p->times.tokenize_cpu += ep_thread_cpu();
    pthread_mutex_unlock(&p->times_mu);
    return NULL;
}
