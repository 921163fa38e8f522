/*
 * reader_detect.c - an input file's format from its first bytes (see reader.h).
 */
#include "reader_detect.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "json_frame.h"

/* Top-level keys of the Community Archive's archive.json. */
static const char *const ARCHIVE_KEYS[] = {"account",   "profile",         "tweets",     "like",          "follower",
                                           "following", "community-tweet", "note-tweet", "upload-options"};

/* What a look at the top level of the first object found. */
typedef struct object_scan {
    char first_key[64];
    bool first_value_array;   /* the first key's value starts with '[' */
    bool tweets_array;        /* a top-level "tweets" key holds an array */
    bool closed_first_line;   /* the object ends before its first newline */
    bool spans_lines;         /* a newline comes while the object is open */
    size_t end;               /* offset just past the object when closed */
} object_scan;

/* Walks the first object's bytes (p[0] == '{'), noting its top-level keys. */
static void scan_object(const unsigned char *p, size_t n, object_scan *s) {
    memset(s, 0, sizeof *s);
    long depth = 0;
    bool in_string = false, escape = false, expect_key = false, in_key = false, expect_value = false;
    bool first_key_done = false;
    char key[64];
    size_t key_len = 0;
    for (size_t i = 0; i < n; i++) {
        int c = p[i];
        if (in_string) {
            if (escape) {
                escape = false;
            } else if (c == '\\') {
                escape = true;
            } else if (c == '"') {
                in_string = false;
                if (in_key) {
                    in_key = false;
                    key[key_len] = '\0';
                    expect_value = true;
                }
                continue;
            }
            if (in_key && key_len < sizeof key - 1) key[key_len++] = (char)c;
            continue;
        }
        if (c == '\n') {
            if (depth > 0) s->spans_lines = true;
            continue;
        }
        if (ep_json_is_space(c)) continue;
        if (expect_value && c != ':') {
            // The first byte of a top-level value.
            expect_value = false;
            bool is_array = c == '[';
            if (!first_key_done) {
                first_key_done = true;
                snprintf(s->first_key, sizeof s->first_key, "%s", key);
                s->first_value_array = is_array;
            }
            if (is_array && strcmp(key, "tweets") == 0) s->tweets_array = true;
        }
        if (c == '"') {
            in_string = true;
            if (depth == 1 && expect_key) {
                in_key = true;
                key_len = 0;
                expect_key = false;
            }
        } else if (c == '{' || c == '[') {
            depth++;
            if (depth == 1) expect_key = true;
        } else if (c == '}' || c == ']') {
            if (--depth <= 0) {
                if (!s->spans_lines) s->closed_first_line = true;
                s->end = i + 1;
                return;
            }
        } else if (c == ',' && depth == 1) {
            expect_key = true;
        }
    }
}

/* @return true when the line p[0..n) parses as a JSON object. */
static bool line_is_object(const unsigned char *p, size_t n) {
    cJSON *doc = cJSON_ParseWithLength((const char *)p, n);
    bool ok = cJSON_IsObject(doc);
    cJSON_Delete(doc);
    return ok;
}

/* The name's extension in lower case, after a .zst or .gz suffix is taken off. */
static void extension(const char *name, char *out, size_t cap) {
    out[0] = '\0';
    if (!name) return;
    char base[512];
    snprintf(base, sizeof base, "%s", name);
    for (int pass = 0; pass < 2; pass++) {
        char *dot = strrchr(base, '.');
        if (!dot || strchr(dot, '/')) return;
        snprintf(out, cap, "%s", dot + 1);
        for (char *c = out; *c; c++) *c = (char)tolower((unsigned char)*c);
        if (strcmp(out, "zst") != 0 && strcmp(out, "gz") != 0) return;
        *dot = '\0';
        out[0] = '\0';
    }
}

static bool is_archive_key(const char *key, const char *const *extra, size_t n_extra) {
    for (size_t i = 0; i < sizeof ARCHIVE_KEYS / sizeof *ARCHIVE_KEYS; i++)
        if (strcmp(key, ARCHIVE_KEYS[i]) == 0) return true;
    for (size_t i = 0; i < n_extra; i++)
        if (strcmp(key, extra[i]) == 0) return true;
    return false;
}

static bool ident_start(int c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == '$'; }
static bool ident_byte(int c) { return ident_start(c) || (c >= '0' && c <= '9'); }

size_t ep_detect_js_prefix(const unsigned char *p, size_t n) {
    size_t i = 0;
    while (i < n && (p[i] == ' ' || p[i] == '\t')) i++;
    static const char *const keywords[] = {"var", "let", "const"};
    for (size_t k = 0; k < 3; k++) {
        size_t len = strlen(keywords[k]);
        if (n - i > len && memcmp(p + i, keywords[k], len) == 0 && (p[i + len] == ' ' || p[i + len] == '\t')) {
            i += len;
            while (i < n && (p[i] == ' ' || p[i] == '\t')) i++;
            break;
        }
    }
    // One or more identifiers joined by dots: window.YTD.tweets.part0, YTD.tweet.part1, tweets.
    for (;;) {
        if (i >= n || !ident_start(p[i])) return 0;
        while (i < n && ident_byte(p[i])) i++;
        if (i < n && p[i] == '.') {
            i++;
            continue;
        }
        break;
    }
    while (i < n && (p[i] == ' ' || p[i] == '\t')) i++;
    if (i >= n || p[i] != '=') return 0;
    i++;
    while (i < n && ep_json_is_space(p[i])) i++;
    return i < n && p[i] == '[' ? i : 0;
}

bool ep_detect_json_like_lines(const unsigned char *p, size_t n, int *like, int *total) {
    *like = *total = 0;
    size_t at = 0;
    while (at < n && *total < 20) {
        const unsigned char *nl = memchr(p + at, '\n', n - at);
        size_t len = nl ? (size_t)(nl - (p + at)) : n - at;
        size_t i = at, e = at + len;
        while (i < e && ep_json_is_space(p[i])) i++;
        if (i < e) {
            (*total)++;
            int c = p[i];
            bool json = c == '{' || c == '[' || c == '}' || c == ']';
            if (!json && c == '"') {
                // "key": value
                size_t j = i + 1;
                while (j < e && p[j] != '"') j += p[j] == '\\' ? 2 : 1;
                j++;
                while (j < e && ep_json_is_space(p[j])) j++;
                json = j < e && p[j] == ':';
            }
            if (json) (*like)++;
        }
        if (!nl) break;
        at += len + 1;
    }
    return *total >= 3 && 2 * *like > *total;
}

const char *ep_detect_utf16(const unsigned char *p, size_t n) {
    if (n >= 2 && p[0] == 0xFF && p[1] == 0xFE) return "UTF-16LE";
    if (n >= 2 && p[0] == 0xFE && p[1] == 0xFF) return "UTF-16BE";
    // Without a mark: ASCII text in UTF-16 has a NUL in every other byte.
    size_t m = n < 256 ? n & ~(size_t)1 : 256;
    if (m < 4) return NULL;
    size_t nul[2] = {0, 0};
    for (size_t i = 0; i < m; i++) nul[i & 1] += p[i] == 0;
    size_t half = m / 2;
    if (nul[1] * 4 >= half * 3 && nul[0] * 4 < half) return "UTF-16LE";
    if (nul[0] * 4 >= half * 3 && nul[1] * 4 < half) return "UTF-16BE";
    return NULL;
}

ep_input_format ep_detect_format(const unsigned char *p, size_t n, bool whole, const char *name,
                                 const char *const *archive_keys, size_t n_archive_keys) {
    char ext[16];
    extension(name, ext, sizeof ext);
    bool lines_name = strcmp(ext, "jsonl") == 0 || strcmp(ext, "ndjson") == 0;
    bool json_name = lines_name || strcmp(ext, "json") == 0;
    size_t i = 0;
    while (i < n && ep_json_is_space(p[i])) i++;
    if (i == n) return strcmp(ext, "txt") == 0 ? EP_FORMAT_LINES : EP_FORMAT_NDJSON;
    if (n - i >= 11 && memcmp(p + i, "window.YTD.", 11) == 0) return EP_FORMAT_TWEETS_JS;
    // Any `name.path = [` (YTD.tweets.part0, var tweets): a tweets.js whose prefix was edited.
    if (ep_detect_js_prefix(p + i, n - i) > 0) return EP_FORMAT_TWEETS_JS;
    if (strcmp(ext, "txt") == 0) return EP_FORMAT_LINES;
    if (p[i] == '[') {
        size_t j = i + 1;
        while (j < n && ep_json_is_space(p[j])) j++;
        return j < n && (p[j] == '{' || p[j] == ']') ? EP_FORMAT_TWEETS_JS : EP_FORMAT_LINES;
    }
    if (p[i] != '{') return EP_FORMAT_LINES;
    if (lines_name) return EP_FORMAT_NDJSON;

    object_scan s;
    scan_object(p + i, n - i, &s);
    bool more_after = false;
    if (s.closed_first_line) {
        for (size_t j = i + s.end; j < n && !more_after; j++) more_after = !ep_json_is_space(p[j]);
    }
    if (!more_after && ((s.first_value_array && is_archive_key(s.first_key, archive_keys, n_archive_keys)) ||
                        s.tweets_array))
        return EP_FORMAT_ARCHIVE_JSON;
    if (s.closed_first_line) {
        if (json_name) return EP_FORMAT_NDJSON;
        // Some of the first lines must be JSON objects, or this is text whose first line starts with '{'.
        size_t at = i;
        for (int tries = 0; tries < 8 && at < n; tries++) {
            const unsigned char *nl = memchr(p + at, '\n', n - at);
            size_t len = nl ? (size_t)(nl - (p + at)) : n - at;
            if ((nl || whole) && line_is_object(p + at, len)) return EP_FORMAT_NDJSON;
            at += len + 1;
        }
        return EP_FORMAT_LINES;
    }
    if (s.spans_lines) return EP_FORMAT_ARCHIVE_JSON;
    // The first line is longer than the window: only JSON records are that long.
    return EP_FORMAT_NDJSON;
}
