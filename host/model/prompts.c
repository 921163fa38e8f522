/* prompts.c - config_sentence_transformers.json's prompts, the choice of one, and tokenising with it
 * (prompts.h). */
#include "prompts.h"
#include "model_json.h"
#include "setting_names.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ep_prompts {
    int n;
    char **names, **texts;
    char *default_name; /* NULL = none */
};

void ep_prompts_free(ep_prompts *p) {
    if (!p) return;
    for (int i = 0; i < p->n; i++) {
        free(p->names[i]);
        free(p->texts[i]);
    }
    free(p->names);
    free(p->texts);
    free(p->default_name);
    free(p);
}

/* Adds a prompt. @return EP_OK, or EP_ERR_NOMEM. */
static ep_status add_prompt(ep_prompts *p, const char *name, const char *text, const char *path, ep_error *err) {
    p->names[p->n] = strdup(name);
    p->texts[p->n] = strdup(text);
    p->n++;
    if (!p->names[p->n - 1] || !p->texts[p->n - 1])
        return ep_error_set(err, EP_ERR_NOMEM, "out of memory reading %s", path);
    return EP_OK;
}

/* The prompts of the file, then "query" and "document" as empty ones when it lacks them
 * (sentence-transformers' SentenceTransformer._default_prompts). */
static ep_status read_prompts(const cJSON *root, const char *path, void *ctx, ep_error *err) {
    ep_prompts *p = ctx;
    const cJSON *prompts = cJSON_GetObjectItemCaseSensitive(root, "prompts");
    if (prompts && !cJSON_IsNull(prompts) && !cJSON_IsObject(prompts))
        return ep_error_set(err, EP_ERR_MODEL, "%s: \"prompts\" must be an object of name: text", path);
    const int n = cJSON_IsObject(prompts) ? cJSON_GetArraySize(prompts) : 0;
    p->names = calloc((size_t)n + 2, sizeof *p->names);
    p->texts = calloc((size_t)n + 2, sizeof *p->texts);
    if (!p->names || !p->texts) return ep_error_set(err, EP_ERR_NOMEM, "out of memory reading %s", path);
    ep_status s = EP_OK;
    for (const cJSON *e = n ? prompts->child : NULL; e && !s; e = e->next) {
        if (!cJSON_IsString(e) && !cJSON_IsNull(e))
            return ep_error_set(err, EP_ERR_MODEL, "%s: prompt \"%s\" must be a string", path, e->string);
        s = add_prompt(p, e->string, cJSON_IsString(e) ? e->valuestring : "", path, err);
    }
    if (!s && !ep_prompts_find(p, "query")) s = add_prompt(p, "query", "", path, err);
    if (!s && !ep_prompts_find(p, "document")) s = add_prompt(p, "document", "", path, err);
    if (s || !root) return s;
    const char *dflt;
    s = ep_json_string(root, path, "default_prompt_name", &dflt, err);
    if (s || !dflt) return s;
    if (!ep_prompts_find(p, dflt))
        return ep_error_set(err, EP_ERR_MODEL, "%s: default_prompt_name \"%s\" names none of its prompts", path, dflt);
    p->default_name = strdup(dflt);
    return p->default_name ? EP_OK : ep_error_set(err, EP_ERR_NOMEM, "out of memory reading %s", path);
}

ep_status ep_prompts_load(const char *model_dir, ep_prompts **out, ep_error *err) {
    *out = NULL;
    ep_prompts *p = calloc(1, sizeof *p);
    if (!p) return ep_error_set(err, EP_ERR_NOMEM, "out of memory");
    ep_status s = ep_model_json_read(model_dir, "config_sentence_transformers.json", EP_JSON_OBJECT | EP_JSON_OPTIONAL,
                                     read_prompts, p, err);
    if (s) {
        ep_prompts_free(p);
        return s;
    }
    *out = p;
    return EP_OK;
}

int ep_prompts_count(const ep_prompts *p) { return p ? p->n : 0; }
const char *ep_prompts_name(const ep_prompts *p, int i) { return p->names[i]; }
const char *ep_prompts_text(const ep_prompts *p, int i) { return p->texts[i]; }
const char *ep_prompts_default_name(const ep_prompts *p) { return p ? p->default_name : NULL; }

const char *ep_prompts_find(const ep_prompts *p, const char *name) {
    for (int i = 0; p && i < p->n; i++)
        if (strcmp(p->names[i], name) == 0) return p->texts[i];
    return NULL;
}

/* "query, passage" or "none", for a message. */
static void list_names(const ep_prompts *p, char *buf, size_t cap) {
    size_t len = (size_t)snprintf(buf, cap, "%s", p && p->n ? "" : "none");
    for (int i = 0; p && i < p->n && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s\"%s\"", i ? ", " : "", p->names[i]);
}

const char *ep_prompts_query(const ep_prompts *p) {
    const char *q = ep_prompts_find(p, "query");
    return q && q[0] ? q : NULL;
}

ep_status ep_prompt_choose(const ep_prompts *p, const char *name, const char *text, const char **out_text,
                           const char **out_name, ep_error *err) {
    *out_text = *out_name = "";
    if (name && text)
        return ep_error_set(err, EP_ERR_USAGE, "give %s or %s, not both", ep_setting_name(EP_SETTING_PROMPT),
                            ep_setting_name(EP_SETTING_PROMPT_TEXT));
    if (text) {
        *out_text = text;
        return EP_OK;
    }
    if (!name) name = ep_prompts_default_name(p);
    if (!name) return EP_OK;
    const char *found = ep_prompts_find(p, name);
    if (!found) {
        char names[512];
        list_names(p, names, sizeof names);
        return ep_error_set(err, EP_ERR_USAGE, "%s \"%s\": the model has no prompt of that name (its prompts: %s)",
                            ep_setting_name(EP_SETTING_PROMPT), name, names);
    }
    *out_text = found;
    for (int i = 0; i < p->n; i++)
        if (p->texts[i] == found) *out_name = p->names[i];
    return EP_OK;
}

int ep_prompt_encode(const ep_tokenizer *tok, const char *prompt, size_t prompt_len, const char *text, size_t len,
                     int32_t *ids, int max_tokens, bool *truncated, ep_prompt_buf *buf) {
    if (prompt_len == 0) return ep_tokenizer_encode(tok, text, len, ids, max_tokens, truncated);
    if (prompt_len + len + 1 > buf->cap) {
        size_t cap = (prompt_len + len + 1) * 2;
        char *grown = realloc(buf->data, cap);
        if (!grown) return -1;
        buf->data = grown;
        buf->cap = cap;
    }
    memcpy(buf->data, prompt, prompt_len);
    if (len) memcpy(buf->data + prompt_len, text, len);
    buf->data[prompt_len + len] = '\0';
    return ep_tokenizer_encode(tok, buf->data, prompt_len + len, ids, max_tokens, truncated);
}

int ep_prompt_tokens(const ep_tokenizer *tok, const char *prompt, int max_tokens) {
    if (!prompt[0]) return 0;
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)max_tokens);
    if (!ids) return -1;
    const int n = ep_tokenizer_encode(tok, prompt, strlen(prompt), ids, max_tokens, NULL);
    free(ids);
    return n > 0 ? n - 1 : 0;
}
