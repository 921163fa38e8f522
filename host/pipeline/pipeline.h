/*
 * pipeline.h - one embedding run: inputs -> reader -> tokenizer workers ->
 * batcher -> backend -> shard writer, into one output folder with a manifest.
 * The run streams in bounded memory, survives being killed (re-running the
 * same command resumes after the last complete shard), can reuse the vectors
 * of a previous output, and can embed one deterministic part of the input.
 */
#ifndef EP_PIPELINE_H
#define EP_PIPELINE_H

#include "embedpipe.h"
#include "reader.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a run tells its caller while it runs (ep_run_options.on_event). The library never prints:
 * the caller decides what reaches the user, and how (the CLI: host/cli/cli_progress.c). */
typedef enum ep_run_event_kind {
    EP_EVENT_PROGRESS = 0,  /* the counts so far; every progress_interval_s, and once at the end (done) */
    EP_EVENT_NOTICE,        /* a line worth telling (model and backend, resuming, going back to a checkpoint) */
    EP_EVENT_WARNING,       /* something the user may want to fix (an input read with a caveat) */
    EP_EVENT_DEVICE_FALLBACK, /* device "auto" runs on the CPU although a CUDA driver is there: a setup to fix */
    EP_EVENT_STOPPING       /* a stop request was seen: the run ends early (abandon: the shard in progress is dropped) */
} ep_run_event_kind;

typedef struct ep_run_event {
    ep_run_event_kind kind;
    const char *message;    /* NOTICE, WARNING, DEVICE_FALLBACK: one line, no prefix, no newline */
    /* PROGRESS: counts of this invocation */
    double elapsed_s;
    uint64_t records, rows, rejected, tokens;
    double fraction;        /* share of the input done, or < 0 when unknown (standard input) */
    double eta_s;           /* seconds left, or < 0 when unknown (and when done) */
    bool done;              /* the last progress event of the run */
    /* STOPPING */
    bool abandon;           /* SIGTERM: the shard in progress is dropped and computed again on resume */
} ep_run_event;

/* Called from the thread that calls ep_run and from the pipeline's own threads, never two at once. */
typedef void (*ep_run_event_fn)(const ep_run_event *event, void *user);

typedef struct ep_run_options {
    const char *const *inputs;  /* input paths ("-" = stdin) */
    size_t n_inputs;
    ep_input_format format;     /* EP_FORMAT_AUTO to detect per file */
    const char *text_path;      /* NULL = the format's defaults */
    const char *id_path;        /* NULL = the format's defaults */
    size_t max_record_bytes;    /* 0 = the reader's default (1 MiB) */
    bool skip_blank;            /* drop blank lines of plain-text inputs (default: embed them as the empty text) */
    bool no_text;               /* do not store each row's text in the ids files (default: stored as embedded) */
    const char *keep;           /* --keep: fields stored with each row (dotted paths and/or "default"); NULL = none */
    const char *clean;          /* --clean: text preparation steps (html,links,mentions,retweets or all); NULL = none */
    const char *model_dir;      /* sentence-transformers folder */
    const char *device;         /* "auto", "cpu", "cuda", "cuda:N" */
    const char *precision;      /* NULL or "auto", or a mode (see --precision); the manifest records the one used */
    int threads;                /* tokenizer and CPU threads; 0 = all cores */
    size_t batch_tokens;        /* token budget of one batch; 0 = the backend's default */
    int max_seq_length;         /* 0 = the model's */
    const char *prompt_name;    /* one of the model's prompts by name, put before every text; NULL = the model's
                                   default_prompt_name, if it has one (as sentence-transformers' encode) */
    const char *prompt_text;    /* a prompt given as text instead ("" = none, not even the default); NULL = none */
    int dim;                    /* keep the first dim values of each row, then normalise (Matryoshka, as
                                   sentence-transformers' truncate_dim); 0 = the model's (its truncate_dim, else
                                   all) */
    const char *out_dir;        /* output folder (created if missing); NULL with discard */
    size_t rows_per_shard;      /* 0 = 32768 */
    int zstd_level;             /* 0 = 1 (the shard writer's default); negative = zstd's fast levels */
    int zstd_workers;           /* zstd's own compression threads; 0 = 2 (any count >= 1 gives the same bytes) */
    bool overwrite;             /* replace a previous run in out_dir instead of resuming it */
    ep_run_event_fn on_event;   /* progress and messages (NULL = none; nothing is ever printed) */
    void *event_user;           /* passed to on_event */
    double progress_interval_s; /* seconds between progress events (0 = 10) */
    int part_index, part_count; /* embed part part_index of part_count (0 and 0 or 1: everything) */
    const char *reuse_dir;      /* previous output whose unchanged rows are copied, or NULL */
    bool discard;               /* compute everything but write nothing (benchmarks) */
    struct ep_backend *backend; /* a backend to use instead of creating one from device/precision; it must
                                   hold the weights of model_dir; the caller keeps it (NULL = create one) */
} ep_run_options;

typedef struct ep_run_summary {
    uint64_t records_read;      /* good + rejected, this invocation and the runs it resumed */
    uint64_t records_embedded;  /* rows written (of this part) */
    uint64_t records_rejected;
    uint64_t records_truncated; /* this invocation */
    uint64_t blank_lines;       /* blank lines of plain-text inputs read by this invocation: embedded as the
                                   empty text, or dropped with skip_blank */
    uint64_t retweets_skipped;  /* records skipped by --clean retweets, read by this invocation */
    size_t damaged_inputs;      /* inputs found damaged (truncated, corrupt): read up to the damage, which is
                                   in errors.ndjson; the run still returns EP_OK */
    uint64_t tokens;            /* tokens fed to the model, this invocation */
    uint64_t texts_tokenized;   /* texts the workers tokenised, this invocation: the rows this run embeds (of its
                                   part, past the resume point); every part still parses every record, which
                                   is how it knows the rows */
    uint64_t reused, added, changed, gone; /* --reuse: rows copied / new ids / changed texts / ids gone */
    uint64_t resumed_from;      /* records already done by an interrupted run (0 = fresh) */
    size_t shards;
    bool already_complete;      /* the folder held this run complete already: nothing was done */
    bool interrupted;           /* stopped by a signal before the end (the folder is resumable) */
    double seconds;             /* wall time of the run, model loading included */
    double read_s, tokenize_s, batch_s, compute_s, write_s; /* busy time per stage (tokenize: summed) */
    double read_cpu_s, tokenize_cpu_s, compute_cpu_s, write_cpu_s; /* CPU time of each stage's threads (tokenize:
                                                  summed; zstd's own workers not included): unlike busy time,
                                                  not inflated when other jobs share the cores */
    char backend[256];          /* the backend's description */
} ep_run_summary;

/* @return options with every field at its default (format auto, device auto...). */
ep_run_options ep_run_options_default(void);

/* Runs the whole job. Rejected records go to out_dir/errors.ndjson and do not
 * make the run fail, unless no record at all was good. Nor does a damaged input (a truncated or corrupt .zst /
 * .gz, an array cut off): every record before the damage is embedded, the
 * damage (file, byte, line, reason) goes to errors.ndjson, the other inputs are
 * read, and summary->damaged_inputs counts it. If out_dir holds an interrupted
 * run of the same job, it is resumed; a complete one is left as it is (unless a
 * damaged input changed since: then the run goes back to the checkpoint before
 * the damage, when the input's bytes before it are unchanged); a different one
 * is refused.
 * @return EP_OK when every input was read to its end (or to its damage) and all rows are written;
 *         EP_ERR_INTERRUPTED after a stop request (the folder is resumable);
 *         EP_ERR_FORMAT when no record was good (all rejected, or none read);
 *         EP_ERR_MODEL when the model produced a NaN or Inf (that shard is not written);
 *         EP_ERR_MISMATCH when out_dir holds a different run;
 *         otherwise the error (model, device, I/O, usage) with err filled. */
ep_status ep_run(const ep_run_options *options, ep_run_summary *summary, ep_error *err);

/* Installs SIGINT / SIGTERM handlers. SIGINT makes a running ep_run finish its
 * current shard, write the manifest and return EP_ERR_INTERRUPTED; SIGTERM makes
 * it drop the shard in progress and return EP_ERR_INTERRUPTED within about a
 * batch (resume computes that shard again). A signal that arrives after the
 * last shard was written changes nothing: the run returns EP_OK. A second signal
 * exits the process at once with status 130 (the folder stays resumable: shards
 * and manifest are only ever replaced atomically). */
void ep_run_install_signal_handlers(void);

/* Asks a running ep_run to stop after its current shard (what the first signal does). */
void ep_run_request_stop(void);

#ifdef __cplusplus
}
#endif

#endif /* EP_PIPELINE_H */
