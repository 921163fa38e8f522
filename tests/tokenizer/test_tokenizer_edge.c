/*
 * test_tokenizer_edge - the hand-picked edge cases of scripts/make-reference.py
 * (tests/fixtures/tokens-edge.ndjson: emoji, scripts, controls, long words,
 * special tokens, invalid UTF-8, long texts...) against Hugging Face's ids.
 *
 * The words the normaliser and pre-tokeniser hand to WordPiece are compared too
 * (where no word is longer than the tokenizer keeps), which catches differences
 * that [UNK] would hide.
 *
 * Each case is also encoded with every smaller max_tokens: the result must be
 * Hugging Face's pieces cut to fit, then [SEP], with truncated set exactly when
 * pieces were dropped (this exercises the early stop).
 */
#include <cjson/cJSON.h>

#include "tok_test.h"
#include "tokenizer_internal.h"

#define MAX_IDS 256

int main(void) {
    ep_tokenizer *tok = tok_test_load();
    const int32_t cls = ep_tokenizer_token_to_id(tok, "[CLS]"), sep = ep_tokenizer_token_to_id(tok, "[SEP]");
    size_t len = 0;
    char *data = tok_test_fixture("tokens-edge.ndjson", &len);
    int cases = 0, failed_cases = 0;
    unsigned char *bytes = malloc(len / 2 + 1);
    for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *o = cJSON_Parse(line);
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(o, "name"));
        const char *hex = cJSON_GetStringValue(cJSON_GetObjectItem(o, "hex"));
        cJSON *jids = cJSON_GetObjectItem(o, "ids");
        cJSON *jtrunc = cJSON_GetObjectItem(o, "truncated");
        long n = hex ? tok_test_unhex(hex, bytes) : -1;
        if (!name || n < 0 || !cJSON_IsArray(jids) || !cJSON_IsBool(jtrunc) || cJSON_GetArraySize(jids) > MAX_IDS) {
            fprintf(stderr, "malformed fixture line: %.200s\n", line);
            return 1;
        }
        int32_t ref[MAX_IDS], ids[MAX_IDS];
        int n_ref = 0;
        for (cJSON *v = jids->child; v; v = v->next) ref[n_ref++] = (int32_t)v->valuedouble;
        bool ref_trunc = cJSON_IsTrue(jtrunc);
        cases++;

        // The words, joined by spaces, unless one is too long to be kept whole.
        cJSON *jwords = cJSON_GetObjectItem(o, "words");
        size_t wlen = 0;
        int comparable = cJSON_IsArray(jwords);
        for (cJSON *v = comparable ? jwords->child : NULL; v; v = v->next) {
            const char *s = cJSON_GetStringValue(v);
            size_t chars = 0;
            for (const char *c = s; c && *c; c++) chars += ((unsigned char)*c & 0xC0) != 0x80;
            if (!s || chars > 101) comparable = 0;
            else wlen += strlen(s) + 1;
        }
        if (comparable) {
            char *want = calloc(1, wlen + 1), *have = malloc(wlen + 64);
            for (cJSON *v = jwords->child; v; v = v->next) {
                if (v != jwords->child) strcat(want, " ");
                strcat(want, v->valuestring);
            }
            ep_tokenizer_words(tok, (const char *)bytes, (size_t)n, have, wlen + 64);
            CHECKF(strcmp(want, have) == 0, "edge case \"%s\": words \"%s\", Hugging Face \"%s\"", name, have, want);
            free(want);
            free(have);
        }

        bool trunc = false;
        int got = ep_tokenizer_encode(tok, (const char *)bytes, (size_t)n, ids, MAX_IDS, &trunc);
        int ok = got == n_ref && memcmp(ids, ref, sizeof *ids * (size_t)n_ref) == 0;
        if (!ok) {
            fprintf(stderr, "edge case \"%s\" differs from Hugging Face:\n", name);
            tok_test_print_diff(tok, ids, got, ref, n_ref);
        }
        CHECKF(trunc == ref_trunc, "edge case \"%s\": truncated %d, Hugging Face %d", name, trunc, ref_trunc);
        ok = ok && trunc == ref_trunc;

        // Every smaller budget: HF's pieces cut to fit, then [SEP].
        for (int max = 2; ok && max < n_ref; max++) {
            got = ep_tokenizer_encode(tok, (const char *)bytes, (size_t)n, ids, max, &trunc);
            int good = got == max && trunc && ids[0] == cls && ids[max - 1] == sep &&
                       memcmp(ids + 1, ref + 1, sizeof *ids * (size_t)(max - 2)) == 0;
            CHECKF(good, "edge case \"%s\" with max_tokens %d: %d ids, truncated %d", name, max, got, trunc);
            ok = good;
        }
        if (ok && !ref_trunc) { // room to spare changes nothing
            got = ep_tokenizer_encode(tok, (const char *)bytes, (size_t)n, ids, n_ref, &trunc);
            CHECKF(got == n_ref && !trunc, "edge case \"%s\" with max_tokens = its length %d", name, n_ref);
        }
        // The text need not be NUL-terminated: a byte after it must not matter.
        if (ok && n > 0) {
            unsigned char saved = bytes[n];
            bytes[n] = 'x';
            got = ep_tokenizer_encode(tok, (const char *)bytes, (size_t)n, ids, MAX_IDS, &trunc);
            CHECKF(got == n_ref && memcmp(ids, ref, sizeof *ids * (size_t)n_ref) == 0,
                   "edge case \"%s\" read past its length", name);
            bytes[n] = saved;
        }
        if (!ok) failed_cases++;
        cJSON_Delete(o);
    }
    CHECKF(cases >= 50, "only %d edge cases in the fixture", cases);
    CHECKF(failed_cases == 0, "%d of %d edge cases differ", failed_cases, cases);
    // NULL text with zero length is the empty text.
    int32_t ids[4];
    CHECK(ep_tokenizer_encode(tok, NULL, 0, ids, 4, NULL) == 2 && ids[0] == cls && ids[1] == sep);
    printf("%d edge cases checked\n", cases);
    free(bytes);
    free(data);
    ep_tokenizer_free(tok);
    return ep_test_finish("test_tokenizer_edge");
}
