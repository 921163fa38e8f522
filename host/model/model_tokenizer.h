/*
 * model_tokenizer.h - the tokenizer a model folder asks for: its tokenizer.json
 * when it has one, else its vocab.txt, with the lowercasing its config says.
 * Apart from model.h so that the backends, which see model.h, do not see the
 * tokenizer.
 */
#ifndef EP_MODEL_TOKENIZER_H
#define EP_MODEL_TOKENIZER_H

#include "model.h"
#include "tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Creates the tokenizer of the model in model_dir: model_dir/tokenizer.json when the
 * folder has one (a BertNormalizer's lowercase set to cfg->do_lower_case, as transformers
 * does), else model_dir/vocab.txt with cfg->do_lower_case and the other options at their
 * defaults (BertTokenizerFast's).
 * @return as ep_tokenizer_create_json / ep_tokenizer_create (naming the file); EP_ERR_MODEL
 *         when the tokenizer has more ids than config.json's vocab_size, adds no special
 *         tokens, or adds more than cfg->max_seq_length. */
ep_status ep_model_tokenizer_create(const char *model_dir, const ep_model_config *cfg, ep_tokenizer **out,
                                    ep_error *err);

#ifdef __cplusplus
}
#endif

#endif /* EP_MODEL_TOKENIZER_H */
