/*
 * test_unigram_edge - ep_unigram_encode_word on hand-picked vocabularies and words (ties between
 * equal scores, unknown characters and their fusing, unk_id not 0, byte fallback with missing
 * byte pieces, a fused run that is itself a piece, duplicate and empty pieces, no unk_id, words
 * past the stack buffer) against tokenizers.models.Unigram (tests/fixtures/models/unigram-edge
 * .json, from scripts/make-test-models.py); the id cap; refused vocabularies; and several threads
 * on one model.
 */
#include <pthread.h>

#include "unigram_test.h"

typedef struct edge_case {
    ep_unigram *model;
    const char *name;
    cJSON *words;
} edge_case;

static ep_unigram *build(cJSON *c) {
    cJSON *vocab = cJSON_GetObjectItem(c, "vocab"), *unk = cJSON_GetObjectItem(c, "unk_id");
    int n = cJSON_GetArraySize(vocab);
    const char **pieces = malloc(sizeof *pieces * (size_t)(n + 1));
    double *scores = malloc(sizeof *scores * (size_t)(n + 1));
    int i = 0;
    cJSON *pair;
    cJSON_ArrayForEach(pair, vocab) {
        pieces[i] = cJSON_GetStringValue(cJSON_GetArrayItem(pair, 0));
        scores[i] = cJSON_GetNumberValue(cJSON_GetArrayItem(pair, 1));
        i++;
    }
    ep_unigram *u = NULL;
    ep_error err = {0};
    CHECK_OK(ep_unigram_create(pieces, scores, n, cJSON_IsNumber(unk) ? unk->valueint : -1,
                               cJSON_IsTrue(cJSON_GetObjectItem(c, "byte_fallback")), &u, &err),
             &err);
    free(pieces);
    free(scores);
    return u;
}

// Checks one word: the ids (or the refusal) and every cap. @return 1 when it agrees.
static int check_word(const ep_unigram *u, const char *name, cJSON *w) {
    size_t len = 0;
    uint8_t *word = unigram_test_unhex(cJSON_GetStringValue(cJSON_GetObjectItem(w, "word_hex")), &len);
    cJSON *want = cJSON_GetObjectItem(w, "ids");
    int n_want = want ? cJSON_GetArraySize(want) : -2; // -2: tokenizers refused the word
    int32_t ids[2048];
    int n = word ? ep_unigram_encode_word(u, (const char *)word, len, ids, 2048) : -3;
    int ok = n == n_want;
    for (int i = 0; ok && i < n; i++) ok = ids[i] == cJSON_GetArrayItem(want, i)->valueint;
    if (!ok) {
        fprintf(stderr, "%s: word \"", name);
        unigram_test_print(stderr, word, len);
        fprintf(stderr, "\": ours %d ids:", n);
        for (int i = 0; i < n && i < 40; i++) fprintf(stderr, " %d", ids[i]);
        fprintf(stderr, "; tokenizers %d ids:", n_want);
        for (int i = 0; i < n_want && i < 40; i++) fprintf(stderr, " %d", cJSON_GetArrayItem(want, i)->valueint);
        fputc('\n', stderr);
    }
    for (int cap = 0; ok && n >= 0 && cap <= n + 1 && cap < 64; cap++) {
        int32_t part[66];
        for (int i = 0; i < 66; i++) part[i] = -7;
        int m = ep_unigram_encode_word(u, (const char *)word, len, part, cap);
        size_t same = sizeof *ids * (size_t)(cap < n ? cap : n);
        CHECKF(m == n && part[cap] == -7 && (cap == 0 || memcmp(part, ids, same) == 0), "%s: cap %d", name, cap);
    }
    free(word);
    return ok;
}

static void *encode_all(void *arg) {
    const edge_case *c = arg;
    long bad = 0;
    for (int round = 0; round < 50; round++) {
        cJSON *w;
        cJSON_ArrayForEach(w, c->words) {
            size_t len = 0;
            uint8_t *word = unigram_test_unhex(cJSON_GetStringValue(cJSON_GetObjectItem(w, "word_hex")), &len);
            cJSON *want = cJSON_GetObjectItem(w, "ids");
            int32_t ids[2048];
            int n = ep_unigram_encode_word(c->model, (const char *)word, len, ids, 2048);
            bad += want ? n != cJSON_GetArraySize(want) : n != -2;
            for (int i = 0; want && i < n && i < cJSON_GetArraySize(want); i++)
                bad += ids[i] != cJSON_GetArrayItem(want, i)->valueint;
            free(word);
        }
    }
    return (void *)bad;
}

static void check_refusals(void) {
    const char *pieces[] = {"<unk>", "a"};
    double scores[] = {0.0, -1.0};
    ep_unigram *u = NULL;
    ep_error err = {0};
    CHECK(ep_unigram_create(pieces, scores, 2, 2, false, &u, &err) == EP_ERR_USAGE && !u &&
          strstr(err.message, "unk_id 2"));
    CHECK(ep_unigram_create(pieces, scores, 0, 0, false, &u, &err) == EP_ERR_USAGE && !u &&
          strstr(err.message, "empty"));
    CHECK(ep_unigram_create(pieces, scores, -1, -1, false, &u, &err) == EP_ERR_USAGE && !u);
    CHECK_OK(ep_unigram_create(pieces, scores, 0, -1, false, &u, &err), &err); // tokenizers allows it too
    int32_t id;
    CHECK(u && ep_unigram_encode_word(u, "", 0, &id, 1) == 0 && ep_unigram_encode_word(u, "a", 1, &id, 1) == -2);
    ep_unigram_free(u);
}

int main(void) {
    size_t len = 0;
    char *json = unigram_test_fixture("unigram-edge.json", &len);
    cJSON *root = cJSON_Parse(json), *c;
    int n_cases = 0, n_words = 0, n_ok = 0;
    edge_case threaded = {NULL, NULL, NULL};
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(root, "unigram")) {
        ep_unigram *u = build(c);
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(c, "name"));
        cJSON *w;
        cJSON_ArrayForEach(w, cJSON_GetObjectItem(c, "words")) {
            n_ok += u && check_word(u, name, w);
            n_words++;
        }
        if (n_cases == 0) { // the first model is kept for the threads below
            threaded = (edge_case){u, name, cJSON_GetObjectItem(c, "words")};
        } else {
            // duplicate pieces: the later id, as tokenizers' token_to_id ("a" is pieces 1 and 3)
            if (u && strstr(name, "duplicate")) CHECK(ep_unigram_piece_id(u, "a", 1) == 3);
            ep_unigram_free(u);
        }
        n_cases++;
    }
    CHECKF(n_ok == n_words, "%d of %d words differ from tokenizers", n_words - n_ok, n_words);
    CHECKF(n_cases >= 8, "only %d cases in unigram-edge.json", n_cases);
    printf("%d vocabularies, %d words: %d agree with tokenizers (ids and every cap)\n", n_cases, n_words, n_ok);
    pthread_t th[4];
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, encode_all, &threaded);
    long bad = 0;
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(th[i], &r);
        bad += (long)r;
    }
    CHECKF(bad == 0, "%ld ids differ when 4 threads share one model", bad);
    ep_unigram_free(threaded.model);
    check_refusals();
    cJSON_Delete(root);
    free(json);
    return ep_test_finish("test_unigram_edge");
}
