/*
 * json_scan.c - the strict JSON scanner of the record fast path (see json_scan.h).
 */
#include "json_scan.h"

#include <stdlib.h>
#include <string.h>

// ----------------------------------------------------------------------------
// Checking: one pass over the document

/* Bytes a string's body may hold as they are: not '"', not '\\', no control byte. */
static const unsigned char PLAIN[256] = {
#define R16(v) v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v
    R16(0), R16(0),                                     /* 0x00-0x1F: control bytes */
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,     /* 0x20-0x2F: '"' is 0x22 */
    R16(1),                                             /* 0x30-0x3F */
    R16(1),                                             /* 0x40-0x4F */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,     /* 0x50-0x5F: '\\' is 0x5C */
    R16(1), R16(1),                                     /* 0x60-0x7F */
    R16(1), R16(1), R16(1), R16(1), R16(1), R16(1), R16(1), R16(1), /* 0x80-0xFF: cJSON copies them */
#undef R16
};

typedef struct {
    const unsigned char *s;
    size_t len, i;
} checker;

static void skip_ws(checker *c) {
    while (c->i < c->len) {
        unsigned char b = c->s[c->i];
        if (b != ' ' && b != '\n' && b != '\r' && b != '\t') break;
        c->i++;
    }
}

static int hex_digit(unsigned char b) {
    if (b >= '0' && b <= '9') return b - '0';
    if (b >= 'a' && b <= 'f') return b - 'a' + 10;
    if (b >= 'A' && b <= 'F') return b - 'A' + 10;
    return -1;
}

/* @return the code unit of the 4 hex digits at p, or -1. */
static long hex4(const unsigned char *p) {
    long v = 0;
    for (int k = 0; k < 4; k++) {
        int d = hex_digit(p[k]);
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

static bool check_string(checker *c, bool key) {
    const unsigned char *s = c->s;
    size_t i = c->i + 1, len = c->len;
    for (;;) {
        while (i < len && PLAIN[s[i]]) i++;
        if (i >= len) return false;
        if (s[i] == '"') break;
        if (s[i] != '\\' || key) return false; /* a control byte, or an escaped key */
        if (i + 1 >= len) return false;
        switch (s[i + 1]) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
            i += 2;
            continue;
        case 'u': break;
        default: return false;
        }
        if (i + 6 > len) return false;
        long u = hex4(s + i + 2);
        if (u <= 0 || (u >= 0xDC00 && u <= 0xDFFF)) return false; /* \u0000, a lone low surrogate, bad hex */
        if (u >= 0xD800 && u <= 0xDBFF) {
            if (i + 12 > len || s[i + 6] != '\\' || s[i + 7] != 'u') return false;
            long lo = hex4(s + i + 8);
            if (lo < 0xDC00 || lo > 0xDFFF) return false;
            i += 12;
        } else {
            i += 6;
        }
    }
    c->i = i + 1;
    return true;
}

static bool is_digit(unsigned char b) { return b >= '0' && b <= '9'; }

static bool check_number(checker *c) {
    const unsigned char *s = c->s;
    size_t i = c->i, len = c->len, start = i;
    if (i < len && s[i] == '-') i++;
    if (i >= len) return false;
    if (s[i] == '0') {
        i++;
    } else if (is_digit(s[i])) {
        while (i < len && is_digit(s[i])) i++;
    } else {
        return false;
    }
    if (i < len && s[i] == '.') {
        i++;
        if (i >= len || !is_digit(s[i])) return false;
        while (i < len && is_digit(s[i])) i++;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-')) i++;
        if (i >= len || !is_digit(s[i])) return false;
        while (i < len && is_digit(s[i])) i++;
    }
    if (i - start >= EP_JSCAN_MAX_NUMBER) return false;
    c->i = i;
    return true;
}

static bool check_word(checker *c, const char *w, size_t n) {
    if (c->len - c->i < n || memcmp(c->s + c->i, w, n) != 0) return false;
    c->i += n;
    return true;
}

static bool check_value(checker *c, int depth) {
    if (c->i >= c->len) return false;
    unsigned char b = c->s[c->i];
    switch (b) {
    case '"': return check_string(c, false);
    case 't': return check_word(c, "true", 4);
    case 'f': return check_word(c, "false", 5);
    case 'n': return check_word(c, "null", 4);
    case '{':
    case '[': break;
    default: return check_number(c);
    }
    if (depth >= EP_JSCAN_MAX_DEPTH) return false;
    bool object = b == '{';
    unsigned char close = object ? '}' : ']';
    c->i++;
    skip_ws(c);
    if (c->i < c->len && c->s[c->i] == close) {
        c->i++;
        return true;
    }
    for (;;) {
        if (object) {
            if (c->i >= c->len || c->s[c->i] != '"' || !check_string(c, true)) return false;
            skip_ws(c);
            if (c->i >= c->len || c->s[c->i] != ':') return false;
            c->i++;
            skip_ws(c);
        }
        if (!check_value(c, depth + 1)) return false;
        skip_ws(c);
        if (c->i >= c->len) return false;
        if (c->s[c->i] == ',') {
            c->i++;
            skip_ws(c);
            continue;
        }
        if (c->s[c->i] != close) return false;
        c->i++;
        return true;
    }
}

bool ep_jscan_plain(const char *s, size_t len) {
    checker c = {(const unsigned char *)s, len, 0};
    skip_ws(&c);
    if (!check_value(&c, 0)) return false;
    skip_ws(&c);
    return c.i == len;
}

// ----------------------------------------------------------------------------
// Skipping and finding, in a document already checked

static size_t skip_ws_at(const char *s, size_t i) {
    while (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t') i++;
    return i;
}

static size_t skip_string(const char *s, size_t i) {
    i++;
    for (;;) {
        char b = s[i];
        if (b == '"') return i + 1;
        i += b == '\\' ? 2 : 1;
    }
}

size_t ep_jscan_string_len(const char *s, size_t at) { return skip_string(s, at) - at; }

size_t ep_jscan_skip(const char *s, size_t i) {
    char b = s[i];
    if (b == '"') return skip_string(s, i);
    if (b != '{' && b != '[') {
        while (s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\n' && s[i] != '\r' &&
               s[i] != '\t' && s[i] != '\0')
            i++;
        return i;
    }
    size_t depth = 0;
    for (;;) {
        b = s[i];
        if (b == '"') {
            i = skip_string(s, i);
            continue;
        }
        if (b == '{' || b == '[') depth++;
        else if ((b == '}' || b == ']') && --depth == 0) return i + 1;
        i++;
    }
}

size_t ep_jscan_first(const char *s, size_t at) {
    size_t i = skip_ws_at(s, at + 1);
    return s[i] == ']' || s[i] == '}' ? 0 : i;
}

size_t ep_jscan_next(const char *s, size_t at) {
    size_t i = skip_ws_at(s, ep_jscan_skip(s, at));
    return s[i] == ',' ? skip_ws_at(s, i + 1) : 0;
}

size_t ep_jscan_member_value(const char *s, size_t key) {
    return skip_ws_at(s, skip_ws_at(s, skip_string(s, key)) + 1);
}

void ep_jscan_cache_reset(ep_jscan_cache *c) {
    c->n_objects = 0;
    c->n_members = 0;
}

void ep_jscan_cache_release(ep_jscan_cache *c) {
    free(c->members);
    memset(c, 0, sizeof *c);
}

/* The members of the object at s[at], indexed on first use. @return the slot, or -1 (out of memory). */
static int object_members(const char *s, size_t at, ep_jscan_cache *c) {
    for (size_t k = 0; k < c->n_objects; k++)
        if (c->objects[k] == at) return (int)k;
    size_t slot = c->n_objects;
    if (slot == sizeof c->objects / sizeof *c->objects) { /* full: start over (a record looks into few objects) */
        ep_jscan_cache_reset(c);
        slot = 0;
    }
    size_t first = c->n_members;
    size_t i = skip_ws_at(s, at + 1);
    while (s[i] == '"') {
        size_t key_end = skip_string(s, i);
        size_t v = skip_ws_at(s, skip_ws_at(s, key_end) + 1);
        if (c->n_members == c->cap_members) {
            size_t cap = c->cap_members ? c->cap_members * 2 : 64;
            ep_jscan_member *grown = realloc(c->members, cap * sizeof *grown);
            if (!grown) return -1;
            c->members = grown;
            c->cap_members = cap;
        }
        c->members[c->n_members++] = (ep_jscan_member){s + i + 1, (uint32_t)(key_end - i - 2), (uint32_t)v};
        i = skip_ws_at(s, ep_jscan_skip(s, v));
        if (s[i] == ',') i = skip_ws_at(s, i + 1);
    }
    c->objects[slot] = at;
    c->first[slot] = first;
    c->count[slot] = c->n_members - first;
    c->n_objects = slot + 1;
    return (int)slot;
}

/* One step into an object: the first member named key. */
static ep_jscan_result member(const char *s, size_t at, const char *key, size_t n, ep_jscan_cache *c, size_t *out) {
    int slot = object_members(s, at, c);
    if (slot < 0) return EP_JSCAN_DEFER;
    const ep_jscan_member *m = c->members + c->first[slot];
    size_t count = c->count[slot];
    bool found = false;
    for (size_t k = 0; k < count; k++) {
        if (m[k].key_len != n || memcmp(m[k].key, key, n) != 0) continue;
        if (found) return EP_JSCAN_DEFER; /* a duplicate key: cJSON's path reports it */
        found = true;
        *out = m[k].value;
    }
    return found ? EP_JSCAN_FOUND : EP_JSCAN_MISSING;
}

static ep_jscan_result element(const char *s, size_t at, int index, size_t *out) {
    size_t i = skip_ws_at(s, at + 1);
    if (s[i] == ']') return EP_JSCAN_MISSING;
    for (int k = 0;; k++) {
        if (k == index) {
            *out = i;
            return EP_JSCAN_FOUND;
        }
        i = skip_ws_at(s, ep_jscan_skip(s, i));
        if (s[i] != ',') return EP_JSCAN_MISSING;
        i = skip_ws_at(s, i + 1);
    }
}

ep_jscan_result ep_jscan_path(const char *s, size_t at, const char *path, ep_jscan_cache *c, size_t *out) {
    const char *p = path;
    size_t node = at;
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n >= 256) return EP_JSCAN_MISSING; /* ep_json_path's step buffer */
        const char *step = p;
        p += n + (dot ? 1 : 0);
        ep_jscan_result r;
        if (s[node] == '{') {
            r = member(s, node, step, n, c, &node);
        } else if (s[node] == '[' && n > 0 && n < 10) {
            size_t d = 0;
            while (d < n && step[d] >= '0' && step[d] <= '9') d++;
            if (d != n) return EP_JSCAN_MISSING;
            r = element(s, node, atoi(step), &node); /* atoi stops at the '.' like at ep_json_path's NUL */
        } else {
            return EP_JSCAN_MISSING;
        }
        if (r != EP_JSCAN_FOUND) return r;
    }
    *out = node;
    return EP_JSCAN_FOUND;
}

// ----------------------------------------------------------------------------
// Decoding a string value

static size_t put_utf8(unsigned long cp, char *o) {
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

size_t ep_jscan_string(const char *s, size_t at, char *out) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = at + 1;
    char *o = out;
    for (;;) {
        size_t run = i;
        while (PLAIN[p[i]]) i++;
        memcpy(o, s + run, i - run);
        o += i - run;
        if (p[i] == '"') break;
        /* an escape: the document was checked, so it is well formed */
        char e = s[i + 1];
        i += 2;
        switch (e) {
        case 'b': *o++ = '\b'; continue;
        case 'f': *o++ = '\f'; continue;
        case 'n': *o++ = '\n'; continue;
        case 'r': *o++ = '\r'; continue;
        case 't': *o++ = '\t'; continue;
        case 'u': break;
        default: *o++ = e; continue; /* \" \\ \/ */
        }
        unsigned long cp = (unsigned long)hex4(p + i);
        i += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            unsigned long lo = (unsigned long)hex4(p + i + 2);
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            i += 6;
        }
        o += put_utf8(cp, o);
    }
    *o = '\0';
    return (size_t)(o - out);
}
