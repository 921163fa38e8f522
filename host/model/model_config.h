/*
 * model_config.h - reads the JSON side of a sentence-transformers folder (private to host/model/).
 *
 * Sources of each ep_model_config field, and the defaults used when a file or key is absent:
 *   config.json (required)      vocab_size, hidden_size, num_hidden_layers, num_attention_heads,
 *                               intermediate_size, max_position_embeddings, type_vocab_size: required.
 *                               layer_norm_eps: default 1e-12; hidden_act: default "gelu" (BertConfig's
 *                               defaults). model_type must be "bert", "roberta" or "xlm-roberta" (anything
 *                               else is refused by name, listing these); for the last two pad_token_id
 *                               (default 1) sets where positions start. hidden_act must be "gelu" (erf),
 *                               position_embedding_type absent or "absolute".
 *   vocab.txt                   required without a tokenizer.json; only checked: at most vocab_size
 *                               lines (the tokenizer reads it; model_tokenizer.c checks tokenizer.json's ids).
 *   sentence_bert_config.json   max_seq_length. When the file or key is absent (sentence-transformers
 *                               >= 5 no longer writes it), sentence-transformers' rule applies:
 *                               min(max_position_embeddings, tokenizer_config.json model_max_length),
 *                               capped at the positions a RoBERTa model can use (514 -> 512).
 *                               Its do_lower_case, when true, forces lower-casing as sentence-transformers does.
 *   tokenizer_config.json       do_lower_case; when absent, tokenizer.json's BertNormalizer "lowercase";
 *                               when that is absent too, true (BertTokenizer's default).
 *   modules.json (required)     Transformer (path ""), then Pooling, then any number of Dense, then an
 *                               optional Normalize (modules.c); any other module is rejected because
 *                               embedpipe would silently skip it.
 *   <Pooling path>/config.json  the pooling modes, include_prompt (pooling_config.c).
 *   <Dense path>/config.json    in_features, out_features, bias, activation_function (dense.c).
 *   config_sentence_transformers.json   truncate_dim (optional; the prompts are read by prompts.c).
 *   name                        base name of the folder (resolved, so "." works).
 */
#ifndef EP_MODEL_CONFIG_H
#define EP_MODEL_CONFIG_H

#include "model.h"

/* What every "model missing" message ends with. */
#define EP_MODEL_FETCH_HINT                                                                                  \
    "get all-MiniLM-L6-v2 with scripts/fetch-model.sh, or use another sentence-transformers folder " \
    "(config.json, model.safetensors, vocab.txt, ...)"

/* Fills every field of cfg except weights_sha256 and dense_sha256 from the JSON files of dir.
 * @return EP_OK; EP_ERR_MODEL for a missing file or an unsupported/inconsistent config;
 *         EP_ERR_FORMAT for malformed JSON; EP_ERR_IO when a file cannot be read. */
ep_status ep_model_config_load(const char *dir, ep_model_config *cfg, ep_error *err);

/* @return EP_OK when path is a readable regular file; otherwise EP_ERR_MODEL (missing) or
 *         EP_ERR_IO, with a message naming path and EP_MODEL_FETCH_HINT. */
ep_status ep_model_require_file(const char *path, ep_error *err);

/* Reads modules.json (and through it the Pooling and Dense configs) into cfg's pooling, dense and
 * normalize fields; cfg->hidden must be set. @return as ep_model_config_load. */
ep_status ep_modules_load(const char *dir, ep_model_config *cfg, ep_error *err);

/* Reads dir/sub/config.json, a Pooling module's, into cfg's pooling fields (pooling_config.c).
 * @return as ep_model_config_load. */
ep_status ep_pooling_config_load(const char *dir, const char *sub, ep_model_config *cfg, ep_error *err);

/* Reads dir/sub/config.json, a Dense module's, into *d; in_width is the width of the rows it receives.
 * @return as ep_model_config_load (an activation or option embedpipe lacks is EP_ERR_MODEL naming it). */
ep_status ep_dense_config_load(const char *dir, const char *sub, int in_width, ep_dense_config *d, ep_error *err);

/* Loads every Dense module's weights of m (m->dir and m->config set) into m->dense and sets
 * config.dense_sha256. @return EP_OK; EP_ERR_MODEL for a missing or misshapen file (a folder with only
 * pytorch_model.bin is told how to convert it); EP_ERR_FORMAT / EP_ERR_IO / EP_ERR_NOMEM. */
ep_status ep_dense_load_weights(ep_model *m, ep_error *err);

#endif /* EP_MODEL_CONFIG_H */
