/*
 * tokenizer.h - tokenisation identical to Hugging Face's tokenizers, from a
 * model folder's vocab.txt (BERT WordPiece, as BertTokenizerFast: BertNormalizer
 * + BertPreTokenizer + WordPiece + [CLS] ... [SEP]) or its tokenizer.json (the
 * added tokens, normalizers, pre-tokenizers, model and post-processor it
 * names). A tokenizer.json whose pipeline is exactly BERT's runs on the same
 * fast path as vocab.txt; other pipelines run a general chain. Either way the
 * text's ids are cut on the right to fit, the template's special ids kept.
 */
#ifndef EP_TOKENIZER_H
#define EP_TOKENIZER_H

#include "embedpipe.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ep_tokenizer ep_tokenizer;

typedef struct ep_tokenizer_options {
    bool lowercase;            /* do_lower_case */
    bool handle_chinese_chars; /* spaces around CJK ideographs (tokenize_chinese_chars) */
    int max_input_chars_per_word; /* longer words become [UNK] (100) */
    int strip_accents;         /* -1: exactly when lowercasing (strip_accents = null); 0: keep; 1: strip */
} ep_tokenizer_options;

/* @return the options of bert-base-uncased style models (lowercase, CJK, 100, -1). */
ep_tokenizer_options ep_tokenizer_default_options(void);

/* Loads vocab.txt (one token per line, id = line number - 1; CRLF accepted).
 * options may be NULL (the defaults); max_input_chars_per_word must be 1..255.
 * @return EP_OK and *out set; EP_ERR_IO / EP_ERR_FORMAT naming the file and line
 *         (empty file, empty line, invalid UTF-8, duplicate token, missing
 *         [CLS]/[SEP]/[UNK]/[PAD]); EP_ERR_USAGE for bad arguments. */
ep_status ep_tokenizer_create(const char *vocab_path, const ep_tokenizer_options *options, ep_tokenizer **out,
                              ep_error *err);

/* What a model folder's other files say about its tokenizer.json (transformers applies
 * tokenizer_config.json's do_lower_case to a BertNormalizer). */
typedef struct ep_tokenizer_json_options {
    int lowercase;     /* -1: as the file says; 0 or 1: replaces a BertNormalizer's "lowercase" */
    bool general_only; /* run BERT's pipeline on the general chain too (tests and benchmarks) */
} ep_tokenizer_json_options;

/* Loads a Hugging Face tokenizer.json (options may be NULL). Supported: added_tokens
 * (single_word, lstrip, rstrip, normalized); normalizers BertNormalizer, NFC, NFD, NFKC,
 * NFKD, Lowercase, Strip, StripAccents, Replace (a string, or a regex of the subset in
 * regex_lite.h), Prepend, Nmt, Sequence; pre-tokenizers BertPreTokenizer, Whitespace,
 * WhitespaceSplit, Punctuation, Metaspace, Sequence; models WordPiece (Unigram: not yet);
 * post-processors TemplateProcessing (its single template), BertProcessing,
 * RobertaProcessing. The file's truncation and padding are ignored (the caller's
 * max_tokens decides).
 * @return EP_OK and *out set; EP_ERR_IO naming the file; EP_ERR_FORMAT for a malformed
 *         file and EP_ERR_MODEL for an unsupported part, naming the file, the JSON path
 *         and what is supported; EP_ERR_NOMEM; EP_ERR_USAGE for bad arguments. */
ep_status ep_tokenizer_create_json(const char *path, const ep_tokenizer_json_options *options, ep_tokenizer **out,
                                   ep_error *err);

/* As ep_tokenizer_create_json, from the JSON text json[0..len); name stands for the file
 * in messages. @return as ep_tokenizer_create_json. */
ep_status ep_tokenizer_create_json_text(const char *json, size_t len, const char *name,
                                        const ep_tokenizer_json_options *options, ep_tokenizer **out, ep_error *err);

/* Frees the tokenizer. Accepts NULL. */
void ep_tokenizer_free(ep_tokenizer *tok);

/* Tokenises text (UTF-8, len bytes, need not be NUL-terminated; NULL with len 0
 * is the empty text) into the template's ids around the text's ([CLS] pieces...
 * [SEP] for BERT), writing at most max_tokens ids (max_tokens >=
 * ep_tokenizer_n_special, and >= 1). Like Hugging Face, added tokens written
 * literally in the text ([CLS], [MASK], <mask>, ...) become their ids.
 * Safe to call from several threads at once on one tokenizer; the fast BERT path
 * allocates nothing, the general chain only for texts longer than a few KB.
 * @return the number of ids written; *truncated (if non-NULL) is set when the
 *         text had more pieces than fit. Invalid UTF-8 is read as U+FFFD, one per
 *         maximal invalid sequence (Python's errors="replace"). 0 (and *truncated
 *         set) when tok or ids is NULL or max_tokens is too small. Should memory
 *         run out on a long text, only the special ids are written (*truncated set). */
int ep_tokenizer_encode(const ep_tokenizer *tok, const char *text, size_t len, int32_t *ids, int max_tokens,
                        bool *truncated);

/* @return how many special ids the template adds around a text (2 for BERT's [CLS] $A [SEP]). */
int ep_tokenizer_n_special(const ep_tokenizer *tok);

/* @return a one-line description ("WordPiece from tokenizer.json (BertNormalizer,
 * BertPreTokenizer, BERT fast path)"); "" for NULL. */
const char *ep_tokenizer_describe(const ep_tokenizer *tok);

/* @return the id of token (the model's or an added token's), or -1 when there is none. */
int32_t ep_tokenizer_token_to_id(const ep_tokenizer *tok, const char *token);
/* @return the token string of id, or NULL when out of range. */
const char *ep_tokenizer_id_to_token(const ep_tokenizer *tok, int32_t id);
/* @return the number of ids: every id encode returns is below it (the model's
 * vocabulary and added tokens past it). */
int ep_tokenizer_vocab_size(const ep_tokenizer *tok);

#ifdef __cplusplus
}
#endif

#endif /* EP_TOKENIZER_H */
