/*
 * unigram-bench - single-thread speed of the SentencePiece units on real text: the Precompiled
 * charsmap (tokenizer/precompiled_charsmap.h) and the Unigram model (tokenizer/unigram.h) of a
 * tokenizer.json (XLM-R style: Precompiled + Strip + Replace, Metaspace, Unigram).
 *
 *   unigram-bench TOKENIZER.json[.zst] [--repeat N] [--every K] FILE...
 *
 * Every K-th line (default 1) of each FILE is one text. Reported, best of N passes (default 5):
 *   load      building the map and the model from the JSON's arrays (ms)
 *   charsmap  normalising every text: texts/s and input MB/s
 *   unigram   encoding every word (the texts' words, made once beforehand by a stand-in for the
 *             Strip/Replace/Metaspace stages): words/s and pieces (ids)/s, and a checksum of the
 *             ids (h = h * 31 + id over all of them, mod 2^64)
 *   metaspace+unigram  the same from the normalised texts, splitting them into words on the way
 *             (what bench/unigram_bench.py can time of tokenizers' model)
 *   both      charsmap + words + unigram per text: texts/s
 * bench/unigram_bench.py measures tokenizers (Rust, one thread) on the same texts and prints the
 * same checksum; docs/PERFORMANCE.md has the command lines and numbers.
 */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>

#include "precompiled_charsmap.h"
#include "unigram.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc((size_t)size + 1);
    if (!data || fread(data, 1, (size_t)size, f) != (size_t)size) size = -1;
    fclose(f);
    if (size < 0) return free(data), NULL;
    size_t n = strlen(path);
    if (n > 4 && strcmp(path + n - 4, ".zst") == 0) { // one frame with its size, as the fixtures are
        unsigned long long out = ZSTD_getFrameContentSize(data, (size_t)size);
        char *plain = out < (1ull << 32) ? malloc((size_t)out + 1) : NULL;
        if (!plain || ZSTD_isError(ZSTD_decompress(plain, (size_t)out, data, (size_t)size))) return free(data), NULL;
        free(data);
        data = plain;
        size = (long)out;
    }
    data[size] = '\0';
    *len = (size_t)size;
    return data;
}

typedef struct model {
    ep_charsmap *map;
    ep_unigram *uni;
} model;

static int load_model(const char *path, model *m) {
    size_t len = 0;
    char *text = read_all(path, &len);
    cJSON *root = text ? cJSON_ParseWithLength(text, len) : NULL;
    free(text);
    if (!root) return fprintf(stderr, "cannot read %s as JSON\n", path), -1;
    const char *b64 = NULL;
    cJSON *n, *vocab = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "model"), "vocab");
    cJSON_ArrayForEach(n, cJSON_GetObjectItem(cJSON_GetObjectItem(root, "normalizer"), "normalizers")) {
        const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(n, "type"));
        if (type && strcmp(type, "Precompiled") == 0)
            b64 = cJSON_GetStringValue(cJSON_GetObjectItem(n, "precompiled_charsmap"));
    }
    int n_pieces = cJSON_GetArraySize(vocab);
    const char **pieces = malloc(sizeof *pieces * (size_t)(n_pieces + 1));
    double *scores = malloc(sizeof *scores * (size_t)(n_pieces + 1));
    int i = 0;
    cJSON *pair;
    cJSON_ArrayForEach(pair, vocab) { // not cJSON_GetArrayItem: a linked list, quadratic over 250k pieces
        pieces[i] = cJSON_GetStringValue(cJSON_GetArrayItem(pair, 0));
        scores[i] = cJSON_GetNumberValue(cJSON_GetArrayItem(pair, 1));
        if (!pieces[i]) pieces[i] = "";
        i++;
    }
    cJSON *model_json = cJSON_GetObjectItem(root, "model"), *unk = cJSON_GetObjectItem(model_json, "unk_id");
    ep_error err = {0};
    double t0 = now();
    int bad = !b64 || ep_charsmap_create(b64, strlen(b64), &m->map, &err) != EP_OK;
    double t1 = now();
    bad = bad || ep_unigram_create(pieces, scores, n_pieces, cJSON_IsNumber(unk) ? unk->valueint : -1,
                                   cJSON_IsTrue(cJSON_GetObjectItem(model_json, "byte_fallback")), &m->uni,
                                   &err) != EP_OK;
    double t2 = now();
    if (!bad)
        printf("load: charsmap %.1f ms, unigram of %d pieces %.1f ms\n", 1e3 * (t1 - t0), n_pieces, 1e3 * (t2 - t1));
    else
        fprintf(stderr, "%s: %s\n", path, b64 ? err.message : "no Precompiled normalizer");
    free(pieces);
    free(scores);
    cJSON_Delete(root);
    return bad ? -1 : 0;
}

// ----------------------------------------------------------------------------
// A stand-in for Strip(right) + Replace(" {2,}" -> U+2581) + Metaspace(always, split): words
// appended NUL-terminated to *buf. Enough for timing; the tests check the real rules.

typedef struct words {
    char *buf;
    size_t n, cap;
    size_t count;
} words;

static void put(words *w, const char *p, size_t n) {
    if (w->n + n + 1 > w->cap) {
        w->cap = (w->n + n + 1) * 2;
        w->buf = realloc(w->buf, w->cap);
        if (!w->buf) exit(1);
    }
    memcpy(w->buf + w->n, p, n);
    w->n += n;
}

static void split_words(const char *s, size_t n, words *w) {
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r')) n--;
    for (size_t i = 0; i < n;) {
        while (i < n && s[i] == ' ') i++; // a run of spaces is one U+2581: the start of a word
        size_t j = i;
        while (j < n && s[j] != ' ') j++;
        put(w, "\xE2\x96\x81", 3); // after the strip, a run of spaces is always followed by a word
        put(w, s + i, j - i);
        put(w, "", 1);
        w->count++;
        i = j;
    }
}

// ----------------------------------------------------------------------------

typedef struct texts {
    const char **text;
    size_t *len, n, cap, bytes;
} texts;

static int add_file(texts *t, const char *path, int every) {
    size_t size = 0;
    char *data = read_all(path, &size);
    if (!data) return fprintf(stderr, "cannot open %s\n", path), -1;
    size_t line = 0;
    for (char *p = data, *end = data + size; p < end; line++) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (line % (size_t)every == 0) {
            if (t->n == t->cap) {
                t->cap = t->cap ? 2 * t->cap : 1 << 16;
                t->text = realloc(t->text, sizeof *t->text * t->cap);
                t->len = realloc(t->len, sizeof *t->len * t->cap);
            }
            t->text[t->n] = p, t->len[t->n++] = l, t->bytes += l;
        }
        p += l + 1;
    }
    return 0; // data stays allocated: the texts point into it
}

static uint64_t encode_words(const ep_unigram *u, const words *w, uint64_t *n_ids) {
    uint64_t sum = 0, count = 0;
    int32_t ids[4096];
    for (const char *p = w->buf, *end = w->buf + w->n; p < end;) {
        size_t len = strlen(p);
        int n = ep_unigram_encode_word(u, p, len, ids, 4096);
        for (int k = 0; k < n && k < 4096; k++) sum = sum * 31 + (uint64_t)ids[k];
        count += n > 0 ? (uint64_t)n : 0;
        p += len + 1;
    }
    *n_ids = count;
    return sum;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s TOKENIZER.json[.zst] [--repeat N] [--every K] FILE...\n", argv[0]);
        return 2;
    }
    int repeat = 5, every = 1;
    texts t = {0};
    for (int a = 2; a < argc; a++) {
        if (strcmp(argv[a], "--repeat") == 0 && a + 1 < argc) repeat = atoi(argv[++a]);
        else if (strcmp(argv[a], "--every") == 0 && a + 1 < argc) every = atoi(argv[++a]) > 0 ? atoi(argv[a]) : 1;
        else if (add_file(&t, argv[a], every) != 0) return 1;
    }
    model m = {0};
    if (load_model(argv[1], &m) != 0) return 1;
    size_t cap = 1 << 16;
    char *out = malloc(cap);
    words w = {0}, norm = {0}, one = {0};
    size_t *norm_end = malloc(sizeof *norm_end * (t.n + 1));
    for (size_t i = 0; i < t.n; i++) { // the normalised texts and their words, once
        size_t n = ep_charsmap_normalize(m.map, t.text[i], t.len[i], out, cap);
        split_words(out, n, &w);
        put(&norm, out, n);
        norm_end[i] = norm.n;
    }
    double best[4] = {1e30, 1e30, 1e30, 1e30};
    uint64_t checksum = 0, n_ids = 0, ignored;
    for (int r = 0; r < repeat; r++) {
        double t0 = now();
        for (size_t i = 0; i < t.n; i++) ep_charsmap_normalize(m.map, t.text[i], t.len[i], out, cap);
        double t1 = now();
        checksum = encode_words(m.uni, &w, &n_ids);
        double t2 = now();
        for (size_t i = 0; i < t.n; i++) {
            one.n = one.count = 0;
            size_t start = i ? norm_end[i - 1] : 0;
            split_words(norm.buf + start, norm_end[i] - start, &one);
            encode_words(m.uni, &one, &ignored);
        }
        double t3 = now();
        for (size_t i = 0; i < t.n; i++) {
            one.n = one.count = 0;
            split_words(out, ep_charsmap_normalize(m.map, t.text[i], t.len[i], out, cap), &one);
            encode_words(m.uni, &one, &ignored);
        }
        double t4 = now(), dt[4] = {t1 - t0, t2 - t1, t3 - t2, t4 - t3};
        for (int k = 0; k < 4; k++)
            if (dt[k] < best[k]) best[k] = dt[k];
    }
    printf("%zu texts, %.2f MB; best of %d passes:\n", t.n, (double)t.bytes / 1e6, repeat);
    printf("charsmap: %.3f s = %.0f texts/s, %.1f MB/s\n", best[0], (double)t.n / best[0],
           (double)t.bytes / 1e6 / best[0]);
    printf("unigram: %zu words, %llu pieces: %.3f s = %.0f words/s, %.0f pieces/s (checksum %016llx)\n", w.count,
           (unsigned long long)n_ids, best[1], (double)w.count / best[1], (double)n_ids / best[1],
           (unsigned long long)checksum);
    printf("metaspace+unigram: %.3f s = %.0f words/s, %.0f pieces/s\n", best[2], (double)w.count / best[2],
           (double)n_ids / best[2]);
    printf("both: %.3f s = %.0f texts/s\n", best[3], (double)t.n / best[3]);
    free(norm.buf);
    free(norm_end);
    free(one.buf);
    free(out);
    free(w.buf);
    ep_charsmap_free(m.map);
    ep_unigram_free(m.uni);
    return 0;
}
