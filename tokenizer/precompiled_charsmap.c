/*
 * precompiled_charsmap.c - SentencePiece's precompiled normalisation map: parsing and checking
 * the blob (darts-clone double array + strings), the prefix lookup, and the grapheme walk that
 * tokenizers' Precompiled normalizer does (precompiled_charsmap.h says what and why).
 */
#include "precompiled_charsmap.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "grapheme.h"

// A cluster of fewer bytes than this is looked up whole (tokenizers: grapheme.len() < 6).
#define WHOLE_CLUSTER_LIMIT 6

struct ep_charsmap {
    uint32_t *units;   // the darts-clone double array
    size_t n_units;
    char *strings;     // the replacement strings, NUL-terminated, back to back
    size_t n_strings;
    int32_t ascii_value[128]; // the lookup of each one-byte key: offset into strings, or -1
    uint8_t ascii_len[128];
};

// ----------------------------------------------------------------------------
// darts-clone units: bit 8 has_leaf, bits 0-7 the label (bit 31 set marks a value unit, so it
// never matches a label), bits 10-31 the offset to the children (shifted by 8 more when bit 9
// is set); a value unit holds its value in bits 0-30.

static inline bool unit_has_leaf(uint32_t u) { return (u >> 8) & 1; }
static inline uint32_t unit_value(uint32_t u) { return u & 0x7FFFFFFFu; }
static inline uint32_t unit_label(uint32_t u) { return u & 0x800000FFu; }
static inline size_t unit_offset(uint32_t u) { return (size_t)(u >> 10) << ((u & (1u << 9)) >> 6); }

int ep_charsmap_lookup(const ep_charsmap *m, const uint8_t *key, size_t len, const char **value) {
    // Checked at load: every reachable node's 256 child slots and value unit lie in the array.
    size_t pos = unit_offset(m->units[0]);
    for (size_t i = 0; i < len && key[i] != 0; i++) {
        pos ^= key[i];
        uint32_t u = m->units[pos];
        if (unit_label(u) != key[i]) return -1;
        pos ^= unit_offset(u);
        if (unit_has_leaf(u)) {
            const char *s = m->strings + unit_value(m->units[pos]);
            const char *nul = memchr(s, 0, (size_t)(m->strings + m->n_strings - s));
            *value = s;
            return (int)(nul ? nul - s : m->strings + m->n_strings - s);
        }
    }
    return -1;
}

// ----------------------------------------------------------------------------
// Loading: the checks make every lookup safe without a bounds test and refuse what tokenizers
// would panic on or refuse.

static bool utf8_valid(const uint8_t *s, size_t n) {
    const uint8_t *end = s + n;
    while (s < end) {
        uint32_t cp;
        int k = ep_utf8_decode(s, end, &cp);
        if (!k) return false;
        s += k;
    }
    return true;
}

// Checks the node at pos and queues the children not seen yet (each unit is checked once: darts-clone
// builds from a DAWG, so a node may have several parents). @return EP_OK or why not.
static ep_status check_node(const ep_charsmap *m, size_t pos, uint8_t *seen, size_t *stack, size_t *top,
                            ep_error *err) {
    uint32_t u = m->units[pos];
    size_t base = pos ^ unit_offset(u);
    if ((base | 0xFF) >= m->n_units)
        return ep_error_set(err, EP_ERR_FORMAT, "precompiled_charsmap: unit %zu points at children outside the "
                            "double array (%zu units)", pos, m->n_units);
    if (pos != 0 && unit_has_leaf(u)) {
        uint32_t v = m->units[base];
        if (!(v >> 31) || unit_value(v) > m->n_strings ||
            (unit_value(v) < m->n_strings && (m->strings[unit_value(v)] & 0xC0) == 0x80))
            return ep_error_set(err, EP_ERR_FORMAT, "precompiled_charsmap: unit %zu's value %u is not the start of a "
                                "string (%zu bytes of strings)", pos, unit_value(v), m->n_strings);
    }
    for (unsigned c = 1; c < 256; c++) {
        size_t child = base ^ c;
        if (unit_label(m->units[child]) != c || seen[child]) continue; // darts-clone shares suffixes: a DAG
        seen[child] = 1;
        stack[(*top)++] = child;
    }
    return EP_OK;
}

// Walks every node reachable from the root. @return EP_OK, EP_ERR_FORMAT or EP_ERR_NOMEM.
static ep_status check_trie(const ep_charsmap *m, ep_error *err) {
    uint8_t *seen = calloc(m->n_units, 1);
    size_t *stack = malloc(sizeof *stack * m->n_units);
    if (!seen || !stack) {
        free(seen);
        free(stack);
        return ep_error_set(err, EP_ERR_NOMEM, "precompiled_charsmap: out of memory for %zu units", m->n_units);
    }
    size_t top = 0;
    seen[0] = 1;
    stack[top++] = 0;
    ep_status st = EP_OK;
    while (top && st == EP_OK) st = check_node(m, stack[--top], seen, stack, &top, err);
    free(seen);
    free(stack);
    return st;
}

// Reads the blob's parts into m. @return EP_OK or EP_ERR_FORMAT / EP_ERR_NOMEM.
static ep_status parse_blob(ep_charsmap *m, const uint8_t *blob, size_t size, ep_error *err) {
    if (size < 4)
        return ep_error_set(err, EP_ERR_FORMAT, "precompiled_charsmap: %zu bytes, too short for the trie size", size);
    uint32_t trie_bytes = (uint32_t)blob[0] | (uint32_t)blob[1] << 8 | (uint32_t)blob[2] << 16 |
                          (uint32_t)blob[3] << 24;
    if (trie_bytes == 0 || trie_bytes % 4 != 0)
        return ep_error_set(err, EP_ERR_FORMAT, "precompiled_charsmap: trie size %u is not a positive multiple of 4",
                            trie_bytes);
    if (trie_bytes > size - 4)
        return ep_error_set(err, EP_ERR_FORMAT, "precompiled_charsmap: trie size %u bytes, but only %zu follow",
                            trie_bytes, size - 4);
    m->n_units = trie_bytes / 4;
    m->n_strings = size - 4 - trie_bytes;
    m->units = malloc(trie_bytes);
    m->strings = malloc(m->n_strings + 1);
    if (!m->units || !m->strings)
        return ep_error_set(err, EP_ERR_NOMEM, "precompiled_charsmap: out of memory for %zu bytes", size);
    for (size_t i = 0; i < m->n_units; i++) {
        const uint8_t *p = blob + 4 + 4 * i;
        m->units[i] = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    }
    memcpy(m->strings, blob + 4 + trie_bytes, m->n_strings);
    m->strings[m->n_strings] = '\0';
    if (!utf8_valid((const uint8_t *)m->strings, m->n_strings))
        return ep_error_set(err, EP_ERR_FORMAT, "precompiled_charsmap: the replacement strings are not valid UTF-8");
    return check_trie(m, err);
}

ep_status ep_charsmap_create_blob(const uint8_t *blob, size_t size, ep_charsmap **out, ep_error *err) {
    *out = NULL;
    ep_charsmap *m = calloc(1, sizeof *m);
    if (!m) return ep_error_set(err, EP_ERR_NOMEM, "precompiled_charsmap: out of memory");
    ep_status st = parse_blob(m, blob, size, err);
    if (st != EP_OK) {
        ep_charsmap_free(m);
        return st;
    }
    for (int c = 0; c < 128; c++) {
        uint8_t key = (uint8_t)c;
        const char *v = NULL;
        int n = ep_charsmap_lookup(m, &key, 1, &v);
        m->ascii_value[c] = n < 0 ? -1 : (int32_t)(v - m->strings);
        m->ascii_len[c] = (uint8_t)(n < 0 ? 0 : n > 255 ? 255 : n);
        if (n > 255) m->ascii_value[c] = -2; // a long value: look it up again when met
    }
    *out = m;
    return EP_OK;
}

ep_status ep_charsmap_create(const char *base64, size_t len, ep_charsmap **out, ep_error *err) {
    *out = NULL;
    uint8_t *blob = malloc(ep_base64_decoded_size(len));
    if (!blob) return ep_error_set(err, EP_ERR_NOMEM, "precompiled_charsmap: out of memory");
    size_t size = 0;
    ep_status st = ep_base64_decode(base64, len, blob, &size, err);
    if (st != EP_OK) ep_error_prefix(err, "precompiled_charsmap");
    else st = ep_charsmap_create_blob(blob, size, out, err);
    free(blob);
    return st;
}

void ep_charsmap_free(ep_charsmap *m) {
    if (!m) return;
    free(m->units);
    free(m->strings);
    free(m);
}

// ----------------------------------------------------------------------------
// Normalising.

typedef struct sink {
    char *out;
    size_t cap, n;
} sink;

static inline void put(sink *s, const void *bytes, size_t n) {
    if (s->n < s->cap) memcpy(s->out + s->n, bytes, n < s->cap - s->n ? n : s->cap - s->n);
    s->n += n;
}

static const uint8_t REPLACEMENT[3] = {0xEF, 0xBF, 0xBD}; // U+FFFD for an invalid byte

// Writes the characters of a cluster one by one, each replaced by its value when it is a key.
static void put_chars(const ep_charsmap *m, const uint8_t *p, size_t n, sink *s) {
    const uint8_t *end = p + n;
    while (p < end) {
        uint32_t cp;
        int k = ep_utf8_decode(p, end, &cp);
        const uint8_t *ch = k ? p : REPLACEMENT;
        size_t ch_len = k ? (size_t)k : 3;
        const char *v;
        int vn = ep_charsmap_lookup(m, ch, ch_len, &v);
        if (vn >= 0) put(s, v, (size_t)vn);
        else put(s, ch, ch_len);
        p += k ? k : 1;
    }
}

// The cluster's bytes with each invalid byte read as U+FFFD, when that is under the whole-cluster
// limit. @return its length (and *chars its characters), or 0 when it is not under the limit.
static size_t cluster_as_valid(const uint8_t *p, size_t n, uint8_t buf[WHOLE_CLUSTER_LIMIT], int *chars) {
    size_t len = 0;
    *chars = 0;
    for (const uint8_t *end = p + n; p < end; ++*chars) {
        uint32_t cp;
        int k = ep_utf8_decode(p, end, &cp);
        size_t ch_len = k ? (size_t)k : 3;
        if (len + ch_len >= WHOLE_CLUSTER_LIMIT) return 0;
        memcpy(buf + len, k ? p : REPLACEMENT, ch_len);
        len += ch_len;
        p += k ? k : 1;
    }
    return len;
}

static void put_cluster(const ep_charsmap *m, const uint8_t *p, size_t n, sink *s) {
    uint8_t buf[WHOLE_CLUSTER_LIMIT];
    int chars = 0;
    size_t whole = n < WHOLE_CLUSTER_LIMIT ? cluster_as_valid(p, n, buf, &chars) : 0;
    if (whole) {
        const char *v;
        int vn = ep_charsmap_lookup(m, buf, whole, &v);
        if (vn >= 0) put(s, v, (size_t)vn);
        else if (chars == 1) put(s, buf, whole); // its one character was just looked up
        else put_chars(m, p, n, s);
        return;
    }
    put_chars(m, p, n, s);
}

size_t ep_charsmap_normalize(const ep_charsmap *m, const char *text, size_t len, char *out, size_t cap) {
    const uint8_t *p = (const uint8_t *)text;
    sink s = {out, cap, 0};
    size_t i = 0;
    while (i < len) {
        uint8_t b = p[i];
        // An ASCII character followed by another (or the end) is a cluster of its own, except CR LF.
        if (b < 0x80 && (i + 1 == len || (p[i + 1] < 0x80 && !(b == '\r' && p[i + 1] == '\n')))) {
            int32_t v = m->ascii_value[b];
            if (v == -1) put(&s, &b, 1);
            else if (v >= 0) put(&s, m->strings + v, m->ascii_len[b]);
            else put_cluster(m, &b, 1, &s);
            i++;
            continue;
        }
        size_t n = ep_grapheme_next(p + i, len - i);
        put_cluster(m, p + i, n, &s);
        i += n;
    }
    return s.n;
}
