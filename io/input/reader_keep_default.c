/*
 * reader_keep_default.c - the columns `--keep default` stands for: created_at,
 * author, url, lang, is_reply, is_retweet, found wherever the export, the
 * archive, API v1.1 and API v2 put them; the author also from an API v2
 * page's includes.users or from the export's account (account.js,
 * archive.json's "account"). See reader_keep.h.
 */
#include "reader_keep_internal.h"

#include "keep_columns.h"
#include "reader_fields.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ----------------------------------------------------------------------------
// Where the values are

/* @return the first non-empty string at one of the paths, or NULL. */
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
    for (size_t i = 0; i < EP_COUNT(paths); i++) {
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

// ----------------------------------------------------------------------------
// The author

/* API v2 pages name the author only by author_id; the page's includes.users has the username. */
static const char *author_from_includes(const cJSON *root, const cJSON *obj) {
    static const char *const id_paths[] = {EP_KEEP_AUTHOR_ID};
    const char *id = first_string(obj, id_paths, EP_COUNT(id_paths));
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

/* The author's screen name: the record's own, else the API v2 page's, else the export's account; or NULL. */
static const char *author_of(const ep_keep_source *s) {
    static const char *const authors[] = {EP_KEEP_AUTHORS};
    const char *author = first_string(s->obj, authors, EP_COUNT(authors));
    if (!author) author = author_from_includes(s->root, s->obj);
    if (!author && s->account && s->account[0]) author = s->account;
    return author;
}

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

// ----------------------------------------------------------------------------
// The columns

/* ", \"url\": ...": the id and the author's name are enough for the URL; without the name, /i/web/status/ID
 * leads there too; null unless the id is all digits. */
static void put_url(ep_keep_out *b, const char *id, const char *author) {
    ep_keep_out_puts(b, ", \"url\": ");
    bool digits = id[0] && strspn(id, "0123456789") == strlen(id);
    bool name_ok = author && author[0] && strlen(author) <= 64;
    for (const char *p = author; name_ok && *p; p++) name_ok = ep_tweet_name_byte(*p);
    if (digits) {
        char url[256];
        snprintf(url, sizeof url, "https://twitter.com/%s/status/%s", name_ok ? author : "i/web", id);
        ep_keep_out_string(b, url);
    } else {
        ep_keep_out_puts(b, "null");
    }
}

/* prefix, then v as a JSON string or null. */
static void put_string_or_null(ep_keep_out *b, const char *prefix, const char *v) {
    ep_keep_out_puts(b, prefix);
    if (v) ep_keep_out_string(b, v);
    else ep_keep_out_puts(b, "null");
}

void ep_keep_out_default(ep_keep_out *b, const ep_keep_source *s) {
    // The paths live in keep_columns.h, which the fast path (keep_scan.c) reads too.
    static const char *const created[] = {EP_KEEP_CREATED}, *const langs[] = {EP_KEEP_LANGS};
    static const char *const replies[] = {EP_KEEP_REPLIES}, *const retweets[] = {EP_KEEP_RETWEETS};
    const cJSON *obj = s->obj;
    if (!obj) {
        ep_keep_out_puts(b, "\"created_at\": null, \"author\": null, \"url\": null, \"lang\": null, "
                            "\"is_reply\": null, \"is_retweet\": null");
        return;
    }
    put_string_or_null(b, "\"created_at\": ", first_string(obj, created, EP_COUNT(created)));
    const char *author = author_of(s);
    put_string_or_null(b, ", \"author\": ", author);
    put_url(b, s->id, author);
    put_string_or_null(b, ", \"lang\": ", first_string(obj, langs, EP_COUNT(langs)));

    bool reply = referenced(obj, "replied_to");
    for (size_t i = 0; i < EP_COUNT(replies) && !reply; i++) reply = truthy(ep_json_path(obj, replies[i]));
    ep_keep_out_puts(b, reply ? ", \"is_reply\": true" : ", \"is_reply\": false");

    // The export has no retweeted_status: its retweets are known by their text.
    bool retweet = referenced(obj, "retweeted") || ep_tweet_is_retweet_text(s->text, strlen(s->text));
    for (size_t i = 0; i < EP_COUNT(retweets) && !retweet; i++)
        retweet = cJSON_IsObject(ep_json_path(obj, retweets[i]));
    ep_keep_out_puts(b, retweet ? ", \"is_retweet\": true" : ", \"is_retweet\": false");
}
