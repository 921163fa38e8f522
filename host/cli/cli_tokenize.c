/* cli_tokenize.c - `embedpipe tokenize`: print the token ids embedpipe feeds the model. */
#include "cli.h"
#include "model.h"
#include "model_tokenizer.h"
#include "tokenizer.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void tokenize_usage(FILE *f) {
    fprintf(f,
            "Usage: embedpipe tokenize [OPTIONS] [TEXT...]\n"
            "\n"
            "Prints one line per text: the token ids, special tokens ([CLS] [SEP] for BERT) included,\n"
            "exactly as the model sees them (identical to Hugging Face's tokenizers, from the model's\n"
            "tokenizer.json, else its vocab.txt). With no TEXT, reads one text per line from standard input.\n"
            "\n"
            "Options (default in brackets):\n"
            "  -m, --model DIR          model folder (tokenizer files and configs) [$EMBEDPIPE_MODEL, else\n"
            "                           all-MiniLM-L6-v2 from ./models, ~/.local/share/embedpipe/models\n"
            "                           ($XDG_DATA_HOME) or beside the binary]\n"
            "      --max-seq-length N   truncate to N tokens [the model's, 256 for all-MiniLM-L6-v2]\n"
            "      --tokens             print the token strings instead of ids\n"
            "      --json               print {\"ids\": [...], \"tokens\": [...], \"truncated\": ...} per text\n"
            "  -h, --help               this help\n");
}

static void print_one(const ep_tokenizer *tok, const char *text, size_t len, int32_t *ids, int max_len, int mode) {
    bool truncated = false;
    int n = ep_tokenizer_encode(tok, text, len, ids, max_len, &truncated);
    if (mode == 2) {
        fputs("{\"ids\": [", stdout);
        for (int i = 0; i < n; i++) printf("%s%d", i ? ", " : "", ids[i]);
        fputs("], \"tokens\": [", stdout);
        for (int i = 0; i < n; i++) {
            fputs(i ? ", \"" : "\"", stdout);
            for (const char *p = ep_tokenizer_id_to_token(tok, ids[i]); *p; p++) {
                if (*p == '"' || *p == '\\') putchar('\\');
                putchar(*p);
            }
            putchar('"');
        }
        printf("], \"truncated\": %s}\n", truncated ? "true" : "false");
        return;
    }
    for (int i = 0; i < n; i++) {
        if (i) putchar(' ');
        if (mode == 1) fputs(ep_tokenizer_id_to_token(tok, ids[i]), stdout);
        else printf("%d", ids[i]);
    }
    putchar('\n');
}

int ep_cli_tokenize(int argc, char **argv) {
    enum { OPT_MAXSEQ = 256, OPT_TOKENS, OPT_JSON };
    static const struct option longopts[] = {{"model", required_argument, 0, 'm'},
                                             {"max-seq-length", required_argument, 0, OPT_MAXSEQ},
                                             {"tokens", no_argument, 0, OPT_TOKENS},
                                             {"json", no_argument, 0, OPT_JSON},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    const char *model_dir = NULL;
    size_t max_seq = 0;
    int mode = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': model_dir = optarg; break;
        case OPT_MAXSEQ:
            if (ep_cli_parse_size("--max-seq-length", optarg, &max_seq)) return EP_EXIT_USAGE;
            if (max_seq < 2) {
                fprintf(stderr, "embedpipe: --max-seq-length must be at least 2\n");
                return EP_EXIT_USAGE;
            }
            break;
        case OPT_TOKENS: mode = 1; break;
        case OPT_JSON: mode = 2; break;
        case 'h': tokenize_usage(stdout); return EP_EXIT_OK;
        default: tokenize_usage(stderr); return EP_EXIT_USAGE;
        }
    }
    if (!model_dir && !(model_dir = ep_cli_default_model())) return EP_EXIT_FAILURE;
    ep_error err = {0};
    ep_model_config config;
    if (ep_model_load_config(model_dir, &config, &err) != EP_OK) return ep_cli_report(&err);
    ep_tokenizer *tok = NULL;
    if (ep_model_tokenizer_create(model_dir, &config, &tok, &err) != EP_OK) return ep_cli_report(&err);
    int max_len = max_seq ? (int)max_seq : config.max_seq_length;
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)max_len);
    if (!ids) {
        ep_tokenizer_free(tok);
        fprintf(stderr, "embedpipe: out of memory\n");
        return EP_EXIT_FAILURE;
    }
    if (optind < argc) {
        for (int i = optind; i < argc; i++) print_one(tok, argv[i], strlen(argv[i]), ids, max_len, mode);
    } else {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getline(&line, &cap, stdin)) >= 0) {
            if (n > 0 && line[n - 1] == '\n') n--;
            if (n > 0 && line[n - 1] == '\r') n--;
            print_one(tok, line, (size_t)n, ids, max_len, mode);
        }
        free(line);
    }
    free(ids);
    ep_tokenizer_free(tok);
    return EP_EXIT_OK;
}
