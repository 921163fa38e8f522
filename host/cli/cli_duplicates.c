/* cli_duplicates.c - `embedpipe duplicates DIR`: groups of near-identical (or identical) texts. */
#include "cli.h"
#include "derived.h"
#include "duplicates.h"
#include "neighbours.h"
#include "output_reader.h"
#include "search.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void duplicates_usage(FILE *f) {
    fprintf(f,
            "Usage: embedpipe duplicates DIR [OPTIONS]\n"
            "\n"
            "Groups the rows of DIR whose texts are near-identical: the connected components of the\n"
            "pairs of neighbours with a cosine of at least --threshold, largest first, with their size\n"
            "and an example text. The neighbours come from DIR/related-rows.npy.zst when `embedpipe\n"
            "related` wrote it, else they are computed (and not kept) with -k neighbours per row.\n"
            "--exact also groups identical texts, by the text hash each row's ids line records.\n"
            "\n"
            "Options (default in brackets):\n"
            "      --threshold S  lowest cosine that joins two rows [0.95]\n"
            "  -k, --top K        neighbours per row when they are computed here [10]\n"
            "      --exact        also list groups of exactly equal texts\n"
            "      --show N       groups printed (JSON lists all) [20]\n"
            "      --json         one JSON object on standard output\n"
            "  -t, --threads N    threads [all cores]\n"
            "  -h, --help         this help\n");
}

/* The id and text (kept, or read again from the unchanged input) of one row; malloc'd, NULL when absent. */
static void example_of(const char *dir, ep_output_reader *r, uint64_t row, char **id, char **text) {
    *id = *text = NULL;
    ep_error err = {0};
    size_t s = ep_output_shard_of_row(r, row);
    ep_output_shard shard;
    if (s == SIZE_MAX || ep_output_read_shard(r, s, EP_OUTPUT_IDS, &shard, &err) != EP_OK) return;
    const ep_row_meta *meta = &shard.meta[row - shard.info->first_row];
    *id = strdup(meta->id ? meta->id : "");
    if (meta->text) *text = strdup(meta->text);
    ep_output_shard_free(&shard);
    if (*text) return;
    char *ids[1] = {NULL}, *texts[1] = {NULL}, *why = NULL;
    if (ep_search_fetch_texts(dir, &row, 1, texts, ids, &why, &err) == EP_OK) *text = texts[0];
    free(ids[0]);
    free(why);
}

/* One line of text, newlines and tabs as spaces, cut at 100 code points. */
static void print_snippet(const char *text) {
    int chars = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if ((*p & 0xC0) != 0x80 && ++chars > 100) {
            fputs("...", stdout);
            break;
        }
        putchar(*p == '\n' || *p == '\r' || *p == '\t' ? ' ' : *p);
    }
}

/* Group i of g as a JSON object: its size, lowest cosine, rows and example. */
static cJSON *group_json(const ep_groups *g, size_t i, const char *id, const char *text) {
    cJSON *e = cJSON_CreateObject();
    cJSON_AddNumberToObject(e, "size", (double)g->size[i]);
    cJSON_AddNumberToObject(e, "min_score", g->min_score[i]);
    cJSON *rows = cJSON_AddArrayToObject(e, "rows");
    for (uint64_t j = 0; j < g->size[i]; j++)
        cJSON_AddItemToArray(rows, cJSON_CreateNumber((double)g->rows[g->start[i] + j]));
    cJSON *ex = cJSON_AddObjectToObject(e, "example");
    cJSON_AddNumberToObject(ex, "row", (double)g->rows[g->start[i]]);
    cJSON_AddStringToObject(ex, "id", id ? id : "");
    if (text) cJSON_AddStringToObject(ex, "text", text);
    else cJSON_AddNullToObject(ex, "text");
    return e;
}

/* Adds the groups to list (JSON) and prints the first `show` of them. */
static void report_groups(const char *dir, ep_output_reader *r, const char *title, const ep_groups *g, size_t show,
                          bool json, cJSON *list) {
    if (!json)
        printf("%s: %zu group%s, %llu rows in them\n", title, g->n_groups, g->n_groups == 1 ? "" : "s",
               (unsigned long long)g->n_grouped);
    for (size_t i = 0; i < g->n_groups; i++) {
        bool shown = i < show;
        char *id = NULL, *text = NULL;
        if (json || shown) example_of(dir, r, g->rows[g->start[i]], &id, &text);
        if (json) {
            cJSON_AddItemToArray(list, group_json(g, i, id, text));
        } else if (shown) {
            printf("%4llu rows  (cosine >= %.3f)  row %llu", (unsigned long long)g->size[i], g->min_score[i],
                   (unsigned long long)g->rows[g->start[i]]);
            if (id && *id) printf(" id %s", id);
            if (text) {
                fputs("  ", stdout);
                print_snippet(text);
            }
            putchar('\n');
        }
        free(id);
        free(text);
    }
    if (!json && g->n_groups > show) printf("(%zu more groups: --show or --json)\n", g->n_groups - show);
}

/* What the command line asks for. */
typedef struct dup_args {
    double threshold;
    size_t k, show, threads;
    bool exact, json;
    const char *dir;
} dup_args;

/* Parses the command line into a. @return -1 to go on, else the exit code (help printed, or a usage error). */
static int parse_args(int argc, char **argv, dup_args *a) {
    enum { OPT_THRESHOLD = EP_OPT_LOCAL, OPT_EXACT, OPT_SHOW, OPT_JSON };
    static const struct option longopts[] = {
        {"threshold", required_argument, 0, OPT_THRESHOLD}, {"top", required_argument, 0, 'k'},
        {"exact", no_argument, 0, OPT_EXACT},               {"show", required_argument, 0, OPT_SHOW},
        {"json", no_argument, 0, OPT_JSON},                 {"threads", required_argument, 0, 't'},
        {"help", no_argument, 0, 'h'},                      {0, 0, 0, 0}};
    *a = (dup_args){.threshold = 0.95, .k = 10, .show = 20};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "k:t:h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_THRESHOLD: {
            char *end = NULL;
            a->threshold = strtod(optarg, &end);
            if (!end || *end || !(a->threshold > -1.0 && a->threshold <= 1.0)) {
                fprintf(stderr, "embedpipe: --threshold must be a cosine in (-1, 1]\n");
                return EP_EXIT_USAGE;
            }
            break;
        }
        case 'k':
            if (ep_cli_parse_range("--top", optarg, 1, 1000, &a->k)) return EP_EXIT_USAGE;
            break;
        case OPT_EXACT: a->exact = true; break;
        case OPT_SHOW:
            if (ep_cli_parse_size("--show", optarg, &a->show)) return EP_EXIT_USAGE;
            break;
        case OPT_JSON: a->json = true; break;
        case 't':
            if (ep_cli_parse_range("--threads", optarg, 0, 1024, &a->threads)) return EP_EXIT_USAGE;
            break;
        case 'h': duplicates_usage(stdout); return EP_EXIT_OK;
        default: duplicates_usage(stderr); return EP_EXIT_USAGE;
        }
    }
    a->dir = ep_cli_one_folder(argc, argv, duplicates_usage);
    return a->dir ? -1 : EP_EXIT_USAGE;
}

/* Every row's neighbours: related's kept files when derived.json lists them, else computed here (nb). */
typedef struct dup_neighbours {
    ep_neighbours nb;          /* computed here (kept == false) */
    void *kept_rows, *kept_scores;
    uint64_t rows, cols;       /* rows x cols neighbours */
    bool kept;
} dup_neighbours;

static ep_status read_neighbours(const dup_args *a, const ep_manifest *m, dup_neighbours *n, ep_error *err) {
    ep_status st = EP_OK;
    ep_derived_index idx;
    n->kept = ep_derived_index_read(a->dir, &idx, err) == EP_OK && ep_derived_listed(&idx, "related-rows.npy.zst");
    ep_derived_index_clear(&idx);
    if (n->kept) {
        uint64_t srows = 0, scols = 0;
        st = ep_derived_read_array(a->dir, m, "related-rows.npy.zst", 'i', &n->kept_rows, &n->rows, &n->cols, err);
        if (st == EP_OK)
            st = ep_derived_read_array(a->dir, m, "related-scores.npy.zst", 'f', &n->kept_scores, &srows, &scols, err);
        if (st == EP_OK && (n->rows != m->records_embedded || srows != n->rows || scols != n->cols || n->cols == 0))
            st = ep_error_set(err, EP_ERR_MISMATCH, "%s: the related files do not have one line per row: run "
                              "`embedpipe related %s` again", a->dir, a->dir);
    } else {
        st = ep_neighbours_compute(a->dir, &(ep_neighbours_options){.k = (int)a->k, .threads = (int)a->threads}, &n->nb,
                                   err);
        n->rows = n->nb.n_rows;
        n->cols = (uint64_t)n->nb.k;
    }
    return st;
}

static void dup_neighbours_free(dup_neighbours *n) {
    free(n->kept_rows);
    free(n->kept_scores);
    ep_neighbours_free(&n->nb);
}

/* The groups of rows whose texts hash the same (the hash each row's ids line records). */
static ep_status exact_groups(ep_output_reader *r, uint64_t rows, ep_groups *same, ep_error *err) {
    const ep_manifest *m = ep_output_manifest(r);
    uint64_t *hashes = malloc(sizeof(uint64_t) * (size_t)(rows ? rows : 1));
    ep_status st = hashes ? EP_OK : ep_error_set(err, EP_ERR_NOMEM, "out of memory");
    for (size_t s = 0; s < m->n_shards && st == EP_OK; s++) {
        ep_output_shard shard;
        st = ep_output_read_shard(r, s, EP_OUTPUT_IDS, &shard, err);
        for (size_t i = 0; st == EP_OK && i < shard.n_rows; i++)
            hashes[shard.info->first_row + i] = shard.meta[i].text_hash;
        ep_output_shard_free(&shard);
    }
    if (st == EP_OK) st = ep_groups_from_hashes(hashes, rows, same, err);
    free(hashes);
    return st;
}

/* Prints the groups, as text or as one JSON object. */
static void print_report(const dup_args *a, ep_output_reader *r, uint64_t rows, uint64_t cols, const ep_groups *near,
                         const ep_groups *same) {
    cJSON *root = a->json ? cJSON_CreateObject() : NULL;
    cJSON *list = NULL, *exact_list = NULL;
    if (root) {
        cJSON_AddNumberToObject(root, "rows", (double)rows);
        cJSON_AddNumberToObject(root, "threshold", a->threshold);
        cJSON_AddNumberToObject(root, "neighbours", (double)cols);
        list = cJSON_AddArrayToObject(root, "groups");
    }
    char title[128];
    snprintf(title, sizeof title, "near-duplicates (cosine >= %.3f, %llu neighbours per row)", a->threshold,
             (unsigned long long)cols);
    report_groups(a->dir, r, title, near, a->show, a->json, list);
    if (a->exact) {
        if (root) exact_list = cJSON_AddArrayToObject(root, "exact_groups");
        if (!a->json) putchar('\n');
        report_groups(a->dir, r, "exact duplicates (same text hash)", same, a->show, a->json, exact_list);
    }
    if (root) {
        char *text = cJSON_PrintUnformatted(root);
        if (text) puts(text);
        free(text);
        cJSON_Delete(root);
    }
}

int ep_cli_duplicates(int argc, char **argv) {
    dup_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) return rc;
    ep_error err = {0};
    ep_output_reader *r = NULL;
    if (ep_output_open(a.dir, &r, &err) != EP_OK) return ep_cli_report(&err);
    dup_neighbours n = {0};
    ep_groups near = {0}, same = {0};
    ep_status st = read_neighbours(&a, ep_output_manifest(r), &n, &err);
    if (st == EP_OK)
        st = ep_groups_from_neighbours(n.kept ? n.kept_rows : n.nb.rows, n.kept ? n.kept_scores : n.nb.scores, n.rows,
                                       (int)n.cols, (float)a.threshold, &near, &err);
    if (st == EP_OK && a.exact) st = exact_groups(r, n.rows, &same, &err);
    rc = EP_EXIT_OK;
    if (st != EP_OK) rc = ep_cli_report(&err);
    else print_report(&a, r, n.rows, n.cols, &near, &same);
    ep_groups_free(&near);
    ep_groups_free(&same);
    dup_neighbours_free(&n);
    ep_output_close(r);
    return rc;
}
