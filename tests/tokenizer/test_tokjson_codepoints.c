/*
 * test_tokjson_codepoints - every Unicode scalar value c, as the text "a" c "b",
 * through each tokenizer.json pipeline this branch supports
 * (tests/fixtures/tokjson/codepoints.bin.zst, from scripts/make-test-models.py):
 * the ids must be tokenizers'. This is the guard on the Unicode tables behind
 * the normalizers (NFC/NFD/NFKC/NFKD, Lowercase, StripAccents, BertNormalizer)
 * and the pre-tokenizers (whitespace, punctuation, \w).
 *
 * The Unigram pipelines are test_tokjson_unigram's. A pipeline whose base file
 * is absent (all-MiniLM-L6-v2 not fetched) is skipped with a message.
 */
#include "tokjson_fixture.h"

int main(void) {
    cJSON *meta = tj_meta();
    tj_codepoints c;
    tj_codepoints_load(&c);
    int checked = 0, skipped = 0;
    for (const cJSON *spec = cJSON_GetObjectItem(meta, "pipelines")->child; spec; spec = spec->next) {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(spec, "name"));
        if (strncmp(name, "unigram-", 8) == 0) continue;
        ep_tokenizer *tok = NULL;
        char why[1100];
        int st = tj_build(spec, &tok, why, sizeof why);
        if (st == TJ_SKIP) {
            printf("%s: skipped: %s\n", name, why);
            skipped++;
            continue;
        }
        CHECKF(st == TJ_OK, "%s: refused: %s", name, why);
        if (st != TJ_OK) continue;
        int bad = tj_check_codepoints(tok, &c, name);
        CHECKF(bad == 0, "%s: %d code points differ from tokenizers", name, bad);
        printf("%s: %d code points differ\n", name, bad);
        checked++;
        ep_tokenizer_free(tok);
    }
    CHECKF(checked >= 3, "only %d pipelines were checked", checked);
    free(c.raw);
    cJSON_Delete(meta);
    return ep_test_finish("test_tokjson_codepoints");
}
