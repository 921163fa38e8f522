/* model_json.c - one way to read a model folder's JSON files and their typed keys (model_json.h). */
#include "model_json.h"
#include "model_config.h"
#include "read_file.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Config files are a few KB; tokenizer.json a few MB (XLM-R's 17 MB). Anything past this is not a config. */
#define MAX_JSON_BYTES (64u << 20)

/* Parses path into *root (NULL on failure). @return EP_OK, or EP_ERR_FORMAT naming line and column. */
static ep_status parse_file(const char *path, cJSON **root, ep_error *err) {
    char *text;
    size_t len;
    ep_status s = ep_read_file(path, MAX_JSON_BYTES, &text, &len, err);
    if (s) return s;
    const char *end = NULL;
    *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!*root) {
        int line = 1, col = 1;
        for (const char *p = text; end && p < end && p < text + len; p++) {
            if (*p == '\n') line++, col = 1;
            else col++;
        }
        s = ep_error_set(err, EP_ERR_FORMAT, "%s:%d:%d: malformed JSON", path, line, col);
    }
    free(text);
    return s;
}

ep_status ep_model_json_read(const char *dir, const char *name, unsigned flags, ep_json_reader read, void *ctx,
                             ep_error *err) {
    char path[4200];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return ep_error_set(err, EP_ERR_USAGE, "model folder path too long: %.200s...", dir);
    struct stat sb;
    if ((flags & EP_JSON_OPTIONAL) && stat(path, &sb) != 0 && errno == ENOENT) return read(NULL, path, ctx, err);
    cJSON *root = NULL;
    ep_status s = ep_model_require_file(path, err);
    if (!s) s = parse_file(path, &root, err);
    if (!s) {
        const unsigned shape = flags & 3u;
        if (shape == EP_JSON_OBJECT && !cJSON_IsObject(root))
            s = ep_error_set(err, EP_ERR_FORMAT, "%s: expected a JSON object", path);
        else if (shape == EP_JSON_ARRAY && !cJSON_IsArray(root))
            s = ep_error_set(err, EP_ERR_FORMAT, "%s: expected a JSON array", path);
        else
            s = read(root, path, ctx, err);
    }
    cJSON_Delete(root);
    return s;
}

void ep_json_describe(const cJSON *item, char *buf, size_t cap) {
    char *p = item ? cJSON_PrintUnformatted(item) : NULL;
    snprintf(buf, cap, "%s", p ? p : "nothing");
    if (cap > 60 && strlen(buf) > 60) snprintf(buf + 57, cap - 57, "...");
    cJSON_free(p);
}

ep_status ep_json_int(const cJSON *obj, const char *path, const char *key, long lo, long hi, long dflt, int *out,
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
        ep_json_describe(v, found, sizeof found);
        return ep_error_set(err, EP_ERR_MODEL, "%s: \"%s\" must be an integer in [%ld, %ld], found %s", path, key, lo,
                            hi, found);
    }
    *out = (int)d;
    return EP_OK;
}

ep_status ep_json_bool(const cJSON *obj, const char *path, const char *key, bool *out, bool *present, ep_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *present = v && !cJSON_IsNull(v);
    if (!*present) return EP_OK;
    if (!cJSON_IsBool(v)) {
        char found[64];
        ep_json_describe(v, found, sizeof found);
        return ep_error_set(err, EP_ERR_MODEL, "%s: \"%s\" must be true or false, found %s", path, key, found);
    }
    *out = cJSON_IsTrue(v);
    return EP_OK;
}

ep_status ep_json_string(const cJSON *obj, const char *path, const char *key, const char **out, ep_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NULL;
    if (!v || cJSON_IsNull(v)) return EP_OK;
    if (!cJSON_IsString(v)) {
        char found[64];
        ep_json_describe(v, found, sizeof found);
        return ep_error_set(err, EP_ERR_MODEL, "%s: \"%s\" must be a string, found %s", path, key, found);
    }
    *out = v->valuestring;
    return EP_OK;
}
