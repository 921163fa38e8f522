/*
 * unigram_test.h - what the tests of the SentencePiece units share: the committed Unigram
 * tokenizers (tests/fixtures/models/<name>.tokenizer.json.zst, made by scripts/make-test-models.py)
 * loaded into an ep_charsmap and an ep_unigram, the other fixtures of that script, and hex.
 */
#ifndef EP_UNIGRAM_TEST_H
#define EP_UNIGRAM_TEST_H

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture_util.h"
#include "precompiled_charsmap.h"
#include "test_util.h"
#include "unigram.h"

/* tests/fixtures/models/<name>, decompressed when it ends in .zst, NUL-terminated; exits 1 when
 * it is missing or corrupt (fixtures are part of the repository). */
static inline char *unigram_test_fixture(const char *name, size_t *len) {
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/fixtures/models/%s", ep_test_env("EP_SOURCE_DIR", "."), name);
    char *data = ep_fixture_read(path, len);
    if (!data) exit(1); /* ep_fixture_read said why */
    return data;
}

typedef struct unigram_test_model {
    ep_charsmap *charsmap; /* the Precompiled normalizer of the tokenizer.json */
    ep_unigram *unigram;   /* its model */
    cJSON *json;           /* the whole tokenizer.json */
} unigram_test_model;

static inline void unigram_test_die(const char *name, const char *what) {
    fprintf(stderr, "%s: %s\n", name, what);
    exit(1);
}

/* Loads tests/fixtures/models/<name>.tokenizer.json.zst; exits 1 on any problem, saying what. */
static inline unigram_test_model unigram_test_load(const char *name) {
    char file[256];
    snprintf(file, sizeof file, "%s.tokenizer.json.zst", name);
    size_t len = 0;
    char *text = unigram_test_fixture(file, &len);
    unigram_test_model m = {NULL, NULL, cJSON_ParseWithLength(text, len)};
    free(text);
    if (!m.json) unigram_test_die(file, "not JSON");
    cJSON *norms = cJSON_GetObjectItem(cJSON_GetObjectItem(m.json, "normalizer"), "normalizers");
    const char *b64 = NULL;
    cJSON *n;
    cJSON_ArrayForEach(n, norms) {
        const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(n, "type"));
        if (type && strcmp(type, "Precompiled") == 0)
            b64 = cJSON_GetStringValue(cJSON_GetObjectItem(n, "precompiled_charsmap"));
    }
    if (!b64) unigram_test_die(file, "no Precompiled normalizer");
    ep_error err = {0};
    if (ep_charsmap_create(b64, strlen(b64), &m.charsmap, &err) != EP_OK) unigram_test_die(file, err.message);
    cJSON *model = cJSON_GetObjectItem(m.json, "model");
    cJSON *vocab = cJSON_GetObjectItem(model, "vocab"), *unk = cJSON_GetObjectItem(model, "unk_id");
    int n_pieces = cJSON_GetArraySize(vocab);
    const char **pieces = malloc(sizeof *pieces * (size_t)n_pieces);
    double *scores = malloc(sizeof *scores * (size_t)n_pieces);
    int i = 0;
    cJSON *pair;
    cJSON_ArrayForEach(pair, vocab) { // cJSON_GetArrayItem would walk the list from the start each time
        pieces[i] = cJSON_GetStringValue(cJSON_GetArrayItem(pair, 0));
        scores[i] = cJSON_GetNumberValue(cJSON_GetArrayItem(pair, 1));
        if (!pieces[i]) unigram_test_die(file, "a vocab entry is not [piece, score]");
        i++;
    }
    bool byte_fallback = cJSON_IsTrue(cJSON_GetObjectItem(model, "byte_fallback"));
    if (ep_unigram_create(pieces, scores, n_pieces, cJSON_IsNumber(unk) ? unk->valueint : -1, byte_fallback,
                          &m.unigram, &err) != EP_OK)
        unigram_test_die(file, err.message);
    free(pieces);
    free(scores);
    return m;
}

static inline void unigram_test_free(unigram_test_model *m) {
    ep_charsmap_free(m->charsmap);
    ep_unigram_free(m->unigram);
    cJSON_Delete(m->json);
}

/* Decodes hex into a malloc'd buffer (NUL-terminated). @return it (length in *len), or NULL. */
static inline uint8_t *unigram_test_unhex(const char *hex, size_t *len) {
    size_t n = hex ? strlen(hex) : 1;
    uint8_t *out = n % 2 ? NULL : malloc(n / 2 + 1);
    for (size_t i = 0; out && i < n / 2; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) {
            free(out);
            return NULL;
        }
        out[i] = (uint8_t)v;
    }
    if (out) out[n / 2] = 0, *len = n / 2;
    return out;
}

/* Prints bytes with everything outside printable ASCII escaped. */
static inline void unigram_test_print(FILE *f, const void *p, size_t n) {
    const unsigned char *s = (const unsigned char *)p;
    for (size_t i = 0; i < n; i++) {
        if (s[i] >= 0x20 && s[i] < 0x7F && s[i] != '\\') fputc(s[i], f);
        else fprintf(f, "\\x%02X", s[i]);
    }
}

static inline uint32_t unigram_test_rd32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#endif /* EP_UNIGRAM_TEST_H */
