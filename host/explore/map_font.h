/*
 * map_font.h - a 5x7 bitmap font for the labels of the PNG map (map_png.h), so that a still image
 * needs no font library: capitals, digits and common punctuation; small letters are drawn as
 * capitals, Latin-1 letters as their base letter (é as E), anything else as a hollow box.
 */
#ifndef EP_MAP_FONT_H
#define EP_MAP_FONT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { EP_FONT_W = 5, EP_FONT_H = 7 };

/* The glyph of a code point: 7 rows, bit 4 the leftmost pixel. @return a pointer to static rows. */
const uint8_t *ep_map_font_glyph(uint32_t codepoint);

/* Decodes the next UTF-8 code point of *s and advances *s (a bad byte gives U+FFFD). @return it, 0 at the end. */
uint32_t ep_map_font_next(const char **s);

#ifdef __cplusplus
}
#endif

#endif /* EP_MAP_FONT_H */
