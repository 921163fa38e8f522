/* cli_similar.c - `embedpipe similar DIR QUERY | --id ID | --row N`: the rows nearest a text, a record or a row. */
#include "cli.h"
#include "neighbours.h"
#include "output_reader.h"
#include "search.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void similar_usage(FILE *f) {
    fprintf(f,
            "Usage: embedpipe similar DIR QUERY [OPTIONS]\n"
            "       embedpipe similar DIR --id ID [OPTIONS]\n"
            "       embedpipe similar DIR --row N [OPTIONS]\n"
            "\n"
            "Prints the K rows of DIR nearest (by cosine) to a query text, embedded with the run's own\n"
            "model and settings, or to the row of a record id or a row number, that row itself left out\n"
            "(its exact duplicates come first: they score 1). Each result shows its id, and its text and\n"
            "kept fields when the folder keeps them; otherwise the text is read again from the run's\n"
            "inputs while they are unchanged (as `search` does), and left out with the reason when not.\n"
            "\n"
            "Options (default in brackets):\n"
            "  -k, --top K        how many results [10]\n"
            "      --id ID        the record with this id (the first row that has it)\n"
            "      --row N        row N (0-based, as in related-rows.npy.zst)\n"
            "      --json         one JSON object on standard output, for scripts\n"
            "  -m, --model DIR    model folder for a QUERY; must be the one that wrote DIR [as search]\n"
            "  -d, --device DEV   auto | cpu | cuda | cuda:N [cpu]\n"
            "      --prompt NAME  put the model's prompt NAME before QUERY [the model's query prompt when it\n"
            "                     has one, else the prompt the run put before its texts]\n"
            "      --prompt-text TEXT   put TEXT before QUERY instead ('' = none)\n"
            "  -h, --help         this help\n");
}

/* Finds the first row whose record id is id. @return EP_OK and *row, EP_ERR_USAGE when none has it. */
static ep_status find_id(ep_output_reader *r, const char *dir, const char *id, uint64_t *row, ep_error *err) {
    const ep_manifest *m = ep_output_manifest(r);
    for (size_t s = 0; s < m->n_shards; s++) {
        ep_output_shard shard;
        ep_status st = ep_output_read_shard(r, s, EP_OUTPUT_IDS, &shard, err);
        if (st != EP_OK) return st;
        for (size_t i = 0; i < shard.n_rows; i++)
            if (shard.meta[i].id && strcmp(shard.meta[i].id, id) == 0) {
                *row = shard.info->first_row + i;
                ep_output_shard_free(&shard);
                return EP_OK;
            }
        ep_output_shard_free(&shard);
    }
    return ep_error_set(err, EP_ERR_USAGE, "%s holds no record with id \"%s\"", dir, id);
}

/* The id, kept text and kept fields of each row (malloc'd copies; NULL where absent). */
static ep_status fetch_meta(ep_output_reader *r, const uint64_t *rows, int n, char **ids, char **texts, char **fields,
                            ep_error *err) {
    const ep_manifest *m = ep_output_manifest(r);
    for (size_t s = 0; s < m->n_shards; s++) {
        const ep_shard_info *info = &m->shards[s];
        bool wanted = false;
        for (int i = 0; i < n; i++) wanted |= rows[i] >= info->first_row && rows[i] < info->first_row + info->rows;
        if (!wanted) continue;
        ep_output_shard shard;
        ep_status st = ep_output_read_shard(r, s, EP_OUTPUT_IDS, &shard, err);
        if (st != EP_OK) return st;
        for (int i = 0; i < n; i++) {
            if (rows[i] < info->first_row || rows[i] >= info->first_row + info->rows) continue;
            const ep_row_meta *meta = &shard.meta[rows[i] - info->first_row];
            ids[i] = strdup(meta->id ? meta->id : "");
            if (meta->text) texts[i] = strdup(meta->text);
            if (meta->fields) fields[i] = strdup(meta->fields);
        }
        ep_output_shard_free(&shard);
    }
    return EP_OK;
}

/* Prints the hits as text or JSON. @return the exit code. */
static int print_results(const char *dir, ep_output_reader *r, const char *what, const ep_search_hit *hits, int n,
                         bool json) {
    ep_error err = {0};
    uint64_t *rows = malloc(sizeof(uint64_t) * (size_t)(n + 1));
    char **ids = calloc((size_t)n + 1, sizeof(char *)), **texts = calloc((size_t)n + 1, sizeof(char *));
    char **fields = calloc((size_t)n + 1, sizeof(char *));
    int rc = EP_EXIT_OK;
    char *why = NULL;
    if (!rows || !ids || !texts || !fields) {
        ep_error_set(&err, EP_ERR_NOMEM, "out of memory");
        rc = ep_cli_report(&err);
        goto done;
    }
    for (int i = 0; i < n; i++) rows[i] = hits[i].row;
    if (fetch_meta(r, rows, n, ids, texts, fields, &err) != EP_OK) {
        rc = ep_cli_report(&err);
        goto done;
    }
    // A folder that keeps no text: read the texts again from the run's inputs, while they are unchanged.
    bool missing = false;
    for (int i = 0; i < n; i++) missing |= texts[i] == NULL;
    if (missing) {
        char **again = calloc((size_t)n + 1, sizeof(char *)), **again_ids = calloc((size_t)n + 1, sizeof(char *));
        if (again && again_ids && ep_search_fetch_texts(dir, rows, n, again, again_ids, &why, &err) == EP_OK)
            for (int i = 0; i < n; i++)
                if (!texts[i]) {
                    texts[i] = again[i];
                    again[i] = NULL;
                }
        for (int i = 0; again && i < n; i++) free(again[i]);
        for (int i = 0; again_ids && i < n; i++) free(again_ids[i]);
        free(again);
        free(again_ids);
    }
    if (json) {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "folder", dir);
        cJSON_AddStringToObject(root, "query", what);
        if (why) cJSON_AddStringToObject(root, "texts_missing", why);
        cJSON *list = cJSON_AddArrayToObject(root, "results");
        for (int i = 0; i < n; i++) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddNumberToObject(e, "rank", i + 1);
            cJSON_AddNumberToObject(e, "row", (double)hits[i].row);
            cJSON_AddNumberToObject(e, "score", hits[i].score);
            cJSON_AddStringToObject(e, "id", ids[i] ? ids[i] : "");
            if (texts[i]) cJSON_AddStringToObject(e, "text", texts[i]);
            else cJSON_AddNullToObject(e, "text");
            cJSON *f = fields[i] ? cJSON_Parse(fields[i]) : NULL;
            if (f) cJSON_AddItemToObject(e, "fields", f);
            cJSON_AddItemToArray(list, e);
        }
        char *text = cJSON_PrintUnformatted(root);
        cJSON_Delete(root);
        if (text) puts(text);
        free(text);
    } else {
        if (why) fprintf(stderr, "embedpipe: texts not shown: %s\n", why);
        printf("top %d of %s nearest %s:\n", n, dir, what);
        for (int i = 0; i < n; i++) {
            ep_cli_print_hit(i + 1, &hits[i], ids[i], texts[i]);
            if (fields[i]) printf("\n    %s", fields[i]);
            putchar('\n');
        }
    }
done:
    for (int i = 0; i < n; i++) {
        if (ids) free(ids[i]);
        if (texts) free(texts[i]);
        if (fields) free(fields[i]);
    }
    free(ids);
    free(texts);
    free(fields);
    free(rows);
    free(why);
    return rc;
}

/* The query of --id / --row: that row's stored vector (*vec, malloc'd, the folder's dim wide), *self its
 * row (left out of the answer), what names it for the report. @return an exit code. */
static int stored_query(ep_output_reader *r, const char *dir, const char *id, size_t row_arg, uint64_t *self,
                        float **vec, char *what, size_t what_size) {
    const ep_manifest *m = ep_output_manifest(r);
    ep_error err = {0};
    ep_status st = EP_OK;
    if (id) st = find_id(r, dir, id, self, &err);
    else if ((*self = row_arg) >= m->records_embedded)
        st = ep_error_set(&err, EP_ERR_USAGE, "%s holds rows 0 to %llu; there is no row %zu", dir,
                          (unsigned long long)m->records_embedded - 1, row_arg);
    if (st == EP_OK && !(*vec = malloc(sizeof(float) * (size_t)m->dim))) st = ep_error_set(&err, EP_ERR_NOMEM, "oom");
    if (st == EP_OK) st = ep_explore_read_rows(r, *self, 1, *vec, &err);
    if (id) snprintf(what, what_size, "id %s (row %llu)", id, (unsigned long long)*self);
    else snprintf(what, what_size, "row %llu", (unsigned long long)*self);
    return st == EP_OK ? EP_EXIT_OK : ep_cli_report(&err);
}

int ep_cli_similar(int argc, char **argv) {
    enum { OPT_ID = EP_OPT_LOCAL, OPT_ROW, OPT_JSON, OPT_PROMPT, OPT_PROMPT_TEXT };
    static const struct option longopts[] = {{"top", required_argument, 0, 'k'},  {"id", required_argument, 0, OPT_ID},
                                             {"row", required_argument, 0, OPT_ROW}, {"json", no_argument, 0, OPT_JSON},
                                             {"model", required_argument, 0, 'm'}, {"device", required_argument, 0, 'd'},
                                             {"prompt", required_argument, 0, OPT_PROMPT},
                                             {"prompt-text", required_argument, 0, OPT_PROMPT_TEXT},
                                             {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
    ep_cli_query q = {.device = "cpu"};
    const char *id = NULL;
    size_t k = 10, row_arg = 0;
    bool by_row = false, json = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "k:m:d:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'k':
            if (ep_cli_parse_range("--top", optarg, 1, 10000, &k)) return EP_EXIT_USAGE;
            break;
        case OPT_ID: id = optarg; break;
        case OPT_ROW:
            if (ep_cli_parse_size("--row", optarg, &row_arg)) return EP_EXIT_USAGE;
            by_row = true;
            break;
        case OPT_JSON: json = true; break;
        case 'm': q.model_dir = optarg; break;
        case 'd': q.device = optarg; break;
        case OPT_PROMPT: q.prompt_name = optarg; break;
        case OPT_PROMPT_TEXT: q.prompt_text = optarg; break;
        case 'h': similar_usage(stdout); return EP_EXIT_OK;
        default: similar_usage(stderr); return EP_EXIT_USAGE;
        }
    }
    int given = (argc - optind == 2) + (id != NULL) + by_row;
    if (argc - optind < 1 || argc - optind > 2 || given != 1) {
        fprintf(stderr, "embedpipe: similar takes DIR and exactly one of QUERY, --id ID, --row N\n\n");
        similar_usage(stderr);
        return EP_EXIT_USAGE;
    }
    const char *dir = argv[optind];
    ep_error err = {0};
    ep_output_reader *r = NULL;
    float *vec = NULL;
    int dim = 0, rc = EP_EXIT_OK;
    uint64_t self = UINT64_MAX;
    char what[1024];
    if (ep_output_open(dir, &r, &err) != EP_OK) return ep_cli_report(&err);
    const ep_manifest *m = ep_output_manifest(r);
    if (argc - optind == 2) {
        snprintf(what, sizeof what, "\"%s\"", argv[optind + 1]);
        if (!q.model_dir && !(q.model_dir = ep_cli_default_model())) rc = EP_EXIT_FAILURE;
        else rc = ep_cli_embed_query(dir, argv[optind + 1], &q, &vec, &dim);
    } else {
        rc = stored_query(r, dir, id, row_arg, &self, &vec, what, sizeof what);
        dim = m->dim;
    }
    ep_search_hit *hits = rc == EP_EXIT_OK ? calloc(k + 1, sizeof *hits) : NULL;
    int n_hits = 0;
    if (rc == EP_EXIT_OK && !hits) rc = ep_cli_report(&(ep_error){.code = EP_ERR_NOMEM, .message = "out of memory"});
    if (rc == EP_EXIT_OK && ep_search_folder(dir, vec, dim, (int)k + 1, hits, &n_hits, &err) != EP_OK)
        rc = ep_cli_report(&err);
    if (rc == EP_EXIT_OK) {
        // The item itself is left out; without it among the k + 1, the last is.
        int kept = 0;
        for (int i = 0; i < n_hits; i++)
            if (hits[i].row != self) hits[kept++] = hits[i];
        if (kept > (int)k) kept = (int)k;
        rc = print_results(dir, r, what, hits, kept, json);
    }
    free(hits);
    free(vec);
    ep_output_close(r);
    return rc;
}
