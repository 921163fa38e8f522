/*
 * tokjson_parts.c - tokenizer.json's "normalizer" and "pre_tokenizer" into
 * the chain's lists (a Sequence is flattened: running its members one after
 * the other is what tokenizers does).
 */
#include <stdlib.h>
#include <string.h>

#include "tokjson.h"
#include "utf8.h"

#define MAX_DEPTH 8 // Sequences inside Sequences

/* wire: precompiled - add precompiled_charsmap.c to tokenizer/CMakeLists.txt and define
 * EP_TOK_HAVE_CHARSMAP there. */
#ifdef EP_TOK_HAVE_CHARSMAP
#include "precompiled_charsmap.h"
#define PRECOMPILED ", Precompiled"

static size_t charsmap_apply(const void *map, const char *text, size_t len, char *out, size_t cap) {
    return ep_charsmap_normalize(map, text, len, out, cap);
}

static void charsmap_free(void *map) {
    ep_charsmap_free(map);
}
#else
#define PRECOMPILED ""
#endif

static const char *const supported_normalizers =
    "supported normalizers: BertNormalizer, NFC, NFD, NFKC, NFKD, Lowercase, Strip, StripAccents, Replace, Prepend, "
    "Nmt" PRECOMPILED ", Sequence";
static const char *const supported_pre_tokenizers =
    "supported pre-tokenizers: BertPreTokenizer, Whitespace, WhitespaceSplit, Punctuation, Metaspace, Sequence";

static ep_tok_norm *add_norm(const ep_tokjson *j, ep_tok_chain *c, const char *path) {
    ep_tok_norm *grown = realloc(c->norm, sizeof *grown * (size_t)(c->n_norm + 1));
    if (!grown) {
        ep_tokjson_fail(j, EP_ERR_NOMEM, path, "out of memory");
        return NULL;
    }
    c->norm = grown;
    memset(&grown[c->n_norm], 0, sizeof *grown);
    return &grown[c->n_norm++];
}

static ep_status bert_normalizer(const ep_tokjson *j, const cJSON *o, const char *path, int lowercase,
                                 ep_tok_norm *nz) {
    ep_hf_bert *b = &nz->bert;
    ep_status st;
    if ((st = ep_tokjson_bool(j, o, path, "clean_text", true, &b->clean_text)) ||
        (st = ep_tokjson_bool(j, o, path, "handle_chinese_chars", true, &b->cjk)) ||
        (st = ep_tokjson_bool(j, o, path, "lowercase", true, &b->lowercase)))
        return st;
    if (lowercase >= 0) b->lowercase = lowercase != 0; // the model folder's do_lower_case wins, as in transformers
    const cJSON *sa = cJSON_GetObjectItemCaseSensitive(o, "strip_accents");
    b->strip_accents = b->lowercase; // null: strip accents exactly when lowercasing
    if (sa && !cJSON_IsNull(sa)) return ep_tokjson_bool(j, o, path, "strip_accents", true, &b->strip_accents);
    return EP_OK;
}

static ep_status replace(const ep_tokjson *j, const cJSON *o, const char *path, ep_tok_norm *nz) {
    const cJSON *pat = cJSON_GetObjectItemCaseSensitive(o, "pattern");
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(pat, "String"), *r = cJSON_GetObjectItemCaseSensitive(pat, "Regex");
    const char *content = NULL;
    char p[300];
    ep_tokjson_path(p, sizeof p, path, "pattern", 0);
    if (!cJSON_IsObject(pat) || cJSON_GetArraySize(pat) != 1 || !(cJSON_IsString(s) || cJSON_IsString(r)))
        return ep_tokjson_fail(j, EP_ERR_FORMAT, p, "expected {\"String\": \"...\"} or {\"Regex\": \"...\"}");
    ep_status st = ep_tokjson_string(j, o, path, "content", true, &content);
    if (st) return st;
    const char *text = s ? s->valuestring : r->valuestring;
    char why[200];
    nz->re = ep_tok_regex_compile(text, strlen(text), s != NULL, why, sizeof why);
    if (!nz->re) return ep_tokjson_fail(j, EP_ERR_MODEL, p, "pattern \"%s\": %s", text, why);
    nz->text = strdup(content);
    nz->text_len = strlen(content);
    return nz->text ? EP_OK : ep_tokjson_fail(j, EP_ERR_NOMEM, path, "out of memory");
}

static ep_status one_normalizer(const ep_tokjson *j, const cJSON *o, const char *path, const char *type,
                                int lowercase, ep_tok_norm *nz) {
    static const struct { const char *name; ep_tok_norm_kind kind; } plain[] = {
        {"NFC", EP_NORM_NFC}, {"NFD", EP_NORM_NFD}, {"NFKC", EP_NORM_NFKC}, {"NFKD", EP_NORM_NFKD},
        {"Lowercase", EP_NORM_LOWERCASE}, {"StripAccents", EP_NORM_STRIP_ACCENTS}, {"Nmt", EP_NORM_NMT}};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        if (strcmp(type, plain[i].name) == 0) {
            nz->kind = plain[i].kind;
            return EP_OK;
        }
    if (strcmp(type, "BertNormalizer") == 0) {
        nz->kind = EP_NORM_BERT;
        return bert_normalizer(j, o, path, lowercase, nz);
    }
    if (strcmp(type, "Strip") == 0) {
        nz->kind = EP_NORM_STRIP;
        ep_status st = ep_tokjson_bool(j, o, path, "strip_left", true, &nz->left);
        return st ? st : ep_tokjson_bool(j, o, path, "strip_right", true, &nz->right);
    }
    if (strcmp(type, "Replace") == 0) {
        nz->kind = EP_NORM_REPLACE;
        return replace(j, o, path, nz);
    }
    if (strcmp(type, "Prepend") == 0) {
        const char *s = NULL;
        nz->kind = EP_NORM_PREPEND;
        ep_status st = ep_tokjson_string(j, o, path, "prepend", true, &s);
        if (st) return st;
        nz->text = strdup(s);
        nz->text_len = strlen(s);
        return nz->text ? EP_OK : ep_tokjson_fail(j, EP_ERR_NOMEM, path, "out of memory");
    }
    if (strcmp(type, "Precompiled") == 0) {
        const char *b64 = NULL;
        ep_status st = ep_tokjson_string(j, o, path, "precompiled_charsmap", true, &b64);
        if (st) return st;
        nz->kind = EP_NORM_PRECOMPILED;
#ifdef EP_TOK_HAVE_CHARSMAP
        ep_charsmap *map = NULL;
        if ((st = ep_charsmap_create(b64, strlen(b64), &map, j->err))) {
            ep_error_prefix(j->err, "tokenizer.json %s: %s", j->file, path);
            return st;
        }
        nz->map = map;
        nz->apply = charsmap_apply;
        nz->map_free = charsmap_free;
        return EP_OK;
#else
        return ep_tokjson_fail(j, EP_ERR_MODEL, path, "the Precompiled normalizer (SentencePiece's charsmap, as in "
                               "XLM-R tokenizers) is not supported yet; %s", supported_normalizers);
#endif
    }
    return ep_tokjson_fail(j, EP_ERR_MODEL, path, "type \"%s\" is not supported; %s", type, supported_normalizers);
}

static ep_status normalizer(const ep_tokjson *j, const cJSON *node, const char *path, int lowercase, int depth,
                            ep_tok_chain *c) {
    const char *type = NULL;
    ep_status st = ep_tokjson_type(j, node, path, &type);
    if (st) return st;
    if (strcmp(type, "Sequence") != 0) {
        ep_tok_norm *nz = add_norm(j, c, path);
        return nz ? one_normalizer(j, node, path, type, lowercase, nz) : EP_ERR_NOMEM;
    }
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(node, "normalizers");
    char p[300];
    if (!cJSON_IsArray(list))
        return ep_tokjson_fail(j, EP_ERR_FORMAT, ep_tokjson_path(p, sizeof p, path, "normalizers", 0),
                               "expected an array");
    if (depth >= MAX_DEPTH) return ep_tokjson_fail(j, EP_ERR_FORMAT, path, "Sequences nested too deep");
    char lp[300];
    ep_tokjson_path(lp, sizeof lp, path, "normalizers", 0);
    int i = 0;
    for (const cJSON *e = list->child; e; e = e->next, i++)
        if ((st = normalizer(j, e, ep_tokjson_path(p, sizeof p, lp, NULL, i), lowercase, depth + 1, c))) return st;
    return EP_OK;
}

ep_status ep_tokjson_normalizer(const ep_tokjson *j, const cJSON *node, const char *path, int lowercase,
                                ep_tok_chain *c) {
    if (!node || cJSON_IsNull(node)) return EP_OK;
    return normalizer(j, node, path, lowercase, 0, c);
}

// ---------------------------------------------------------------------------
// Pre-tokenizers

static ep_status behavior(const ep_tokjson *j, const cJSON *o, const char *path, ep_tok_split_behavior *b) {
    static const char *const names[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"};
    const char *s = NULL;
    *b = EP_SPLIT_ISOLATED;
    ep_status st = ep_tokjson_string(j, o, path, "behavior", false, &s);
    if (st || !s) return st;
    for (int i = 0; i < 5; i++)
        if (strcmp(s, names[i]) == 0) {
            *b = (ep_tok_split_behavior)i;
            return EP_OK;
        }
    char p[300];
    return ep_tokjson_fail(j, EP_ERR_FORMAT, ep_tokjson_path(p, sizeof p, path, "behavior", 0),
                           "\"%s\"; expected Removed, Isolated, MergedWithPrevious, MergedWithNext or Contiguous", s);
}

static ep_status metaspace(const ep_tokjson *j, const cJSON *o, const char *path, ep_tok_pre *p) {
    const char *repl = NULL, *scheme = NULL;
    bool add_prefix_space = true, have_aps = cJSON_GetObjectItemCaseSensitive(o, "add_prefix_space") != NULL;
    ep_status st;
    p->split = true;
    if ((st = ep_tokjson_string(j, o, path, "replacement", true, &repl)) ||
        (st = ep_tokjson_string(j, o, path, "prepend_scheme", false, &scheme)) ||
        (st = ep_tokjson_bool(j, o, path, "add_prefix_space", false, &add_prefix_space)) ||
        (st = ep_tokjson_bool(j, o, path, "split", false, &p->split)))
        return st;
    size_t len = strlen(repl);
    int n = len ? ep_utf8_decode((const uint8_t *)repl, (const uint8_t *)repl + len, &p->replacement) : 0;
    if (!n || (size_t)n != len)
        return ep_tokjson_fail(j, EP_ERR_FORMAT, path, "replacement must be one character, not \"%s\"", repl);
    memcpy(p->repl, repl, len);
    p->repl_len = n;
    p->prepend = EP_PREPEND_ALWAYS;
    if (scheme && strcmp(scheme, "first") == 0) p->prepend = EP_PREPEND_FIRST;
    else if (scheme && strcmp(scheme, "never") == 0) p->prepend = EP_PREPEND_NEVER;
    else if (scheme && strcmp(scheme, "always") != 0)
        return ep_tokjson_fail(j, EP_ERR_FORMAT, path, "prepend_scheme \"%s\"; expected always, first or never",
                               scheme);
    // The older spelling: tokenizers accepts add_prefix_space false only beside prepend_scheme "never".
    if (have_aps && !add_prefix_space && p->prepend != EP_PREPEND_NEVER)
        return ep_tokjson_fail(j, EP_ERR_FORMAT, path, "add_prefix_space false does not match prepend_scheme");
    return EP_OK;
}

static ep_status one_pre(const ep_tokjson *j, const cJSON *o, const char *path, const char *type, ep_tok_pre *p) {
    if (strcmp(type, "BertPreTokenizer") == 0) p->kind = EP_PRE_BERT;
    else if (strcmp(type, "WhitespaceSplit") == 0) p->kind = EP_PRE_WHITESPACE_SPLIT;
    else if (strcmp(type, "Whitespace") == 0) p->kind = EP_PRE_WHITESPACE;
    else if (strcmp(type, "Punctuation") == 0) p->kind = EP_PRE_PUNCTUATION;
    else if (strcmp(type, "Metaspace") == 0) p->kind = EP_PRE_METASPACE;
    else
        return ep_tokjson_fail(j, EP_ERR_MODEL, path, "type \"%s\" is not supported; %s", type,
                               supported_pre_tokenizers);
    if (p->kind == EP_PRE_PUNCTUATION) return behavior(j, o, path, &p->behavior);
    if (p->kind == EP_PRE_METASPACE) return metaspace(j, o, path, p);
    return EP_OK;
}

static ep_status pre_tokenizer(const ep_tokjson *j, const cJSON *node, const char *path, int depth, ep_tok_chain *c) {
    const char *type = NULL;
    ep_status st = ep_tokjson_type(j, node, path, &type);
    if (st) return st;
    if (strcmp(type, "Sequence") != 0) {
        ep_tok_pre *grown = realloc(c->pre, sizeof *grown * (size_t)(c->n_pre + 1));
        if (!grown) return ep_tokjson_fail(j, EP_ERR_NOMEM, path, "out of memory");
        c->pre = grown;
        memset(&grown[c->n_pre], 0, sizeof *grown);
        return one_pre(j, node, path, type, &grown[c->n_pre++]);
    }
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(node, "pretokenizers");
    char lp[300], p[300];
    ep_tokjson_path(lp, sizeof lp, path, "pretokenizers", 0);
    if (!cJSON_IsArray(list)) return ep_tokjson_fail(j, EP_ERR_FORMAT, lp, "expected an array");
    if (depth >= MAX_DEPTH) return ep_tokjson_fail(j, EP_ERR_FORMAT, path, "Sequences nested too deep");
    int i = 0;
    for (const cJSON *e = list->child; e; e = e->next, i++)
        if ((st = pre_tokenizer(j, e, ep_tokjson_path(p, sizeof p, lp, NULL, i), depth + 1, c))) return st;
    return EP_OK;
}

ep_status ep_tokjson_pre_tokenizer(const ep_tokjson *j, const cJSON *node, const char *path, ep_tok_chain *c) {
    if (!node || cJSON_IsNull(node)) return EP_OK;
    return pre_tokenizer(j, node, path, 0, c);
}
