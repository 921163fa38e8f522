/*
 * tokenizer.c - a tokenizer from vocab.txt (BertTokenizerFast's defaults: the
 * vocabulary, the specials [PAD] [UNK] [CLS] [SEP] [MASK] matched in the raw
 * text, [CLS] $A [SEP]), what every tokenizer owns and frees, and encode's
 * dispatch to the fast BERT path (wordpiece.c) or the general chain (chain.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "read_file.h"
#include "tokenizer_internal.h"

#define N_BERT_SPECIAL 5
static const char *const special_names[N_BERT_SPECIAL] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};

ep_tokenizer_options ep_tokenizer_default_options(void) {
    ep_tokenizer_options o = {
        .lowercase = true, .handle_chinese_chars = true, .max_input_chars_per_word = 100, .strip_accents = -1};
    return o;
}

/* Cuts tok->strings (size bytes) into one NUL-terminated token per line, filling
 * offset, length and n_vocab.
 * @return EP_OK, or EP_ERR_FORMAT / EP_ERR_NOMEM naming the file and line. */
static ep_status split_lines(ep_tokenizer *tok, const char *vocab_path, size_t size, ep_error *err) {
    char *data = tok->strings;
    int lines = 0;
    for (size_t i = 0; i < size; i++) lines += data[i] == '\n';
    if (data[size - 1] != '\n') lines++;
    if (lines >= (1 << 24) - 1) // ids share a 32-bit slot word with the key length
        return ep_error_set(err, EP_ERR_FORMAT, "vocab %s: %d lines; at most 16,777,214 tokens are supported",
                            vocab_path, lines);
    tok->offset = malloc(sizeof *tok->offset * (size_t)lines);
    tok->length = malloc(sizeof *tok->length * (size_t)lines);
    if (!tok->offset || !tok->length) return ep_error_set(err, EP_ERR_NOMEM, "vocab %s: out of memory", vocab_path);
    size_t pos = 0;
    for (int line = 1; pos < size; line++) {
        char *nl = memchr(data + pos, '\n', size - pos);
        size_t end = nl ? (size_t)(nl - data) : size, len = end - pos;
        if (len && data[pos + len - 1] == '\r') len--; // CRLF files
        if (len == 0)
            return ep_error_set(err, EP_ERR_FORMAT, "vocab %s:%d: empty line; every line must hold one token",
                                vocab_path, line);
        if (len > EP_TOK_MAX_TOKEN_BYTES || !ep_tok_valid_utf8((const uint8_t *)data + pos, len))
            return ep_error_set(err, EP_ERR_FORMAT, "vocab %s:%d: %s", vocab_path, line,
                                len > EP_TOK_MAX_TOKEN_BYTES ? "token longer than 1024 bytes"
                                                             : "token is not valid UTF-8 (or holds NUL)");
        data[pos + len] = '\0';
        tok->offset[tok->n_vocab] = (uint32_t)pos;
        tok->length[tok->n_vocab] = (uint16_t)len;
        tok->n_vocab++;
        pos = end + 1;
    }
    return EP_OK;
}

/* BertTokenizerFast's specials: matched in the raw text, [CLS] $A [SEP] around it.
 * @return EP_OK, or EP_ERR_FORMAT when one BERT needs is missing. */
static ep_status bert_specials(ep_tokenizer *tok, const char *vocab_path, ep_error *err) {
    int32_t id[N_BERT_SPECIAL];
    for (int i = 0; i < N_BERT_SPECIAL; i++) {
        id[i] = ep_tokenizer_token_to_id(tok, special_names[i]);
        if (id[i] < 0 && i < 4)
            return ep_error_set(err, EP_ERR_FORMAT,
                                "vocab %s: no %s token; a BERT vocabulary needs [PAD] [UNK] [CLS] [SEP]", vocab_path,
                                special_names[i]);
    }
    tok->raw.tok = calloc(N_BERT_SPECIAL, sizeof *tok->raw.tok);
    if (!tok->raw.tok) return ep_error_set(err, EP_ERR_NOMEM, "vocab %s: out of memory", vocab_path);
    for (int i = 0; i < N_BERT_SPECIAL; i++)
        if (id[i] >= 0)
            tok->raw.tok[tok->raw.n++] = (ep_tok_added_token){tok->strings + tok->offset[id[i]],
                                                              (uint32_t)strlen(special_names[i]), id[i], 0};
    ep_tok_added_index(&tok->raw);
    tok->unk_id = id[1];
    tok->prefix[tok->n_prefix++] = id[2];
    tok->suffix[tok->n_suffix++] = id[3];
    return EP_OK;
}

ep_status ep_tokenizer_create(const char *vocab_path, const ep_tokenizer_options *options, ep_tokenizer **out,
                              ep_error *err) {
    if (!out) return ep_error_set(err, EP_ERR_USAGE, "ep_tokenizer_create: out is NULL");
    *out = NULL;
    if (!vocab_path) return ep_error_set(err, EP_ERR_USAGE, "ep_tokenizer_create: no vocab path given");
    ep_tokenizer_options opt = options ? *options : ep_tokenizer_default_options();
    if (opt.max_input_chars_per_word < 1 || opt.max_input_chars_per_word >= EP_TOK_MAX_WORD_CHARS)
        return ep_error_set(err, EP_ERR_USAGE, "ep_tokenizer_create: max_input_chars_per_word %d is outside 1..%d",
                            opt.max_input_chars_per_word, EP_TOK_MAX_WORD_CHARS - 1);

    char *data = NULL;
    size_t size = 0;
    ep_status st = ep_read_file(vocab_path, 0, &data, &size, err);
    if (st) return ep_error_prefix(err, "vocab (check the model folder)");
    if (size == 0) {
        free(data);
        return ep_error_set(err, EP_ERR_FORMAT, "vocab %s: the file is empty; expected one token per line", vocab_path);
    }
    ep_tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok) {
        free(data);
        return ep_error_set(err, EP_ERR_NOMEM, "vocab %s: out of memory", vocab_path);
    }
    tok->opt = opt;
    tok->strings = data; // lines become NUL-terminated tokens in place
    st = split_lines(tok, vocab_path, size, err);
    int32_t dup[2];
    if (st == EP_OK && (st = ep_tok_vocab_build(tok, "##", 2, dup, err)) == EP_ERR_FORMAT)
        ep_error_set(err, st, "vocab %s:%d: duplicate token \"%s\" (first at line %d)", vocab_path, dup[1] + 1,
                     tok->strings + tok->offset[dup[1]], dup[0] + 1);
    tok->n_ids = tok->n_vocab;
    if (st == EP_OK) st = bert_specials(tok, vocab_path, err);
    if (st != EP_OK) {
        ep_tokenizer_free(tok);
        return st;
    }
    snprintf(tok->describe, sizeof tok->describe, "WordPiece from vocab.txt (%s%s)",
             opt.lowercase ? "uncased" : "cased", ", BERT fast path");
    *out = tok;
    return EP_OK;
}

void ep_tok_free(ep_tokenizer *tok) {
    if (!tok) return;
    ep_tok_chain_free(tok->chain);
    free(tok->poly_pow);
    free(tok->words.slot);
    free(tok->cont.slot);
    free(tok->offset);
    free(tok->length);
    free(tok->strings);
    free(tok->raw.tok);
    free(tok->norm.tok);
    free(tok->added_text);
    free(tok->id_text);
    free(tok);
}

void ep_tokenizer_free(ep_tokenizer *tok) {
    ep_tok_free(tok);
}

int ep_tokenizer_n_special(const ep_tokenizer *tok) {
    return tok ? tok->n_prefix + tok->n_suffix : 0;
}

const char *ep_tokenizer_describe(const ep_tokenizer *tok) {
    return tok ? tok->describe : "";
}

int ep_tokenizer_encode(const ep_tokenizer *tok, const char *text, size_t len, int32_t *ids, int max_tokens,
                        bool *truncated) {
    if (truncated) *truncated = false;
    int specials = tok ? tok->n_prefix + tok->n_suffix : 0;
    if (!tok || !ids || max_tokens < specials || max_tokens < 1) {
        if (truncated) *truncated = true;
        return 0;
    }
    if (!text) len = 0;
    return tok->chain ? ep_tok_chain_encode(tok, text, len, ids, max_tokens, truncated)
                      : ep_tok_fast_encode(tok, text, len, ids, max_tokens, truncated);
}
