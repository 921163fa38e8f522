/*
 * tokenizer.h - BERT WordPiece tokenisation, identical to Hugging Face's
 * BertTokenizerFast (tokenizers' BertNormalizer + BertPreTokenizer + WordPiece
 * + the [CLS] ... [SEP] template + longest-first truncation).
 */
#ifndef EP_TOKENIZER_H
#define EP_TOKENIZER_H

#include "embedpipe.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ep_tokenizer ep_tokenizer;

typedef struct ep_tokenizer_options {
    bool lowercase;            /* do_lower_case; also strips accents (strip_accents = null) */
    bool handle_chinese_chars; /* spaces around CJK ideographs (tokenize_chinese_chars) */
    int max_input_chars_per_word; /* longer words become [UNK] (100) */
} ep_tokenizer_options;

/* @return the options of bert-base-uncased style models (lowercase, CJK, 100). */
ep_tokenizer_options ep_tokenizer_default_options(void);

/* Loads vocab.txt (one token per line, id = line number - 1; CRLF accepted).
 * options may be NULL (the defaults); max_input_chars_per_word must be 1..255.
 * @return EP_OK and *out set; EP_ERR_IO / EP_ERR_FORMAT naming the file and line
 *         (empty file, empty line, invalid UTF-8, duplicate token, missing
 *         [CLS]/[SEP]/[UNK]/[PAD]); EP_ERR_USAGE for bad arguments. */
ep_status ep_tokenizer_create(const char *vocab_path, const ep_tokenizer_options *options, ep_tokenizer **out,
                              ep_error *err);

/* Frees the tokenizer. Accepts NULL. */
void ep_tokenizer_free(ep_tokenizer *tok);

/* Tokenises text (UTF-8, len bytes, need not be NUL-terminated; NULL with len 0
 * is the empty text) into [CLS] pieces... [SEP], writing at most max_tokens ids
 * (max_tokens >= 2). Like Hugging Face, the special tokens [PAD] [UNK] [CLS]
 * [SEP] [MASK] written literally in the text (exact case) become their ids.
 * Allocates nothing; safe to call from several threads at once on one tokenizer.
 * @return the number of ids written; *truncated (if non-NULL) is set when the
 *         text had more pieces than fit. Invalid UTF-8 bytes are treated as
 *         U+FFFD (which the normaliser removes, as Hugging Face does).
 *         0 (and *truncated set) when tok or ids is NULL or max_tokens < 2. */
int ep_tokenizer_encode(const ep_tokenizer *tok, const char *text, size_t len, int32_t *ids, int max_tokens,
                        bool *truncated);

/* @return the id of token, or -1 when it is not in the vocabulary. */
int32_t ep_tokenizer_token_to_id(const ep_tokenizer *tok, const char *token);
/* @return the token string of id, or NULL when out of range. */
const char *ep_tokenizer_id_to_token(const ep_tokenizer *tok, int32_t id);
/* @return the vocabulary size. */
int ep_tokenizer_vocab_size(const ep_tokenizer *tok);

#ifdef __cplusplus
}
#endif

#endif /* EP_TOKENIZER_H */
