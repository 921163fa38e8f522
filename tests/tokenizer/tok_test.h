/*
 * tok_test.h - what the tokenizer tests share: the real vocabulary (or a skip
 * saying how to get it), the committed fixtures (through fixture_util.h) and
 * small printing helpers.
 */
#ifndef EP_TOK_TEST_H
#define EP_TOK_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture_util.h"
#include "test_util.h"
#include "tokenizer.h"

// The model's vocab.txt with the default options, or exit 77 when the model is absent.
static inline ep_tokenizer *tok_test_load(void) {
    char path[4096];
    const char *dir = ep_test_env("EP_MODEL_DIR", "models/all-MiniLM-L6-v2");
    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    ep_test_require(path, "run scripts/fetch-model.sh first");
    ep_tokenizer_options opt = ep_tokenizer_default_options();
    ep_tokenizer *tok = NULL;
    ep_error err = {0};
    if (ep_tokenizer_create(path, &opt, &tok, &err) != EP_OK) {
        fprintf(stderr, "cannot load %s: %s\n", path, err.message);
        exit(1);
    }
    return tok;
}

// A committed fixture (tests/fixtures/<name>), decompressed when it ends in .zst;
// NUL-terminated. Exits 1 when it is missing or corrupt: fixtures are part of the repo.
static inline char *tok_test_fixture(const char *name, size_t *len) {
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/fixtures/%s", ep_test_env("EP_SOURCE_DIR", "."), name);
    char *data = ep_fixture_read(path, len);
    if (!data) exit(1); /* ep_fixture_read said why */
    return data;
}

// Decodes hex into bytes (out holds strlen(hex)/2). @return the length, or -1.
static inline long tok_test_unhex(const char *hex, unsigned char *out) {
    size_t n = strlen(hex);
    if (n % 2) return -1;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) return -1;
        out[i] = (unsigned char)v;
    }
    return (long)(n / 2);
}

static inline void tok_test_print_ids(FILE *f, const char *label, const int32_t *ids, int n) {
    fprintf(f, "  %s (%d):", label, n);
    for (int i = 0; i < n; i++) fprintf(f, " %d", ids[i]);
    fputc('\n', f);
}

// Prints ours vs the reference and where they first differ.
static inline void tok_test_print_diff(const ep_tokenizer *tok, const int32_t *ours, int n_ours, const int32_t *ref,
                                       int n_ref) {
    int i = 0;
    while (i < n_ours && i < n_ref && ours[i] == ref[i]) i++;
    tok_test_print_ids(stderr, "ours", ours, n_ours);
    tok_test_print_ids(stderr, "HF  ", ref, n_ref);
    const char *a = i < n_ours ? ep_tokenizer_id_to_token(tok, ours[i]) : "(end)";
    const char *b = i < n_ref ? ep_tokenizer_id_to_token(tok, ref[i]) : "(end)";
    fprintf(stderr, "  first difference at position %d: ours %s, HF %s\n", i, a ? a : "?", b ? b : "?");
}

#endif /* EP_TOK_TEST_H */
