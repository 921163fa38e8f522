/*
 * chain.h - the general tokenizer.json pipeline, for everything the fast BERT
 * path does not cover: added tokens -> normalizers -> pre-tokenizers -> model
 * -> the post-processor's ids, as tokenizers runs them.
 *
 * The parts are plain structs filled by the loader (tokjson*.c) and applied by
 * normalizers.c, pretokenizers.c and chain.c. Encoding works in a per-call
 * arena (a stack block, heap blocks only for long texts), so one tokenizer
 * serves any number of threads.
 */
#ifndef EP_TOK_CHAIN_H
#define EP_TOK_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#include "regex_lite.h"
#include "tokenizer_internal.h"

// ---------------------------------------------------------------------------
// The per-call arena.

typedef struct ep_tok_arena {
    char *base;        // the current block
    size_t cap, used;
    void *heap;        // heap blocks, each starting with a pointer to the previous one
    bool failed;       // an allocation failed
} ep_tok_arena;

// Starts an arena on the caller's buffer (cap bytes).
void ep_tok_arena_init(ep_tok_arena *a, void *buf, size_t cap);
// @return n bytes (16-aligned), or NULL (and a->failed set) when memory runs out.
void *ep_tok_arena_alloc(ep_tok_arena *a, size_t n);
// Frees the arena's heap blocks.
void ep_tok_arena_release(ep_tok_arena *a);

// ---------------------------------------------------------------------------
// Normalizers (a tokenizer.json Sequence is flattened into a list).

typedef enum ep_tok_norm_kind {
    EP_NORM_BERT, EP_NORM_NFC, EP_NORM_NFD, EP_NORM_NFKC, EP_NORM_NFKD, EP_NORM_LOWERCASE, EP_NORM_STRIP,
    EP_NORM_STRIP_ACCENTS, EP_NORM_REPLACE, EP_NORM_PREPEND, EP_NORM_NMT, EP_NORM_PRECOMPILED
} ep_tok_norm_kind;

// A Precompiled charsmap behind a function pointer, so that the loader alone knows its type.
typedef size_t (*ep_tok_charsmap_fn)(const void *map, const char *text, size_t len, char *out, size_t cap);

typedef struct ep_tok_norm {
    ep_tok_norm_kind kind;
    ep_hf_bert bert;          // BERT
    bool left, right;         // STRIP
    ep_tok_regex *re;         // REPLACE: the pattern
    char *text;               // REPLACE: the content; PREPEND: the prefix (NUL-terminated)
    size_t text_len;
    void *map;                // PRECOMPILED: the charsmap
    ep_tok_charsmap_fn apply; // PRECOMPILED: map's normalize
    void (*map_free)(void *map);
} ep_tok_norm;

// Normalises in[0..n) (valid UTF-8) into out, writing at most cap bytes.
// *first_kept is cleared when the first character of in is removed (tokenizers'
// alignments then start past it; Metaspace's "first" scheme reads that).
// @return the length of the whole result (more than cap: call again with room),
//         or (size_t)-1 when the arena ran out of memory.
size_t ep_tok_normalize(const ep_tok_norm *nz, const char *in, size_t n, char *out, size_t cap, ep_tok_arena *a,
                        bool *first_kept);

// ---------------------------------------------------------------------------
// Pre-tokenizers (a Sequence is flattened; each splits the pieces of the one before).

typedef enum ep_tok_pre_kind {
    EP_PRE_BERT, EP_PRE_WHITESPACE_SPLIT, EP_PRE_WHITESPACE, EP_PRE_PUNCTUATION, EP_PRE_METASPACE
} ep_tok_pre_kind;

// tokenizers' SplitDelimiterBehavior.
typedef enum ep_tok_split_behavior {
    EP_SPLIT_REMOVED, EP_SPLIT_ISOLATED, EP_SPLIT_MERGED_WITH_PREVIOUS, EP_SPLIT_MERGED_WITH_NEXT,
    EP_SPLIT_CONTIGUOUS
} ep_tok_split_behavior;

typedef enum ep_tok_prepend { EP_PREPEND_ALWAYS, EP_PREPEND_FIRST, EP_PREPEND_NEVER } ep_tok_prepend;

typedef struct ep_tok_pre {
    ep_tok_pre_kind kind;
    ep_tok_split_behavior behavior; // PUNCTUATION
    int32_t replacement;            // METASPACE: the character (U+2581 usually)
    char repl[4];                   // its UTF-8
    int repl_len;
    ep_tok_prepend prepend;
    bool split;
} ep_tok_pre;

// ---------------------------------------------------------------------------
// The model behind the chain.

typedef enum ep_tok_model_kind { EP_MODEL_WORDPIECE, EP_MODEL_UNIGRAM } ep_tok_model_kind;

// A model other than WordPiece, behind function pointers (the Unigram lives in unigram.c).
// @return the ids the word needs (only cap written), or -1 when memory runs out.
typedef int (*ep_tok_word_model_fn)(const void *model, const char *word, size_t len, int32_t *ids, int cap);

struct ep_tok_chain {
    ep_tok_norm *norm;
    int n_norm;
    ep_tok_pre *pre;
    int n_pre;
    ep_tok_model_kind model;
    void *model_data;                  // UNIGRAM: the model
    ep_tok_word_model_fn encode_word;  // UNIGRAM: its encode
    void (*model_free)(void *model);
    void *model_aux;                   // UNIGRAM: what the model points into (freed with the chain)
    int max_chars;                     // WORDPIECE: longer words become the unknown token
};

// Frees a chain and its parts. Accepts NULL.
void ep_tok_chain_free(ep_tok_chain *c);

// Called with each word the pre-tokenizers produce. @return nonzero to stop.
typedef int (*ep_tok_emit_fn)(void *ctx, const char *word, size_t len);

// Runs the pre-tokenizers c->pre[level..] over s[0..n) (at0: the piece starts at offset 0
// of the original text, for Metaspace's "first"), calling fn with each final word.
// @return 1 when fn stopped, -1 when the arena ran out of memory, 0 otherwise.
int ep_tok_pretokenize(const ep_tok_chain *c, int level, const char *s, size_t n, bool at0, ep_tok_arena *a,
                       ep_tok_emit_fn fn, void *ctx);

// ep_tokenizer_encode for a tokenizer with a chain (same contract).
int ep_tok_chain_encode(const ep_tokenizer *tok, const char *text, size_t len, int32_t *ids, int max_tokens,
                        bool *truncated);

// ep_tokenizer_words for a tokenizer with a chain: the words the model sees, and added tokens.
size_t ep_tok_chain_words(const ep_tokenizer *tok, const char *text, size_t len, char *out, size_t cap);

// Runs the normalizers over in[0..n). @return the result (in the arena) with its length in
// *out_n, or NULL when memory ran out; *first_kept as ep_tok_normalize.
const char *ep_tok_normalize_all(const ep_tok_chain *c, const char *in, size_t n, size_t *out_n, bool *first_kept,
                                 ep_tok_arena *a);

#endif /* EP_TOK_CHAIN_H */
