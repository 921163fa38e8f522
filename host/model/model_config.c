/* model_config.c - the JSON files of a sentence-transformers folder -> ep_model_config.
 * Which file each field comes from, and every default, is documented in model_config.h. */
#include "model_config.h"
#include "read_file.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Config files are a few KB; tokenizer.json a few MB. Anything past this is not a config. */
#define MAX_JSON_BYTES (64u << 20)

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

/* Parses path into *root. A missing optional file leaves *root NULL and succeeds. */
static ep_status load_json(const char *path, bool required, cJSON **root, ep_error *err) {
    *root = NULL;
    struct stat sb;
    if (!required && stat(path, &sb) != 0 && errno == ENOENT) return EP_OK;
    ep_status s = ep_model_require_file(path, err);
    if (s) return s;
    char *text;
    size_t len;
    if ((s = ep_read_file(path, MAX_JSON_BYTES, &text, &len, err))) return s;
    const char *end = NULL;
    *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!*root) {
        int line = 1, col = 1;
        for (const char *p = text; end && p < end && p < text + len; p++) {
            if (*p == '\n') line++, col = 1;
            else col++;
        }
        free(text);
        return ep_error_set(err, EP_ERR_FORMAT, "%s:%d:%d: malformed JSON", path, line, col);
    }
    free(text);
    return EP_OK;
}

/* The prologue of every config reader: path = dir/name, parsed, and of the
 * shape `is` checks (what names it in the message). A missing optional file
 * leaves *root NULL and succeeds; on failure *root is NULL. */
static ep_status load_model_json(const char *dir, const char *name, bool required, cJSON_bool (*is)(const cJSON *),
                                 const char *what, char *path, size_t path_cap, cJSON **root, ep_error *err) {
    snprintf(path, path_cap, "%s/%s", dir, name);
    ep_status s = load_json(path, required, root, err);
    if (s || !*root || is(*root)) return s;
    cJSON_Delete(*root);
    *root = NULL;
    return ep_error_set(err, EP_ERR_FORMAT, "%s: expected %s", path, what);
}

static void json_str(const cJSON *item, char *buf, size_t cap) {
    char *p = item ? cJSON_PrintUnformatted(item) : NULL;
    snprintf(buf, cap, "%s", p ? p : "nothing");
    if (strlen(buf) > 60) snprintf(buf + 57, cap - 57, "...");
    cJSON_free(p);
}

/* An integer key in [lo, hi]. dflt < 0 means required. */
static ep_status get_int(const cJSON *obj, const char *path, const char *key, long lo, long hi, long dflt, int *out,
                         ep_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) {
        if (dflt < 0) return ep_error_set(err, EP_ERR_MODEL, "%s: required key \"%s\" is missing", path, key);
        *out = (int)dflt;
        return EP_OK;
    }
    double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!(d >= (double)lo && d <= (double)hi) || d != floor(d)) {
        char found[64];
        json_str(v, found, sizeof found);
        return ep_error_set(err, EP_ERR_MODEL, "%s: \"%s\" must be an integer in [%ld, %ld], found %s", path, key, lo,
                            hi, found);
    }
    *out = (int)d;
    return EP_OK;
}

/* A string key that must equal `want` (the default when absent, if dflt). */
static ep_status expect_str(const cJSON *obj, const char *path, const char *key, const char *want, bool dflt,
                            const char *why, ep_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v && dflt) return EP_OK;
    if (cJSON_IsString(v) && strcmp(v->valuestring, want) == 0) return EP_OK;
    char found[64];
    json_str(v, found, sizeof found);
    return ep_error_set(err, EP_ERR_MODEL, "%s: %s %s is not supported: %s", path, key, found, why);
}

static ep_status get_bool(const cJSON *obj, const char *path, const char *key, bool *out, bool *present,
                          ep_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *present = v && !cJSON_IsNull(v);
    if (!*present) return EP_OK;
    if (!cJSON_IsBool(v)) {
        char found[64];
        json_str(v, found, sizeof found);
        return ep_error_set(err, EP_ERR_MODEL, "%s: \"%s\" must be true or false, found %s", path, key, found);
    }
    *out = cJSON_IsTrue(v);
    return EP_OK;
}

// ----------------------------------------------------------------------------
// config.json

static ep_status read_architecture(const char *dir, ep_model_config *c, ep_error *err) {
    char path[4200];
    cJSON *root;
    ep_status s = load_model_json(dir, "config.json", true, cJSON_IsObject, "a JSON object", path, sizeof path, &root,
                                  err);
    if (s) return s;
    /* The bounds keep every product below (positions x hidden, ...) far from overflow;
     * the real ceiling is the weights file, whose shapes must match. */
    if ((s = expect_str(root, path, "model_type", "bert", false,
                        "embedpipe runs BERT models (model_type \"bert\", e.g. all-MiniLM-L6-v2) only", err)) ||
        (s = expect_str(root, path, "hidden_act", "gelu", true,
                        "embedpipe implements BERT's exact erf GELU (\"gelu\") only", err)) ||
        (s = expect_str(root, path, "position_embedding_type", "absolute", true,
                        "embedpipe implements absolute position embeddings only", err)) ||
        (s = get_int(root, path, "vocab_size", 1, 1L << 24, -1, &c->vocab_size, err)) ||
        (s = get_int(root, path, "hidden_size", 1, 1L << 16, -1, &c->hidden, err)) ||
        (s = get_int(root, path, "num_hidden_layers", 1, 1024, -1, &c->n_layers, err)) ||
        (s = get_int(root, path, "num_attention_heads", 1, 1L << 16, -1, &c->n_heads, err)) ||
        (s = get_int(root, path, "intermediate_size", 1, 1L << 18, -1, &c->intermediate, err)) ||
        (s = get_int(root, path, "max_position_embeddings", 1, 1L << 20, -1, &c->max_position, err)) ||
        (s = get_int(root, path, "type_vocab_size", 1, 1L << 16, -1, &c->type_vocab_size, err)))
        goto done;
    if (c->hidden % c->n_heads != 0) {
        s = ep_error_set(err, EP_ERR_MODEL, "%s: hidden_size %d is not a multiple of num_attention_heads %d", path,
                         c->hidden, c->n_heads);
        goto done;
    }
    c->layer_norm_eps = 1e-12f;
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(root, "layer_norm_eps");
    if (eps) {
        if (!cJSON_IsNumber(eps) || !(eps->valuedouble > 0.0 && eps->valuedouble < 1.0)) {
            char found[64];
            json_str(eps, found, sizeof found);
            s = ep_error_set(err, EP_ERR_MODEL, "%s: \"layer_norm_eps\" must be a number in (0, 1), found %s", path,
                             found);
            goto done;
        }
        c->layer_norm_eps = (float)eps->valuedouble;
    }
done:
    cJSON_Delete(root);
    return s;
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

/* tokenizer.json's normalizer, consulted only when tokenizer_config.json says nothing. */
static ep_status lowercase_from_tokenizer_json(const char *dir, bool *lower, bool *present, ep_error *err) {
    char path[4200];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    cJSON *root;
    *present = false;
    ep_status s = load_json(path, false, &root, err); /* any shape: only a BertNormalizer inside counts */
    if (s || !root) return s;
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(norm, "type");
    if (cJSON_IsString(type) && strcmp(type->valuestring, "BertNormalizer") == 0)
        s = get_bool(norm, path, "lowercase", lower, present, err);
    cJSON_Delete(root);
    return s;
}

static ep_status read_tokenizer_settings(const char *dir, ep_model_config *c, ep_error *err) {
    char path[4200];
    cJSON *root;
    ep_status s = load_model_json(dir, "tokenizer_config.json", false, cJSON_IsObject, "a JSON object", path,
                                  sizeof path, &root, err);
    if (s) return s;
    bool present = false;
    c->do_lower_case = true;
    long model_max = LONG_MAX;
    if (root) {
        if ((s = get_bool(root, path, "do_lower_case", &c->do_lower_case, &present, err))) goto done;
        /* Hugging Face writes 1e30 here for "no limit"; only a real bound matters. */
        const cJSON *mm = cJSON_GetObjectItemCaseSensitive(root, "model_max_length");
        if (cJSON_IsNumber(mm) && mm->valuedouble >= 1.0 && mm->valuedouble < (double)INT_MAX)
            model_max = (long)mm->valuedouble;
    }
    if (!present && (s = lowercase_from_tokenizer_json(dir, &c->do_lower_case, &present, err))) goto done;

    cJSON_Delete(root);
    if ((s = load_model_json(dir, "sentence_bert_config.json", false, cJSON_IsObject, "a JSON object", path,
                             sizeof path, &root, err)))
        return s;
    c->max_seq_length = (int)(model_max < c->max_position ? model_max : c->max_position);
    if (root) {
        if ((s = get_int(root, path, "max_seq_length", 1, INT_MAX, c->max_seq_length, &c->max_seq_length, err)))
            goto done;
        bool st_lower = false;
        if ((s = get_bool(root, path, "do_lower_case", &st_lower, &present, err))) goto done;
        if (st_lower) c->do_lower_case = true;
    }
    if (c->max_seq_length > c->max_position) {
        s = ep_error_set(err, EP_ERR_MODEL,
                         "%s: max_seq_length %d exceeds config.json max_position_embeddings %d; lower it to at "
                         "most %d",
                         path, c->max_seq_length, c->max_position, c->max_position);
        goto done;
    }
    if (c->max_seq_length < 2)
        s = ep_error_set(err, EP_ERR_MODEL, "%s: max_seq_length %d leaves no room for [CLS] and [SEP]", path,
                         c->max_seq_length);
done:
    cJSON_Delete(root);
    return s;
}

// ----------------------------------------------------------------------------
// modules.json and the Pooling config

/* The class name at the end of a module type, for both the sentence-transformers < 5 spelling
 * ("sentence_transformers.models.Pooling") and the later one ("...modules.pooling.Pooling"). */
static const char *module_class(const char *type) {
    if (strncmp(type, "sentence_transformers.", 22) != 0) return NULL;
    const char *dot = strrchr(type, '.');
    return dot + 1;
}

static ep_status set_pooling_mode(const char *path, const char *mode, int *n_set, ep_model_config *c,
                                  ep_error *err) {
    if (strcmp(mode, "mean") == 0) c->pooling = EP_POOLING_MEAN;
    else if (strcmp(mode, "cls") == 0) c->pooling = EP_POOLING_CLS;
    else
        return ep_error_set(err, EP_ERR_MODEL,
                            "%s: unsupported pooling \"%s\"; embedpipe implements mean and CLS pooling only", path,
                            mode);
    (*n_set)++;
    return EP_OK;
}

static ep_status read_pooling(const char *dir, const char *sub, ep_model_config *c, ep_error *err) {
    char path[4200], file[512];
    snprintf(file, sizeof file, "%s/config.json", sub);
    cJSON *root;
    ep_status s = load_model_json(dir, file, true, cJSON_IsObject, "a JSON object", path, sizeof path, &root, err);
    if (s) return s;
    int n_set = 0;
    static const char *const dim_keys[] = {"word_embedding_dimension", "embedding_dimension"};
    for (int i = 0; i < 2; i++) {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, dim_keys[i]);
        if (d && !(cJSON_IsNumber(d) && d->valuedouble == c->hidden)) {
            char found[64];
            json_str(d, found, sizeof found);
            s = ep_error_set(err, EP_ERR_MODEL, "%s: %s is %s but config.json hidden_size is %d", path, dim_keys[i],
                             found, c->hidden);
            goto done;
        }
    }
    const cJSON *mode = cJSON_GetObjectItemCaseSensitive(root, "pooling_mode");
    if (mode) {
        /* sentence-transformers 6: a mode name, or a list of them */
        if (cJSON_IsArray(mode) && cJSON_GetArraySize(mode) == 1) mode = mode->child;
        if (!cJSON_IsString(mode)) {
            char found[64];
            json_str(mode, found, sizeof found);
            s = ep_error_set(err, EP_ERR_MODEL,
                             "%s: unsupported pooling %s; embedpipe implements a single mean or CLS pooling", path,
                             found);
            goto done;
        }
        if ((s = set_pooling_mode(path, mode->valuestring, &n_set, c, err))) goto done;
    } else {
        /* legacy flags; any flag set to true counts, so modes added later are rejected too */
        for (const cJSON *k = root->child; k; k = k->next) {
            if (strncmp(k->string, "pooling_mode_", 13) != 0 || !cJSON_IsTrue(k)) continue;
            const char *name = k->string + 13;
            const char *m = strcmp(name, "mean_tokens") == 0 ? "mean" : strcmp(name, "cls_token") == 0 ? "cls" : k->string;
            if ((s = set_pooling_mode(path, m, &n_set, c, err))) goto done;
        }
    }
    if (n_set != 1)
        s = ep_error_set(err, EP_ERR_MODEL, "%s: %s; exactly one of mean or CLS pooling must be set", path,
                         n_set ? "several pooling modes are set" : "no pooling mode is set");
done:
    cJSON_Delete(root);
    return s;
}

static ep_status read_modules(const char *dir, ep_model_config *c, ep_error *err) {
    char path[4200];
    cJSON *root;
    ep_status s = load_model_json(dir, "modules.json", true, cJSON_IsArray, "a JSON array of modules", path,
                                  sizeof path, &root, err);
    if (s) return s;
    static const char *const expected = "embedpipe runs Transformer -> Pooling [-> Normalize]";
    int i = 0;
    bool pooled = false;
    c->normalize = false;
    for (const cJSON *mod = root->child; mod; mod = mod->next, i++) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(mod, "type");
        const cJSON *sub = cJSON_GetObjectItemCaseSensitive(mod, "path");
        if (!cJSON_IsString(type) || (sub && !cJSON_IsString(sub))) {
            s = ep_error_set(err, EP_ERR_FORMAT, "%s: module %d needs a string \"type\" and \"path\"", path, i);
            goto done;
        }
        const char *cls = module_class(type->valuestring);
        const char *want = i == 0 ? "Transformer" : i == 1 ? "Pooling" : i == 2 ? "Normalize" : NULL;
        if (!cls || !want || strcmp(cls, want) != 0) {
            s = ep_error_set(err, EP_ERR_MODEL, "%s: module %d is %s; %s", path, i, type->valuestring, expected);
            goto done;
        }
        const char *p = sub ? sub->valuestring : "";
        if (i == 0 && *p) {
            s = ep_error_set(err, EP_ERR_MODEL,
                             "%s: the Transformer module lives in subfolder \"%s\"; embedpipe expects its files "
                             "(config.json, model.safetensors, vocab.txt) at the top of the model folder",
                             path, p);
            goto done;
        }
        if (i == 1) {
            if (!*p || strstr(p, "..") || p[0] == '/') {
                s = ep_error_set(err, EP_ERR_MODEL, "%s: the Pooling module's path \"%s\" is not a subfolder", path,
                                 p);
                goto done;
            }
            if ((s = read_pooling(dir, p, c, err))) goto done;
            pooled = true;
        }
        if (i == 2) c->normalize = true;
    }
    if (!pooled) s = ep_error_set(err, EP_ERR_MODEL, "%s: no Pooling module; %s", path, expected);
done:
    cJSON_Delete(root);
    return s;
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
    if ((s = read_architecture(dir, c, err)) || (s = check_vocab(dir, c, err)) ||
        (s = read_tokenizer_settings(dir, c, err)) || (s = read_modules(dir, c, err)))
        return s;
    folder_name(dir, c->name, sizeof c->name);
    return EP_OK;
}
