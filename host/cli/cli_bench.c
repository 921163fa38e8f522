/* cli_bench.c - `embedpipe bench INPUT...`: run the pipeline and show where the time goes. */
#include "cli.h"
#include "pipeline.h"
#include "settings.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void bench_usage(FILE *f) {
    fprintf(f,
            "Usage: embedpipe bench INPUT... [OPTIONS]\n"
            "\n"
            "Runs the whole embedding pipeline on INPUT (the formats `embed` reads), throwing the vectors\n"
            "away unless --keep is given, and prints how busy each stage was and the throughput.\n"
            "\n"
            "Reading the breakdown: the stages run at the same time, connected by bounded queues\n"
            "  read      1 thread: reads the inputs and cuts them into records (no parsing)\n"
            "  tokenize  N threads (--threads): parse each record (JSON, text and id) and WordPiece;\n"
            "            its time is SUMMED over the threads, so\n"
            "            divide by N for the time it held the pipeline (it can exceed the wall time)\n"
            "  batch     sorting each shard's texts by length and packing them into batches\n"
            "  compute   the model on the backend (CPU or GPU), waiting for results included\n"
            "  write     errors.ndjson, zstd compression, shard files and manifest (0 when discarding)\n"
            "Busy times overlap, so they do not add up to the wall time. The stage whose busy time\n"
            "(per thread) is closest to the wall time is the bottleneck: it bounds the throughput, and\n"
            "speeding up any other stage gains nothing. Wall time includes loading the model.\n"
            "`process` is the CPU time of every thread (zstd's compression workers included): what the\n"
            "run takes from the machine's cores; with as many threads as cores, it bounds the wall time.\n"
            "\n"
            "Options (default in brackets):\n"
            "  -m, --model DIR         sentence-transformers model folder [$EMBEDPIPE_MODEL, else\n"
            "                          all-MiniLM-L6-v2 from ./models, ~/.local/share/embedpipe/models\n"
            "                          ($XDG_DATA_HOME) or beside the binary]\n"
            "  -d, --device DEV        auto | cpu | cuda | cuda:N | null (no encoder: host side only) [auto]\n"
            "  -t, --threads N         tokenizer threads, and CPU backend threads [all cores]\n"
            "      --batch-tokens N    tokens per batch [cpu: 4096; cuda: sized to the GPU]\n"
            "      --precision P       arithmetic (see `embed --help`) [auto]\n"
            "      --max-seq-length N  tokens per text incl. [CLS]/[SEP] [the model's]\n"
            "      --shard-rows N      rows per shard; batches never cross shards [32768]\n"
            "  -f, --format FMT        auto | ndjson | tweets-js | archive-json | lines [auto]\n"
            "      --text PATH, --id PATH   as for `embed`\n"
            "      --keep OUT          write the output to folder OUT as `embed` would (a run already in\n"
            "                          OUT is replaced), so that the write stage is measured too\n"
            "      --keep-fields LIST  keep these fields with each row, as `embed --keep LIST` does\n"
            "      --part I/N          run part I of N, as `embed --part` does: every record is read and\n"
            "                          parsed, only the part's rows are tokenised and embedded\n"
            "      --json              one JSON object on stdout instead of the table\n"
            "  -h, --help              this help\n"
            "\n"
            "Timings are for information: they depend on the machine and on what else runs on it.\n");
}

static int resolved_threads(int threads) { return threads > 0 ? threads : ep_default_threads(); }

typedef struct stage_row {
    const char *name;
    double busy;
    const char *note;
} stage_row;

/* @return the CPU time (user + system) the whole process has used so far: every thread, zstd's included. */
static double process_cpu(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec * 1e-6;
}

static void print_table(const ep_run_options *o, const ep_run_summary *s, int threads, bool interrupted, double cpu) {
    const double wall = s->seconds > 0 ? s->seconds : 1e-9;
    const uint64_t records = s->records_read - s->resumed_from;
    char tok_note[64];
    snprintf(tok_note, sizeof tok_note, "summed over %d thread%s: %.3f s each", threads, threads == 1 ? "" : "s",
             s->tokenize_s / threads);
    const stage_row rows[] = {
        {"read", s->read_s, ""},
        {"tokenize", s->tokenize_s, tok_note},
        {"batch", s->batch_s, ""},
        {"compute", s->compute_s, ""},
        {"write", s->write_s, o->discard ? "output discarded" : ""},
    };
    printf("embedpipe bench: %zu input%s on %s%s\n", o->n_inputs, o->n_inputs == 1 ? "" : "s", s->backend,
           interrupted ? " (interrupted)" : "");
    printf("  records     %llu read, %llu embedded, %llu rejected, %llu truncated\n",
           (unsigned long long)s->records_read, (unsigned long long)s->records_embedded,
           (unsigned long long)s->records_rejected, (unsigned long long)s->records_truncated);
    printf("  tokens      %llu (%llu texts tokenised)\n\n", (unsigned long long)s->tokens,
           (unsigned long long)s->texts_tokenized);
    printf("  %-10s %10s %9s\n", "stage", "busy (s)", "of wall");
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        printf("  %-10s %10.3f %8.1f%%%s%s\n", rows[i].name, rows[i].busy, 100.0 * rows[i].busy / wall,
               *rows[i].note ? "   " : "", rows[i].note);
    printf("  %-10s %10.3f %8.1f%%   model loading included\n", "wall", s->seconds, 100.0);
    printf("  %-10s %10.3f            CPU of every thread (zstd's and model loading included)\n\n", "process", cpu);
    printf("  throughput  %.0f records/s, %.0f tokens/s\n", records / wall, s->tokens / wall);
    if (!o->discard) printf("  output      %s (%zu shard%s)\n", o->out_dir, s->shards, s->shards == 1 ? "" : "s");
}

static int print_json(const ep_run_options *o, const ep_run_summary *s, int threads, bool interrupted,
                      double process_s) {
    const double wall = s->seconds > 0 ? s->seconds : 1e-9;
    const uint64_t records = s->records_read - s->resumed_from;
    cJSON *root = cJSON_CreateObject(), *inputs = cJSON_CreateArray(), *stages = cJSON_CreateObject();
    bool ok = root && inputs && stages;
    if (ok) {
        for (size_t i = 0; i < o->n_inputs; i++) cJSON_AddItemToArray(inputs, cJSON_CreateString(o->inputs[i]));
        cJSON_AddItemToObject(root, "inputs", inputs);
        inputs = NULL;
        cJSON_AddStringToObject(root, "backend", s->backend);
        cJSON_AddNumberToObject(root, "threads", threads);
        cJSON_AddNumberToObject(root, "records_read", (double)s->records_read);
        cJSON_AddNumberToObject(root, "records_embedded", (double)s->records_embedded);
        cJSON_AddNumberToObject(root, "records_rejected", (double)s->records_rejected);
        cJSON_AddNumberToObject(root, "records_truncated", (double)s->records_truncated);
        cJSON_AddNumberToObject(root, "tokens", (double)s->tokens);
        cJSON_AddNumberToObject(root, "texts_tokenized", (double)s->texts_tokenized);
        cJSON_AddNumberToObject(stages, "read", s->read_s);
        cJSON_AddNumberToObject(stages, "tokenize", s->tokenize_s);
        cJSON_AddNumberToObject(stages, "batch", s->batch_s);
        cJSON_AddNumberToObject(stages, "compute", s->compute_s);
        cJSON_AddNumberToObject(stages, "write", s->write_s);
        cJSON_AddItemToObject(root, "stage_busy_s", stages);
        stages = NULL;
        cJSON *cpu = cJSON_CreateObject();
        if (cpu) {
            cJSON_AddNumberToObject(cpu, "read", s->read_cpu_s);
            cJSON_AddNumberToObject(cpu, "tokenize", s->tokenize_cpu_s);
            cJSON_AddNumberToObject(cpu, "compute", s->compute_cpu_s);
            cJSON_AddNumberToObject(cpu, "write", s->write_cpu_s);
            cJSON_AddItemToObject(root, "stage_cpu_s", cpu);
        }
        cJSON_AddNumberToObject(root, "process_cpu_s", process_s);
        cJSON_AddNumberToObject(root, "wall_s", s->seconds);
        cJSON_AddNumberToObject(root, "records_per_s", records / wall);
        cJSON_AddNumberToObject(root, "tokens_per_s", s->tokens / wall);
        if (o->discard) cJSON_AddNullToObject(root, "output");
        else cJSON_AddStringToObject(root, "output", o->out_dir);
        cJSON_AddNumberToObject(root, "shards", (double)s->shards);
        cJSON_AddBoolToObject(root, "interrupted", interrupted);
    }
    char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    cJSON_Delete(inputs);
    cJSON_Delete(stages);
    if (!text) {
        fprintf(stderr, "embedpipe: out of memory\n");
        return EP_EXIT_FAILURE;
    }
    printf("%s\n", text);
    cJSON_free(text);
    return EP_EXIT_OK;
}

int ep_cli_bench(int argc, char **argv) {
    enum { OPT_KEEP = EP_OPT_LOCAL, OPT_JSON, OPT_KEEP_FIELDS, OPT_PART };
    static const struct option longopts[] = {EP_CLI_RUN_OPTIONS,
                                             {"keep", required_argument, 0, OPT_KEEP},
                                             {"keep-fields", required_argument, 0, OPT_KEEP_FIELDS},
                                             {"part", required_argument, 0, OPT_PART},
                                             {"json", no_argument, 0, OPT_JSON},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    ep_run_options o = ep_run_options_default();
    o.model_dir = NULL;
    o.discard = true;
    ep_cli_progress pr = {.mode = EP_PROGRESS_NONE, .quiet = true}; /* the table or JSON says it all */
    bool json = false;
    ep_error err = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:d:t:f:h", longopts, NULL)) != -1) {
        int shared = ep_cli_run_option(c, optarg, &o);
        if (shared < 0) return EP_EXIT_USAGE;
        if (shared) continue;
        switch (c) {
        case OPT_KEEP:
            o.out_dir = optarg;
            o.discard = false;
            o.overwrite = true; /* a benchmark measures a whole run, never a resume */
            break;
        case OPT_JSON: json = true; break;
        case OPT_KEEP_FIELDS: o.keep = optarg; break;
        case OPT_PART:
            if (ep_cli_parse_part(optarg, &o.part_index, &o.part_count)) return EP_EXIT_USAGE;
            break;
        case 'h': bench_usage(stdout); return EP_EXIT_OK;
        default: bench_usage(stderr); return EP_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "embedpipe bench: no INPUT given\n\n");
        bench_usage(stderr);
        return EP_EXIT_USAGE;
    }
    char **inputs = NULL;
    size_t n_inputs = 0;
    if (ep_cli_expand_inputs(argv + optind, argc - optind, "*", &inputs, &n_inputs)) return EP_EXIT_USAGE;
    o.inputs = (const char *const *)inputs;
    o.n_inputs = n_inputs;
    if (!o.model_dir && !(o.model_dir = ep_cli_default_model())) {
        ep_cli_free_inputs(inputs, n_inputs);
        return EP_EXIT_FAILURE;
    }

    ep_run_install_signal_handlers();
    ep_cli_progress_attach(&pr, &o);
    ep_run_summary sum;
    const double cpu0 = process_cpu();
    ep_status st = ep_run(&o, &sum, &err);
    const double cpu = process_cpu() - cpu0;
    if (st != EP_OK && st != EP_ERR_INTERRUPTED) {
        ep_cli_free_inputs(inputs, n_inputs);
        return ep_cli_report(&err);
    }
    const int threads = resolved_threads(o.threads);
    int rc = json ? print_json(&o, &sum, threads, st == EP_ERR_INTERRUPTED, cpu) : EP_EXIT_OK;
    if (!json) print_table(&o, &sum, threads, st == EP_ERR_INTERRUPTED, cpu);
    fflush(stdout);
    if (st == EP_ERR_INTERRUPTED) rc = ep_cli_report(&err);
    ep_cli_free_inputs(inputs, n_inputs);
    return rc;
}
