/*
 * grapheme.h - extended grapheme clusters (Unicode UAX #29), cut exactly where the
 * unicode-segmentation crate 1.13.2 (Unicode 17.0.0) cuts them: that is the crate Hugging Face
 * tokenizers' Precompiled normalizer walks its input with, so embedpipe must agree with it
 * rather than with libutf8proc's older tables. The data is tokenizer/grapheme_tables.h.
 */
#ifndef EP_GRAPHEME_H
#define EP_GRAPHEME_H

#include <stddef.h>
#include <stdint.h>

/* The crate's GraphemeCat: Grapheme_Cluster_Break merged with Extended_Pictographic and
 * Indic_Conjunct_Break=Consonant (the order of grapheme_tables.h's values). */
typedef enum ep_gcat {
    EP_GC_ANY, EP_GC_CR, EP_GC_CONTROL, EP_GC_EXTEND, EP_GC_EXT_PICT, EP_GC_INCB_CONSONANT,
    EP_GC_L, EP_GC_LF, EP_GC_LV, EP_GC_LVT, EP_GC_PREPEND, EP_GC_RI, EP_GC_SPACING_MARK,
    EP_GC_T, EP_GC_V, EP_GC_ZWJ
} ep_gcat;

/* @return the grapheme category of code point cp (EP_GC_ANY past U+10FFFF). */
ep_gcat ep_grapheme_category(uint32_t cp);

/* Strict UTF-8 (no overlongs, surrogates or values past U+10FFFF).
 * @return the length of the sequence at p (p < end), or 0 when p does not start a valid one. */
int ep_utf8_decode(const uint8_t *p, const uint8_t *end, uint32_t *cp);

/* The extended grapheme cluster that starts at text[0] (a cluster boundary: the start of the
 * text or the end of the previous cluster). An invalid UTF-8 byte counts as one character
 * U+FFFD, as tokenizer.h's WordPiece does.
 * @return the cluster's length in bytes (>= 1), 0 only when len is 0. */
size_t ep_grapheme_next(const uint8_t *text, size_t len);

#endif /* EP_GRAPHEME_H */
