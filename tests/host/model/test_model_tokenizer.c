/*
 * test_model_tokenizer.c - which tokenizer a model folder gets (host/model/model_tokenizer.c),
 * on folders made of the real all-MiniLM-L6-v2's files (skips when absent):
 *   - the folder as published has both files: tokenizer.json is used, on the fast path,
 *     and gives vocab.txt's ids;
 *   - without tokenizer.json: vocab.txt, as before;
 *   - without vocab.txt: the model still loads and tokenizes from tokenizer.json;
 *   - a tokenizer.json with more ids than config.json's vocab_size is refused, naming it, and so
 *     is one that adds no special tokens (an empty text would have no token to pool over);
 *   - tokenizer_config.json's do_lower_case reaches tokenizer.json's BertNormalizer.
 */
#include <cjson/cJSON.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include "model.h"
#include "model_test_util.h"
#include "model_tokenizer.h"

static char tmp[512];
static const char *const files[] = {"config.json", "model.safetensors", "vocab.txt", "tokenizer.json",
                                    "tokenizer_config.json", "special_tokens_map.json", "sentence_bert_config.json",
                                    "modules.json", "1_Pooling"};

// A folder of links to the model's files, leaving out `without` (NULL: nothing).
static const char *folder(const char *src, const char *name, const char *without) {
    static char dir[700];
    snprintf(dir, sizeof dir, "%s/%s", tmp, name);
    CHECK(mkdir(dir, 0755) == 0);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        if (without && strcmp(files[i], without) == 0) continue;
        char from[4200], to[1000];
        snprintf(from, sizeof from, "%s/%s", src, files[i]);
        snprintf(to, sizeof to, "%s/%s", dir, files[i]);
        if (ep_test_exists(from)) CHECKF(symlink(from, to) == 0, "cannot link %s", to);
    }
    return dir;
}

// The tokenizer model_tokenizer.c makes for dir (NULL after a failure; err says why).
static ep_tokenizer *tokenizer_of(const char *dir, ep_error *err, ep_status *st) {
    ep_model_config cfg;
    ep_tokenizer *tok = NULL;
    *st = ep_model_load_config(dir, &cfg, err);
    if (*st == EP_OK) *st = ep_model_tokenizer_create(dir, &cfg, &tok, err);
    return tok;
}

static void same_ids(ep_tokenizer *a, ep_tokenizer *b, const char *what) {
    const char *texts[] = {"Hello, World! RT @user: café naïve İstanbul [MASK] 日本語 \xF0\x9F\x98\x82",
                           "Impfung und Pandemie: Straße, Grüße! #COVID19 https://t.co/x", ""};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        int32_t x[64], y[64];
        int n = ep_tokenizer_encode(a, texts[i], strlen(texts[i]), x, 64, NULL);
        int m = ep_tokenizer_encode(b, texts[i], strlen(texts[i]), y, 64, NULL);
        CHECKF(n == m && memcmp(x, y, sizeof *x * (size_t)n) == 0, "%s: text %zu differs", what, i);
    }
}

// Writes dir/name as the model's tokenizer.json edited by fn.
static void write_edited(const char *src, const char *dir, void (*fn)(cJSON *)) {
    char path[4200];
    size_t len = 0;
    snprintf(path, sizeof path, "%s/tokenizer.json", src);
    char *text = ep_test_read_file(path, &len);
    cJSON *root = cJSON_ParseWithLength(text, len);
    fn(root);
    char *out = cJSON_PrintUnformatted(root);
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    unlink(path);
    CHECK(ep_test_write_file(path, out, strlen(out)) == 0);
    free(out);
    free(text);
    cJSON_Delete(root);
}

static void add_token(cJSON *root) {
    cJSON *t = cJSON_CreateObject();
    cJSON_AddNumberToObject(t, "id", 30522);
    cJSON_AddStringToObject(t, "content", "<brand-new>");
    const char *flags[] = {"single_word", "lstrip", "rstrip", "normalized", "special"};
    for (int i = 0; i < 5; i++) cJSON_AddBoolToObject(t, flags[i], false);
    cJSON_AddItemToArray(cJSON_GetObjectItem(root, "added_tokens"), t);
}

static void no_template(cJSON *root) {
    cJSON_ReplaceItemInObjectCaseSensitive(root, "post_processor", cJSON_CreateNull());
}

int main(void) {
    char *src = realpath(ep_test_model_dir(), NULL); // the links need an absolute target
    ep_test_mkdtemp(tmp, sizeof tmp, "model-tokenizer");
    ep_error err = {0};
    ep_status st;

    ep_tokenizer *both = tokenizer_of(folder(src, "both", NULL), &err, &st);
    CHECKF(both && strstr(ep_tokenizer_describe(both), "tokenizer.json") &&
               strstr(ep_tokenizer_describe(both), "fast path"),
           "published folder: %s", both ? ep_tokenizer_describe(both) : err.message);
    ep_tokenizer *vocab = tokenizer_of(folder(src, "no-json", "tokenizer.json"), &err, &st);
    CHECKF(vocab && strstr(ep_tokenizer_describe(vocab), "vocab.txt"), "without tokenizer.json: %s",
           vocab ? ep_tokenizer_describe(vocab) : err.message);
    ep_tokenizer *json = tokenizer_of(folder(src, "no-vocab", "vocab.txt"), &err, &st);
    CHECKF(json != NULL, "without vocab.txt: %s", err.message);
    if (both && vocab && json) {
        same_ids(both, vocab, "tokenizer.json and vocab.txt");
        same_ids(json, vocab, "a folder without vocab.txt");
    }
    ep_model *m = NULL;
    CHECK_OK(ep_model_load(folder(src, "no-vocab-model", "vocab.txt"), &m, &err), &err);
    ep_model_free(m);

    const char *big = folder(src, "too-many-ids", NULL);
    write_edited(src, big, add_token);
    ep_tokenizer *t = tokenizer_of(big, &err, &st);
    CHECKF(!t && st == EP_ERR_MODEL && strstr(err.message, "tokenizer.json") && strstr(err.message, "30523"),
           "30,523 ids for a 30,522-row embedding table: status %d (%s)", (int)st, err.message);

    const char *bare = folder(src, "no-template", NULL);
    write_edited(src, bare, no_template);
    t = tokenizer_of(bare, &err, &st);
    CHECKF(!t && st == EP_ERR_MODEL && strstr(err.message, "no special tokens"),
           "a tokenizer.json without a post_processor: status %d (%s)", (int)st, err.message);

    // do_lower_case false in tokenizer_config.json: "Hello" no longer becomes "hello".
    const char *cased = folder(src, "cased", "tokenizer_config.json");
    char path[1000];
    snprintf(path, sizeof path, "%s/tokenizer_config.json", cased);
    CHECK(ep_test_write_file(path, "{\"do_lower_case\": false}", 24) == 0);
    ep_tokenizer *c = tokenizer_of(cased, &err, &st);
    CHECKF(c != NULL, "do_lower_case false: %s", err.message);
    if (c && both) {
        int32_t x[8], y[8];
        ep_tokenizer_encode(c, "Hello", 5, x, 8, NULL);
        ep_tokenizer_encode(both, "Hello", 5, y, 8, NULL);
        CHECKF(x[1] != y[1] && y[1] == ep_tokenizer_token_to_id(both, "hello"), "do_lower_case false was not applied");
    }
    ep_tokenizer_free(both);
    ep_tokenizer_free(vocab);
    ep_tokenizer_free(json);
    ep_tokenizer_free(c);
    ep_test_rm_rf(tmp);
    free(src);
    return ep_test_finish("test_model_tokenizer");
}
