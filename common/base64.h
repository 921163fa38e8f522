/*
 * base64.h - strict decoding of standard base64 (RFC 4648 section 4: A-Z a-z 0-9 + /, '='
 * padding required), the encoding tokenizer.json uses for binary fields such as the
 * Precompiled normalizer's charsmap. Strict as Rust's base64 STANDARD engine that tokenizers
 * decodes them with: no whitespace, no missing or extra padding, no non-zero trailing bits.
 */
#ifndef EP_BASE64_H
#define EP_BASE64_H

#include <stddef.h>
#include <stdint.h>

#include "embedpipe.h"

/* @return the decoded size of len base64 characters (an upper bound when the text is invalid). */
size_t ep_base64_decoded_size(size_t len);

/* Decodes text (len characters) into out, which holds ep_base64_decoded_size(len) bytes.
 * @return EP_OK and *out_len set; EP_ERR_FORMAT naming the first bad character's offset and
 *         what is wrong (a character outside the alphabet, a length that is not a multiple of
 *         4, misplaced padding, non-zero bits after the last byte). */
ep_status ep_base64_decode(const char *text, size_t len, uint8_t *out, size_t *out_len, ep_error *err);

#endif /* EP_BASE64_H */
