/* cli.h - the embedpipe command line: one file per command, shared helpers here. */
#ifndef EP_CLI_H
#define EP_CLI_H

#include "embedpipe.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Exit codes (documented in `embedpipe --help` and docs/cli.md). */
#define EP_EXIT_OK 0          /* done; rejected records, if any, are in errors.ndjson */
#define EP_EXIT_FAILURE 1     /* the run failed: model, device, input or output error */
#define EP_EXIT_USAGE 2       /* bad command line */
#define EP_EXIT_MISMATCH 3    /* verify found a problem / output disagrees with this run */
#define EP_EXIT_PARTIAL 4     /* the run finished, but some input was damaged (a truncated .zst/.gz, an array
                                 cut off): every good record was embedded, the damage is in errors.ndjson */
#define EP_EXIT_BUSY 5        /* another embedpipe process holds the output folder's lock */
#define EP_EXIT_INTERRUPTED 130

int ep_cli_embed(int argc, char **argv);
int ep_cli_tokenize(int argc, char **argv);
int ep_cli_inspect(int argc, char **argv);
int ep_cli_verify(int argc, char **argv);
int ep_cli_search(int argc, char **argv);
int ep_cli_merge(int argc, char **argv);  /* cli_merge.c */
int ep_cli_export(int argc, char **argv); /* cli_export.c */
int ep_cli_bench(int argc, char **argv);  /* cli_bench.c */
int ep_cli_info(int argc, char **argv);   /* cli_info.c */
int ep_cli_similar(int argc, char **argv);    /* cli_similar.c */
int ep_cli_related(int argc, char **argv);    /* cli_related.c */
int ep_cli_duplicates(int argc, char **argv); /* cli_duplicates.c */
int ep_cli_cluster(int argc, char **argv);    /* cli_cluster.c */
int ep_cli_map(int argc, char **argv);        /* cli_map.c */

/* How `search` and `similar` embed a query text. */
typedef struct ep_cli_query {
    const char *model_dir;   /* the model that wrote the folder */
    const char *device;
    const char *prompt_name; /* --prompt, or NULL */
    const char *prompt_text; /* --prompt-text, or NULL */
} ep_cli_query;

/* Embeds query as the run in dir embedded its texts (its model, checked by SHA-256, its max_seq_length,
 * width and normalisation), with the query prompt (cli_query.c says which).
 * @return EP_EXIT_OK with *vec (malloc'd, *dim floats), or the exit code of the error it reported. */
int ep_cli_embed_query(const char *dir, const char *query, const ep_cli_query *q, float **vec, int *dim);

struct ep_folder_lock;
struct ep_manifest;
/* For the commands that write derived files into DIR (related, cluster): takes DIR's writers'
 * lock and reads its manifest (a note when the run is unfinished).
 * @return EP_EXIT_OK with *lock and *m set, or the exit code of the error it reported. */
int ep_cli_open_for_derived(const char *dir, struct ep_folder_lock **lock, struct ep_manifest **m);

/* The model folder to use when --model is not given: $EMBEDPIPE_MODEL as it is,
 * else the first folder holding a config.json of ./models/all-MiniLM-L6-v2,
 * ${XDG_DATA_HOME:-~/.local/share}/embedpipe/models/all-MiniLM-L6-v2 (where
 * scripts/fetch-model.sh --user puts it), EXE_DIR/../share/embedpipe/models/...
 * (an installed binary), EXE_DIR/../models/... and EXE_DIR/../../models/... (a
 * build tree inside the checkout).
 * @return a path (static storage or the environment's), or NULL after printing
 *         every place tried and how to get the model. */
const char *ep_cli_default_model(void);

/* Parses a non-negative integer option value. @return 0 on success, -1 after printing an error. */
int ep_cli_parse_size(const char *option, const char *value, size_t *out);

/* Parses --part: "I/N", "N" (the index from Slurm or a Kubernetes Indexed Job), or "auto" (both from Slurm).
 * @return 0 with *index and *count set, or -1 after printing why the value is bad. */
int ep_cli_parse_part(const char *value, int *index, int *count);

/* Parses a non-negative integer option value that must lie in [lo, hi].
 * @return 0 on success, -1 after printing "OPTION must be between LO and HI" (or the parse error). */
int ep_cli_parse_range(const char *option, const char *value, size_t lo, size_t hi, size_t *out);

/* The one FOLDER argument left after getopt_long (argv[optind]).
 * @return the folder, or NULL after printing usage to stderr when there is not exactly one. */
const char *ep_cli_one_folder(int argc, char **argv, void (*usage)(FILE *));

struct ep_search_hit;
/* Prints one result line of search and similar: "RANK. SCORE  row N  id ID" and, when known, the
 * text on the next line cut at 160 characters; no final newline, so a caller may add more lines. */
void ep_cli_print_hit(int rank, const struct ep_search_hit *hit, const char *id, const char *text);

/* Expands the INPUT arguments: a folder stands for its regular files matching glob, sorted by
 * name so that the order (and so the rows) is stable; other arguments are kept as they are.
 * @return 0 and a malloc'd list (free with ep_cli_free_inputs), or -1 after printing why. */
int ep_cli_expand_inputs(char **args, int n, const char *glob, char ***out, size_t *n_out);
void ep_cli_free_inputs(char **inputs, size_t n);

/* Long-option values shared by the commands that run the pipeline (embed, bench);
 * a command's own options start at EP_OPT_LOCAL. */
enum {
    EP_OPT_TEXT = 256, EP_OPT_ID, EP_OPT_BATCH, EP_OPT_MAXSEQ, EP_OPT_SHARD, EP_OPT_PRECISION,
    EP_OPT_LOCAL = 300
};

/* The getopt_long entries of those shared options (model, device, threads, format, text, id,
 * batch-tokens, max-seq-length, shard-rows, precision), to copy into a command's table. */
#define EP_CLI_RUN_OPTIONS                                                                            \
    {"model", required_argument, 0, 'm'}, {"device", required_argument, 0, 'd'},                     \
        {"threads", required_argument, 0, 't'}, {"format", required_argument, 0, 'f'},               \
        {"text", required_argument, 0, EP_OPT_TEXT}, {"id", required_argument, 0, EP_OPT_ID},         \
        {"batch-tokens", required_argument, 0, EP_OPT_BATCH},                                       \
        {"max-seq-length", required_argument, 0, EP_OPT_MAXSEQ},                                    \
        {"shard-rows", required_argument, 0, EP_OPT_SHARD}, {"precision", required_argument, 0, EP_OPT_PRECISION}

/* --threads is clamped to this many per online CPU (with a note on stderr). */
#define EP_CLI_THREADS_PER_CPU 4

struct ep_run_options;
/* Applies one of the shared options (c as getopt_long returned it) to o.
 * @return 1 when c was one of them, 0 when it is not, -1 after printing why the value is bad. */
int ep_cli_run_option(int c, const char *value, struct ep_run_options *o);

/* How a run's progress is shown on stderr (--progress, --quiet). */
typedef enum ep_progress_mode {
    EP_PROGRESS_AUTO = 0,   /* redrawn in place on a terminal, a plain line every 10 s otherwise */
    EP_PROGRESS_PLAIN,      /* a plain line every 10 s */
    EP_PROGRESS_JSON,       /* one JSON object per line every 10 s (and at the end), for job logs */
    EP_PROGRESS_NONE
} ep_progress_mode;

typedef struct ep_cli_progress {
    ep_progress_mode mode;
    bool quiet;             /* no progress, notices or reader warnings (a device fallback is still said) */
    bool tty;               /* set by ep_cli_progress_attach: stderr is a terminal, redrawn in place */
} ep_cli_progress;

/* Makes the run o report its events to stderr as pr asks (cli_progress.c); pr must outlive the run. */
void ep_cli_progress_attach(ep_cli_progress *pr, struct ep_run_options *o);

/* Prints "embedpipe: <status name>: <message>" and returns the exit code for st. */
int ep_cli_report(const ep_error *err);

#endif /* EP_CLI_H */
