/*
 * embedder.c - ep_embedder of include/embedpipe.h: a model folder, its
 * tokenizer and a backend, behind texts in, float32 rows out.
 *
 * The rows are those `embedpipe embed` writes, bit for bit (before its
 * float16 cast): every backend gives a text the same vector whatever batch it
 * is computed in (docs/PERFORMANCE.md, "batch invariance"), and the texts are
 * cut into batches by the pipeline's own batcher (host/pipeline/batcher.h).
 * Texts go GROUP_ROWS at a time, so that memory stays bounded however many
 * one call passes.
 */
#include "batcher.h"
#include "device.h"
#include "model.h"
#include "model_tokenizer.h"
#include "prompts.h"
#include "settings.h"
#include "tokenizer.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Texts tokenised and batched at a time; texts per batch; the batch size in tokens when the backend
 * states none (the pipeline's defaults). */
#define GROUP_ROWS 32768
#define MAX_SEQS 1024
#define CPU_BATCH_TOKENS 4096

struct ep_embedder_options {
    char *device;
    char *precision;
    long threads;
    long max_seq_length;
    long batch_tokens;
    char *prompt_name;  /* NULL = the model's default prompt */
    char *prompt_text;  /* NULL = not given */
    long dim;           /* 0 = the model's */
};

struct ep_embedder {
    ep_model *model;
    ep_tokenizer *tok;
    ep_backend *backend;
    ep_prompts *prompts;
    char *prompt;         /* put before every text ("" = none) */
    ep_prompt_buf buf;    /* prompt + text */
    int dim;
    int max_len;
    size_t batch_tokens;
    int32_t *ids;         /* [cap * max_len]: the token ids of one group, max_len per text */
    ep_batcher_seq *seqs; /* [cap]: the group's texts as the batcher takes them */
    size_t cap;           /* texts the two arrays above hold (grown on demand, at most GROUP_ROWS) */
    ep_packed_batch packed; /* one batch's ids back to back */
    float *rows;          /* [MAX_SEQS * dim]: one batch's output */
};

ep_embedder_options *ep_embedder_options_create(void) { return calloc(1, sizeof(ep_embedder_options)); }

void ep_embedder_options_free(ep_embedder_options *o) {
    if (!o) return;
    free(o->device);
    free(o->precision);
    free(o->prompt_name);
    free(o->prompt_text);
    free(o);
}

/* @return EP_OK and *out = value as a whole number in 0..max; else EP_ERR_USAGE naming the option. */
static ep_status parse_count(const char *name, const char *value, long max, long *out, ep_error *err) {
    char *end = NULL;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno || end == value || *end || v < 0 || v > max)
        return ep_error_set(err, EP_ERR_USAGE, "embedder option %s = \"%s\": expected a whole number from 0 to %ld",
                            name, value, max);
    *out = v;
    return EP_OK;
}

static ep_status set_string(char **slot, const char *value, ep_error *err) {
    char *copy = strdup(value);
    if (!copy) return ep_error_set(err, EP_ERR_NOMEM, "out of memory");
    free(*slot);
    *slot = copy;
    return EP_OK;
}

ep_status ep_embedder_options_set(ep_embedder_options *o, const char *name, const char *value, ep_error *err) {
    if (!o || !name || !value)
        return ep_error_set(err, EP_ERR_USAGE, "ep_embedder_options_set: options, name and value must not be NULL");
    if (strcmp(name, "device") == 0) return set_string(&o->device, value, err);
    if (strcmp(name, "precision") == 0) return set_string(&o->precision, value, err);
    if (strcmp(name, "threads") == 0) return parse_count(name, value, 4096, &o->threads, err);
    if (strcmp(name, "max_seq_length") == 0) return parse_count(name, value, INT_MAX, &o->max_seq_length, err);
    if (strcmp(name, "batch_tokens") == 0) return parse_count(name, value, INT_MAX, &o->batch_tokens, err);
    if (strcmp(name, "prompt") == 0) return set_string(&o->prompt_name, value, err);
    if (strcmp(name, "prompt_text") == 0) return set_string(&o->prompt_text, value, err);
    if (strcmp(name, "dim") == 0) return parse_count(name, value, INT_MAX, &o->dim, err);
    return ep_error_set(err, EP_ERR_USAGE,
                        "unknown embedder option \"%s\": expected device, precision, threads, max_seq_length, "
                        "batch_tokens, prompt, prompt_text or dim", name);
}

/* The prompt (the option's, else the model's default, as sentence-transformers' encode) and the width.
 * Rows are normalised as the model says (a caller normalises others itself, as Python's encode does). */
static ep_status setup_head(ep_embedder *e, const char *dir, const ep_embedder_options *o, ep_error *err) {
    const char *prompt = "", *name = NULL;
    ep_status st = ep_prompts_load(dir, &e->prompts, err);
    if (st == EP_OK) st = ep_prompt_choose(e->prompts, o->prompt_name, o->prompt_text, &prompt, &name, err);
    if (st == EP_OK && !(e->prompt = strdup(prompt))) st = ep_error_set(err, EP_ERR_NOMEM, "out of memory");
    if (st != EP_OK) return st;
    ep_model_run run = {.dim = o->dim ? (int)o->dim : e->model->run.dim};
    if (e->model->config.exclude_prompt && e->prompt[0]) run.prompt_tokens = ep_prompt_tokens(e->tok, e->prompt, e->max_len);
    if (run.prompt_tokens < 0) return ep_error_set(err, EP_ERR_NOMEM, "out of memory");
    st = ep_model_set_run(e->model, &run, err);
    e->dim = ep_model_output_dim(e->model);
    return st;
}

/* Model, tokenizer, length limit and backend, as the pipeline sets them up for `embed`. */
static ep_status setup(ep_embedder *e, const char *dir, const ep_embedder_options *o, ep_error *err) {
    ep_status st = ep_model_load(dir, &e->model, err);
    if (st != EP_OK) return st;
    const ep_model_config *c = &e->model->config;
    e->max_len = c->max_seq_length;
    if (o->max_seq_length > 0) {
        if (o->max_seq_length < 2 || o->max_seq_length > ep_model_max_tokens(c))
            return ep_error_set(err, EP_ERR_USAGE, "embedder option max_seq_length = %ld: must be between 2 and %d "
                                "for the model %s", o->max_seq_length, ep_model_max_tokens(c), dir);
        e->max_len = (int)o->max_seq_length;
    }
    st = ep_model_tokenizer_create(dir, c, &e->tok, err);
    if (st == EP_OK) st = setup_head(e, dir, o, err);
    if (st != EP_OK) return st;
    if (e->max_len < ep_tokenizer_n_special(e->tok)) // the template's specials must fit (2 for BERT)
        return ep_error_set(err, EP_ERR_USAGE, "embedder option max_seq_length = %d: the model's tokenizer adds %d "
                            "special tokens to every text", e->max_len, ep_tokenizer_n_special(e->tok));
    const int threads = o->threads > 0 ? (int)o->threads : ep_default_threads();
    // Zero rows are never what a caller of the embedding API wants; the null device is for measuring runs.
    if (o->device && strcmp(o->device, "null") == 0)
        return ep_error_set(err, EP_ERR_USAGE, "embedder option device = null: the null device computes no "
                            "embeddings (zero rows); use cpu, cuda or auto");
    // The backend last: a GPU is held only once everything else is known to be fine.
    ep_backend_options bo = {.device = o->device, .threads = threads, .batch_tokens = (size_t)o->batch_tokens,
                             .precision = o->precision};
    st = ep_backend_create(e->model, &bo, &e->backend, err);
    if (st != EP_OK) return st;
    e->batch_tokens = o->batch_tokens             ? (size_t)o->batch_tokens
                      : e->backend->batch_tokens ? e->backend->batch_tokens
                                                 : CPU_BATCH_TOKENS;
    if (e->batch_tokens < (size_t)e->max_len) e->batch_tokens = (size_t)e->max_len; /* a longest text fits alone */
    st = ep_packed_batch_init(&e->packed, e->batch_tokens, MAX_SEQS, err);
    if (st != EP_OK) return st;
    e->rows = malloc(sizeof(float) * MAX_SEQS * (size_t)e->dim);
    if (!e->rows) return ep_error_set(err, EP_ERR_NOMEM, "out of memory for the embedder's buffers");
    return EP_OK;
}

ep_status ep_embedder_create(const char *model_dir, const ep_embedder_options *options, ep_embedder **out,
                             ep_error *err) {
    if (!out) return ep_error_set(err, EP_ERR_USAGE, "ep_embedder_create: out must not be NULL");
    *out = NULL;
    if (!model_dir || !*model_dir) return ep_error_set(err, EP_ERR_USAGE, "ep_embedder_create: no model folder given");
    static const ep_embedder_options defaults = {0};
    ep_embedder *e = calloc(1, sizeof *e);
    if (!e) return ep_error_set(err, EP_ERR_NOMEM, "out of memory");
    ep_status st = setup(e, model_dir, options ? options : &defaults, err);
    if (st != EP_OK) {
        ep_embedder_free(e);
        return st;
    }
    *out = e;
    return EP_OK;
}

void ep_embedder_free(ep_embedder *e) {
    if (!e) return;
    ep_backend_free(e->backend);
    ep_tokenizer_free(e->tok);
    ep_prompts_free(e->prompts);
    free(e->prompt);
    free(e->buf.data);
    ep_model_free(e->model);
    free(e->ids);
    free(e->seqs);
    ep_packed_batch_free(&e->packed);
    free(e->rows);
    free(e);
}

int ep_embedder_dim(const ep_embedder *e) { return e ? e->dim : 0; }
int ep_embedder_max_seq_length(const ep_embedder *e) { return e ? e->max_len : 0; }
int ep_embedder_normalized(const ep_embedder *e) { return e && ep_model_normalizes(e->model); }
const char *ep_embedder_device(const ep_embedder *e) { return e ? e->backend->description : ""; }

// ----------------------------------------------------------------------------
// Encoding

/* Room for the token ids of n texts. @return EP_OK or EP_ERR_NOMEM. */
static ep_status reserve(ep_embedder *e, size_t n, ep_error *err) {
    if (n <= e->cap) return EP_OK;
    int32_t *ids = realloc(e->ids, sizeof(int32_t) * n * (size_t)e->max_len);
    if (ids) e->ids = ids;
    ep_batcher_seq *seqs = realloc(e->seqs, sizeof *seqs * n);
    if (seqs) e->seqs = seqs;
    if (!ids || !seqs) return ep_error_set(err, EP_ERR_NOMEM, "out of memory for the tokens of %zu texts", n);
    e->cap = n;
    return EP_OK;
}

/* Computes batch k of plan for the group starting at text base; scatters the rows to out. A non-finite
 * value is refused as the pipeline refuses it: it would poison every search over the rows. */
static ep_status run_batch(ep_embedder *e, const ep_batch_plan *plan, size_t k, size_t base, float *out,
                           ep_error *err) {
    ep_batch batch;
    ep_status st = ep_batch_pack(plan, k, e->seqs, &e->packed, &batch, err);
    if (st == EP_OK) st = ep_backend_encode(e->backend, &batch, e->rows, NULL, err);
    for (int s = 0; st == EP_OK && s < batch.n_seqs; s++) {
        const float *row = e->rows + (size_t)s * (size_t)e->dim;
        const size_t text = base + e->packed.pos[s];
        for (int d = 0; d < e->dim; d++)
            if (!isfinite(row[d]))
                return ep_error_set(err, EP_ERR_MODEL, "the model produced a non-finite value (NaN or Inf) for "
                                    "text %zu: its activations overflow float32; check the model", text);
        memcpy(out + text * (size_t)e->dim, row, sizeof(float) * (size_t)e->dim);
    }
    return st;
}

/* Tokenises texts base .. base+n-1 (n <= GROUP_ROWS) and embeds them in the batcher's batches. */
static ep_status encode_group(ep_embedder *e, const char *const *texts, const size_t *lengths, size_t base, size_t n,
                              float *out, ep_error *err) {
    for (size_t i = 0; i < n; i++) {
        const char *t = texts[base + i];
        size_t len = lengths ? lengths[base + i] : (t ? strlen(t) : 0);
        if (!t && len) return ep_error_set(err, EP_ERR_USAGE, "ep_embedder_encode: text %zu is NULL", base + i);
        int32_t *ids = e->ids + i * (size_t)e->max_len;
        const int n_ids = ep_prompt_encode(e->tok, e->prompt, strlen(e->prompt), t, len, ids, e->max_len, NULL, &e->buf);
        if (n_ids < 0) return ep_error_set(err, EP_ERR_NOMEM, "out of memory tokenising text %zu", base + i);
        e->seqs[i] = (ep_batcher_seq){.ids = ids, .n_tokens = n_ids};
    }
    ep_batch_plan plan;
    ep_status st = ep_batch_plan_make(e->seqs, n, e->batch_tokens, MAX_SEQS, &plan, err);
    for (size_t k = 0; st == EP_OK && k < plan.n_batches; k++) st = run_batch(e, &plan, k, base, out, err);
    ep_batch_plan_free(&plan);
    return st;
}

ep_status ep_embedder_encode(ep_embedder *e, const char *const *texts, const size_t *lengths, size_t n, float *out,
                             ep_error *err) {
    if (n == 0) return EP_OK;
    if (!e || !texts || !out)
        return ep_error_set(err, EP_ERR_USAGE, "ep_embedder_encode: embedder, texts and out must not be NULL");
    ep_status st = reserve(e, n < GROUP_ROWS ? n : GROUP_ROWS, err);
    for (size_t base = 0; base < n && st == EP_OK; base += GROUP_ROWS) {
        size_t count = n - base < GROUP_ROWS ? n - base : GROUP_ROWS;
        st = encode_group(e, texts, lengths, base, count, out, err);
    }
    return st;
}
