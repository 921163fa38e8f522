/*
 * test_tokjson_unigram - the two Unigram tokenizer.json files of
 * scripts/make-test-models.py (XLM-R's layout: Precompiled charsmap + Strip +
 * Replace, Metaspace, Unigram with and without byte fallback, <s> $A </s>,
 * <mask> with lstrip) against tokenizers' ids on more than 20,000 real tweets
 * and on every code point (tests/fixtures/tokjson).
 *
 * Until the Unigram model and the Precompiled normalizer are wired into the
 * loader, loading refuses them as "not supported yet": the test then prints
 * "unigram not wired yet" with the loader's message and is skipped (77). Once
 * they load, every id must be tokenizers' or the test fails.
 */
#include "tokjson_fixture.h"

#define MAX_LEN 256

int main(void) {
    cJSON *meta = tj_meta();
    const char *names[2] = {"unigram-xlmr", "unigram-bytefallback"};
    int wired = 0;
    for (int i = 0; i < 2; i++) {
        ep_tokenizer *tok = NULL;
        char why[1100];
        int st = tj_build(tj_spec(meta, names[i]), &tok, why, sizeof why);
        CHECKF(st != TJ_SKIP, "%s: its base file is committed, yet: %s", names[i], why);
        if (st == TJ_UNSUPPORTED) {
            // Only the two parts being written elsewhere may be missing; anything else is a bug.
            CHECKF(strstr(why, "not supported yet") != NULL, "%s: refused for another reason: %s", names[i], why);
            printf("unigram not wired yet: %s: %s\n", names[i], why);
            continue;
        }
        wired++;
        tj_codepoints c;
        tj_codepoints_load(&c);
        int bad_cp = tj_check_codepoints(tok, &c, names[i]), bad = 0;
        CHECKF(bad_cp == 0, "%s: %d code points differ from tokenizers", names[i], bad_cp);
        free(c.raw);
        char data[4096];
        snprintf(data, sizeof data, "%s/tweeteval", ep_test_shared_data());
        if (ep_test_exists(data)) {
            tj_tweets t;
            tj_tweets_load(&t);
            int k = tj_tweets_pipe(&t, names[i]);
            CHECKF(k >= 0, "tweets.bin.zst has no pipeline %s", names[i]);
            bad = k >= 0 ? tj_check_rows(tok, &t, k, MAX_LEN) : 0;
            CHECKF(bad == 0, "%s: %d of %d tweets differ from tokenizers", names[i], bad, t.n_rows);
            printf("%s: %d of %d tweets identical, %d code points differ\n", names[i], t.n_rows - bad, t.n_rows, bad_cp);
            tj_tweets_free(&t);
        } else {
            printf("%s: %d code points differ; tweets skipped (%s is absent)\n", names[i], bad_cp, data);
        }
        ep_tokenizer_free(tok);
    }
    cJSON_Delete(meta);
    if (!wired && !ep_test_failures) {
        printf("test_tokjson_unigram: skipped: unigram not wired yet\n");
        return EP_TEST_SKIP;
    }
    return ep_test_finish("test_tokjson_unigram");
}
