/*
 * model_test_util.h - helpers of the model-loading tests: a second, independent
 * reader of safetensors files (fread + cJSON + ldexp decoding, sharing no code
 * with host/model/safetensors.c) to hold the loader against, a header rewriter that
 * produces malformed variants, the tiny-model generator, and small file edits.
 */
#ifndef EP_MODEL_TEST_UTIL_H
#define EP_MODEL_TEST_UTIL_H

#include "model.h"
#include "test_util.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ----------------------------------------------------------------------------
// files

static inline int mt_write_text(const char *path, const char *text) {
    return ep_test_write_file(path, text, strlen(text));
}

static inline int mt_sh(const char *fmt, const char *a, const char *b) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, fmt, a, b);
    int rc = system(cmd);
    if (rc != 0) fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
    return rc;
}

/* Runs scripts/make-tiny-model.py --out dir <args>. @return 0 on success. */
static inline int mt_make_tiny(const char *dir, const char *args) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "python3 '%s/scripts/make-tiny-model.py' --out '%s' %s",
             ep_test_env("EP_SOURCE_DIR", "."), dir, args);
    int rc = system(cmd);
    if (rc != 0) fprintf(stderr, "make-tiny-model failed (%d): %s\n", rc, cmd);
    return rc;
}

/* Loads a JSON file, lets edit() change it, writes it back. @return 0 on success. */
static inline int mt_edit_json(const char *path, void (*edit)(cJSON *root, const void *arg), const void *arg) {
    char *text = ep_test_read_file(path, NULL);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!root) return -1;
    edit(root, arg);
    char *out = cJSON_Print(root);
    int rc = out ? mt_write_text(path, out) : -1;
    cJSON_free(out);
    cJSON_Delete(root);
    return rc;
}

// ----------------------------------------------------------------------------
// an independent safetensors reader

typedef struct mt_raw {
    uint8_t *bytes;
    size_t size;
    uint64_t header_len;
    cJSON *header;
} mt_raw;

static inline int mt_raw_open(const char *path, mt_raw *r) {
    memset(r, 0, sizeof *r);
    r->bytes = (uint8_t *)ep_test_read_file(path, &r->size);
    if (!r->bytes || r->size < 8) return -1;
    for (int i = 7; i >= 0; i--) r->header_len = (r->header_len << 8) | r->bytes[i];
    if (r->header_len > r->size - 8) return -1;
    r->header = cJSON_ParseWithLength((const char *)r->bytes + 8, (size_t)r->header_len);
    return r->header ? 0 : -1;
}

static inline void mt_raw_close(mt_raw *r) {
    free(r->bytes);
    cJSON_Delete(r->header);
    memset(r, 0, sizeof *r);
}

/* binary16 by its definition: (-1)^s 2^(e-15) (1 + m/1024), subnormals 2^-14 m/1024. */
static inline float mt_half(uint16_t h) {
    int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double v;
    if (e == 31) v = m ? NAN : INFINITY;
    else if (e == 0) v = ldexp((double)m, -24);
    else v = ldexp(1.0 + m / 1024.0, e - 15);
    return (float)(s ? -v : v);
}

/* bfloat16 by its definition: the top half of a binary32. */
static inline float mt_bfloat(uint16_t h) {
    uint8_t b[4] = {0, 0, (uint8_t)(h & 0xff), (uint8_t)(h >> 8)};
    float f;
    memcpy(&f, b, 4);
    return f;
}

/* Decodes tensor `name` as floats into a malloc'd array. @return its element count, or -1. */
static inline long mt_raw_tensor(const mt_raw *r, const char *name, float **out) {
    *out = NULL;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(r->header, name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(t, "dtype");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(t, "data_offsets");
    if (!cJSON_IsString(dt) || cJSON_GetArraySize(off) != 2) return -1;
    size_t begin = (size_t)off->child->valuedouble, end = (size_t)off->child->next->valuedouble;
    const uint8_t *p = r->bytes + 8 + r->header_len + begin;
    int esize = strcmp(dt->valuestring, "F32") == 0 ? 4 : 2;
    long n = (long)((end - begin) / (size_t)esize);
    float *v = malloc(sizeof(float) * (size_t)(n ? n : 1));
    for (long i = 0; i < n; i++) {
        if (esize == 4) {
            uint32_t bits = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
                            (uint32_t)p[4 * i + 3] << 24;
            memcpy(&v[i], &bits, 4);
        } else {
            uint16_t h = (uint16_t)(p[2 * i] | p[2 * i + 1] << 8);
            v[i] = strcmp(dt->valuestring, "F16") == 0 ? mt_half(h) : mt_bfloat(h);
        }
    }
    *out = v;
    return n;
}

/* Writes header + the data region of r to path; padding the header with spaces to 8 bytes. */
static inline int mt_raw_write(const mt_raw *r, const cJSON *header, const char *path) {
    char *h = cJSON_PrintUnformatted(header);
    if (!h) return -1;
    size_t hl = strlen(h), padded = (hl + 7) / 8 * 8;
    size_t data_len = r->size - 8 - (size_t)r->header_len;
    uint8_t *buf = malloc(8 + padded + data_len);
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    memcpy(buf + 8, h, hl);
    memset(buf + 8 + hl, ' ', padded - hl);
    memcpy(buf + 8 + padded, r->bytes + 8 + r->header_len, data_len);
    int rc = ep_test_write_file(path, buf, 8 + padded + data_len);
    free(buf);
    cJSON_free(h);
    return rc;
}

// ----------------------------------------------------------------------------
// the model's arrays under their Hugging Face names

typedef struct mt_array {
    char name[128];   /* without any "bert." prefix */
    const float *p;
    size_t n;
} mt_array;

static inline int mt_model_arrays(const ep_model *m, mt_array *a, int cap) {
    const ep_model_config *c = &m->config;
    size_t H = (size_t)c->hidden, I = (size_t)c->intermediate;
    int k = 0;
#define ADD(ptr, count, ...)                                                \
    do {                                                                    \
        if (k < cap) {                                                      \
            snprintf(a[k].name, sizeof a[k].name, __VA_ARGS__);             \
            a[k].p = (ptr);                                                 \
            a[k].n = (count);                                               \
        }                                                                   \
        k++;                                                                \
    } while (0)
    ADD(m->word_emb, (size_t)c->vocab_size * H, "embeddings.word_embeddings.weight");
    ADD(m->pos_emb, (size_t)c->max_position * H, "embeddings.position_embeddings.weight");
    ADD(m->type_emb, (size_t)c->type_vocab_size * H, "embeddings.token_type_embeddings.weight");
    ADD(m->emb_ln_gamma, H, "embeddings.LayerNorm.weight");
    ADD(m->emb_ln_beta, H, "embeddings.LayerNorm.bias");
    for (int l = 0; l < c->n_layers; l++) {
        const ep_layer *L = &m->layers[l];
        const char *qkv[3] = {"query", "key", "value"};
        for (int i = 0; i < 3; i++) {
            ADD(L->qkv_weight + (size_t)i * H * H, H * H, "encoder.layer.%d.attention.self.%s.weight", l, qkv[i]);
            ADD(L->qkv_bias + (size_t)i * H, H, "encoder.layer.%d.attention.self.%s.bias", l, qkv[i]);
        }
        ADD(L->attn_out_weight, H * H, "encoder.layer.%d.attention.output.dense.weight", l);
        ADD(L->attn_out_bias, H, "encoder.layer.%d.attention.output.dense.bias", l);
        ADD(L->attn_ln_gamma, H, "encoder.layer.%d.attention.output.LayerNorm.weight", l);
        ADD(L->attn_ln_beta, H, "encoder.layer.%d.attention.output.LayerNorm.bias", l);
        ADD(L->ffn_in_weight, I * H, "encoder.layer.%d.intermediate.dense.weight", l);
        ADD(L->ffn_in_bias, I, "encoder.layer.%d.intermediate.dense.bias", l);
        ADD(L->ffn_out_weight, H * I, "encoder.layer.%d.output.dense.weight", l);
        ADD(L->ffn_out_bias, H, "encoder.layer.%d.output.dense.bias", l);
        ADD(L->ffn_ln_gamma, H, "encoder.layer.%d.output.LayerNorm.weight", l);
        ADD(L->ffn_ln_beta, H, "encoder.layer.%d.output.LayerNorm.bias", l);
    }
#undef ADD
    return k;
}

/* Every model array against the independently decoded file: bit-for-bit.
 * @return the number of arrays compared (checks are counted in ep_test_failures). */
static inline int mt_compare_with_file(const ep_model *m, const char *safetensors_path, const char *prefix) {
    mt_raw r;
    if (mt_raw_open(safetensors_path, &r) != 0) {
        fprintf(stderr, "cannot read %s independently\n", safetensors_path);
        ep_test_failures++;
        return 0;
    }
    int cap = 5 + 16 * m->config.n_layers;
    mt_array *a = calloc((size_t)cap, sizeof *a);
    int n = mt_model_arrays(m, a, cap), compared = 0;
    for (int i = 0; i < n; i++) {
        char name[160];
        snprintf(name, sizeof name, "%s%s", prefix, a[i].name);
        float *v;
        long count = mt_raw_tensor(&r, name, &v);
        if (count < 0) { /* the old LayerNorm spelling */
            size_t len = strlen(name);
            if (len > 7 && strcmp(name + len - 7, ".weight") == 0) strcpy(name + len - 7, ".gamma");
            else if (len > 5 && strcmp(name + len - 5, ".bias") == 0) strcpy(name + len - 5, ".beta");
            count = mt_raw_tensor(&r, name, &v);
        }
        CHECKF(count == (long)a[i].n, "%s: file has %ld elements, model %zu", name, count, a[i].n);
        if (count == (long)a[i].n) {
            size_t bad = 0;
            while (bad < a[i].n && memcmp(&v[bad], &a[i].p[bad], 4) == 0) bad++;
            CHECKF(bad == a[i].n, "%s[%zu]: file %.9g, model %.9g", name, bad, bad < a[i].n ? v[bad] : 0.0,
                   bad < a[i].n ? a[i].p[bad] : 0.0);
            compared++;
        }
        free(v);
    }
    free(a);
    mt_raw_close(&r);
    return compared;
}

#endif /* EP_MODEL_TEST_UTIL_H */
