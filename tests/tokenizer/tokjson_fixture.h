/*
 * tokjson_fixture.h - the tokenizer.json fixtures of scripts/make-test-models.py
 * (step "tokenizer-fixtures", tests/fixtures/tokjson/), shared by the
 * test_tokjson_* programs:
 *
 *   pipelines.json    each pipeline: a base tokenizer.json ("minilm" = the model's own
 *                     file, or a committed tests/fixtures/models/<base>.tokenizer.json.zst)
 *                     and its SHA-256, top-level keys replaced ("set"), optionally its
 *                     model replaced by a WordPiece over the base's Unigram pieces
 *                     ("model_from_pieces": unk_token, continuing_subword_prefix,
 *                     max_input_chars_per_word; vocab = {piece: index}).
 *   tweets.bin.zst    "EPTOKJR1", u32 pipelines + (u16 len, name) each, u32 sources +
 *                     (u16 len, path under ../shared/data) each, u32 rows + per row
 *                     (u16 source, u32 line (1-based) or tweets.js array index, u64 XXH3 of
 *                     the text's bytes), then per pipeline u32 bytes + per row (varint
 *                     n_ids, u32 low half of XXH3_64 over the ids as little-endian u32s).
 *   codepoints.bin.zst "EPTOKJC1", the pipelines as above, u32 'a', u32 'b', then per
 *                     pipeline u32 bytes + varint runs + per run varints (first code
 *                     point, count, n_ids, ids...): the ids of "a" c "b" for each c.
 * All little-endian; the texts are tokenised with truncation at pipelines.json's
 * max_length (tweets) or none (code points).
 */
#ifndef EP_TOKJSON_FIXTURE_H
#define EP_TOKJSON_FIXTURE_H

#include <cjson/cJSON.h>
#include <xxhash.h>

#include "sha256.h"
#include "tok_test.h"
#include "tokenizer_internal.h"

#define TJ_MAX_PIPES 16
#define TJ_MAX_SOURCES 64

enum { TJ_OK = 0, TJ_SKIP = 1, TJ_UNSUPPORTED = 2 };

static inline uint32_t tj_rd32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

// @return the varint at b[*pos] (advancing *pos); exits on a cut-off fixture.
static inline uint32_t tj_varint(const unsigned char *b, size_t len, size_t *pos) {
    uint32_t v = 0;
    for (int shift = 0; shift < 35; shift += 7) {
        if (*pos >= len) {
            fprintf(stderr, "tokjson fixture: cut off at byte %zu\n", *pos);
            exit(1);
        }
        unsigned char c = b[(*pos)++];
        v |= (uint32_t)(c & 0x7F) << shift;
        if (c < 0x80) return v;
    }
    fprintf(stderr, "tokjson fixture: bad varint at byte %zu\n", *pos);
    exit(1);
}

// The hash the fixture keeps of a row's ids.
static inline uint32_t tj_ids_hash(const int32_t *ids, int n) {
    unsigned char buf[4 * 1024];
    for (int i = 0; i < n && i < 1024; i++)
        for (int k = 0; k < 4; k++) buf[4 * i + k] = (unsigned char)((uint32_t)ids[i] >> (8 * k));
    return (uint32_t)XXH3_64bits(buf, (size_t)(n < 1024 ? n : 1024) * 4);
}

// pipelines.json (exits when it is missing: it is committed).
static inline cJSON *tj_meta(void) {
    size_t len;
    char *text = tok_test_fixture("tokjson/pipelines.json", &len);
    cJSON *meta = cJSON_ParseWithLength(text, len);
    free(text);
    if (!cJSON_IsArray(cJSON_GetObjectItem(meta, "pipelines"))) {
        fprintf(stderr, "tests/fixtures/tokjson/pipelines.json: no \"pipelines\" array\n");
        exit(1);
    }
    return meta;
}

static inline const cJSON *tj_spec(const cJSON *meta, const char *name) {
    for (const cJSON *p = cJSON_GetObjectItem(meta, "pipelines")->child; p; p = p->next)
        if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(p, "name")), name) == 0) return p;
    fprintf(stderr, "tests/fixtures/tokjson/pipelines.json has no pipeline \"%s\"\n", name);
    exit(1);
}

static inline void tj_sha256_hex(const char *data, size_t len, char hex[65]) {
    ep_sha256 c;
    uint8_t d[32];
    ep_sha256_init(&c);
    ep_sha256_update(&c, data, len);
    ep_sha256_final(&c, d);
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

// The base file's text, or NULL (why filled) when the model it comes from is absent.
static inline char *tj_base_text(const char *base, size_t *len, char *why, size_t cap) {
    char path[4096];
    if (strcmp(base, "minilm") == 0) {
        snprintf(path, sizeof path, "%s/tokenizer.json", ep_test_env("EP_MODEL_DIR", "models/all-MiniLM-L6-v2"));
        char *text = ep_test_read_file(path, len);
        if (!text) snprintf(why, cap, "%s is absent (run scripts/fetch-model.sh)", path);
        return text;
    }
    snprintf(path, sizeof path, "models/%s.tokenizer.json.zst", base);
    return tok_test_fixture(path, len);
}

// A WordPiece over the base's Unigram pieces, as the fixture's "model_from_pieces" says.
static inline void tj_model_from_pieces(cJSON *root, const cJSON *wp) {
    cJSON *vocab = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "model"), "vocab");
    cJSON *model = cJSON_Duplicate(wp, 1), *obj = cJSON_CreateObject();
    int i = 0;
    for (const cJSON *e = vocab ? vocab->child : NULL; e; e = e->next, i++)
        cJSON_AddNumberToObject(obj, cJSON_GetStringValue(cJSON_GetArrayItem(e, 0)), i);
    cJSON_AddStringToObject(model, "type", "WordPiece");
    cJSON_AddItemToObject(model, "vocab", obj);
    cJSON_ReplaceItemInObjectCaseSensitive(root, "model", model);
}

/* Builds the pipeline's tokenizer.json and loads it.
 * @return TJ_OK (*tok set), TJ_SKIP (its base is absent) or TJ_UNSUPPORTED (refused with
 *         EP_ERR_MODEL), why saying which; exits on a fixture problem or another error. */
static inline int tj_build(const cJSON *spec, ep_tokenizer **tok, char *why, size_t cap) {
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(spec, "name"));
    const char *base = cJSON_GetStringValue(cJSON_GetObjectItem(spec, "base"));
    const char *want = cJSON_GetStringValue(cJSON_GetObjectItem(spec, "base_sha256"));
    size_t len = 0;
    char *text = tj_base_text(base, &len, why, cap), hex[65];
    if (!text) return TJ_SKIP;
    tj_sha256_hex(text, len, hex);
    if (!want || strcmp(hex, want) != 0) {
        fprintf(stderr, "%s: the base tokenizer.json (%s) has SHA-256 %s, the fixture's %s: regenerate with "
                "scripts/make-test-models.py --only tokenizer-fixtures\n", name, base, hex, want ? want : "?");
        exit(1);
    }
    const cJSON *set = cJSON_GetObjectItem(spec, "set");
    const cJSON *wp = cJSON_GetObjectItem(spec, "model_from_pieces");
    if (!set && !wp) {
        // The file as committed: cJSON prints doubles with 15 digits when they compare equal within an
        // epsilon, which moves a Unigram score by an ulp and can flip a Viterbi tie.
        ep_error err = {0};
        ep_status st = ep_tokenizer_create_json_text(text, len, name, NULL, tok, &err);
        free(text);
        if (st == EP_ERR_MODEL) {
            snprintf(why, cap, "%s", err.message);
            return TJ_UNSUPPORTED;
        }
        if (st != EP_OK) {
            fprintf(stderr, "%s: cannot load: %s\n", name, err.message);
            exit(1);
        }
        return TJ_OK;
    }
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    for (const cJSON *kv = set ? set->child : NULL; kv; kv = kv->next) {
        cJSON *copy = cJSON_Duplicate(kv, 1);
        if (cJSON_GetObjectItemCaseSensitive(root, kv->string)) cJSON_ReplaceItemInObjectCaseSensitive(root, kv->string, copy);
        else cJSON_AddItemToObject(root, kv->string, copy);
    }
    if (wp) tj_model_from_pieces(root, wp);
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    const char *dump = getenv("EP_TOKJSON_DUMP"); // a folder: keep the file, to rerun tokenizers on it
    if (dump && *dump) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.tokenizer.json", dump, name);
        ep_test_write_file(path, json, strlen(json));
    }
    ep_error err = {0};
    ep_status st = ep_tokenizer_create_json_text(json, strlen(json), name, NULL, tok, &err);
    free(json);
    if (st == EP_ERR_MODEL) {
        snprintf(why, cap, "%s", err.message);
        return TJ_UNSUPPORTED;
    }
    if (st != EP_OK) {
        fprintf(stderr, "%s: cannot load: %s\n", name, err.message);
        exit(1);
    }
    return TJ_OK;
}

// ---------------------------------------------------------------------------
// tweets.bin.zst with the texts it names.

typedef struct tj_row {
    const char *text;
    size_t len;
    char where[160];
} tj_row;

typedef struct tj_tweets {
    int n_pipes, n_rows;
    char pipe[TJ_MAX_PIPES][64];
    const unsigned char *sec[TJ_MAX_PIPES];
    size_t sec_len[TJ_MAX_PIPES];
    tj_row *row;
    unsigned char *raw;
    char *files[TJ_MAX_SOURCES];
    size_t *line_off[TJ_MAX_SOURCES]; // line_off[s][i]: where line i+1 of source s starts; one more past the end
    size_t n_lines[TJ_MAX_SOURCES];
    cJSON *tweets;
} tj_tweets;

static inline const unsigned char *tj_names(const unsigned char *p, const unsigned char *end, int *n, int max,
                                            char names[][64]) {
    *n = (int)tj_rd32(p);
    p += 4;
    if (*n > max) return NULL;
    for (int i = 0; i < *n; i++) {
        unsigned len = (unsigned)p[0] | (unsigned)p[1] << 8;
        if (p + 2 + len > end || len >= 64) return NULL;
        snprintf(names[i], 64, "%.*s", (int)len, (const char *)p + 2);
        p += 2 + len;
    }
    return p;
}

// The text of one source row: a tweeteval line, or a tweets.js full_text.
static inline int tj_text(tj_tweets *t, int src, const char *path, uint32_t where, tj_row *r) {
    char full[4096];
    snprintf(full, sizeof full, "%s/%s", ep_test_shared_data(), path);
    if (!t->files[src]) {
        size_t len;
        t->files[src] = ep_test_read_file(full, &len);
        if (!t->files[src]) return -1;
        if (strstr(path, "tweets.js")) {
            char *open = strchr(t->files[src], '[');
            t->tweets = open ? cJSON_Parse(open) : NULL;
        } else { // lines split on '\n' only, as make-reference.py's read_lines
            size_t n = 0;
            for (size_t i = 0; i < len; i++) n += t->files[src][i] == '\n';
            t->line_off[src] = malloc(sizeof(size_t) * (n + 2));
            t->line_off[src][0] = 0;
            for (size_t i = 0; i < len; i++)
                if (t->files[src][i] == '\n') t->line_off[src][++t->n_lines[src]] = i + 1;
            if (len && t->files[src][len - 1] != '\n') t->line_off[src][++t->n_lines[src]] = len + 1;
        }
    }
    if (strstr(path, "tweets.js")) {
        const cJSON *tw = cJSON_GetObjectItem(cJSON_GetArrayItem(t->tweets, (int)where), "tweet");
        r->text = cJSON_GetStringValue(cJSON_GetObjectItem(tw, "full_text"));
        r->len = r->text ? strlen(r->text) : 0;
        return r->text ? 0 : -1;
    }
    if (where < 1 || where > t->n_lines[src]) return -1;
    r->text = t->files[src] + t->line_off[src][where - 1];
    r->len = t->line_off[src][where] - 1 - t->line_off[src][where - 1];
    return 0;
}

/* Loads tweets.bin.zst and the texts (exits 77 when ../shared/data is absent, 1 when a text's
 * hash differs from the fixture's). */
static inline void tj_tweets_load(tj_tweets *t) {
    memset(t, 0, sizeof *t);
    size_t len;
    t->raw = (unsigned char *)tok_test_fixture("tokjson/tweets.bin.zst", &len);
    const unsigned char *p = t->raw + 8, *end = t->raw + len;
    int n_src;
    static char src[TJ_MAX_SOURCES][64];
    if (len < 16 || memcmp(t->raw, "EPTOKJR1", 8) != 0 || !(p = tj_names(p, end, &t->n_pipes, TJ_MAX_PIPES, t->pipe)) ||
        !(p = tj_names(p, end, &n_src, TJ_MAX_SOURCES, src))) {
        fprintf(stderr, "tokjson/tweets.bin.zst: bad header (want EPTOKJR1)\n");
        exit(1);
    }
    for (int s = 0; s < n_src; s++) {
        char full[4096];
        snprintf(full, sizeof full, "%s/%s", ep_test_shared_data(), src[s]);
        ep_test_require(full, "the tweet texts live in ../shared/data");
    }
    t->n_rows = (int)tj_rd32(p);
    p += 4;
    t->row = calloc((size_t)t->n_rows, sizeof *t->row);
    for (int i = 0; i < t->n_rows; i++, p += 14) {
        unsigned s = (unsigned)p[0] | (unsigned)p[1] << 8;
        uint32_t where = tj_rd32(p + 2);
        uint64_t want = (uint64_t)tj_rd32(p + 6) | (uint64_t)tj_rd32(p + 10) << 32;
        tj_row *r = &t->row[i];
        snprintf(r->where, sizeof r->where, "%s:%u", s < (unsigned)n_src ? src[s] : "?", where);
        if (s >= (unsigned)n_src || tj_text(t, (int)s, src[s], where, r) || XXH3_64bits(r->text, r->len) != want) {
            fprintf(stderr, "%s: missing, or not the text the fixture was made from: the shared data changed; "
                    "regenerate with scripts/make-test-models.py --only tokenizer-fixtures\n", r->where);
            exit(1);
        }
    }
    for (int k = 0; k < t->n_pipes; k++) {
        t->sec_len[k] = tj_rd32(p);
        t->sec[k] = p + 4;
        p += 4 + t->sec_len[k];
    }
    if (p != end) {
        fprintf(stderr, "tokjson/tweets.bin.zst: %td bytes left over\n", end - p);
        exit(1);
    }
}

static inline void tj_tweets_free(tj_tweets *t) {
    for (int i = 0; i < TJ_MAX_SOURCES; i++) free(t->files[i]), free(t->line_off[i]);
    cJSON_Delete(t->tweets);
    free(t->row);
    free(t->raw);
}

// @return the section of pipeline name in t, or -1.
static inline int tj_tweets_pipe(const tj_tweets *t, const char *name) {
    for (int k = 0; k < t->n_pipes; k++)
        if (strcmp(t->pipe[k], name) == 0) return k;
    return -1;
}

// ---------------------------------------------------------------------------
// Checks shared by the tests.

static inline void tj_print_row(const ep_tokenizer *tok, const tj_row *r, const int32_t *ids, int n) {
    char words[2048];
    ep_tokenizer_words(tok, r->text, r->len, words, sizeof words);
    fprintf(stderr, "  words: %s\n  ours (%d):", words, n);
    for (int i = 0; i < n; i++) {
        const char *s = ep_tokenizer_id_to_token(tok, ids[i]);
        fprintf(stderr, " %d:%s", ids[i], s ? s : "?");
    }
    fputc('\n', stderr);
}

/* Every row of pipeline k (named name) through tok: the number of ids and their hash must
 * be the fixture's. @return the rows that differ. */
static inline int tj_check_rows(const ep_tokenizer *tok, const tj_tweets *t, int k, int max_len) {
    int32_t ids[1024];
    size_t pos = 0;
    int bad = 0;
    for (int i = 0; i < t->n_rows; i++) {
        uint32_t want_n = tj_varint(t->sec[k], t->sec_len[k], &pos);
        if (pos + 4 > t->sec_len[k]) {
            fprintf(stderr, "tokjson/tweets.bin.zst: %s: section cut off\n", t->pipe[k]);
            exit(1);
        }
        uint32_t want_h = tj_rd32(t->sec[k] + pos);
        pos += 4;
        const tj_row *r = &t->row[i];
        int n = ep_tokenizer_encode(tok, r->text, r->len, ids, max_len, NULL);
        if ((uint32_t)n == want_n && tj_ids_hash(ids, n) == want_h) continue;
        if (++bad <= 10) {
            fprintf(stderr, "%s: %s: ids differ from tokenizers' (%u ids there)\n", t->pipe[k], r->where, want_n);
            tj_print_row(tok, r, ids, n);
        }
    }
    return bad;
}

typedef struct tj_codepoints {
    int n_pipes;
    char pipe[TJ_MAX_PIPES][64];
    const unsigned char *sec[TJ_MAX_PIPES];
    size_t sec_len[TJ_MAX_PIPES];
    uint32_t left, right;
    unsigned char *raw;
} tj_codepoints;

static inline void tj_codepoints_load(tj_codepoints *c) {
    size_t len;
    memset(c, 0, sizeof *c);
    c->raw = (unsigned char *)tok_test_fixture("tokjson/codepoints.bin.zst", &len);
    const unsigned char *p = c->raw + 8, *end = c->raw + len;
    if (len < 16 || memcmp(c->raw, "EPTOKJC1", 8) != 0 || !(p = tj_names(p, end, &c->n_pipes, TJ_MAX_PIPES, c->pipe))) {
        fprintf(stderr, "tokjson/codepoints.bin.zst: bad header (want EPTOKJC1)\n");
        exit(1);
    }
    c->left = tj_rd32(p);
    c->right = tj_rd32(p + 4);
    p += 8;
    for (int k = 0; k < c->n_pipes; k++) {
        c->sec_len[k] = tj_rd32(p);
        c->sec[k] = p + 4;
        p += 4 + c->sec_len[k];
    }
    if (p != end) {
        fprintf(stderr, "tokjson/codepoints.bin.zst: %td bytes left over\n", end - p);
        exit(1);
    }
}

/* "a" c "b" for every scalar value c of pipeline name: the ids must be the fixture's.
 * @return the code points that differ (exits when the fixture lacks the pipeline). */
static inline int tj_check_codepoints(const ep_tokenizer *tok, const tj_codepoints *c, const char *name) {
    int k = 0;
    while (k < c->n_pipes && strcmp(c->pipe[k], name) != 0) k++;
    if (k == c->n_pipes) {
        fprintf(stderr, "tokjson/codepoints.bin.zst has no pipeline %s\n", name);
        exit(1);
    }
    size_t pos = 0, len = c->sec_len[k];
    const unsigned char *b = c->sec[k];
    uint32_t runs = tj_varint(b, len, &pos), next = 0, checked = 0;
    int bad = 0;
    char l[4], r[4], text[16];
    int ll = ep_test_utf8_encode(c->left, l), rl = ep_test_utf8_encode(c->right, r);
    for (uint32_t i = 0; i < runs; i++) {
        uint32_t first = tj_varint(b, len, &pos), count = tj_varint(b, len, &pos), n = tj_varint(b, len, &pos);
        int32_t want[64], ids[64];
        if (n > 64 || first < next || count == 0) {
            fprintf(stderr, "tokjson/codepoints.bin.zst: %s: malformed run %u\n", name, i);
            exit(1);
        }
        for (uint32_t j = 0; j < n; j++) want[j] = (int32_t)tj_varint(b, len, &pos);
        for (uint32_t cp = first; cp < first + count; cp++, checked++) {
            int tl = 0;
            memcpy(text, l, (size_t)ll), tl += ll;
            tl += ep_test_utf8_encode(cp, text + tl);
            memcpy(text + tl, r, (size_t)rl), tl += rl;
            int got = ep_tokenizer_encode(tok, text, (size_t)tl, ids, 64, NULL);
            if ((uint32_t)got == n && memcmp(ids, want, sizeof *ids * n) == 0) continue;
            if (++bad <= 20) {
                char words[256];
                ep_tokenizer_words(tok, text, (size_t)tl, words, sizeof words);
                fprintf(stderr, "%s: U+%04X: words \"%s\"\n", name, cp, words);
                tok_test_print_diff(tok, ids, got, want, (int)n);
            }
        }
        next = first + count;
    }
    if (pos != len || checked < 1112064) {
        fprintf(stderr, "tokjson/codepoints.bin.zst: %s: %u code points, %zu bytes left\n", name, checked, len - pos);
        exit(1);
    }
    return bad;
}

#endif /* EP_TOKJSON_FIXTURE_H */
