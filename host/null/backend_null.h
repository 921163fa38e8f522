/*
 * backend_null.h - the null backend: everything of a run but the encoder.
 *
 * It takes packed batches like any backend and returns rows of zeros at once,
 * so that a run through it measures the host side alone (reading, parsing,
 * tokenising, batching, writing) on any machine. Its rows are not embeddings:
 * the pipeline marks a folder written through it ("device": "null" in the
 * manifest, "normalized": false) so that nobody mistakes it for real vectors.
 */
#ifndef EP_BACKEND_NULL_H
#define EP_BACKEND_NULL_H

#include "backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The batch budget (tokens) the null backend asks for: the CPU backends' own, so that a null
 * run cuts the same batches as a CPU run of the same input. */
#define EP_NULL_BATCH_TOKENS 4096

/* Creates the null backend for model's row width (no weights are touched).
 * @return EP_OK and *out set, or EP_ERR_USAGE (no model) / EP_ERR_NOMEM. */
ep_status ep_backend_null_create(const ep_model *model, ep_backend **out, ep_error *err);

#ifdef __cplusplus
}
#endif

#endif /* EP_BACKEND_NULL_H */
