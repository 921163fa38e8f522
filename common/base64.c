/*
 * base64.c - strict standard base64 decoding (see base64.h for what is refused and why).
 */
#include "base64.h"

// @return the 6-bit value of base64 character c, or -1 for '=' and -2 outside the alphabet.
static int sextet(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return c == '=' ? -1 : -2;
}

size_t ep_base64_decoded_size(size_t len) { return len / 4 * 3 + 3; }

// Decodes the last quantum q[0..3] (which may end in one or two '='). @return bytes written or -1.
static int last_quantum(const char *q, size_t at, uint8_t *out, ep_error *err) {
    int v[4];
    for (int i = 0; i < 4; i++) v[i] = sextet((unsigned char)q[i]);
    int pad = v[3] == -1 ? (v[2] == -1 ? 2 : 1) : 0;
    for (int i = 0; i < 4 - pad; i++) {
        if (v[i] < 0) {
            const char *what = v[i] == -1 ? "padding '=' before the end" : "a character outside the alphabet";
            ep_error_set(err, EP_ERR_FORMAT, "base64: %s at offset %zu", what, at + (size_t)i);
            return -1;
        }
    }
    if (pad == 2 && (v[1] & 0x0F)) {
        ep_error_set(err, EP_ERR_FORMAT, "base64: non-zero bits after the last byte at offset %zu", at + 1);
        return -1;
    }
    if (pad == 1 && (v[2] & 0x03)) {
        ep_error_set(err, EP_ERR_FORMAT, "base64: non-zero bits after the last byte at offset %zu", at + 2);
        return -1;
    }
    uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)(pad < 2 ? v[2] : 0) << 6 |
                 (uint32_t)(pad < 1 ? v[3] : 0);
    out[0] = (uint8_t)(w >> 16);
    if (pad < 2) out[1] = (uint8_t)(w >> 8);
    if (pad < 1) out[2] = (uint8_t)w;
    return 3 - pad;
}

ep_status ep_base64_decode(const char *text, size_t len, uint8_t *out, size_t *out_len, ep_error *err) {
    *out_len = 0;
    if (len % 4 != 0)
        return ep_error_set(err, EP_ERR_FORMAT, "base64: %zu characters is not a multiple of 4 (padding missing?)",
                            len);
    size_t n = 0;
    for (size_t i = 0; i + 4 < len; i += 4) {
        int v[4];
        for (int k = 0; k < 4; k++) {
            v[k] = sextet((unsigned char)text[i + (size_t)k]);
            if (v[k] < 0)
                return ep_error_set(err, EP_ERR_FORMAT, "base64: %s at offset %zu",
                                    v[k] == -1 ? "padding '=' before the end" : "a character outside the alphabet",
                                    i + (size_t)k);
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        out[n++] = (uint8_t)(w >> 16);
        out[n++] = (uint8_t)(w >> 8);
        out[n++] = (uint8_t)w;
    }
    if (len > 0) {
        int last = last_quantum(text + len - 4, len - 4, out + n, err);
        if (last < 0) return EP_ERR_FORMAT; // last_quantum said why
        n += (size_t)last;
    }
    *out_len = n;
    return EP_OK;
}
