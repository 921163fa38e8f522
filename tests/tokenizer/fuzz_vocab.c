/*
 * fuzz_vocab.c - vocab.txt parsing under arbitrary bytes: ep_tokenizer_create
 * either refuses the file with a message or yields a tokenizer whose ids all
 * lie inside its vocabulary and whose encodings keep their invariants.
 */
#include "fuzz_replay.h"
#include "tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const ep_fuzz_seed ep_fuzz_seeds[] = {
    EP_FUZZ_SEED("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n##s\nworld\n"),
    EP_FUZZ_SEED("[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\n##\r\n\xc3\xa9t\xc3\xa9\r\n"),
    EP_FUZZ_SEED("[UNK]\n[CLS]\n[SEP]\n[PAD]\n[UNK]\n"),
    {NULL, 0}};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[] = "/tmp/ep-fuzz-vocab-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return 0;
    if (size && write(fd, data, size) != (ssize_t)size) {
        close(fd);
        unlink(path);
        return 0;
    }
    close(fd);
    ep_tokenizer *tok = NULL;
    ep_error err = {0};
    ep_tokenizer_options o = ep_tokenizer_default_options();
    ep_status st = ep_tokenizer_create(path, &o, &tok, &err);
    unlink(path);
    if (st != EP_OK) {
        if (tok || !err.message[0]) abort(); /* a refusal leaves no tokenizer and says why */
        return 0;
    }
    const int n_vocab = ep_tokenizer_vocab_size(tok);
    static const char *texts[] = {"hello worlds", "\xc3\xa9t\xc3\xa9 ##s [MASK]", "", "a b c d e f g"};
    int32_t ids[16];
    for (size_t t = 0; t < sizeof texts / sizeof texts[0]; t++) {
        bool truncated = false;
        int n = ep_tokenizer_encode(tok, texts[t], strlen(texts[t]), ids, 16, &truncated);
        if (n < 2 || n > 16) abort();
        for (int i = 0; i < n; i++)
            if (ids[i] < 0 || ids[i] >= n_vocab) abort();
    }
    for (int id = 0; id < n_vocab; id++) {
        const char *s = ep_tokenizer_id_to_token(tok, id);
        if (!s || ep_tokenizer_token_to_id(tok, s) < 0) abort();
    }
    ep_tokenizer_free(tok);
    return 0;
}
