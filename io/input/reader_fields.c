/*
 * reader_fields.c - text and id of one parsed JSON record (see reader_fields.h).
 */
#include "reader_fields.h"
#include "setting_names.h"

#include "reader_keep.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

// ----------------------------------------------------------------------------
// Small helpers

const char *ep_json_type_name(const cJSON *node) {
    if (!node) return "missing";
    switch (node->type & 0xFF) {
    case cJSON_String: return "a string";
    case cJSON_Number: return "a number";
    case cJSON_NULL: return "null";
    case cJSON_True:
    case cJSON_False: return "a boolean";
    case cJSON_Object: return "an object";
    case cJSON_Array: return "an array";
    default: return "not a JSON value";
    }
}

size_t ep_utf8_invalid_at(const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate(p + i, (utf8proc_ssize_t)(len - i), &cp);
        if (n <= 0) return i;
        i += (size_t)n;
    }
    return len;
}

void ep_snippet(char *out, size_t cap, const char *s, size_t len, size_t max) {
    if (cap == 0) return;
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0, i = 0;
    if (len > max) len = max;
    while (i < len && o + 5 < cap) {
        if (p[i] < 0x80) {
            out[o++] = (p[i] < 0x20 || p[i] == 0x7F) ? ' ' : (char)p[i];
            i++;
            continue;
        }
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate(p + i, (utf8proc_ssize_t)(len - i), &cp);
        if (n <= 0) {
            out[o++] = '?';
            i++;
            continue;
        }
        memcpy(out + o, p + i, (size_t)n);
        o += (size_t)n;
        i += (size_t)n;
    }
    out[o] = '\0';
}

const cJSON *ep_json_path(const cJSON *node, const char *path) {
    char step[256];
    const char *p = path;
    while (node && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n >= sizeof step) return NULL;
        memcpy(step, p, n);
        step[n] = '\0';
        p += n + (dot ? 1 : 0);
        if (cJSON_IsObject(node)) {
            node = cJSON_GetObjectItemCaseSensitive(node, step);
        } else if (cJSON_IsArray(node) && n > 0 && strspn(step, "0123456789") == n && n < 10) {
            node = cJSON_GetArrayItem(node, atoi(step));
        } else {
            return NULL;
        }
    }
    return node;
}

bool ep_fields_has_text(const cJSON *obj, const ep_field_paths *paths) {
    for (size_t i = 0; i < paths->n_text; i++)
        if (ep_json_path(obj, paths->text[i])) return true;
    return false;
}

// ----------------------------------------------------------------------------
// Raw tokens: cJSON keeps neither a number's digits (only a double, exact to
// 2^53; tweet ids have 19 digits) nor a string's length past a \u0000. The
// k-th string value (or number) of the tree in document order is the k-th
// such token in the raw bytes, so counting both ways finds a node's bytes.

static bool ordinal_of(const cJSON *node, const cJSON *target, int type, size_t *k) {
    if (node == target) return true;
    if ((node->type & 0xFF) == type) (*k)++;
    for (const cJSON *c = node->child; c; c = c->next)
        if (ordinal_of(c, target, type, k)) return true;
    return false;
}

static bool is_number_byte(char c) {
    return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

static bool is_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

/* Finds the raw bytes [*start, *end) of node (a string or number) in raw. */
static bool raw_token(const cJSON *root, const cJSON *node, const char *raw, size_t len, size_t *start,
                      size_t *end) {
    int type = node->type & 0xFF;
    size_t k = 0;
    if (!ordinal_of(root, node, type, &k)) return false;
    size_t i = 0, seen = 0;
    while (i < len) {
        char c = raw[i];
        if (c == '"') {
            size_t s = i++;
            while (i < len && raw[i] != '"') i += raw[i] == '\\' ? 2 : 1;
            size_t e = i < len ? i + 1 : len;
            i = e;
            size_t j = e;
            while (j < len && is_space(raw[j])) j++;
            bool is_key = j < len && raw[j] == ':';
            if (!is_key && type == cJSON_String && seen++ == k) {
                *start = s;
                *end = e;
                return true;
            }
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            size_t s = i;
            while (i < len && is_number_byte(raw[i])) i++;
            if (type == cJSON_Number && seen++ == k) {
                *start = s;
                *end = i;
                return true;
            }
        } else {
            i++;
        }
    }
    return false;
}

/* @return true when the raw string token holds a \u0000 escape. */
static bool has_nul_escape(const char *tok, size_t len) {
    for (size_t i = 0; i + 1 < len; i++) {
        if (tok[i] != '\\') continue;
        if (tok[i + 1] == 'u' && i + 5 < len && memcmp(tok + i + 2, "0000", 4) == 0) return true;
        i++;
    }
    return false;
}

/* @return true when node's string may be cut short by a \u0000 escape. */
static bool string_has_nul(const cJSON *root, const cJSON *node, const char *raw, size_t raw_len,
                           const ep_fields *out) {
    // Cheap test first: most records hold no such escape at all. The caller may have made it once for a
    // whole API page: made again per tweet, it read the page's bytes once per tweet.
    if (out->raw_nul_known ? !out->raw_has_nul : !memmem(raw, raw_len, "\\u0000", 6)) return false;
    size_t s, e;
    if (!raw_token(root, node, raw, raw_len, &s, &e)) return true;
    return has_nul_escape(raw + s, e - s);
}

/* Decodes the raw JSON string token tok[0..len) (quotes included; cJSON has
 * already checked it) into out, leaving out \u0000: cJSON would stop the
 * string at it, and BERT's tokenizer removes NUL like every control character,
 * so the text without it is what the model sees either way.
 * @return the decoded length, or (size_t)-1 when out of memory. */
static size_t decode_without_nul(const char *tok, size_t len, ep_fields *f) {
    if (len + 1 > f->nul_free_cap) {
        char *grown = realloc(f->nul_free, len + 1);
        if (!grown) return (size_t)-1;
        f->nul_free = grown;
        f->nul_free_cap = len + 1;
    }
    char *o = f->nul_free;
    size_t i = 1, end = len > 0 ? len - 1 : 0; /* inside the quotes */
    while (i < end) {
        char c = tok[i++];
        if (c != '\\') {
            *o++ = c;
            continue;
        }
        char e = tok[i++];
        unsigned long cp = 0;
        switch (e) {
        case 'b': *o++ = '\b'; continue;
        case 'f': *o++ = '\f'; continue;
        case 'n': *o++ = '\n'; continue;
        case 'r': *o++ = '\r'; continue;
        case 't': *o++ = '\t'; continue;
        case 'u': break;
        default: *o++ = e; continue; /* \" \\ \/ */
        }
        char hex[5] = {0};
        memcpy(hex, tok + i, 4);
        cp = strtoul(hex, NULL, 16);
        i += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 <= end && tok[i] == '\\' && tok[i + 1] == 'u') {
            memcpy(hex, tok + i + 2, 4);
            unsigned long lo = strtoul(hex, NULL, 16);
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            i += 6;
        }
        if (cp == 0) continue;
        o += utf8proc_encode_char((utf8proc_int32_t)cp, (utf8proc_uint8_t *)o);
    }
    *o = '\0';
    return (size_t)(o - f->nul_free);
}

void ep_fields_release(ep_fields *f) {
    free(f->nul_free);
    free(f->clean);
    free(f->fields);
    f->nul_free = f->clean = f->fields = NULL;
    f->nul_free_cap = f->clean_cap = f->fields_cap = 0;
}

bool ep_json_raw_token(const cJSON *root, const cJSON *node, const char *raw, size_t len, size_t *start, size_t *end) {
    return root && node && raw && raw_token(root, node, raw, len, start, end);
}

ep_read_kind ep_fields_finish(const cJSON *root, const cJSON *obj, const char *raw, size_t raw_len,
                              const ep_field_paths *paths, const char *text, size_t text_len, const char *id,
                              const char *where, ep_fields *out) {
    out->text = text;
    out->text_len = text_len;
    out->kept = NULL;
    out->skipped = false;
    if (!where) where = "";
    if (paths->clean) {
        size_t n = ep_text_clean(text, text_len, paths->clean, &out->clean, &out->clean_cap, &out->skipped);
        if (n == (size_t)-1) {
            snprintf(out->reason, sizeof out->reason, "%sout of memory cleaning the text (%s)", where,
                     ep_setting_name(EP_SETTING_CLEAN));
            return EP_READ_REJECTED;
        }
        if (!out->skipped && strspn(out->clean, " \t\r\n") == n) {
            char snip[160];
            ep_snippet(snip, sizeof snip, text, text_len, 120);
            snprintf(out->reason, sizeof out->reason,
                     "%stext is empty after %s (it held only mentions, links or spaces: '%s'); drop the "
                     "%s step that removes them to embed it",
                     where, ep_setting_name(EP_SETTING_CLEAN), snip, ep_setting_name(EP_SETTING_CLEAN));
            return EP_READ_REJECTED;
        }
        out->text = out->clean;
        out->text_len = n;
    }
    if (paths->keep && ep_keep_any(paths->keep)) {
        ep_keep_source src = {.root = root, .obj = obj, .raw = raw, .raw_len = raw_len, .id = id ? id : "",
                              .text = text, .account = paths->account, .max_value = paths->max_value};
        if (ep_keep_build(paths->keep, &src, &out->fields, &out->fields_cap) == (size_t)-1) {
            snprintf(out->reason, sizeof out->reason, "%sout of memory keeping the fields (%s)", where,
                     ep_setting_name(EP_SETTING_KEEP));
            return EP_READ_REJECTED;
        }
        out->kept = out->fields;
    }
    return EP_READ_RECORD;
}

/* @return the first key along path that appears more than once in its object,
 * copied to key (cap bytes), or NULL: JSON readers disagree on which of two equal
 * keys counts (cJSON takes the first, Python's json the last). */
static const char *duplicate_on_path(const cJSON *node, const char *path, char *key, size_t cap) {
    const char *p = path;
    while (node && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n >= cap) return NULL;
        memcpy(key, p, n);
        key[n] = '\0';
        p += n + (dot ? 1 : 0);
        if (cJSON_IsObject(node)) {
            int seen = 0;
            for (const cJSON *c = node->child; c; c = c->next)
                if (c->string && strcmp(c->string, key) == 0) seen++;
            if (seen > 1) return key;
            node = cJSON_GetObjectItemCaseSensitive(node, key);
        } else if (cJSON_IsArray(node) && n > 0 && strspn(key, "0123456789") == n && n < 10) {
            node = cJSON_GetArrayItem(node, atoi(key));
        } else {
            return NULL;
        }
    }
    return NULL;
}

// ----------------------------------------------------------------------------
// Extraction

static void list_paths(char *out, size_t cap, const char *const *paths, size_t n) {
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && o < cap; i++) o += (size_t)snprintf(out + o, cap - o, "%s%s", i ? ", " : "", paths[i]);
}

/* A Twitter API error object ({"errors": [{"title", "detail", ...}]}) said in a few words. */
static void api_error_summary(const cJSON *obj, char *out, size_t cap) {
    out[0] = '\0';
    const cJSON *errors = cJSON_GetObjectItemCaseSensitive(obj, "errors");
    if (!errors) return;
    const cJSON *first = cJSON_IsArray(errors) ? cJSON_GetArrayItem(errors, 0) : errors;
    const char *keys[] = {"detail", "message", "title", "reason"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(first, keys[i]);
        if (cJSON_IsString(m) && m->valuestring[0]) {
            char snip[200];
            ep_snippet(snip, sizeof snip, m->valuestring, strlen(m->valuestring), 160);
            snprintf(out, cap, "an API error object, not a tweet (%s); ", snip);
            return;
        }
    }
    snprintf(out, cap, "an API error object, not a tweet; ");
}

static ep_read_kind find_id(const cJSON *root, const cJSON *obj, const char *raw, size_t raw_len,
                            const ep_field_paths *paths, const char *where, ep_fields *out) {
    for (size_t i = 0; i < paths->n_id; i++) {
        const char *path = paths->id[i];
        const cJSON *node = ep_json_path(obj, path);
        char dup[256];
        if (node && duplicate_on_path(obj, path, dup, sizeof dup)) {
            snprintf(out->reason, sizeof out->reason,
                     "%sthe key '%s' of the id path '%s' appears twice in one object, so which id is meant is "
                     "ambiguous (JSON readers disagree); remove the duplicate key",
                     where, dup, path);
            return EP_READ_REJECTED;
        }
        if (cJSON_IsString(node)) {
            size_t n = strlen(node->valuestring);
            size_t bad = ep_utf8_invalid_at(node->valuestring, n);
            if (bad < n) {
                snprintf(out->reason, sizeof out->reason, "%sid field '%s' is not valid UTF-8 at byte %zu", where,
                         path, bad);
                return EP_READ_REJECTED;
            }
            if (string_has_nul(root, node, raw, raw_len, out)) {
                snprintf(out->reason, sizeof out->reason,
                         "%sid field '%s' contains a \\u0000 (NUL) escape, which would cut it short; remove it", where,
                         path);
                return EP_READ_REJECTED;
            }
            out->id = node->valuestring;
            return EP_READ_RECORD;
        }
        if (cJSON_IsNumber(node)) {
            size_t s, e;
            if (!raw_token(root, node, raw, raw_len, &s, &e) || e - s >= sizeof out->id_digits) {
                snprintf(out->reason, sizeof out->reason, "%sid field '%s' is a number too long to be an id", where,
                         path);
                return EP_READ_REJECTED;
            }
            memcpy(out->id_digits, raw + s, e - s);
            out->id_digits[e - s] = '\0';
            out->id = out->id_digits;
            return EP_READ_RECORD;
        }
        if (paths->id_given) {
            if (!node)
                snprintf(out->reason, sizeof out->reason, "%sno id field '%s' (given by %s)", where, path,
                         ep_setting_name(EP_SETTING_ID_PATH));
            else
                snprintf(out->reason, sizeof out->reason,
                         "%sid field '%s' is %s, not a string or number; pass %s PATH to choose another field",
                         where, path, ep_json_type_name(node), ep_setting_name(EP_SETTING_ID_PATH));
            return EP_READ_REJECTED;
        }
        // A default path that leads to something else (an object, null) is not the id: try the next.
    }
    return EP_READ_RECORD;
}

ep_read_kind ep_fields_extract(const cJSON *root, const cJSON *obj, const char *raw, size_t raw_len,
                               const ep_field_paths *paths, const char *where, ep_fields *out) {
    out->text = NULL;
    out->text_len = 0;
    out->id = "";
    out->id_digits[0] = '\0';
    out->reason[0] = '\0';
    out->kept = NULL;
    out->skipped = false;
    if (!where) where = "";

    if (find_id(root, obj, raw, raw_len, paths, where, out) != EP_READ_RECORD) return EP_READ_REJECTED;

    // The first path holding a string wins; a path holding something else is reported only when no path works.
    const cJSON *text = NULL, *wrong = NULL;
    const char *text_path = NULL, *wrong_path = NULL;
    for (size_t i = 0; i < paths->n_text && !text; i++) {
        const cJSON *node = ep_json_path(obj, paths->text[i]);
        if (cJSON_IsString(node)) {
            text = node;
            text_path = paths->text[i];
        } else if (node && !wrong) {
            wrong = node;
            wrong_path = paths->text[i];
        }
    }
    if (!text) {
        if (wrong) {
            snprintf(out->reason, sizeof out->reason,
                     "%stext field '%s' is %s, not a string; pass %s PATH to read the text from another field",
                     where, wrong_path, ep_json_type_name(wrong), ep_setting_name(EP_SETTING_TEXT_PATH));
        } else if (paths->text_given) {
            snprintf(out->reason, sizeof out->reason, "%sno text field '%s' (given by %s)", where, paths->text[0],
                     ep_setting_name(EP_SETTING_TEXT_PATH));
        } else {
            char tried[400], api[256];
            list_paths(tried, sizeof tried, paths->text, paths->n_text);
            api_error_summary(obj, api, sizeof api);
            snprintf(out->reason, sizeof out->reason,
                     "%s%sno text field: tried %s; pass %s PATH (a dotted path such as tweet.full_text)", where,
                     api, tried, ep_setting_name(EP_SETTING_TEXT_PATH));
        }
        return EP_READ_REJECTED;
    }
    char dup[256];
    if (duplicate_on_path(obj, text_path, dup, sizeof dup)) {
        snprintf(out->reason, sizeof out->reason,
                 "%sthe key '%s' of the text path '%s' appears twice in one object, so which text is meant is "
                 "ambiguous (cJSON takes the first, Python's json the last); remove the duplicate key",
                 where, dup, text_path);
        return EP_READ_REJECTED;
    }
    const char *value = text->valuestring;
    size_t n = strlen(value);
    size_t s, e;
    if (string_has_nul(root, text, raw, raw_len, out)) {
        if (!raw_token(root, text, raw, raw_len, &s, &e) || (n = decode_without_nul(raw + s, e - s, out)) == (size_t)-1) {
            snprintf(out->reason, sizeof out->reason, "%stext field '%s' holds a \\u0000 escape that could not be "
                     "removed (out of memory)", where, text_path);
            return EP_READ_REJECTED;
        }
        value = out->nul_free;
    }
    // Nothing to embed: an empty or all-blank text would only give the model's empty-sentence vector.
    if (strspn(value, " \t\r\n") == n) {
        snprintf(out->reason, sizeof out->reason, "%stext field '%s' is %s", where, text_path,
                 n == 0 ? "empty" : "blank (only whitespace)");
        return EP_READ_REJECTED;
    }
    size_t bad = ep_utf8_invalid_at(value, n);
    if (bad < n) {
        snprintf(out->reason, sizeof out->reason,
                 "%stext field '%s' is not valid UTF-8 at byte %zu of the text; re-encode the input as UTF-8", where,
                 text_path, bad);
        return EP_READ_REJECTED;
    }
    return ep_fields_finish(root, obj, raw, raw_len, paths, value, n, out->id, where, out);
}
