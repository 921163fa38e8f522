/*
 * utf8.h - UTF-8 encoding and strict decoding, shared by the tokenizer's files
 * (static inline: they sit in every hot loop).
 */
#ifndef EP_TOK_UTF8_H
#define EP_TOK_UTF8_H

#include <stddef.h>
#include <stdint.h>

// @return the bytes written to out (1..4).
static inline int ep_utf8_encode(int32_t cp, uint8_t *out) {
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | (cp >> 6));
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | (cp >> 12));
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | (cp >> 18));
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

// Strict UTF-8 (no overlongs, surrogates or values past U+10FFFF).
// @return the sequence length, or 0 when p does not start a valid sequence.
static inline int ep_utf8_decode(const uint8_t *p, const uint8_t *end, int32_t *cp) {
    size_t left = (size_t)(end - p);
    uint8_t c = p[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        if (left < 2 || (p[1] & 0xC0) != 0x80) return 0;
        *cp = ((c & 0x1F) << 6) | (p[1] & 0x3F);
        return 2;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        if (left < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && p[1] < 0xA0) return 0;  // overlong
        if (c == 0xED && p[1] >= 0xA0) return 0; // surrogate
        *cp = ((c & 0x0F) << 12) | ((p[1] & 0x3F) << 6) | (p[2] & 0x3F);
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (left < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80) return 0;
        if (c == 0xF0 && p[1] < 0x90) return 0;  // overlong
        if (c == 0xF4 && p[1] >= 0x90) return 0; // past U+10FFFF
        *cp = ((c & 0x07) << 18) | ((p[1] & 0x3F) << 12) | ((p[2] & 0x3F) << 6) | (p[3] & 0x3F);
        return 4;
    }
    return 0;
}

// Decodes the code point at s[i] of valid UTF-8 (text the tokenizer already checked or built).
// @return its length in bytes.
static inline int ep_utf8_next(const char *s, size_t n, size_t i, int32_t *cp) {
    const uint8_t *p = (const uint8_t *)s + i;
    int len = ep_utf8_decode(p, (const uint8_t *)s + n, cp);
    if (len) return len;
    *cp = 0xFFFD; // cannot happen on checked text; keeps the caller moving
    return 1;
}

// @return the start of the code point that ends at s[i] (i > 0), in valid UTF-8.
static inline size_t ep_utf8_prev(const char *s, size_t i) {
    do i--;
    while (i > 0 && ((uint8_t)s[i] & 0xC0) == 0x80);
    return i;
}

// Python's bytes.decode("utf-8", errors="replace") length bookkeeping: an invalid
// sequence is replaced by one U+FFFD per maximal subpart (the longest prefix of a
// valid sequence, or one byte).
// @return the bytes p[0..] that one U+FFFD replaces (p[0] starts no valid sequence).
static inline int ep_utf8_invalid_len(const uint8_t *p, const uint8_t *end) {
    uint8_t c = p[0];
    int need = (c >= 0xC2 && c <= 0xDF) ? 2 : (c >= 0xE0 && c <= 0xEF) ? 3 : (c >= 0xF0 && c <= 0xF4) ? 4 : 0;
    if (!need) return 1;
    uint8_t lo = 0x80, hi = 0xBF; // the second byte's valid range
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
    int k = 1;
    if (p + k < end && p[k] >= lo && p[k] <= hi) {
        k++;
        while (k < need && p + k < end && (p[k] & 0xC0) == 0x80) k++;
    }
    return k;
}

#endif /* EP_TOK_UTF8_H */
