/*
 * model_tokenizer.h - the tokenizer a model folder asks for: its vocab.txt,
 * with the lowercasing its config says. Apart from model.h so that the
 * backends, which see model.h, do not see the tokenizer.
 */
#ifndef EP_MODEL_TOKENIZER_H
#define EP_MODEL_TOKENIZER_H

#include "model.h"
#include "tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Creates the tokenizer of the model in model_dir: model_dir/vocab.txt with
 * cfg->do_lower_case, the other options at their defaults.
 * @return as ep_tokenizer_create (EP_ERR_IO / EP_ERR_FORMAT naming vocab.txt). */
ep_status ep_model_tokenizer_create(const char *model_dir, const ep_model_config *cfg, ep_tokenizer **out,
                                    ep_error *err);

#ifdef __cplusplus
}
#endif

#endif /* EP_MODEL_TOKENIZER_H */
