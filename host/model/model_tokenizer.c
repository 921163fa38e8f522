/* model_tokenizer.c - a model folder's tokenizer, made one way everywhere: its tokenizer.json
 * when it has one (what transformers loads), else its vocab.txt (BERT WordPiece). */
#include "model_tokenizer.h"

#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>

static ep_status check_ids(const ep_tokenizer *tok, const char *file, const ep_model_config *cfg, ep_error *err) {
    int n = ep_tokenizer_vocab_size(tok);
    if (n > cfg->vocab_size)
        return ep_error_set(err, EP_ERR_MODEL,
                            "%s has %d token ids but config.json vocab_size is %d: the tokenizer does not belong to "
                            "these weights",
                            file, n, cfg->vocab_size);
    // Every sequence needs a token to pool over: without specials an empty text would have none.
    if (ep_tokenizer_n_special(tok) == 0)
        return ep_error_set(err, EP_ERR_MODEL,
                            "%s adds no special tokens (no post_processor), so an empty text would have no token to "
                            "pool over; embedpipe needs a template such as [CLS] $A [SEP]",
                            file);
    if (cfg->max_seq_length < ep_tokenizer_n_special(tok))
        return ep_error_set(err, EP_ERR_MODEL, "%s: max_seq_length %d leaves no room for the %d special tokens", file,
                            cfg->max_seq_length, ep_tokenizer_n_special(tok));
    return EP_OK;
}

ep_status ep_model_tokenizer_create(const char *model_dir, const ep_model_config *cfg, ep_tokenizer **out,
                                    ep_error *err) {
    char path[PATH_MAX + 32];
    struct stat sb;
    if (snprintf(path, sizeof path, "%s/tokenizer.json", model_dir) >= (int)sizeof path)
        return ep_error_set(err, EP_ERR_USAGE, "model folder path too long: %.200s...", model_dir);
    ep_status st;
    if (stat(path, &sb) == 0) {
        // transformers applies tokenizer_config.json's do_lower_case to a BertNormalizer.
        ep_tokenizer_json_options jo = {.lowercase = cfg->do_lower_case ? 1 : 0};
        st = ep_tokenizer_create_json(path, &jo, out, err);
    } else {
        snprintf(path, sizeof path, "%s/vocab.txt", model_dir);
        ep_tokenizer_options to = ep_tokenizer_default_options();
        to.lowercase = cfg->do_lower_case;
        st = ep_tokenizer_create(path, &to, out, err);
    }
    if (st == EP_OK && (st = check_ids(*out, path, cfg, err)) != EP_OK) {
        ep_tokenizer_free(*out);
        *out = NULL;
    }
    return st;
}
