/* dense.c - sentence-transformers Dense modules: out = act(W x + b) on the pooled row (LaBSE,
 * distiluse-base-multilingual, ...). Their config.json as sentence-transformers writes it
 * (base/modules/dense.py: in_features, out_features, bias, activation_function as a torch.nn class
 * path, Tanh when absent), and their weights from the module folder's model.safetensors
 * ("linear.weight" [out][in], "linear.bias" [out]). */
#include "model_config.h"
#include "model_json.h"
#include "safetensors.h"
#include "sha256.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const struct {
    const char *cls;
    ep_activation act;
} activations[] = {
    {"Tanh", EP_ACTIVATION_TANH}, {"Identity", EP_ACTIVATION_IDENTITY}, {"ReLU", EP_ACTIVATION_RELU},
    {"GELU", EP_ACTIVATION_GELU}, {"Sigmoid", EP_ACTIVATION_SIGMOID},   {"SiLU", EP_ACTIVATION_SILU},
};
#define N_ACTIVATIONS (sizeof activations / sizeof activations[0])

typedef struct dense_ctx {
    ep_dense_config *d;
    int in_width; /* the width of the row the module receives */
} dense_ctx;

/* "torch.nn.modules.activation.Tanh" (and "torch.nn.Tanh") -> EP_ACTIVATION_TANH. */
static ep_status read_activation(const cJSON *root, const char *path, ep_activation *act, ep_error *err) {
    const char *name;
    ep_status s = ep_json_string(root, path, "activation_function", &name, err);
    *act = EP_ACTIVATION_TANH; /* Dense's default when the key is absent */
    if (s || !name) return s;
    const char *dot = strrchr(name, '.');
    if (strncmp(name, "torch.", 6) == 0 && dot)
        for (size_t i = 0; i < N_ACTIVATIONS; i++)
            if (strcmp(dot + 1, activations[i].cls) == 0) {
                *act = activations[i].act;
                return EP_OK;
            }
    return ep_error_set(err, EP_ERR_MODEL,
                        "%s: activation_function \"%s\" is not supported; embedpipe implements torch.nn.Tanh, "
                        "Identity, ReLU, GELU, Sigmoid and SiLU",
                        path, name);
}

/* Keys that make the module something else than a Dense on the sentence embedding. */
static ep_status refuse_variants(const cJSON *root, const char *path, ep_error *err) {
    bool residual = false, present = false;
    ep_status s = ep_json_bool(root, path, "use_residual", &residual, &present, err);
    if (s) return s;
    if (residual)
        return ep_error_set(err, EP_ERR_MODEL, "%s: use_residual true is not supported (embedpipe implements "
                            "act(W x + b) only)", path);
    static const char *const io_keys[] = {"module_input_name", "module_output_name"};
    for (int i = 0; i < 2; i++) {
        const char *v;
        if ((s = ep_json_string(root, path, io_keys[i], &v, err))) return s;
        if (v && strcmp(v, "sentence_embedding") != 0)
            return ep_error_set(err, EP_ERR_MODEL,
                                "%s: %s \"%s\" is not supported: embedpipe applies Dense to the sentence embedding "
                                "only",
                                path, io_keys[i], v);
    }
    return EP_OK;
}

static ep_status read_dense(const cJSON *root, const char *path, void *ctx, ep_error *err) {
    dense_ctx *x = ctx;
    ep_dense_config *d = x->d;
    bool present = false;
    d->bias = true;
    ep_status s;
    if ((s = ep_json_int(root, path, "in_features", 1, 1L << 20, -1, &d->in, err)) ||
        (s = ep_json_int(root, path, "out_features", 1, 1L << 20, -1, &d->out, err)) ||
        (s = ep_json_bool(root, path, "bias", &d->bias, &present, err)) ||
        (s = read_activation(root, path, &d->act, err)) || (s = refuse_variants(root, path, err)))
        return s;
    if (d->in != x->in_width)
        return ep_error_set(err, EP_ERR_MODEL,
                            "%s: in_features is %d but the module before it gives rows of %d values", path, d->in,
                            x->in_width);
    return EP_OK;
}

ep_status ep_dense_config_load(const char *dir, const char *sub, int in_width, ep_dense_config *d, ep_error *err) {
    memset(d, 0, sizeof *d);
    if (strlen(sub) >= sizeof d->path)
        return ep_error_set(err, EP_ERR_MODEL, "%s/modules.json: the Dense module's path \"%.80s\" is too long", dir,
                            sub);
    snprintf(d->path, sizeof d->path, "%s", sub);
    char file[512];
    snprintf(file, sizeof file, "%s/config.json", sub);
    dense_ctx x = {d, in_width};
    return ep_model_json_read(dir, file, EP_JSON_OBJECT, read_dense, &x, err);
}

// ----------------------------------------------------------------------------
// Weights

/* The module folder's model.safetensors, or the message that says how to make it from a
 * pytorch_model.bin (embedpipe does not read pickles: they can run code when loaded). */
static ep_status require_weights(const char *dir, const ep_dense_config *d, char *path, size_t cap, ep_error *err) {
    snprintf(path, cap, "%s/%s/model.safetensors", dir, d->path);
    struct stat sb;
    if (stat(path, &sb) == 0) return EP_OK;
    char bin[4300];
    snprintf(bin, sizeof bin, "%s/%s/pytorch_model.bin", dir, d->path);
    if (stat(bin, &sb) == 0)
        return ep_error_set(err, EP_ERR_MODEL,
                            "%s/%s holds its weights as pytorch_model.bin only; embedpipe reads safetensors only (a "
                            "pickle can run code when loaded). Convert it once with: python -c \"import torch; from "
                            "safetensors.torch import save_file; save_file(torch.load('%s', weights_only=True), "
                            "'%s')\"",
                            dir, d->path, bin, path);
    return ep_model_require_file(path, err);
}

static ep_status get_linear(const ep_safetensors *st, const char *name, int64_t d0, int64_t d1,
                            const ep_tensor_view **out, ep_error *err) {
    const ep_tensor_view *t = ep_safetensors_find(st, name);
    if (!t) return ep_error_set(err, EP_ERR_MODEL, "%s: missing tensor '%s'", ep_safetensors_label(st), name);
    const bool ok = (d1 < 0 ? t->ndim == 1 : t->ndim == 2 && t->shape[1] == d1) && t->shape[0] == d0;
    if (!ok) {
        char want[64];
        if (d1 < 0) snprintf(want, sizeof want, "[%lld]", (long long)d0);
        else snprintf(want, sizeof want, "[%lld, %lld]", (long long)d0, (long long)d1);
        return ep_error_set(err, EP_ERR_MODEL,
                            "%s: tensor '%s' should have the shape %s that its config.json's out_features and "
                            "in_features give",
                            ep_safetensors_label(st), name, want);
    }
    *out = t;
    return EP_OK;
}

/* Loads module i into block (out * in floats of weight, then out of bias). */
static ep_status load_one(const char *dir, const ep_dense_config *d, float *block, char sha_hex[65], ep_error *err) {
    char path[4300];
    ep_status s = require_weights(dir, d, path, sizeof path, err);
    if (s) return s;
    ep_safetensors *st = NULL;
    if ((s = ep_safetensors_open(path, &st, err))) return s;
    const ep_tensor_view *w = NULL, *b = NULL;
    s = get_linear(st, "linear.weight", d->out, d->in, &w, err);
    if (!s && d->bias) s = get_linear(st, "linear.bias", d->out, -1, &b, err);
    if (!s) s = ep_tensor_to_f32_finite(st, w, block, err);
    if (!s && b) s = ep_tensor_to_f32_finite(st, b, block + (size_t)d->out * d->in, err);
    if (!s) {
        size_t size;
        const void *bytes = ep_safetensors_bytes(st, &size);
        ep_sha256_hex(bytes, size, sha_hex);
    }
    ep_safetensors_close(st);
    return s;
}

ep_status ep_dense_load_weights(ep_model *m, ep_error *err) {
    const ep_model_config *c = &m->config;
    if (c->n_dense == 0) return EP_OK;
    size_t total = 0;
    for (int i = 0; i < c->n_dense; i++) total += (size_t)c->dense[i].out * ((size_t)c->dense[i].in + 1);
    float *block = calloc(total, sizeof(float));
    if (!block) return ep_error_set(err, EP_ERR_NOMEM, "out of memory for the Dense weights of %s", m->dir);
    m->dense_storage = block;
    char hexes[EP_MAX_DENSE * 64 + 1] = "";
    for (int i = 0; i < c->n_dense; i++) {
        const ep_dense_config *d = &c->dense[i];
        char hex[65];
        ep_status s = load_one(m->dir, d, block, hex, err);
        if (s) return s;
        m->dense[i].weight = block;
        m->dense[i].bias = d->bias ? block + (size_t)d->out * d->in : NULL;
        block += (size_t)d->out * ((size_t)d->in + 1);
        memcpy(hexes + 64 * i, hex, 64);
        hexes[64 * (i + 1)] = '\0';
    }
    /* One value for the manifest: a changed Dense weight is another model, as a changed encoder is. */
    ep_sha256_hex(hexes, strlen(hexes), m->config.dense_sha256);
    return EP_OK;
}
