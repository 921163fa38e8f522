/*
 * test_tokjson_fastpath - all-MiniLM-L6-v2's tokenizer.json must run on the
 * fast WordPiece path and give, bit for bit, the ids its vocab.txt gives: on
 * the tweets of tests/fixtures/tokjson, on every edge case of
 * tests/fixtures/tokens-edge.ndjson (at every smaller max_tokens too) and on
 * every code point. The same file forced through the general chain
 * (general_only) must agree as well, which holds the chain's BertNormalizer
 * and BertPreTokenizer to the fast path's.
 */
#include "tokenizer_internal.h"
#include "tokjson_fixture.h"

#define MAX_IDS 256

static ep_tokenizer *from_json(const char *dir, bool general) {
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    ep_tokenizer_json_options o = {.lowercase = -1, .general_only = general};
    ep_tokenizer *tok = NULL;
    ep_error err = {0};
    if (ep_tokenizer_create_json(path, &o, &tok, &err) != EP_OK) {
        fprintf(stderr, "cannot load %s: %s\n", path, err.message);
        exit(1);
    }
    return tok;
}

static int failures;

// The three tokenizers must agree on text at max_tokens.
static void same(ep_tokenizer *const tok[3], const char *text, size_t len, int max_tokens, const char *where) {
    int32_t ids[3][MAX_IDS];
    int n[3];
    bool tr[3];
    for (int k = 0; k < 3; k++) n[k] = ep_tokenizer_encode(tok[k], text, len, ids[k], max_tokens, &tr[k]);
    for (int k = 1; k < 3; k++) {
        if (n[k] == n[0] && tr[k] == tr[0] && memcmp(ids[k], ids[0], sizeof(int32_t) * (size_t)n[0]) == 0) continue;
        if (++failures <= 10) {
            fprintf(stderr, "%s (max_tokens %d): tokenizer.json%s differs from vocab.txt\n", where, max_tokens,
                    k == 2 ? " on the general chain" : "");
            tok_test_print_diff(tok[0], ids[k], n[k], ids[0], n[0]);
        }
    }
}

static void edge_cases(ep_tokenizer *const tok[3]) {
    size_t len;
    char *data = tok_test_fixture("tokens-edge.ndjson", &len);
    unsigned char *bytes = malloc(len / 2 + 1);
    int cases = 0;
    for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n"), cases++) {
        cJSON *o = cJSON_Parse(line);
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(o, "name"));
        const char *hex = cJSON_GetStringValue(cJSON_GetObjectItem(o, "hex"));
        long n = hex ? tok_test_unhex(hex, bytes) : -1;
        CHECKF(name && n >= 0, "malformed tokens-edge.ndjson line");
        for (int m = 2; m <= MAX_IDS && n >= 0; m += m < 40 ? 1 : 37) same(tok, (const char *)bytes, (size_t)n, m, name);
        cJSON_Delete(o);
    }
    printf("%d edge cases identical at every budget\n", cases);
    free(bytes);
    free(data);
}

static void codepoints(ep_tokenizer *const tok[3]) {
    char text[16], where[32];
    int checked = 0;
    for (uint32_t cp = 0; cp < 0x110000; cp++) {
        if (cp == 0xD800) cp = 0xE000;
        int tl = 0;
        text[tl++] = 'a';
        tl += ep_test_utf8_encode(cp, text + tl);
        text[tl++] = 'b';
        snprintf(where, sizeof where, "U+%04X", cp);
        same(tok, text, (size_t)tl, 64, where);
        checked++;
    }
    printf("%d code points identical\n", checked);
}

int main(void) {
    ep_tokenizer *tok[3];
    tok[0] = tok_test_load(); // vocab.txt; exits 77 when the model is absent
    const char *dir = ep_test_env("EP_MODEL_DIR", "models/all-MiniLM-L6-v2");
    tok[1] = from_json(dir, false);
    tok[2] = from_json(dir, true);
    CHECKF(tok[1]->chain == NULL, "tokenizer.json did not take the fast path: %s", ep_tokenizer_describe(tok[1]));
    CHECKF(tok[2]->chain != NULL, "general_only still took the fast path");
    CHECK(ep_tokenizer_vocab_size(tok[1]) == ep_tokenizer_vocab_size(tok[0]));
    CHECK(ep_tokenizer_n_special(tok[1]) == 2);
    printf("vocab.txt: %s\ntokenizer.json: %s\n", ep_tokenizer_describe(tok[0]), ep_tokenizer_describe(tok[1]));
    edge_cases(tok);
    codepoints(tok);
    char data[4096];
    snprintf(data, sizeof data, "%s/tweeteval", ep_test_shared_data());
    if (ep_test_exists(data)) {
        tj_tweets t;
        tj_tweets_load(&t);
        for (int i = 0; i < t.n_rows; i++) same(tok, t.row[i].text, t.row[i].len, MAX_IDS, t.row[i].where);
        printf("%d tweets identical\n", t.n_rows);
        tj_tweets_free(&t);
    } else {
        printf("tweets skipped: %s is absent\n", data);
    }
    CHECKF(failures == 0, "%d encodings differ", failures);
    for (int k = 0; k < 3; k++) ep_tokenizer_free(tok[k]);
    return ep_test_finish("test_tokjson_fastpath");
}
