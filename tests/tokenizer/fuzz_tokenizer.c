/*
 * fuzz_tokenizer - libFuzzer target: arbitrary bytes through ep_tokenizer_encode.
 *
 * Invariants checked (abort on violation):
 *  - 2 <= count <= max_tokens, [CLS] first, [SEP] last, every id in the vocabulary;
 *  - truncated exactly when the text has more pieces than fit: with a budget
 *    large enough for everything, a smaller budget gives the same pieces cut
 *    short, then [SEP];
 *  - the scanner's words (ep_tokenizer_words) are valid UTF-8, non-empty, and
 *    hold no whitespace or control characters;
 *  - the same bytes give the same ids twice (no hidden state).
 *
 * The first input byte picks max_tokens (2..257), the rest is the text.
 * In ctest it runs under tests/fuzz_replay_main.c; with libFuzzer:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Itokenizer -Itests \
 *     tests/tokenizer/fuzz_tokenizer.c tokenizer/[a-z]*.c common/error.c common/read_file.c -lutf8proc -lcjson \
 *     -lxxhash -o fuzz_tokenizer
 *   EP_MODEL_DIR=models/all-MiniLM-L6-v2 ./fuzz_tokenizer
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_replay.h"
#include "tokenizer.h"
#include "tokenizer_internal.h"

#define FULL 4096

static ep_tokenizer *tok;
static int32_t cls_id, sep_id;

const ep_fuzz_seed ep_fuzz_seeds[] = {
    EP_FUZZ_SEED("\x20Hello, World! RT @user: check https://t.co/AbC #tag &amp; more"),
    EP_FUZZ_SEED("\x40I love it \xF0\x9F\x98\x82\xF0\x9F\x98\x82 \xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9"),
    EP_FUZZ_SEED("\x10\xE6\x88\x91\xE7\x88\xB1\xE5\x8C\x97\xE4\xBA\xAC \xE3\x81\x93\xE3\x82\x93 \xEC\x95\x88\xEB\x85\x95"),
    EP_FUZZ_SEED("\x08" "cafe\xCC\x81 na\xC3\xAFve \xC4\xB0stanbul Stra\xC3\x9F" "e \xEF\xAC\x81"),
    EP_FUZZ_SEED("\x30[CLS] a[MASK]b [SEP][UNK] [PAD] [[CLS]] [MASK"),
    EP_FUZZ_SEED("\x05" "a\x00" "b\x01" "c\x7F\xC2\xAD\xE2\x80\x8B\xEF\xBB\xBF\xEF\xBF\xBD \xC2\xA0\xE3\x80\x80"),
    EP_FUZZ_SEED("\x03" "a\xF0\x9D\x85\xAD\xF0\x9D\x85\xA5" "b a\xCC\x81\xCC\x96" "b \xE1\x84\x80\xE1\x85\xA1"),
    EP_FUZZ_SEED("\x02" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
    EP_FUZZ_SEED("\xFF\xC0\xAF\xED\xA0\x80\xF4\x90\x80\x80\xE2\x82" "a\x80\xBF"),
    {NULL, 0},
};

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    const char *dir = getenv("EP_MODEL_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/vocab.txt", dir && *dir ? dir : "models/all-MiniLM-L6-v2");
    ep_error err = {0};
    if (ep_tokenizer_create(path, NULL, &tok, &err) != EP_OK) {
        // 77 tells ctest this is a skip, not a failure: the model is fetched separately.
        printf("SKIP: cannot load %s (%s); run scripts/fetch-model.sh first\n", path, err.message);
        exit(77);
    }
    cls_id = ep_tokenizer_token_to_id(tok, "[CLS]");
    sep_id = ep_tokenizer_token_to_id(tok, "[SEP]");
    return 0;
}

#define REQUIRE(cond, ...)                                                                                     \
    do {                                                                                                       \
        if (!(cond)) {                                                                                         \
            fprintf(stderr, "fuzz_tokenizer: %s: ", #cond);                                                    \
            fprintf(stderr, __VA_ARGS__);                                                                      \
            fputc('\n', stderr);                                                                               \
            abort();                                                                                           \
        }                                                                                                      \
    } while (0)

static void check_ids(const int32_t *ids, int n, int max, int vocab) {
    REQUIRE(n >= 2 && n <= max, "%d ids for max_tokens %d", n, max);
    REQUIRE(ids[0] == cls_id && ids[n - 1] == sep_id, "first %d last %d", ids[0], ids[n - 1]);
    for (int i = 0; i < n; i++) REQUIRE(ids[i] >= 0 && ids[i] < vocab, "id %d at %d", ids[i], i);
}

static void check_words(const char *w, size_t len) {
    const unsigned char *p = (const unsigned char *)w, *end = p + len;
    REQUIRE(len == 0 || (p[0] != ' ' && end[-1] != ' '), "words start or end with a space");
    while (p < end) {
        unsigned c = *p;
        if (c == ' ') {
            REQUIRE(p[1] != ' ', "empty word");
            p++;
            continue;
        }
        REQUIRE(c >= 0x20 && c != 0x7F, "control byte %02X in a word", c);
        int n = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        REQUIRE(n && p + n <= end, "bad UTF-8 lead %02X in the words", c);
        for (int k = 1; k < n; k++) REQUIRE((p[k] & 0xC0) == 0x80, "bad UTF-8 continuation in the words");
        p += n;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!tok) LLVMFuzzerInitialize(NULL, NULL);
    if (size == 0) return 0;
    int max = 2 + data[0];
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    int vocab = ep_tokenizer_vocab_size(tok);

    static int32_t full[FULL], part[FULL], again[FULL];
    bool full_trunc = true, trunc = true;
    int n_full = ep_tokenizer_encode(tok, text, len, full, FULL, &full_trunc);
    check_ids(full, n_full, FULL, vocab);
    REQUIRE(!full_trunc || n_full == FULL, "truncated with %d of %d ids", n_full, FULL);

    int n = ep_tokenizer_encode(tok, text, len, part, max, &trunc);
    check_ids(part, n, max, vocab);
    if (!full_trunc) { // the whole text fit in `full`: the small budget must agree with it
        int want = n_full <= max ? n_full : max;
        REQUIRE(n == want, "%d ids with max_tokens %d, %d without limit", n, max, n_full);
        REQUIRE(trunc == (n_full > max), "truncated %d, but the text has %d ids and max_tokens is %d", trunc, n_full,
                max);
        REQUIRE(memcmp(part, full, sizeof *part * (size_t)(n - 1)) == 0, "the cut ids are not a prefix");
    }
    int n2 = ep_tokenizer_encode(tok, text, len, again, max, NULL);
    REQUIRE(n2 == n && memcmp(again, part, sizeof *part * (size_t)n) == 0, "two encodings differ");

    static char words[1 << 16];
    size_t wl = ep_tokenizer_words(tok, text, len, words, sizeof words);
    if (wl < sizeof words) check_words(words, wl);
    return 0;
}
