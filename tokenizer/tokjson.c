/*
 * tokjson.c - a tokenizer from a Hugging Face tokenizer.json: the top level,
 * the added tokens (with the ids tokenizers gives them), and the choice of
 * path: a file whose pipeline is exactly BERT's (BertNormalizer with
 * clean_text + BertPreTokenizer + WordPiece with "##" + plain added tokens)
 * runs on the fast WordPiece path that vocab.txt uses; anything else runs the
 * general chain (chain.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "read_file.h"
#include "tokjson.h"

// tokenizer.json files are a few MB (XLM-R's 250k pieces: ~17 MB); past this it is not one.
#define MAX_JSON_BYTES (512u << 20)

typedef struct added {
    size_t content, text; // offsets into the string buffer: the content, what is matched
    uint32_t text_len;
    int32_t id;
    uint32_t flags;
    bool normalized;
} added;

typedef struct strbuf {
    char *p;
    size_t n, cap;
} strbuf;

// @return the offset of a NUL-terminated copy of s[0..len), or (size_t)-1 when out of memory.
static size_t keep(strbuf *b, const char *s, size_t len) {
    if (b->n + len + 1 > b->cap) {
        size_t cap = (b->n + len + 1) * 2;
        char *grown = realloc(b->p, cap);
        if (!grown) return (size_t)-1;
        b->p = grown;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, len);
    b->p[b->n + len] = '\0';
    b->n += len + 1;
    return b->n - len - 1;
}

/* One "added_tokens" entry into list (tokenizers' add_tokens: content already added ->
 * its id, in the model's vocabulary -> that id, else the next free id). */
static ep_status one_added(const ep_tokjson *j, const cJSON *e, const char *path, ep_tokenizer *tok, strbuf *b,
                           added *list, int *n, int32_t *next_id) {
    const char *content = NULL;
    bool single = false, lstrip = false, rstrip = false, normalized = true, special = false;
    long json_id = 0;
    ep_status st;
    if ((st = ep_tokjson_int(j, e, path, "id", true, 0, (1L << 31) - 1, &json_id)) ||
        (st = ep_tokjson_string(j, e, path, "content", true, &content)) ||
        (st = ep_tokjson_bool(j, e, path, "single_word", true, &single)) ||
        (st = ep_tokjson_bool(j, e, path, "lstrip", true, &lstrip)) ||
        (st = ep_tokjson_bool(j, e, path, "rstrip", true, &rstrip)) ||
        (st = ep_tokjson_bool(j, e, path, "normalized", true, &normalized)) ||
        (st = ep_tokjson_bool(j, e, path, "special", true, &special)))
        return st;
    if (!*content) return EP_OK; // tokenizers ignores empty tokens
    uint32_t flags = (lstrip ? EP_TOK_ADDED_LSTRIP : 0) | (rstrip ? EP_TOK_ADDED_RSTRIP : 0) |
                     (single ? EP_TOK_ADDED_SINGLE_WORD : 0);
    for (int i = 0; i < *n; i++) // the same content again: its flags replace the earlier ones
        if (strcmp(b->p + list[i].content, content) == 0) {
            list[i].flags = flags;
            list[i].normalized = normalized;
            return EP_OK;
        }
    size_t len = strlen(content);
    if (len > EP_TOK_MAX_TOKEN_BYTES || !ep_tok_valid_utf8((const uint8_t *)content, len))
        return ep_tokjson_fail(j, EP_ERR_FORMAT, path, "content is not UTF-8 or is longer than 1024 bytes");
    added *a = &list[(*n)++];
    a->content = keep(b, content, len);
    if (a->content == (size_t)-1) return ep_tokjson_fail(j, EP_ERR_NOMEM, path, "out of memory");
    a->id = ep_tokenizer_token_to_id(tok, content); // the model's own id when it has the token
    if (a->id < 0) a->id = (*next_id)++;
    a->flags = flags;
    a->normalized = normalized;
    (void)json_id; // tokenizers recomputes the id too (and only warns when the file disagrees)
    return EP_OK;
}

/* What normalized tokens are matched against: their content through the normalizers. */
static ep_status normalized_text(const ep_tokjson *j, const ep_tok_chain *c, strbuf *b, added *a) {
    _Alignas(16) char stack[4096];
    ep_tok_arena arena;
    ep_tok_arena_init(&arena, stack, sizeof stack);
    bool kept = true;
    size_t n = 0;
    const char *s = b->p + a->content;
    const char *norm = ep_tok_normalize_all(c, s, strlen(s), &n, &kept, &arena);
    size_t at = norm ? keep(b, norm, n) : (size_t)-1;
    ep_tok_arena_release(&arena);
    if (at == (size_t)-1) return ep_tokjson_fail(j, EP_ERR_NOMEM, "added_tokens", "out of memory");
    a->text = at;
    a->text_len = (uint32_t)n;
    return EP_OK;
}

/* The sets the matcher uses, and id -> text for added ids past the model's. */
static ep_status index_added(const ep_tokjson *j, ep_tokenizer *tok, strbuf *b, const added *list, int n) {
    tok->raw.tok = calloc((size_t)n + 1, sizeof *tok->raw.tok);
    tok->norm.tok = calloc((size_t)n + 1, sizeof *tok->norm.tok);
    tok->n_ids = tok->n_vocab;
    for (int i = 0; i < n; i++)
        if (list[i].id >= tok->n_ids) tok->n_ids = list[i].id + 1;
    tok->id_text = calloc((size_t)(tok->n_ids - tok->n_vocab) + 1, sizeof *tok->id_text);
    if (!tok->raw.tok || !tok->norm.tok || !tok->id_text)
        return ep_tokjson_fail(j, EP_ERR_NOMEM, "added_tokens", "out of memory");
    tok->added_text = b->p; // the tokenizer owns the strings from here on
    b->p = NULL;
    for (int i = 0; i < n; i++) {
        const added *a = &list[i];
        ep_tok_added_set *set = a->normalized ? &tok->norm : &tok->raw;
        if (a->text_len) // a token that normalises to nothing can never match
            set->tok[set->n++] = (ep_tok_added_token){tok->added_text + a->text, a->text_len, a->id, a->flags};
        if (a->id >= tok->n_vocab) tok->id_text[a->id - tok->n_vocab] = tok->added_text + a->content;
    }
    ep_tok_added_index(&tok->raw);
    ep_tok_added_index(&tok->norm);
    return EP_OK;
}

static ep_status added_tokens(const ep_tokjson *j, const cJSON *arr, ep_tokenizer *tok, const ep_tok_chain *c) {
    if (arr && !cJSON_IsNull(arr) && !cJSON_IsArray(arr))
        return ep_tokjson_fail(j, EP_ERR_FORMAT, "added_tokens", "expected an array");
    int count = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : 0, n = 0, i = 0;
    added *list = calloc((size_t)count + 1, sizeof *list);
    strbuf b = {0};
    int32_t next_id = tok->n_vocab;
    ep_status st = list ? EP_OK : ep_tokjson_fail(j, EP_ERR_NOMEM, "added_tokens", "out of memory");
    char p[64];
    for (const cJSON *e = count ? arr->child : NULL; e && !st; e = e->next, i++)
        st = one_added(j, e, ep_tokjson_path(p, sizeof p, "added_tokens", NULL, i), tok, &b, list, &n, &next_id);
    for (int k = 0; k < n && !st; k++) {
        list[k].text = list[k].content;
        list[k].text_len = (uint32_t)strlen(b.p + list[k].content);
        if (list[k].normalized) st = normalized_text(j, c, &b, &list[k]);
    }
    if (!st) st = index_added(j, tok, &b, list, n);
    free(b.p);
    free(list);
    return st;
}

// ---------------------------------------------------------------------------

/* @return whether the loaded pipeline is exactly BERT's, which the fast path runs. */
static bool is_bert(const ep_tokenizer *tok, const ep_tok_chain *c, const cJSON *model) {
    const char *prefix = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(model, "continuing_subword_prefix"));
    if (c->n_norm != 1 || c->norm[0].kind != EP_NORM_BERT || !c->norm[0].bert.clean_text || c->n_pre != 1 ||
        c->pre[0].kind != EP_PRE_BERT || c->model != EP_MODEL_WORDPIECE || !prefix || strcmp(prefix, "##") != 0 ||
        tok->norm.n)
        return false;
    for (int i = 0; i < tok->raw.n; i++) { // the scanner looks for added tokens at ASCII punctuation only
        const ep_tok_added_token *t = &tok->raw.tok[i];
        if (t->flags || (uint8_t)t->text[0] >= 0x80 || !ep_hf_is_punct((uint8_t)t->text[0])) return false;
    }
    return true;
}

static void describe(ep_tokenizer *tok, const ep_tok_chain *c, bool fast) {
    static const char *const norm_names[] = {"BertNormalizer", "NFC", "NFD", "NFKC", "NFKD", "Lowercase", "Strip",
                                             "StripAccents", "Replace", "Prepend", "Nmt", "Precompiled"};
    static const char *const pre_names[] = {"BertPreTokenizer", "WhitespaceSplit", "Whitespace", "Punctuation",
                                            "Metaspace"};
    char *d = tok->describe;
    size_t cap = sizeof tok->describe, at = 0;
    at += (size_t)snprintf(d + at, cap - at, "%s from tokenizer.json (",
                           c->model == EP_MODEL_WORDPIECE ? "WordPiece" : "Unigram");
    for (int i = 0; i < c->n_norm && at < cap; i++)
        at += (size_t)snprintf(d + at, cap - at, "%s%s", i ? "+" : "", norm_names[c->norm[i].kind]);
    for (int i = 0; i < c->n_pre && at < cap; i++)
        at += (size_t)snprintf(d + at, cap - at, "%s%s", i ? "+" : (c->n_norm ? ", " : ""), pre_names[c->pre[i].kind]);
    if (at < cap) snprintf(d + at, cap - at, "%s)", fast ? ", BERT fast path" : "");
}

static ep_status build(const ep_tokjson *j, const cJSON *root, const ep_tokenizer_json_options *o, ep_tokenizer *tok,
                       ep_tok_chain *c, bool *fast) {
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(root, "version");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (version && (!cJSON_IsString(version) || strcmp(version->valuestring, "1.0") != 0))
        return ep_tokjson_fail(j, EP_ERR_FORMAT, "version", "expected \"1.0\" (the only version tokenizers reads)");
    if (!model) return ep_tokjson_fail(j, EP_ERR_FORMAT, "model", "missing");
    ep_status st;
    if ((st = ep_tokjson_model(j, model, tok, c)) ||
        (st = ep_tokjson_normalizer(j, cJSON_GetObjectItemCaseSensitive(root, "normalizer"), "normalizer",
                                    o ? o->lowercase : -1, c)) ||
        (st = ep_tokjson_pre_tokenizer(j, cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), "pre_tokenizer",
                                       c)) ||
        (st = added_tokens(j, cJSON_GetObjectItemCaseSensitive(root, "added_tokens"), tok, c)) ||
        (st = ep_tokjson_post_processor(j, cJSON_GetObjectItemCaseSensitive(root, "post_processor"), tok)))
        return st;
    *fast = is_bert(tok, c, model) && !(o && o->general_only);
    describe(tok, c, *fast);
    if (*fast) { // BertNormalizer's settings become the scanner's options
        tok->opt.lowercase = c->norm[0].bert.lowercase;
        tok->opt.handle_chinese_chars = c->norm[0].bert.cjk;
        tok->opt.strip_accents = c->norm[0].bert.strip_accents;
    }
    return EP_OK;
}

ep_status ep_tokenizer_create_json_text(const char *json, size_t len, const char *name,
                                        const ep_tokenizer_json_options *options, ep_tokenizer **out, ep_error *err) {
    if (!out) return ep_error_set(err, EP_ERR_USAGE, "ep_tokenizer_create_json_text: out is NULL");
    *out = NULL;
    if (!json) return ep_error_set(err, EP_ERR_USAGE, "ep_tokenizer_create_json_text: no text given");
    ep_tokjson j = {name ? name : "(text)", err};
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root || !cJSON_IsObject(root)) {
        const char *at = cJSON_GetErrorPtr();
        size_t off = root || !at || at < json || at > json + len ? 0 : (size_t)(at - json);
        cJSON_Delete(root);
        return ep_tokjson_fail(&j, EP_ERR_FORMAT, "", "not a JSON object (malformed near byte %zu)", off);
    }
    ep_tokenizer *tok = calloc(1, sizeof *tok);
    ep_tok_chain *c = calloc(1, sizeof *c);
    ep_status st = tok && c ? EP_OK : ep_tokjson_fail(&j, EP_ERR_NOMEM, "", "out of memory");
    bool fast = false;
    if (!st) {
        tok->opt = ep_tokenizer_default_options();
        tok->unk_id = -1;
        st = build(&j, root, options, tok, c, &fast);
    }
    cJSON_Delete(root);
    if (st) {
        ep_tok_chain_free(c);
        ep_tok_free(tok);
        return st;
    }
    if (fast) ep_tok_chain_free(c);
    else tok->chain = c;
    *out = tok;
    return EP_OK;
}

ep_status ep_tokenizer_create_json(const char *path, const ep_tokenizer_json_options *options, ep_tokenizer **out,
                                   ep_error *err) {
    if (!out) return ep_error_set(err, EP_ERR_USAGE, "ep_tokenizer_create_json: out is NULL");
    *out = NULL;
    if (!path) return ep_error_set(err, EP_ERR_USAGE, "ep_tokenizer_create_json: no path given");
    char *data = NULL;
    size_t size = 0;
    ep_status st = ep_read_file(path, MAX_JSON_BYTES, &data, &size, err);
    if (st) return ep_error_prefix(err, "tokenizer.json (check the model folder)");
    st = ep_tokenizer_create_json_text(data, size, path, options, out, err);
    free(data);
    return st;
}
