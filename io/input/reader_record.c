/*
 * reader_record.c - one record's bytes into a cJSON document, for every JSON
 * format: refused with a reason that names the line and what is wrong (a lone
 * surrogate escape, nesting past cJSON's limit, a parse error and where).
 */
#include "reader_internal.h"

#include <stdio.h>
#include <string.h>

static int hex4(const char *p) {
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

/* @return the first \uD800-\uDFFF escape in s that is not part of a valid
 * high-low pair (cJSON refuses such a string), or NULL. */
static const char *lone_surrogate(const char *s, size_t n) {
    for (size_t i = 0; i + 6 <= n; i++) {
        if (s[i] != '\\') continue;
        if (s[i + 1] != 'u') {
            i++; /* skip the escaped byte (\\ included) */
            continue;
        }
        int v = hex4(s + i + 2);
        if (v >= 0xDC00 && v <= 0xDFFF) return s + i;
        if (v >= 0xD800 && v <= 0xDBFF) {
            int lo = i + 12 <= n && s[i + 6] == '\\' && s[i + 7] == 'u' ? hex4(s + i + 8) : -1;
            if (lo < 0xDC00 || lo > 0xDFFF) return s + i;
            i += 11;
            continue;
        }
        i += 5;
    }
    return NULL;
}

/* @return the deepest nesting of arrays and objects in s (outside strings). */
static long nesting_depth(const char *s, size_t n) {
    long depth = 0, max = 0;
    bool in_string = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_string) {
            if (c == '\\') i++;
            else if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            if (++depth > max) max = depth;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return max;
}

cJSON *ep_parse_record(const char *bytes, size_t len, uint64_t line, bool one_line, bool truncated, char *reason,
                       size_t cap) {
    const char *nul = memchr(bytes, '\0', len);
    const char *end = NULL;
    cJSON *doc = NULL;
    size_t at;
    if (nul) {
        at = (size_t)(nul - bytes);
    } else {
        // Length + 1 takes in the terminating NUL, which makes cJSON refuse anything after the value.
        doc = cJSON_ParseWithLengthOpts(bytes, len + 1, &end, true);
        if (doc) return doc;
        at = end && end >= bytes ? (size_t)(end - bytes) : 0;
        if (at > len) at = len;
    }
    uint64_t err_line = line;
    size_t line_start = 0;
    for (size_t i = 0; i < at; i++) {
        if (bytes[i] == '\n') {
            err_line++;
            line_start = i + 1;
        }
    }
    char where[96], near[128];
    if (one_line)
        snprintf(where, sizeof where, "column %zu", at - line_start + 1);
    else
        snprintf(where, sizeof where, "line %llu, column %zu", (unsigned long long)err_line, at - line_start + 1);
    if (nul) {
        snprintf(reason, cap,
                 "not valid JSON: a NUL byte at %s; remove NUL bytes from the input (tr -d '\\000')", where);
        return NULL;
    }
    // Name the real problem where cJSON only says "parse error": a lone surrogate, or too deep a nesting.
    const char *surrogate = lone_surrogate(bytes, len);
    if (surrogate) {
        char esc[8];
        memcpy(esc, surrogate, 6);
        esc[6] = '\0';
        snprintf(reason, cap,
                 "not valid JSON: a lone UTF-16 surrogate escape '%s' (half of a pair that encodes one character, "
                 "e.g. an emoji cut in two) near %s; the text was cut or badly encoded by the program that wrote it: "
                 "remove the escape or write the whole pair",
                 esc, where);
        return NULL;
    }
    if (nesting_depth(bytes, len) > CJSON_NESTING_LIMIT) {
        snprintf(reason, cap,
                 "not valid JSON for this reader: nested more than %d levels deep (arrays or objects inside each "
                 "other) near %s; a tweet is never that deep, so the record is damaged or not a tweet",
                 CJSON_NESTING_LIMIT, where);
        return NULL;
    }
    ep_snippet(near, sizeof near, bytes + at, len - at, 24);
    snprintf(reason, cap, "not valid JSON: parse error at %s%s%s%s%s", where,
             at < len ? " (near '" : " (at the end of the record)", at < len ? near : "",
             at < len ? "')" : "",
             truncated ? "; the last line has no newline, so the file is probably truncated" : "");
    return NULL;
}
