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
            cJSON_AddItemToArray(list, e);
        } else if (shown) {
            printf("%4llu rows  (cosine >= %.3f)  row %llu", (unsigned long long)g->size[i], g->min_score[i],
                   (unsigned long long)g->rows[g->start[i]]);
            if (id && *id) printf(" id %s", id);
            if (text) {
                fputs("  ", stdout);
                int chars = 0;
                for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
                    if ((*p & 0xC0) != 0x80 && ++chars > 100) {
                        fputs("...", stdout);
                        break;
                    }
                    putchar(*p == '\n' || *p == '\r' || *p == '\t' ? ' ' : *p);
                }
            }
            putchar('\n');
        }
        free(id);
        free(text);
    }
    if (!json && g->n_groups > show) printf("(%zu more groups: --show or --json)\n", g->n_groups - show);
}

int ep_cli_duplicates(int argc, char **argv) {
    enum { OPT_THRESHOLD = EP_OPT_LOCAL, OPT_EXACT, OPT_SHOW, OPT_JSON };
    static const struct option longopts[] = {
        {"threshold", required_argument, 0, OPT_THRESHOLD}, {"top", required_argument, 0, 'k'},
        {"exact", no_argument, 0, OPT_EXACT},               {"show", required_argument, 0, OPT_SHOW},
        {"json", no_argument, 0, OPT_JSON},                 {"threads", required_argument, 0, 't'},
        {"help", no_argument, 0, 'h'},                      {0, 0, 0, 0}};
    double threshold = 0.95;
    size_t k = 10, show = 20, threads = 0;
    bool exact = false, json = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "k:t:h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_THRESHOLD: {
            char *end = NULL;
            threshold = strtod(optarg, &end);
            if (!end || *end || !(threshold > -1.0 && threshold <= 1.0)) {
                fprintf(stderr, "embedpipe: --threshold must be a cosine in (-1, 1]\n");
                return EP_EXIT_USAGE;
            }
            break;
        }
        case 'k':
            if (ep_cli_parse_range("--top", optarg, 1, 1000, &k)) return EP_EXIT_USAGE;
            break;
        case OPT_EXACT: exact = true; break;
        case OPT_SHOW:
            if (ep_cli_parse_size("--show", optarg, &show)) return EP_EXIT_USAGE;
            break;
        case OPT_JSON: json = true; break;
        case 't':
            if (ep_cli_parse_range("--threads", optarg, 0, 1024, &threads)) return EP_EXIT_USAGE;
            break;
        case 'h': duplicates_usage(stdout); return EP_EXIT_OK;
        default: duplicates_usage(stderr); return EP_EXIT_USAGE;
        }
    }
    const char *dir = ep_cli_one_folder(argc, argv, duplicates_usage);
    if (!dir) return EP_EXIT_USAGE;
    ep_error err = {0};
    ep_output_reader *r = NULL;
    if (ep_output_open(dir, &r, &err) != EP_OK) return ep_cli_report(&err);
    const ep_manifest *m = ep_output_manifest(r);
    ep_neighbours nb = {0};
    uint64_t rows = 0, cols = 0, srows = 0, scols = 0;
    void *nrows = NULL, *nscores = NULL;
    ep_status st = EP_OK;
    ep_derived_index idx;
    bool kept = ep_derived_index_read(dir, &idx, &err) == EP_OK && ep_derived_listed(&idx, "related-rows.npy.zst");
    ep_derived_index_clear(&idx);
    if (kept) {
        st = ep_derived_read_array(dir, m, "related-rows.npy.zst", 'i', &nrows, &rows, &cols, &err);
        if (st == EP_OK) st = ep_derived_read_array(dir, m, "related-scores.npy.zst", 'f', &nscores, &srows, &scols, &err);
        if (st == EP_OK && (rows != m->records_embedded || srows != rows || scols != cols || cols == 0))
            st = ep_error_set(&err, EP_ERR_MISMATCH, "%s: the related files do not have one line per row: run "
                              "`embedpipe related %s` again", dir, dir);
    } else {
        st = ep_neighbours_compute(dir, &(ep_neighbours_options){.k = (int)k, .threads = (int)threads}, &nb, &err);
        rows = nb.n_rows;
        cols = (uint64_t)nb.k;
    }
    ep_groups near = {0}, same = {0};
    if (st == EP_OK)
        st = ep_groups_from_neighbours(kept ? nrows : nb.rows, kept ? nscores : nb.scores, rows, (int)cols,
                                       (float)threshold, &near, &err);
    uint64_t *hashes = NULL;
    if (st == EP_OK && exact) {
        hashes = malloc(sizeof(uint64_t) * (size_t)(rows ? rows : 1));
        if (!hashes) st = ep_error_set(&err, EP_ERR_NOMEM, "out of memory");
        for (size_t s = 0; s < m->n_shards && st == EP_OK; s++) {
            ep_output_shard shard;
            st = ep_output_read_shard(r, s, EP_OUTPUT_IDS, &shard, &err);
            for (size_t i = 0; st == EP_OK && i < shard.n_rows; i++)
                hashes[shard.info->first_row + i] = shard.meta[i].text_hash;
            ep_output_shard_free(&shard);
        }
        if (st == EP_OK) st = ep_groups_from_hashes(hashes, rows, &same, &err);
    }
    int rc = EP_EXIT_OK;
    if (st != EP_OK) {
        rc = ep_cli_report(&err);
    } else {
        cJSON *root = json ? cJSON_CreateObject() : NULL;
        cJSON *list = NULL, *exact_list = NULL;
        if (root) {
            cJSON_AddNumberToObject(root, "rows", (double)rows);
            cJSON_AddNumberToObject(root, "threshold", threshold);
            cJSON_AddNumberToObject(root, "neighbours", (double)cols);
            list = cJSON_AddArrayToObject(root, "groups");
        }
        char title[128];
        snprintf(title, sizeof title, "near-duplicates (cosine >= %.3f, %llu neighbours per row)", threshold,
                 (unsigned long long)cols);
        report_groups(dir, r, title, &near, show, json, list);
        if (exact) {
            if (root) exact_list = cJSON_AddArrayToObject(root, "exact_groups");
            if (!json) putchar('\n');
            report_groups(dir, r, "exact duplicates (same text hash)", &same, show, json, exact_list);
        }
        if (root) {
            char *text = cJSON_PrintUnformatted(root);
            if (text) puts(text);
            free(text);
            cJSON_Delete(root);
        }
    }
    ep_groups_free(&near);
    ep_groups_free(&same);
    free(hashes);
    free(nrows);
    free(nscores);
    ep_neighbours_free(&nb);
    ep_output_close(r);
    return rc;
}
