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
            "rows), DIR/shard-NNNNN.ids.ndjson.zst (one line per row), DIR/manifest.json and\n"
            "DIR/errors.ndjson (records that could not be used, with file, line and reason).\n"
            "INPUT is NDJSON, a Twitter export tweets.js, a Community Archive archive.json or plain text\n"
            "(one record per line); '-' reads standard input; .zst and .gz files are read compressed.\n"
            "\n"
            "Options (default in brackets):\n"
            "  -o, --output DIR          output folder, created if missing (required)\n"
            "  -m, --model DIR           sentence-transformers model folder [$EMBEDPIPE_MODEL or\n"
            "                            models/all-MiniLM-L6-v2]\n"
            "  -f, --format FMT          auto | ndjson | tweets-js | archive-json | lines [auto]\n"
            "      --text PATH           dotted JSON path of the text, e.g. tweet.full_text\n"
            "                            [ndjson: text, full_text, tweet.full_text, tweet.text, content, body;\n"
            "                            tweets-js / archive-json: tweet.full_text, tweet.text]\n"
            "      --id PATH             dotted JSON path of the id, e.g. tweet.id_str\n"
            "                            [ndjson: id_str, id, tweet.id_str, tweet.id; tweets: tweet.id_str]\n"
            "  -d, --device DEV          auto | cpu | cuda | cuda:N [auto: CUDA when a GPU is present]\n"
            "  -t, --threads N           CPU threads [all cores]\n"
            "      --batch-tokens N      tokens per batch [cpu: 4096; cuda: sized to the GPU]\n"
            "      --max-seq-length N    tokens per text incl. [CLS]/[SEP]; longer texts are truncated\n"
            "                            [the model's max_seq_length, 256 for all-MiniLM-L6-v2]\n"
            "      --shard-rows N        rows per shard [32768]\n"
            "      --zstd-level N        zstd compression level, 1-19 [3]\n"
            "      --max-record-bytes N  larger records are rejected [1048576]\n"
            "      --overwrite           replace a previous run in DIR (only its shards, manifest, errors)\n"
            "  -q, --quiet               no progress or summary on stderr\n"
            "  -h, --help                this help\n"
            "\n"
            "Exit codes: 0 done (see errors.ndjson for rejected records), 1 failure, 2 usage error.\n");
}

int ep_cli_embed(int argc, char **argv) {
    enum { OPT_TEXT = 256, OPT_ID, OPT_BATCH, OPT_MAXSEQ, OPT_SHARD, OPT_ZSTD, OPT_MAXREC, OPT_OVERWRITE };
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'},  {"model", required_argument, 0, 'm'},
        {"format", required_argument, 0, 'f'},  {"text", required_argument, 0, OPT_TEXT},
        {"id", required_argument, 0, OPT_ID},   {"device", required_argument, 0, 'd'},
        {"threads", required_argument, 0, 't'}, {"batch-tokens", required_argument, 0, OPT_BATCH},
        {"max-seq-length", required_argument, 0, OPT_MAXSEQ},
        {"shard-rows", required_argument, 0, OPT_SHARD},
        {"zstd-level", required_argument, 0, OPT_ZSTD},
        {"max-record-bytes", required_argument, 0, OPT_MAXREC},
        {"overwrite", no_argument, 0, OPT_OVERWRITE},
        {"quiet", no_argument, 0, 'q'},         {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    ep_run_options o = ep_run_options_default();
    o.model_dir = NULL;
    ep_error err = {0};
    size_t v;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:m:f:d:t:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': o.out_dir = optarg; break;
        case 'm': o.model_dir = optarg; break;
        case 'f':
            if (ep_input_format_parse(optarg, &o.format, &err) != EP_OK) return ep_cli_report(&err);
            break;
        case OPT_TEXT: o.text_path = optarg; break;
        case OPT_ID: o.id_path = optarg; break;
        case 'd': o.device = optarg; break;
        case 't':
            if (ep_cli_parse_size("--threads", optarg, &v)) return EP_EXIT_USAGE;
            o.threads = (int)v;
            break;
        case OPT_BATCH:
            if (ep_cli_parse_size("--batch-tokens", optarg, &o.batch_tokens)) return EP_EXIT_USAGE;
            break;
        case OPT_MAXSEQ:
            if (ep_cli_parse_size("--max-seq-length", optarg, &v)) return EP_EXIT_USAGE;
            o.max_seq_length = (int)v;
            break;
        case OPT_SHARD:
            if (ep_cli_parse_size("--shard-rows", optarg, &o.rows_per_shard)) return EP_EXIT_USAGE;
            if (o.rows_per_shard == 0) {
                fprintf(stderr, "embedpipe: --shard-rows must be at least 1\n");
                return EP_EXIT_USAGE;
            }
            break;
        case OPT_ZSTD:
            if (ep_cli_parse_size("--zstd-level", optarg, &v)) return EP_EXIT_USAGE;
            if (v < 1 || v > 19) {
                fprintf(stderr, "embedpipe: --zstd-level must be between 1 and 19\n");
                return EP_EXIT_USAGE;
            }
            o.zstd_level = (int)v;
            break;
        case OPT_MAXREC:
            if (ep_cli_parse_size("--max-record-bytes", optarg, &o.max_record_bytes)) return EP_EXIT_USAGE;
            break;
        case OPT_OVERWRITE: o.overwrite = true; break;
        case 'q': o.quiet = true; break;
        case 'h': embed_usage(stdout); return EP_EXIT_OK;
        default: embed_usage(stderr); return EP_EXIT_USAGE;
        }
    }
    o.inputs = (const char *const *)(argv + optind);
    o.n_inputs = (size_t)(argc - optind);
    if (o.n_inputs == 0 || !o.out_dir) {
        fprintf(stderr, "embedpipe embed: %s\n\n", o.n_inputs == 0 ? "no INPUT given" : "no output folder (-o DIR)");
        embed_usage(stderr);
        return EP_EXIT_USAGE;
    }
    if (!o.model_dir) o.model_dir = ep_cli_default_model();

    ep_run_summary sum;
    ep_status st = ep_run(&o, &sum, &err);
    if (st != EP_OK) return ep_cli_report(&err);
    if (!o.quiet) {
        fprintf(stderr,
                "embedpipe: %llu records read, %llu embedded (%llu truncated), %llu rejected%s\n"
                "embedpipe: %llu tokens in %.2f s (%.0f records/s, %.0f tokens/s; %.2f s computing on %s)\n"
                "embedpipe: wrote %zu shard%s to %s\n",
                (unsigned long long)sum.records_read, (unsigned long long)sum.records_embedded,
                (unsigned long long)sum.records_truncated, (unsigned long long)sum.records_rejected,
                sum.records_rejected ? " (see errors.ndjson)" : "", (unsigned long long)sum.tokens, sum.seconds,
                sum.seconds > 0 ? sum.records_embedded / sum.seconds : 0.0,
                sum.seconds > 0 ? sum.tokens / sum.seconds : 0.0, sum.compute_seconds, sum.backend, sum.shards,
                sum.shards == 1 ? "" : "s", o.out_dir);
    }
    return EP_EXIT_OK;
}
