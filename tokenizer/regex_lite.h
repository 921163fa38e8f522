/*
 * regex_lite.h - the small regular-expression matcher behind tokenizer.json's
 * Replace normalizer. tokenizers compiles those patterns with Oniguruma; the
 * ones real tokenizers use are short (" {2,}", "\A +| +\z", "\A\u2581"), so
 * this supports exactly that family and refuses the rest by name:
 *
 *   literal characters (UTF-8) and escaped punctuation (\. \\ \| ...),
 *   \t \n \r \f \v \xHH \uHHHH, . (any but \n), \s \S (Unicode White_Space),
 *   classes [...] / [^...] of characters, ranges and \s \S,
 *   anchors \A \z \Z ^ $ (^ and $ at line ends, as in Ruby syntax),
 *   greedy quantifiers * + ? {n} {n,} {n,m} on one character or class,
 *   alternation | at the top level.
 *
 * Matching is leftmost, alternatives in order, greedy with backtracking: what
 * Oniguruma returns for these patterns. A pattern that can match the empty
 * string is refused (Oniguruma's empty-match stepping is not reproduced).
 */
#ifndef EP_TOK_REGEX_LITE_H
#define EP_TOK_REGEX_LITE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct ep_tok_regex ep_tok_regex;

/* Compiles pattern[0..len) (literal: the bytes themselves, as Replace's "String"
 * patterns are). @return the matcher, or NULL with why (a sentence naming the
 * construct) filled when the pattern is outside the subset or memory ran out. */
ep_tok_regex *ep_tok_regex_compile(const char *pattern, size_t len, bool literal, char *why, size_t why_cap);

/* Frees a matcher. Accepts NULL. */
void ep_tok_regex_free(ep_tok_regex *re);

/* Finds the first match in s[0..n) (valid UTF-8) that starts at or after from.
 * @return 1 with the match in [*ms, *me) (never empty), 0 when there is none. */
int ep_tok_regex_find(const ep_tok_regex *re, const char *s, size_t n, size_t from, size_t *ms, size_t *me);

#endif /* EP_TOK_REGEX_LITE_H */
