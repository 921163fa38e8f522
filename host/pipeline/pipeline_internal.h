/*
 * pipeline_internal.h - what the pipeline's stages share. Not installed.
 *
 *   read (1 thread: frames records) -> tokenize (N threads: parse, extract,
 *   tokenise) -> compute (1 thread: reorder, number, shard groups, batches,
 *   backend) -> write (1 thread: errors, shards, manifest)
 *
 * The reader only cuts records out of the inputs (ep_reader_next_frame: a line,
 * an array element); parsing them is most of the host's work, so the workers
 * do it. Whether a record is good, and so its row, is known only after parsing
 * (and an API v2 page line is many records): records are numbered (seq, row)
 * in the compute stage, which takes chunks in read order; --skip-blank, the
 * resume skip, the stop at a shard boundary and --part are decided there too.
 * With --part or a resume, the workers also count rows in read order among
 * themselves (row_ahead.h), so that each tokenises only the rows this run
 * embeds; compute checks that its numbers agree.
 *
 * The unit between read and compute is a chunk of consecutive records; the
 * unit between compute and write is a shard group: the records whose rows
 * make up exactly one shard (rows_per_shard rows; the last may be shorter),
 * plus the rejections read among them. Batches never cross shard groups and
 * are cut deterministically inside one, so a run resumed after its last
 * complete shard computes exactly what an uninterrupted run computes.
 */
#ifndef EP_PIPELINE_INTERNAL_H
#define EP_PIPELINE_INTERNAL_H

#include "device.h"
#include "manifest.h"
#include "model.h"
#include "pipeline.h"
#include "queue.h"
#include "reader.h"
#include "reuse.h"
#include "row_ahead.h"
#include "shard.h"
#include "prompts.h"
#include "tokenizer.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>

#define EP_CHUNK_RECORDS 256
/* A chunk also ends after this many bytes of frames: an API v2 page is one frame of a hundred
 * tweets, and 256 of them in one chunk would leave every worker but one idle. */
#define EP_CHUNK_BYTES (128u << 10)

/* What an item is: the reader makes FRAME, REJECTED (over max_record_bytes, damage) and
 * END_OF_INPUT items; a worker turns each FRAME into zero or more RECORD / REJECTED items. */
typedef enum ep_item_kind {
    EP_ITEM_FRAME = 0,     /* a record's raw bytes (chunk->raw[raw_off ..]), not parsed yet */
    EP_ITEM_RECORD,        /* a good record: text (then ids) */
    EP_ITEM_REJECTED,      /* reason says why (damage: where the input is damaged) */
    EP_ITEM_END_OF_INPUT,  /* input file_index ended; reason: its rejection if it gave no record at all */
    EP_ITEM_EMPTY_FRAME    /* a frame that held no record (an API page with an empty "data"): its
                              before_byte / before_line are where damage found next begins */
} ep_item_kind;

/* One record as it travels through the stages. */
typedef struct ep_item {
    uint8_t kind;          /* ep_item_kind */
    bool blank;            /* lines format: an empty or whitespace-only line (text "") */
    uint8_t raw_format;    /* FRAME: the input's ep_input_format */
    bool raw_truncated;    /* FRAME: the input's last line, without '\n' */
    size_t raw_off, raw_len; /* FRAME: where its bytes are in the chunk's raw buffer */
    uint64_t before_byte, before_line; /* FRAME, EMPTY_FRAME: where the input stood before the frame (and
                                          the blank lines before it): ep_reader_position */
    const char *account;   /* FRAME, --keep: the export's account name so far (in ep_pipeline.accounts) */
    bool skipped;          /* RECORD: --clean retweets: dropped by compute, numbered as if never there */
    uint64_t seq;          /* index among all records read, good and rejected (set by compute) */
    int64_t row;           /* global row index; -1 for a rejection (set by compute) */
    uint32_t file_index;
    uint64_t line;
    char *id;              /* owned; "" when none */
    char *text;            /* owned; NULL for rejections and rows of other parts (kept to the writer unless
                              --no-text) */
    char *fields;          /* owned: the kept fields (--keep) as one JSON object text, or NULL */
    size_t text_len;
    char *reason;          /* rejections: owned message */
    int32_t *ids;          /* tokenizer output (owned) */
    int n_tokens;
    bool truncated;
    bool mine;             /* the row belongs to this part (--part) */
    bool wanted;           /* RECORD: this run embeds it, so a worker tokenises and hashes it (with rows_ahead_on
                              only the rows of this part past the resume point; else every good record) */
    uint64_t ahead_row;    /* RECORD, with rows_ahead: its global row as the workers counted it (checked by compute) */
    bool reused;           /* the vector comes from --reuse */
    uint64_t hash;         /* XXH3-64 of the text */
    bool damage;           /* not a record: where the input file is damaged (a rejection in errors.ndjson) */
    uint64_t damage_byte;  /* ...its offset in the decompressed bytes */
    char damage_xxh3[17];  /* ...XXH3-64 of the bytes before it ("" for standard input) */
} ep_item;

typedef struct ep_chunk {
    uint64_t number;       /* chunks are numbered in read order */
    ep_item *items;        /* EP_CHUNK_RECORDS frames from the reader; after a worker, the records */
    int n, cap;
    char *raw;             /* the frames' bytes, each NUL-terminated (freed once extracted) */
    size_t raw_len, raw_cap;
    bool last;             /* no chunk follows */
    bool stopped;          /* ...because a signal asked to stop, not because the input ended */
} ep_chunk;

/* The records of one shard, handed from compute to write. */
typedef struct ep_group {
    uint64_t shard;        /* shard number = first_row / rows_per_shard */
    uint64_t first_row;
    ep_item *items;        /* rows and rejections in read order */
    size_t n_items, cap_items;
    size_t n_rows;         /* rows of this part among items */
    uint16_t *vectors;     /* [n_rows][dim] in row order */
    uint64_t next_seq;     /* seq after the group's last record */
    uint64_t next_row;     /* global row after the group */
    bool last;
} ep_group;

typedef struct ep_folder_lock ep_folder_lock; /* io/output/folder_lock.c */

/* Per-stage busy time, for `embedpipe bench` and the summary. */
typedef struct ep_stage_times {
    double read, tokenize, batch, compute, write;
    double read_cpu, tokenize_cpu, compute_cpu, write_cpu; /* CPU time of the stages' threads (ep_thread_cpu) */
} ep_stage_times;

typedef struct ep_pipeline {
    const ep_run_options *opt;
    ep_model *model;
    ep_tokenizer *tok;
    ep_backend *backend;
    ep_reuse *reuse;
    int max_len;             /* tokens per text */
    ep_prompts *prompts;     /* the model's prompts (config_sentence_transformers.json) */
    const char *prompt;      /* put before every text ("" = none; points into prompts or the options) */
    size_t prompt_len;
    const char *prompt_name; /* its name ("" = given as text, or none) */
    unsigned clean;          /* --clean, parsed (EP_CLEAN_*) */
    size_t batch_tokens;
    uint64_t rows_per_shard;

    /* the resume point (0 for a fresh run) */
    uint64_t start_seq, start_row;
    ep_manifest *checkpoint; /* what is already on disk: shards, counts */
    bool already_complete;   /* the folder holds this run complete: nothing to do */

    ep_queue to_tokenize, to_compute, to_write;
    bool rows_ahead_on;      /* the workers count rows (row_ahead.h) and tokenise only this run's rows: set with
                                --part or a resume; off (a whole job from its start), every row is tokenised */
    ep_row_ahead rows_ahead;
    pthread_mutex_t reorder_mu;

    /* progress counters, written by the stages, read by the ticker */
    _Atomic uint64_t records_read, rows_done, rows_reused, rejected, tokens, truncated;
    _Atomic uint64_t texts_tokenized; /* by the workers: the tokeniser's share of the work, for the summary */
    _Atomic uint64_t bytes_read, bytes_total;
    _Atomic int stop_requested;  /* set by a signal: finish the current shard, then stop */
    _Atomic int abandon;         /* SIGTERM: stop now, dropping the shard in progress (resume redoes it) */
    _Atomic int completed;       /* the writer wrote the last group: every record is accounted for */
    _Atomic int failed;          /* a stage failed: everyone stops */
    _Atomic int read_stop;       /* compute stopped at a shard boundary (stop request): the reader ends */
    ep_error error;              /* the first failure (guarded by error_mu) */
    pthread_mutex_t error_mu;

    ep_input_format *formats;    /* per input, as detected */
    uint64_t *input_sizes;
    ep_manifest_input *input_stamps; /* per input: abs_path, mtime (recorded for `search`) */
    struct timespec *input_mtimes;
    ep_manifest_damage *damage;  /* per input: where it was found damaged (written by the writer) */
    _Atomic uint64_t blank_lines;
    _Atomic uint64_t retweets_skipped; /* --clean retweets */
    char **accounts;             /* --keep: every account name the reader met, for the frames (freed at the end) */
    size_t n_accounts, cap_accounts;
    ep_stage_times times;        /* tokenize is summed over its threads */
    pthread_mutex_t times_mu;
    uint64_t reuse_counts[4];    /* reused, new, changed, gone (filled at the end) */
    uint64_t shards_written;
    FILE *errors;
    ep_folder_lock *lock;        /* held on the output folder for the whole run */
    char errors_path[4352];
    uint64_t errors_bytes;
    char first_rejection[512];   /* where and why the first record was rejected, for the summary's errors */
    pthread_mutex_t event_mu;    /* one on_event call at a time (reader, ticker and the run's own thread) */
} ep_pipeline;

/* @return true once a stop was requested (signal or ep_run_request_stop). */
bool ep_pipeline_should_stop(ep_pipeline *p);

/* @return true once SIGTERM asked to stop at once: stages drop what they hold instead of
 * finishing the shard in progress (the folder stays resumable, as after SIGKILL). */
bool ep_pipeline_should_abandon(ep_pipeline *p);

/* Records the first failure and makes every stage stop. */
void ep_pipeline_fail(ep_pipeline *p, const ep_error *err);

/* Hands an event to the caller's on_event, if any, one at a time. */
void ep_pipeline_event(ep_pipeline *p, const ep_run_event *event);

/* A NOTICE or WARNING event whose message is formatted like printf's. */
void ep_pipeline_say(ep_pipeline *p, ep_run_event_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* @return true when the item is a good record that becomes a row: one not dropped as a blank line
 * (skip_blank) or a retweet (--clean retweets). Rows are numbered in read order from the first input's
 * first record; the compute stage numbers them, the workers count them ahead (row_ahead.h). */
static inline bool ep_item_makes_row(const ep_pipeline *p, const ep_item *it) {
    return it->kind == EP_ITEM_RECORD && !(it->blank && p->opt->skip_blank) && !it->skipped;
}

/* @return true when global row belongs to this run's part (--part I/N: the shards k with k % N == I). */
static inline bool ep_row_is_mine(const ep_pipeline *p, uint64_t row) {
    const ep_run_options *o = p->opt;
    if (o->part_count <= 1) return true;
    return (row / p->rows_per_shard) % (uint64_t)o->part_count == (uint64_t)o->part_index;
}

void *ep_stage_read(void *pipeline);
void *ep_stage_tokenize(void *pipeline);
void *ep_stage_compute(void *pipeline);
void *ep_stage_write(void *pipeline);

void ep_item_clear(ep_item *item);
/* The rejection of a damaged input: message (what broke, where) and the byte before which every
 * record was read, into out (cap bytes). */
void ep_damage_reason(char *out, size_t cap, const char *message, uint64_t byte);
/* The message ep_damage_reason was given, found again in its reason (cap bytes). */
void ep_damage_message(char *out, size_t cap, const char *reason);
/* Frees a chunk and everything its items own. Accepts NULL. */
void ep_chunk_free(ep_chunk *chunk);
void ep_group_free(ep_group *g);
double ep_now(void);
/* @return the CPU time the calling thread has used, in seconds. */
double ep_thread_cpu(void);

#endif /* EP_PIPELINE_INTERNAL_H */
