/*
 * pipeline.c - one embedding run, stage by stage:
 *   reader (io/) -> tokenizer -> batcher -> backend -> shard writer (io/)
 * Rows keep input order: batches are cut in input order and written in the
 * order they were submitted. Bad records are logged to errors.ndjson and the
 * run goes on.
 */
#include "pipeline.h"

#include "backend.h"
#include "batcher.h"
#include "manifest.h"
#include "model.h"
#include "shard.h"
#include "tokenizer.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#define EP_DEFAULT_SHARD_ROWS 32768
#define EP_CPU_BATCH_TOKENS 4096
#define EP_MAX_SEQS_PER_BATCH 1024

ep_run_options ep_run_options_default(void) {
    ep_run_options o;
    memset(&o, 0, sizeof o);
    o.format = EP_FORMAT_AUTO;
    o.device = "auto";
    return o;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

// ----------------------------------------------------------------------------
// The output folder

static ep_status make_dirs(const char *path, ep_error *err) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return ep_error_set(err, EP_ERR_USAGE, "output folder path is too long: %s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return ep_error_set(err, EP_ERR_IO, "cannot create folder %s: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        return ep_error_set(err, EP_ERR_IO, "cannot create output folder %s: %s", buf, strerror(errno));
    struct stat st;
    if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
        return ep_error_set(err, EP_ERR_IO, "output path %s exists and is not a folder", buf);
    return EP_OK;
}

static bool is_run_file(const char *name) {
    size_t n = strlen(name);
    if (strcmp(name, "manifest.json") == 0 || strcmp(name, "errors.ndjson") == 0) return true;
    if (strncmp(name, "shard-", 6) == 0 || strncmp(name, ".shard-", 7) == 0) return true;
    return n > 4 && strcmp(name + n - 4, ".tmp") == 0 && name[0] == '.';
}

/* Refuses to mix runs: a folder with a previous run's files needs --overwrite,
 * which removes exactly those files and nothing else. */
static ep_status prepare_output(const char *dir, bool overwrite, ep_error *err) {
    ep_status st = make_dirs(dir, err);
    if (st != EP_OK) return st;
    DIR *d = opendir(dir);
    if (!d) return ep_error_set(err, EP_ERR_IO, "cannot list output folder %s: %s", dir, strerror(errno));
    struct dirent *e;
    bool found = false;
    while ((e = readdir(d)) != NULL) {
        if (!is_run_file(e->d_name)) continue;
        if (!overwrite) {
            found = true;
            break;
        }
        char path[4352];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (unlink(path) != 0) {
            closedir(d);
            return ep_error_set(err, EP_ERR_IO, "cannot remove %s: %s", path, strerror(errno));
        }
    }
    closedir(d);
    if (found)
        return ep_error_set(err, EP_ERR_USAGE,
                            "output folder %s already holds a run (manifest.json / shard files); "
                            "pass --overwrite to replace it, or choose another -o folder",
                            dir);
    return EP_OK;
}

// ----------------------------------------------------------------------------
// errors.ndjson: one JSON object per rejected record

static ep_status log_rejection(FILE *f, const char *errors_path, const char *file, const ep_record *rec,
                               ep_error *err) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return ep_error_set(err, EP_ERR_NOMEM, "out of memory");
    cJSON_AddStringToObject(o, "file", file);
    cJSON_AddNumberToObject(o, "line", (double)rec->line);
    if (rec->id && *rec->id) cJSON_AddStringToObject(o, "id", rec->id);
    cJSON_AddStringToObject(o, "reason", rec->reason ? rec->reason : "rejected");
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text) return ep_error_set(err, EP_ERR_NOMEM, "out of memory");
    int ok = fputs(text, f) >= 0 && fputc('\n', f) != EOF;
    free(text);
    if (!ok) return ep_error_set(err, EP_ERR_IO, "cannot write %s: %s", errors_path, strerror(errno));
    return EP_OK;
}

// ----------------------------------------------------------------------------
// The run

typedef struct run_state {
    const ep_run_options *opt;
    ep_run_summary *sum;
    ep_model *model;
    ep_tokenizer *tok;
    ep_backend *backend;
    ep_shard_writer *writer;
    ep_batcher *slots[4];  /* one batch per in-flight slot */
    int n_slots;
    int queue[4];          /* submitted slots, oldest first */
    int queued;
    int filling;           /* slot being filled */
    FILE *errors;
    char errors_path[4352];
    double last_progress;
    double start;
    ep_input_format *formats; /* the format each input was read as */
} run_state;

static void progress(run_state *rs, bool final) {
    if (rs->opt->quiet) return;
    double t = now_seconds();
    bool tty = isatty(STDERR_FILENO);
    if (!final && t - rs->last_progress < (tty ? 0.5 : 10.0)) return;
    rs->last_progress = t;
    double el = t - rs->start;
    if (el <= 0) el = 1e-9;
    fprintf(stderr, "%sembedded %llu records, %llu rejected, %.0f records/s, %.0f tokens/s%s", tty ? "\r" : "",
            (unsigned long long)rs->sum->records_embedded, (unsigned long long)rs->sum->records_rejected,
            rs->sum->records_embedded / el, rs->sum->tokens / el, tty && !final ? "   " : "\n");
    fflush(stderr);
}

/* Waits for the oldest submitted batch and hands its rows to the writer. */
static ep_status retire_oldest(run_state *rs, ep_error *err) {
    int slot = rs->queue[0];
    double t0 = now_seconds();
    ep_status st = rs->backend->wait_oldest(rs->backend, err);
    rs->sum->compute_seconds += now_seconds() - t0;
    if (st != EP_OK) return st;
    memmove(rs->queue, rs->queue + 1, sizeof(int) * (size_t)(rs->queued - 1));
    rs->queued--;
    ep_batcher *b = rs->slots[slot];
    st = ep_shard_writer_append(rs->writer, ep_batcher_output(b), ep_batcher_meta(b), (size_t)ep_batcher_count(b),
                                err);
    if (st != EP_OK) return st;
    rs->sum->records_embedded += (uint64_t)ep_batcher_count(b);
    ep_batcher_clear(b);
    progress(rs, false);
    return EP_OK;
}

/* Submits the batch being filled, and picks a free slot to fill next. */
static ep_status dispatch(run_state *rs, ep_error *err) {
    ep_batcher *b = rs->slots[rs->filling];
    if (ep_batcher_count(b) == 0) return EP_OK;
    ep_batch batch = ep_batcher_batch(b);
    double t0 = now_seconds();
    ep_status st = rs->backend->submit(rs->backend, &batch, NULL, ep_batcher_output(b), err);
    rs->sum->compute_seconds += now_seconds() - t0;
    if (st != EP_OK) return st;
    rs->queue[rs->queued++] = rs->filling;
    if (rs->queued == rs->n_slots) {
        st = retire_oldest(rs, err);
        if (st != EP_OK) return st;
    }
    for (int s = 0; s < rs->n_slots; s++) {
        bool busy = false;
        for (int q = 0; q < rs->queued; q++) busy |= rs->queue[q] == s;
        if (!busy) {
            rs->filling = s;
            break;
        }
    }
    return EP_OK;
}

static ep_status embed_file(run_state *rs, uint32_t file_index, int32_t *ids, int max_len, ep_error *err) {
    const ep_run_options *o = rs->opt;
    const char *path = o->inputs[file_index];
    ep_reader_options ro = {.format = o->format,
                            .text_path = o->text_path,
                            .id_path = o->id_path,
                            .max_record_bytes = o->max_record_bytes};
    ep_reader *reader = NULL;
    ep_status st = ep_reader_open(path, &ro, &reader, err);
    if (st != EP_OK) return st;
    rs->formats[file_index] = ep_reader_format(reader);
    for (;;) {
        ep_record rec;
        ep_read_kind kind;
        st = ep_reader_next(reader, &rec, &kind, err);
        if (st != EP_OK || kind == EP_READ_END) break;
        rs->sum->records_read++;
        if (kind == EP_READ_REJECTED) {
            rs->sum->records_rejected++;
            st = log_rejection(rs->errors, rs->errors_path, path, &rec, err);
            if (st != EP_OK) break;
            continue;
        }
        bool truncated = false;
        int n = ep_tokenizer_encode(rs->tok, rec.text, rec.text_len, ids, max_len, &truncated);
        ep_row_meta meta = {.id = rec.id,
                            .file_index = file_index,
                            .line = rec.line,
                            .n_tokens = n,
                            .truncated = truncated,
                            .text_hash = XXH3_64bits(rec.text, rec.text_len)};
        if (!ep_batcher_fits(rs->slots[rs->filling], n)) {
            st = dispatch(rs, err);
            if (st != EP_OK) break;
        }
        st = ep_batcher_add(rs->slots[rs->filling], ids, n, &meta, err);
        if (st != EP_OK) break;
        rs->sum->tokens += (uint64_t)n;
        rs->sum->records_truncated += truncated;
    }
    ep_reader_free(reader);
    return st;
}

static ep_status write_manifest(run_state *rs, bool complete, ep_error *err) {
    const ep_run_options *o = rs->opt;
    const ep_model_config *c = &rs->model->config;
    ep_manifest m;
    memset(&m, 0, sizeof m);
    snprintf(m.tool_version, sizeof m.tool_version, "%s", EP_VERSION_STRING);
    snprintf(m.model_name, sizeof m.model_name, "%s", c->name);
    snprintf(m.model_sha256, sizeof m.model_sha256, "%s", c->weights_sha256);
    m.dim = c->hidden;
    snprintf(m.dtype, sizeof m.dtype, "float16");
    snprintf(m.pooling, sizeof m.pooling, "%s", c->pooling == EP_POOLING_CLS ? "cls" : "mean");
    m.normalized = c->normalize;
    m.max_seq_length = o->max_seq_length > 0 ? o->max_seq_length : c->max_seq_length;
    snprintf(m.text_path, sizeof m.text_path, "%s", o->text_path ? o->text_path : "");
    snprintf(m.id_path, sizeof m.id_path, "%s", o->id_path ? o->id_path : "");
    ep_manifest_input *inputs = calloc(o->n_inputs ? o->n_inputs : 1, sizeof *inputs);
    ep_shard_info *shards = calloc(ep_shard_writer_count(rs->writer) + 1, sizeof *shards);
    if (!inputs || !shards) {
        free(inputs);
        free(shards);
        return ep_error_set(err, EP_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < o->n_inputs; i++) {
        inputs[i].path = (char *)o->inputs[i];
        snprintf(inputs[i].format, sizeof inputs[i].format, "%s", ep_input_format_name(rs->formats[i]));
    }
    for (size_t i = 0; i < ep_shard_writer_count(rs->writer); i++) shards[i] = *ep_shard_writer_info(rs->writer, i);
    m.inputs = inputs;
    m.n_inputs = o->n_inputs;
    m.shards = shards;
    m.n_shards = ep_shard_writer_count(rs->writer);
    m.records_read = rs->sum->records_read;
    m.records_embedded = rs->sum->records_embedded;
    m.records_rejected = rs->sum->records_rejected;
    m.complete = complete;
    ep_status st = ep_manifest_write(o->out_dir, &m, err);
    free(inputs);
    free(shards);
    return st;
}

static void close_run(run_state *rs) {
    for (int s = 0; s < rs->n_slots; s++) ep_batcher_free(rs->slots[s]);
    ep_shard_writer_free(rs->writer);
    ep_backend_free(rs->backend);
    ep_tokenizer_free(rs->tok);
    ep_model_free(rs->model);
    if (rs->errors) fclose(rs->errors);
    free(rs->formats);
}

ep_status ep_run(const ep_run_options *o, ep_run_summary *summary, ep_error *err) {
    ep_run_summary local;
    if (!summary) summary = &local;
    memset(summary, 0, sizeof *summary);
    if (!o || !o->out_dir || !*o->out_dir) return ep_error_set(err, EP_ERR_USAGE, "no output folder given (-o DIR)");
    if (o->n_inputs == 0) return ep_error_set(err, EP_ERR_USAGE, "no input file given");

    run_state rs;
    memset(&rs, 0, sizeof rs);
    rs.opt = o;
    rs.sum = summary;
    rs.start = now_seconds();

    ep_status st = ep_model_load(o->model_dir, &rs.model, err);
    if (st != EP_OK) goto done;
    const ep_model_config *c = &rs.model->config;
    int max_len = c->max_seq_length;
    if (o->max_seq_length > 0) {
        if (o->max_seq_length < 2 || o->max_seq_length > c->max_position) {
            st = ep_error_set(err, EP_ERR_USAGE, "--max-seq-length %d: must be between 2 and %d for this model",
                              o->max_seq_length, c->max_position);
            goto done;
        }
        max_len = o->max_seq_length;
    }

    char vocab[4352];
    snprintf(vocab, sizeof vocab, "%s/vocab.txt", o->model_dir);
    ep_tokenizer_options to = ep_tokenizer_default_options();
    to.lowercase = c->do_lower_case;
    st = ep_tokenizer_create(vocab, &to, &rs.tok, err);
    if (st != EP_OK) goto done;

    st = ep_backend_create(rs.model, o->device, o->threads, o->batch_tokens, &rs.backend, err);
    if (st != EP_OK) goto done;
    snprintf(summary->backend, sizeof summary->backend, "%s", rs.backend->description);
    if (!o->quiet) fprintf(stderr, "embedpipe: model %s (dim %d), backend %s\n", c->name, c->hidden,
                           rs.backend->description);

    st = prepare_output(o->out_dir, o->overwrite, err);
    if (st != EP_OK) goto done;
    snprintf(rs.errors_path, sizeof rs.errors_path, "%s/errors.ndjson", o->out_dir);
    rs.errors = fopen(rs.errors_path, "w");
    if (!rs.errors) {
        st = ep_error_set(err, EP_ERR_IO, "cannot create %s: %s", rs.errors_path, strerror(errno));
        goto done;
    }
    ep_shard_writer_options wo = {.dir = o->out_dir,
                                  .dim = c->hidden,
                                  .rows_per_shard = o->rows_per_shard ? o->rows_per_shard : EP_DEFAULT_SHARD_ROWS,
                                  .zstd_level = o->zstd_level};
    st = ep_shard_writer_open(&wo, &rs.writer, err);
    if (st != EP_OK) goto done;

    size_t budget = o->batch_tokens ? o->batch_tokens : EP_CPU_BATCH_TOKENS;
    if (budget < (size_t)max_len) budget = (size_t)max_len; /* the longest text must fit alone */
    rs.n_slots = rs.backend->max_in_flight < 1 ? 1 : rs.backend->max_in_flight > 4 ? 4 : rs.backend->max_in_flight;
    for (int s = 0; s < rs.n_slots; s++) {
        st = ep_batcher_create(budget, EP_MAX_SEQS_PER_BATCH, c->hidden, &rs.slots[s], err);
        if (st != EP_OK) goto done;
    }

    int32_t *ids = malloc(sizeof(int32_t) * (size_t)max_len);
    rs.formats = calloc(o->n_inputs, sizeof *rs.formats);
    if (!ids || !rs.formats) {
        free(ids);
        st = ep_error_set(err, EP_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < o->n_inputs && st == EP_OK; i++) st = embed_file(&rs, (uint32_t)i, ids, max_len, err);
    free(ids);
    if (st == EP_OK) st = dispatch(&rs, err);
    while (st == EP_OK && rs.queued > 0) st = retire_oldest(&rs, err);
    if (st == EP_OK) st = ep_shard_writer_flush(rs.writer, err);
    if (st == EP_OK && fflush(rs.errors) != 0)
        st = ep_error_set(err, EP_ERR_IO, "cannot write %s: %s", rs.errors_path, strerror(errno));
    if (st == EP_OK) st = write_manifest(&rs, true, err);
    summary->shards = rs.writer ? ep_shard_writer_count(rs.writer) : 0;

done:
    summary->seconds = now_seconds() - rs.start;
    if (st == EP_OK) progress(&rs, true);
    close_run(&rs);
    return st;
}
