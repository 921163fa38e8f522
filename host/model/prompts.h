/*
 * prompts.h - the prompts of a sentence-transformers model (config_sentence_transformers.json:
 * "prompts" and "default_prompt_name"), which one a run puts before its texts, and tokenising a
 * text with it.
 *
 * sentence-transformers prepends the prompt to the text as a string ("query: " + text) and
 * tokenises the result; so does embedpipe (ep_prompt_encode), so that ids match at the seam.
 * Which prompt applies follows sentence-transformers' encode() (6.x):
 *   - a prompt given as text wins (an empty one means no prompt, not even the default);
 *   - else a prompt given by name (an unknown name is an error listing the model's prompts);
 *   - else the prompt named by default_prompt_name; else none.
 * As in sentence-transformers, every model has the prompts "query" and "document", empty unless its
 * config sets them. For queries (`similar`, `search`) the caller uses ep_prompts_query: the model's
 * "query" prompt when it sets one, as encode_query() does.
 */
#ifndef EP_PROMPTS_H
#define EP_PROMPTS_H

#include "embedpipe.h"
#include "tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ep_prompts ep_prompts;

/* Reads model_dir/config_sentence_transformers.json (absent: no prompts). A null prompt is "", as
 * sentence-transformers reads it.
 * @return EP_OK and *out; EP_ERR_FORMAT / EP_ERR_MODEL naming the file and key (a default_prompt_name
 *         that names no prompt, a prompt that is not a string); EP_ERR_NOMEM. */
ep_status ep_prompts_load(const char *model_dir, ep_prompts **out, ep_error *err);

/* Frees the prompts. Accepts NULL. */
void ep_prompts_free(ep_prompts *p);

/* @return the number of prompts. */
int ep_prompts_count(const ep_prompts *p);

/* @return prompt i's name / text (0 <= i < count). */
const char *ep_prompts_name(const ep_prompts *p, int i);
const char *ep_prompts_text(const ep_prompts *p, int i);

/* @return the text of the prompt called name, or NULL when the model has none of that name. */
const char *ep_prompts_find(const ep_prompts *p, const char *name);

/* @return default_prompt_name, or NULL when the model sets none. */
const char *ep_prompts_default_name(const ep_prompts *p);

/* @return the model's "query" prompt when it sets a non-empty one, else NULL. */
const char *ep_prompts_query(const ep_prompts *p);

/* Chooses the prompt, as the header says. name and text are the caller's (NULL = not given; both
 * given is an error). *out_text gets the prompt ("" for none) and *out_name its name ("" when it was
 * given as text or there is none); both point into p or into text.
 * @return EP_OK; EP_ERR_USAGE for an unknown name (listing the model's prompts) or both given. */
ep_status ep_prompt_choose(const ep_prompts *p, const char *name, const char *text, const char **out_text,
                           const char **out_name, ep_error *err);

/* A buffer ep_prompt_encode reuses for prompt + text (zero-initialise; free data with free()). */
typedef struct ep_prompt_buf {
    char *data;
    size_t cap;
} ep_prompt_buf;

/* Tokenises prompt + text as one string into ids (at most max_tokens), as ep_tokenizer_encode does
 * with the text alone when prompt_len is 0.
 * @return the number of ids, or -1 when out of memory. */
int ep_prompt_encode(const ep_tokenizer *tok, const char *prompt, size_t prompt_len, const char *text, size_t len,
                     int32_t *ids, int max_tokens, bool *truncated, ep_prompt_buf *buf);

/* The number of tokens sentence-transformers leaves out of pooling for a prompt when the Pooling module
 * has include_prompt false: the prompt's ids alone ([CLS] and its tokens), without the trailing special.
 * @return that count (0 for an empty prompt), or -1 when out of memory. */
int ep_prompt_tokens(const ep_tokenizer *tok, const char *prompt, int max_tokens);

#ifdef __cplusplus
}
#endif

#endif /* EP_PROMPTS_H */
