/* pooling_config.c - a Pooling module's config.json -> the pooling modes of ep_model_config, read as
 * sentence-transformers 6 reads it (sentence_transformer/modules/pooling.py):
 *   - "pooling_mode": a mode name or a list of them, concatenated in the list's order;
 *   - else the legacy flags ("pooling_mode_mean_tokens": true, ...), concatenated in the fixed
 *     order cls, max, mean, mean_sqrt_len_tokens, weightedmean, lasttoken; no flag set means mean;
 *   - "include_prompt": false leaves the prompt's tokens out of pooling;
 *   - "embedding_dimension" (legacy "word_embedding_dimension") must be the encoder's width. */
#include "model_config.h"
#include "model_json.h"

#include <stdio.h>
#include <string.h>

/* The legacy flags, in the order sentence-transformers concatenates their rows. */
static const struct {
    const char *flag;
    ep_pooling mode;
} legacy[] = {
    {"pooling_mode_cls_token", EP_POOLING_CLS},
    {"pooling_mode_max_tokens", EP_POOLING_MAX},
    {"pooling_mode_mean_tokens", EP_POOLING_MEAN},
    {"pooling_mode_mean_sqrt_len_tokens", EP_POOLING_MEAN_SQRT_LEN},
    {"pooling_mode_weightedmean_tokens", EP_POOLING_WEIGHTED_MEAN},
    {"pooling_mode_lasttoken", EP_POOLING_LAST},
};
#define N_LEGACY (sizeof legacy / sizeof legacy[0])

static ep_status add_mode(const char *path, ep_pooling mode, ep_model_config *c, ep_error *err) {
    if (c->n_pool_modes == EP_MAX_POOL_MODES)
        return ep_error_set(err, EP_ERR_MODEL, "%s: more than %d pooling modes", path, EP_MAX_POOL_MODES);
    c->pool_modes[c->n_pool_modes++] = mode;
    return EP_OK;
}

static ep_status add_named_mode(const char *path, const cJSON *name, ep_model_config *c, ep_error *err) {
    for (int m = EP_POOLING_MEAN; m <= EP_POOLING_LAST; m++)
        if (cJSON_IsString(name) && strcmp(name->valuestring, ep_pooling_name((ep_pooling)m)) == 0)
            return add_mode(path, (ep_pooling)m, c, err);
    char found[64];
    ep_json_describe(name, found, sizeof found);
    return ep_error_set(err, EP_ERR_MODEL,
                        "%s: unsupported pooling %s; the modes are cls, max, mean, mean_sqrt_len_tokens, "
                        "weightedmean and lasttoken",
                        path, found);
}

static ep_status read_modes(const cJSON *root, const char *path, ep_model_config *c, ep_error *err) {
    const cJSON *mode = cJSON_GetObjectItemCaseSensitive(root, "pooling_mode");
    ep_status s = EP_OK;
    if (mode) { /* sentence-transformers >= 6: a name or a list of names */
        if (cJSON_IsArray(mode) && cJSON_GetArraySize(mode) > 0) {
            for (const cJSON *m = mode->child; m && !s; m = m->next) s = add_named_mode(path, m, c, err);
            return s;
        }
        return add_named_mode(path, mode, c, err);
    }
    for (const cJSON *k = root->child; k; k = k->next) { /* a true flag embedpipe does not know is refused */
        if (strncmp(k->string, "pooling_mode_", 13) != 0 || !cJSON_IsTrue(k)) continue;
        size_t i = 0;
        while (i < N_LEGACY && strcmp(k->string, legacy[i].flag) != 0) i++;
        if (i == N_LEGACY)
            return ep_error_set(err, EP_ERR_MODEL, "%s: unsupported pooling \"%s\"", path, k->string);
    }
    for (size_t i = 0; i < N_LEGACY && !s; i++)
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, legacy[i].flag)))
            s = add_mode(path, legacy[i].mode, c, err);
    if (!s && c->n_pool_modes == 0) s = add_mode(path, EP_POOLING_MEAN, c, err); /* as sentence-transformers 6 */
    return s;
}

static ep_status read_pooling(const cJSON *root, const char *path, void *ctx, ep_error *err) {
    ep_model_config *c = ctx;
    static const char *const dim_keys[] = {"word_embedding_dimension", "embedding_dimension"};
    for (int i = 0; i < 2; i++) {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, dim_keys[i]);
        if (d && !(cJSON_IsNumber(d) && d->valuedouble == c->hidden)) {
            char found[64];
            ep_json_describe(d, found, sizeof found);
            return ep_error_set(err, EP_ERR_MODEL, "%s: %s is %s but config.json hidden_size is %d", path,
                                dim_keys[i], found, c->hidden);
        }
    }
    c->n_pool_modes = 0;
    ep_status s = read_modes(root, path, c, err);
    if (s) return s;
    c->pooling = c->pool_modes[0];
    bool include = true, present = false;
    s = ep_json_bool(root, path, "include_prompt", &include, &present, err);
    c->exclude_prompt = !include;
    return s;
}

ep_status ep_pooling_config_load(const char *dir, const char *sub, ep_model_config *c, ep_error *err) {
    char file[512];
    snprintf(file, sizeof file, "%s/config.json", sub);
    return ep_model_json_read(dir, file, EP_JSON_OBJECT, read_pooling, c, err);
}
