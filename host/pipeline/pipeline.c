/*
 * pipeline.c - one embedding run: set-up, the stage threads, progress, and
 * the summary. The stages themselves live in stage_*.c; what a folder
 * already holds (resume) in resume.c; --reuse in reuse.c.
 */
#include "pipeline_internal.h"
#include "setting_names.h"
#include "resume.h"

#include "atomic_file.h"
#include "folder_lock.h"
#include "model_tokenizer.h"
#include "settings.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EP_DEFAULT_SHARD_ROWS 32768
#define EP_CPU_BATCH_TOKENS 4096
#define EP_MAX_TOKENIZER_THREADS 64

static volatile sig_atomic_t stop_signals = 0;
/* SIGTERM (a scheduler, systemd, `kill`) wants the process gone soon, not after thousands of read-ahead
 * records: the shard in progress is dropped, as after SIGKILL, and resume computes it again. */
static volatile sig_atomic_t abandon_signal = 0;

static void on_signal(int sig) {
    if (sig == SIGTERM) abandon_signal = 1;
    if (++stop_signals >= 2) _exit(130); /* shards and manifest are replaced atomically: still resumable */
}

void ep_run_install_signal_handlers(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

void ep_run_request_stop(void) { stop_signals = stop_signals ? stop_signals : 1; }

bool ep_pipeline_should_stop(ep_pipeline *p) {
    if (stop_signals && !p->stop_requested) p->stop_requested = 1;
    return p->stop_requested != 0;
}

bool ep_pipeline_should_abandon(ep_pipeline *p) {
    if (abandon_signal && !p->abandon) p->abandon = p->stop_requested = 1;
    return p->abandon != 0;
}

ep_run_options ep_run_options_default(void) {
    ep_run_options o;
    memset(&o, 0, sizeof o);
    o.format = EP_FORMAT_AUTO;
    o.device = "auto";
    return o;
}

double ep_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

double ep_thread_cpu(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

#define DAMAGE_PREFIX "damaged input: "
#define DAMAGE_MIDDLE " (every record before byte "

void ep_damage_reason(char *out, size_t cap, const char *message, uint64_t byte) {
    snprintf(out, cap,
             DAMAGE_PREFIX "%s" DAMAGE_MIDDLE "%llu was read; repair the file and run the same command again to "
             "embed the rest)",
             message, (unsigned long long)byte);
}

void ep_damage_message(char *out, size_t cap, const char *reason) {
    const char *start = reason + strlen(DAMAGE_PREFIX), *end = strstr(start, DAMAGE_MIDDLE), *last = end;
    while (last && (last = strstr(last + 1, DAMAGE_MIDDLE))) end = last; /* the message could hold the words */
    snprintf(out, cap, "%.*s", (int)(end ? end - start : (ptrdiff_t)strlen(start)), start);
}

void ep_item_clear(ep_item *it) {
    free(it->id);
    free(it->text);
    free(it->fields);
    free(it->reason);
    free(it->ids);
    memset(it, 0, sizeof *it);
}

void ep_chunk_free(ep_chunk *c) {
    if (!c) return;
    for (int i = 0; i < c->n; i++) ep_item_clear(&c->items[i]);
    free(c->items);
    free(c->raw);
    free(c);
}

void ep_group_free(ep_group *g) {
    if (!g) return;
    for (size_t i = 0; i < g->n_items; i++) ep_item_clear(&g->items[i]);
    free(g->items);
    free(g->vectors);
    free(g);
}

void ep_pipeline_fail(ep_pipeline *p, const ep_error *err) {
    pthread_mutex_lock(&p->error_mu);
    if (!p->failed) {
        p->error = *err;
        p->failed = 1;
    }
    pthread_mutex_unlock(&p->error_mu);
    // Unblock every stage: pushes fail from now on, pops drain and end.
    ep_queue_close(&p->to_tokenize);
    ep_queue_close(&p->to_compute);
    ep_queue_close(&p->to_write);
}

void ep_pipeline_event(ep_pipeline *p, const ep_run_event *ev) {
    if (!p->opt->on_event) return;
    pthread_mutex_lock(&p->event_mu);
    p->opt->on_event(ev, p->opt->event_user);
    pthread_mutex_unlock(&p->event_mu);
}

void ep_pipeline_say(ep_pipeline *p, ep_run_event_kind kind, const char *fmt, ...) {
    if (!p->opt->on_event) return;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    ep_pipeline_event(p, &(ep_run_event){.kind = kind, .message = line});
}

// ----------------------------------------------------------------------------
// Progress: a ticker thread reads the stages' counters and hands them to on_event.

typedef struct ticker {
    ep_pipeline *p;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    double start;
    bool told_stop;
} ticker;

static void report_progress(ticker *t, bool final) {
    ep_pipeline *p = t->p;
    double el = ep_now() - t->start;
    if (el <= 0) el = 1e-9;
    uint64_t rows = p->rows_done, records = p->records_read, tokens = p->tokens, rej = p->rejected;
    // The reader runs ahead of the model by up to a shard: scale the bytes read by the share of
    // the records read that are already done, so the ETA tracks the rows written.
    double frac = p->bytes_total ? (double)p->bytes_read / (double)p->bytes_total : -1.0;
    if (frac > 0 && records > 0) frac *= fmin(1.0, (double)(rows + rej) / (double)records);
    double eta = frac > 0.001 && !final ? el * (1.0 - frac) / frac : -1.0;
    ep_pipeline_event(p, &(ep_run_event){.kind = EP_EVENT_PROGRESS, .elapsed_s = el, .records = records,
                                         .rows = rows, .rejected = rej, .tokens = tokens, .fraction = frac,
                                         .eta_s = eta, .done = final});
}

static void *ticker_main(void *arg) {
    ticker *t = arg;
    const double period = t->p->opt->progress_interval_s > 0 ? t->p->opt->progress_interval_s : 10.0;
    pthread_mutex_lock(&t->mu);
    while (!t->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        long ns = ts.tv_nsec + (long)((period - (long)period) * 1e9);
        ts.tv_sec += (time_t)period + ns / 1000000000L;
        ts.tv_nsec = ns % 1000000000L;
        pthread_cond_timedwait(&t->cv, &t->mu, &ts);
        if (!t->stop) report_progress(t, false);
        if (ep_pipeline_should_stop(t->p) && !t->told_stop && !t->stop) {
            t->told_stop = true;
            ep_pipeline_event(t->p, &(ep_run_event){.kind = EP_EVENT_STOPPING,
                                                    .abandon = ep_pipeline_should_abandon(t->p)});
        }
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

// ----------------------------------------------------------------------------
// The run

/* Sizes and modification times of the inputs, for progress, the manifest and `search`.
 * @return EP_OK, EP_ERR_IO naming an input that cannot be read, or EP_ERR_NOMEM. */
static ep_status stat_inputs(ep_pipeline *p, ep_error *err) {
    const ep_run_options *o = p->opt;
    p->formats = calloc(o->n_inputs, sizeof *p->formats);
    p->input_sizes = calloc(o->n_inputs, sizeof *p->input_sizes);
    p->input_stamps = calloc(o->n_inputs ? o->n_inputs : 1, sizeof *p->input_stamps);
    p->input_mtimes = calloc(o->n_inputs ? o->n_inputs : 1, sizeof *p->input_mtimes);
    p->damage = calloc(o->n_inputs ? o->n_inputs : 1, sizeof *p->damage);
    if (!p->formats || !p->input_sizes || !p->input_stamps || !p->input_mtimes || !p->damage)
        return ep_error_set(err, EP_ERR_NOMEM, "out of memory");
    char cwd[4096];
    bool have_cwd = getcwd(cwd, sizeof cwd) != NULL;
    for (size_t i = 0; i < o->n_inputs; i++) {
        p->formats[i] = o->format;
        struct stat sst;
        if (strcmp(o->inputs[i], "-") == 0) continue;
        if (stat(o->inputs[i], &sst) != 0)
            return ep_error_set(err, EP_ERR_IO, "cannot read input %s: %s", o->inputs[i], strerror(errno));
        p->input_sizes[i] = (uint64_t)sst.st_size;
        p->input_mtimes[i] = sst.st_mtim;
        p->bytes_total += (uint64_t)sst.st_size;
        /* Where and when, for `search` to read the texts again only from this
         * very file, from whatever folder it is run. */
        ep_manifest_input *stamp = &p->input_stamps[i];
        if (o->inputs[i][0] == '/' || have_cwd) {
            size_t len = (have_cwd ? strlen(cwd) : 0) + strlen(o->inputs[i]) + 2;
            if (!(stamp->abs_path = malloc(len))) return ep_error_set(err, EP_ERR_NOMEM, "out of memory");
            if (o->inputs[i][0] == '/') snprintf(stamp->abs_path, len, "%s", o->inputs[i]);
            else snprintf(stamp->abs_path, len, "%s/%s", cwd, o->inputs[i]);
            stamp->mtime_sec = sst.st_mtim.tv_sec > 0 ? (uint64_t)sst.st_mtim.tv_sec : 0;
            stamp->mtime_nsec = (uint64_t)sst.st_mtim.tv_nsec;
        }
    }
    return EP_OK;
}

/* Opens out_dir/errors.ndjson for appending. @return EP_OK, or EP_ERR_IO naming the file. */
static ep_status open_errors(ep_pipeline *p, ep_error *err) {
    const ep_run_options *o = p->opt;
    snprintf(p->errors_path, sizeof p->errors_path, "%s/errors.ndjson", o->out_dir);
    // Appended to, never through a link (resume checked the name; O_NOFOLLOW closes the gap).
    int fd = open(p->errors_path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
    struct stat es;
    if (fd >= 0 && (fstat(fd, &es) != 0 || !S_ISREG(es.st_mode))) {
        close(fd);
        return ep_error_set(err, EP_ERR_IO, "%s is not a regular file; remove it", p->errors_path);
    }
    p->errors = fd >= 0 ? fdopen(fd, "a") : NULL;
    if (!p->errors) {
        int saved = errno;
        if (fd >= 0) close(fd);
        return ep_error_set(err, EP_ERR_IO, "cannot open %s: %s%s", p->errors_path, strerror(saved),
                            saved == ELOOP ? " (a symbolic link: embedpipe never writes through links)" : "");
    }
    return EP_OK;
}

/* The prompt (the option's, else the model's default), the row width, and normalised rows: embedpipe's
 * output is always L2-normalised, so a model without a Normalize module gets what
 * encode(normalize_embeddings=True) gives (docs/output-format.md). Set on the model before the backend
 * is created from it. @return EP_OK, or EP_ERR_USAGE / EP_ERR_MODEL naming the setting. */
static ep_status setup_head(ep_pipeline *p, ep_error *err) {
    const ep_run_options *o = p->opt;
    ep_status st = ep_prompts_load(o->model_dir, &p->prompts, err);
    if (st == EP_OK)
        st = ep_prompt_choose(p->prompts, o->prompt_name, o->prompt_text, &p->prompt, &p->prompt_name, err);
    if (st != EP_OK) return st;
    p->prompt_len = strlen(p->prompt);
    if (p->prompt_len >= sizeof ((ep_manifest *)0)->prompt)
        return ep_error_set(err, EP_ERR_USAGE, "the prompt is %zu bytes; embedpipe records at most %zu",
                            p->prompt_len, sizeof ((ep_manifest *)0)->prompt - 1);
    ep_model_run run = {.dim = o->dim ? o->dim : p->model->run.dim, .normalize = true};
    if (p->model->config.exclude_prompt && p->prompt_len) {
        run.prompt_tokens = ep_prompt_tokens(p->tok, p->prompt, p->max_len);
        if (run.prompt_tokens < 0) return ep_error_set(err, EP_ERR_NOMEM, "out of memory");
    }
    return ep_model_set_run(p->model, &run, err);
}

static ep_status setup(ep_pipeline *p, ep_run_summary *sum, ep_error *err) {
    const ep_run_options *o = p->opt;
    // What travels with the rows is checked before anything is loaded: a typo is a usage error at once.
    ep_status st = ep_keep_check(o->keep, err);
    if (st == EP_OK) st = ep_clean_parse(o->clean, &p->clean, err);
    if (st == EP_OK && o->keep && strlen(o->keep) >= sizeof ((ep_manifest_run *)0)->keep)
        st = ep_error_set(err, EP_ERR_USAGE, "%s: the list is longer than %zu bytes",
                          ep_setting_name(EP_SETTING_KEEP), sizeof ((ep_manifest_run *)0)->keep - 1);
    if (st != EP_OK) return st;
    st = ep_model_load(o->model_dir, &p->model, err);
    if (st != EP_OK) return st;
    const ep_model_config *c = &p->model->config;
    p->max_len = c->max_seq_length;
    if (o->max_seq_length > 0) {
        if (o->max_seq_length < 2 || o->max_seq_length > ep_model_max_tokens(c))
            return ep_error_set(err, EP_ERR_USAGE, "%s %d: must be between 2 and %d for this model",
                                ep_setting_name(EP_SETTING_MAX_SEQ_LENGTH), o->max_seq_length, ep_model_max_tokens(c));
        p->max_len = o->max_seq_length;
    }
    if (o->part_count > 1 && (o->part_index < 0 || o->part_index >= o->part_count))
        return ep_error_set(err, EP_ERR_USAGE, "%s %d/%d: the part must be between 0 and %d",
                            ep_setting_name(EP_SETTING_PART), o->part_index, o->part_count, o->part_count - 1);
    p->rows_per_shard = o->rows_per_shard ? o->rows_per_shard : EP_DEFAULT_SHARD_ROWS;

    st = ep_model_tokenizer_create(o->model_dir, c, &p->tok, err);
    if (st == EP_OK) st = setup_head(p, err);
    if (st != EP_OK) return st;
    if (p->max_len < ep_tokenizer_n_special(p->tok)) // the template's specials must fit (2 for BERT)
        return ep_error_set(err, EP_ERR_USAGE, "%s %d: the model's tokenizer adds %d special tokens to every text",
                            ep_setting_name(EP_SETTING_MAX_SEQ_LENGTH), p->max_len, ep_tokenizer_n_special(p->tok));

    st = stat_inputs(p, err);
    if (st != EP_OK) return st;
    if (!o->discard) {
        // One writer per folder, from before anything in it is read or removed until the run ends.
        st = ep_make_dirs(o->out_dir, err);
        if (st == EP_OK) st = ep_folder_lock_create(o->out_dir, &p->lock, err);
        if (st == EP_OK) st = ep_resume_prepare(p, err);
        if (st != EP_OK || p->already_complete) return st;
        st = open_errors(p, err);
        if (st != EP_OK) return st;
    }
    if (o->reuse_dir) {
        ep_manifest *want = calloc(1, sizeof *want); /* large (the prompt): not on the stack */
        if (!want) return ep_error_set(err, EP_ERR_NOMEM, "out of memory");
        ep_pipeline_model_fields(p, want);
        st = ep_reuse_open(o->reuse_dir, want, &p->reuse, err);
        free(want);
        if (st != EP_OK) return st;
    }
    // The backend last: a GPU is held only once everything else is known to be fine.
    if (o->backend) {
        if (o->backend->dim != ep_model_output_dim(p->model))
            return ep_error_set(err, EP_ERR_USAGE, "the given backend makes rows of %d values, the model %d",
                                o->backend->dim, ep_model_output_dim(p->model));
        p->backend = o->backend;
    } else {
        ep_backend_options bo = {.device = o->device, .threads = o->threads, .batch_tokens = o->batch_tokens,
                                 .precision = o->precision};
        st = ep_backend_create(p->model, &bo, &p->backend, err);
        if (st != EP_OK) return st;
        if (p->backend->warning[0]) ep_pipeline_say(p, EP_EVENT_DEVICE_FALLBACK, "%s", p->backend->warning);
    }
    // A resumed run computes in the precision the folder's vectors were computed in: vectors of two
    // precisions differ slightly, and auto resolves the same way on the same machine, so a plain resume
    // there works; on another machine the message says which --precision to give.
    const char *had = p->checkpoint ? p->checkpoint->precision : "";
    if (had[0] && p->backend->precision[0] && strcmp(had, p->backend->precision) != 0)
        return ep_error_set(err, EP_ERR_MISMATCH,
                            "%s holds vectors computed in precision %s, but this run computes in %s (%s): pass "
                            "%s %s to continue it, or %s to replace it",
                            o->out_dir, had, p->backend->precision, p->backend->description,
                            ep_setting_name(EP_SETTING_PRECISION), had, ep_setting_name(EP_SETTING_OVERWRITE));
    snprintf(sum->backend, sizeof sum->backend, "%s", p->backend->description);
    p->batch_tokens = o->batch_tokens         ? o->batch_tokens
                      : p->backend->batch_tokens ? p->backend->batch_tokens
                                                 : EP_CPU_BATCH_TOKENS;
    ep_pipeline_say(p, EP_EVENT_NOTICE, "%s (dim %d, max %d tokens%s%s%s) on %s", c->name,
                    ep_model_output_dim(p->model), p->max_len, p->prompt[0] ? ", prompt \"" : "", p->prompt,
                    p->prompt[0] ? "\"" : "", p->backend->description);
    if (p->batch_tokens < (size_t)p->max_len) p->batch_tokens = (size_t)p->max_len; /* a longest text fits alone */
    return EP_OK;
}

/* A run that read no good record produced nothing anyone can use: an unattended job must not
 * report success for it. The rejections are in errors.ndjson; the first is quoted.
 * @return EP_OK when at least one record was good (of any part), else EP_ERR_FORMAT. */
static ep_status check_embedded(const ep_pipeline *p, uint64_t records, uint64_t rejected, ep_error *err) {
    if (records > rejected) return EP_OK;
    const ep_run_options *o = p->opt;
    const char *input = o->n_inputs ? o->inputs[0] : "";
    const char *more = o->n_inputs > 1 ? " and the other inputs" : "";
    if (records == 0)
        return ep_error_set(err, EP_ERR_FORMAT, "nothing to embed: %s%s hold%s no records", input, more,
                            o->n_inputs > 1 ? "" : "s");
    char where[4400] = "";
    if (!o->discard) snprintf(where, sizeof where, "; %s/errors.ndjson gives the reason for each", o->out_dir);
    return ep_error_set(err, EP_ERR_FORMAT,
                        "nothing was embedded: %s %llu record%s of %s%s %s rejected (check %s, %s "
                        "and %s)%s%s%s",
                        records == 1 ? "the" : "all", (unsigned long long)records, records == 1 ? "" : "s", input,
                        more, records == 1 ? "was" : "were", ep_setting_name(EP_SETTING_FORMAT),
                        ep_setting_name(EP_SETTING_TEXT_PATH),
                        ep_setting_name(EP_SETTING_ID_PATH), where, p->first_rejection[0] ? "; the first: " : "",
                        p->first_rejection);
}

static void teardown(ep_pipeline *p) {
    for (size_t i = 0; i < p->n_accounts; i++) free(p->accounts[i]);
    free(p->accounts);
    if (p->backend != p->opt->backend) ep_backend_free(p->backend);
    ep_reuse_free(p->reuse);
    ep_tokenizer_free(p->tok);
    ep_prompts_free(p->prompts);
    ep_model_free(p->model);
    ep_manifest_free(p->checkpoint);
    if (p->errors) fclose(p->errors);
    ep_folder_lock_free(p->lock); /* last: the folder is left as this run leaves it */
    free(p->formats);
    free(p->input_sizes);
    for (size_t i = 0; p->input_stamps && i < p->opt->n_inputs; i++) free(p->input_stamps[i].abs_path);
    free(p->input_stamps);
    free(p->input_mtimes);
    free(p->damage);
    ep_queue_destroy(&p->to_tokenize);
    ep_queue_destroy(&p->to_compute);
    ep_queue_destroy(&p->to_write);
    ep_row_ahead_destroy(&p->rows_ahead);
    pthread_mutex_destroy(&p->error_mu);
    pthread_mutex_destroy(&p->times_mu);
    pthread_mutex_destroy(&p->event_mu);
}

/* Runs the stage threads (threads tokenizers) until every one has ended. */
static void run_stages(ep_pipeline *p, int threads) {
    pthread_t reader, computer, writer, tokenizers[EP_MAX_TOKENIZER_THREADS];
    int n_tok = 0;
    bool r_ok = pthread_create(&reader, NULL, ep_stage_read, p) == 0;
    for (int i = 0; i < threads; i++)
        if (pthread_create(&tokenizers[n_tok], NULL, ep_stage_tokenize, p) == 0) n_tok++;
    bool c_ok = pthread_create(&computer, NULL, ep_stage_compute, p) == 0;
    bool w_ok = pthread_create(&writer, NULL, ep_stage_write, p) == 0;
    if (!r_ok || !c_ok || !w_ok || n_tok == 0) {
        ep_error e;
        ep_error_set(&e, EP_ERR_NOMEM, "cannot start the pipeline's threads");
        ep_pipeline_fail(p, &e);
    }
    if (r_ok) pthread_join(reader, NULL);
    for (int i = 0; i < n_tok; i++) pthread_join(tokenizers[i], NULL);
    ep_queue_close(&p->to_compute); /* every tokenizer is done */
    if (c_ok) pthread_join(computer, NULL);
    if (w_ok) pthread_join(writer, NULL);

}

/* The counts of this invocation and of the runs it resumed. */
static void fill_summary(const ep_pipeline *p, ep_run_summary *sum) {
    const ep_run_options *o = p->opt;
    const ep_manifest *cp = p->checkpoint;
    sum->records_read = p->start_seq + p->records_read;
    sum->records_embedded = (cp ? cp->records_embedded : 0) + p->rows_done;
    sum->records_rejected = (cp ? cp->records_rejected : 0) + p->rejected;
    sum->records_truncated = p->truncated;
    sum->blank_lines = p->blank_lines;
    sum->retweets_skipped = p->retweets_skipped;
    sum->damaged_inputs = 0;
    for (size_t i = 0; i < o->n_inputs; i++) sum->damaged_inputs += p->damage[i].present;
    sum->tokens = p->tokens;
    sum->texts_tokenized = p->texts_tokenized;
    sum->shards = (cp ? cp->n_shards : 0) + p->shards_written;
    if (p->reuse) {
        uint64_t counts[4];
        ep_reuse_counts(p->reuse, counts);
        sum->reused = counts[0];
        sum->added = counts[1];
        sum->changed = counts[2];
        sum->gone = counts[3];
    }
    sum->read_s = p->times.read;
    sum->tokenize_s = p->times.tokenize;
    sum->batch_s = p->times.batch;
    sum->compute_s = p->times.compute;
    sum->write_s = p->times.write;
    sum->read_cpu_s = p->times.read_cpu;
    sum->tokenize_cpu_s = p->times.tokenize_cpu;
    sum->compute_cpu_s = p->times.compute_cpu;
    sum->write_cpu_s = p->times.write_cpu;
}

ep_status ep_run(const ep_run_options *o, ep_run_summary *sum, ep_error *err) {
    ep_run_summary local;
    if (!sum) sum = &local;
    memset(sum, 0, sizeof *sum);
    if (!o || ((!o->out_dir || !*o->out_dir) && !o->discard))
        return ep_error_set(err, EP_ERR_USAGE, "no output folder given (%s DIR)",
                            ep_setting_name(EP_SETTING_OUT_DIR));
    if (o->n_inputs == 0) return ep_error_set(err, EP_ERR_USAGE, "no input file given");
    const double start = ep_now();

    ep_pipeline *p = calloc(1, sizeof *p);
    if (!p) return ep_error_set(err, EP_ERR_NOMEM, "out of memory");
    p->opt = o;
    pthread_mutex_init(&p->error_mu, NULL);
    pthread_mutex_init(&p->times_mu, NULL);
    pthread_mutex_init(&p->event_mu, NULL);
    int threads = o->threads > 0 ? o->threads : ep_default_threads();
    if (threads < 1) threads = 1;
    if (threads > EP_MAX_TOKENIZER_THREADS) threads = EP_MAX_TOKENIZER_THREADS;
    ep_status st = EP_OK;
    // The workers may run a whole shard ahead of compute, so that while compute embeds one group the
    // next one is being parsed and tokenised: at a shard boundary the backend does not wait for the
    // host. The writer holds up to three groups, so a slow fsync or zstd does not stall compute either.
    const uint64_t shard_rows = o->rows_per_shard ? o->rows_per_shard : EP_DEFAULT_SHARD_ROWS;
    const size_t ahead = (size_t)(shard_rows / EP_CHUNK_RECORDS < 1024 ? shard_rows / EP_CHUNK_RECORDS : 1024);
    if (ep_queue_init(&p->to_tokenize, 2 * (size_t)threads + 2) ||
        ep_queue_init(&p->to_compute, 2 * (size_t)threads + 2 + ahead) || ep_queue_init(&p->to_write, 3) ||
        ep_row_ahead_init(&p->rows_ahead))
        st = ep_error_set(err, EP_ERR_NOMEM, "out of memory");
    if (st == EP_OK) st = setup(p, sum, err);
    if (st == EP_OK && p->already_complete && p->checkpoint)
        st = check_embedded(p, p->checkpoint->records_read, p->checkpoint->records_rejected, err);
    for (size_t i = 0; p->damage && i < o->n_inputs; i++) sum->damaged_inputs += p->damage[i].present;
    if (st != EP_OK || p->already_complete) {
        sum->already_complete = p->already_complete && st == EP_OK;
        sum->seconds = ep_now() - start;
        teardown(p);
        free(p);
        return st;
    }
    sum->resumed_from = p->start_seq;
    // Another part's rows, and those an interrupted run already wrote, need no tokens: the workers then
    // count rows among themselves to know which are this run's (row_ahead.h). A whole job needs no count.
    p->rows_ahead_on = o->part_count > 1 || p->start_row > 0;
    if (p->start_seq)
        ep_pipeline_say(p, EP_EVENT_NOTICE, "resuming %s after %llu records (%zu shards already written)",
                        o->out_dir, (unsigned long long)p->start_seq,
                        p->checkpoint ? p->checkpoint->n_shards : (size_t)0);

    ticker t = {.p = p, .start = ep_now()};
    pthread_mutex_init(&t.mu, NULL);
    pthread_cond_init(&t.cv, NULL);
    bool ticking = o->on_event && pthread_create(&t.thread, NULL, ticker_main, &t) == 0;

    run_stages(p, threads);

    if (ticking) {
        pthread_mutex_lock(&t.mu);
        t.stop = true;
        pthread_cond_signal(&t.cv);
        pthread_mutex_unlock(&t.mu);
        pthread_join(t.thread, NULL);
        if (!p->failed) report_progress(&t, true);
    }
    pthread_cond_destroy(&t.cv);
    pthread_mutex_destroy(&t.mu);

    if (p->failed) {
        st = p->error.code;
        if (err) *err = p->error;
    } else if (!p->completed) {
        // Only a stop request ends a run early without an error. A signal that came after the writer
        // wrote the last group changes nothing: the run is complete and says so.
        sum->interrupted = true;
        st = ep_error_set(err, EP_ERR_INTERRUPTED,
                          "stopped on request after %llu records%s; run the same command again to resume",
                          (unsigned long long)(uint64_t)p->records_read + p->start_seq,
                          p->abandon ? " (SIGTERM: the shard in progress was dropped)" : "");
    }
    const ep_manifest *cp = p->checkpoint;
    if (st == EP_OK)
        st = check_embedded(p, p->start_seq + p->records_read, (cp ? cp->records_rejected : 0) + p->rejected, err);
    fill_summary(p, sum);
    sum->seconds = ep_now() - start;
    teardown(p);
    free(p);
    return st;
}
