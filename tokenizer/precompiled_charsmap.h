/*
 * precompiled_charsmap.h - SentencePiece's precompiled normalisation map (the "Precompiled"
 * normalizer of tokenizer.json, e.g. XLM-R's nmt_nfkc rules), normalising exactly as Hugging
 * Face tokenizers 0.23 does with the spm_precompiled crate.
 *
 * The map is SentencePiece's blob: a little-endian u32 trie size in bytes, a darts-clone double
 * array of that many bytes (u32 units) whose keys are UTF-8 strings and whose values are
 * offsets into the rest of the blob, NUL-terminated UTF-8 replacement strings.
 *
 * How tokenizers applies it (and so how this does): the text is cut into extended grapheme
 * clusters (grapheme.h). A cluster shorter than 6 bytes is looked up whole; if any prefix of it
 * is a key, the cluster is replaced by the value of the shortest such prefix, even when that
 * prefix is shorter than the cluster: the rest of the cluster is dropped ("A" U+0308 U+0304 gives
 * "Ä", though "A" U+0308 U+0304 -> "Ǟ" is in XLM-R's map; SentencePiece's own normaliser takes
 * the longest key and keeps the rest, but tokenizers is the reference here). Otherwise each
 * character of the cluster is looked up alone and replaced by its value, or kept. A lookup
 * stops at a NUL byte.
 */
#ifndef EP_PRECOMPILED_CHARSMAP_H
#define EP_PRECOMPILED_CHARSMAP_H

#include <stddef.h>
#include <stdint.h>

#include "embedpipe.h"

typedef struct ep_charsmap ep_charsmap;

/* Loads the "precompiled_charsmap" string of a tokenizer.json Precompiled normalizer
 * (base64 of the blob, len characters).
 * @return EP_OK and *out set; EP_ERR_FORMAT naming what is wrong (bad base64, a blob too short
 *         for its trie size, a trie size that is not a multiple of 4 or is 0, a double array
 *         that points outside itself, a value outside the strings, strings
 *         that are not UTF-8); EP_ERR_NOMEM. */
ep_status ep_charsmap_create(const char *base64, size_t len, ep_charsmap **out, ep_error *err);

/* The same from the decoded blob (size bytes). @return as ep_charsmap_create. */
ep_status ep_charsmap_create_blob(const uint8_t *blob, size_t size, ep_charsmap **out, ep_error *err);

/* Frees the map. Accepts NULL. */
void ep_charsmap_free(ep_charsmap *m);

/* Normalises text (UTF-8, len bytes; an invalid byte is read as U+FFFD) into out, writing at
 * most cap bytes (nothing past them, no NUL). Allocates nothing; safe to call from several
 * threads at once on one map.
 * @return the length of the whole result in bytes (which may exceed cap: call again with a
 *         buffer that large for all of it). */
size_t ep_charsmap_normalize(const ep_charsmap *m, const char *text, size_t len, char *out, size_t cap);

/* Looks key (len bytes) up as tokenizers' Precompiled.transform does: the value of the
 * shortest prefix of key that is in the map.
 * @return the value's length and *value pointed at it, or -1 when no prefix is a key. */
int ep_charsmap_lookup(const ep_charsmap *m, const uint8_t *key, size_t len, const char **value);

#endif /* EP_PRECOMPILED_CHARSMAP_H */
