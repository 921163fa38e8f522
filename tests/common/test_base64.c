/*
 * test_base64 - strict base64 decoding: the RFC 4648 section 10 vectors, a round trip of random
 * bytes of every length up to 300 through a plain encoder written here, and the inputs the decoder
 * must refuse (Rust's base64 STANDARD engine, which tokenizers decodes its charsmaps with, refuses
 * them too: no whitespace, canonical padding only, no non-zero trailing bits, no URL-safe letters).
 */
#include "base64.h"
#include "test_util.h"

static size_t encode(const uint8_t *in, size_t n, char *out) {
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t k = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t w = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
        out[k++] = abc[w >> 18 & 63];
        out[k++] = abc[w >> 12 & 63];
        out[k++] = i + 1 < n ? abc[w >> 6 & 63] : '=';
        out[k++] = i + 2 < n ? abc[w & 63] : '=';
    }
    return k;
}

static void check_decodes(const char *text, const void *want, size_t want_len) {
    uint8_t out[512];
    size_t n = 99;
    ep_error err = {0};
    ep_status st = ep_base64_decode(text, strlen(text), out, &n, &err);
    CHECKF(st == EP_OK && n == want_len && memcmp(out, want, n) == 0, "\"%s\": status %d, %zu bytes, %s", text,
           (int)st, n, err.message);
}

static void check_refuses(const char *text, const char *needle) {
    uint8_t out[64];
    size_t n = 99;
    ep_error err = {0};
    ep_status st = ep_base64_decode(text, strlen(text), out, &n, &err);
    CHECKF(st == EP_ERR_FORMAT && n == 0 && strstr(err.message, needle), "\"%s\": status %d, \"%s\" (want \"%s\")",
           text, (int)st, err.message, needle);
}

int main(void) {
    static const char *const rfc[][2] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},   {"foo", "Zm9v"},
                                         {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
    for (size_t i = 0; i < sizeof rfc / sizeof rfc[0]; i++) check_decodes(rfc[i][1], rfc[i][0], strlen(rfc[i][0]));

    uint64_t rng = 0x243F6A8885A308D3ull;
    for (size_t n = 0; n <= 300; n++) {
        uint8_t in[300], out[400];
        char text[404];
        for (size_t i = 0; i < n; i++) in[i] = (uint8_t)ep_test_rand(&rng);
        size_t len = encode(in, n, text), got = 0;
        ep_error err = {0};
        CHECKF(ep_base64_decoded_size(len) >= n, "decoded size %zu < %zu", ep_base64_decoded_size(len), n);
        CHECKF(ep_base64_decode(text, len, out, &got, &err) == EP_OK && got == n && memcmp(in, out, n) == 0,
               "round trip of %zu bytes: %s", n, err.message);
    }

    check_refuses("Zg=", "not a multiple of 4");
    check_refuses("Zg", "not a multiple of 4");
    check_refuses("Zm9vYg", "not a multiple of 4");
    check_refuses("Zh==", "non-zero bits");
    check_refuses("Zm9=", "non-zero bits");
    check_refuses("Z===", "padding");
    check_refuses("====", "padding");
    check_refuses("Zg==Zg==", "padding");
    check_refuses("Zm9v Zm9v", "not a multiple of 4");
    check_refuses("Zm 9", "outside the alphabet");
    check_refuses("Zm9v\nZm9", "outside the alphabet");
    check_refuses("Zm-v", "outside the alphabet");
    check_refuses("Zm_v", "outside the alphabet");
    check_refuses("Zm9\xC3", "outside the alphabet");
    return ep_test_finish("test_base64");
}
