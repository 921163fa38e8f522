/* cli_query.c - a query embedded as the run of an output folder embedded its texts (`search`, `similar`):
 * the same model (checked by SHA-256, the Dense modules' too), max_seq_length, row width and
 * normalisation, and the prompt sentence-transformers' encode_query would use: the one given, else the
 * model's "query" prompt when it sets one, else the prompt the run put before its texts (a model
 * without query / passage prompts embeds both alike). */
#include "cli.h"
#include "device.h"
#include "manifest.h"
#include "model.h"
#include "model_tokenizer.h"
#include "prompts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The folder's model is the one given: its weights, its Dense modules. @return EP_OK or EP_ERR_MISMATCH. */
static ep_status same_model(const char *dir, const ep_manifest *m, const ep_model *model, const char *model_dir,
                            ep_error *err) {
    if (strcmp(m->model_sha256, model->config.weights_sha256) == 0 &&
        strcmp(m->dense_sha256, model->config.dense_sha256) == 0)
        return EP_OK;
    return ep_error_set(err, EP_ERR_MISMATCH,
                        "%s was written by model %s (sha256 %.12s...), but --model %s has sha256 %.12s...%s; "
                        "pass the same --model that embedded it",
                        dir, m->model_name, m->model_sha256, model_dir, model->config.weights_sha256,
                        strcmp(m->dense_sha256, model->config.dense_sha256) ? " (or other Dense modules)" : "");
}

/* Chooses the query's prompt and sets the model's run settings to the folder's. */
static ep_status query_settings(const ep_manifest *m, ep_model *model, const ep_tokenizer *tok, const ep_prompts *p,
                                const ep_cli_query *q, const char **prompt, ep_error *err) {
    const char *name = NULL;
    ep_status st = EP_OK;
    if (q->prompt_name || q->prompt_text) st = ep_prompt_choose(p, q->prompt_name, q->prompt_text, prompt, &name, err);
    else if (ep_prompts_query(p)) *prompt = ep_prompts_query(p);
    else *prompt = m->prompt;
    if (st != EP_OK) return st;
    ep_model_run run = {.dim = m->dim < ep_model_full_dim(&model->config) ? m->dim : 0, .normalize = m->normalized};
    if (model->config.exclude_prompt && (*prompt)[0])
        run.prompt_tokens = ep_prompt_tokens(tok, *prompt, m->max_seq_length);
    if (run.prompt_tokens < 0) return ep_error_set(err, EP_ERR_NOMEM, "out of memory");
    return ep_model_set_run(model, &run, err);
}

int ep_cli_embed_query(const char *dir, const char *query, const ep_cli_query *q, float **vec, int *dim_out) {
    ep_error err = {0};
    ep_model *model = NULL;
    ep_tokenizer *tok = NULL;
    ep_backend *backend = NULL;
    ep_manifest *m = NULL;
    ep_prompts *prompts = NULL;
    int32_t *ids = NULL;
    float *qvec = NULL;
    const char *prompt = "";
    ep_prompt_buf buf = {0};
    int rc = EP_EXIT_OK;
    *vec = NULL;
    if (ep_manifest_read(dir, &m, &err) != EP_OK || ep_model_load(q->model_dir, &model, &err) != EP_OK) goto fail;
    // Zero rows rank nothing: a null folder or a null query would print scores that mean nothing.
    if (m->null_device || strcmp(q->device, "null") == 0) {
        ep_error_set(&err, EP_ERR_USAGE, "%s: --device null computes no embeddings (zero rows), so there is "
                     "nothing to search; embed with --device cpu or cuda", m->null_device ? dir : "search");
        goto fail;
    }
    if (same_model(dir, m, model, q->model_dir, &err) != EP_OK ||
        ep_model_tokenizer_create(q->model_dir, &model->config, &tok, &err) != EP_OK ||
        ep_prompts_load(q->model_dir, &prompts, &err) != EP_OK ||
        query_settings(m, model, tok, prompts, q, &prompt, &err) != EP_OK ||
        ep_backend_create(model, &(ep_backend_options){.device = q->device}, &backend, &err) != EP_OK)
        goto fail;
    if (backend->warning[0]) fprintf(stderr, "embedpipe: warning: --device %s: %s\n", q->device, backend->warning);
    const int max_len = m->max_seq_length, dim = backend->dim;
    ids = malloc(sizeof(int32_t) * (size_t)max_len);
    qvec = malloc(sizeof(float) * (size_t)dim);
    const int n = ids && qvec ? ep_prompt_encode(tok, prompt, strlen(prompt), query, strlen(query), ids, max_len,
                                                 NULL, &buf)
                              : -1;
    if (n < 0) {
        ep_error_set(&err, EP_ERR_NOMEM, "out of memory");
        goto fail;
    }
    int32_t seq_start[2] = {0, n};
    ep_batch batch = {.n_seqs = 1, .n_tokens = n, .max_seq_len = n, .token_ids = ids, .seq_start = seq_start};
    if (ep_backend_encode(backend, &batch, qvec, NULL, &err) != EP_OK) goto fail;
    *vec = qvec;
    *dim_out = dim;
    qvec = NULL;
    goto done;
fail:
    rc = ep_cli_report(&err);
done:
    free(buf.data);
    free(ids);
    free(qvec);
    ep_backend_free(backend);
    ep_prompts_free(prompts);
    ep_tokenizer_free(tok);
    ep_model_free(model);
    ep_manifest_free(m);
    return rc;
}
