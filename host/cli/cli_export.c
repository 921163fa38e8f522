/* cli_export.c - `embedpipe export OUT --to npy|ndjson [-o FILE]` or `--to llm --db FILE --collection NAME`:
 * the rows in formats other tools read. */
#include "cli.h"
#include "export.h"
#include "export_llm.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void export_usage(FILE *f) {
    fprintf(f,
            "Usage: embedpipe export OUT --to npy|ndjson [-o FILE]\n"
            "       embedpipe export OUT --to llm --db FILE --collection NAME [--model-id ID]\n"
            "\n"
            "Writes the rows of the output folder OUT, in row order, as\n"
            "  npy     one uncompressed .npy file, float16 '<f2', shape (rows, dim), which numpy can\n"
            "          memory-map: numpy.load(FILE, mmap_mode='r')\n"
            "  ndjson  one JSON line per row: {\"id\": ..., \"file\": ..., \"line\": ..., \"vector\": [...]}, each\n"
            "          value the shortest decimal that reads back to the same float\n"
            "  llm     collection NAME of the SQLite database FILE in the schema of `llm` (llm.datasette.io),\n"
            "          for `llm similar NAME --id ID`, `llm-cluster`, and `llm similar NAME -c TEXT` with\n"
            "          the llm-embedpipe plugin; running it again writes only rows whose text changed%s\n"
            "Row i of the export is row i of the run (the i-th line of the ids files); shards are read\n"
            "one at a time, so memory stays small however large OUT is. A folder holding one part of a\n"
            "--part job, or an unfinished run, exports the rows it holds (with a warning).\n"
            "\n"
            "Options:\n"
            "      --to FORMAT    npy | ndjson (required)\n"
            "  -o, --output FILE  where to write [OUT/vectors.npy or OUT/vectors.ndjson]; '-' = standard\n"
            "                     output. A file appears complete or not at all.\n"
            "      --db FILE      (llm) the database, created when missing\n"
            "      --collection NAME  (llm) the collection, created when missing\n"
            "      --model-id ID  (llm) the collection's model [embedpipe/MODEL, the plugin's id]\n"
            "  -q, --quiet        no summary on stderr\n"
            "  -h, --help         this help\n"
            "\n"
            "Exit codes: 0 written; 1 a file could not be read or written; 2 usage error;\n"
            "3 a shard disagrees with manifest.json (run `embedpipe verify OUT`); 5 FILE is inside OUT\n"
            "and another embedpipe process is writing OUT, or the llm collection holds another model's\n"
            "vectors.\n",
            ep_export_llm_available() ? "" : "\n          (not in this build: it was made without SQLite)");
}

/* `--to llm`: the rows into an llm embeddings database. @return the exit code. */
static int export_to_llm(const char *dir, const ep_export_llm_options *llm, bool quiet) {
    if (!llm->db_path || !llm->collection) {
        fprintf(stderr, "embedpipe export: --to llm needs --db FILE and --collection NAME\n\n");
        export_usage(stderr);
        return EP_EXIT_USAGE;
    }
    ep_error err = {0};
    ep_export_llm_summary sum;
    if (ep_export_llm(dir, llm, &sum, &err) != EP_OK) return ep_cli_report(&err);
    if (!quiet) {
        if (!sum.complete)
            fprintf(stderr, "embedpipe: warning: %s is an unfinished run or one part of a --part job; the export "
                            "holds only its %llu rows\n", dir, (unsigned long long)sum.rows);
        fprintf(stderr, "embedpipe: collection '%s' (model %s) of %s: %llu rows written, %llu unchanged\n",
                llm->collection, sum.model_id, llm->db_path, (unsigned long long)sum.written,
                (unsigned long long)sum.unchanged);
    }
    return EP_EXIT_OK;
}

int ep_cli_export(int argc, char **argv) {
    enum { OPT_TO = 256, OPT_DB, OPT_COLLECTION, OPT_MODEL_ID };
    static const struct option longopts[] = {{"to", required_argument, 0, OPT_TO},
                                             {"db", required_argument, 0, OPT_DB},
                                             {"collection", required_argument, 0, OPT_COLLECTION},
                                             {"model-id", required_argument, 0, OPT_MODEL_ID},
                                             {"output", required_argument, 0, 'o'},
                                             {"quiet", no_argument, 0, 'q'},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    const char *to = NULL, *path = NULL;
    ep_export_llm_options llm = {0};
    bool quiet = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:qh", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_TO: to = optarg; break;
        case 'o': path = optarg; break;
        case OPT_DB: llm.db_path = optarg; break;
        case OPT_COLLECTION: llm.collection = optarg; break;
        case OPT_MODEL_ID: llm.model_id = optarg; break;
        case 'q': quiet = true; break;
        case 'h': export_usage(stdout); return EP_EXIT_OK;
        default: export_usage(stderr); return EP_EXIT_USAGE;
        }
    }
    if (optind + 1 != argc || !to) {
        fprintf(stderr, "embedpipe export: %s\n\n",
                optind >= argc ? "no output folder given" : optind + 1 < argc ? "give one folder" : "--to is required");
        export_usage(stderr);
        return EP_EXIT_USAGE;
    }
    const char *dir = argv[optind];
    ep_error err = {0};
    if (strcmp(to, "llm") == 0) {
        if (path) {
            fprintf(stderr, "embedpipe export: --to llm writes --db FILE, not -o\n");
            return EP_EXIT_USAGE;
        }
        return export_to_llm(dir, &llm, quiet);
    }
    if (llm.db_path || llm.collection || llm.model_id) {
        fprintf(stderr, "embedpipe export: --db, --collection and --model-id go with --to llm\n");
        return EP_EXIT_USAGE;
    }
    ep_export_format format;
    if (ep_export_format_parse(to, &format, &err) != EP_OK) return ep_cli_report(&err);
    char default_path[4352];
    if (!path) {
        snprintf(default_path, sizeof default_path, "%s/vectors.%s", dir, ep_export_format_name(format));
        path = default_path;
    }
    if (strcmp(path, "-") == 0 && format == EP_EXPORT_NPY && isatty(STDOUT_FILENO)) {
        fprintf(stderr, "embedpipe export: not writing a binary .npy to a terminal; redirect it or use -o FILE\n");
        return EP_EXIT_USAGE;
    }
    ep_export_summary sum;
    if (ep_export(dir, format, path, &sum, &err) != EP_OK) return ep_cli_report(&err);
    if (!quiet) {
        if (!sum.complete)
            fprintf(stderr, "embedpipe: warning: %s is an unfinished run or one part of a --part job; the export "
                            "holds only its %llu rows\n", dir, (unsigned long long)sum.rows);
        fprintf(stderr, "embedpipe: wrote %llu rows x %d (%s, %.1f MB) from %zu shard%s to %s\n",
                (unsigned long long)sum.rows, sum.dim, ep_export_format_name(format), sum.bytes / 1e6, sum.shards,
                sum.shards == 1 ? "" : "s", strcmp(path, "-") == 0 ? "standard output" : path);
    }
    return EP_EXIT_OK;
}
