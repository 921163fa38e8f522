/* model_tokenizer.c - a model folder's tokenizer, made one way everywhere. */
#include "model_tokenizer.h"

#include <limits.h>
#include <stdio.h>

ep_status ep_model_tokenizer_create(const char *model_dir, const ep_model_config *cfg, ep_tokenizer **out,
                                    ep_error *err) {
    char vocab[PATH_MAX + 16];
    if (snprintf(vocab, sizeof vocab, "%s/vocab.txt", model_dir) >= (int)sizeof vocab)
        return ep_error_set(err, EP_ERR_USAGE, "model folder path too long: %.200s...", model_dir);
    ep_tokenizer_options to = ep_tokenizer_default_options();
    to.lowercase = cfg->do_lower_case;
    return ep_tokenizer_create(vocab, &to, out, err);
}
