/* cli_search.c - `embedpipe search DIR QUERY`: the texts of an output folder most similar to a query. */
#include "device.h"
#include "cli.h"
#include "manifest.h"
#include "model.h"
#include "model_tokenizer.h"
#include "search.h"
#include "tokenizer.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void search_usage(FILE *f) {
    fprintf(f,
            "Usage: embedpipe search DIR QUERY [OPTIONS]\n"
            "\n"
            "Embeds QUERY with the model and prints the K rows of DIR with the highest cosine similarity,\n"
            "with their ids and texts: the texts stored with the rows (the default), so the inputs are\n"
            "not needed. For a folder without them (--no-text, older versions) texts are read again from\n"
            "the inputs the run recorded in manifest.json (by absolute path), and only while each still\n"
            "has the size and modification time the run saw; otherwise the rows are printed without\n"
            "text and the reason once.\n"
            "A shard that does not match manifest.json (SHA-256, place, shape) is refused (exit 3).\n"
            "\n"
            "Options (default in brackets):\n"
            "  -k, --top K        how many results [5]\n"
            "  -m, --model DIR    model folder; must be the one that wrote DIR [$EMBEDPIPE_MODEL, else\n"
            "                     all-MiniLM-L6-v2 from ./models, ~/.local/share/embedpipe/models\n"
            "                     ($XDG_DATA_HOME) or beside the binary]\n"
            "  -d, --device DEV   auto | cpu | cuda | cuda:N [cpu]\n"
            "      --prompt NAME  put the model's prompt NAME before QUERY [the model's query prompt when it\n"
            "                     has one, else the prompt the run put before its texts]\n"
            "      --prompt-text TEXT   put TEXT before QUERY instead ('' = none)\n"
            "  -h, --help         this help\n");
}

/* Reads the texts of the hits again from the run's inputs and prints the list.
 * @return EP_EXIT_OK, or the exit code of the error it reported. */
static int print_hits(const char *dir, const char *query, const ep_search_hit *hits, int n_hits) {
    ep_error err = {0};
    int rc = EP_EXIT_OK;
    uint64_t *rows = malloc(sizeof(uint64_t) * (size_t)(n_hits ? n_hits : 1));
    char **texts = calloc((size_t)(n_hits ? n_hits : 1), sizeof(char *));
    char **rids = calloc((size_t)(n_hits ? n_hits : 1), sizeof(char *));
    if (rows && texts && rids) {
        for (int i = 0; i < n_hits; i++) rows[i] = hits[i].row;
        char *why = NULL;
        if (ep_search_fetch_texts(dir, rows, n_hits, texts, rids, &why, &err) != EP_OK) {
            rc = ep_cli_report(&err);
            n_hits = 0;
        } else if (why) {
            fprintf(stderr, "embedpipe: texts not shown: %s\n", why);
        }
        free(why);
        if (rc == EP_EXIT_OK) printf("top %d of %s for \"%s\":\n", n_hits, dir, query);
        for (int i = 0; i < n_hits; i++) {
            ep_cli_print_hit(i + 1, &hits[i], rids[i], texts[i]);
            putchar('\n');
        }
        for (int i = 0; i < n_hits; i++) {
            free(texts[i]);
            free(rids[i]);
        }
    }
    free(rows);
    free(texts);
    free(rids);
    return rc;
}

/* Embeds query with the model that wrote dir and prints the k nearest rows.
 * @return the exit code. */
static int search(const char *dir, const char *query, const ep_cli_query *q, size_t k) {
    ep_error err = {0};
    float *qvec = NULL;
    int dim = 0, n_hits = 0;
    int rc = ep_cli_embed_query(dir, query, q, &qvec, &dim);
    if (rc != EP_EXIT_OK) return rc;
    ep_search_hit *hits = calloc(k, sizeof *hits);
    if (!hits) {
        ep_error_set(&err, EP_ERR_NOMEM, "out of memory");
        rc = ep_cli_report(&err);
    } else if (ep_search_folder(dir, qvec, dim, (int)k, hits, &n_hits, &err) != EP_OK) {
        rc = ep_cli_report(&err);
    } else {
        rc = print_hits(dir, query, hits, n_hits);
    }
    free(hits);
    free(qvec);
    return rc;
}

int ep_cli_search(int argc, char **argv) {
    enum { OPT_PROMPT = EP_OPT_LOCAL, OPT_PROMPT_TEXT };
    static const struct option longopts[] = {{"top", required_argument, 0, 'k'},
                                             {"model", required_argument, 0, 'm'},
                                             {"device", required_argument, 0, 'd'},
                                             {"prompt", required_argument, 0, OPT_PROMPT},
                                             {"prompt-text", required_argument, 0, OPT_PROMPT_TEXT},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    ep_cli_query q = {.device = "cpu"};
    size_t k = 5;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "k:m:d:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'k':
            if (ep_cli_parse_range("--top", optarg, 1, 10000, &k)) return EP_EXIT_USAGE;
            break;
        case 'm': q.model_dir = optarg; break;
        case 'd': q.device = optarg; break;
        case OPT_PROMPT: q.prompt_name = optarg; break;
        case OPT_PROMPT_TEXT: q.prompt_text = optarg; break;
        case 'h': search_usage(stdout); return EP_EXIT_OK;
        default: search_usage(stderr); return EP_EXIT_USAGE;
        }
    }
    if (argc - optind != 2) {
        search_usage(stderr);
        return EP_EXIT_USAGE;
    }
    const char *dir = argv[optind], *query = argv[optind + 1];
    if (!q.model_dir && !(q.model_dir = ep_cli_default_model())) return EP_EXIT_FAILURE;
    return search(dir, query, &q, k);
}
