/* cli_embed.c - `embedpipe embed INPUT... -o DIR`: the main job. */
#include "cli.h"
#include "pipeline.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void embed_usage(FILE *f) {
    fprintf(f,
            "Usage: embedpipe embed INPUT... -o DIR [OPTIONS]\n"
            "\n"
            "Embeds every record of the inputs and writes DIR/shard-NNNNN.npy.zst (float16, L2-normalised\n"
            "rows, also for a model without a Normalize module), DIR/shard-NNNNN.ids.ndjson.zst (one line per\n"
            "row), DIR/manifest.json and\n"
            "DIR/errors.ndjson (records that could not be used, with file, line and reason).\n"
            "INPUT is NDJSON, a Twitter export tweets.js, a Community Archive archive.json or plain text\n"
            "(one record per line); '-' reads standard input; .zst and .gz files are read compressed; a\n"
            "folder stands for its files matching --glob, in name order.\n"
            "Running the same command again on DIR resumes an interrupted run after its last complete\n"
            "shard (a complete one is left alone); a different job in DIR is refused, and so is a\n"
            "second command writing DIR while this one runs (DIR/.embedpipe.lock).\n"
            "\n"
            "Options (default in brackets):\n"
            "  -o, --output DIR          output folder, created if missing (required)\n"
            "  -m, --model DIR           sentence-transformers model folder [$EMBEDPIPE_MODEL, else\n"
            "                            all-MiniLM-L6-v2 from ./models, ~/.local/share/embedpipe/models\n"
            "                            ($XDG_DATA_HOME) or beside the binary]\n"
            "  -f, --format FMT          auto | ndjson | tweets-js | archive-json | lines [auto]\n"
            "      --text PATH           dotted JSON path of the text, e.g. tweet.full_text\n"
            "                            [ndjson: text, full_text, tweet.full_text, tweet.text, content, body;\n"
            "                            tweets-js / archive-json: tweet.full_text, tweet.text]\n"
            "      --id PATH             dotted JSON path of the id, e.g. tweet.id_str\n"
            "                            [ndjson: id_str, id, tweet.id_str, tweet.id; tweets: tweet.id_str]\n"
            "      --glob PATTERN        files taken from a folder INPUT [*]\n"
            "  -d, --device DEV          auto | cpu | cuda | cuda:N [auto: CUDA when a GPU is present];\n"
            "                            null: no encoder, zero rows (measures the host side; marked in\n"
            "                            the manifest, never real embeddings)\n"
            "  -t, --threads N           tokenizer threads, and CPU backend threads [all cores]; at most\n"
            "                            4 per online CPU (more is clamped, with a note)\n"
            "      --precision P         arithmetic: auto, or fp32, bf16, int8 or fp32-reference on the CPU\n"
            "                            (with --device auto these pick the CPU; bf16 and int8 only where\n"
            "                            measured faster: `embedpipe info`); fp16 (float16 storage, float32\n"
            "                            accumulation) on CUDA. auto: the fastest mode with a minimum cosine\n"
            "                            >= 0.999 here: cpu bf16 on AMX or AMD Zen 5, else fp32; cuda fp16\n"
            "                            (int8, at >= 0.995, only on request). The manifest records the one\n"
            "                            used; `embedpipe info` says why [auto]\n"
            "      --batch-tokens N      tokens per batch [cpu: 4096; cuda: sized to the GPU]\n"
            "      --max-seq-length N    tokens per text incl. [CLS]/[SEP]; longer texts are truncated\n"
            "                            [the model's max_seq_length, 256 for all-MiniLM-L6-v2]\n"
            "      --prompt NAME         put the model's prompt NAME (config_sentence_transformers.json, e.g.\n"
            "                            query, passage) before every text [the model's default_prompt_name;\n"
            "                            none when it has none]\n"
            "      --prompt-text TEXT    put TEXT before every text, e.g. \"passage: \" for e5 models\n"
            "                            ('' = no prompt, not even the default)\n"
            "      --dim N               keep the first N values of each row, then normalise (Matryoshka\n"
            "                            models, as sentence-transformers' truncate_dim) [the model's width]\n"
            "      --shard-rows N        rows per shard [32768]\n"
            "      --zstd-level N        zstd compression level, -7..19 (negative: zstd's fast levels, which\n"
            "                            save nothing on float16 vectors but cost almost no CPU: for a\n"
            "                            host-bound run) [1; 3, the old default, saves 0.2%% more for more CPU]\n"
            "      --zstd-workers N      zstd's own compression threads, at least 1; the bytes written do\n"
            "                            not depend on it [2]\n"
            "      --max-record-bytes N  larger records are rejected [1048576]\n"
            "      --skip-blank          drop blank lines of plain-text inputs [off: every line is a row, a\n"
            "                            blank one embedded as the empty text, so that row N is line N]\n"
            "      --keep FIELDS         also store these fields with each row, comma-separated dotted paths\n"
            "                            (a path is its column: tweet.created_at,user.screen_name; missing =\n"
            "                            null); 'default' adds created_at, author, url, lang, is_reply,\n"
            "                            is_retweet for Twitter exports, archive.json and API v1.1/v2 [none]\n"
            "      --no-text             do not store the text [each row's ids line holds the text as embedded]\n"
            "      --clean STEPS         prepare tweets' text before embedding (and storing) it, comma-\n"
            "                            separated: html (unescape &amp; &gt; ...), links (drop t.co links),\n"
            "                            mentions (drop a reply's leading @mentions), retweets (skip\n"
            "                            'RT @name:' records), or all [off: the text exactly as found, so the\n"
            "                            vectors are sentence-transformers' on the raw text]\n"
            "      --reuse PREV_DIR      copy the vector of every record whose id and text are unchanged\n"
            "                            in the output PREV_DIR instead of computing it (nightly jobs)\n"
            "      --part I/N            embed only part I (0-based) of N: every N-th shard, starting at\n"
            "                            shard I; `embedpipe merge` joins the parts. --part N takes I from\n"
            "                            SLURM_ARRAY_TASK_ID (minus SLURM_ARRAY_TASK_MIN) or\n"
            "                            JOB_COMPLETION_INDEX; --part auto takes I and N from Slurm\n"
            "      --overwrite           replace whatever run DIR holds (only the files embedpipe writes:\n"
            "                            shards, manifest, errors, an export; never other files)\n"
            "      --progress MODE       auto | plain | json | none [auto: redrawn on a terminal, else a\n"
            "                            line every 10 s]\n"
            "  -q, --quiet               no progress or summary on stderr\n"
            "  -h, --help                this help\n"
            "\n"
            "Signals: Ctrl-C (SIGINT) finishes the shard in progress, then stops; SIGTERM stops within about\n"
            "a second, dropping the shard in progress (resume computes it again); a second signal stops at\n"
            "once. The folder stays resumable in every case.\n"
            "\n"
            "A damaged input (a truncated or corrupt .zst/.gz, a tweets.js or archive.json cut off) is\n"
            "read up to the damage; the damage goes to errors.ndjson (file, byte, line, reason), the other\n"
            "inputs are read, and the run exits 4. Once the file is repaired, the same command goes back\n"
            "to the last shard before the damage and embeds the rest, if the bytes before the damage are\n"
            "unchanged (else it is refused: use --overwrite, or --reuse into a new folder).\n"
            "\n"
            "Exit codes: 0 done, every record embedded or listed in errors.ndjson (also when a signal came\n"
            "after the last shard was written); 1 failure, including a run that embedded nothing (every\n"
            "record rejected, or no records) and a model that produced NaN or Inf; 2 usage error; 3 DIR\n"
            "holds a different run; 4 partial: some input was damaged (every good record before the damage\n"
            "was embedded; see errors.ndjson); 5 another embedpipe process is writing DIR (named); 130\n"
            "stopped by a signal (SIGINT or SIGTERM) before the end (resumable).\n");
}

enum {
    OPT_ZSTD = EP_OPT_LOCAL, OPT_ZSTDW, OPT_MAXREC, OPT_OVERWRITE, OPT_GLOB, OPT_REUSE, OPT_PART, OPT_PROGRESS,
    OPT_SKIP_BLANK, OPT_KEEP, OPT_NO_TEXT, OPT_CLEAN, OPT_PROMPT, OPT_PROMPT_TEXT, OPT_DIM
};

/* An integer option in [lo, hi]. @return 1, or -1 after printing why the value is bad. */
static int parse_int_in(const char *option, const char *value, int lo, int hi, int *out) {
    size_t v;
    if (ep_cli_parse_size(option, value, &v)) return -1;
    if (v < (size_t)lo || v > (size_t)hi) {
        fprintf(stderr, "embedpipe: %s must be between %d and %d\n", option, lo, hi);
        return -1;
    }
    *out = (int)v;
    return 1;
}

/* Applies one of embed's own options. @return 1 when c was one, 0 when not, -1 after printing why
 * the value is bad. */
static int embed_option(int c, const char *value, ep_run_options *o, ep_cli_progress *pr, const char **glob) {
    switch (c) {
    case 'o': o->out_dir = value; return 1;
    case OPT_GLOB: *glob = value; return 1;
    case OPT_REUSE: o->reuse_dir = value; return 1;
    case OPT_ZSTD: { /* the fast levels are negative */
        char *end = NULL;
        long v = strtol(value, &end, 10);
        if (!*value || *end || v < -7 || v > 19) {
            fprintf(stderr, "embedpipe: --zstd-level must be an integer between -7 and 19, got '%s'\n", value);
            return -1;
        }
        o->zstd_level = (int)v;
        return 1;
    }
    case OPT_ZSTDW: return parse_int_in("--zstd-workers", value, 1, 64, &o->zstd_workers);
    case OPT_MAXREC: return ep_cli_parse_size("--max-record-bytes", value, &o->max_record_bytes) ? -1 : 1;
    case OPT_PART: return ep_cli_parse_part(value, &o->part_index, &o->part_count) ? -1 : 1;
    case OPT_PROGRESS:
        if (strcmp(value, "auto") == 0) pr->mode = EP_PROGRESS_AUTO;
        else if (strcmp(value, "plain") == 0) pr->mode = EP_PROGRESS_PLAIN;
        else if (strcmp(value, "json") == 0) pr->mode = EP_PROGRESS_JSON;
        else if (strcmp(value, "none") == 0) pr->mode = EP_PROGRESS_NONE;
        else {
            fprintf(stderr, "embedpipe: --progress must be auto, plain, json or none\n");
            return -1;
        }
        return 1;
    case OPT_OVERWRITE: o->overwrite = true; return 1;
    case OPT_SKIP_BLANK: o->skip_blank = true; return 1;
    case OPT_KEEP: o->keep = value; return 1;
    case OPT_NO_TEXT: o->no_text = true; return 1;
    case OPT_CLEAN: o->clean = value; return 1;
    case OPT_PROMPT: o->prompt_name = value; return 1;
    case OPT_PROMPT_TEXT: o->prompt_text = value; return 1;
    case OPT_DIM: return parse_int_in("--dim", value, 1, 1 << 20, &o->dim);
    case 'q': pr->quiet = true; return 1;
    }
    return 0;
}

/* The lines a finished (or interrupted) run prints on stderr unless --quiet. */
static void print_summary(const ep_run_options *o, const ep_run_summary *sum, ep_status st) {
    double s = sum->seconds > 0 ? sum->seconds : 1e-9;
    fprintf(stderr,
            "embedpipe: %llu records read, %llu embedded (%llu truncated), %llu rejected%s\n"
            "embedpipe: %llu tokens in %.2f s: %.0f records/s, %.0f tokens/s on %s\n"
            "embedpipe: busy time: read %.2f s, tokenize %.2f s, batch %.2f s, compute %.2f s, write %.2f s\n",
            (unsigned long long)sum->records_read, (unsigned long long)sum->records_embedded,
            (unsigned long long)sum->records_truncated, (unsigned long long)sum->records_rejected,
            sum->records_rejected ? " (see errors.ndjson)" : "", (unsigned long long)sum->tokens, sum->seconds,
            (sum->records_read - sum->resumed_from) / s, sum->tokens / s, sum->backend, sum->read_s, sum->tokenize_s,
            sum->batch_s, sum->compute_s, sum->write_s);
    // A part, or a resumed run, parses every record (that is how it numbers the rows) but tokenises only its own.
    if (o->part_count > 1 || sum->resumed_from)
        fprintf(stderr, "embedpipe: %llu texts tokenised: the rows of this run (%s); every record was parsed\n",
                (unsigned long long)sum->texts_tokenized,
                o->part_count > 1 && sum->resumed_from ? "this part's, past the resume point"
                : o->part_count > 1                    ? "this part's"
                                                       : "past the resume point");
    if (sum->blank_lines)
        fprintf(stderr, "embedpipe: %llu blank line%s %s\n", (unsigned long long)sum->blank_lines,
                sum->blank_lines == 1 ? "" : "s",
                o->skip_blank ? "dropped (--skip-blank)" : "embedded as the empty text (--skip-blank drops them)");
    if (sum->retweets_skipped)
        fprintf(stderr, "embedpipe: %llu retweet%s skipped (--clean retweets)\n",
                (unsigned long long)sum->retweets_skipped, sum->retweets_skipped == 1 ? "" : "s");
    if (o->reuse_dir)
        fprintf(stderr, "embedpipe: --reuse %s: %llu reused, %llu new, %llu changed, %llu gone\n", o->reuse_dir,
                (unsigned long long)sum->reused, (unsigned long long)sum->added, (unsigned long long)sum->changed,
                (unsigned long long)sum->gone);
    fprintf(stderr, "embedpipe: %zu shard%s in %s%s\n", sum->shards, sum->shards == 1 ? "" : "s", o->out_dir,
            st == EP_OK ? "" : " (interrupted: run the same command to resume)");
}

/* Runs the pipeline and tells how it went. @return the exit code. */
static int run_embed(ep_run_options *o, ep_cli_progress *pr) {
    ep_error err = {0};
    ep_run_install_signal_handlers();
    ep_cli_progress_attach(pr, o);
    ep_run_summary sum;
    ep_status st = ep_run(o, &sum, &err);
    int rc = EP_EXIT_OK;
    if (st != EP_OK) rc = ep_cli_report(&err);
    if (sum.already_complete && !pr->quiet)
        fprintf(stderr, "embedpipe: %s already holds this run, complete; nothing to do (--overwrite redoes it)\n",
                o->out_dir);
    if ((st == EP_OK || st == EP_ERR_INTERRUPTED) && !pr->quiet && !sum.already_complete) print_summary(o, &sum, st);
    // A damaged input does not fail the run, but the run is not whole either: say so, and exit 4.
    if (st == EP_OK && sum.damaged_inputs > 0) {
        rc = EP_EXIT_PARTIAL;
        if (!pr->quiet)
            fprintf(stderr,
                    "embedpipe: partial: %zu input%s damaged; every record before the damage was embedded, the "
                    "damage is in %s/errors.ndjson. Repair the file%s and run the same command again to embed "
                    "the rest\n",
                    sum.damaged_inputs, sum.damaged_inputs == 1 ? " is" : "s are", o->out_dir,
                    sum.damaged_inputs == 1 ? "" : "s");
    }
    return rc;
}

int ep_cli_embed(int argc, char **argv) {
    static const struct option longopts[] = {
        EP_CLI_RUN_OPTIONS,
        {"output", required_argument, 0, 'o'},
        {"zstd-level", required_argument, 0, OPT_ZSTD},
        {"zstd-workers", required_argument, 0, OPT_ZSTDW},
        {"max-record-bytes", required_argument, 0, OPT_MAXREC},
        {"overwrite", no_argument, 0, OPT_OVERWRITE},
        {"glob", required_argument, 0, OPT_GLOB},
        {"reuse", required_argument, 0, OPT_REUSE},
        {"part", required_argument, 0, OPT_PART},
        {"progress", required_argument, 0, OPT_PROGRESS},
        {"skip-blank", no_argument, 0, OPT_SKIP_BLANK},
        {"keep", required_argument, 0, OPT_KEEP},
        {"no-text", no_argument, 0, OPT_NO_TEXT},
        {"clean", required_argument, 0, OPT_CLEAN},
        {"prompt", required_argument, 0, OPT_PROMPT},
        {"prompt-text", required_argument, 0, OPT_PROMPT_TEXT},
        {"dim", required_argument, 0, OPT_DIM},
        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    ep_run_options o = ep_run_options_default();
    o.model_dir = NULL;
    ep_cli_progress pr = {.mode = EP_PROGRESS_AUTO};
    const char *glob = "*";
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:m:f:d:t:qh", longopts, NULL)) != -1) {
        int done = ep_cli_run_option(c, optarg, &o);
        if (!done) done = embed_option(c, optarg, &o, &pr, &glob);
        if (done < 0) return EP_EXIT_USAGE;
        if (done) continue;
        if (c == 'h') {
            embed_usage(stdout);
            return EP_EXIT_OK;
        }
        embed_usage(stderr);
        return EP_EXIT_USAGE;
    }
    if (optind >= argc || !o.out_dir) {
        fprintf(stderr, "embedpipe embed: %s\n\n", optind >= argc ? "no INPUT given" : "no output folder (-o DIR)");
        embed_usage(stderr);
        return EP_EXIT_USAGE;
    }
    char **inputs = NULL;
    size_t n_inputs = 0;
    if (ep_cli_expand_inputs(argv + optind, argc - optind, glob, &inputs, &n_inputs)) return EP_EXIT_USAGE;
    o.inputs = (const char *const *)inputs;
    o.n_inputs = n_inputs;
    int rc = EP_EXIT_FAILURE;
    if (o.model_dir || (o.model_dir = ep_cli_default_model())) rc = run_embed(&o, &pr);
    ep_cli_free_inputs(inputs, n_inputs);
    return rc;
}
