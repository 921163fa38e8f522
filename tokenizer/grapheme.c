/*
 * grapheme.c - extended grapheme cluster boundaries, rule for rule as the unicode-segmentation
 * crate 1.13.2 decides them (its check_pair and the look-behinds of GB9c, GB11 and GB12/13).
 *
 * The crate decides GB9c, GB11 and GB12/13 by scanning backwards from a candidate boundary;
 * here one forward pass carries the same facts in three small states. A cluster never needs
 * context from before its own start (the look-behinds only cross characters that never start a
 * cluster, and a cluster always starts after an even number of regional indicators), so each
 * call starts fresh.
 */
#include "grapheme.h"

#include <stdbool.h>

#include "grapheme_tables.h"

enum { INCB_EXTEND = 0x10, INCB_LINKER = 0x20 };

static inline uint8_t grapheme_value(uint32_t cp) {
    if (cp >= 0x110000) return EP_GC_ANY;
    return ep_grapheme_stage2[(size_t)ep_grapheme_stage1[cp / EP_GRAPHEME_BLOCK] * EP_GRAPHEME_BLOCK +
                              cp % EP_GRAPHEME_BLOCK];
}

ep_gcat ep_grapheme_category(uint32_t cp) { return (ep_gcat)(grapheme_value(cp) & 0x0F); }

int ep_utf8_decode(const uint8_t *p, const uint8_t *end, uint32_t *cp) {
    size_t left = (size_t)(end - p);
    uint8_t c = p[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        if (left < 2 || (p[1] & 0xC0) != 0x80) return 0;
        *cp = (uint32_t)(c & 0x1F) << 6 | (p[1] & 0x3Fu);
        return 2;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        if (left < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) return 0;
        if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] >= 0xA0)) return 0; // overlong, surrogate
        *cp = (uint32_t)(c & 0x0F) << 12 | (uint32_t)(p[1] & 0x3F) << 6 | (p[2] & 0x3Fu);
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (left < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80) return 0;
        if ((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] >= 0x90)) return 0; // overlong, > U+10FFFF
        *cp = (uint32_t)(c & 0x07) << 18 | (uint32_t)(p[1] & 0x3F) << 12 | (uint32_t)(p[2] & 0x3F) << 6 |
              (p[3] & 0x3Fu);
        return 4;
    }
    return 0;
}

// What the crate's look-behinds would find, carried forward over the cluster so far.
typedef struct cluster_state {
    enum { EMOJI_NONE, EMOJI_PICT, EMOJI_PICT_ZWJ } emoji; // GB11: ExtPict Extend* ZWJ so far
    enum { INCB_NONE, INCB_CONSONANT, INCB_LINKED } incb;  // GB9c: Consonant [Extend Linker]* Linker
    unsigned regional;                                     // GB12/13: regional indicators in a row
} cluster_state;

static void state_push(cluster_state *s, uint8_t value) {
    ep_gcat cat = (ep_gcat)(value & 0x0F);
    if (cat == EP_GC_EXT_PICT) s->emoji = EMOJI_PICT;
    else if (cat == EP_GC_EXTEND && s->emoji == EMOJI_PICT) s->emoji = EMOJI_PICT;
    else if (cat == EP_GC_ZWJ && s->emoji == EMOJI_PICT) s->emoji = EMOJI_PICT_ZWJ;
    else s->emoji = EMOJI_NONE;

    if (cat == EP_GC_INCB_CONSONANT) s->incb = INCB_CONSONANT;
    else if (value & INCB_LINKER) s->incb = s->incb == INCB_NONE ? INCB_NONE : INCB_LINKED;
    else if (!(value & INCB_EXTEND)) s->incb = INCB_NONE;

    s->regional = cat == EP_GC_RI ? s->regional + 1 : 0;
}

// The crate's check_pair plus its look-behinds, in its order of rules.
// @return whether there is a boundary between a character of category before and one of after.
static bool is_break(ep_gcat before, ep_gcat after, const cluster_state *s) {
    if (before == EP_GC_CR && after == EP_GC_LF) return false;                              // GB3
    if (before == EP_GC_CONTROL || before == EP_GC_CR || before == EP_GC_LF) return true;   // GB4
    if (after == EP_GC_CONTROL || after == EP_GC_CR || after == EP_GC_LF) return true;      // GB5
    if (before == EP_GC_L && (after == EP_GC_L || after == EP_GC_V || after == EP_GC_LV || after == EP_GC_LVT))
        return false;                                                                        // GB6
    if ((before == EP_GC_LV || before == EP_GC_V) && (after == EP_GC_V || after == EP_GC_T)) return false; // GB7
    if ((before == EP_GC_LVT || before == EP_GC_T) && after == EP_GC_T) return false;      // GB8
    if (after == EP_GC_EXTEND || after == EP_GC_ZWJ) return false;                          // GB9
    if (after == EP_GC_SPACING_MARK) return false;                                          // GB9a
    if (before == EP_GC_PREPEND) return false;                                              // GB9b
    if (after == EP_GC_INCB_CONSONANT) return s->incb != INCB_LINKED;                       // GB9c
    if (before == EP_GC_ZWJ && after == EP_GC_EXT_PICT) return s->emoji != EMOJI_PICT_ZWJ;  // GB11
    if (before == EP_GC_RI && after == EP_GC_RI) return s->regional % 2 == 0;               // GB12, GB13
    return true;                                                                            // GB999
}

// One character at p: its value in the tables and its length (an invalid byte is U+FFFD).
static int next_char(const uint8_t *p, const uint8_t *end, uint8_t *value) {
    uint32_t cp = 0xFFFD;
    int n = ep_utf8_decode(p, end, &cp);
    *value = grapheme_value(n ? cp : 0xFFFD);
    return n ? n : 1;
}

size_t ep_grapheme_next(const uint8_t *text, size_t len) {
    if (len == 0) return 0;
    const uint8_t *end = text + len;
    cluster_state s = {EMOJI_NONE, INCB_NONE, 0};
    uint8_t value;
    size_t pos = (size_t)next_char(text, end, &value);
    state_push(&s, value);
    while (pos < len) {
        uint8_t next;
        int n = next_char(text + pos, end, &next);
        if (is_break((ep_gcat)(value & 0x0F), (ep_gcat)(next & 0x0F), &s)) break;
        state_push(&s, next);
        value = next;
        pos += (size_t)n;
    }
    return pos;
}
