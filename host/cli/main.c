/* main.c - `embedpipe COMMAND ...`: dispatch to the commands in cli_*.c. */
#include "cli.h"
#include "setting_names.h"
#include "settings.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f,
            "embedpipe %s - embed text archives with sentence-transformers models, offline, fast.\n"
            "\n"
            "Usage: embedpipe COMMAND [OPTIONS]\n"
            "\n"
            "Commands:\n"
            "  embed INPUT... -o DIR   embed records into float16 shards + manifest (see embed --help)\n"
            "  tokenize [TEXT...]      print WordPiece token ids (texts from stdin when none given)\n"
            "  inspect DIR             summarise an output folder\n"
            "  verify DIR              check every shard of an output folder against its manifest\n"
            "  search DIR QUERY        the rows of an output folder most similar to a query\n"
            "  similar DIR QUERY|--id ID|--row N   the rows nearest a text, a record or a row\n"
            "  related DIR -k K        the exact K nearest neighbours of every row, kept in DIR\n"
            "  duplicates DIR          groups of near-identical (or, --exact, identical) texts\n"
            "  cluster DIR [-k K]      spherical k-means: each row's cluster, a report with words\n"
            "  map DIR [--html F]      a 2D map of the rows (UMAP or PCA), kept in DIR; an HTML page, a PNG\n"
            "  merge PART... -o DIR    join the folders of an `embed --part I/N` job into one\n"
            "  export DIR --to FMT     write the rows as one plain .npy or one NDJSON line per row\n"
            "  bench INPUT...          run the pipeline, print per-stage busy times and throughput\n"
            "  info [--json]           what this machine gets: CPU kernels, --precision auto, CUDA\n"
            "  version                 print the version\n"
            "\n"
            "Run `embedpipe COMMAND --help` for the options of a command.\n"
            "\n"
            "Exit codes:\n"
            "  0    success (records that could not be used are listed in DIR/errors.ndjson)\n"
            "  1    failure: the model, the device, an input or the output could not be used\n"
            "  2    usage error: unknown command or option, bad value\n"
            "  3    verify found a mismatch between the shards and the manifest; embed found a different\n"
            "       run in DIR; merge found parts that do not make up one complete job\n"
            "  4    partial: embed found a damaged input (truncated or corrupt); every record before the\n"
            "       damage was embedded and the damage is in DIR/errors.ndjson; the other inputs were read\n"
            "  5    another embedpipe process is writing DIR (embed, merge, export into DIR, related, cluster):\n"
            "       only one may write a folder at a time; the message names it (pid, command, start time)\n"
            "  130  interrupted\n"
            "\n"
            "Environment: EMBEDPIPE_MODEL  default model folder (else models/all-MiniLM-L6-v2)\n",
            ep_version());
}

/* How the command line spells the settings that library messages name (setting_names.h). */
static const char *const flag_names[EP_SETTING_COUNT] = {
    [EP_SETTING_FORMAT] = "--format",
    [EP_SETTING_TEXT_PATH] = "--text",
    [EP_SETTING_ID_PATH] = "--id",
    [EP_SETTING_MAX_RECORD_BYTES] = "--max-record-bytes",
    [EP_SETTING_MAX_SEQ_LENGTH] = "--max-seq-length",
    [EP_SETTING_SHARD_ROWS] = "--shard-rows",
    [EP_SETTING_SKIP_BLANK] = "--skip-blank",
    [EP_SETTING_PART] = "--part",
    [EP_SETTING_OVERWRITE] = "--overwrite",
    [EP_SETTING_REUSE] = "--reuse",
    [EP_SETTING_KEEP] = "--keep",
    [EP_SETTING_CLEAN] = "--clean",
    [EP_SETTING_PRECISION] = "--precision",
    [EP_SETTING_MIN_DIST] = "--min-dist",
    [EP_SETTING_SPREAD] = "--spread",
    [EP_SETTING_THREADS] = "--threads",
    [EP_SETTING_PNG_SIZE] = "--png-size",
    [EP_SETTING_DIM] = "--dim",
    [EP_SETTING_PROMPT] = "--prompt",
    [EP_SETTING_PROMPT_TEXT] = "--prompt-text",
    [EP_SETTING_NO_TEXT] = "--no-text",
    [EP_SETTING_OUT_DIR] = "-o",
    [EP_SETTING_EXPORT_TO] = "--to",
    [EP_SETTING_DB] = "--db",
    [EP_SETTING_COLLECTION] = "--collection",
    [EP_SETTING_MEMORY] = "--memory",
    [EP_SETTING_DEVICE] = "--device",
};

int main(int argc, char **argv) {
    ep_setting_names_use(flag_names);
    if (argc < 2) {
        usage(stderr);
        return EP_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    // a malformed EMBEDPIPE_* value is ignored; say so once, here, as library code does not print
    if (ep_settings_get()->problem[0]) fprintf(stderr, "embedpipe: %s\n", ep_settings_get()->problem);
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return EP_EXIT_OK;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("embedpipe %s\n", ep_version());
        return EP_EXIT_OK;
    }
    if (strcmp(cmd, "embed") == 0) return ep_cli_embed(argc - 1, argv + 1);
    if (strcmp(cmd, "tokenize") == 0) return ep_cli_tokenize(argc - 1, argv + 1);
    if (strcmp(cmd, "inspect") == 0) return ep_cli_inspect(argc - 1, argv + 1);
    if (strcmp(cmd, "verify") == 0) return ep_cli_verify(argc - 1, argv + 1);
    if (strcmp(cmd, "search") == 0) return ep_cli_search(argc - 1, argv + 1);
    if (strcmp(cmd, "merge") == 0) return ep_cli_merge(argc - 1, argv + 1);
    if (strcmp(cmd, "export") == 0) return ep_cli_export(argc - 1, argv + 1);
    if (strcmp(cmd, "similar") == 0) return ep_cli_similar(argc - 1, argv + 1);
    if (strcmp(cmd, "related") == 0) return ep_cli_related(argc - 1, argv + 1);
    if (strcmp(cmd, "duplicates") == 0) return ep_cli_duplicates(argc - 1, argv + 1);
    if (strcmp(cmd, "cluster") == 0) return ep_cli_cluster(argc - 1, argv + 1);
    if (strcmp(cmd, "map") == 0) return ep_cli_map(argc - 1, argv + 1);
    if (strcmp(cmd, "bench") == 0) return ep_cli_bench(argc - 1, argv + 1);
    if (strcmp(cmd, "info") == 0) return ep_cli_info(argc - 1, argv + 1);
    fprintf(stderr, "embedpipe: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return EP_EXIT_USAGE;
}
