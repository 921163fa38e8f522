/*
 * test_tokjson_conformance - tokenizer.json pipelines (tests/fixtures/tokjson,
 * from scripts/make-test-models.py) on more than 20,000 real tweets: every 5th
 * tweeteval line and every tweet of the twitter-export (half German). For each
 * pipeline this branch supports, every tweet must get the ids tokenizers gave
 * it (their count and hash), truncated at 256.
 *
 * Also, for one general-chain pipeline: every 11th tweet encoded with smaller
 * budgets must give the same ids cut on the right with the specials kept, and
 * two threads sharing the tokenizer must get what one thread gets.
 *
 * The Unigram pipelines are test_tokjson_unigram's. A pipeline whose base file
 * is absent (all-MiniLM-L6-v2 not fetched) is skipped with a message; the test
 * is skipped (77) only when the tweets themselves are absent.
 */
#include <pthread.h>

#include "tokenizer_internal.h"
#include "tokjson_fixture.h"

#define MAX_LEN 256

typedef struct thread_arg {
    const ep_tokenizer *tok;
    const tj_tweets *t;
    uint32_t *hash; // per row: the hash one thread got
    int mismatches;
} thread_arg;

static void *encode_all(void *varg) {
    thread_arg *a = varg;
    int32_t ids[MAX_LEN];
    for (int i = 0; i < a->t->n_rows; i++) {
        int n = ep_tokenizer_encode(a->tok, a->t->row[i].text, a->t->row[i].len, ids, MAX_LEN, NULL);
        a->mismatches += tj_ids_hash(ids, n) != a->hash[i];
    }
    return NULL;
}

/* Smaller budgets cut the ids on the right and keep the specials; two threads agree. */
static void truncation_and_threads(const ep_tokenizer *tok, const tj_tweets *t, const char *name) {
    int32_t full[MAX_LEN], ids[MAX_LEN];
    uint32_t *hash = malloc(sizeof *hash * (size_t)t->n_rows);
    int bad = 0, sp = ep_tokenizer_n_special(tok);
    for (int i = 0; i < t->n_rows; i++) {
        bool trunc_full;
        int n = ep_tokenizer_encode(tok, t->row[i].text, t->row[i].len, full, MAX_LEN, &trunc_full);
        hash[i] = tj_ids_hash(full, n);
        if (i % 11 || trunc_full) continue;
        int budgets[3] = {sp, sp + 1, sp + (n - sp) / 2};
        for (int b = 0; b < 3; b++) {
            bool trunc;
            int k = budgets[b], m = ep_tokenizer_encode(tok, t->row[i].text, t->row[i].len, ids, k, &trunc);
            int keep = n < k ? n : k, text_kept = keep - sp;
            bool ok = m == keep && trunc == (n > k) && memcmp(ids, full, sizeof *ids * (size_t)(tok->n_prefix + text_kept)) == 0 &&
                      memcmp(ids + tok->n_prefix + text_kept, full + n - tok->n_suffix, sizeof *ids * (size_t)tok->n_suffix) == 0;
            if (!ok && ++bad <= 5)
                fprintf(stderr, "%s: %s: budget %d gives %d ids (truncated %d), not the %d-id cut of the full ids\n",
                        name, t->row[i].where, k, m, trunc, keep);
        }
    }
    CHECKF(bad == 0, "%s: %d truncated encodings differ from the full ids cut short", name, bad);
    thread_arg args[2] = {{tok, t, hash, 0}, {tok, t, hash, 0}};
    pthread_t th[2];
    for (int k = 0; k < 2; k++) CHECK(pthread_create(&th[k], NULL, encode_all, &args[k]) == 0);
    for (int k = 0; k < 2; k++) pthread_join(th[k], NULL);
    CHECKF(args[0].mismatches == 0 && args[1].mismatches == 0, "%s: two threads at once changed %d and %d rows",
           name, args[0].mismatches, args[1].mismatches);
    free(hash);
}

int main(void) {
    cJSON *meta = tj_meta();
    tj_tweets t;
    tj_tweets_load(&t); // exits 77 when the shared data is absent
    int max_len = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(meta, "max_length"));
    CHECKF(max_len == MAX_LEN, "the fixture was made with max_length %d, not %d", max_len, MAX_LEN);
    CHECKF(t.n_rows >= 20000, "the fixture has %d tweets; it should have at least 20,000", t.n_rows);
    int checked = 0;
    for (const cJSON *spec = cJSON_GetObjectItem(meta, "pipelines")->child; spec; spec = spec->next) {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(spec, "name"));
        if (strncmp(name, "unigram-", 8) == 0) continue; // test_tokjson_unigram
        ep_tokenizer *tok = NULL;
        char why[1100];
        int st = tj_build(spec, &tok, why, sizeof why);
        if (st == TJ_SKIP) {
            printf("%s: skipped: %s\n", name, why);
            continue;
        }
        CHECKF(st == TJ_OK, "%s: refused: %s", name, why);
        if (st != TJ_OK) continue;
        int k = tj_tweets_pipe(&t, name);
        CHECKF(k >= 0, "tweets.bin.zst has no pipeline %s", name);
        int bad = k >= 0 ? tj_check_rows(tok, &t, k, MAX_LEN) : 0;
        CHECKF(bad == 0, "%s: %d of %d tweets differ from tokenizers", name, bad, t.n_rows);
        printf("%s: %d of %d tweets identical (%s)\n", name, t.n_rows - bad, t.n_rows, ep_tokenizer_describe(tok));
        if (strcmp(name, "nfkc-lower-punct") == 0) truncation_and_threads(tok, &t, name);
        checked++;
        ep_tokenizer_free(tok);
    }
    CHECKF(checked >= 5, "only %d pipelines were checked", checked);
    tj_tweets_free(&t);
    cJSON_Delete(meta);
    return ep_test_finish("test_tokjson_conformance");
}
