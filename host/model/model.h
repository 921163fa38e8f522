/*
 * model.h - a BERT-architecture sentence-transformers model in host memory.
 *
 * ep_model_load reads a Hugging Face sentence-transformers folder:
 *   config.json                 architecture (hidden size, layers, heads, ...)
 *   model.safetensors           weights, F32 / F16 / BF16, memory-mapped
 *   tokenizer.json / vocab.txt  the tokenizer (loaded by tokenizer/ through model_tokenizer.h;
 *                               tokenizer.json when present, else vocab.txt)
 *   tokenizer_config.json       do_lower_case
 *   sentence_bert_config.json   max_seq_length
 *   modules.json + 1_Pooling/config.json   pooling mode, Normalize module
 * Every tensor is checked against the config; all weights end up as float32
 * arrays owned by the model, row-major, in the layouts documented below, each
 * 64-byte aligned inside one block (storage). Tensor names may carry a "bert."
 * prefix; LayerNorm parameters may use the old gamma/beta names; pooler.* and
 * embeddings.position_ids are ignored. Which file each config field comes from,
 * and the defaults for absent files or keys (sentence_bert_config.json is
 * optional: max_seq_length then follows sentence-transformers' rule), are
 * documented in model_config.h.
 */
#ifndef EP_MODEL_H
#define EP_MODEL_H

#include "embedpipe.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ep_pooling { EP_POOLING_MEAN = 0, EP_POOLING_CLS = 1 } ep_pooling;

typedef struct ep_model_config {
    int vocab_size;          /* rows of the word embedding table (30522) */
    int hidden;              /* H: model width (384) */
    int n_layers;            /* encoder layers (6) */
    int n_heads;             /* attention heads (12); head size = hidden / n_heads */
    int intermediate;        /* I: feed-forward width (1536) */
    int max_position;        /* rows of the position embedding table (512) */
    int type_vocab_size;     /* rows of the token-type table (2) */
    float layer_norm_eps;    /* LayerNorm epsilon (1e-12) */
    int max_seq_length;      /* tokens per text incl. [CLS]/[SEP], from sentence_bert_config (256) */
    ep_pooling pooling;      /* from 1_Pooling/config.json */
    bool normalize;          /* a Normalize module follows pooling (modules.json) */
    bool do_lower_case;      /* from tokenizer_config.json */
    char name[256];          /* folder name, e.g. "all-MiniLM-L6-v2" */
    char weights_sha256[65]; /* hex SHA-256 of model.safetensors */
} ep_model_config;

/* One encoder layer. Linear weights keep Hugging Face's [out][in] layout. */
typedef struct ep_layer {
    float *qkv_weight;      /* [3H][H]: query rows, then key rows, then value rows */
    float *qkv_bias;        /* [3H] */
    float *attn_out_weight; /* [H][H] */
    float *attn_out_bias;   /* [H] */
    float *attn_ln_gamma;   /* [H] LayerNorm after attention + residual */
    float *attn_ln_beta;    /* [H] */
    float *ffn_in_weight;   /* [I][H] */
    float *ffn_in_bias;     /* [I] */
    float *ffn_out_weight;  /* [H][I] */
    float *ffn_out_bias;    /* [H] */
    float *ffn_ln_gamma;    /* [H] LayerNorm after feed-forward + residual */
    float *ffn_ln_beta;     /* [H] */
} ep_layer;

typedef struct ep_model {
    ep_model_config config;
    char dir[4096];         /* the folder it was loaded from */
    float *word_emb;        /* [vocab_size][H] */
    float *pos_emb;         /* [max_position][H] */
    float *type_emb;        /* [type_vocab_size][H] */
    float *emb_ln_gamma;    /* [H] */
    float *emb_ln_beta;     /* [H] */
    ep_layer *layers;       /* [n_layers] */
    void *storage;          /* owner of the arrays above (private) */
} ep_model;

/* Loads the model folder `dir`.
 * @return EP_OK and *out set; or EP_ERR_MODEL / EP_ERR_FORMAT / EP_ERR_IO with a
 *         message naming the missing or malformed file or tensor and how to get
 *         the model (scripts/fetch-model.sh). *out is NULL on failure. */
ep_status ep_model_load(const char *dir, ep_model **out, ep_error *err);

/* Reads only the configuration files of `dir` (no weights): what the tokenizer
 * and the manifest need. weights_sha256 is left empty.
 * @return EP_OK and *config filled; errors as ep_model_load. */
ep_status ep_model_load_config(const char *dir, ep_model_config *config, ep_error *err);

/* Frees the model. Accepts NULL. */
void ep_model_free(ep_model *model);

#ifdef __cplusplus
}
#endif

#endif /* EP_MODEL_H */
