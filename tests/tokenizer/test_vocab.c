/*
 * test_vocab - loading vocab.txt: malformed files are rejected with a message
 * naming the file and line; the real vocabulary round-trips token <-> id; the
 * WordPiece rules hold on a small vocabulary written here (expected ids are
 * looked up through the API, not typed in).
 */
#include <unistd.h>

#include "tok_test.h"

static char dir[256];

static const char *write_vocab(const char *name, const char *content, size_t len) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(content, 1, len, f) != len) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    fclose(f);
    return path;
}

// Loading content must fail with code, and the message must name the file and hold `needle`.
static void expect_reject(const char *name, const char *content, size_t len, ep_status code, const char *needle) {
    const char *path = write_vocab(name, content, len);
    ep_tokenizer *tok = (ep_tokenizer *)1;
    ep_error err = {0};
    ep_status st = ep_tokenizer_create(path, NULL, &tok, &err);
    CHECKF(st == code, "%s: status %d, expected %d (%s)", name, (int)st, (int)code, err.message);
    CHECKF(tok == NULL, "%s: *out not cleared on failure", name);
    CHECKF(err.code == code, "%s: err.code %d", name, (int)err.code);
    CHECKF(strstr(err.message, path) != NULL, "%s: message does not name the file: %s", name, err.message);
    CHECKF(strstr(err.message, needle) != NULL, "%s: message lacks \"%s\": %s", name, needle, err.message);
    ep_tokenizer_free(tok);
}

#define BASE "[PAD]\n[UNK]\n[CLS]\n[SEP]\n"

static void malformed_files(void) {
    expect_reject("empty.txt", "", 0, EP_ERR_FORMAT, "empty");
    expect_reject("dup.txt", BASE "hello\nworld\nhello\n", strlen(BASE "hello\nworld\nhello\n"), EP_ERR_FORMAT,
                  ":7: duplicate token \"hello\" (first at line 5)");
    expect_reject("blank.txt", BASE "a\n\nb\n", strlen(BASE "a\n\nb\n"), EP_ERR_FORMAT, ":6: empty line");
    expect_reject("only_newline.txt", "\n", 1, EP_ERR_FORMAT, ":1: empty line");
    expect_reject("no_cls.txt", "[PAD]\n[UNK]\n[SEP]\nx\n", strlen("[PAD]\n[UNK]\n[SEP]\nx\n"), EP_ERR_FORMAT,
                  "no [CLS]");
    expect_reject("no_unk.txt", "[PAD]\n[CLS]\n[SEP]\n", strlen("[PAD]\n[CLS]\n[SEP]\n"), EP_ERR_FORMAT, "no [UNK]");
    expect_reject("bad_utf8.txt", BASE "ok\nbad\xff\n", strlen(BASE "ok\nbad\xff\n"), EP_ERR_FORMAT,
                  ":6: token is not valid UTF-8");
    expect_reject("overlong.txt", BASE "\xc0\xaf\n", strlen(BASE "\xc0\xaf\n"), EP_ERR_FORMAT, ":5:");
    const char nul[] = BASE "a\0b\n";
    expect_reject("nul.txt", nul, sizeof nul - 1, EP_ERR_FORMAT, ":5:");
    char *huge = malloc(2000);
    memset(huge, 'x', 2000);
    memcpy(huge, BASE, strlen(BASE));
    huge[1999] = '\n';
    expect_reject("huge_token.txt", huge, 2000, EP_ERR_FORMAT, ":5: token longer than");
    free(huge);

    // A missing file is an I/O error naming it.
    char path[512];
    snprintf(path, sizeof path, "%s/does-not-exist.txt", dir);
    ep_tokenizer *tok = NULL;
    ep_error err = {0};
    CHECK(ep_tokenizer_create(path, NULL, &tok, &err) == EP_ERR_IO && tok == NULL);
    CHECKF(strstr(err.message, path) != NULL, "missing file: message does not name it: %s", err.message);

    // Bad options and arguments are usage errors.
    ep_tokenizer_options opt = ep_tokenizer_default_options();
    opt.max_input_chars_per_word = 0;
    const char *ok = write_vocab("ok.txt", BASE, strlen(BASE));
    CHECK(ep_tokenizer_create(ok, &opt, &tok, &err) == EP_ERR_USAGE && tok == NULL);
    CHECK(ep_tokenizer_create(NULL, NULL, &tok, &err) == EP_ERR_USAGE);
    CHECK(ep_tokenizer_create(ok, NULL, NULL, &err) == EP_ERR_USAGE);
    CHECK(ep_tokenizer_create(ok, NULL, &tok, NULL) == EP_OK); // err may be NULL
    ep_tokenizer_free(tok);
    ep_tokenizer_free(NULL);
}

// CRLF line ends and a missing final newline are accepted; [MASK] is optional.
static void tolerated_files(void) {
    const char crlf[] = "[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\nhi\r\n##there";
    const char *path = write_vocab("crlf.txt", crlf, sizeof crlf - 1);
    ep_tokenizer *tok = NULL;
    ep_error err = {0};
    CHECK_OK(ep_tokenizer_create(path, NULL, &tok, &err), &err);
    if (!tok) return;
    CHECK(ep_tokenizer_vocab_size(tok) == 6);
    CHECK(ep_tokenizer_token_to_id(tok, "hi") == 4);
    CHECK(ep_tokenizer_token_to_id(tok, "##there") == 5);
    CHECK(ep_tokenizer_token_to_id(tok, "hi\r") == -1);
    int32_t ids[8];
    CHECK(ep_tokenizer_encode(tok, "hithere", 7, ids, 8, NULL) == 4 && ids[1] == 4 && ids[2] == 5);
    ep_tokenizer_free(tok);
}

// WordPiece on a small vocabulary: greedy longest match, "##" continuations,
// one [UNK] for a word with any unmatched part, max_input_chars_per_word.
static void wordpiece_rules(void) {
    const char v[] = BASE "un\n##aff\n##able\n##a\naff\nable\n##ff\n##b\nx\n##x\n";
    const char *path = write_vocab("wp.txt", v, sizeof v - 1);
    ep_tokenizer_options opt = ep_tokenizer_default_options();
    opt.max_input_chars_per_word = 5;
    ep_tokenizer *tok = NULL;
    ep_error err = {0};
    CHECK_OK(ep_tokenizer_create(path, &opt, &tok, &err), &err);
    if (!tok) return;
#define ID(s) ep_tokenizer_token_to_id(tok, s)
    int32_t ids[16];
    bool trunc;
    int n = ep_tokenizer_encode(tok, "UnAff", 5, ids, 16, &trunc); // lowercased, 5 chars: not too long
    CHECK(n == 4 && ids[0] == ID("[CLS]") && ids[1] == ID("un") && ids[2] == ID("##aff") && ids[3] == ID("[SEP]"));
    n = ep_tokenizer_encode(tok, "unaffable", 9, ids, 16, NULL); // 9 chars > 5
    CHECK(n == 3 && ids[1] == ID("[UNK]"));
    n = ep_tokenizer_encode(tok, "affb xxxxx xxxxxx", 17, ids, 16, NULL);
    CHECK(n == 10 && ids[1] == ID("aff") && ids[2] == ID("##b") && ids[3] == ID("x") && ids[4] == ID("##x") &&
          ids[7] == ID("##x") && ids[8] == ID("[UNK]"));
    n = ep_tokenizer_encode(tok, "unz x", 5, ids, 16, NULL); // "##z" is missing: the whole word is [UNK]
    CHECK(n == 4 && ids[1] == ID("[UNK]") && ids[2] == ID("x"));
    n = ep_tokenizer_encode(tok, "x x x", 5, ids, 4, &trunc);
    CHECK(n == 4 && trunc && ids[3] == ID("[SEP]"));
    n = ep_tokenizer_encode(tok, "x x", 3, ids, 4, &trunc);
    CHECK(n == 4 && !trunc);
    n = ep_tokenizer_encode(tok, "x", 1, ids, 1, &trunc); // max_tokens < 2: nothing fits
    CHECK(n == 0 && trunc);
#undef ID
    ep_tokenizer_free(tok);
}

// The real vocabulary: every id round-trips, and the size is its line count.
static void real_vocab(void) {
    char path[4096];
    snprintf(path, sizeof path, "%s/vocab.txt", ep_test_env("EP_MODEL_DIR", "models/all-MiniLM-L6-v2"));
    if (!ep_test_exists(path)) { // the checks above ran; say what did not
        if (ep_test_failures) return;
        printf("SKIP: %s not found; run scripts/fetch-model.sh first (the synthetic vocabularies passed)\n", path);
        exit(EP_TEST_SKIP);
    }
    ep_tokenizer *tok = tok_test_load();
    size_t len = 0;
    char *data = ep_test_read_file(path, &len);
    int lines = 0;
    for (size_t i = 0; i < len; i++) lines += data[i] == '\n';
    if (len && data[len - 1] != '\n') lines++;
    int n = ep_tokenizer_vocab_size(tok);
    CHECKF(n == lines, "vocab size %d, file has %d lines", n, lines);
    int bad = 0;
    char *line = data;
    for (int id = 0; id < n; id++) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        const char *t = ep_tokenizer_id_to_token(tok, id);
        if (!t || strcmp(t, line) != 0 || ep_tokenizer_token_to_id(tok, t) != id) {
            if (++bad <= 5) fprintf(stderr, "id %d: token \"%s\" (line says \"%s\")\n", id, t ? t : "(null)", line);
        }
        line = nl ? nl + 1 : line + strlen(line);
    }
    CHECKF(bad == 0, "%d ids do not round-trip", bad);
    CHECK(ep_tokenizer_id_to_token(tok, -1) == NULL);
    CHECK(ep_tokenizer_id_to_token(tok, n) == NULL);
    CHECK(ep_tokenizer_token_to_id(tok, "no-such-token-here") == -1);
    CHECK(ep_tokenizer_token_to_id(tok, "") == -1);
    CHECK(ep_tokenizer_token_to_id(NULL, "a") == -1);
    CHECK(ep_tokenizer_vocab_size(NULL) == 0);
    free(data);
    ep_tokenizer_free(tok);
}

int main(void) {
    snprintf(dir, sizeof dir, "%s/ep-test-vocab-XXXXXX", ep_test_env("TMPDIR", "/tmp"));
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    malformed_files();
    tolerated_files();
    wordpiece_rules();
    real_vocab();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return ep_test_finish("test_vocab");
}
