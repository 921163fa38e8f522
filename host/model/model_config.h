/*
 * model_config.h - reads the JSON side of a sentence-transformers folder (private to host/model/model.c).
 *
 * Sources of each ep_model_config field, and the defaults used when a file or key is absent:
 *   config.json (required)      vocab_size, hidden_size, num_hidden_layers, num_attention_heads,
 *                               intermediate_size, max_position_embeddings, type_vocab_size: required.
 *                               layer_norm_eps: default 1e-12; hidden_act: default "gelu" (BertConfig's
 *                               defaults). model_type must be "bert", hidden_act "gelu" (erf),
 *                               position_embedding_type absent or "absolute".
 *   vocab.txt                   required without a tokenizer.json; only checked: at most vocab_size
 *                               lines (the tokenizer reads it; model_tokenizer.c checks tokenizer.json's ids).
 *   sentence_bert_config.json   max_seq_length. When the file or key is absent (sentence-transformers
 *                               >= 5 no longer writes it), sentence-transformers' rule applies:
 *                               min(max_position_embeddings, tokenizer_config.json model_max_length).
 *                               Its do_lower_case, when true, forces lower-casing as sentence-transformers does.
 *   tokenizer_config.json       do_lower_case; when absent, tokenizer.json's BertNormalizer "lowercase";
 *                               when that is absent too, true (BertTokenizer's default).
 *   modules.json (required)     Transformer (path ""), then Pooling, then an optional Normalize; any other
 *                               module (Dense, ...) is rejected because embedpipe would silently skip it.
 *   <Pooling path>/config.json  exactly one of mean / CLS pooling, in the legacy form
 *                               (pooling_mode_mean_tokens: true) or the sentence-transformers 6 form
 *                               ("pooling_mode": "mean"); anything else is "unsupported pooling".
 *   name                        base name of the folder (resolved, so "." works).
 */
#ifndef EP_MODEL_CONFIG_H
#define EP_MODEL_CONFIG_H

#include "model.h"

/* What every "model missing" message ends with. */
#define EP_MODEL_FETCH_HINT                                                                                  \
    "get all-MiniLM-L6-v2 with scripts/fetch-model.sh, or use another sentence-transformers folder " \
    "(config.json, model.safetensors, vocab.txt, ...)"

/* Fills every field of cfg except weights_sha256 from the JSON files of dir.
 * @return EP_OK; EP_ERR_MODEL for a missing file or an unsupported/inconsistent config;
 *         EP_ERR_FORMAT for malformed JSON; EP_ERR_IO when a file cannot be read. */
ep_status ep_model_config_load(const char *dir, ep_model_config *cfg, ep_error *err);

/* @return EP_OK when path is a readable regular file; otherwise EP_ERR_MODEL (missing) or
 *         EP_ERR_IO, with a message naming path and EP_MODEL_FETCH_HINT. */
ep_status ep_model_require_file(const char *path, ep_error *err);

#endif /* EP_MODEL_CONFIG_H */
