/* cli_related.c - `embedpipe related DIR -k K`: the exact k nearest neighbours of every row, kept in DIR. */
#include "cli.h"
#include "derived.h"
#include "folder_lock.h"
#include "manifest.h"
#include "neighbours.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void related_usage(FILE *f) {
    fprintf(f,
            "Usage: embedpipe related DIR [OPTIONS]\n"
            "\n"
            "Finds the exact K nearest neighbours (by cosine) of every row of DIR, the row itself left\n"
            "out, ties to the smaller row, and writes them beside the shards:\n"
            "  DIR/related-rows.npy.zst    int32 (rows, K): neighbour rows, best first (-1: none)\n"
            "  DIR/related-scores.npy.zst  float32 (rows, K): their cosines\n"
            "listed with their SHA-256 in DIR/derived.json, so that `verify` checks them. A second run\n"
            "replaces them; a resumed or overwritten embed removes them. The work is a blocked matrix\n"
            "product of the rows with themselves on the CPU (the fast backend's AVX-512 / AVX2 GEMM\n"
            "kernels, one 1024 x 1024 tile per thread, only the tiles on and above the diagonal) in\n"
            "blocks of rows that fit --memory, so memory stays bounded whatever the folder's size.\n"
            "On a CUDA device the same product runs as cuBLASLt float16 GEMM tiles (float32 accumulation)\n"
            "with the top-k selection on the device; the neighbours are the CPU's, the scores within\n"
            "float32 rounding (docs/CUDA.md: so far run only under the CPU emulation of CUDA).\n"
            "\n"
            "Options (default in brackets):\n"
            "  -k, --top K          neighbours per row, 1-1000 [10]\n"
            "  -t, --threads N      threads [all cores]\n"
            "      --device D       auto, cpu, cuda or cuda:N; auto takes CUDA when a device is usable\n"
            "                       (and --precision bf16 is not asked for) [auto]\n"
            "      --memory MIB     memory for the row blocks (on CUDA: device memory), in MiB [2048]\n"
            "      --precision P    fp32: the product in float32, exact; bf16: candidates (2K per row) by a\n"
            "                       bfloat16 product (AMX, else AVX512-BF16), re-scored in float32: exact\n"
            "                       scores, but a neighbour can be missed. Without AMX it is not faster\n"
            "                       (docs/PERFORMANCE.md) [fp32]\n"
            "  -h, --help           this help\n");
}

/* Takes DIR's writers' lock and reads its manifest. @return EP_EXIT_OK or the exit code reported. */
int ep_cli_open_for_derived(const char *dir, ep_folder_lock **lock, ep_manifest **m) {
    ep_error err = {0};
    *m = NULL;
    // the lock first: the manifest read under it is the one the files will describe
    if (ep_folder_lock_create(dir, lock, &err) != EP_OK) return ep_cli_report(&err);
    if (ep_manifest_read(dir, m, &err) != EP_OK) {
        ep_folder_lock_free(*lock);
        *lock = NULL;
        return ep_cli_report(&err);
    }
    if (!(*m)->complete)
        fprintf(stderr, "embedpipe: note: %s holds an unfinished run; using the %llu rows it has\n", dir,
                (unsigned long long)(*m)->records_embedded);
    return EP_EXIT_OK;
}

/* What the command line asks for. */
typedef struct related_args {
    size_t k, threads, memory_mib;
    bool bf16;
    const char *device, *dir;
} related_args;

/* Parses the command line into a. @return -1 to go on, else the exit code (help printed, or a usage error). */
static int parse_args(int argc, char **argv, related_args *a) {
    static const struct option longopts[] = {{"top", required_argument, 0, 'k'},
                                             {"threads", required_argument, 0, 't'},
                                             {"memory", required_argument, 0, 'M'},
                                             {"precision", required_argument, 0, 'P'},
                                             {"device", required_argument, 0, 'D'},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    *a = (related_args){.k = 10, .threads = 0, .memory_mib = 2048, .device = "auto"};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "k:t:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'k':
            if (ep_cli_parse_range("--top", optarg, 1, 1000, &a->k)) return EP_EXIT_USAGE;
            break;
        case 't':
            if (ep_cli_parse_range("--threads", optarg, 0, 1024, &a->threads)) return EP_EXIT_USAGE;
            break;
        case 'M':
            if (ep_cli_parse_size("--memory", optarg, &a->memory_mib) || a->memory_mib < 1) {
                fprintf(stderr, "embedpipe: --memory must be at least 1 (MiB)\n");
                return EP_EXIT_USAGE;
            }
            break;
        case 'P':
            if (strcmp(optarg, "fp32") != 0 && strcmp(optarg, "bf16") != 0) {
                fprintf(stderr, "embedpipe: --precision must be fp32 or bf16\n");
                return EP_EXIT_USAGE;
            }
            a->bf16 = strcmp(optarg, "bf16") == 0;
            break;
        case 'D': a->device = optarg; break;
        case 'h': related_usage(stdout); return EP_EXIT_OK;
        default: related_usage(stderr); return EP_EXIT_USAGE;
        }
    }
    a->dir = ep_cli_one_folder(argc, argv, related_usage);
    return a->dir ? -1 : EP_EXIT_USAGE;
}

/* Writes the neighbour rows and scores into DIR and lists them in derived.json with the settings that made them. */
static ep_status write_files(const related_args *a, const ep_manifest *m, const ep_neighbours *nb, ep_error *err) {
    ep_derived_file files[2];
    ep_status st = ep_derived_write_array(
        a->dir, &(ep_derived_array){"related-rows.npy.zst", 'i', nb->n_rows, (uint64_t)a->k, nb->rows}, &files[0], err);
    if (st == EP_OK)
        st = ep_derived_write_array(
            a->dir, &(ep_derived_array){"related-scores.npy.zst", 'f', nb->n_rows, (uint64_t)a->k, nb->scores},
            &files[1], err);
    char settings[128];
    char device_name[16] = "cpu";
    if (nb->cuda_device >= 0) snprintf(device_name, sizeof device_name, "cuda:%d", nb->cuda_device);
    // CUDA multiplies the float16 rows with float32 accumulation: "fp16", as embed --precision names it
    snprintf(settings, sizeof settings, "{\"k\": %zu, \"precision\": \"%s\", \"device\": \"%s\"}", a->k,
             nb->cuda_device >= 0 ? "fp16" : nb->used_bf16 ? "bf16" : "fp32", device_name);
    if (st == EP_OK) st = ep_derived_index_update(a->dir, m, "related", settings, files, 2, err);
    return st;
}

int ep_cli_related(int argc, char **argv) {
    related_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) return rc;
    ep_folder_lock *lock = NULL;
    ep_manifest *m = NULL;
    rc = ep_cli_open_for_derived(a.dir, &lock, &m);
    if (rc != EP_EXIT_OK) return rc;
    ep_error err = {0};
    ep_neighbours nb = {0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ep_neighbours_options o = {.k = (int)a.k, .threads = (int)a.threads, .memory_bytes = a.memory_mib << 20,
                               .bf16 = a.bf16, .device = a.device};
    ep_status st = ep_neighbours_compute(a.dir, &o, &nb, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (nb.note[0]) fprintf(stderr, "embedpipe: note: --precision bf16: %s\n", nb.note);
    if (st == EP_OK) st = write_files(&a, m, &nb, &err);
    if (st != EP_OK) {
        rc = ep_cli_report(&err);
    } else {
        double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
        char where[32];
        if (nb.cuda_device >= 0) snprintf(where, sizeof where, "CUDA device %d", nb.cuda_device);
        else snprintf(where, sizeof where, "the CPU");
        fprintf(stderr, "embedpipe: %llu rows x %zu neighbours in %.2f s on %s -> %s/related-rows.npy.zst, "
                "related-scores.npy.zst\n", (unsigned long long)nb.n_rows, a.k, s, where, a.dir);
    }
    ep_neighbours_free(&nb);
    ep_folder_lock_free(lock);
    ep_manifest_free(m);
    return rc;
}
