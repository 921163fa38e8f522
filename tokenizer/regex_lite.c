/*
 * regex_lite.c - parsing and backtracking matching of the pattern subset of
 * regex_lite.h. A pattern is a list of alternatives; an alternative a list of
 * atoms; an atom a character set (or an anchor) with a repeat range.
 */
#include "regex_lite.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"
#include "utf8.h"

#define MAX_ATOMS 32
#define MAX_ALTS 16
#define MAX_RANGES 16
#define INF 0xFFFF

enum { A_SET, A_ANY, A_BOS, A_EOS, A_EOSNL, A_BOL, A_EOL };
#define SET_SPACE 1u     // \s inside the set
#define SET_NOT_SPACE 2u // \S inside the set

typedef struct atom {
    uint8_t kind, negate, classes;
    uint8_t n_ranges;
    uint16_t min, max;
    int32_t range[MAX_RANGES][2];
} atom;

typedef struct alt {
    atom a[MAX_ATOMS];
    int n;
    bool bos;       // starts with \A: can match at offset 0 only
    int first_byte; // >= 0: every match starts with this ASCII byte (a quick filter for find)
} alt;

struct ep_tok_regex {
    alt *alts;
    int n_alts;
};

typedef struct parser {
    const char *p, *end;
    char *why;
    size_t why_cap;
} parser;

static int refuse(parser *ps, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->why, ps->why_cap, fmt, ap);
    va_end(ap);
    return -1;
}

static int next_cp(parser *ps, int32_t *cp) {
    int n = ep_utf8_decode((const uint8_t *)ps->p, (const uint8_t *)ps->end, cp);
    if (!n) return refuse(ps, "the pattern is not valid UTF-8");
    ps->p += n;
    return 0;
}

static int hex_value(parser *ps, int digits, int32_t *cp) {
    int32_t v = 0;
    for (int i = 0; i < digits; i++, ps->p++) {
        char c = ps->p < ps->end ? *ps->p : 0;
        int d = (c >= '0' && c <= '9') ? c - '0' : ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') ? (c | 0x20) - 'a' + 10 : -1;
        if (d < 0) return refuse(ps, "a \\x or \\u escape needs %d hex digits", digits);
        v = v * 16 + d;
    }
    *cp = v;
    return 0;
}

// An escape after the backslash. @return 0 (a character in *cp), 1 (a class in *cls),
// 2 (an anchor in *cls), -1 (refused).
static int escape(parser *ps, int32_t *cp, int *cls) {
    *cp = 0;
    if (ps->p >= ps->end) return refuse(ps, "the pattern ends with a backslash");
    char c = *ps->p++;
    switch (c) {
    case 't': *cp = '\t'; return 0;
    case 'n': *cp = '\n'; return 0;
    case 'r': *cp = '\r'; return 0;
    case 'f': *cp = '\f'; return 0;
    case 'v': *cp = '\v'; return 0;
    case 'x': return hex_value(ps, 2, cp);
    case 'u': return hex_value(ps, 4, cp);
    case 's': *cls = SET_SPACE; return 1;
    case 'S': *cls = SET_NOT_SPACE; return 1;
    case 'A': *cls = A_BOS; return 2;
    case 'z': *cls = A_EOS; return 2;
    case 'Z': *cls = A_EOSNL; return 2;
    default: break;
    }
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || (uint8_t)c >= 0x80)
        return refuse(ps, "the escape \\%c is not supported (supported: \\s \\S \\t \\n \\r \\f \\v \\xHH \\uHHHH "
                          "\\A \\z \\Z and escaped punctuation)", c);
    *cp = (uint8_t)c;
    return 0;
}

static int add_range(parser *ps, atom *t, int32_t lo, int32_t hi) {
    if (t->n_ranges == MAX_RANGES) return refuse(ps, "a character class holds more than %d ranges", MAX_RANGES);
    if (lo > hi) return refuse(ps, "a character class range is reversed");
    t->range[t->n_ranges][0] = lo;
    t->range[t->n_ranges][1] = hi;
    t->n_ranges++;
    return 0;
}

// One item of a class: a character, a range or \s / \S.
static int class_item(parser *ps, atom *t) {
    int32_t lo = 0;
    int cls = 0;
    if (*ps->p == '[') return refuse(ps, "nested classes and POSIX brackets ([[:alpha:]]) are not supported");
    if (*ps->p == '\\') {
        ps->p++;
        int k = escape(ps, &lo, &cls);
        if (k < 0) return -1;
        if (k == 2) return refuse(ps, "anchors cannot stand in a character class");
        if (k == 1) {
            t->classes |= (uint8_t)cls;
            return 0;
        }
    } else if (next_cp(ps, &lo)) {
        return -1;
    }
    int32_t hi = lo;
    if (ps->p + 1 < ps->end && *ps->p == '-' && ps->p[1] != ']') {
        ps->p++;
        if (*ps->p == '\\') {
            ps->p++;
            if (escape(ps, &hi, &cls) != 0) return refuse(ps, "a range must end with a character");
        } else if (next_cp(ps, &hi)) {
            return -1;
        }
    }
    return add_range(ps, t, lo, hi);
}

static int parse_class(parser *ps, atom *t) {
    t->kind = A_SET;
    if (ps->p < ps->end && *ps->p == '^') {
        t->negate = 1;
        ps->p++;
    }
    bool first = true;
    while (ps->p < ps->end && (*ps->p != ']' || first)) {
        if (ps->p + 1 < ps->end && ps->p[0] == '&' && ps->p[1] == '&')
            return refuse(ps, "class intersection (&&) is not supported");
        if (class_item(ps, t)) return -1;
        first = false;
    }
    if (ps->p >= ps->end) return refuse(ps, "a character class is not closed");
    ps->p++;
    return 0;
}

static int parse_count(parser *ps, int *v) {
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') return -1;
    long x = 0;
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') x = x * 10 + (*ps->p++ - '0');
    if (x >= INF) return refuse(ps, "a repeat count is larger than %d", INF - 1);
    *v = (int)x;
    return 0;
}

// An optional quantifier after an atom.
static int quantifier(parser *ps, atom *t) {
    t->min = t->max = 1;
    if (ps->p >= ps->end) return 0;
    char c = *ps->p;
    int lo = 1, hi = 1;
    if (c == '*' || c == '+' || c == '?') {
        lo = c == '+' ? 1 : 0;
        hi = c == '?' ? 1 : INF;
        ps->p++;
    } else if (c == '{') {
        ps->p++;
        if (parse_count(ps, &lo)) return refuse(ps, "a '{' that is not a repeat count {n}, {n,} or {n,m}");
        hi = lo;
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            hi = INF;
            if (ps->p < ps->end && *ps->p != '}' && parse_count(ps, &hi)) return -1;
        }
        if (ps->p >= ps->end || *ps->p != '}' || hi < lo) return refuse(ps, "a malformed repeat count");
        ps->p++;
    } else {
        return 0;
    }
    if (t->kind != A_SET && t->kind != A_ANY) return refuse(ps, "an anchor cannot be repeated");
    if (ps->p < ps->end && (*ps->p == '?' || *ps->p == '+'))
        return refuse(ps, "lazy and possessive quantifiers are not supported");
    t->min = (uint16_t)lo;
    t->max = (uint16_t)hi;
    return 0;
}

static int parse_atom(parser *ps, atom *t) {
    memset(t, 0, sizeof *t);
    int32_t cp = 0;
    int cls = 0;
    char c = *ps->p;
    if (c == '(' || c == ')') return refuse(ps, "groups (...) are not supported");
    if (c == '*' || c == '+' || c == '?' || c == '{') return refuse(ps, "a quantifier follows nothing");
    if (c == '[') {
        ps->p++;
        if (parse_class(ps, t)) return -1;
    } else if (c == '.' || c == '^' || c == '$') {
        ps->p++;
        t->kind = c == '.' ? A_ANY : c == '^' ? A_BOL : A_EOL;
    } else if (c == '\\') {
        ps->p++;
        int k = escape(ps, &cp, &cls);
        if (k < 0) return -1;
        t->kind = k == 2 ? (uint8_t)cls : A_SET;
        if (k == 1) t->classes = (uint8_t)cls;
        if (k == 0 && add_range(ps, t, cp, cp)) return -1;
    } else {
        if (next_cp(ps, &cp) || add_range(ps, t, cp, cp)) return -1;
    }
    return quantifier(ps, t);
}

static int parse(parser *ps, ep_tok_regex *re, bool literal) {
    alt *a = &re->alts[re->n_alts++];
    a->n = 0;
    while (ps->p < ps->end) {
        if (!literal && *ps->p == '|') {
            if (re->n_alts == MAX_ALTS) return refuse(ps, "more than %d alternatives", MAX_ALTS);
            ps->p++;
            a = &re->alts[re->n_alts++];
            a->n = 0;
            continue;
        }
        if (a->n == MAX_ATOMS) return refuse(ps, "more than %d atoms in one alternative", MAX_ATOMS);
        atom *t = &a->a[a->n++];
        if (literal) {
            int32_t cp = 0;
            memset(t, 0, sizeof *t);
            t->min = t->max = 1;
            if (next_cp(ps, &cp) || add_range(ps, t, cp, cp)) return -1;
        } else if (parse_atom(ps, t)) {
            return -1;
        }
    }
    for (int i = 0; i < re->n_alts; i++) { // what lets find skip positions without matching
        alt *x = &re->alts[i];
        int k = 0;
        x->bos = x->n > 0 && x->a[0].kind == A_BOS;
        while (k < x->n && x->a[k].kind == A_BOS) k++;
        const atom *t = k < x->n ? &x->a[k] : NULL;
        x->first_byte = t && t->kind == A_SET && !t->negate && !t->classes && t->n_ranges == 1 && t->min > 0 &&
                                t->range[0][0] == t->range[0][1] && t->range[0][0] < 0x80
                            ? t->range[0][0]
                            : -1;
    }
    for (int i = 0; i < re->n_alts; i++) {
        int len = 0;
        for (int k = 0; k < re->alts[i].n; k++)
            if (re->alts[i].a[k].kind == A_SET || re->alts[i].a[k].kind == A_ANY) len += re->alts[i].a[k].min;
        if (!len) return refuse(ps, "the pattern can match the empty string");
    }
    return 0;
}

ep_tok_regex *ep_tok_regex_compile(const char *pattern, size_t len, bool literal, char *why, size_t why_cap) {
    parser ps = {pattern, pattern + len, why, why_cap};
    ep_tok_regex *re = calloc(1, sizeof *re);
    if (re) re->alts = malloc(sizeof *re->alts * MAX_ALTS);
    if (!re || !re->alts) {
        snprintf(why, why_cap, "out of memory");
        ep_tok_regex_free(re);
        return NULL;
    }
    if (parse(&ps, re, literal)) {
        ep_tok_regex_free(re);
        return NULL;
    }
    return re;
}

void ep_tok_regex_free(ep_tok_regex *re) {
    if (!re) return;
    free(re->alts);
    free(re);
}

// ---------------------------------------------------------------------------
// Matching

static int in_set(const atom *t, int32_t cp) {
    if (t->kind == A_ANY) return cp != '\n';
    int in = 0;
    for (int i = 0; i < t->n_ranges && !in; i++) in = cp >= t->range[i][0] && cp <= t->range[i][1];
    if (!in && t->classes) {
        int sp = ep_hf_is_whitespace(cp);
        in = ((t->classes & SET_SPACE) && sp) || ((t->classes & SET_NOT_SPACE) && !sp);
    }
    return in != t->negate;
}

static int anchor_holds(int kind, const char *s, size_t n, size_t pos) {
    switch (kind) {
    case A_BOS: return pos == 0;
    case A_EOS: return pos == n;
    case A_EOSNL: return pos == n || (pos + 1 == n && s[pos] == '\n');
    case A_BOL: return pos == 0 || s[pos - 1] == '\n';
    default: return pos == n || s[pos] == '\n'; // A_EOL
    }
}

// @return the end of a match of atoms a->a[i..] at pos, or -1.
static long match_here(const alt *a, int i, const char *s, size_t n, size_t pos) {
    if (i == a->n) return (long)pos;
    const atom *t = &a->a[i];
    if (t->kind != A_SET && t->kind != A_ANY)
        return anchor_holds(t->kind, s, n, pos) ? match_here(a, i + 1, s, n, pos) : -1;
    size_t p = pos;
    int count = 0;
    while (count < t->max && p < n) {
        int32_t cp;
        int len = ep_utf8_next(s, n, p, &cp);
        if (!in_set(t, cp)) break;
        p += (size_t)len;
        count++;
    }
    if (count < t->min) return -1;
    for (;;) { // greedy: the longest run first, then give back one character at a time
        long r = match_here(a, i + 1, s, n, p);
        if (r >= 0 || count == t->min) return r;
        p = ep_utf8_prev(s, p);
        count--;
    }
}

int ep_tok_regex_find(const ep_tok_regex *re, const char *s, size_t n, size_t from, size_t *ms, size_t *me) {
    for (size_t start = from; start < n;) {
        for (int k = 0; k < re->n_alts; k++) {
            const alt *x = &re->alts[k];
            if ((x->bos && start) || (x->first_byte >= 0 && (uint8_t)s[start] != x->first_byte)) continue;
            long end = match_here(x, 0, s, n, start);
            if (end > (long)start) {
                *ms = start;
                *me = (size_t)end;
                return 1;
            }
        }
        int32_t cp;
        start += (size_t)ep_utf8_next(s, n, start, &cp);
    }
    return 0;
}
