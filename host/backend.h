/*
 * backend.h - the seam between the batcher and the compute device.
 *
 * A backend is a small struct of function pointers chosen at start-up
 * (host/backend_cpu.c, host/backend_cuda.c). It embeds packed batches: the
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
    int dim;                /* output row width (the model's hidden size) */
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

/* Creates the CPU backend (host/backend_cpu.c). threads <= 0 means all cores.
 * @return EP_OK and *out set, or an error. */
ep_status ep_backend_cpu_create(const ep_model *model, int threads, ep_backend **out, ep_error *err);

/* How to build a backend; zero / NULL fields take their defaults. */
typedef struct ep_backend_options {
    const char *device;     /* "cpu", "cuda", "cuda:N" or "auto" (NULL = "auto") */
    int threads;            /* CPU threads; <= 0 = all cores */
    size_t batch_tokens;    /* largest batch the caller will submit (CUDA sizes its buffers from it; 0 = auto) */
    const char *precision;  /* NULL = the device's default; CPU: "fp32", "bf16", "fp32-reference";
                               CUDA: "fp16" (its only mode: fp16 storage, fp32 accumulation) */
} ep_backend_options;

/* Creates the backend the options ask for. "auto" takes CUDA when a device is
 * usable and the precision is CUDA's (or unset), else the CPU, its description
 * saying why CUDA was not used (and a warning on stderr when a driver is there
 * but unusable, e.g. too old).
 * @return EP_OK; EP_ERR_DEVICE when CUDA was asked for and is unavailable
 *         (not compiled in, or no device: the CUDA error's name and text);
 *         EP_ERR_USAGE for an unknown device or precision, or one the device
 *         does not compute in. */
ep_status ep_backend_create(const ep_model *model, const ep_backend_options *options, ep_backend **out,
                            ep_error *err);

/* Frees the backend. Accepts NULL. */
void ep_backend_free(ep_backend *backend);

#ifdef __cplusplus
}
#endif

#endif /* EP_BACKEND_H */
