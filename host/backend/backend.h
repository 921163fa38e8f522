/*
 * backend.h - the seam between the batcher and the compute device.
 *
 * A backend is a small struct of function pointers chosen at start-up
 * (host/cpu/, host/cuda/). This header is the interface only: every backend
 * includes it, and none of them knows the others; choosing one from the
 * command line's --device / --precision is host/device/'s job. It embeds packed batches: the
 * tokens of all sequences lie back to back, so no work is spent on padding.
 *
 * Protocol: submit() queues a batch (a synchronous backend computes it at
 * once); wait_oldest() blocks until the oldest submitted batch's rows are in
 * its output buffers. At most max_in_flight batches may be outstanding. The
 * caller's ep_batch arrays may be reused as soon as submit returns; the output
 * buffers must stay valid until that batch's wait_oldest returns.
 */
#ifndef EP_BACKEND_H
#define EP_BACKEND_H

#include "embedpipe.h"
#include "model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A packed batch of tokenised sequences (each [CLS] ... [SEP]). */
typedef struct ep_batch {
    int n_seqs;               /* number of sequences */
    int n_tokens;             /* total tokens = seq_start[n_seqs] */
    int max_seq_len;          /* longest sequence in the batch */
    const int32_t *token_ids; /* [n_tokens] */
    const int32_t *seq_start; /* [n_seqs + 1]: sequence i is token_ids[seq_start[i] .. seq_start[i+1]) */
} ep_batch;

typedef struct ep_backend ep_backend;
struct ep_backend {
    char name[64];          /* "cpu", "cuda:0", "cuda-emulated" */
    char description[256];  /* what the user is told: device name, threads, precision */
    char precision[16];     /* the precision actually computed in ("fp32", "bf16", "fp32-reference", "fp16"):
                               set by ep_backend_create (device.c) once "auto" is resolved; "" otherwise */
    char kernels[16];       /* the kernel table ("avx512", "amx", ..., "openblas", "cuda"); "" if unknown */
    char warning[1200];     /* set by ep_backend_create when device "auto" fell back to the CPU although a CUDA
                               driver is there (a setup to fix): the caller shows it; "" otherwise */
    int dim;                /* output row width (ep_model_output_dim: the hidden size for most models) */
    int max_in_flight;      /* batches that may be outstanding (1 = synchronous) */
    size_t batch_tokens;    /* the batch size (tokens) it works best with; 0 = the caller's choice */
    /* Queues batch; rows (n_seqs x dim) go to out_f32 and/or out_f16 (either may
     * be NULL, not both). @return EP_OK, or an error with err filled. */
    ep_status (*submit)(ep_backend *self, const ep_batch *batch, float *out_f32, uint16_t *out_f16,
                        ep_error *err);
    /* @return EP_OK once the oldest outstanding batch is complete; EP_ERR_USAGE if none. */
    ep_status (*wait_oldest)(ep_backend *self, ep_error *err);
    void (*destroy)(ep_backend *self);
    void *impl;
};

/* Synchronous convenience: submit + wait_oldest. @return as submit. */
ep_status ep_backend_encode(ep_backend *backend, const ep_batch *batch, float *out_f32, uint16_t *out_f16,
                            ep_error *err);

/* Frees the backend. Accepts NULL. */
void ep_backend_free(ep_backend *backend);

// ----------------------------------------------------------------------------
// For backend implementations: what every one of them would otherwise write again.

/* Allocates a zeroed backend named `name` with a zeroed impl of impl_size bytes,
 * rows of `dim` values and one batch in flight (a synchronous backend); the
 * caller sets description, submit, wait_oldest and destroy.
 * @return the backend, or NULL when out of memory (nothing to free). */
ep_backend *ep_backend_new(const char *name, int dim, size_t impl_size);

/* Frees what ep_backend_new allocated (impl first): for a create that fails after it.
 * Accepts NULL. */
void ep_backend_delete(ep_backend *backend);

/* The start of a synchronous backend's submit: refuses a batch while the last one
 * has not been waited for (*pending), a call with no output buffer, and a batch
 * the model cannot take (seq_start not from 0, a sequence of 0 or more than
 * ep_model_max_tokens tokens, a token id outside the vocabulary). `who` starts messages.
 * @return EP_OK, or EP_ERR_USAGE with err naming the problem. */
ep_status ep_backend_sync_check(const char *who, int pending, const ep_model_config *config, const ep_batch *batch,
                                const float *out_f32, const uint16_t *out_f16, ep_error *err);

/* A synchronous backend's wait_oldest: clears *pending.
 * @return EP_OK, or EP_ERR_USAGE when nothing was submitted. */
ep_status ep_backend_sync_wait(const char *who, int *pending, ep_error *err);

#ifdef __cplusplus
}
#endif

#endif /* EP_BACKEND_H */
