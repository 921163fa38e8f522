/*
 * tokenizer_internal.h - what the tokenizer's files share: the tokenizer
 * struct, the vocabulary tables, the added-token sets, the fast BERT word
 * scanner (normaliser + pre-tokeniser) and the per-code-point normaliser.
 * Not part of the public contract; tests include it to check the stages one
 * by one. The general tokenizer.json chain has its own header (chain.h).
 */
#ifndef EP_TOKENIZER_INTERNAL_H
#define EP_TOKENIZER_INTERNAL_H

#include <stdint.h>

#include "tokenizer.h"

// Largest max_input_chars_per_word accepted; the word buffer lives on the stack.
#define EP_TOK_MAX_WORD_CHARS 256
// A normalised code point is at most 4 UTF-8 bytes.
#define EP_TOK_WORD_BYTES (4 * EP_TOK_MAX_WORD_CHARS + 4)
// Longest token accepted in a vocabulary, in bytes (BERT's are under 30).
#define EP_TOK_MAX_TOKEN_BYTES 1024
// Most special ids a post-processor may put before or after the text.
#define EP_TOK_MAX_TEMPLATE 8

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

// Added tokens (Hugging Face's AddedVocabulary): matched in the text before the
// model sees it, with the flags of tokenizer.json's "added_tokens".
#define EP_TOK_ADDED_LSTRIP 1u      // takes the whitespace before it
#define EP_TOK_ADDED_RSTRIP 2u      // takes the whitespace after it
#define EP_TOK_ADDED_SINGLE_WORD 4u // only where no word character touches it

typedef struct ep_tok_added_token {
    const char *text; // what is matched: the content, or its normalised form for normalized tokens
    uint32_t len;
    int32_t id;
    uint32_t flags; // EP_TOK_ADDED_*
} ep_tok_added_token;

typedef struct ep_tok_added_set {
    ep_tok_added_token *tok; // sorted by first byte
    int n;
    int32_t first[257]; // tokens starting with byte b are tok[first[b] .. first[b+1])
} ep_tok_added_set;

typedef struct ep_tok_chain ep_tok_chain;

struct ep_tokenizer {
    ep_tokenizer_options opt; // the fast path's BertNormalizer settings; WordPiece's word limit
    // The model's vocabulary: id -> string, and the look-up tables.
    int n_vocab;
    char *strings;      // every token, NUL-terminated, back to back
    uint32_t *offset;   // token id -> offset into strings
    uint16_t *length;   // token id -> length in bytes
    ep_tok_table words; // whole tokens ("hello", "##lo" as itself)
    ep_tok_table cont;  // continuation pieces without their prefix ("lo" for "##lo")
    uint64_t *poly_pow; // POLY_BASE^i for i up to the longest key (vocab_table.h's hash)
    int32_t unk_id;     // WordPiece's unknown token (-1: none)
    // Added tokens: matched in the raw text (normalized: false) and in each normalised piece.
    ep_tok_added_set raw, norm;
    char *added_text;     // the added tokens' strings, NUL-terminated, back to back
    int n_ids;            // every id encode returns is below this (model + added tokens)
    const char **id_text; // id - n_vocab -> an added token's content, for ids past the model's
    // The post-processor: ids before and after the text's own.
    int n_prefix, n_suffix;
    int32_t prefix[EP_TOK_MAX_TEMPLATE], suffix[EP_TOK_MAX_TEMPLATE];
    ep_tok_chain *chain; // NULL: the fast BERT path (normalize.c + wordpiece.c)
    char describe[160];
};

// ---------------------------------------------------------------------------
// Vocabulary (vocab.c).

// Builds words/cont (cont: tokens that start with the prefix of prefix_len bytes and are
// longer; none when prefix is NULL) and the hash powers from strings/offset/length/n_vocab.
// @return EP_OK; EP_ERR_FORMAT for a duplicate token, with the first and second ids in
//         dup (the caller names the file); EP_ERR_NOMEM.
ep_status ep_tok_vocab_build(ep_tokenizer *tok, const char *prefix, int prefix_len, int32_t dup[2], ep_error *err);

// @return the id of the key bytes in table t, or -1.
int32_t ep_tok_lookup(const ep_tokenizer *tok, const ep_tok_table *t, const uint8_t *key, int len);

// @return 1 when s[0..len) is valid UTF-8 without NUL.
int ep_tok_valid_utf8(const uint8_t *s, size_t len);

// Frees what a tokenizer owns (the struct too). Accepts NULL.
void ep_tok_free(ep_tokenizer *tok);

// ---------------------------------------------------------------------------
// Added tokens (added_tokens.c): AddedVocabulary's find_matches.

// Called for each piece of the text in order: a stretch of text (id < 0) or an added
// token (id >= 0) covering s[start..end). @return nonzero to stop.
typedef int (*ep_tok_piece_fn)(void *ctx, size_t start, size_t end, int32_t id);

// Splits s[0..n) (valid UTF-8) at the tokens of set, leftmost-longest, honouring
// single_word, lstrip and rstrip as tokenizers does. Empty stretches are not reported.
// @return 1 when fn stopped, 0 otherwise.
int ep_tok_added_split(const ep_tok_added_set *set, const char *s, size_t n, ep_tok_piece_fn fn, void *ctx);

// Sorts set->tok by first byte and fills set->first. @return 0, or -1 for an empty token.
int ep_tok_added_index(ep_tok_added_set *set);

// ---------------------------------------------------------------------------
// The fast path's word scanner (normalize.c): BertNormalizer + BertPreTokenizer +
// the added-token split, producing one word at a time.

typedef struct ep_tok_word {
    const uint8_t *bytes; // the normalised word, UTF-8 (only its first chars when too long)
    int nbytes;
    int nchars;         // code points in the whole word (may exceed what bytes holds)
    int32_t special_id; // >= 0: this "word" is an added token matched in the raw text
} ep_tok_word;

// Called for each word in order. @return nonzero to stop scanning.
typedef int (*ep_tok_word_fn)(void *ctx, const ep_tok_word *word);

// Splits text into normalised words, calling fn for each.
// @return 1 when fn stopped the scan, 0 when the whole text was scanned.
int ep_tok_scan(const ep_tokenizer *tok, const char *text, size_t len, ep_tok_word_fn fn, void *ctx);

// Writes the words of text separated by single spaces into out (NUL-terminated,
// cut at cap - 1 bytes); added tokens appear as their strings. For tests and for
// inspecting what the model sees (the general chain's words too).
// @return the length the full string would have (like snprintf).
size_t ep_tokenizer_words(const ep_tokenizer *tok, const char *text, size_t len, char *out, size_t cap);

// ---------------------------------------------------------------------------
// WordPiece (wordpiece.c).

// The fast BERT path's ep_tokenizer_encode (same contract; tok->chain is NULL).
int ep_tok_fast_encode(const ep_tokenizer *tok, const char *text, size_t len, int32_t *ids, int max_tokens,
                       bool *truncated);

// Greedy longest-match-first pieces of the word w[0..len) (len <= EP_TOK_WORD_BYTES).
// @return the number of pieces written to out, or 0 when some part matches nothing.
int ep_tok_wordpiece(const ep_tokenizer *tok, const uint8_t *w, int len, int32_t *out);

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
    uint8_t ccc;   // canonical combining class as HF's NFD sees it (0 when no NFD is done)
    uint8_t flags; // EP_HF_PIECE_*
} ep_hf_piece;

// Enough for the longest canonical decomposition (4) and the lowercase expansion.
#define EP_HF_MAX_PIECES 8

// BertNormalizer's settings, as the per-code-point normaliser reads them.
typedef struct ep_hf_bert {
    bool clean_text, cjk, strip_accents, lowercase;
} ep_hf_bert;

// @return the BertNormalizer settings the fast path's options stand for (clean_text on).
ep_hf_bert ep_hf_bert_of(const ep_tokenizer_options *opt);

// Normalises one input code point: clean_text, CJK spacing, NFD + strip Mn,
// lowercase (per b). Stripped marks of class 0 come back as pieces with
// EP_HF_PIECE_STARTER (and nothing to append).
// @return EP_HF_DROP / EP_HF_SPACE / EP_HF_CHARS / EP_HF_CJK; *n = pieces written.
int ep_hf_normalize_char(int32_t cp, const ep_hf_bert *b, ep_hf_piece *out, int *n);

// @return whether the code point is punctuation for BertPreTokenizer and Punctuation
// (ASCII punctuation or a Unicode P* category in HF's tables).
int ep_hf_is_punct(int32_t cp);
// @return Rust's char::is_whitespace (the White_Space property).
int ep_hf_is_whitespace(int32_t cp);
// @return the Unicode-word property of Rust's regex \w (alphabetic, marks, decimal digits,
// connector punctuation, joiners), from utf8proc's categories.
int ep_hf_is_word_char(int32_t cp);
// Rust's char::to_lowercase. @return the code points written to out (1 or 2).
int ep_hf_lowercase(int32_t cp, int32_t out[2]);
// @return the canonical combining class HF's normalisation crate gives cp.
int ep_hf_ccc(int32_t cp);
// @return whether HF's crates call cp a nonspacing mark (Mn), or any mark (M*) when any_mark.
int ep_hf_is_mark(int32_t cp, bool any_mark);
// The canonical (or, when compat, compatibility) decomposition of cp as HF's NFD / NFKD have it.
// @return the code points written to out (at most EP_HF_MAX_DECOMP).
#define EP_HF_MAX_DECOMP 18
int ep_hf_decompose(int32_t cp, bool compat, int32_t out[EP_HF_MAX_DECOMP]);

#endif /* EP_TOKENIZER_INTERNAL_H */
