/*
 * test_tokjson_load - loading tokenizer.json: a small synthetic file takes the
 * fast path or the chain as its parts say, added tokens get tokenizers' ids
 * (the model's, else the next free one, whatever the file says), and every kind
 * of malformed or unsupported file is refused with a message naming the file,
 * the JSON path and what is supported. Also the Replace matcher's subset
 * (regex_lite.h): what it refuses, and where it finds matches.
 */
#include <cjson/cJSON.h>

#include "regex_lite.h"
#include "tok_test.h"
#include "tokenizer_internal.h"

#define NAME "synthetic.json"

static const char *const base_json =
    "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"added_tokens\":["
    "{\"id\":0,\"content\":\"[PAD]\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,"
    "\"special\":true},"
    "{\"id\":1,\"content\":\"[UNK]\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,"
    "\"special\":true},"
    "{\"id\":2,\"content\":\"[CLS]\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,"
    "\"special\":true},"
    "{\"id\":3,\"content\":\"[SEP]\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,"
    "\"special\":true}],"
    "\"normalizer\":{\"type\":\"BertNormalizer\",\"clean_text\":true,\"handle_chinese_chars\":true,"
    "\"strip_accents\":null,\"lowercase\":true},"
    "\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},"
    "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"[CLS]\",\"type_id\":0}},"
    "{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},{\"SpecialToken\":{\"id\":\"[SEP]\",\"type_id\":0}}],"
    "\"special_tokens\":{\"[CLS]\":{\"id\":\"[CLS]\",\"ids\":[2],\"tokens\":[\"[CLS]\"]},"
    "\"[SEP]\":{\"id\":\"[SEP]\",\"ids\":[3],\"tokens\":[\"[SEP]\"]}}},"
    "\"decoder\":null,"
    "\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"continuing_subword_prefix\":\"##\","
    "\"max_input_chars_per_word\":100,\"vocab\":{\"[PAD]\":0,\"[UNK]\":1,\"[CLS]\":2,\"[SEP]\":3,\"hello\":4,"
    "\"world\":5,\"##s\":6,\"!\":7,\"\\u2581hello\":8}}}";

// The base file with the value at a dotted path replaced by the JSON `value` (NULL: removed).
static char *edited(const char *path, const char *value) {
    cJSON *root = cJSON_Parse(base_json), *parent = root;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    char *key = buf, *dot;
    while ((dot = strchr(key, '.')) != NULL) {
        *dot = '\0';
        parent = cJSON_GetObjectItemCaseSensitive(parent, key);
        key = dot + 1;
    }
    if (value) {
        cJSON *v = cJSON_Parse(value);
        if (!v) {
            fprintf(stderr, "bad test value %s\n", value);
            exit(1);
        }
        if (cJSON_GetObjectItemCaseSensitive(parent, key)) cJSON_ReplaceItemInObjectCaseSensitive(parent, key, v);
        else cJSON_AddItemToObject(parent, key, v);
    } else {
        cJSON_DeleteItemFromObjectCaseSensitive(parent, key);
    }
    char *out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return out;
}

static ep_tokenizer *load_ok(const char *json) {
    ep_tokenizer *tok = NULL;
    ep_error err = {0};
    CHECK_OK(ep_tokenizer_create_json_text(json, strlen(json), NAME, NULL, &tok, &err), &err);
    return tok;
}

// Loading the base with path set to value must fail with code and a message holding both needles.
static void refused(const char *path, const char *value, ep_status code, const char *needle1, const char *needle2) {
    char *json = edited(path, value);
    ep_tokenizer *tok = NULL;
    ep_error err = {0};
    ep_status st = ep_tokenizer_create_json_text(json, strlen(json), NAME, NULL, &tok, &err);
    CHECKF(st == code && tok == NULL, "%s = %s: status %d, expected %d (%s)", path, value ? value : "(removed)",
           (int)st, (int)code, err.message);
    CHECKF(strstr(err.message, NAME) != NULL, "%s: the message does not name the file: %s", path, err.message);
    CHECKF(strstr(err.message, needle1) != NULL, "%s: the message lacks \"%s\": %s", path, needle1, err.message);
    CHECKF(!needle2 || strstr(err.message, needle2) != NULL, "%s: the message lacks \"%s\": %s", path, needle2,
           err.message);
    free(json);
}

static void base_file(void) {
    ep_tokenizer *tok = load_ok(base_json);
    if (!tok) return;
    CHECKF(tok->chain == NULL, "BERT's pipeline did not take the fast path: %s", ep_tokenizer_describe(tok));
    const char *pieces[] = {"[CLS]", "hello", "world", "##s", "!", "[SEP]"};
    int32_t ids[16];
    int n = ep_tokenizer_encode(tok, "Hello WORLDS!", 13, ids, 16, NULL);
    CHECKF(n == 6, "%d ids", n);
    for (int i = 0; i < n && i < 6; i++)
        CHECKF(ids[i] == ep_tokenizer_token_to_id(tok, pieces[i]), "id %d is %d, not %s", i, ids[i], pieces[i]);
    CHECK(ep_tokenizer_n_special(tok) == 2 && ep_tokenizer_vocab_size(tok) == 9);
    ep_tokenizer_free(tok);
}

static void added_ids(void) {
    // An added token the model lacks gets the next id (9), not the file's 42; one it has keeps the model's.
    char *json = edited("added_tokens",
                        "[{\"id\":42,\"content\":\"<x>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,"
                        "\"normalized\":false,\"special\":true},{\"id\":0,\"content\":\"world\",\"single_word\":false,"
                        "\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":false}]");
    ep_tokenizer *tok = load_ok(json);
    if (tok) {
        CHECK(ep_tokenizer_token_to_id(tok, "<x>") == 9 && ep_tokenizer_vocab_size(tok) == 10);
        CHECK(strcmp(ep_tokenizer_id_to_token(tok, 9), "<x>") == 0 && ep_tokenizer_id_to_token(tok, 10) == NULL);
        CHECK(ep_tokenizer_token_to_id(tok, "world") == 5);
        CHECKF(tok->chain != NULL, "'<x>' starts with no punctuation the scanner stops at: the chain is needed");
        int32_t ids[16];
        int n = ep_tokenizer_encode(tok, "hello<x>world", 13, ids, 16, NULL);
        CHECKF(n == 5 && ids[1] == 4 && ids[2] == 9 && ids[3] == 5, "hello<x>world: %d ids", n);
        ep_tokenizer_free(tok);
    }
    free(json);
}

static void paths(void) {
    // What sends a BERT-like file to the general chain.
    const char *to_chain[][2] = {
        {"normalizer.clean_text", "false"},
        {"model.continuing_subword_prefix", "\"@@\""},
        {"pre_tokenizer", "{\"type\":\"WhitespaceSplit\"}"},
        {"normalizer", "null"},
    };
    for (size_t i = 0; i < sizeof to_chain / sizeof to_chain[0]; i++) {
        char *json = edited(to_chain[i][0], to_chain[i][1]);
        ep_tokenizer *tok = load_ok(json);
        CHECKF(tok && tok->chain != NULL, "%s = %s should run on the chain", to_chain[i][0], to_chain[i][1]);
        ep_tokenizer_free(tok);
        free(json);
    }
}

static void refusals(void) {
    refused("version", "\"2.0\"", EP_ERR_FORMAT, "version", NULL);
    refused("model", NULL, EP_ERR_FORMAT, "model: missing", NULL);
    refused("model.type", "\"BPE\"", EP_ERR_MODEL, "model.type", "supported models: WordPiece");
    // Unigram is wired: a small one loads; an unk_id past its pieces is refused naming the key.
    char *uni = edited("model", "{\"type\":\"Unigram\",\"unk_id\":0,\"vocab\":[[\"a\",0.0]]}");
    ep_tokenizer_free(load_ok(uni));
    free(uni);
    refused("model", "{\"type\":\"Unigram\",\"unk_id\":5,\"vocab\":[[\"a\",0.0]]}", EP_ERR_FORMAT, "model.unk_id",
            "past the 1 pieces");
    refused("model.max_input_chars_per_word", "1000", EP_ERR_MODEL, "model.max_input_chars_per_word", "1..255");
    refused("model.unk_token", "\"<unk>\"", EP_ERR_FORMAT, "model.unk_token", "not in the vocabulary");
    refused("model.vocab", "{\"[UNK]\":0,\"b\":2}", EP_ERR_FORMAT, "model.vocab", "number the tokens");
    refused("model.vocab", "{\"[UNK]\":0,\"[UNK]\":1}", EP_ERR_FORMAT, "model.vocab", "duplicate token");
    refused("normalizer", "{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Lowercase\"},{\"type\":\"ByteLevel\"}]}",
            EP_ERR_MODEL, "normalizer.normalizers[1]", "supported normalizers");
    // Precompiled is wired: a blob too short for its own trie is refused, naming the key.
    refused("normalizer", "{\"type\":\"Precompiled\",\"precompiled_charsmap\":\"AAAA\"}", EP_ERR_FORMAT,
            "precompiled_charsmap", "too short");
    refused("normalizer.lowercase", "\"yes\"", EP_ERR_FORMAT, "normalizer.lowercase", "true or false");
    refused("normalizer.clean_text", NULL, EP_ERR_FORMAT, "normalizer.clean_text: missing", NULL);
    const char *bad_patterns[][2] = {{"(a|b)", "groups"}, {"a+?", "lazy"}, {"\\\\d+", "\\d"},
                                     {" *", "empty string"}, {"[a-", "not closed"}, {"x{2", "repeat count"}};
    for (size_t i = 0; i < sizeof bad_patterns / sizeof bad_patterns[0]; i++) {
        char v[200];
        snprintf(v, sizeof v, "{\"type\":\"Replace\",\"pattern\":{\"Regex\":\"%s\"},\"content\":\"\"}", bad_patterns[i][0]);
        refused("normalizer", v, EP_ERR_MODEL, "normalizer.pattern", bad_patterns[i][1]);
    }
    refused("normalizer", "{\"type\":\"Replace\",\"pattern\":{\"Foo\":\"x\"},\"content\":\"\"}", EP_ERR_FORMAT,
            "normalizer.pattern", "String");
    refused("pre_tokenizer", "{\"type\":\"Split\"}", EP_ERR_MODEL, "pre_tokenizer", "supported pre-tokenizers");
    refused("pre_tokenizer", "{\"type\":\"Punctuation\",\"behavior\":\"Foo\"}", EP_ERR_FORMAT, "pre_tokenizer.behavior",
            "MergedWithNext");
    refused("pre_tokenizer", "{\"type\":\"Metaspace\",\"replacement\":\"ab\"}", EP_ERR_FORMAT, "pre_tokenizer",
            "one character");
    refused("pre_tokenizer", "{\"type\":\"Metaspace\",\"replacement\":\"_\",\"add_prefix_space\":false}",
            EP_ERR_FORMAT, "pre_tokenizer", "add_prefix_space");
    refused("pre_tokenizer", "{\"type\":\"Metaspace\",\"replacement\":\"_\",\"prepend_scheme\":\"sometimes\"}",
            EP_ERR_FORMAT, "pre_tokenizer", "always, first or never");
    refused("post_processor", "{\"type\":\"ByteLevel\"}", EP_ERR_MODEL, "post_processor", "supported post-processors");
    refused("post_processor.single", "[{\"Sequence\":{\"id\":\"B\",\"type_id\":0}}]", EP_ERR_MODEL,
            "post_processor.single[0]", "$A once");
    refused("post_processor.single", "[{\"SpecialToken\":{\"id\":\"<s>\",\"type_id\":0}}]", EP_ERR_FORMAT,
            "post_processor.single[0]", "special_tokens");
    refused("post_processor", "{\"type\":\"BertProcessing\",\"sep\":[\"[SEP]\",999],\"cls\":[\"[CLS]\",2]}",
            EP_ERR_FORMAT, "post_processor.sep", "not in the vocabulary");
    refused("added_tokens", "[{\"id\":0,\"content\":\"x\"}]", EP_ERR_FORMAT, "added_tokens[0].single_word: missing",
            NULL);
    refused("added_tokens", "{}", EP_ERR_FORMAT, "added_tokens", "array");

    ep_tokenizer *tok = NULL;
    ep_error err = {0};
    CHECK(ep_tokenizer_create_json_text("{\"model\": ", 10, NAME, NULL, &tok, &err) == EP_ERR_FORMAT);
    CHECKF(strstr(err.message, NAME) && strstr(err.message, "not a JSON object"), "%s", err.message);
    CHECK(ep_tokenizer_create_json("/nonexistent/tokenizer.json", NULL, &tok, &err) == EP_ERR_IO && !tok);
    CHECKF(strstr(err.message, "/nonexistent/tokenizer.json") != NULL, "%s", err.message);
    CHECK(ep_tokenizer_create_json(NULL, NULL, &tok, &err) == EP_ERR_USAGE);
    CHECK(ep_tokenizer_create_json_text(base_json, strlen(base_json), NAME, NULL, NULL, &err) == EP_ERR_USAGE);
}

// Every match of pattern in s, as "start-end " pairs.
static void matches(const char *pattern, const char *s, const char *want) {
    char why[200], got[200] = "";
    ep_tok_regex *re = ep_tok_regex_compile(pattern, strlen(pattern), false, why, sizeof why);
    CHECKF(re != NULL, "%s: %s", pattern, why);
    if (!re) return;
    size_t at = 0, ms, me, n = strlen(s);
    while (ep_tok_regex_find(re, s, n, at, &ms, &me)) {
        snprintf(got + strlen(got), sizeof got - strlen(got), "%zu-%zu ", ms, me);
        at = me;
    }
    CHECKF(strcmp(got, want) == 0, "/%s/ on \"%s\": %s, expected %s", pattern, s, got, want);
    ep_tok_regex_free(re);
}

static void regex_subset(void) {
    matches(" {2,}", "a  b   c d", "1-3 4-7 ");
    matches("\\A +| +\\z", "  ab  c  ", "0-2 7-9 ");
    matches("\\A\xE2\x96\x81", "\xE2\x96\x81" "a\xE2\x96\x81", "0-3 ");
    matches("[^a-c\\s]+", "abxy cz", "2-4 6-7 ");
    matches("^x|y$", "x\nxy\ny", "0-1 2-3 3-4 5-6 ");
    matches("a.c", "abc a\nc", "0-3 ");
    matches("\\u00e9+", "\xC3\xA9\xC3\xA9x", "0-4 ");
}

int main(void) {
    base_file();
    added_ids();
    paths();
    refusals();
    regex_subset();
    return ep_test_finish("test_tokjson_load");
}
