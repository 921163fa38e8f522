/*
 * postprocess.c - tokenizer.json's "post_processor" for one sequence: the
 * special ids that TemplateProcessing's "single" template, BertProcessing or
 * RobertaProcessing ([CLS] $A [SEP] / <s> $A </s>) put before and after the
 * text's ids. Token type ids are not produced (the encoders take 0 for all).
 */
#include <string.h>

#include "tokjson.h"

static const char *const supported = "supported post-processors: TemplateProcessing, BertProcessing, "
                                     "RobertaProcessing (or none)";

static ep_status add_id(const ep_tokjson *j, const char *path, ep_tokenizer *tok, bool after, double id) {
    int *n = after ? &tok->n_suffix : &tok->n_prefix;
    int32_t *to = after ? tok->suffix : tok->prefix;
    if (*n == EP_TOK_MAX_TEMPLATE)
        return ep_tokjson_fail(j, EP_ERR_MODEL, path, "more than %d special ids on one side of the text",
                               EP_TOK_MAX_TEMPLATE);
    if (!(id >= 0 && id < tok->n_ids) || id != (double)(int32_t)id)
        return ep_tokjson_fail(j, EP_ERR_FORMAT, path, "special id %g is not in the vocabulary (0..%d)", id,
                               tok->n_ids - 1);
    to[(*n)++] = (int32_t)id;
    return EP_OK;
}

// BertProcessing / RobertaProcessing: "cls": ["[CLS]", 101], "sep": ["[SEP]", 102].
static ep_status cls_sep(const ep_tokjson *j, const cJSON *o, const char *path, ep_tokenizer *tok) {
    const char *keys[2] = {"cls", "sep"};
    for (int k = 0; k < 2; k++) {
        const cJSON *pair = cJSON_GetObjectItemCaseSensitive(o, keys[k]);
        const cJSON *id = cJSON_GetArrayItem(pair, 1);
        char p[300];
        ep_tokjson_path(p, sizeof p, path, keys[k], 0);
        if (cJSON_GetArraySize(pair) != 2 || !cJSON_IsString(cJSON_GetArrayItem(pair, 0)) || !cJSON_IsNumber(id))
            return ep_tokjson_fail(j, EP_ERR_FORMAT, p, "expected [\"token\", id]");
        ep_status st = add_id(j, p, tok, k == 1, id->valuedouble);
        if (st) return st;
    }
    return EP_OK;
}

// One piece of the "single" template: {"Sequence": {"id": "A"}} or {"SpecialToken": {"id": "[CLS]"}}.
static ep_status template_piece(const ep_tokjson *j, const cJSON *piece, const cJSON *specials, const char *path,
                                ep_tokenizer *tok, int *seen_a) {
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(piece, "Sequence");
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(piece, "SpecialToken");
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(seq ? seq : sp, "id"));
    if (!cJSON_IsObject(piece) || cJSON_GetArraySize(piece) != 1 || !(seq || sp) || !id)
        return ep_tokjson_fail(j, EP_ERR_FORMAT, path, "expected {\"Sequence\": {\"id\": ...}} or "
                               "{\"SpecialToken\": {\"id\": ...}}");
    if (seq) {
        if (strcmp(id, "A") != 0 || (*seen_a)++)
            return ep_tokjson_fail(j, EP_ERR_MODEL, path, "the single-sequence template must hold $A once (and no "
                                   "$B); found \"%s\"", id);
        return EP_OK;
    }
    const cJSON *entry = cJSON_GetObjectItemCaseSensitive(specials, id);
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(entry, "ids");
    if (!cJSON_IsArray(ids) || !cJSON_GetArraySize(ids))
        return ep_tokjson_fail(j, EP_ERR_FORMAT, path, "special token \"%s\" has no \"ids\" in special_tokens", id);
    for (const cJSON *v = ids->child; v; v = v->next) {
        ep_status st = add_id(j, path, tok, *seen_a > 0, cJSON_IsNumber(v) ? v->valuedouble : -1);
        if (st) return st;
    }
    return EP_OK;
}

static ep_status template_processing(const ep_tokjson *j, const cJSON *o, const char *path, ep_tokenizer *tok) {
    const cJSON *single = cJSON_GetObjectItemCaseSensitive(o, "single");
    const cJSON *specials = cJSON_GetObjectItemCaseSensitive(o, "special_tokens");
    char sp[300], p[300];
    ep_tokjson_path(sp, sizeof sp, path, "single", 0);
    if (!cJSON_IsArray(single)) return ep_tokjson_fail(j, EP_ERR_FORMAT, sp, "expected an array");
    if (specials && !cJSON_IsObject(specials))
        return ep_tokjson_fail(j, EP_ERR_FORMAT, ep_tokjson_path(p, sizeof p, path, "special_tokens", 0),
                               "expected an object");
    int seen_a = 0, i = 0;
    for (const cJSON *piece = single->child; piece; piece = piece->next, i++) {
        ep_status st = template_piece(j, piece, specials, ep_tokjson_path(p, sizeof p, sp, NULL, i), tok, &seen_a);
        if (st) return st;
    }
    if (!seen_a) return ep_tokjson_fail(j, EP_ERR_MODEL, sp, "the template has no $A");
    return EP_OK;
}

ep_status ep_tokjson_post_processor(const ep_tokjson *j, const cJSON *node, ep_tokenizer *tok) {
    if (!node || cJSON_IsNull(node)) return EP_OK;
    const char *type = NULL, *path = "post_processor";
    ep_status st = ep_tokjson_type(j, node, path, &type);
    if (st) return st;
    if (strcmp(type, "TemplateProcessing") == 0) return template_processing(j, node, path, tok);
    if (strcmp(type, "BertProcessing") == 0 || strcmp(type, "RobertaProcessing") == 0)
        return cls_sep(j, node, path, tok);
    return ep_tokjson_fail(j, EP_ERR_MODEL, path, "type \"%s\" is not supported; %s", type, supported);
}
