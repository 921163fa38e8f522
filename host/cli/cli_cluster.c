/* cli_cluster.c - `embedpipe cluster DIR [-k K]`: spherical k-means, each row's cluster and a report, kept in DIR. */
#include "cli.h"
#include "cluster_report.h"
#include "derived.h"
#include "folder_lock.h"
#include "kmeans.h"
#include "manifest.h"
#include "neighbours.h"
#include "output_reader.h"
#include "search.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void cluster_usage(FILE *f) {
    fprintf(f,
            "Usage: embedpipe cluster DIR [OPTIONS]\n"
            "\n"
            "Groups the rows of DIR by spherical k-means (k-means++ seeding, assignment by a matrix\n"
            "product with the centroids, the same result for a seed and thread count) and writes:\n"
            "  DIR/cluster-labels.npy.zst     int32 (rows,): each row's cluster\n"
            "  DIR/cluster-scores.npy.zst     float32 (rows,): its cosine to the cluster's centroid\n"
            "  DIR/cluster-centroids.npy.zst  float32 (K, dim): the unit-length centroids\n"
            "  DIR/cluster-report.json        per cluster, largest first: size, share, mean cosine,\n"
            "                                 distinctive words (c-TF-IDF over the kept texts, stop words\n"
            "                                 of en/es/fr/de/it/pt dropped) and the rows nearest its centroid\n"
            "listed in DIR/derived.json for `verify`. The summary on the terminal says when the sizes\n"
            "are very uneven and suggests a k. Words need texts kept in the folder; without them the\n"
            "report says so and lists none, and shows the nearest rows' texts read again from the run's\n"
            "inputs while they are unchanged (as `search` does). Memory: all rows as float32\n"
            "(rows x dim x 4 bytes).\n"
            "\n"
            "Options (default in brackets):\n"
            "  -k, --clusters K     clusters [sqrt(rows / 2), between 2 and 1000]\n"
            "      --iterations N   at most N updates (fewer once no row changes cluster) [25]\n"
            "      --seed N         seed of the k-means++ seeding [1]\n"
            "      --words N        words per cluster in the report [8]\n"
            "      --show N         clusters in the terminal summary, 0 for all [10]\n"
            "      --json           print the report's JSON instead of the summary\n"
            "  -t, --threads N      threads [all cores]\n"
            "  -h, --help           this help\n");
}

/* Each row's kept text and id (malloc'd; texts NULL when the folder keeps none). */
static ep_status read_texts(ep_output_reader *r, uint64_t n, char ***texts_out, char ***ids_out, ep_error *err) {
    const ep_manifest *m = ep_output_manifest(r);
    char **texts = calloc((size_t)n + 1, sizeof(char *)), **ids = calloc((size_t)n + 1, sizeof(char *));
    bool any_text = false;
    ep_status st = texts && ids ? EP_OK : ep_error_set(err, EP_ERR_NOMEM, "out of memory");
    for (size_t s = 0; s < m->n_shards && st == EP_OK; s++) {
        ep_output_shard shard;
        st = ep_output_read_shard(r, s, EP_OUTPUT_IDS, &shard, err);
        for (size_t i = 0; st == EP_OK && i < shard.n_rows; i++) {
            uint64_t row = shard.info->first_row + i;
            if (shard.meta[i].id && shard.meta[i].id[0]) ids[row] = strdup(shard.meta[i].id);
            if (shard.meta[i].text) {
                texts[row] = strdup(shard.meta[i].text);
                any_text = true;
            }
        }
        ep_output_shard_free(&shard);
    }
    if (st == EP_OK && !any_text) {
        free(texts);
        texts = NULL;
    }
    *texts_out = texts;
    *ids_out = ids;
    return st;
}

/* Without kept texts: the texts of the rows the report shows, read again from the run's inputs while they
 * are unchanged (as `search` does); a sparse array of n entries, or NULL when none could be read. */
static char **shown_texts(const char *dir, const ep_kmeans_result *km, uint64_t n) {
    enum { NEAR = 3 };
    uint64_t *near = NULL;
    ep_error err = {0};
    if (ep_cluster_nearest(km, NEAR, &near, &err) != EP_OK) return NULL;
    int count = 0;
    for (size_t i = 0; i < (size_t)km->k * NEAR; i++)
        if (near[i] != UINT64_MAX) near[count++] = near[i];
    char **texts = calloc((size_t)count + 1, sizeof(char *)), **ids = calloc((size_t)count + 1, sizeof(char *));
    char **shown = calloc((size_t)n + 1, sizeof(char *));
    char *why = NULL;
    bool any = false;
    if (texts && ids && shown && ep_search_fetch_texts(dir, near, count, texts, ids, &why, &err) == EP_OK)
        for (int i = 0; i < count; i++) {
            shown[near[i]] = texts[i];
            any |= texts[i] != NULL;
            texts[i] = NULL;
        }
    if (why) fprintf(stderr, "embedpipe: texts not shown: %s\n", why);
    for (int i = 0; texts && ids && i < count; i++) {
        free(texts[i]);
        free(ids[i]);
    }
    free(texts);
    free(ids);
    free(why);
    free(near);
    if (!any) {
        free(shown);
        return NULL;
    }
    return shown;
}

static void free_strings(char **s, uint64_t n) {
    for (uint64_t i = 0; s && i < n; i++) free(s[i]);
    free(s);
}

/* What the command line asks for. */
typedef struct cluster_args {
    size_t k, iterations, seed, words, show, threads;
    bool json;
    const char *dir;
} cluster_args;

/* Parses the command line into a. @return -1 to go on, else the exit code (help printed, or a usage error). */
static int parse_args(int argc, char **argv, cluster_args *a) {
    enum { OPT_ITER = EP_OPT_LOCAL, OPT_SEED, OPT_WORDS, OPT_SHOW, OPT_JSON };
    static const struct option longopts[] = {
        {"clusters", required_argument, 0, 'k'}, {"iterations", required_argument, 0, OPT_ITER},
        {"seed", required_argument, 0, OPT_SEED}, {"words", required_argument, 0, OPT_WORDS},
        {"show", required_argument, 0, OPT_SHOW}, {"json", no_argument, 0, OPT_JSON},
        {"threads", required_argument, 0, 't'},  {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    *a = (cluster_args){.k = 0, .iterations = 25, .seed = 1, .words = 8, .show = 10, .threads = 0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "k:t:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'k':
            if (ep_cli_parse_size("--clusters", optarg, &a->k) || a->k < 1 || a->k > 100000) {
                fprintf(stderr, "embedpipe: -k must be between 1 and 100000\n");
                return EP_EXIT_USAGE;
            }
            break;
        case OPT_ITER:
            if (ep_cli_parse_range("--iterations", optarg, 1, 10000, &a->iterations)) return EP_EXIT_USAGE;
            break;
        case OPT_SEED:
            if (ep_cli_parse_size("--seed", optarg, &a->seed)) return EP_EXIT_USAGE;
            break;
        case OPT_WORDS:
            if (ep_cli_parse_range("--words", optarg, 1, 100, &a->words)) return EP_EXIT_USAGE;
            break;
        case OPT_SHOW:
            if (ep_cli_parse_size("--show", optarg, &a->show)) return EP_EXIT_USAGE;
            break;
        case OPT_JSON: a->json = true; break;
        case 't':
            if (ep_cli_parse_range("--threads", optarg, 0, 1024, &a->threads)) return EP_EXIT_USAGE;
            break;
        case 'h': cluster_usage(stdout); return EP_EXIT_OK;
        default: cluster_usage(stderr); return EP_EXIT_USAGE;
        }
    }
    a->dir = ep_cli_one_folder(argc, argv, cluster_usage);
    return a->dir ? -1 : EP_EXIT_USAGE;
}

/* Reads every row and runs k-means on them; *seconds: the time k-means took. */
static ep_status cluster_rows(ep_output_reader *r, const ep_manifest *m, const cluster_args *a, ep_kmeans_result *km,
                              double *seconds, ep_error *err) {
    const uint64_t n = m->records_embedded;
    float *x = malloc(sizeof(float) * (size_t)(n ? n : 1) * (size_t)m->dim);
    ep_status st = x ? EP_OK : ep_error_set(err, EP_ERR_NOMEM, "cluster: out of memory for %llu rows of %d floats",
                                            (unsigned long long)n, m->dim);
    if (st == EP_OK) st = ep_explore_read_rows(r, 0, n, x, err);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ep_kmeans_options o = {.k = (int)a->k, .iterations = (int)a->iterations, .seed = a->seed,
                           .threads = (int)a->threads};
    if (st == EP_OK) st = ep_kmeans_run(x, n, m->dim, &o, km, err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    free(x);
    *seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    return st;
}

/* Writes the labels, scores, centroids and report into DIR and lists them in derived.json. */
static ep_status write_files(const cluster_args *a, const ep_manifest *m, const ep_kmeans_result *km,
                             const char *report, ep_error *err) {
    const uint64_t n = m->records_embedded;
    ep_derived_file files[4];
    ep_status st = ep_derived_write_array(a->dir, &(ep_derived_array){"cluster-labels.npy.zst", 'i', n, 0, km->labels},
                                          &files[0], err);
    if (st == EP_OK)
        st = ep_derived_write_array(a->dir, &(ep_derived_array){"cluster-scores.npy.zst", 'f', n, 0, km->scores},
                                    &files[1], err);
    if (st == EP_OK)
        st = ep_derived_write_array(a->dir,
                                    &(ep_derived_array){"cluster-centroids.npy.zst", 'f', (uint64_t)km->k,
                                                        (uint64_t)km->dim, km->centroids},
                                    &files[2], err);
    if (st == EP_OK) st = ep_derived_write_text(a->dir, "cluster-report.json", report, &files[3], err);
    char settings[160];
    snprintf(settings, sizeof settings, "{\"k\": %d, \"iterations\": %zu, \"seed\": %zu, \"threads\": %zu}", km->k,
             a->iterations, a->seed, a->threads);
    if (st == EP_OK) st = ep_derived_index_update(a->dir, m, "cluster", settings, files, 4, err);
    return st;
}

int ep_cli_cluster(int argc, char **argv) {
    cluster_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) return rc;
    ep_folder_lock *lock = NULL;
    ep_manifest *m = NULL;
    rc = ep_cli_open_for_derived(a.dir, &lock, &m);
    if (rc != EP_EXIT_OK) return rc;
    ep_error err = {0};
    ep_output_reader *r = NULL;
    char **texts = NULL, **ids = NULL, **shown = NULL, *report = NULL, *summary = NULL;
    ep_kmeans_result km = {0};
    const uint64_t n = m->records_embedded;
    double seconds = 0;
    ep_status st = ep_output_open(a.dir, &r, &err);
    if (st == EP_OK) st = cluster_rows(r, m, &a, &km, &seconds, &err);
    if (st == EP_OK) st = read_texts(r, n, &texts, &ids, &err);
    if (st == EP_OK && !texts) shown = shown_texts(a.dir, &km, n);
    ep_cluster_report_input in = {.km = &km, .texts = (const char *const *)texts, .ids = (const char *const *)ids,
                                  .shown = (const char *const *)shown, .seed = a.seed, .nearest = 3,
                                  .words = (int)a.words};
    if (st == EP_OK) st = ep_cluster_report(&in, (int)a.show, &report, &summary, &err);
    if (st == EP_OK) st = write_files(&a, m, &km, report, &err);
    if (st != EP_OK) {
        rc = ep_cli_report(&err);
    } else {
        fputs(a.json ? report : summary, stdout);
        fprintf(stderr, "embedpipe: k-means of %llu rows into %d clusters in %.2f s -> %s/cluster-*.npy.zst, "
                "cluster-report.json\n", (unsigned long long)n, km.k, seconds, a.dir);
    }
    free(report);
    free(summary);
    free_strings(texts, n);
    free_strings(ids, n);
    free_strings(shown, n);
    ep_kmeans_free(&km);
    ep_output_close(r);
    ep_folder_lock_free(lock);
    ep_manifest_free(m);
    return rc;
}
