/* modules.c - modules.json: the chain of sentence-transformers modules a model runs. embedpipe runs
 * Transformer -> Pooling -> Dense* -> [Normalize]; any other module (WordEmbeddings, LayerNorm, Router,
 * a Dense before the Pooling, ...) is refused by name, since skipping it would silently give other
 * vectors than sentence-transformers does. */
#include "model_config.h"
#include "model_json.h"

#include <stdio.h>
#include <string.h>

static const char *const expected = "embedpipe runs Transformer -> Pooling -> Dense (any number) -> [Normalize]";

/* The class name at the end of a module type, for both the sentence-transformers < 5 spelling
 * ("sentence_transformers.models.Pooling") and the later ones ("...modules.pooling.Pooling"). */
static const char *module_class(const char *type) {
    if (strncmp(type, "sentence_transformers.", 22) != 0) return NULL;
    return strrchr(type, '.') + 1;
}

/* A module's folder must stay inside the model folder. */
static ep_status check_subfolder(const char *path, const char *what, const char *p, ep_error *err) {
    if (!*p || strstr(p, "..") || p[0] == '/')
        return ep_error_set(err, EP_ERR_MODEL, "%s: the %s module's path \"%s\" is not a subfolder", path, what, p);
    return EP_OK;
}

typedef struct modules_ctx {
    const char *dir;
    ep_model_config *c;
    int stage; /* 0: Transformer next, 1: Pooling next, 2: Dense or Normalize next, 3: nothing more */
} modules_ctx;

/* One module of the chain, in order. */
static ep_status take_module(modules_ctx *x, const char *path, int i, const char *type, const char *p,
                             ep_error *err) {
    const char *cls = module_class(type);
    ep_model_config *c = x->c;
    ep_status s = EP_OK;
    if (cls && x->stage == 0 && strcmp(cls, "Transformer") == 0) {
        if (*p)
            return ep_error_set(err, EP_ERR_MODEL,
                                "%s: the Transformer module lives in subfolder \"%s\"; embedpipe expects its files "
                                "(config.json, model.safetensors, vocab.txt or tokenizer.json) at the top of the "
                                "model folder",
                                path, p);
        x->stage = 1;
    } else if (cls && x->stage == 1 && strcmp(cls, "Pooling") == 0) {
        if (!(s = check_subfolder(path, "Pooling", p, err))) s = ep_pooling_config_load(x->dir, p, c, err);
        x->stage = 2;
    } else if (cls && x->stage == 2 && strcmp(cls, "Dense") == 0) {
        if (c->n_dense == EP_MAX_DENSE)
            return ep_error_set(err, EP_ERR_MODEL, "%s: more than %d Dense modules", path, EP_MAX_DENSE);
        if (!(s = check_subfolder(path, "Dense", p, err)))
            s = ep_dense_config_load(x->dir, p, ep_model_full_dim(c), &c->dense[c->n_dense], err);
        if (!s) c->n_dense++;
    } else if (cls && x->stage == 2 && strcmp(cls, "Normalize") == 0) {
        c->normalize = true;
        x->stage = 3;
    } else {
        return ep_error_set(err, EP_ERR_MODEL, "%s: module %d is %s; %s", path, i, type, expected);
    }
    return s;
}

static ep_status read_modules(const cJSON *root, const char *path, void *ctx, ep_error *err) {
    modules_ctx *x = ctx;
    int i = 0;
    ep_status s = EP_OK;
    for (const cJSON *mod = root->child; mod && !s; mod = mod->next, i++) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(mod, "type");
        const cJSON *sub = cJSON_GetObjectItemCaseSensitive(mod, "path");
        if (!cJSON_IsString(type) || (sub && !cJSON_IsString(sub)))
            return ep_error_set(err, EP_ERR_FORMAT, "%s: module %d needs a string \"type\" and \"path\"", path, i);
        s = take_module(x, path, i, type->valuestring, sub ? sub->valuestring : "", err);
    }
    if (!s && x->stage < 2) s = ep_error_set(err, EP_ERR_MODEL, "%s: no Pooling module; %s", path, expected);
    return s;
}

ep_status ep_modules_load(const char *dir, ep_model_config *c, ep_error *err) {
    modules_ctx x = {.dir = dir, .c = c};
    c->normalize = false;
    c->n_dense = 0;
    return ep_model_json_read(dir, "modules.json", EP_JSON_ARRAY, read_modules, &x, err);
}
