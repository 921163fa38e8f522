/*
 * reader_keep.c - the kept fields of a record (--keep): the list parsed and
 * checked, and each record's columns written as one JSON object text, the
 * values found by their dotted paths and written with the digits they have
 * in the record. The columns of "default" are in reader_keep_default.c, the
 * text preparation (--clean) in reader_clean.c; see reader_keep.h.
 */
#include "reader_keep_internal.h"
#include "setting_names.h"

#include "reader_fields.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ----------------------------------------------------------------------------
// The setting

/* Columns every ids line has already: a kept field may not take their names. */
static const char *const RESERVED[] = {"id", "file", "line", "tokens", "truncated", "hash", "text", "vector"};
/* The columns "default" derives, in this order. */
static const char *const DERIVED[] = {"created_at", "author", "url", "lang", "is_reply", "is_retweet"};

void ep_keep_release(ep_keep *k) {
    if (!k) return;
    free(k->buf);
    memset(k, 0, sizeof *k);
}

static bool in_list(const char *s, const char *const *list, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0) return true;
    return false;
}

ep_status ep_keep_parse(const char *spec, ep_keep *k, ep_error *err) {
    memset(k, 0, sizeof *k);
    if (!spec || !*spec) return EP_OK;
    k->buf = strdup(spec);
    if (!k->buf) return ep_error_set(err, EP_ERR_NOMEM, "out of memory");
    char *save = NULL;
    for (char *p = strtok_r(k->buf, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        while (*p == ' ') p++;
        size_t n = strlen(p);
        while (n > 0 && p[n - 1] == ' ') p[--n] = '\0';
        if (n == 0) continue;
        ep_status st = EP_OK;
        if (strcmp(p, "default") == 0) {
            k->defaults = true;
            continue;
        }
        if (p[0] == '.' || p[n - 1] == '.' || strstr(p, ".."))
            st = ep_error_set(err, EP_ERR_USAGE, "%s: '%s' is not a dotted path (a step is empty); write e.g. "
                              "tweet.created_at,user.screen_name", ep_setting_name(EP_SETTING_KEEP), p);
        else if (in_list(p, RESERVED, EP_COUNT(RESERVED)))
            st = ep_error_set(err, EP_ERR_USAGE, "%s: '%s' is a column every row has already (id, file, line, "
                              "tokens, truncated, hash, text; vector in an export); keep another field",
                              ep_setting_name(EP_SETTING_KEEP), p);
        else if (k->n_paths == EP_KEEP_MAX)
            st = ep_error_set(err, EP_ERR_USAGE, "%s: more than %d fields", ep_setting_name(EP_SETTING_KEEP),
            EP_KEEP_MAX);
        if (st != EP_OK) {
            ep_keep_release(k);
            return st;
        }
        k->paths[k->n_paths++] = p;
    }
    for (size_t i = 0; i < k->n_paths; i++) {
        bool twice = in_list(k->paths[i], k->paths, i);
        if (!twice && k->defaults && in_list(k->paths[i], DERIVED, EP_COUNT(DERIVED))) {
            ep_error_set(err, EP_ERR_USAGE, "%s: '%s' is also a column of 'default' (created_at, author, url, "
                         "lang, is_reply, is_retweet); give it once", ep_setting_name(EP_SETTING_KEEP), k->paths[i]);
            ep_keep_release(k);
            return EP_ERR_USAGE;
        }
        if (twice) {
            ep_error_set(err, EP_ERR_USAGE, "%s: '%s' is given twice", ep_setting_name(EP_SETTING_KEEP), k->paths[i]);
            ep_keep_release(k);
            return EP_ERR_USAGE;
        }
    }
    return EP_OK;
}

ep_status ep_keep_check(const char *spec, ep_error *err) {
    ep_keep k;
    ep_status st = ep_keep_parse(spec, &k, err);
    ep_keep_release(&k);
    return st;
}

// ----------------------------------------------------------------------------
// The JSON text of the kept columns

bool ep_keep_grow(char **buf, size_t *cap, size_t need) {
    if (*cap >= need) return true;
    size_t c = *cap ? *cap : 256;
    while (c < need) c *= 2;
    char *p = realloc(*buf, c);
    if (!p) return false;
    *buf = p;
    *cap = c;
    return true;
}

void ep_keep_out_put(ep_keep_out *b, const char *s, size_t n) {
    if (b->failed || !ep_keep_grow(b->buf, b->cap, b->len + n + 1)) {
        b->failed = true;
        return;
    }
    memcpy(*b->buf + b->len, s, n);
    b->len += n;
    (*b->buf)[b->len] = '\0';
}

void ep_keep_out_puts(ep_keep_out *b, const char *s) { ep_keep_out_put(b, s, strlen(s)); }

void ep_keep_out_string(ep_keep_out *b, const char *s) {
    ep_keep_out_puts(b, "\"");
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            ep_keep_out_put(b, esc, 2);
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            ep_keep_out_put(b, esc, 6);
        } else {
            ep_keep_out_put(b, (const char *)p, 1);
        }
    }
    ep_keep_out_puts(b, "\"");
}

/* node as JSON. Numbers keep the digits they have in the record (a 19-digit id is not a double, and
 * cJSON would print it as one), at any depth. */
static void put_node(ep_keep_out *b, const ep_keep_source *s, const cJSON *node) {
    size_t start, end;
    switch (node->type & 0xFF) {
    case cJSON_String: ep_keep_out_string(b, node->valuestring); return;
    case cJSON_True: ep_keep_out_puts(b, "true"); return;
    case cJSON_False: ep_keep_out_puts(b, "false"); return;
    case cJSON_Number:
        if (ep_json_raw_token(s->root, node, s->raw, s->raw_len, &start, &end) && end > start && end - start <= 64) {
            ep_keep_out_put(b, s->raw + start, end - start);
        } else {
            char num[64];
            snprintf(num, sizeof num, "%.17g", node->valuedouble);
            ep_keep_out_puts(b, num);
        }
        return;
    case cJSON_Array:
    case cJSON_Object: {
        bool object = cJSON_IsObject(node);
        ep_keep_out_puts(b, object ? "{" : "[");
        for (const cJSON *c = node->child; c; c = c->next) {
            if (c != node->child) ep_keep_out_puts(b, ", ");
            if (object) {
                ep_keep_out_string(b, c->string ? c->string : "");
                ep_keep_out_puts(b, ": ");
            }
            put_node(b, s, c);
        }
        ep_keep_out_puts(b, object ? "}" : "]");
        return;
    }
    default: ep_keep_out_puts(b, "null"); return;
    }
}

static void put_value(ep_keep_out *b, const ep_keep_source *s, const char *path) {
    const cJSON *node = s->obj ? ep_json_path(s->obj, path) : NULL;
    size_t before = b->len;
    if (node) put_node(b, s, node);
    else ep_keep_out_puts(b, "null");
    // A value longer than the record it came from could make (escapes aside) would break the readers' bound.
    if (!b->failed && b->len - before > s->max_value) {
        b->len = before;
        ep_keep_out_puts(b, "null");
    }
}

/* Replaces each byte that does not start valid UTF-8 by U+FFFD, so the line is valid UTF-8 whatever the input held. */
static void make_utf8(ep_keep_out *b) {
    size_t bad = ep_utf8_invalid_at(*b->buf, b->len);
    if (bad == b->len) return;
    char *copy = malloc(b->len + 1);
    if (!copy) {
        b->failed = true;
        return;
    }
    memcpy(copy, *b->buf, b->len);
    size_t n = b->len;
    b->len = 0;
    for (size_t i = 0; i < n;) {
        size_t ok = ep_utf8_invalid_at(copy + i, n - i);
        ep_keep_out_put(b, copy + i, ok);
        i += ok;
        if (i < n) {
            ep_keep_out_put(b, "\xEF\xBF\xBD", 3);
            i++;
        }
    }
    free(copy);
}

size_t ep_keep_build(const ep_keep *k, const ep_keep_source *src, char **buf, size_t *cap) {
    ep_keep_out b = {buf, cap, 0, false};
    ep_keep_out_puts(&b, "{");
    if (k->defaults) ep_keep_out_default(&b, src);
    for (size_t i = 0; i < k->n_paths; i++) {
        if (i || k->defaults) ep_keep_out_puts(&b, ", ");
        ep_keep_out_string(&b, k->paths[i]);
        ep_keep_out_puts(&b, ": ");
        put_value(&b, src, k->paths[i]);
    }
    ep_keep_out_puts(&b, "}");
    if (!b.failed) make_utf8(&b);
    return b.failed ? (size_t)-1 : b.len;
}
