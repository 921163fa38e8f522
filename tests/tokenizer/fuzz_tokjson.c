/*
 * fuzz_tokjson - libFuzzer target for tokenizer.json: arbitrary text through
 * the general chain, the fast path against the chain, and arbitrary bytes as
 * a tokenizer.json.
 *
 * Tokenizers (built at start from a synthetic vocabulary, no files needed):
 *   chain: NFKC + Replace(" {2,}") + Lowercase + Strip, Punctuation(MergedWithNext)
 *          + Metaspace(first), WordPiece, <s> $A </s> </s>, added tokens with
 *          lstrip / rstrip / single_word / normalized;
 *   bert:  BertNormalizer + BertPreTokenizer + WordPiece + [CLS] $A [SEP], once on
 *          the fast path and once on the chain (general_only).
 * Invariants checked (abort on violation): the template's ids first and last,
 * every id below vocab_size, a smaller budget gives the same ids cut on the
 * right (truncated exactly when some were cut), the same bytes give the same ids
 * twice, the words are valid UTF-8, and the fast path equals the chain.
 *
 * The first byte picks max_tokens; 0xFF instead makes the rest a tokenizer.json
 * for the loader, which must refuse or load it, never crash.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_replay.h"
#include "tokenizer.h"
#include "tokenizer_internal.h"

#define FULL 2048

static ep_tokenizer *chain, *bert_fast, *bert_chain;

#define REQUIRE(cond, ...)                                                                                     \
    do {                                                                                                       \
        if (!(cond)) {                                                                                         \
            fprintf(stderr, "fuzz_tokjson: %s: ", #cond);                                                      \
            fprintf(stderr, __VA_ARGS__);                                                                      \
            fputc('\n', stderr);                                                                               \
            abort();                                                                                           \
        }                                                                                                      \
    } while (0)

const ep_fuzz_seed ep_fuzz_seeds[] = {
    EP_FUZZ_SEED("\x20Hello,   World!! RT @user: check https://t.co/AbC #tag &amp; more <mask> x"),
    EP_FUZZ_SEED("\x40  I love it \xF0\x9F\x98\x82\xF0\x9F\x98\x82 \xEF\xAC\x81nance \xE2\x91\xB4 \xE2\x96\x81x  "),
    EP_FUZZ_SEED("\x06@user@user &amp;&amp; <mask><mask> \xC4\xB0stanbul Stra\xC3\x9F" "e"),
    EP_FUZZ_SEED("\x03\xFF\xC0\xAF\xED\xA0\x80 a\xCC\x81\xCC\x96 \xE1\x84\x80\xE1\x85\xA1 \x00\x01"),
    EP_FUZZ_SEED("\xFF{\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"u\",\"continuing_subword_prefix\":\"##\","
                 "\"max_input_chars_per_word\":9,\"vocab\":{\"u\":0,\"a\":1,\"##a\":2}},\"normalizer\":{\"type\":"
                 "\"Sequence\",\"normalizers\":[{\"type\":\"NFD\"},{\"type\":\"Replace\",\"pattern\":{\"Regex\":"
                 "\"\\\\A +| +\\\\z\"},\"content\":\"\"}]},\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":"
                 "\"_\",\"prepend_scheme\":\"first\"},\"added_tokens\":[{\"id\":3,\"content\":\"<m>\",\"single_word\":"
                 "true,\"lstrip\":true,\"rstrip\":true,\"normalized\":true,\"special\":true}],\"post_processor\":"
                 "{\"type\":\"RobertaProcessing\",\"sep\":[\"u\",0],\"cls\":[\"a\",1]}}"),
    {NULL, 0},
};

static cJSON *added(const char *content, bool lstrip, bool rstrip, bool single, bool normalized) {
    cJSON *t = cJSON_CreateObject();
    cJSON_AddNumberToObject(t, "id", 0);
    cJSON_AddStringToObject(t, "content", content);
    cJSON_AddBoolToObject(t, "single_word", single);
    cJSON_AddBoolToObject(t, "lstrip", lstrip);
    cJSON_AddBoolToObject(t, "rstrip", rstrip);
    cJSON_AddBoolToObject(t, "normalized", normalized);
    cJSON_AddBoolToObject(t, "special", true);
    return t;
}

// A WordPiece vocabulary: specials, every printable ASCII character alone, after "##" and
// after U+2581, and a few words.
static cJSON *vocab(void) {
    cJSON *v = cJSON_CreateObject();
    const char *fixed[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "<s>", "</s>", "hello", "##llo", "\xE2\x96\x81hello",
                           "user", "\xC3\xA9", "\xC3\x9F", "\xE2\x96\x81", "\xE6\x97\xA5", "##\xCC\x81"};
    int id = 0;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) cJSON_AddNumberToObject(v, fixed[i], id++);
    for (int c = 0x21; c < 0x7F; c++) {
        char s[8];
        snprintf(s, sizeof s, "%c", c);
        cJSON_AddNumberToObject(v, s, id++);
        snprintf(s, sizeof s, "##%c", c);
        cJSON_AddNumberToObject(v, s, id++);
        snprintf(s, sizeof s, "\xE2\x96\x81%c", c);
        cJSON_AddNumberToObject(v, s, id++);
    }
    return v;
}

static ep_tokenizer *make(cJSON *root, bool general) {
    cJSON *model = cJSON_AddObjectToObject(root, "model");
    cJSON_AddStringToObject(model, "type", "WordPiece");
    cJSON_AddStringToObject(model, "unk_token", "[UNK]");
    cJSON_AddStringToObject(model, "continuing_subword_prefix", "##");
    cJSON_AddNumberToObject(model, "max_input_chars_per_word", 12);
    cJSON_AddItemToObject(model, "vocab", vocab());
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    ep_tokenizer_json_options o = {.lowercase = -1, .general_only = general};
    ep_tokenizer *tok = NULL;
    ep_error err = {0};
    REQUIRE(ep_tokenizer_create_json_text(text, strlen(text), "fuzz", &o, &tok, &err) == EP_OK, "%s", err.message);
    free(text);
    return tok;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    cJSON *root = cJSON_Parse(
        "{\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFKC\"},{\"type\":\"Replace\","
        "\"pattern\":{\"Regex\":\" {2,}\"},\"content\":\"\xE2\x96\x81\"},{\"type\":\"Lowercase\"},{\"type\":\"Strip\","
        "\"strip_left\":true,\"strip_right\":true}]},\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":["
        "{\"type\":\"Punctuation\",\"behavior\":\"MergedWithNext\"},{\"type\":\"Metaspace\",\"replacement\":"
        "\"\xE2\x96\x81\",\"prepend_scheme\":\"first\",\"split\":true}]},\"post_processor\":{\"type\":"
        "\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\",\"type_id\":0}},{\"Sequence\":{\"id\":"
        "\"A\",\"type_id\":0}},{\"SpecialToken\":{\"id\":\"</s>\",\"type_id\":0}},{\"SpecialToken\":{\"id\":\"</s>\","
        "\"type_id\":0}}],\"special_tokens\":{\"<s>\":{\"id\":\"<s>\",\"ids\":[4]},\"</s>\":{\"id\":\"</s>\",\"ids\":[5]}}}}");
    cJSON *list = cJSON_AddArrayToObject(root, "added_tokens");
    cJSON_AddItemToArray(list, added("<mask>", true, false, false, false));
    cJSON_AddItemToArray(list, added("@USER", false, true, true, true));
    cJSON_AddItemToArray(list, added("&amp;", true, true, false, false));
    chain = make(root, false);
    for (int g = 0; g < 2; g++) {
        cJSON *b = cJSON_Parse(
            "{\"normalizer\":{\"type\":\"BertNormalizer\",\"clean_text\":true,\"handle_chinese_chars\":true,"
            "\"strip_accents\":null,\"lowercase\":true},\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},"
            "\"post_processor\":{\"type\":\"BertProcessing\",\"sep\":[\"[SEP]\",3],\"cls\":[\"[CLS]\",2]}}");
        cJSON *l = cJSON_AddArrayToObject(b, "added_tokens");
        cJSON_AddItemToArray(l, added("[CLS]", false, false, false, false));
        cJSON_AddItemToArray(l, added("[SEP]", false, false, false, false));
        cJSON_AddItemToArray(l, added("[UNK]", false, false, false, false));
        *(g ? &bert_chain : &bert_fast) = make(b, g == 1);
    }
    REQUIRE(chain->chain && bert_chain->chain && !bert_fast->chain, "the paths are not the ones expected");
    return 0;
}

static void check_words(const char *w, size_t len) {
    const unsigned char *p = (const unsigned char *)w, *end = p + len;
    while (p < end) {
        unsigned c = *p;
        int n = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        REQUIRE(n && p + n <= end, "bad UTF-8 lead %02X in the words", c);
        for (int k = 1; k < n; k++) REQUIRE((p[k] & 0xC0) == 0x80, "bad UTF-8 continuation in the words");
        p += n;
    }
}

// The invariants of one tokenizer on text; the full ids are left in full (count returned).
static int check(const ep_tokenizer *tok, const char *text, size_t len, int max, int32_t *full) {
    static int32_t part[FULL], again[FULL];
    bool full_trunc = true, trunc = true;
    int n_full = ep_tokenizer_encode(tok, text, len, full, FULL, &full_trunc), sp = ep_tokenizer_n_special(tok);
    int vocab = ep_tokenizer_vocab_size(tok);
    REQUIRE(n_full >= sp && n_full <= FULL, "%d ids", n_full);
    REQUIRE(memcmp(full, tok->prefix, sizeof *full * (size_t)tok->n_prefix) == 0 &&
                memcmp(full + n_full - tok->n_suffix, tok->suffix, sizeof *full * (size_t)tok->n_suffix) == 0,
            "the template's ids are not around the text");
    for (int i = 0; i < n_full; i++) REQUIRE(full[i] >= 0 && full[i] < vocab, "id %d at %d", full[i], i);
    int n = ep_tokenizer_encode(tok, text, len, part, max, &trunc);
    if (!full_trunc && max >= sp) {
        int want = n_full <= max ? n_full : max, text_kept = want - sp;
        REQUIRE(n == want && trunc == (n_full > max), "%d ids (truncated %d) at max %d, %d in all", n, trunc, max,
                n_full);
        REQUIRE(memcmp(part, full, sizeof *part * (size_t)(tok->n_prefix + text_kept)) == 0,
                "the cut ids are not a prefix");
    }
    int n2 = ep_tokenizer_encode(tok, text, len, again, max, NULL);
    REQUIRE(n2 == n && memcmp(again, part, sizeof *part * (size_t)n) == 0, "two encodings differ");
    static char words[1 << 16];
    size_t wl = ep_tokenizer_words(tok, text, len, words, sizeof words);
    if (wl < sizeof words) check_words(words, wl);
    return n_full;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!chain) LLVMFuzzerInitialize(NULL, NULL);
    if (size == 0) return 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    if (data[0] == 0xFF) { // the rest is a tokenizer.json
        ep_tokenizer *tok = NULL;
        ep_error err = {0};
        ep_status st = ep_tokenizer_create_json_text(text, len, "fuzz input", NULL, &tok, &err);
        REQUIRE((st == EP_OK) == (tok != NULL) && (st == EP_OK || err.message[0]), "status %d", (int)st);
        if (tok) {
            static int32_t ids[FULL];
            const char *t = "Hello  w\xC3\xB6rld <m> \xE2\x96\x81x!";
            check(tok, t, strlen(t), 5, ids);
        }
        ep_tokenizer_free(tok);
        return 0;
    }
    int max = 1 + data[0];
    static int32_t a[FULL], b[FULL];
    check(chain, text, len, max, a);
    int na = check(bert_fast, text, len, max, a), nb = check(bert_chain, text, len, max, b);
    REQUIRE(na == nb && memcmp(a, b, sizeof *a * (size_t)na) == 0, "the fast path and the chain differ");
    return 0;
}
