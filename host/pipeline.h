/*
 * pipeline.h - one embedding run: inputs -> reader -> tokenizer -> batcher ->
 * backend -> shard writer, into one output folder with a manifest.
 */
#ifndef EP_PIPELINE_H
#define EP_PIPELINE_H

#include "embedpipe.h"
#include "reader.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ep_run_options {
    const char *const *inputs;  /* input paths ("-" = stdin) */
    size_t n_inputs;
    ep_input_format format;     /* EP_FORMAT_AUTO to detect per file */
    const char *text_path;      /* NULL = the format's defaults */
    const char *id_path;        /* NULL = the format's defaults */
    size_t max_record_bytes;    /* 0 = the reader's default (1 MiB) */
    const char *model_dir;      /* sentence-transformers folder */
    const char *device;         /* "auto", "cpu", "cuda", "cuda:N" */
    int threads;                /* CPU threads; 0 = all cores */
    size_t batch_tokens;        /* token budget of one batch; 0 = the backend's default */
    int max_seq_length;         /* 0 = the model's */
    const char *out_dir;        /* output folder (created if missing) */
    size_t rows_per_shard;      /* 0 = 32768 */
    int zstd_level;             /* 0 = 3 */
    bool overwrite;             /* replace a previous run in out_dir */
    bool quiet;                 /* no progress or summary on stderr */
} ep_run_options;

typedef struct ep_run_summary {
    uint64_t records_read;      /* good + rejected */
    uint64_t records_embedded;
    uint64_t records_rejected;
    uint64_t records_truncated;
    uint64_t tokens;            /* tokens fed to the model */
    size_t shards;
    double seconds;             /* wall time of the run, model loading included */
    double compute_seconds;     /* time inside the backend */
    char backend[256];          /* the backend's description */
} ep_run_summary;

/* @return options with every field at its default (format auto, device auto...). */
ep_run_options ep_run_options_default(void);

/* Runs the whole job. Rejected records go to out_dir/errors.ndjson and do not
 * make the run fail.
 * @return EP_OK when every input was read to its end and all rows are written;
 *         otherwise the error (model, device, I/O, usage) with err filled. */
ep_status ep_run(const ep_run_options *options, ep_run_summary *summary, ep_error *err);

#ifdef __cplusplus
}
#endif

#endif /* EP_PIPELINE_H */
