/*
 * reader_keep.c - the kept fields of a record (--keep) and the opt-in text
 * preparation for tweets (--clean); see reader_keep.h.
 */
#include "reader_keep.h"
#include "setting_names.h"

#include "keep_columns.h"
#include "reader_fields.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

// ----------------------------------------------------------------------------
// Settings

/* Columns every ids line has already: a kept field may not take their names. */
static const char *const RESERVED[] = {"id", "file", "line", "tokens", "truncated", "hash", "text", "vector"};
/* The columns "default" derives, in this order. */
static const char *const DERIVED[] = {"created_at", "author", "url", "lang", "is_reply", "is_retweet"};
#define COUNT(a) (sizeof(a) / sizeof *(a))

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
        else if (in_list(p, RESERVED, COUNT(RESERVED)))
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
        if (!twice && k->defaults && in_list(k->paths[i], DERIVED, COUNT(DERIVED))) {
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

static const struct {
    const char *name;
    unsigned flag;
} CLEAN_NAMES[] = {{"html", EP_CLEAN_HTML},
                   {"links", EP_CLEAN_LINKS},
                   {"mentions", EP_CLEAN_MENTIONS},
                   {"retweets", EP_CLEAN_RETWEETS}};

ep_status ep_clean_parse(const char *spec, unsigned *flags, ep_error *err) {
    *flags = 0;
    if (!spec) return EP_OK;
    const char *p = spec;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        while (n > 0 && *p == ' ') p++, n--;
        while (n > 0 && p[n - 1] == ' ') n--;
        bool found = n == 0;
        if (n == 3 && memcmp(p, "all", 3) == 0) {
            *flags |= EP_CLEAN_ALL;
            found = true;
        }
        for (size_t i = 0; i < COUNT(CLEAN_NAMES) && !found; i++) {
            if (strlen(CLEAN_NAMES[i].name) == n && memcmp(p, CLEAN_NAMES[i].name, n) == 0) {
                *flags |= CLEAN_NAMES[i].flag;
                found = true;
            }
        }
        if (!found)
            return ep_error_set(err, EP_ERR_USAGE, "%s: unknown step '%.*s': use html, links, mentions, retweets "
                                "or all (comma-separated)",
                                ep_setting_name(EP_SETTING_CLEAN), (int)(n > 64 ? 64 : n), p);
        p += n;
        while (*p == ' ') p++;
        if (*p == ',') p++;
    }
    return EP_OK;
}

void ep_clean_name(unsigned flags, char *out, size_t cap) {
    size_t o = 0;
    if (cap) out[0] = '\0';
    for (size_t i = 0; i < COUNT(CLEAN_NAMES) && o < cap; i++)
        if (flags & CLEAN_NAMES[i].flag)
            o += (size_t)snprintf(out + o, cap - o, "%s%s", o ? "," : "", CLEAN_NAMES[i].name);
}

// ----------------------------------------------------------------------------
// --clean

static bool grow(char **buf, size_t *cap, size_t need) {
    if (*cap >= need) return true;
    size_t c = *cap ? *cap : 256;
    while (c < need) c *= 2;
    char *p = realloc(*buf, c);
    if (!p) return false;
    *buf = p;
    *cap = c;
    return true;
}

static bool is_name_byte(char c) { return ep_keep_name_byte(c); }

static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static bool is_retweet_text(const char *s, size_t n) { return ep_keep_retweet_text(s, n); }

/* One HTML entity at s (s[0] == '&'): its UTF-8 into out, *used = bytes read.
 * @return the bytes written (0 = not an entity: copy the '&'). */
static size_t html_entity(const char *s, size_t n, char *out, size_t *used) {
    static const struct {
        const char *name;
        char c;
    } named[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    for (size_t i = 0; i < COUNT(named); i++) {
        size_t l = strlen(named[i].name);
        if (n >= l && memcmp(s, named[i].name, l) == 0) {
            out[0] = named[i].c;
            *used = l;
            return 1;
        }
    }
    if (n < 4 || s[1] != '#') return 0;
    bool hex = s[2] == 'x' || s[2] == 'X';
    size_t i = hex ? 3 : 2;
    long cp = 0;
    size_t digits = 0;
    for (; i < n && digits < 8; i++, digits++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : hex && c >= 'a' && c <= 'f' ? c - 'a' + 10
                                     : hex && c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) break;
        cp = cp * (hex ? 16 : 10) + d;
    }
    // A NUL or a control character would be removed by the tokenizer anyway; leave such entities as written.
    if (digits == 0 || i >= n || s[i] != ';' || cp < 0x20 || !utf8proc_codepoint_valid((utf8proc_int32_t)cp)) return 0;
    *used = i + 1;
    return (size_t)utf8proc_encode_char((utf8proc_int32_t)cp, (utf8proc_uint8_t *)out);
}

/* @return the length of a t.co link at s ("https://t.co/abc123"), or 0. */
static size_t tco_link(const char *s, size_t n) {
    size_t l = n >= 13 && memcmp(s, "https://t.co/", 13) == 0 ? 13 : n >= 12 && memcmp(s, "http://t.co/", 12) == 0 ? 12 : 0;
    if (!l) return 0;
    size_t i = l;
    while (i < n && is_name_byte(s[i]) && s[i] != '_') i++;
    return i > l ? i : 0;
}

size_t ep_text_clean(const char *text, size_t len, unsigned flags, char **buf, size_t *cap, bool *skip) {
    *skip = (flags & EP_CLEAN_RETWEETS) && is_retweet_text(text, len);
    if (!grow(buf, cap, len + 1)) return (size_t)-1;
    char *o = *buf;
    size_t n = 0;
    // Entities first: a link or mention written with one (rare) is then seen as the reader of the tweet sees it.
    for (size_t i = 0; i < len;) {
        size_t used = 0, w = (flags & EP_CLEAN_HTML) && text[i] == '&' ? html_entity(text + i, len - i, o + n, &used) : 0;
        if (w) {
            n += w; /* never longer than the entity itself */
            i += used;
        } else {
            o[n++] = text[i++];
        }
    }
    if (flags & EP_CLEAN_MENTIONS) {
        // Only the chain a reply starts with ("@a @b thanks"): a mention inside the sentence is part of it.
        size_t i = 0, end = 0;
        while (i < n && is_blank(o[i])) i++;
        while (i < n && o[i] == '@') {
            size_t j = i + 1;
            while (j < n && is_name_byte(o[j])) j++;
            if (j == i + 1 || (j < n && !is_blank(o[j]))) break;
            while (j < n && is_blank(o[j])) j++;
            i = end = j;
        }
        if (end) {
            memmove(o, o + end, n - end);
            n -= end;
        }
    }
    if (flags & EP_CLEAN_LINKS) {
        size_t w = 0;
        for (size_t i = 0; i < n;) {
            size_t l = tco_link(o + i, n - i);
            if (!l) {
                o[w++] = o[i++];
                continue;
            }
            i += l;
            // The space before a link goes with it when nothing but space follows, so no gap is left.
            if (i == n || is_blank(o[i]))
                while (w > 0 && (o[w - 1] == ' ' || o[w - 1] == '\t')) w--;
        }
        n = w;
        while (n > 0 && is_blank(o[n - 1])) n--;
    }
    o[n] = '\0';
    return n;
}

// ----------------------------------------------------------------------------
// --keep

typedef struct out_buf {
    char **buf;
    size_t *cap;
    size_t len;
    bool failed;
} out_buf;

static void put(out_buf *b, const char *s, size_t n) {
    if (b->failed || !grow(b->buf, b->cap, b->len + n + 1)) {
        b->failed = true;
        return;
    }
    memcpy(*b->buf + b->len, s, n);
    b->len += n;
    (*b->buf)[b->len] = '\0';
}

static void puts_(out_buf *b, const char *s) { put(b, s, strlen(s)); }

/* s as a JSON string (quotes included). */
static void put_string(out_buf *b, const char *s) {
    puts_(b, "\"");
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(b, esc, 2);
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            put(b, esc, 6);
        } else {
            put(b, (const char *)p, 1);
        }
    }
    puts_(b, "\"");
}

static const char *first_string(const cJSON *obj, const char *const *paths, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const cJSON *v = ep_json_path(obj, paths[i]);
        if (cJSON_IsString(v) && v->valuestring[0]) return v->valuestring;
    }
    return NULL;
}

/* @return true when a node says "yes": a non-empty string, a number, true. */
static bool truthy(const cJSON *v) {
    return (cJSON_IsString(v) && v->valuestring[0]) || cJSON_IsNumber(v) || cJSON_IsTrue(v);
}

/* API v2: referenced_tweets holds {"type": "replied_to" | "retweeted" | "quoted", "id"}. */
static bool referenced(const cJSON *obj, const char *type) {
    static const char *const paths[] = {EP_KEEP_REFERENCED};
    for (size_t i = 0; i < COUNT(paths); i++) {
        const cJSON *refs = ep_json_path(obj, paths[i]);
        const cJSON *ref;
        if (!cJSON_IsArray(refs)) continue;
        cJSON_ArrayForEach(ref, refs) {
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(ref, "type");
            if (cJSON_IsString(t) && strcmp(t->valuestring, type) == 0) return true;
        }
    }
    return false;
}

/* API v2 pages name the author only by author_id; the page's includes.users has the username. */
static const char *author_from_includes(const cJSON *root, const cJSON *obj) {
    static const char *const id_paths[] = {EP_KEEP_AUTHOR_ID};
    const char *id = first_string(obj, id_paths, COUNT(id_paths));
    const cJSON *users = root ? ep_json_path(root, EP_KEEP_INCLUDES_USERS) : NULL;
    const cJSON *u;
    if (!id || !cJSON_IsArray(users)) return NULL;
    cJSON_ArrayForEach(u, users) {
        const cJSON *uid = cJSON_GetObjectItemCaseSensitive(u, "id");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(u, "username");
        if (cJSON_IsString(uid) && strcmp(uid->valuestring, id) == 0 && cJSON_IsString(name)) return name->valuestring;
    }
    return NULL;
}

static void put_derived(out_buf *b, const ep_keep_source *s) {
    static const char *const created[] = {EP_KEEP_CREATED}, *const authors[] = {EP_KEEP_AUTHORS};
    static const char *const langs[] = {EP_KEEP_LANGS}, *const replies[] = {EP_KEEP_REPLIES};
    static const char *const retweets[] = {EP_KEEP_RETWEETS};
    const cJSON *obj = s->obj;
    if (!obj) {
        puts_(b, "\"created_at\": null, \"author\": null, \"url\": null, \"lang\": null, \"is_reply\": null, "
                 "\"is_retweet\": null");
        return;
    }
    const char *v = first_string(obj, created, COUNT(created));
    puts_(b, "\"created_at\": ");
    if (v) put_string(b, v); else puts_(b, "null");

    const char *author = first_string(obj, authors, COUNT(authors));
    if (!author) author = author_from_includes(s->root, obj);
    if (!author && s->account && s->account[0]) author = s->account;
    puts_(b, ", \"author\": ");
    if (author) put_string(b, author); else puts_(b, "null");

    // The id and the author's name are enough for the URL; without the name, /i/web/status/ID leads there too.
    puts_(b, ", \"url\": ");
    bool digits = s->id[0] && strspn(s->id, "0123456789") == strlen(s->id);
    bool name_ok = author && author[0] && strlen(author) <= 64;
    for (const char *p = author; name_ok && *p; p++) name_ok = is_name_byte(*p);
    if (digits) {
        char url[256];
        snprintf(url, sizeof url, "https://twitter.com/%s/status/%s", name_ok ? author : "i/web", s->id);
        put_string(b, url);
    } else {
        puts_(b, "null");
    }

    v = first_string(obj, langs, COUNT(langs));
    puts_(b, ", \"lang\": ");
    if (v) put_string(b, v); else puts_(b, "null");

    bool reply = referenced(obj, "replied_to");
    for (size_t i = 0; i < COUNT(replies) && !reply; i++) reply = truthy(ep_json_path(obj, replies[i]));
    puts_(b, reply ? ", \"is_reply\": true" : ", \"is_reply\": false");

    // The export has no retweeted_status: its retweets are known by their text.
    bool retweet = referenced(obj, "retweeted") || is_retweet_text(s->text, strlen(s->text));
    for (size_t i = 0; i < COUNT(retweets) && !retweet; i++) retweet = cJSON_IsObject(ep_json_path(obj, retweets[i]));
    puts_(b, retweet ? ", \"is_retweet\": true" : ", \"is_retweet\": false");
}

/* node as JSON. Numbers keep the digits they have in the record (a 19-digit id is not a double, and
 * cJSON would print it as one), at any depth. */
static void put_node(out_buf *b, const ep_keep_source *s, const cJSON *node) {
    size_t start, end;
    switch (node->type & 0xFF) {
    case cJSON_String: put_string(b, node->valuestring); return;
    case cJSON_True: puts_(b, "true"); return;
    case cJSON_False: puts_(b, "false"); return;
    case cJSON_Number:
        if (ep_json_raw_token(s->root, node, s->raw, s->raw_len, &start, &end) && end > start && end - start <= 64) {
            put(b, s->raw + start, end - start);
        } else {
            char num[64];
            snprintf(num, sizeof num, "%.17g", node->valuedouble);
            puts_(b, num);
        }
        return;
    case cJSON_Array:
    case cJSON_Object: {
        bool object = cJSON_IsObject(node);
        puts_(b, object ? "{" : "[");
        for (const cJSON *c = node->child; c; c = c->next) {
            if (c != node->child) puts_(b, ", ");
            if (object) {
                put_string(b, c->string ? c->string : "");
                puts_(b, ": ");
            }
            put_node(b, s, c);
        }
        puts_(b, object ? "}" : "]");
        return;
    }
    default: puts_(b, "null"); return;
    }
}

static void put_value(out_buf *b, const ep_keep_source *s, const char *path) {
    const cJSON *node = s->obj ? ep_json_path(s->obj, path) : NULL;
    size_t before = b->len;
    if (node) put_node(b, s, node);
    else puts_(b, "null");
    // A value longer than the record it came from could make (escapes aside) would break the readers' bound.
    if (!b->failed && b->len - before > s->max_value) {
        b->len = before;
        puts_(b, "null");
    }
}

/* Replaces each byte that does not start valid UTF-8 by U+FFFD, so the line is valid UTF-8 whatever the input held. */
static void make_utf8(out_buf *b) {
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
        put(b, copy + i, ok);
        i += ok;
        if (i < n) {
            put(b, "\xEF\xBF\xBD", 3);
            i++;
        }
    }
    free(copy);
}

size_t ep_keep_build(const ep_keep *k, const ep_keep_source *src, char **buf, size_t *cap) {
    out_buf b = {buf, cap, 0, false};
    puts_(&b, "{");
    if (k->defaults) put_derived(&b, src);
    for (size_t i = 0; i < k->n_paths; i++) {
        if (i || k->defaults) puts_(&b, ", ");
        put_string(&b, k->paths[i]);
        puts_(&b, ": ");
        put_value(&b, src, k->paths[i]);
    }
    puts_(&b, "}");
    if (!b.failed) make_utf8(&b);
    return b.failed ? (size_t)-1 : b.len;
}

// ----------------------------------------------------------------------------
// The export's account

void ep_keep_archive_account(const cJSON *account, char *out, size_t cap) {
    const cJSON *name = ep_json_path(account, "0.account.username");
    snprintf(out, cap, "%s", cJSON_IsString(name) ? name->valuestring : "");
}

void ep_keep_export_account(const char *path, char *out, size_t cap) {
    out[0] = '\0';
    if (!path || strcmp(path, "-") == 0) return;
    const char *slash = strrchr(path, '/');
    char name[4096];
    if (snprintf(name, sizeof name, "%.*saccount.js", slash ? (int)(slash - path + 1) : 0, path) >= (int)sizeof name)
        return;
    FILE *f = fopen(name, "rb");
    if (!f) return;
    char *text = malloc(1 << 20);
    size_t n = text ? fread(text, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (!text) return;
    text[n] = '\0';
    const char *open = strchr(text, '[');
    cJSON *doc = open ? cJSON_ParseWithOpts(open, NULL, 0) : NULL;
    ep_keep_archive_account(doc, out, cap);
    cJSON_Delete(doc);
    free(text);
}
