/* cli_merge.c - `embedpipe merge PART_DIR... -o OUT`: join the parts of a --part I/N job. */
#include "cli.h"
#include "merge.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void merge_usage(FILE *f) {
    fprintf(f,
            "Usage: embedpipe merge PART_DIR... -o OUT [OPTIONS]\n"
            "\n"
            "Joins the output folders of the N runs of an `embedpipe embed --part I/N` job into OUT, which\n"
            "then holds exactly what one `embedpipe embed` of the whole input writes, byte for byte:\n"
            "shards, ids files, errors.ndjson and manifest.json.\n"
            "Before writing anything it checks that every part 0..N-1 is given once, that each run is\n"
            "complete, that all come from the same job (model, options, input paths and sizes), that\n"
            "their errors.ndjson files are identical, and (unless --no-verify) every shard's checksums.\n"
            "Shards are hard-linked into OUT when it is on the same filesystem as the part, else copied.\n"
            "Running the same merge again is safe: an OUT that holds it already is left alone, and what\n"
            "an interrupted merge left in OUT is replaced.\n"
            "\n"
            "Options:\n"
            "  -o, --output OUT   merged output folder, created if missing (required)\n"
            "      --overwrite    replace whatever output OUT holds\n"
            "      --copy         copy shards even where a hard link is possible\n"
            "      --no-verify    do not decompress the parts' shards (their sizes and SHA-256 are still checked)\n"
            "  -q, --quiet        no summary on stderr\n"
            "  -h, --help         this help\n"
            "\n"
            "Exit codes: 0 merged; 1 a folder could not be read or written; 2 usage error;\n"
            "3 the parts do not make up one complete job (the message names the part and the problem),\n"
            "or OUT already holds another output; 5 another embedpipe process is writing OUT.\n");
}

int ep_cli_merge(int argc, char **argv) {
    enum { OPT_OVERWRITE = 256, OPT_COPY, OPT_NO_VERIFY };
    static const struct option longopts[] = {{"output", required_argument, 0, 'o'},
                                             {"overwrite", no_argument, 0, OPT_OVERWRITE},
                                             {"copy", no_argument, 0, OPT_COPY},
                                             {"no-verify", no_argument, 0, OPT_NO_VERIFY},
                                             {"quiet", no_argument, 0, 'q'},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    ep_merge_options o = {0};
    bool quiet = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': o.out_dir = optarg; break;
        case OPT_OVERWRITE: o.overwrite = true; break;
        case OPT_COPY: o.copy = true; break;
        case OPT_NO_VERIFY: o.skip_verify = true; break;
        case 'q': quiet = true; break;
        case 'h': merge_usage(stdout); return EP_EXIT_OK;
        default: merge_usage(stderr); return EP_EXIT_USAGE;
        }
    }
    if (optind >= argc || !o.out_dir) {
        fprintf(stderr, "embedpipe merge: %s\n\n", optind >= argc ? "no PART_DIR given" : "no output folder (-o OUT)");
        merge_usage(stderr);
        return EP_EXIT_USAGE;
    }
    o.parts = (const char *const *)(argv + optind);
    o.n_parts = (size_t)(argc - optind);
    ep_error err = {0};
    ep_merge_summary sum;
    if (ep_merge(&o, &sum, &err) != EP_OK) return ep_cli_report(&err);
    if (!quiet && sum.already_merged)
        fprintf(stderr, "embedpipe: %s already holds this merge (%zu shards, %llu rows); nothing to do\n", o.out_dir,
                sum.shards, (unsigned long long)sum.rows);
    else if (!quiet)
        fprintf(stderr,
                "embedpipe: merged %d part%s into %s: %zu shard%s (%zu hard-linked, %zu copied), %llu rows, "
                "%llu records read, %llu rejected\n",
                sum.part_count, sum.part_count == 1 ? "" : "s", o.out_dir, sum.shards, sum.shards == 1 ? "" : "s",
                sum.linked, sum.copied, (unsigned long long)sum.rows, (unsigned long long)sum.records_read,
                (unsigned long long)sum.records_rejected);
    return EP_EXIT_OK;
}
