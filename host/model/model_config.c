/* model_config.c - the JSON files of a sentence-transformers folder -> ep_model_config.
 * Which file each field comes from, and every default, is documented in model_config.h; each file is
 * read through ep_model_json_read (model_json.c), the Pooling config by pooling_config.c, Dense
 * modules by dense.c. */
#include "model_config.h"
#include "model_json.h"
#include "read_file.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

ep_status ep_model_require_file(const char *path, ep_error *err) {
    struct stat sb;
    if (stat(path, &sb) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return ep_error_set(err, EP_ERR_MODEL, "%s not found: %s", path, EP_MODEL_FETCH_HINT);
        return ep_error_set(err, EP_ERR_IO, "%s: %s", path, strerror(errno));
    }
    if (!S_ISREG(sb.st_mode))
        return ep_error_set(err, EP_ERR_MODEL, "%s is not a regular file: %s", path, EP_MODEL_FETCH_HINT);
    return EP_OK;
}

/* A string key that must equal `want` (the default when absent, if dflt). */
static ep_status expect_str(const cJSON *obj, const char *path, const char *key, const char *want, bool dflt,
                            const char *why, ep_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v && dflt) return EP_OK;
    if (cJSON_IsString(v) && strcmp(v->valuestring, want) == 0) return EP_OK;
    char found[64];
    ep_json_describe(v, found, sizeof found);
    return ep_error_set(err, EP_ERR_MODEL, "%s: %s %s is not supported: %s", path, key, found, why);
}

// ----------------------------------------------------------------------------
// config.json

/* The encoders embedpipe runs: one architecture (BERT's), two ways to number positions. */
static const struct {
    const char *type;
    ep_positions positions;
} model_types[] = {
    {"bert", EP_POSITIONS_ABSOLUTE},
    {"roberta", EP_POSITIONS_AFTER_PAD},
    {"xlm-roberta", EP_POSITIONS_AFTER_PAD},
};
#define N_MODEL_TYPES (sizeof model_types / sizeof model_types[0])

static ep_status read_model_type(const cJSON *root, const char *path, ep_model_config *c, ep_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    for (size_t i = 0; i < N_MODEL_TYPES && cJSON_IsString(v); i++)
        if (strcmp(v->valuestring, model_types[i].type) == 0) {
            snprintf(c->model_type, sizeof c->model_type, "%s", model_types[i].type);
            c->positions = model_types[i].positions;
            return EP_OK;
        }
    char found[64];
    ep_json_describe(v, found, sizeof found);
    return ep_error_set(err, EP_ERR_MODEL,
                        "%s: model_type %s is not supported: embedpipe runs BERT-architecture encoders with "
                        "model_type \"bert\" (all-MiniLM-L6-v2, bge, gte, e5, paraphrase-multilingual-MiniLM-L12-v2), "
                        "\"xlm-roberta\" or \"roberta\" (docs/models.md)",
                        path, found);
}

static ep_status read_layer_norm_eps(const cJSON *root, const char *path, ep_model_config *c, ep_error *err) {
    c->layer_norm_eps = 1e-12f;
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(root, "layer_norm_eps");
    if (!eps) return EP_OK;
    if (!cJSON_IsNumber(eps) || !(eps->valuedouble > 0.0 && eps->valuedouble < 1.0)) {
        char found[64];
        ep_json_describe(eps, found, sizeof found);
        return ep_error_set(err, EP_ERR_MODEL, "%s: \"layer_norm_eps\" must be a number in (0, 1), found %s", path,
                            found);
    }
    c->layer_norm_eps = (float)eps->valuedouble;
    return EP_OK;
}

/* RoBERTa numbers positions from pad_token_id + 1, so the table needs room for that offset. */
static ep_status read_padding(const cJSON *root, const char *path, ep_model_config *c, ep_error *err) {
    if (c->positions != EP_POSITIONS_AFTER_PAD) return EP_OK;
    ep_status s = ep_json_int(root, path, "pad_token_id", 0, INT_MAX, 1, &c->pad_token_id, err);
    if (s) return s;
    if (ep_model_max_tokens(c) < 2)
        return ep_error_set(err, EP_ERR_MODEL,
                            "%s: max_position_embeddings %d leaves no room for a sequence after pad_token_id %d "
                            "(%s numbers positions from pad_token_id + 1)",
                            path, c->max_position, c->pad_token_id, c->model_type);
    return EP_OK;
}

static ep_status read_architecture(const cJSON *root, const char *path, void *ctx, ep_error *err) {
    ep_model_config *c = ctx;
    /* The bounds keep every product below (positions x hidden, ...) far from overflow;
     * the real ceiling is the weights file, whose shapes must match. */
    ep_status s;
    if ((s = read_model_type(root, path, c, err)) ||
        (s = expect_str(root, path, "hidden_act", "gelu", true,
                        "embedpipe implements BERT's exact erf GELU (\"gelu\") only", err)) ||
        (s = expect_str(root, path, "position_embedding_type", "absolute", true,
                        "embedpipe implements absolute position embeddings only", err)) ||
        (s = ep_json_int(root, path, "vocab_size", 1, 1L << 24, -1, &c->vocab_size, err)) ||
        (s = ep_json_int(root, path, "hidden_size", 1, 1L << 16, -1, &c->hidden, err)) ||
        (s = ep_json_int(root, path, "num_hidden_layers", 1, 1024, -1, &c->n_layers, err)) ||
        (s = ep_json_int(root, path, "num_attention_heads", 1, 1L << 16, -1, &c->n_heads, err)) ||
        (s = ep_json_int(root, path, "intermediate_size", 1, 1L << 18, -1, &c->intermediate, err)) ||
        (s = ep_json_int(root, path, "max_position_embeddings", 1, 1L << 20, -1, &c->max_position, err)) ||
        (s = ep_json_int(root, path, "type_vocab_size", 1, 1L << 16, -1, &c->type_vocab_size, err)) ||
        (s = read_padding(root, path, c, err)) || (s = read_layer_norm_eps(root, path, c, err)))
        return s;
    if (c->hidden % c->n_heads != 0)
        return ep_error_set(err, EP_ERR_MODEL, "%s: hidden_size %d is not a multiple of num_attention_heads %d", path,
                            c->hidden, c->n_heads);
    return EP_OK;
}

// ----------------------------------------------------------------------------
// vocab.txt, tokenizer_config.json, tokenizer.json, sentence_bert_config.json

/* A vocabulary longer than the embedding table would produce ids that index past it. A folder
 * with a tokenizer.json needs no vocab.txt: the tokenizer it makes is checked against
 * vocab_size when it is created (model_tokenizer.c). */
static ep_status check_vocab(const char *dir, const ep_model_config *c, ep_error *err) {
    char path[4200];
    struct stat sb;
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) return EP_OK;
    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    if (stat(path, &sb) != 0 && errno == ENOENT)
        return ep_error_set(err, EP_ERR_MODEL, "%s has no vocabulary: neither vocab.txt nor tokenizer.json: %s", dir,
                            EP_MODEL_FETCH_HINT);
    ep_status s = ep_model_require_file(path, err);
    if (s) return s;
    char *text;
    size_t len;
    if ((s = ep_read_file(path, 256u << 20, &text, &len, err))) return s;
    long lines = 0;
    for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
    if (len && text[len - 1] != '\n') lines++;
    free(text);
    if (lines == 0) return ep_error_set(err, EP_ERR_MODEL, "%s is empty", path);
    if (lines > c->vocab_size)
        return ep_error_set(err, EP_ERR_MODEL,
                            "%s has %ld tokens but config.json vocab_size is %d: the vocabulary does not belong to "
                            "these weights",
                            path, lines, c->vocab_size);
    return EP_OK;
}

typedef struct lower_ctx {
    bool *lower, *present;
} lower_ctx;

/* tokenizer.json's normalizer, consulted only when tokenizer_config.json says nothing. */
static ep_status read_tokenizer_json_lowercase(const cJSON *root, const char *path, void *ctx, ep_error *err) {
    lower_ctx *x = ctx;
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(norm, "type");
    if (root && cJSON_IsString(type) && strcmp(type->valuestring, "BertNormalizer") == 0)
        return ep_json_bool(norm, path, "lowercase", x->lower, x->present, err);
    return EP_OK;
}

typedef struct tokenizer_ctx {
    ep_model_config *c;
    const char *dir;
    long model_max; /* tokenizer_config.json model_max_length, LONG_MAX when absent or "no limit" */
} tokenizer_ctx;

static ep_status read_tokenizer_config(const cJSON *root, const char *path, void *ctx, ep_error *err) {
    tokenizer_ctx *x = ctx;
    bool present = false;
    x->c->do_lower_case = true;
    x->model_max = LONG_MAX;
    if (root) {
        ep_status s = ep_json_bool(root, path, "do_lower_case", &x->c->do_lower_case, &present, err);
        if (s) return s;
        /* Hugging Face writes 1e30 here for "no limit"; only a real bound matters. */
        const cJSON *mm = cJSON_GetObjectItemCaseSensitive(root, "model_max_length");
        if (cJSON_IsNumber(mm) && mm->valuedouble >= 1.0 && mm->valuedouble < (double)INT_MAX)
            x->model_max = (long)mm->valuedouble;
    }
    if (present) return EP_OK;
    lower_ctx lc = {&x->c->do_lower_case, &present};
    return ep_model_json_read(x->dir, "tokenizer.json", EP_JSON_ANY | EP_JSON_OPTIONAL, read_tokenizer_json_lowercase,
                              &lc, err);
}

static ep_status read_sbert_config(const cJSON *root, const char *path, void *ctx, ep_error *err) {
    tokenizer_ctx *x = ctx;
    ep_model_config *c = x->c;
    /* sentence-transformers' rule: min(max_position_embeddings, model_max_length); RoBERTa's position
     * table is longer than the sequences it takes (514 for 512), so that is capped at what fits. */
    const int usable = ep_model_max_tokens(c);
    c->max_seq_length = (int)(x->model_max < usable ? x->model_max : usable);
    if (root) {
        ep_status s = ep_json_int(root, path, "max_seq_length", 1, INT_MAX, c->max_seq_length, &c->max_seq_length, err);
        bool st_lower = false, present = false;
        if (!s) s = ep_json_bool(root, path, "do_lower_case", &st_lower, &present, err);
        if (s) return s;
        if (st_lower) c->do_lower_case = true;
    }
    if (c->max_seq_length > usable)
        return ep_error_set(err, EP_ERR_MODEL,
                            "%s: max_seq_length %d exceeds the %d positions of config.json (max_position_embeddings "
                            "%d%s); lower it to at most %d",
                            path, c->max_seq_length, usable, c->max_position,
                            c->positions == EP_POSITIONS_AFTER_PAD ? ", less pad_token_id + 1" : "", usable);
    if (c->max_seq_length < 2)
        return ep_error_set(err, EP_ERR_MODEL, "%s: max_seq_length %d leaves no room for [CLS] and [SEP]", path,
                            c->max_seq_length);
    return EP_OK;
}

static ep_status read_tokenizer_settings(const char *dir, ep_model_config *c, ep_error *err) {
    tokenizer_ctx x = {.c = c, .dir = dir};
    ep_status s = ep_model_json_read(dir, "tokenizer_config.json", EP_JSON_OBJECT | EP_JSON_OPTIONAL,
                                     read_tokenizer_config, &x, err);
    if (s) return s;
    return ep_model_json_read(dir, "sentence_bert_config.json", EP_JSON_OBJECT | EP_JSON_OPTIONAL, read_sbert_config,
                              &x, err);
}

/* config_sentence_transformers.json's truncate_dim (sentence-transformers >= 5 saves it). Its prompts
 * are read by prompts.c when a run needs them. */
static ep_status read_st_config(const cJSON *root, const char *path, void *ctx, ep_error *err) {
    ep_model_config *c = ctx;
    c->truncate_dim = 0;
    if (!root) return EP_OK;
    ep_status s = ep_json_int(root, path, "truncate_dim", 1, INT_MAX, 0, &c->truncate_dim, err);
    if (s) return s;
    const int full = ep_model_full_dim(c);
    if (c->truncate_dim > full)
        return ep_error_set(err, EP_ERR_MODEL, "%s: truncate_dim %d exceeds the model's %d values per row", path,
                            c->truncate_dim, full);
    return EP_OK;
}

// ----------------------------------------------------------------------------

static void folder_name(const char *dir, char *name, size_t cap) {
    char *real = realpath(dir, NULL);
    const char *p = real ? real : dir;
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/') n--;
    size_t b = n;
    while (b > 0 && p[b - 1] != '/') b--;
    snprintf(name, cap, "%.*s", (int)(n - b), p + b);
    free(real);
}

ep_status ep_model_config_load(const char *dir, ep_model_config *c, ep_error *err) {
    memset(c, 0, sizeof *c);
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return ep_error_set(err, EP_ERR_MODEL, "model folder %s not found: %s", dir, EP_MODEL_FETCH_HINT);
        return ep_error_set(err, EP_ERR_IO, "model folder %s: %s", dir, strerror(errno));
    }
    if (!S_ISDIR(sb.st_mode))
        return ep_error_set(err, EP_ERR_MODEL, "model path %s is not a folder: %s", dir, EP_MODEL_FETCH_HINT);
    ep_status s;
    if ((s = ep_model_json_read(dir, "config.json", EP_JSON_OBJECT, read_architecture, c, err)) ||
        (s = check_vocab(dir, c, err)) || (s = read_tokenizer_settings(dir, c, err)) ||
        (s = ep_modules_load(dir, c, err)) ||
        (s = ep_model_json_read(dir, "config_sentence_transformers.json", EP_JSON_OBJECT | EP_JSON_OPTIONAL,
                                read_st_config, c, err)))
        return s;
    folder_name(dir, c->name, sizeof c->name);
    return EP_OK;
}
