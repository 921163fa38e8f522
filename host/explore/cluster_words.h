/*
 * cluster_words.h - the words that tell a cluster apart from the others: class
 * TF-IDF (c-TF-IDF) over the kept texts of each cluster, i.e. the frequency of
 * a word in the cluster's texts (per word of the cluster) times
 * log(1 + A / f), A the mean number of words per cluster and f the word's
 * frequency over all clusters. Words are lowercased runs of letters (UTF-8
 * letters kept as they are), at least 3 bytes; numbers, @mentions, URLs, and
 * stop words of English, Spanish, French, German, Italian and Portuguese (and
 * Twitter's "rt", "amp", "user") are dropped.
 */
#ifndef EP_CLUSTER_WORDS_H
#define EP_CLUSTER_WORDS_H

#include "embedpipe.h"

#ifdef __cplusplus
extern "C" {
#endif

/* For each cluster 0..k-1, its `top` most distinctive words, best first:
 * words[c * top + i] is a malloc'd string or NULL when the cluster has fewer.
 * texts[i] may be NULL (that row adds nothing).
 * @return EP_OK and *words (free with ep_cluster_words_free), EP_ERR_NOMEM. */
ep_status ep_cluster_words(const char *const *texts, const int32_t *labels, uint64_t n, int k, int top,
                           char ***words, ep_error *err);

/* Frees what ep_cluster_words returned. Accepts NULL. */
void ep_cluster_words_free(char **words, int k, int top);

/* @return true when word (lowercase) is a stop word of one of the languages above. */
bool ep_is_stop_word(const char *word, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* EP_CLUSTER_WORDS_H */
