/*
 * tokenizer-bench - single-thread tokenizer throughput on real text.
 *
 *   tokenizer-bench VOCAB.txt|TOKENIZER.json [--general] [--repeat N] [--every K] FILE...
 *
 * The tokenizer is a vocab.txt (BERT WordPiece) or a tokenizer.json (a file
 * whose pipeline is BERT's runs on the same fast path; --general forces the
 * general chain instead, to compare the two). Every K-th line (default 1) of
 * each FILE is one text (split on '\n' only); all of them are encoded N times
 * (default 5) with max_tokens 256 on one thread, and the best pass is reported
 * as texts/s, MB/s and ns/text, then texts per CPU-second (the best pass's CPU
 * time: steadier than the wall clock on a shared machine), plus a checksum of
 * the ids so that two builds, or embedpipe and Hugging Face, can be compared.
 *
 * The matching Hugging Face measurement (tokenizers' Rust code, one thread, the
 * same texts, the same checksum):
 *   bench/tokenizer_hf.py TOKENIZER.json [--every K] FILE...
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tokenizer.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// CPU time of the process: on a busy machine it counts the work, not the waiting for a core.
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s VOCAB.txt|TOKENIZER.json [--general] [--repeat N] [--every K] FILE...\n", argv[0]);
        return 2;
    }
    int repeat = 5, every = 1;
    bool general = false;
    size_t n_texts = 0, cap_texts = 1 << 16, total_bytes = 0;
    const char **text = malloc(sizeof *text * cap_texts);
    size_t *len = malloc(sizeof *len * cap_texts);
    for (int a = 2; a < argc; a++) {
        if (strcmp(argv[a], "--repeat") == 0 && a + 1 < argc) {
            repeat = atoi(argv[++a]);
            continue;
        }
        if (strcmp(argv[a], "--general") == 0) {
            general = true;
            continue;
        }
        if (strcmp(argv[a], "--every") == 0 && a + 1 < argc) {
            every = atoi(argv[++a]);
            if (every < 1) every = 1;
            continue;
        }
        FILE *f = fopen(argv[a], "rb");
        if (!f) {
            fprintf(stderr, "cannot open %s\n", argv[a]);
            return 1;
        }
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        fseek(f, 0, SEEK_SET);
        char *data = malloc((size_t)size + 1);
        if (fread(data, 1, (size_t)size, f) != (size_t)size) return 1;
        fclose(f);
        size_t line = 0;
        for (char *p = data, *end = data + size; p < end; line++) {
            char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
            if (line % (size_t)every == 0) {
                if (n_texts == cap_texts) {
                    cap_texts *= 2;
                    text = realloc(text, sizeof *text * cap_texts);
                    len = realloc(len, sizeof *len * cap_texts);
                }
                text[n_texts] = p;
                len[n_texts++] = l;
                total_bytes += l;
            }
            p += l + 1;
        }
    }
    ep_tokenizer *tok = NULL;
    ep_error err = {0};
    size_t plen = strlen(argv[1]);
    ep_status st;
    if (plen > 5 && strcmp(argv[1] + plen - 5, ".json") == 0) {
        ep_tokenizer_json_options o = {.lowercase = -1, .general_only = general};
        st = ep_tokenizer_create_json(argv[1], &o, &tok, &err);
    } else {
        ep_tokenizer_options opt = ep_tokenizer_default_options();
        st = ep_tokenizer_create(argv[1], &opt, &tok, &err);
    }
    if (st != EP_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    fprintf(stderr, "tokenizer: %s\n", ep_tokenizer_describe(tok));
    int32_t ids[256];
    double best = 1e30, best_cpu = 1e30;
    uint64_t checksum = 0, n_ids = 0;
    for (int r = 0; r < repeat; r++) {
        uint64_t sum = 0, count = 0;
        double t0 = now(), c0 = cpu_now();
        for (size_t i = 0; i < n_texts; i++) {
            int n = ep_tokenizer_encode(tok, text[i], len[i], ids, 256, NULL);
            for (int k = 0; k < n; k++) sum = sum * 31 + (uint64_t)ids[k];
            count += (uint64_t)n;
        }
        double dt = now() - t0, dc = cpu_now() - c0;
        if (dt < best) best = dt;
        if (dc < best_cpu) best_cpu = dc;
        checksum = sum;
        n_ids = count;
    }
    printf("%zu texts, %.2f MB, %llu ids: best of %d passes %.3f s = %.0f texts/s, %.1f MB/s, %.0f ns/text; "
           "%.0f texts per CPU-second (checksum %016llx)\n",
           n_texts, (double)total_bytes / 1e6, (unsigned long long)n_ids, repeat, best, (double)n_texts / best,
           (double)total_bytes / 1e6 / best, 1e9 * best / (double)n_texts, (double)n_texts / best_cpu,
           (unsigned long long)checksum);
    ep_tokenizer_free(tok);
    return 0;
}
