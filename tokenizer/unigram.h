/*
 * unigram.h - the SentencePiece Unigram model of tokenizer.json (XLM-R and its family),
 * identical in ids to Hugging Face tokenizers 0.23's Unigram::tokenize on one pre-tokenized word:
 *
 *   - the best segmentation by total score (Viterbi over every piece that starts at every
 *     character, tokenizers' encode_optimized), ties kept by the first path found;
 *   - a character that no single-character piece covers is an unknown node of score
 *     min(score) - 10; consecutive unknown nodes (and pieces whose id is unk_id) are fused into
 *     one string, which becomes the id of that string when it is a piece, else (byte_fallback)
 *     its UTF-8 bytes as <0xXX> pieces when all exist, else unk_id.
 */
#ifndef EP_UNIGRAM_H
#define EP_UNIGRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "embedpipe.h"

typedef struct ep_unigram ep_unigram;

/* Builds the model from the "vocab" of a tokenizer.json Unigram model: piece i is pieces[i]
 * (UTF-8, NUL-terminated) with score scores[i]. unk_id < 0 means none (a word with an unknown
 * character then cannot be encoded). Copies what it needs.
 * @return EP_OK and *out set; EP_ERR_USAGE for an empty vocabulary with an unk_id, an unk_id
 *         past the vocabulary (as tokenizers refuses them), a negative n_pieces or a NULL piece;
 *         EP_ERR_NOMEM. */
ep_status ep_unigram_create(const char *const *pieces, const double *scores, int n_pieces, int unk_id,
                            bool byte_fallback, ep_unigram **out, ep_error *err);

/* Frees the model. Accepts NULL. */
void ep_unigram_free(ep_unigram *u);

/* Encodes one pre-tokenized word (len bytes of UTF-8; an invalid byte is read as one character)
 * into ids, writing at most cap of them. Safe to call from several threads at once on one
 * model; allocates only for words over 512 bytes.
 * @return how many ids the word needs (only the first cap are written; 0 for an empty word),
 *         -1 out of memory, -2 when the word has an unknown character and the model no unk_id. */
int ep_unigram_encode_word(const ep_unigram *u, const char *word, size_t len, int32_t *ids, int cap);

/* @return the id of the piece that is exactly piece (len bytes), or -1 (the later id when a piece
 *         appears twice in the vocabulary, as tokenizers' token_to_id). */
int32_t ep_unigram_piece_id(const ep_unigram *u, const char *piece, size_t len);

/* @return the number of pieces. */
int ep_unigram_size(const ep_unigram *u);

#endif /* EP_UNIGRAM_H */
