/* npy.c - write and strictly parse the header of a float16 .npy matrix.
 *
 * The header is a Python dict literal. numpy reads it with ast.literal_eval;
 * here only the exact subset numpy itself writes for a plain array is
 * accepted: the three keys once each, quoted strings without escapes,
 * True/False, a tuple of non-negative integers. Anything else is an error,
 * because a shard embedpipe did not write should not be trusted. */
#include "npy.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const uint8_t k_magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

size_t ep_npy_f16_header(uint8_t *buf, size_t cap, uint64_t rows, uint64_t cols) {
    char dict[EP_NPY_MAX_WRITE_HEADER];
    int n = snprintf(dict, sizeof dict, "{'descr': '<f2', 'fortran_order': False, 'shape': (%" PRIu64 ", %" PRIu64 "), }",
                     rows, cols);
    if (n < 0 || (size_t)n >= sizeof dict) return 0;
    /* preamble (10) + dict + padding + '\n' must be a multiple of 64. */
    size_t total = ((size_t)10 + (size_t)n + 1 + 63) / 64 * 64;
    if (total > cap || total - 10 > 0xffff) return 0;
    memcpy(buf, k_magic, 6);
    buf[6] = 1;
    buf[7] = 0;
    buf[8] = (uint8_t)((total - 10) & 0xff);
    buf[9] = (uint8_t)((total - 10) >> 8);
    memcpy(buf + 10, dict, (size_t)n);
    memset(buf + 10 + n, ' ', total - 10 - (size_t)n - 1);
    buf[total - 1] = '\n';
    return total;
}

ep_status ep_npy_header_size(const uint8_t *p, size_t len, size_t *total, ep_error *err) {
    *total = 0;
    size_t check = len < 6 ? len : 6;
    if (memcmp(p, k_magic, check) != 0) return ep_error_set(err, EP_ERR_FORMAT, "not a .npy array (bad magic)");
    if (len < 8) return EP_OK;
    uint8_t major = p[6], minor = p[7];
    if (minor != 0 || (major != 1 && major != 2))
        return ep_error_set(err, EP_ERR_FORMAT, ".npy version %u.%u is not supported (only 1.0 and 2.0)", major, minor);
    size_t pre = major == 1 ? 10 : 12;
    if (len < pre) return EP_OK;
    uint64_t hlen = major == 1 ? (uint64_t)p[8] | (uint64_t)p[9] << 8
                               : (uint64_t)p[8] | (uint64_t)p[9] << 8 | (uint64_t)p[10] << 16 | (uint64_t)p[11] << 24;
    if (hlen == 0 || hlen > EP_NPY_MAX_READ_HEADER)
        return ep_error_set(err, EP_ERR_FORMAT, ".npy header length %" PRIu64 " is implausible", hlen);
    *total = pre + (size_t)hlen;
    return EP_OK;
}

/* A cursor over the header text; every parse step either advances or fails. */
typedef struct cursor {
    const char *p, *end;
} cursor;

static void skip_space(cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

static bool take(cursor *c, char ch) {
    skip_space(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}

/* A '...' or "..." literal without escapes, at most cap-1 characters. */
static bool parse_string(cursor *c, char *out, size_t cap) {
    skip_space(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return false;
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || n + 1 >= cap) return false;
        out[n++] = *c->p++;
    }
    if (c->p >= c->end) return false;
    c->p++;
    out[n] = '\0';
    return true;
}

static bool parse_word(cursor *c, const char *word) {
    skip_space(c);
    size_t n = strlen(word);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0) return false;
    /* "Falsey" is not False. */
    if ((size_t)(c->end - c->p) > n) {
        char next = c->p[n];
        if ((next >= 'a' && next <= 'z') || (next >= 'A' && next <= 'Z') || (next >= '0' && next <= '9') ||
            next == '_')
            return false;
    }
    c->p += n;
    return true;
}

static bool parse_uint(cursor *c, uint64_t *out) {
    skip_space(c);
    if (c->p >= c->end || *c->p < '0' || *c->p > '9') return false;
    uint64_t v = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        unsigned d = (unsigned)(*c->p - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
        c->p++;
    }
    *out = v;
    return true;
}

/* "(a, b)" or "(a, b,)"; *ndim is the number of entries (at most 8 are looked at). */
static bool parse_shape(cursor *c, uint64_t dims[8], int *ndim) {
    *ndim = 0;
    if (!take(c, '(')) return false;
    for (;;) {
        if (take(c, ')')) return true;
        uint64_t v;
        if (!parse_uint(c, &v)) return false;
        if (*ndim < 8) dims[*ndim] = v;
        (*ndim)++;
        if (*ndim > 64) return false;
        if (take(c, ',')) continue;
        return take(c, ')');
    }
}

ep_status ep_npy_parse_f16_header(const uint8_t *p, size_t total, uint64_t *rows, uint64_t *cols, ep_error *err) {
    size_t pre = p[6] == 1 ? 10 : 12;
    if (total <= pre || p[total - 1] != '\n')
        return ep_error_set(err, EP_ERR_FORMAT, ".npy header does not end with a newline");
    for (size_t i = pre; i < total; i++) {
        if (p[i] == 0 || p[i] >= 0x80)
            return ep_error_set(err, EP_ERR_FORMAT, ".npy header contains a non-ASCII or NUL byte at offset %zu", i);
    }
    cursor c = {(const char *)p + pre, (const char *)p + total};
    bool seen_descr = false, seen_order = false, seen_shape = false;
    uint64_t dims[8];
    int ndim = 0;
    if (!take(&c, '{')) return ep_error_set(err, EP_ERR_FORMAT, ".npy header is not a dict (no '{')");
    for (;;) {
        if (take(&c, '}')) break;
        char key[32];
        if (!parse_string(&c, key, sizeof key) || !take(&c, ':'))
            return ep_error_set(err, EP_ERR_FORMAT, ".npy header dict is malformed near offset %zu",
                                (size_t)(c.p - (const char *)p));
        if (strcmp(key, "descr") == 0) {
            char descr[32];
            if (seen_descr) return ep_error_set(err, EP_ERR_FORMAT, ".npy header repeats 'descr'");
            seen_descr = true;
            if (!parse_string(&c, descr, sizeof descr))
                return ep_error_set(err, EP_ERR_FORMAT, ".npy header: 'descr' is not a simple string");
            if (strcmp(descr, "<f2") != 0)
                return ep_error_set(err, EP_ERR_FORMAT, ".npy dtype is '%s', expected '<f2' (little-endian float16)",
                                    descr);
        } else if (strcmp(key, "fortran_order") == 0) {
            if (seen_order) return ep_error_set(err, EP_ERR_FORMAT, ".npy header repeats 'fortran_order'");
            seen_order = true;
            if (parse_word(&c, "True"))
                return ep_error_set(err, EP_ERR_FORMAT, ".npy array is in Fortran order; only C order is supported");
            if (!parse_word(&c, "False"))
                return ep_error_set(err, EP_ERR_FORMAT, ".npy header: 'fortran_order' is not True or False");
        } else if (strcmp(key, "shape") == 0) {
            if (seen_shape) return ep_error_set(err, EP_ERR_FORMAT, ".npy header repeats 'shape'");
            seen_shape = true;
            if (!parse_shape(&c, dims, &ndim))
                return ep_error_set(err, EP_ERR_FORMAT, ".npy header: 'shape' is not a tuple of integers");
        } else {
            return ep_error_set(err, EP_ERR_FORMAT, ".npy header has an unexpected key '%s'", key);
        }
        if (take(&c, ',')) continue;
        if (take(&c, '}')) break;
        return ep_error_set(err, EP_ERR_FORMAT, ".npy header dict is malformed near offset %zu",
                            (size_t)(c.p - (const char *)p));
    }
    skip_space(&c);
    if (c.p != c.end) return ep_error_set(err, EP_ERR_FORMAT, ".npy header has text after the dict");
    if (!seen_descr || !seen_order || !seen_shape)
        return ep_error_set(err, EP_ERR_FORMAT, ".npy header lacks '%s'",
                            !seen_descr ? "descr" : !seen_order ? "fortran_order" : "shape");
    if (ndim != 2) return ep_error_set(err, EP_ERR_FORMAT, ".npy array has %d dimensions, expected 2 (rows, dim)", ndim);
    *rows = dims[0];
    *cols = dims[1];
    return EP_OK;
}
