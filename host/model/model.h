/*
 * model.h - a BERT-architecture sentence-transformers model in host memory.
 *
 * ep_model_load reads a Hugging Face sentence-transformers folder:
 *   config.json                 architecture: model_type "bert", "roberta" or "xlm-roberta" (the same
 *                               encoder; RoBERTa's position ids start after the padding index)
 *   model.safetensors           weights, F32 / F16 / BF16, memory-mapped
 *   tokenizer.json / vocab.txt  the tokenizer (loaded by tokenizer/ through model_tokenizer.h;
 *                               tokenizer.json when present, else vocab.txt)
 *   tokenizer_config.json       do_lower_case
 *   sentence_bert_config.json   max_seq_length
 *   modules.json                Transformer -> Pooling -> Dense* -> [Normalize]
 *   1_Pooling/config.json       the pooling modes (pooling_config.c)
 *   N_Dense/                    each Dense module's config.json and model.safetensors (dense.c)
 *   config_sentence_transformers.json   truncate_dim (the prompts: prompts.h)
 * Every tensor is checked against the config; all weights end up as float32
 * arrays owned by the model, row-major, in the layouts documented below, each
 * 64-byte aligned inside one block (storage). Tensor names may carry a "bert."
 * or "roberta." prefix; LayerNorm parameters may use the old gamma/beta names;
 * pooler.*, lm_head.* and embeddings.position_ids are ignored. Which file each
 * config field comes from, and the defaults for absent files or keys
 * (sentence_bert_config.json is optional: max_seq_length then follows
 * sentence-transformers' rule), are documented in model_config.h.
 */
#ifndef EP_MODEL_H
#define EP_MODEL_H

#include "embedpipe.h"

#ifdef __cplusplus
extern "C" {
#endif

/* sentence-transformers' pooling modes (1_Pooling/config.json). */
typedef enum ep_pooling {
    EP_POOLING_MEAN = 0,          /* mean of the sequence's tokens */
    EP_POOLING_CLS = 1,           /* its first token */
    EP_POOLING_MAX = 2,           /* per column, the largest value */
    EP_POOLING_MEAN_SQRT_LEN = 3, /* the sum divided by sqrt(tokens) ("mean_sqrt_len_tokens") */
    EP_POOLING_WEIGHTED_MEAN = 4, /* token i weighted i + 1 ("weightedmean") */
    EP_POOLING_LAST = 5           /* its last token ("lasttoken") */
} ep_pooling;
#define EP_MAX_POOL_MODES 6
#define EP_MAX_DENSE 4

/* The activation of a Dense module (torch.nn class named in its config.json). */
typedef enum ep_activation {
    EP_ACTIVATION_IDENTITY = 0,
    EP_ACTIVATION_TANH = 1,
    EP_ACTIVATION_RELU = 2,
    EP_ACTIVATION_GELU = 3, /* torch.nn.GELU(): the exact erf form */
    EP_ACTIVATION_SIGMOID = 4,
    EP_ACTIVATION_SILU = 5
} ep_activation;

/* A sentence-transformers Dense module: out = act(W x + b) on the pooled row. */
typedef struct ep_dense_config {
    int in, out;              /* in_features, out_features */
    bool bias;                /* it has a bias vector */
    ep_activation act;
    char path[64];            /* its subfolder, e.g. "2_Dense" */
} ep_dense_config;

/* How the position of a token is found. */
typedef enum ep_positions {
    EP_POSITIONS_ABSOLUTE = 0, /* BERT: the token's offset in its sequence */
    EP_POSITIONS_AFTER_PAD = 1 /* RoBERTa / XLM-R: pad_token_id + 1 + the number of non-padding tokens
                                  before it (a padding token itself sits at pad_token_id), as
                                  transformers' create_position_ids_from_input_ids */
} ep_positions;

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
    char model_type[32];     /* config.json model_type: "bert", "roberta", "xlm-roberta" */
    ep_positions positions;  /* absolute (bert) or after the padding index (roberta, xlm-roberta) */
    int pad_token_id;        /* the padding id RoBERTa positions count from (1); unused for absolute */
    ep_pooling pooling;      /* the first (for most models the only) pooling mode */
    ep_pooling pool_modes[EP_MAX_POOL_MODES]; /* every mode, in the order their rows are concatenated */
    int n_pool_modes;        /* 0 (a config built by hand) or 1 = `pooling` alone */
    bool exclude_prompt;     /* 1_Pooling include_prompt false: prompt tokens are left out of pooling */
    int n_dense;             /* Dense modules after pooling (modules.json), applied in order */
    ep_dense_config dense[EP_MAX_DENSE];
    bool normalize;          /* a Normalize module ends the model (modules.json) */
    int truncate_dim;        /* config_sentence_transformers.json truncate_dim (0 = none) */
    bool do_lower_case;      /* from tokenizer_config.json */
    char name[256];          /* folder name, e.g. "all-MiniLM-L6-v2" */
    char weights_sha256[65]; /* hex SHA-256 of model.safetensors */
    char dense_sha256[65];   /* hex SHA-256 of the Dense modules' SHA-256s in order ("" without Dense) */
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

/* A Dense module's weights. */
typedef struct ep_dense {
    float *weight; /* [out][in] */
    float *bias;   /* [out], or NULL */
} ep_dense;

/* What a caller chooses per run, set on a loaded model before a backend is created from it
 * (ep_model_set_run). All zero is the model's own behaviour. */
typedef struct ep_model_run {
    int dim;           /* keep the first dim values of each row, then normalise (Matryoshka, as
                          sentence-transformers' truncate_dim); 0 = the model's width. ep_model_load sets
                          it to config.truncate_dim */
    int prompt_tokens; /* with exclude_prompt: pooling leaves out each sequence's first prompt_tokens tokens
                          (sentence-transformers' prompt_length: the prompt's tokens with [CLS]) */
    bool normalize;    /* L2-normalise the rows even when the model has no Normalize module */
} ep_model_run;

typedef struct ep_model {
    ep_model_config config;
    char dir[4096];         /* the folder it was loaded from */
    float *word_emb;        /* [vocab_size][H] */
    float *pos_emb;         /* [max_position][H] */
    float *type_emb;        /* [type_vocab_size][H] */
    float *emb_ln_gamma;    /* [H] */
    float *emb_ln_beta;     /* [H] */
    ep_layer *layers;       /* [n_layers] */
    ep_dense dense[EP_MAX_DENSE]; /* [config.n_dense] */
    ep_model_run run;
    void *storage;          /* owner of the arrays above (private) */
    void *dense_storage;    /* owner of the Dense arrays (private) */
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

// ----------------------------------------------------------------------------
// What a row is made of after the encoder (head.c): pooling, Dense, truncation, normalisation.

/* Fills modes[] with the pooling modes in concatenation order. @return their number (>= 1). */
int ep_model_pool_modes(const ep_model_config *c, ep_pooling modes[EP_MAX_POOL_MODES]);

/* @return the width of the pooled row: hidden times the number of pooling modes. */
int ep_model_pooled_dim(const ep_model_config *c);

/* @return the width of the model's rows before any truncation: the last Dense module's out_features,
 * else the pooled width. */
int ep_model_full_dim(const ep_model_config *c);

/* @return the width of the rows a backend writes: run.dim when set and smaller, else the full width. */
int ep_model_output_dim(const ep_model *m);

/* @return true when rows are L2-normalised: a Normalize module, or run.normalize. */
bool ep_model_normalizes(const ep_model *m);

/* @return true when the head is what every backend's fused pool-and-normalise kernel computes: one
 * mean or CLS pooling over all tokens, no Dense, no truncation. */
bool ep_model_head_is_simple(const ep_model *m);

/* @return the most tokens a sequence may have: max_position, less pad_token_id + 1 for RoBERTa positions. */
int ep_model_max_tokens(const ep_model_config *c);

/* @return the padding id the embedding ops number positions after (RoBERTa), or -1 for BERT's
 * positions (the pad_id argument of the embedding ops). */
int ep_model_position_pad(const ep_model_config *c);

/* @return the sentence-transformers name of a pooling mode ("mean", "cls", "max", "mean_sqrt_len_tokens",
 * "weightedmean", "lasttoken"). */
const char *ep_pooling_name(ep_pooling mode);

/* Writes the pooling modes joined by "+" ("mean", "cls+mean") into buf. @return buf. */
char *ep_model_pooling_string(const ep_model_config *c, char *buf, size_t cap);

/* @return the name of an activation as its torch.nn class ("Tanh", "Identity", ...). */
const char *ep_activation_name(ep_activation act);

/* Sets the per-run choices on m after checking them against the model.
 * @return EP_OK; EP_ERR_USAGE naming the bad value (dim above the model's width, negative counts). */
ep_status ep_model_set_run(ep_model *m, const ep_model_run *run, ep_error *err);

#ifdef __cplusplus
}
#endif

#endif /* EP_MODEL_H */
