/*
 * tokjson_model.c - tokenizer.json's "model": the vocabulary of a WordPiece
 * ({"token": id, ...}) or a Unigram ([["piece", score], ...]) into the
 * tokenizer's tables, and the model the chain runs.
 */
#include <stdlib.h>
#include <string.h>

#include "tokjson.h"

/* wire: unigram - add unigram.c to tokenizer/CMakeLists.txt and define EP_TOK_HAVE_UNIGRAM there. */
#ifdef EP_TOK_HAVE_UNIGRAM
#include "unigram.h"
#define SUPPORTED_MODELS "supported models: WordPiece, Unigram"

static int unigram_word(const void *model, const char *word, size_t len, int32_t *ids, int cap) {
    return ep_unigram_encode_word(model, word, len, ids, cap);
}

static void unigram_free(void *model) {
    ep_unigram_free(model);
}
#else
#define SUPPORTED_MODELS "supported models: WordPiece"
#endif

/* Gives tok room for n tokens of total bytes (NUL terminators included).
 * @return EP_OK or EP_ERR_NOMEM. */
static ep_status vocab_alloc(const ep_tokjson *j, ep_tokenizer *tok, int n, size_t bytes) {
    tok->strings = malloc(bytes ? bytes : 1);
    tok->offset = calloc((size_t)n + 1, sizeof *tok->offset);
    tok->length = calloc((size_t)n + 1, sizeof *tok->length);
    if (!tok->strings || !tok->offset || !tok->length)
        return ep_tokjson_fail(j, EP_ERR_NOMEM, "model.vocab", "out of memory");
    tok->n_vocab = n;
    return EP_OK;
}

static ep_status check_token(const ep_tokjson *j, const char *path, const char *s, int i) {
    size_t len = strlen(s);
    if (len > EP_TOK_MAX_TOKEN_BYTES || !ep_tok_valid_utf8((const uint8_t *)s, len))
        return ep_tokjson_fail(j, EP_ERR_FORMAT, path, "entry %d: %s", i,
                               len > EP_TOK_MAX_TOKEN_BYTES ? "token longer than 1024 bytes" : "token is not UTF-8");
    return EP_OK;
}

/* The tables over the strings; a duplicate token is named. @return EP_OK or an error. */
static ep_status build(const ep_tokjson *j, ep_tokenizer *tok, const char *prefix, const char *path) {
    int32_t dup[2];
    ep_status st = ep_tok_vocab_build(tok, prefix, prefix ? (int)strlen(prefix) : -1, dup, j->err);
    if (st == EP_ERR_FORMAT)
        return ep_tokjson_fail(j, st, path, "duplicate token \"%s\" (ids %d and %d)",
                               tok->strings + tok->offset[dup[1]], dup[0], dup[1]);
    tok->n_ids = tok->n_vocab;
    return st;
}

/* WordPiece's vocabulary: ids must be 0 .. n-1, each once. */
static ep_status wordpiece_vocab(const ep_tokjson *j, const cJSON *vocab, ep_tokenizer *tok) {
    if (!cJSON_IsObject(vocab)) return ep_tokjson_fail(j, EP_ERR_FORMAT, "model.vocab", "expected an object");
    int n = 0;
    size_t bytes = 0;
    for (const cJSON *v = vocab->child; v; v = v->next, n++) bytes += strlen(v->string) + 1;
    if (n < 1 || n >= (1 << 24) - 1)
        return ep_tokjson_fail(j, EP_ERR_FORMAT, "model.vocab", "%d tokens; 1 to 16,777,214 are supported", n);
    ep_status st = vocab_alloc(j, tok, n, bytes);
    uint8_t *taken = calloc((size_t)n, 1);
    if (st || !taken) {
        free(taken);
        return st ? st : ep_tokjson_fail(j, EP_ERR_NOMEM, "model.vocab", "out of memory");
    }
    size_t at = 0;
    for (const cJSON *v = vocab->child; v && !st; v = v->next) {
        double d = cJSON_IsNumber(v) ? v->valuedouble : -1;
        long id = (long)d;
        if (d != (double)id || id < 0 || id >= n || taken[id]) {
            st = ep_tokjson_fail(j, EP_ERR_FORMAT, "model.vocab", "token \"%.100s\": id %g is not one of 0..%d "
                                 "or is taken twice (the ids must number the tokens)", v->string, d, n - 1);
        } else if (!(st = check_token(j, "model.vocab", v->string, (int)id))) {
            size_t len = strlen(v->string);
            memcpy(tok->strings + at, v->string, len + 1);
            tok->offset[id] = (uint32_t)at;
            tok->length[id] = (uint16_t)len;
            taken[id] = 1;
            at += len + 1;
        }
    }
    free(taken);
    return st;
}

static ep_status wordpiece(const ep_tokjson *j, const cJSON *m, ep_tokenizer *tok, ep_tok_chain *c) {
    const char *unk = NULL, *prefix = NULL;
    long max_chars = 0;
    ep_status st;
    if ((st = ep_tokjson_string(j, m, "model", "unk_token", true, &unk)) ||
        (st = ep_tokjson_string(j, m, "model", "continuing_subword_prefix", true, &prefix)) ||
        (st = ep_tokjson_int(j, m, "model", "max_input_chars_per_word", true, 0, 1L << 30, &max_chars)))
        return st;
    if (max_chars < 1 || max_chars >= EP_TOK_MAX_WORD_CHARS)
        return ep_tokjson_fail(j, EP_ERR_MODEL, "model.max_input_chars_per_word",
                               "%ld; embedpipe supports 1..%d (Hugging Face's default is 100)", max_chars,
                               EP_TOK_MAX_WORD_CHARS - 1);
    if (strlen(prefix) > 32)
        return ep_tokjson_fail(j, EP_ERR_MODEL, "model.continuing_subword_prefix", "longer than 32 bytes");
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(m, "vocab");
    if ((st = wordpiece_vocab(j, vocab, tok)) || (st = build(j, tok, prefix, "model.vocab"))) return st;
    tok->unk_id = ep_tokenizer_token_to_id(tok, unk);
    if (tok->unk_id < 0)
        return ep_tokjson_fail(j, EP_ERR_FORMAT, "model.unk_token", "\"%s\" is not in the vocabulary", unk);
    tok->opt.max_input_chars_per_word = (int)max_chars;
    c->model = EP_MODEL_WORDPIECE;
    c->max_chars = (int)max_chars;
    return EP_OK;
}

/* Unigram's pieces into the tables (for ids -> tokens and added tokens' ids) and *scores. */
static ep_status unigram_vocab(const ep_tokjson *j, const cJSON *vocab, ep_tokenizer *tok, double **scores) {
    if (!cJSON_IsArray(vocab)) return ep_tokjson_fail(j, EP_ERR_FORMAT, "model.vocab", "expected an array");
    int n = cJSON_GetArraySize(vocab);
    size_t bytes = 0;
    for (const cJSON *v = vocab->child; v; v = v->next) {
        const cJSON *p = cJSON_GetArrayItem(v, 0), *s = cJSON_GetArrayItem(v, 1);
        if (cJSON_GetArraySize(v) != 2 || !cJSON_IsString(p) || !cJSON_IsNumber(s))
            return ep_tokjson_fail(j, EP_ERR_FORMAT, "model.vocab", "expected [\"piece\", score] pairs");
        bytes += strlen(p->valuestring) + 1;
    }
    if (n < 1 || n >= (1 << 24) - 1)
        return ep_tokjson_fail(j, EP_ERR_FORMAT, "model.vocab", "%d pieces; 1 to 16,777,214 are supported", n);
    ep_status st = vocab_alloc(j, tok, n, bytes);
    *scores = malloc(sizeof **scores * (size_t)n);
    if (st || !*scores) return st ? st : ep_tokjson_fail(j, EP_ERR_NOMEM, "model.vocab", "out of memory");
    size_t at = 0;
    int i = 0;
    for (const cJSON *v = vocab->child; v; v = v->next, i++) {
        const char *p = v->child->valuestring;
        if ((st = check_token(j, "model.vocab", p, i))) return st;
        size_t len = strlen(p);
        memcpy(tok->strings + at, p, len + 1);
        tok->offset[i] = (uint32_t)at;
        tok->length[i] = (uint16_t)len;
        (*scores)[i] = v->child->next->valuedouble;
        at += len + 1;
    }
    return EP_OK;
}

static ep_status unigram(const ep_tokjson *j, const cJSON *m, ep_tokenizer *tok, ep_tok_chain *c) {
    long unk = -1;
    bool byte_fallback = false;
    double *scores = NULL;
    ep_status st;
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(m, "unk_id");
    if ((u && !cJSON_IsNull(u) && (st = ep_tokjson_int(j, m, "model", "unk_id", true, 0, 1L << 30, &unk))) ||
        (st = ep_tokjson_bool(j, m, "model", "byte_fallback", false, &byte_fallback)) ||
        (st = unigram_vocab(j, cJSON_GetObjectItemCaseSensitive(m, "vocab"), tok, &scores)) ||
        (st = build(j, tok, NULL, "model.vocab")))
        goto done;
    if (unk >= tok->n_vocab) {
        st = ep_tokjson_fail(j, EP_ERR_FORMAT, "model.unk_id", "%ld is past the %d pieces", unk, tok->n_vocab);
        goto done;
    }
    tok->unk_id = (int32_t)unk;
    c->model = EP_MODEL_UNIGRAM;
#ifdef EP_TOK_HAVE_UNIGRAM
    // The pieces stay where they are (tok->strings) for the tokenizer's life; so does this array.
    const char **pieces = malloc(sizeof *pieces * (size_t)tok->n_vocab);
    if (!pieces) {
        st = ep_tokjson_fail(j, EP_ERR_NOMEM, "model.vocab", "out of memory");
        goto done;
    }
    for (int i = 0; i < tok->n_vocab; i++) pieces[i] = tok->strings + tok->offset[i];
    c->model_aux = pieces;
    ep_unigram *uni = NULL;
    st = ep_unigram_create(pieces, scores, tok->n_vocab, (int)unk, byte_fallback, &uni, j->err);
    if (st) {
        ep_error_prefix(j->err, "tokenizer.json %s: model", j->file);
        goto done;
    }
    c->model_data = uni;
    c->encode_word = unigram_word;
    c->model_free = unigram_free;
#else
    (void)byte_fallback;
    st = ep_tokjson_fail(j, EP_ERR_MODEL, "model", "the Unigram model (SentencePiece: XLM-R, multilingual-e5, "
                         "paraphrase-multilingual) is not supported yet; " SUPPORTED_MODELS);
#endif
done:
    free(scores);
    return st;
}

ep_status ep_tokjson_model(const ep_tokjson *j, const cJSON *model, ep_tokenizer *tok, ep_tok_chain *c) {
    const char *type = NULL;
    ep_status st = ep_tokjson_type(j, model, "model", &type);
    if (st) return st;
    if (strcmp(type, "WordPiece") == 0) return wordpiece(j, model, tok, c);
    if (strcmp(type, "Unigram") == 0) return unigram(j, model, tok, c);
    return ep_tokjson_fail(j, EP_ERR_MODEL, "model.type", "\"%s\" is not supported; " SUPPORTED_MODELS, type);
}
