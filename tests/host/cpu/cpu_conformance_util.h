/*
 * cpu_conformance_util.h - what the CPU conformance tests share: the fixture's
 * tweets as token rows, embedding them in the pipeline's batches, a text's vector
 * compared alone and in batches of other sizes (batch invariance), and the cosine
 * summary against a reference (test_cpu_fast_conformance.c, test_cpu_int8_conformance.c).
 */
#ifndef EP_CPU_CONFORMANCE_UTIL_H
#define EP_CPU_CONFORMANCE_UTIL_H

#include "backend.h"
#include "model.h"
#include "tokenizer.h"
#include "fixture_util.h"
#include "test_util.h"

#include <math.h>

typedef struct row {
    int32_t *ids;
    int n_tokens;
    char where[160];
} row;

/* The fixture's tweets tokenised (checked against sentence-transformers' token counts;
 * a failed check is counted in ep_test_failures). @return fx->n rows (free each ids). */
static inline row *fixture_rows(const ep_fixture_vectors *fx, ep_tokenizer *tok, int max_len) {
    row *rows = calloc(fx->n, sizeof *rows);
    for (size_t i = 0; i < fx->n; i++) {
        const ep_fixture_tweet *t = &fx->rows[i];
        snprintf(rows[i].where, sizeof rows[i].where, "%s", t->where);
        rows[i].ids = malloc(sizeof(int32_t) * (size_t)max_len);
        rows[i].n_tokens = ep_tokenizer_encode(tok, t->text, t->len, rows[i].ids, max_len, NULL);
        CHECKF(rows[i].n_tokens == t->n_tokens, "%s: %d tokens, sentence-transformers had %d", t->where,
               rows[i].n_tokens, t->n_tokens);
    }
    CHECKF(fx->n >= 2000, "the fixture has %zu tweets (need >= 2000)", fx->n);
    return rows;
}

/* Embeds rows [0, n) in packed batches of up to 4096 tokens, in order. */
static inline int encode_all(ep_backend *be, const row *rows, size_t n, int dim, float *out) {
    static int32_t ids[4096 + 512], seq_start[1025];
    ep_error err = {0};
    for (size_t i = 0; i < n;) {
        int k = 0;
        seq_start[0] = 0;
        while (i + k < n && k < 1024 && (k == 0 || seq_start[k] + rows[i + k].n_tokens <= 4096)) {
            memcpy(ids + seq_start[k], rows[i + k].ids, sizeof(int32_t) * (size_t)rows[i + k].n_tokens);
            seq_start[k + 1] = seq_start[k] + rows[i + k].n_tokens;
            k++;
        }
        ep_batch b = {.n_seqs = k, .n_tokens = seq_start[k], .token_ids = ids, .seq_start = seq_start};
        ep_status st = ep_backend_encode(be, &b, out + i * (size_t)dim, NULL, &err);
        CHECK_OK(st, &err);
        if (st != EP_OK) return -1;
        i += (size_t)k;
    }
    return 0;
}

/* Every text of rows [w0, w0 + z), batched together in order (reverse = 0) or
 * reversed, against its vector in `ref` (computed in the 4096-token batches).
 * @return how many texts differ in any bit. */
static inline int window_differs(ep_backend *be, const row *rows, size_t w0, int z, int reverse, int dim, const float *ref,
                          float *out) {
    static int32_t ids[64 * 512], seq_start[65];
    ep_error err = {0};
    seq_start[0] = 0;
    for (int k = 0; k < z; k++) {
        const row *r = &rows[w0 + (size_t)(reverse ? z - 1 - k : k)];
        memcpy(ids + seq_start[k], r->ids, sizeof(int32_t) * (size_t)r->n_tokens);
        seq_start[k + 1] = seq_start[k] + r->n_tokens;
    }
    ep_batch b = {.n_seqs = z, .n_tokens = seq_start[z], .token_ids = ids, .seq_start = seq_start};
    CHECK_OK(ep_backend_encode(be, &b, out, NULL, &err), &err);
    int differ = 0;
    for (int k = 0; k < z; k++) {
        const size_t i = w0 + (size_t)(reverse ? z - 1 - k : k);
        differ += memcmp(out + (size_t)k * dim, ref + i * (size_t)dim, sizeof(float) * (size_t)dim) != 0;
    }
    return differ;
}

/* Batch invariance of one backend whose vectors of all n rows (4096-token batches) are in `got`. */
static inline void check_invariance(ep_backend *be, const char *name, const row *rows, size_t n, int dim, const float *got) {
    ep_error err = {0};
    // a text alone gives the bits it got inside a batch
    int differ = 0;
    float one[1024];
    for (size_t i = 0; i < 64 && i < n && dim <= 1024; i++) {
        int32_t ss[2] = {0, rows[i].n_tokens};
        ep_batch b = {.n_seqs = 1, .n_tokens = rows[i].n_tokens, .token_ids = rows[i].ids, .seq_start = ss};
        CHECK_OK(ep_backend_encode(be, &b, one, NULL, &err), &err);
        differ += memcmp(one, got + i * (size_t)dim, sizeof(float) * (size_t)dim) != 0;
    }
    CHECKF(differ == 0, "%s: %d of 64 texts embedded alone differ from the same text in a batch", name, differ);
    // windows of other sizes, at other offsets, in order and reversed
    const int sizes[] = {2, 3, 5, 7, 13, 29, 61};
    float *out = malloc(sizeof(float) * 64 * (size_t)dim);
    int texts = 0;
    differ = 0;
    for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++)
        for (int reverse = 0; reverse < 2; reverse++) {
            const size_t w0 = (17 * z + 5 * (size_t)reverse) % (n > 64 ? n - 64 : 1);
            if (w0 + (size_t)sizes[z] > n) continue;
            differ += window_differs(be, rows, w0, sizes[z], reverse, dim, got, out);
            texts += sizes[z];
        }
    free(out);
    CHECKF(differ == 0, "%s: %d of %d texts in batches of 2..61 texts differ from the same text in a 4096-token batch",
           name, differ, texts);
    printf("  %-52s batch invariant: 64 texts alone, %d in windows of 2..61\n", name, texts);
}

/* Prints the minimum and mean cosine of got against ref and checks the minimum. @return the mean. */
static inline double compare(const char *what, const float *got, const float *ref, const row *rows, size_t n, int dim,
                    double need) {
    double min_cos = 1.0, sum = 0;
    size_t worst = 0;
    for (size_t i = 0; i < n; i++) {
        double c = ep_fixture_cosine(got + i * dim, ref + i * dim, dim);
        sum += c;
        if (c < min_cos || isnan(c)) {
            min_cos = isnan(c) ? -1 : c;
            worst = i;
        }
    }
    printf("  %-52s min cosine %.9f (1 - min = %.2e, %s), mean %.9f\n", what, min_cos, 1.0 - min_cos,
           rows[worst].where, sum / (double)n);
    CHECKF(min_cos >= need, "%s: min cosine %.7f < %g at %s", what, min_cos, need, rows[worst].where);
    return sum / (double)n;
}

#endif /* EP_CPU_CONFORMANCE_UTIL_H */
