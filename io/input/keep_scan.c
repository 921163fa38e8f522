/*
 * keep_scan.c - the kept fields of a plain record from its raw bytes (see
 * keep_scan.h). Each function mirrors its namesake in reader_keep.c over the
 * cJSON tree; test_record_fast compares the two record by record.
 */
#include "keep_scan.h"

#include "keep_columns.h"
#include "reader_fields.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof *(a))

/* The scratch buffers: a value being printed, the record's author id, the author's name. */
enum { SLOT_VALUE = 0, SLOT_AUTHOR_ID = 1, SLOT_AUTHOR = 2 };

typedef struct build {
    const ep_keep_scan_source *src;
    ep_jscan_cache *cache;
    ep_keep_scan *ks;
    char **buf;
    size_t *cap;
    size_t len;
    bool defer;               /* cJSON must decide (or out of memory): stop and say so */
} build;

void ep_keep_scan_reset(ep_keep_scan *ks) {
    ks->users_state = 0;
    ks->n_users = ks->ids_len = 0;
}

void ep_keep_scan_release(ep_keep_scan *ks) {
    if (!ks) return;
    for (size_t i = 0; i < COUNT(ks->buf); i++) free(ks->buf[i]);
    free(ks->users);
    free(ks->ids);
    memset(ks, 0, sizeof *ks);
}

static bool grow(char **buf, size_t *cap, size_t need) {
    if (need <= *cap) return true;
    size_t n = *cap ? *cap : 256;
    while (n < need) n *= 2;
    char *grown = realloc(*buf, n);
    if (!grown) return false;
    *buf = grown;
    *cap = n;
    return true;
}

static void put(build *b, const char *s, size_t n) {
    if (b->defer || !grow(b->buf, b->cap, b->len + n + 1)) {
        b->defer = true;
        return;
    }
    memcpy(*b->buf + b->len, s, n);
    b->len += n;
    (*b->buf)[b->len] = '\0';
}

static void puts_(build *b, const char *s) { put(b, s, strlen(s)); }

/* s[0..n) as a JSON string, escaped as reader_keep.c's put_string escapes it: '"' and '\\' with a
 * backslash, control bytes and DEL as \u00XX, every other byte as it is. */
static void put_string(build *b, const char *s, size_t n) {
    put(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c != '"' && c != '\\' && c >= 0x20 && c != 0x7f) continue;
        put(b, s + run, i - run);
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(b, esc, 2);
        } else {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            put(b, esc, 6);
        }
        run = i + 1;
    }
    put(b, s + run, n - run);
    put(b, "\"", 1);
}

/* Follows path from the value at s[at]. @return true with *out set when found; a duplicate key on
 * the way sets b->defer. */
static bool find(build *b, size_t at, const char *path, size_t *out) {
    if (b->defer) return false;
    ep_jscan_result r = ep_jscan_path(b->src->s, at, path, b->cache, out);
    if (r == EP_JSCAN_DEFER) b->defer = true;
    return r == EP_JSCAN_FOUND;
}

/* Decodes the string at s[at] into a scratch slot. @return it, NUL-terminated, or NULL (b->defer). */
static const char *decode(build *b, int slot, size_t at, size_t *n) {
    ep_keep_scan *ks = b->ks;
    if (b->defer || !grow(&ks->buf[slot], &ks->cap[slot], ep_jscan_string_len(b->src->s, at) + 1)) {
        b->defer = true;
        return NULL;
    }
    size_t len = ep_jscan_string(b->src->s, at, ks->buf[slot]);
    if (n) *n = len;
    return ks->buf[slot];
}

static bool is_string(const char *s, size_t at) { return s[at] == '"'; }

/* The first of paths whose value is a non-empty string, decoded into slot, or NULL. */
static const char *first_string(build *b, const char *const *paths, size_t n, int slot) {
    const char *s = b->src->s;
    for (size_t i = 0; i < n && !b->defer; i++) {
        size_t at;
        if (find(b, b->src->obj, paths[i], &at) && is_string(s, at) && s[at + 1] != '"')
            return decode(b, slot, at, NULL);
    }
    return NULL;
}

/* @return true when the value at s[at] says "yes": a non-empty string, a number, true. */
static bool truthy(const char *s, size_t at) {
    return (is_string(s, at) && s[at + 1] != '"') || s[at] == '-' || (s[at] >= '0' && s[at] <= '9') || s[at] == 't';
}

/* API v2: referenced_tweets holds {"type": "replied_to" | "retweeted" | "quoted", "id"}. */
static bool referenced(build *b, const char *type) {
    static const char *const paths[] = {EP_KEEP_REFERENCED};
    const char *s = b->src->s;
    for (size_t i = 0; i < COUNT(paths) && !b->defer; i++) {
        size_t refs, t;
        if (!find(b, b->src->obj, paths[i], &refs) || s[refs] != '[') continue;
        for (size_t ref = ep_jscan_first(s, refs); ref && !b->defer; ref = ep_jscan_next(s, ref)) {
            if (s[ref] != '{' || !find(b, ref, "type", &t) || !is_string(s, t)) continue;
            const char *v = decode(b, SLOT_VALUE, t, NULL);
            if (v && strcmp(v, type) == 0) return true;
        }
    }
    return false;
}

/* @return true when the key at s[k] (a plain document's: no escapes) is name. */
static bool key_is(const char *s, size_t k, const char *name) {
    size_t n = strlen(name);
    return ep_jscan_string_len(s, k) == n + 2 && memcmp(s + k + 1, name, n) == 0;
}

/* One user object of includes.users into the table: its first "id" and "username", as cJSON's
 * GetObjectItemCaseSensitive finds them; a key there twice is left to cJSON. @return false (b->defer)
 * then, or when out of memory. */
static bool add_user(build *b, size_t u) {
    const char *s = b->src->s;
    ep_keep_scan *ks = b->ks;
    size_t id = 0, name = 0;
    int ids = 0, names = 0;
    for (size_t k = ep_jscan_first(s, u); k; k = ep_jscan_next(s, ep_jscan_member_value(s, k))) {
        if (key_is(s, k, "id") && ids++ == 0) id = ep_jscan_member_value(s, k);
        else if (key_is(s, k, "username") && names++ == 0) name = ep_jscan_member_value(s, k);
    }
    ep_keep_scan_user user = {.id = SIZE_MAX, .name = names && is_string(s, name) ? name : 0};
    if (ids > 1 || names > 1 || !grow((char **)&ks->users, &ks->cap_users, (ks->n_users + 1) * sizeof user))
        return !(b->defer = true);
    if (ids && is_string(s, id)) {
        if (!grow(&ks->ids, &ks->ids_cap, ks->ids_len + ep_jscan_string_len(s, id) + 1)) return !(b->defer = true);
        user.id = ks->ids_len;
        ks->ids_len += ep_jscan_string(s, id, ks->ids + ks->ids_len) + 1;
    }
    ks->users[ks->n_users++] = user;
    return true;
}

/* Reads the frame's includes.users into the table, once. @return false when cJSON must read them. */
static bool read_users(build *b) {
    ep_keep_scan *ks = b->ks;
    if (ks->users_state == 0) {
        const char *s = b->src->s;
        size_t users;
        bool ok = true;
        if (find(b, b->src->root, EP_KEEP_INCLUDES_USERS, &users) && s[users] == '[')
            for (size_t u = ep_jscan_first(s, users); u && ok; u = ep_jscan_next(s, u)) ok = s[u] != '{' || add_user(b, u);
        ks->users_state = ok && !b->defer ? 1 : 2;
    }
    if (ks->users_state == 2) b->defer = true;
    return ks->users_state == 1;
}

/* API v2 pages name the author only by author_id; the page's includes.users has the username: the
 * first user object whose "id" is that string and whose "username" is a string. */
static const char *author_from_includes(build *b) {
    static const char *const id_paths[] = {EP_KEEP_AUTHOR_ID};
    const char *id = first_string(b, id_paths, COUNT(id_paths), SLOT_AUTHOR_ID);
    if (!id || !read_users(b)) return NULL;
    const ep_keep_scan *ks = b->ks;
    for (size_t i = 0; i < ks->n_users; i++) {
        const ep_keep_scan_user *u = &ks->users[i];
        if (u->id != SIZE_MAX && u->name && strcmp(ks->ids + u->id, id) == 0)
            return decode(b, SLOT_AUTHOR, u->name, NULL);
    }
    return NULL;
}

static void put_or_null(build *b, const char *v) {
    if (v) put_string(b, v, strlen(v));
    else puts_(b, "null");
}

static void put_url(build *b, const char *author) {
    const char *id = b->src->id;
    // The id and the author's name are enough for the URL; without the name, /i/web/status/ID leads there too.
    bool digits = id[0] && strspn(id, "0123456789") == strlen(id);
    bool name_ok = author && author[0] && strlen(author) <= 64;
    for (const char *p = author; name_ok && *p; p++) name_ok = ep_keep_name_byte(*p);
    if (!digits) {
        puts_(b, "null");
        return;
    }
    char url[256];
    snprintf(url, sizeof url, "https://twitter.com/%s/status/%s", name_ok ? author : "i/web", id);
    put_or_null(b, url);
}

static void put_derived(build *b) {
    static const char *const created[] = {EP_KEEP_CREATED}, *const authors[] = {EP_KEEP_AUTHORS};
    static const char *const langs[] = {EP_KEEP_LANGS}, *const replies[] = {EP_KEEP_REPLIES};
    static const char *const retweets[] = {EP_KEEP_RETWEETS};
    const char *s = b->src->s;
    puts_(b, "\"created_at\": ");
    put_or_null(b, first_string(b, created, COUNT(created), SLOT_VALUE));

    const char *author = first_string(b, authors, COUNT(authors), SLOT_AUTHOR);
    if (!author) author = author_from_includes(b);
    if (!author && b->src->account && b->src->account[0]) author = b->src->account;
    puts_(b, ", \"author\": ");
    put_or_null(b, author);
    puts_(b, ", \"url\": ");
    put_url(b, author);

    puts_(b, ", \"lang\": ");
    put_or_null(b, first_string(b, langs, COUNT(langs), SLOT_VALUE));

    size_t at;
    bool reply = referenced(b, "replied_to");
    for (size_t i = 0; i < COUNT(replies) && !reply; i++) reply = find(b, b->src->obj, replies[i], &at) && truthy(s, at);
    puts_(b, reply ? ", \"is_reply\": true" : ", \"is_reply\": false");

    bool retweet = referenced(b, "retweeted") || ep_keep_retweet_text(b->src->text, strlen(b->src->text));
    for (size_t i = 0; i < COUNT(retweets) && !retweet; i++)
        retweet = find(b, b->src->obj, retweets[i], &at) && s[at] == '{';
    puts_(b, retweet ? ", \"is_retweet\": true" : ", \"is_retweet\": false");
}

/* The value at s[at] as JSON, as reader_keep.c's put_node prints cJSON's node: numbers with the
 * digits they have in the record, objects and arrays with ", " and ": " between their parts. */
static void put_node(build *b, size_t at) {
    const char *s = b->src->s;
    size_t n;
    switch (s[at]) {
    case '"': {
        const char *v = decode(b, SLOT_VALUE, at, &n);
        if (v) put_string(b, v, n);
        return;
    }
    case 't': puts_(b, "true"); return;
    case 'f': puts_(b, "false"); return;
    case 'n': puts_(b, "null"); return;
    case '{':
    case '[': break;
    default: put(b, s + at, ep_jscan_skip(s, at) - at); return; /* a number: plain ones are under 60 bytes */
    }
    const bool object = s[at] == '{';
    puts_(b, object ? "{" : "[");
    for (size_t e = ep_jscan_first(s, at), first = e; e && !b->defer;) {
        if (e != first) puts_(b, ", ");
        size_t v = e;
        if (object) { /* a plain document's keys hold no escapes: the raw bytes are the key */
            put_string(b, s + e + 1, ep_jscan_string_len(s, e) - 2);
            puts_(b, ": ");
            v = ep_jscan_member_value(s, e);
        }
        put_node(b, v);
        e = ep_jscan_next(s, v);
    }
    puts_(b, object ? "}" : "]");
}

static void put_value(build *b, const char *path) {
    size_t at, before = b->len;
    if (find(b, b->src->obj, path, &at)) put_node(b, at);
    else puts_(b, "null");
    // A value longer than the record it came from could make (escapes aside) would break the readers' bound.
    if (!b->defer && b->len - before > b->src->max_value) {
        b->len = before;
        puts_(b, "null");
    }
}

size_t ep_keep_scan_build(const ep_keep *k, const ep_keep_scan_source *src, ep_jscan_cache *cache, ep_keep_scan *ks,
                          char **buf, size_t *cap) {
    build b = {.src = src, .cache = cache, .ks = ks, .buf = buf, .cap = cap};
    puts_(&b, "{");
    if (k->defaults) put_derived(&b);
    for (size_t i = 0; i < k->n_paths && !b.defer; i++) {
        if (i || k->defaults) puts_(&b, ", ");
        put_string(&b, k->paths[i], strlen(k->paths[i]));
        puts_(&b, ": ");
        put_value(&b, k->paths[i]);
    }
    puts_(&b, "}");
    // ep_keep_build turns bytes that are not UTF-8 into U+FFFD; such a record is rare: cJSON's path does it.
    if (b.defer || ep_utf8_invalid_at(*buf, b.len) < b.len) return EP_KEEP_SCAN_DEFER;
    return b.len;
}
