/*
 * cpu_head.h - what follows the encoder on the CPU when it is more than one mean or CLS pooling
 * (model.h, ep_model_head_is_simple): every pooling mode of sentence-transformers, then the head
 * (Dense modules, truncation, L2 normalisation). Plain C shared by the reference and the fast
 * backend, so both give the same bits for the same encoder output: the work is a few dot products
 * per text, next to the encoder's millions, so one readable version is enough.
 *
 * Every row is computed on its own, in a fixed order, so a text's vector does not depend on the
 * batch it came in (the backends' batch invariance).
 */
#ifndef EP_CPU_HEAD_H
#define EP_CPU_HEAD_H

#include "model.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Pools each sequence of x ([T][hidden], sequences by seq_start) into out [n_seqs][n_modes * hidden]:
 * mode m's values in columns m * hidden ..., in the order of modes (sentence-transformers' concatenation).
 * skip: leave out each sequence's first skip tokens (include_prompt false), as sentence-transformers'
 * padded path masks them: cls takes the first token kept (token 0 when none is kept), lasttoken the last
 * one, weightedmean keeps each token's weight (its position + 1); a mode over no kept token gives zeros. */
void ep_cpu_pooling(float *out, const float *x, const int32_t *seq_start, int n_seqs, int hidden, const ep_pooling *modes,
                 int n_modes, int skip);

/* y = act(x) in place, n values. */
void ep_cpu_activation(float *y, size_t n, ep_activation act);

/* The head of model m on n pooled rows ([n][ep_model_pooled_dim]) into out ([n][ep_model_output_dim]):
 * each Dense module (act(W x + b)), the truncation to run.dim, then L2 normalisation when
 * ep_model_normalizes(m) (x / max(|x|, 1e-12), as torch's normalize). scratch holds
 * ep_cpu_head_scratch(m) floats. */
void ep_cpu_head(float *out, const float *pooled, int n, const ep_model *m, float *scratch);

/* @return the floats of scratch ep_cpu_head needs. */
size_t ep_cpu_head_scratch(const ep_model *m);

#ifdef __cplusplus
}
#endif

#endif /* EP_CPU_HEAD_H */
