/*
 * tokenizer_internal.h - what the tokenizer's files share: the tokenizer
 * struct, the word scanner (normaliser + pre-tokeniser) and the per-code-point
 * normaliser. Not part of the public contract; tests include it to check the
 * stages one by one.
 */
#ifndef EP_TOKENIZER_INTERNAL_H
#define EP_TOKENIZER_INTERNAL_H

#include <stdint.h>

#include "tokenizer.h"

// Largest max_input_chars_per_word accepted; the word buffer lives on the stack.
#define EP_TOK_MAX_WORD_CHARS 256
// A normalised code point is at most 4 UTF-8 bytes.
#define EP_TOK_WORD_BYTES (4 * EP_TOK_MAX_WORD_CHARS + 4)

// The special tokens BERT's tokenizer matches in the raw text before normalising
// (Hugging Face's "added tokens"): [PAD] [UNK] [CLS] [SEP] [MASK].
#define EP_TOK_N_SPECIAL 5

// One open-addressing (linear probing) table: key bytes -> id.
typedef struct ep_tok_slot {
    uint32_t hash; // the key's hash, compared before the bytes
    uint32_t meta; // bits 0-23: id + 1 (0 marks an empty slot); bits 24-31: min(key length, 255)
} ep_tok_slot;

typedef struct ep_tok_table {
    ep_tok_slot *slot;
    uint32_t mask;   // capacity - 1 (capacity is a power of two, at least twice the keys)
    int skip;        // bytes of the token string that are not part of the key (2 for "##")
    int max_key_len; // longest key in bytes: no longer substring can match
} ep_tok_table;

struct ep_tokenizer {
    ep_tokenizer_options opt;
    int n_vocab;
    char *strings;      // every token, NUL-terminated, back to back
    uint32_t *offset;   // token id -> offset into strings
    uint16_t *length;   // token id -> length in bytes
    ep_tok_table words; // whole tokens ("hello", "##lo" as itself)
    ep_tok_table cont;  // continuation pieces without their "##" ("lo" for "##lo")
    uint64_t *poly_pow; // POLY_BASE^i for i up to the longest key (tokenizer.c's hash)
    int32_t unk_id, cls_id, sep_id, pad_id, mask_id;
    int32_t special_id[EP_TOK_N_SPECIAL]; // -1 when the vocabulary lacks it
    uint8_t special_len[EP_TOK_N_SPECIAL];
};

// ---------------------------------------------------------------------------
// Vocabulary look-up (tokenizer.c).

// @return the id of the key bytes in table t, or -1.
int32_t ep_tok_lookup(const ep_tokenizer *tok, const ep_tok_table *t, const uint8_t *key, int len);

// ---------------------------------------------------------------------------
// The word scanner (normalize.c): BertNormalizer + BertPreTokenizer + the
// added-token split, producing one word at a time.

typedef struct ep_tok_word {
    const uint8_t *bytes; // the normalised word, UTF-8 (only its first chars when too long)
    int nbytes;
    int nchars;          // code points in the whole word (may exceed what bytes holds)
    int32_t special_id;  // >= 0: this "word" is a special token matched in the raw text
} ep_tok_word;

// Called for each word in order. @return nonzero to stop scanning.
typedef int (*ep_tok_word_fn)(void *ctx, const ep_tok_word *word);

// Splits text into normalised words, calling fn for each.
// @return 1 when fn stopped the scan, 0 when the whole text was scanned.
int ep_tok_scan(const ep_tokenizer *tok, const char *text, size_t len, ep_tok_word_fn fn, void *ctx);

// Writes the words of text separated by single spaces into out (NUL-terminated,
// cut at cap - 1 bytes); special tokens appear as their token strings. For tests
// and for inspecting what the tokenizer sees.
// @return the length the full string would have (like snprintf).
size_t ep_tokenizer_words(const ep_tokenizer *tok, const char *text, size_t len, char *out, size_t cap);

// ---------------------------------------------------------------------------
// One code point through BertNormalizer, with Hugging Face's Unicode tables (hf_unicode.c).

enum {
    EP_HF_DROP = 0,  // removed by clean_text (controls, NUL, U+FFFD): leaves no trace
    EP_HF_SPACE = 1, // whitespace: ends the word
    EP_HF_CHARS = 2, // the pieces below join the current word (punctuation splits)
    EP_HF_CJK = 3    // a CJK ideograph: its pieces form a word of their own
};

#define EP_HF_PIECE_PUNCT 1u   // split off as a word of its own
#define EP_HF_PIECE_STARTER 2u // a stripped mark of combining class 0: ends a reordering run

typedef struct ep_hf_piece {
    int32_t cp;
    uint8_t ccc;   // canonical combining class as HF's NFD sees it
    uint8_t flags; // EP_HF_PIECE_*
} ep_hf_piece;

// Enough for the longest canonical decomposition (4) and the lowercase expansion.
#define EP_HF_MAX_PIECES 8

// Normalises one input code point: clean_text, CJK spacing, NFD, strip Mn,
// lowercase (per options). Stripped marks of class 0 come back as pieces with
// EP_HF_PIECE_STARTER (and nothing to append).
// @return EP_HF_DROP / EP_HF_SPACE / EP_HF_CHARS / EP_HF_CJK; *n = pieces written.
int ep_hf_normalize_char(int32_t cp, const ep_tokenizer_options *opt, ep_hf_piece *out, int *n);

// @return whether the code point is punctuation for BertPreTokenizer (ASCII
// punctuation or a Unicode P* category in HF's tables).
int ep_hf_is_punct(int32_t cp);

#endif /* EP_TOKENIZER_INTERNAL_H */
