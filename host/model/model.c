/* model.c - loads a sentence-transformers BERT-architecture folder into float32 arrays.
 *
 * Configuration (model_config.c reads the JSON files) comes first, so that
 * every tensor can be checked against it; then the tensors are located in
 * model.safetensors, their shapes and dtypes checked, one 64-byte-aligned
 * block is sized for all of them, and each is converted into it. Query, key
 * and value are fused into one [3H][H] matrix so that a backend does one GEMM.
 */
#include "model.h"
#include "model_config.h"
#include "safetensors.h"
#include "sha256.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Arrays start on 64-byte boundaries (16 floats): cache lines and SIMD loads. */
#define EP_MODEL_ALIGN_FLOATS 16

typedef struct piece {
    const ep_tensor_view *t;
    size_t offset; /* in floats, into the storage block */
} piece;

typedef struct fixup {
    float **field;
    size_t offset;
} fixup;

typedef struct loader {
    const ep_model_config *cfg;
    const ep_safetensors *st;
    const char *prefix; /* "" or "bert." */
    piece *pieces;
    int n_pieces;
    fixup *fixups;
    int n_fixups;
    size_t cursor; /* floats reserved so far */
} loader;

static void shape_str(const int64_t *shape, int ndim, char *buf, size_t cap) {
    size_t len = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (len < cap) snprintf(buf + len, cap - len, "]");
}

/* Old BERT checkpoints (TF-converted) name LayerNorm parameters gamma/beta. */
static const ep_tensor_view *find_with_alias(const loader *ld, const char *name, char *found, size_t cap) {
    snprintf(found, cap, "%s%s", ld->prefix, name);
    const ep_tensor_view *t = ep_safetensors_find(ld->st, found);
    if (t) return t;
    static const char *const alias[][2] = {{".LayerNorm.weight", ".LayerNorm.gamma"},
                                           {".LayerNorm.bias", ".LayerNorm.beta"}};
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof alias / sizeof alias[0]; i++) {
        size_t k = strlen(alias[i][0]);
        if (n > k && strcmp(name + n - k, alias[i][0]) == 0) {
            snprintf(found, cap, "%s%.*s%s", ld->prefix, (int)(n - k), name, alias[i][1]);
            t = ep_safetensors_find(ld->st, found);
            if (t) return t;
        }
    }
    snprintf(found, cap, "%s%s", ld->prefix, name);
    return NULL;
}

/* Finds a tensor and checks it against the expected shape {d0} (d1 < 0) or {d0, d1}. */
static ep_status get_tensor(const loader *ld, const char *name, int64_t d0, int64_t d1, const char *why,
                            const ep_tensor_view **out, ep_error *err) {
    char full[320];
    const char *file = ep_safetensors_label(ld->st);
    const ep_tensor_view *t = find_with_alias(ld, name, full, sizeof full);
    if (!t)
        return ep_error_set(err, EP_ERR_MODEL,
                            "%s: missing tensor '%s' (a BERT model with the shapes of config.json needs it); "
                            "is this a complete BERT checkpoint?",
                            file, full);
    if (t->dtype != EP_DTYPE_F32 && t->dtype != EP_DTYPE_F16 && t->dtype != EP_DTYPE_BF16)
        return ep_error_set(err, EP_ERR_MODEL, "%s: tensor '%s' has dtype %s; weights must be F32, F16 or BF16", file,
                            full, ep_dtype_name(t->dtype));
    int64_t want[2] = {d0, d1};
    int want_ndim = d1 < 0 ? 1 : 2;
    if (t->ndim != want_ndim || t->shape[0] != d0 || (want_ndim == 2 && t->shape[1] != d1)) {
        char a[128], b[128];
        shape_str(want, want_ndim, a, sizeof a);
        shape_str(t->shape, t->ndim, b, sizeof b);
        return ep_error_set(err, EP_ERR_MODEL, "%s: tensor '%s' has shape %s but config.json implies %s (%s)", file,
                            full, b, a, why);
    }
    *out = t;
    return EP_OK;
}

static size_t reserve(loader *ld, size_t n) {
    size_t off = ld->cursor;
    ld->cursor += (n + EP_MODEL_ALIGN_FLOATS - 1) / EP_MODEL_ALIGN_FLOATS * EP_MODEL_ALIGN_FLOATS;
    return off;
}

/* One model array from one tensor. */
static ep_status want(loader *ld, float **field, const char *name, int64_t d0, int64_t d1, const char *why,
                      ep_error *err) {
    const ep_tensor_view *t;
    ep_status s = get_tensor(ld, name, d0, d1, why, &t, err);
    if (s) return s;
    size_t off = reserve(ld, (size_t)t->numel);
    ld->pieces[ld->n_pieces++] = (piece){t, off};
    ld->fixups[ld->n_fixups++] = (fixup){field, off};
    return EP_OK;
}

/* One model array from three tensors of equal shape, stacked along the first axis. */
static ep_status want_fused(loader *ld, float **field, const char *const names[3], int64_t d0, int64_t d1,
                            const char *why, ep_error *err) {
    size_t part = (size_t)d0 * (size_t)(d1 < 0 ? 1 : d1);
    size_t off = reserve(ld, 3 * part);
    for (int i = 0; i < 3; i++) {
        const ep_tensor_view *t;
        ep_status s = get_tensor(ld, names[i], d0, d1, why, &t, err);
        if (s) return s;
        ld->pieces[ld->n_pieces++] = (piece){t, off + (size_t)i * part};
    }
    ld->fixups[ld->n_fixups++] = (fixup){field, off};
    return EP_OK;
}

/* A file whose layers outnumber the config's would silently run a truncated network. */
static ep_status check_layer_count(const loader *ld, ep_error *err) {
    char head[64];
    snprintf(head, sizeof head, "%sencoder.layer.", ld->prefix);
    size_t hl = strlen(head);
    for (int i = 0; i < ep_safetensors_count(ld->st); i++) {
        const ep_tensor_view *t = ep_safetensors_at(ld->st, i);
        if (strncmp(t->name, head, hl) != 0) continue;
        char *end;
        long idx = strtol(t->name + hl, &end, 10);
        if (end != t->name + hl && *end == '.' && idx >= ld->cfg->n_layers)
            return ep_error_set(err, EP_ERR_MODEL,
                                "%s: tensor '%s' belongs to layer %ld, but config.json says num_hidden_layers is %d",
                                ep_safetensors_label(ld->st), t->name, idx, ld->cfg->n_layers);
    }
    return EP_OK;
}

static ep_status plan_tensors(loader *ld, ep_model *m, ep_error *err) {
    const ep_model_config *c = ld->cfg;
    int64_t H = c->hidden, I = c->intermediate;
    ep_status s;
#define WANT(field, name, d0, d1, why)                                  \
    do {                                                                \
        if ((s = want(ld, &(field), (name), (d0), (d1), (why), err))) return s; \
    } while (0)
    WANT(m->word_emb, "embeddings.word_embeddings.weight", c->vocab_size, H, "[vocab_size, hidden_size]");
    WANT(m->pos_emb, "embeddings.position_embeddings.weight", c->max_position, H,
         "[max_position_embeddings, hidden_size]");
    WANT(m->type_emb, "embeddings.token_type_embeddings.weight", c->type_vocab_size, H,
         "[type_vocab_size, hidden_size]");
    WANT(m->emb_ln_gamma, "embeddings.LayerNorm.weight", H, -1, "[hidden_size]");
    WANT(m->emb_ln_beta, "embeddings.LayerNorm.bias", H, -1, "[hidden_size]");

    for (int l = 0; l < c->n_layers; l++) {
        ep_layer *L = &m->layers[l];
        char n[12][96];
        const char *suffix[12] = {
            "attention.self.query.weight", "attention.self.key.weight", "attention.self.value.weight",
            "attention.self.query.bias",   "attention.self.key.bias",   "attention.self.value.bias",
            "attention.output.dense.weight", "attention.output.dense.bias", "attention.output.LayerNorm.weight",
            "attention.output.LayerNorm.bias", "intermediate.dense.weight", "intermediate.dense.bias",
        };
        for (int i = 0; i < 12; i++) snprintf(n[i], sizeof n[i], "encoder.layer.%d.%s", l, suffix[i]);
        const char *const qkv_w[3] = {n[0], n[1], n[2]}, *const qkv_b[3] = {n[3], n[4], n[5]};
        if ((s = want_fused(ld, &L->qkv_weight, qkv_w, H, H, "[hidden_size, hidden_size]", err))) return s;
        if ((s = want_fused(ld, &L->qkv_bias, qkv_b, H, -1, "[hidden_size]", err))) return s;
        WANT(L->attn_out_weight, n[6], H, H, "[hidden_size, hidden_size]");
        WANT(L->attn_out_bias, n[7], H, -1, "[hidden_size]");
        WANT(L->attn_ln_gamma, n[8], H, -1, "[hidden_size]");
        WANT(L->attn_ln_beta, n[9], H, -1, "[hidden_size]");
        WANT(L->ffn_in_weight, n[10], I, H, "[intermediate_size, hidden_size]");
        WANT(L->ffn_in_bias, n[11], I, -1, "[intermediate_size]");
        char o[4][96];
        const char *osuffix[4] = {"output.dense.weight", "output.dense.bias", "output.LayerNorm.weight",
                                  "output.LayerNorm.bias"};
        for (int i = 0; i < 4; i++) snprintf(o[i], sizeof o[i], "encoder.layer.%d.%s", l, osuffix[i]);
        WANT(L->ffn_out_weight, o[0], H, I, "[hidden_size, intermediate_size]");
        WANT(L->ffn_out_bias, o[1], H, -1, "[hidden_size]");
        WANT(L->ffn_ln_gamma, o[2], H, -1, "[hidden_size]");
        WANT(L->ffn_ln_beta, o[3], H, -1, "[hidden_size]");
    }
#undef WANT
    return EP_OK;
}

/* Checkpoints saved from BertForMaskedLM & co. prefix every name with "bert." (RoBERTa's with
 * "roberta."); sentence-transformers saves the bare encoder, without a prefix. */
static ep_status detect_prefix(const ep_safetensors *st, const char **prefix, ep_error *err) {
    static const char *const prefixes[] = {"", "bert.", "roberta."};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        char name[96];
        snprintf(name, sizeof name, "%sembeddings.word_embeddings.weight", prefixes[i]);
        if (ep_safetensors_find(st, name)) {
            *prefix = prefixes[i];
            return EP_OK;
        }
    }
    return ep_error_set(err, EP_ERR_MODEL,
                        "%s: no tensor 'embeddings.word_embeddings.weight' (nor with a 'bert.' or 'roberta.' "
                        "prefix); this is not a BERT-architecture checkpoint",
                        ep_safetensors_label(st));
}

static ep_status load_weights(ep_model *m, const char *path, ep_error *err) {
    ep_safetensors *st = NULL;
    loader ld = {.cfg = &m->config};
    ep_status s = ep_safetensors_open(path, &st, err);
    if (s) return s;
    ld.st = st;
    if ((s = detect_prefix(st, &ld.prefix, err)) || (s = check_layer_count(&ld, err))) goto done;

    int max_pieces = 5 + 16 * m->config.n_layers;
    ld.pieces = calloc((size_t)max_pieces, sizeof *ld.pieces);
    ld.fixups = calloc((size_t)max_pieces, sizeof *ld.fixups);
    if (!ld.pieces || !ld.fixups) {
        s = ep_error_set(err, EP_ERR_NOMEM, "out of memory loading %s", path);
        goto done;
    }
    if ((s = plan_tensors(&ld, m, err))) goto done;

    /* Every shape matched the file, so the block is no larger than the file's data (x2 for F16/BF16). */
    float *block = aligned_alloc(EP_MODEL_ALIGN_FLOATS * sizeof(float), ld.cursor * sizeof(float));
    if (!block) {
        s = ep_error_set(err, EP_ERR_NOMEM, "out of memory: %zu MiB for the weights of %s",
                         ld.cursor * sizeof(float) >> 20, path);
        goto done;
    }
    m->storage = block;
    for (int i = 0; i < ld.n_pieces; i++) {
        if ((s = ep_tensor_to_f32_finite(st, ld.pieces[i].t, block + ld.pieces[i].offset, err))) goto done;
    }
    for (int i = 0; i < ld.n_fixups; i++) *ld.fixups[i].field = block + ld.fixups[i].offset;

    size_t size;
    const void *bytes = ep_safetensors_bytes(st, &size);
    ep_sha256_hex(bytes, size, m->config.weights_sha256);

done:
    free(ld.pieces);
    free(ld.fixups);
    ep_safetensors_close(st);
    return s;
}

ep_status ep_model_load(const char *dir, ep_model **out, ep_error *err) {
    *out = NULL;
    ep_model *m = calloc(1, sizeof *m);
    if (!m) return ep_error_set(err, EP_ERR_NOMEM, "out of memory loading the model");
    ep_status s;
    if (strlen(dir) >= sizeof m->dir - 64) {
        s = ep_error_set(err, EP_ERR_USAGE, "model folder path is longer than %zu bytes", sizeof m->dir - 65);
        goto fail;
    }
    if ((s = ep_model_config_load(dir, &m->config, err))) goto fail;
    snprintf(m->dir, sizeof m->dir, "%s", dir);
    m->layers = calloc((size_t)m->config.n_layers, sizeof *m->layers);
    if (!m->layers) {
        s = ep_error_set(err, EP_ERR_NOMEM, "out of memory loading %s", dir);
        goto fail;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if ((s = ep_model_require_file(path, err))) goto fail;
    if ((s = load_weights(m, path, err)) || (s = ep_dense_load_weights(m, err))) goto fail;
    m->run.dim = m->config.truncate_dim;
    *out = m;
    return EP_OK;
fail:
    ep_model_free(m);
    return s;
}

ep_status ep_model_load_config(const char *dir, ep_model_config *config, ep_error *err) {
    return ep_model_config_load(dir, config, err);
}

void ep_model_free(ep_model *model) {
    if (!model) return;
    free(model->storage);
    free(model->dense_storage);
    free(model->layers);
    free(model);
}
