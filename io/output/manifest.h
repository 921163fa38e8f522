/*
 * manifest.h - manifest.json, the record of one output folder.
 *
 * The manifest says which tool and model wrote the folder, the options that
 * shape its rows, the input files, every shard with its rows and checksums,
 * and the counts of records read / embedded / rejected. It is replaced
 * atomically (temporary file, fsync, rename, fsync of the folder).
 *
 * 64-bit counts are written as exact decimal integers, but JSON readers
 * (cJSON here, many others) hold numbers as doubles: values above 2^53 are
 * refused by ep_manifest_write (EP_ERR_USAGE) and by ep_manifest_read.
 * Unknown keys are ignored when reading, so later versions may add fields.
 */
#ifndef EP_MANIFEST_H
#define EP_MANIFEST_H

#include "embedpipe.h"
#include "shard.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where an input was found damaged (a truncated or corrupt .zst/.gz, an array
 * cut off), and the checkpoint a run goes back to once the input is repaired.
 * Written as the input's "damage" object, only when present. */
typedef struct ep_manifest_damage {
    bool present;
    uint64_t byte;            /* offset in the input's (decompressed) bytes where the damage begins */
    uint64_t line;            /* its line */
    uint64_t record;          /* its record number among all records read (good, rejected, damage) */
    char prefix_xxh3[17];     /* XXH3-64 of the input's bytes [0, byte), 16 hex digits; "" for standard input */
    int64_t mtime_s;          /* the input's modification time when it was read */
    int32_t mtime_ns;
    /* The checkpoint just before the shard group that holds the damage. */
    uint64_t resume_shards, resume_next_record, resume_next_row, resume_errors_bytes;
    uint64_t resume_embedded, resume_rejected;
} ep_manifest_damage;

typedef struct ep_manifest_input {
    char *path;              /* as given on the command line */
    char format[32];         /* ep_input_format_name() of the format used */
    uint64_t size;           /* bytes at the start of the run (0 for standard input) */
    /* Where the run found the file and when it was last changed then, so that
     * `search` reads texts only from the very file the run read. abs_path is
     * NULL for standard input and in manifests of older versions. */
    char *abs_path;          /* path made absolute against the run's working folder */
    uint64_t mtime_sec;      /* st_mtim at the start of the run */
    uint64_t mtime_nsec;
    ep_manifest_damage damage;
} ep_manifest_input;

/* What shapes the rows besides the model, and the checkpoint a killed run
 * resumes from. Written as the "run" object. */
typedef struct ep_manifest_run {
    uint64_t shard_rows;       /* rows per shard (all but the last) */
    int part_index, part_count;/* --part I/N (0 and 1: the whole input) */
    char format[32];           /* --format as given ("auto" = detected per file) */
    uint64_t max_record_bytes; /* --max-record-bytes (0 = default) */
    uint64_t next_record;      /* records (good and rejected) accounted for by the shards written */
    uint64_t next_row;         /* global rows before the resume point (all parts) */
    uint64_t errors_bytes;     /* size of errors.ndjson at this checkpoint */
    bool skip_blank;           /* --skip-blank: blank lines of plain-text inputs were dropped (absent = false) */
    bool text;                 /* the ids lines hold each row's text as embedded (false: --no-text, or an older
                                  version) */
    char keep[2048];           /* --keep as given, canonical ("" = no fields) */
    char clean[64];            /* --clean steps, canonical ("html,links,mentions,retweets"; "" = the raw text) */
} ep_manifest_run;

typedef struct ep_manifest {
    char tool_version[32];   /* EP_VERSION_STRING of the writer */
    char model_name[256];
    char model_sha256[65];   /* SHA-256 of model.safetensors */
    int dim;
    char dtype[16];          /* "float16" */
    /* What computed the vectors, written as the "compute" object: the precision actually used
     * ("auto" resolved: "fp32", "bf16", "fp32-reference", "fp16") and the kernel table ("avx512",
     * "amx", "openblas", "cuda", ...). "" in folders of older versions (the object is absent). */
    char precision[16];
    char kernels[16];
    char pooling[96];        /* sentence-transformers' pooling mode ("mean", "cls", "max", "mean_sqrt_len_tokens",
                                "weightedmean", "lasttoken"), or several joined by "+" in concatenation order */
    bool normalized;
    bool no_normalize_module;/* the model has no Normalize module: embedpipe normalised its rows
                                ("model.normalize_module": false; absent = it has one, or an older version) */
    int truncate_dim;        /* rows cut to their first dim values (Matryoshka, --dim or the model's
                                truncate_dim): the width before was larger ("model.truncate_dim"; 0 = absent) */
    char dense_sha256[65];   /* SHA-256 of the model's Dense modules' SHA-256s ("" = none, or an older version) */
    char prompt[2048];       /* the text put before every text embedded ("" = none) */
    char prompt_name[128];   /* its name among the model's prompts ("" = given as text, or none) */
    bool null_device;        /* written by --device null: every row is zeros, not an embedding
                                ("model.device": "null"; absent = a real encoder) */
    int max_seq_length;
    char text_path[256];     /* --text as used ("" = format defaults) */
    char id_path[256];       /* --id as used ("" = format defaults) */
    ep_manifest_input *inputs;
    size_t n_inputs;
    ep_shard_info *shards;
    size_t n_shards;
    uint64_t records_read;     /* records seen, good or bad */
    uint64_t records_embedded; /* rows written */
    uint64_t records_rejected; /* lines in errors.ndjson */
    bool complete;             /* the run reached the end of its input */
    ep_manifest_run run;
} ep_manifest;

/* Writes dir/manifest.json atomically.
 * @return EP_OK, or EP_ERR_IO naming the file. */
ep_status ep_manifest_write(const char *dir, const ep_manifest *m, ep_error *err);

/* Reads dir/manifest.json into a new manifest (free with ep_manifest_free).
 * @return EP_OK; EP_ERR_IO when missing; EP_ERR_FORMAT naming the bad field. */
ep_status ep_manifest_read(const char *dir, ep_manifest **out, ep_error *err);

/* Frees a manifest from ep_manifest_read (and the arrays it owns). Accepts NULL. */
void ep_manifest_free(ep_manifest *m);

/* @return true for the exact names a run or a merge writes in its output folder:
 * manifest.json, errors.ndjson, shard-NNNNN.npy.zst, shard-NNNNN.ids.ndjson.zst (5 to 9
 * digits) and their temporaries ".NAME.tmp", so that replacing a run removes exactly
 * those and nothing else of the user's (not shard-notes.txt, not shard-00000.npy.zst.bak). */
bool ep_output_is_run_file(const char *name);

/* What ep_manifest_same_job compares; or them together. */
enum {
    EP_JOB_MODEL = 1 << 0,        /* the weights (SHA-256, the Dense modules' too), the vector width, the prompt,
                                     max_seq_length, and the precision when both record one (vectors of two
                                     precisions differ slightly; the kernel table within a precision is not
                                     compared) */
    EP_JOB_WRITER = 1 << 1,       /* the model's name, pooling, normalisation, the embedpipe version */
    EP_JOB_READING = 1 << 2,      /* text / id paths, format, shard rows, max record bytes, skip_blank, --clean, and the
                                     inputs: their number, paths and sizes */
    EP_JOB_INPUT_FORMATS = 1 << 3,/* the format each input was read as (known once the run read it) */
    EP_JOB_PART = 1 << 4,         /* part_index and part_count */
    EP_JOB_DAMAGED_MAY_CHANGE = 1 << 5, /* an input recorded damaged in a may have another size in b */
    EP_JOB_KEPT = 1 << 6,         /* what the ids lines hold besides the row: the text (or not), the --keep
                                     columns. (--clean is part of EP_JOB_READING: it changes the vectors.) */
};

/* The one "same job?" comparison (resume, --reuse, merge): compares the fields of a and b named by `what`
 * (EP_JOB_* or'd), in a fixed order, and describes the first difference as "what: <a's> vs <b's>".
 * @return NULL when they agree, else why (filled, cap bytes). */
const char *ep_manifest_same_job(const ep_manifest *a, const ep_manifest *b, unsigned what, char *why, size_t cap);

/* @return true for a pooling the manifest may record: one of sentence-transformers' mode names, or
 * several joined by "+". */
bool ep_manifest_pooling_valid(const char *pooling);

/* Checks where the manifest places each shard: shards are in order, shard N
 * starts at row N * run.shard_rows (when set) and all but the last are full;
 * a single-part folder is contiguous from row 0, a --part I/N folder holds
 * only shards N*k+I; the rows add up to counts.embedded. Reads no shard.
 * @return EP_OK, or EP_ERR_MISMATCH naming the shard. */
ep_status ep_manifest_check_layout(const char *dir, const ep_manifest *m, ep_error *err);

/* @return true for the names `embedpipe export` writes into a folder by default
 * (vectors.npy, vectors.ndjson) and their temporaries: a new run's --overwrite removes
 * them, since they describe the run it replaces. */
bool ep_output_is_export_file(const char *name);

/* Checks an output folder against its manifest: every shard and ids file
 * exists, has the recorded SHA-256, decompresses with a valid zstd checksum,
 * holds the recorded number of rows of width dim (the ids file as many
 * lines); shards are in order, shard N starts at row N * run.shard_rows (when
 * set) and all but the last are full; a single-part folder is contiguous from
 * row 0, a --part I/N folder holds only shards N*k+I; the rows add up to
 * @return EP_OK; EP_ERR_MISMATCH / EP_ERR_FORMAT / EP_ERR_IO naming the first
 *         problem found. */
ep_status ep_output_verify(const char *dir, ep_error *err);

#ifdef __cplusplus
}
#endif

#endif /* EP_MANIFEST_H */
