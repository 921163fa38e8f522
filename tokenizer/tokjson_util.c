/*
 * tokjson_util.c - the strict readers of tokenizer.json values: each names
 * the file, the JSON path and what was expected.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tokjson.h"

ep_status ep_tokjson_fail(const ep_tokjson *j, ep_status code, const char *path, const char *fmt, ...) {
    char msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ep_error_set(j->err, code, "tokenizer.json %s: %s: %s", j->file, path && *path ? path : "(top level)",
                        msg);
}

const char *ep_tokjson_path(char *buf, size_t cap, const char *path, const char *key, int index) {
    if (key) snprintf(buf, cap, "%s%s%s", path, *path ? "." : "", key);
    else snprintf(buf, cap, "%s[%d]", path, index);
    return buf;
}

static const cJSON *member(const ep_tokjson *j, const cJSON *obj, const char *path, const char *key, bool required,
                           ep_status *st) {
    *st = EP_OK;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v && required) {
        char p[300];
        *st = ep_tokjson_fail(j, EP_ERR_FORMAT, ep_tokjson_path(p, sizeof p, path, key, 0), "missing");
    }
    return v;
}

ep_status ep_tokjson_bool(const ep_tokjson *j, const cJSON *obj, const char *path, const char *key, bool required,
                          bool *out) {
    ep_status st;
    const cJSON *v = member(j, obj, path, key, required, &st);
    if (!v) return st;
    char p[300];
    if (!cJSON_IsBool(v))
        return ep_tokjson_fail(j, EP_ERR_FORMAT, ep_tokjson_path(p, sizeof p, path, key, 0), "expected true or false");
    *out = cJSON_IsTrue(v);
    return EP_OK;
}

ep_status ep_tokjson_int(const ep_tokjson *j, const cJSON *obj, const char *path, const char *key, bool required,
                         long lo, long hi, long *out) {
    ep_status st;
    const cJSON *v = member(j, obj, path, key, required, &st);
    if (!v) return st;
    char p[300];
    double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!(d >= (double)lo && d <= (double)hi) || d != floor(d))
        return ep_tokjson_fail(j, EP_ERR_FORMAT, ep_tokjson_path(p, sizeof p, path, key, 0),
                               "expected an integer in %ld..%ld", lo, hi);
    *out = (long)d;
    return EP_OK;
}

ep_status ep_tokjson_string(const ep_tokjson *j, const cJSON *obj, const char *path, const char *key, bool required,
                            const char **out) {
    ep_status st;
    const cJSON *v = member(j, obj, path, key, required, &st);
    if (!v) return st;
    char p[300];
    if (!cJSON_IsString(v))
        return ep_tokjson_fail(j, EP_ERR_FORMAT, ep_tokjson_path(p, sizeof p, path, key, 0), "expected a string");
    *out = v->valuestring;
    return EP_OK;
}

ep_status ep_tokjson_type(const ep_tokjson *j, const cJSON *obj, const char *path, const char **type) {
    if (!cJSON_IsObject(obj)) return ep_tokjson_fail(j, EP_ERR_FORMAT, path, "expected an object with a \"type\"");
    return ep_tokjson_string(j, obj, path, "type", true, type);
}
