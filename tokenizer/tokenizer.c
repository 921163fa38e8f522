/*
 * tokenizer.c - the vocabulary (vocab.txt -> two hash tables) and encoding:
 * words from the scanner (normalize.c) -> WordPiece pieces -> [CLS] .. [SEP],
 * cut at max_tokens the way Hugging Face truncates (pieces first, specials kept).
 *
 * Encoding allocates nothing and writes nothing but the caller's ids, so one
 * tokenizer serves any number of threads.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "read_file.h"
#include "tokenizer_internal.h"

// Longest token accepted in vocab.txt, in bytes (BERT's are under 30).
#define MAX_TOKEN_BYTES 1024

static const char *const special_names[EP_TOK_N_SPECIAL] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};

ep_tokenizer_options ep_tokenizer_default_options(void) {
    ep_tokenizer_options o = {.lowercase = true, .handle_chinese_chars = true, .max_input_chars_per_word = 100};
    return o;
}

// Keys are hashed with a polynomial hash, so that WordPiece can get the hash of
// any piece of a word in O(1) from the word's prefix hashes (see wordpiece), then
// mixed (splitmix64's finaliser) because the polynomial's low bits are weak.
#define POLY_BASE 0x9E3779B97F4A7C15ull

static inline uint32_t mix(uint64_t x) {
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBull;
    x ^= x >> 31;
    return (uint32_t)x;
}

static inline uint32_t key_hash(const uint8_t *key, int len) {
    uint64_t p = 0;
    for (int i = 0; i < len; i++) p = p * POLY_BASE + key[i];
    return mix(p);
}

// Slots keep min(key length, 255) beside the id, so most mismatches are
// rejected without touching the token strings.
#define SLOT_ID(meta) (((meta) & 0xFFFFFFu) - 1)
#define SLOT_LEN(len) ((uint32_t)((len) < 255 ? (len) : 255) << 24)

static inline int same_bytes(const char *a, const uint8_t *b, int len) {
    for (int i = 0; i < len; i++) // keys are short: a loop beats a call
        if ((uint8_t)a[i] != b[i]) return 0;
    return 1;
}

// @return the id of key (whose key_hash is h) in t, or -1.
static inline int32_t find(const ep_tokenizer *tok, const ep_tok_table *t, const uint8_t *key, int len, uint32_t h) {
    uint32_t want = SLOT_LEN(len);
    for (uint32_t i = h & t->mask;; i = (i + 1) & t->mask) {
        const ep_tok_slot *s = &t->slot[i];
        if (!s->meta) return -1;
        if (s->hash == h && (s->meta & 0xFF000000u) == want) {
            uint32_t id = SLOT_ID(s->meta);
            if (tok->length[id] - t->skip == len && same_bytes(tok->strings + tok->offset[id] + t->skip, key, len))
                return (int32_t)id;
        }
    }
}

int32_t ep_tok_lookup(const ep_tokenizer *tok, const ep_tok_table *t, const uint8_t *key, int len) {
    return find(tok, t, key, len, key_hash(key, len));
}

// @return the id already holding this key (a duplicate), or -1 after inserting id.
static int32_t table_insert(ep_tokenizer *tok, ep_tok_table *t, uint32_t id) {
    const uint8_t *key = (const uint8_t *)tok->strings + tok->offset[id] + t->skip;
    int len = tok->length[id] - t->skip;
    int32_t old = ep_tok_lookup(tok, t, key, len);
    if (old >= 0) return old;
    uint32_t h = key_hash(key, len), i = h & t->mask;
    while (t->slot[i].meta) i = (i + 1) & t->mask;
    t->slot[i].hash = h;
    t->slot[i].meta = SLOT_LEN(len) | (id + 1);
    if (len > t->max_key_len) t->max_key_len = len;
    return -1;
}

static int table_init(ep_tok_table *t, int keys, int skip) {
    uint32_t cap = 16;
    while (cap < (uint32_t)keys * 2u) cap *= 2;
    t->slot = calloc(cap, sizeof *t->slot);
    t->mask = cap - 1;
    t->skip = skip;
    t->max_key_len = 0;
    return t->slot != NULL;
}

// @return 1 when s[0..len) is valid UTF-8 without NUL.
static int valid_token_bytes(const uint8_t *s, size_t len) {
    for (size_t i = 0; i < len;) {
        uint8_t c = s[i];
        int n = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        if (!n || c == 0 || i + (size_t)n > len) return 0;
        for (int k = 1; k < n; k++)
            if ((s[i + k] & 0xC0) != 0x80) return 0;
        if ((c == 0xE0 && s[i + 1] < 0xA0) || (c == 0xED && s[i + 1] >= 0xA0) || (c == 0xF0 && s[i + 1] < 0x90) ||
            (c == 0xF4 && s[i + 1] >= 0x90))
            return 0;
        i += (size_t)n;
    }
    return 1;
}

/* Cuts tok->strings (size bytes) into one NUL-terminated token per line, filling
 * offset, length and n_vocab; *n_cont counts the "##" pieces.
 * @return EP_OK, or EP_ERR_FORMAT / EP_ERR_NOMEM naming the file and line. */
static ep_status split_lines(ep_tokenizer *tok, const char *vocab_path, size_t size, int *n_cont, ep_error *err) {
    char *data = tok->strings;
    int lines = 0;
    for (size_t i = 0; i < size; i++) lines += data[i] == '\n';
    if (data[size - 1] != '\n') lines++;
    if (lines >= (1 << 24) - 1) // ids share a 32-bit slot word with the key length
        return ep_error_set(err, EP_ERR_FORMAT, "vocab %s: %d lines; at most 16,777,214 tokens are supported",
                            vocab_path, lines);
    tok->offset = malloc(sizeof *tok->offset * (size_t)lines);
    tok->length = malloc(sizeof *tok->length * (size_t)lines);
    *n_cont = 0;
    if (!tok->offset || !tok->length) return ep_error_set(err, EP_ERR_NOMEM, "vocab %s: out of memory", vocab_path);
    size_t pos = 0;
    for (int line = 1; pos < size; line++) {
        char *nl = memchr(data + pos, '\n', size - pos);
        size_t end = nl ? (size_t)(nl - data) : size, len = end - pos;
        if (len && data[pos + len - 1] == '\r') len--; // CRLF files
        if (len == 0)
            return ep_error_set(err, EP_ERR_FORMAT, "vocab %s:%d: empty line; every line must hold one token",
                                vocab_path, line);
        if (len > MAX_TOKEN_BYTES || !valid_token_bytes((const uint8_t *)data + pos, len))
            return ep_error_set(err, EP_ERR_FORMAT, "vocab %s:%d: %s", vocab_path, line,
                                len > MAX_TOKEN_BYTES ? "token longer than 1024 bytes"
                                                      : "token is not valid UTF-8 (or holds NUL)");
        data[pos + len] = '\0';
        tok->offset[tok->n_vocab] = (uint32_t)pos;
        tok->length[tok->n_vocab] = (uint16_t)len;
        tok->n_vocab++;
        if (len > 2 && data[pos] == '#' && data[pos + 1] == '#') (*n_cont)++;
        pos = end + 1;
    }
    return EP_OK;
}

/* Builds the look-up tables (refusing duplicate tokens) and the hash powers.
 * @return EP_OK, or EP_ERR_FORMAT / EP_ERR_NOMEM. */
static ep_status build_tables(ep_tokenizer *tok, const char *vocab_path, int n_cont, ep_error *err) {
    if (!table_init(&tok->words, tok->n_vocab, 0) || !table_init(&tok->cont, n_cont, 2))
        return ep_error_set(err, EP_ERR_NOMEM, "vocab %s: out of memory", vocab_path);
    for (int id = 0; id < tok->n_vocab; id++) {
        int32_t dup = table_insert(tok, &tok->words, (uint32_t)id);
        if (dup >= 0)
            return ep_error_set(err, EP_ERR_FORMAT, "vocab %s:%d: duplicate token \"%s\" (first at line %d)",
                                vocab_path, id + 1, tok->strings + tok->offset[id], dup + 1);
        const char *s = tok->strings + tok->offset[id];
        if (tok->length[id] > 2 && s[0] == '#' && s[1] == '#') table_insert(tok, &tok->cont, (uint32_t)id);
    }
    int longest = tok->words.max_key_len > tok->cont.max_key_len ? tok->words.max_key_len : tok->cont.max_key_len;
    tok->poly_pow = malloc(sizeof *tok->poly_pow * (size_t)(longest + 1));
    if (!tok->poly_pow) return ep_error_set(err, EP_ERR_NOMEM, "vocab %s: out of memory", vocab_path);
    tok->poly_pow[0] = 1;
    for (int i = 1; i <= longest; i++) tok->poly_pow[i] = tok->poly_pow[i - 1] * POLY_BASE;
    return EP_OK;
}

/* Looks up the special tokens. @return EP_OK, or EP_ERR_FORMAT when one BERT needs is missing. */
static ep_status find_specials(ep_tokenizer *tok, const char *vocab_path, ep_error *err) {
    for (int i = 0; i < EP_TOK_N_SPECIAL; i++) {
        tok->special_id[i] = ep_tokenizer_token_to_id(tok, special_names[i]);
        tok->special_len[i] = (uint8_t)strlen(special_names[i]);
    }
    tok->pad_id = tok->special_id[0];
    tok->unk_id = tok->special_id[1];
    tok->cls_id = tok->special_id[2];
    tok->sep_id = tok->special_id[3];
    tok->mask_id = tok->special_id[4];
    for (int i = 0; i < 4; i++)
        if (tok->special_id[i] < 0)
            return ep_error_set(err, EP_ERR_FORMAT,
                                "vocab %s: no %s token; a BERT vocabulary needs [PAD] [UNK] [CLS] [SEP]", vocab_path,
                                special_names[i]);
    return EP_OK;
}

ep_status ep_tokenizer_create(const char *vocab_path, const ep_tokenizer_options *options, ep_tokenizer **out,
                              ep_error *err) {
    if (!out) return ep_error_set(err, EP_ERR_USAGE, "ep_tokenizer_create: out is NULL");
    *out = NULL;
    if (!vocab_path) return ep_error_set(err, EP_ERR_USAGE, "ep_tokenizer_create: no vocab path given");
    ep_tokenizer_options opt = options ? *options : ep_tokenizer_default_options();
    if (opt.max_input_chars_per_word < 1 || opt.max_input_chars_per_word >= EP_TOK_MAX_WORD_CHARS)
        return ep_error_set(err, EP_ERR_USAGE, "ep_tokenizer_create: max_input_chars_per_word %d is outside 1..%d",
                            opt.max_input_chars_per_word, EP_TOK_MAX_WORD_CHARS - 1);

    char *data = NULL;
    size_t size = 0;
    ep_status st = ep_read_file(vocab_path, 0, &data, &size, err);
    if (st) return ep_error_prefix(err, "vocab (check the model folder)");
    if (size == 0) {
        free(data);
        return ep_error_set(err, EP_ERR_FORMAT, "vocab %s: the file is empty; expected one token per line", vocab_path);
    }
    ep_tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok) {
        free(data);
        return ep_error_set(err, EP_ERR_NOMEM, "vocab %s: out of memory", vocab_path);
    }
    tok->opt = opt;
    tok->strings = data; // lines become NUL-terminated tokens in place
    int n_cont = 0;
    st = split_lines(tok, vocab_path, size, &n_cont, err);
    if (st == EP_OK) st = build_tables(tok, vocab_path, n_cont, err);
    if (st == EP_OK) st = find_specials(tok, vocab_path, err);
    if (st != EP_OK) {
        ep_tokenizer_free(tok);
        return st;
    }
    *out = tok;
    return EP_OK;
}

void ep_tokenizer_free(ep_tokenizer *tok) {
    if (!tok) return;
    free(tok->poly_pow);
    free(tok->words.slot);
    free(tok->cont.slot);
    free(tok->offset);
    free(tok->length);
    free(tok->strings);
    free(tok);
}

int32_t ep_tokenizer_token_to_id(const ep_tokenizer *tok, const char *token) {
    if (!tok || !token) return -1;
    size_t len = strlen(token);
    if (len > MAX_TOKEN_BYTES) return -1;
    return ep_tok_lookup(tok, &tok->words, (const uint8_t *)token, (int)len);
}

const char *ep_tokenizer_id_to_token(const ep_tokenizer *tok, int32_t id) {
    if (!tok || id < 0 || id >= tok->n_vocab) return NULL;
    return tok->strings + tok->offset[id];
}

int ep_tokenizer_vocab_size(const ep_tokenizer *tok) {
    return tok ? tok->n_vocab : 0;
}

// ---------------------------------------------------------------------------
// Encoding

typedef struct encode_ctx {
    const ep_tokenizer *tok;
    int32_t *ids;
    int n;     // ids written so far ([CLS] included)
    int limit; // index where [SEP] must go: pieces fill ids[1 .. limit-1]
    bool truncated;
} encode_ctx;

// WordPiece: greedy longest match from the left, "##" pieces after the first.
// prefix[i] is the polynomial hash of w[0..i); the hash of any piece w[a..b) is
// then prefix[b] - prefix[a] * POLY_BASE^(b-a), one multiply per look-up.
// @return the number of pieces in out, or 0 when some part matches nothing.
static int wordpiece(const ep_tokenizer *tok, const uint8_t *w, int len, int32_t *out) {
    uint64_t prefix[EP_TOK_WORD_BYTES + 1];
    prefix[0] = 0;
    for (int i = 0; i < len; i++) prefix[i + 1] = prefix[i] * POLY_BASE + w[i];
    int n = 0;
    for (int start = 0; start < len;) {
        const ep_tok_table *t = start ? &tok->cont : &tok->words;
        int end = len;
        if (end - start > t->max_key_len) { // no longer key exists: start at the longest that could
            end = start + t->max_key_len;
            while (end > start && (w[end] & 0xC0) == 0x80) end--;
        }
        int32_t id = -1;
        while (end > start) {
            uint64_t h = prefix[end] - prefix[start] * tok->poly_pow[end - start];
            id = find(tok, t, w + start, end - start, mix(h));
            if (id >= 0) break;
            do end--;
            while (end > start && (w[end] & 0xC0) == 0x80);
        }
        if (id < 0) return 0;
        out[n++] = id;
        start = end;
    }
    return n;
}

static int encode_word(void *vctx, const ep_tok_word *word) {
    encode_ctx *e = vctx;
    const ep_tokenizer *tok = e->tok;
    // A word arriving when no room is left proves the text had more pieces.
    if (e->n >= e->limit) {
        e->truncated = true;
        return 1;
    }
    if (word->special_id >= 0) {
        e->ids[e->n++] = word->special_id;
        return 0;
    }
    if (word->nchars > tok->opt.max_input_chars_per_word) {
        e->ids[e->n++] = tok->unk_id;
        return 0;
    }
    int32_t pieces[EP_TOK_MAX_WORD_CHARS];
    int np = wordpiece(tok, word->bytes, word->nbytes, pieces);
    if (!np) {
        e->ids[e->n++] = tok->unk_id;
        return 0;
    }
    for (int i = 0; i < np; i++) {
        if (e->n >= e->limit) {
            e->truncated = true;
            return 1;
        }
        e->ids[e->n++] = pieces[i];
    }
    return 0;
}

int ep_tokenizer_encode(const ep_tokenizer *tok, const char *text, size_t len, int32_t *ids, int max_tokens,
                        bool *truncated) {
    if (truncated) *truncated = false;
    if (!tok || !ids || max_tokens < 2) {
        if (truncated) *truncated = true;
        return 0;
    }
    encode_ctx e = {tok, ids, 0, max_tokens - 1, false};
    ids[e.n++] = tok->cls_id;
    ep_tok_scan(tok, text, len, encode_word, &e);
    ids[e.n++] = tok->sep_id;
    if (truncated) *truncated = e.truncated;
    return e.n;
}
