/*
 * pretokenizers.c - tokenizer.json's pre-tokenizers: BertPreTokenizer,
 * WhitespaceSplit, Whitespace (\w+|[^\w\s]+), Punctuation (with each of
 * tokenizers' SplitDelimiterBehavior) and Metaspace; a Sequence runs each over
 * the pieces of the one before. Pieces are handed on as they are found (no
 * list is built); empty pieces are dropped, as PreTokenizedString does.
 */
#include <string.h>

#include "chain.h"
#include "utf8.h"

typedef struct next_ctx {
    const ep_tok_chain *c;
    int level;       // the pre-tokenizer that receives the pieces
    const char *s;   // the string being split
    bool at0;        // s starts at offset 0 of the original text
    ep_tok_arena *a;
    ep_tok_emit_fn fn;
    void *ctx;
} next_ctx;

// Hands s[start..end) to the next pre-tokenizer (or the model).
static int piece(const next_ctx *x, size_t start, size_t end) {
    if (end <= start) return 0;
    return ep_tok_pretokenize(x->c, x->level, x->s + start, end - start, x->at0 && start == 0, x->a, x->fn, x->ctx);
}

// NormalizedString::split on a char predicate: the text is a sequence of pieces,
// maximal runs of other characters and single delimiters, which behavior drops,
// keeps or merges with a neighbour. A piece that may still merge waits in held.
typedef struct splitter {
    const next_ctx *x;
    ep_tok_split_behavior behavior;
    size_t hs, he; // the held piece
    int held;      // 0: none, 1: a run of other characters, 2: delimiters
} splitter;

static int feed(splitter *sp, size_t s, size_t e, bool delim) {
    const next_ctx *x = sp->x;
    int r = 0;
    switch (sp->behavior) {
    case EP_SPLIT_REMOVED: return delim ? 0 : piece(x, s, e);
    case EP_SPLIT_ISOLATED: return piece(x, s, e);
    case EP_SPLIT_MERGED_WITH_PREVIOUS: // "the-final" -> "the-", "final"
        if (!delim) {
            sp->held = 1, sp->hs = s, sp->he = e;
            return 0;
        }
        if (sp->held == 1) s = sp->hs;
        sp->held = 0;
        return piece(x, s, e);
    case EP_SPLIT_MERGED_WITH_NEXT: // "the-final" -> "the", "-final"
        if (delim) {
            if (sp->held == 2) r = piece(x, sp->hs, sp->he);
            sp->held = 2, sp->hs = s, sp->he = e;
            return r;
        }
        if (sp->held == 2) s = sp->hs;
        sp->held = 0;
        return piece(x, s, e);
    default: // CONTIGUOUS: neighbouring delimiters form one piece
        if (delim) {
            if (sp->held == 2) sp->he = e;
            else sp->held = 2, sp->hs = s, sp->he = e;
            return 0;
        }
        if (sp->held == 2) r = piece(x, sp->hs, sp->he);
        sp->held = 0;
        return r ? r : piece(x, s, e);
    }
}

static int split_chars(const next_ctx *x, size_t n, int (*is_delim)(int32_t), ep_tok_split_behavior behavior) {
    splitter sp = {x, behavior, 0, 0, 0};
    size_t run = 0; // start of the current run of other characters
    for (size_t i = 0; i < n;) {
        int32_t cp;
        size_t at = i;
        i += (size_t)ep_utf8_next(x->s, n, i, &cp);
        if (!is_delim(cp)) continue;
        int r = (run < at) ? feed(&sp, run, at, false) : 0;
        if (r || (r = feed(&sp, at, i, true))) return r;
        run = i;
    }
    int r = (run < n) ? feed(&sp, run, n, false) : 0;
    if (!r && sp.held) r = piece(x, sp.hs, sp.he);
    return r;
}

static int is_space(int32_t cp) {
    return ep_hf_is_whitespace(cp);
}

// BertPreTokenizer: whitespace removed, then each punctuation character on its own.
static int bert(const next_ctx *x, size_t n) {
    size_t run = 0;
    for (size_t i = 0; i < n;) {
        int32_t cp;
        size_t at = i;
        i += (size_t)ep_utf8_next(x->s, n, i, &cp);
        int r = 0;
        if (ep_hf_is_whitespace(cp)) r = piece(x, run, at);
        else if (ep_hf_is_punct(cp)) r = piece(x, run, at) ? 1 : piece(x, at, i);
        else continue;
        if (r) return r;
        run = i;
    }
    return piece(x, run, n);
}

// Whitespace: the matches of \w+|[^\w\s]+ (whitespace between them dropped).
static int whitespace(const next_ctx *x, size_t n) {
    size_t run = 0;
    int run_kind = 0; // 0: none, 1: \w, 2: [^\w\s]
    for (size_t i = 0; i < n;) {
        int32_t cp;
        size_t at = i;
        i += (size_t)ep_utf8_next(x->s, n, i, &cp);
        int kind = ep_hf_is_word_char(cp) ? 1 : ep_hf_is_whitespace(cp) ? 0 : 2;
        if (kind == run_kind) continue;
        int r = run_kind ? piece(x, run, at) : 0;
        if (r) return r;
        run = at;
        run_kind = kind;
    }
    return run_kind ? piece(x, run, n) : 0;
}

// Metaspace: ' ' becomes the replacement, which is prepended as the scheme says, and
// the text is split before each replacement (MergedWithNext).
static int metaspace(const ep_tok_pre *p, const next_ctx *x, size_t n) {
    size_t spaces = 0;
    for (size_t i = 0; i < n; i++) spaces += x->s[i] == ' ';
    char *buf = ep_tok_arena_alloc(x->a, n + (spaces + 1) * (size_t)p->repl_len);
    if (!buf) return -1;
    size_t m = 0;
    bool starts = x->s[0] == ' ' || (n >= (size_t)p->repl_len && memcmp(x->s, p->repl, (size_t)p->repl_len) == 0);
    if (!starts && (p->prepend == EP_PREPEND_ALWAYS || (p->prepend == EP_PREPEND_FIRST && x->at0))) {
        memcpy(buf, p->repl, (size_t)p->repl_len);
        m = (size_t)p->repl_len;
    }
    for (size_t i = 0; i < n; i++) {
        if (x->s[i] == ' ') {
            memcpy(buf + m, p->repl, (size_t)p->repl_len);
            m += (size_t)p->repl_len;
        } else {
            buf[m++] = x->s[i];
        }
    }
    next_ctx y = *x;
    y.s = buf;
    if (!p->split) return piece(&y, 0, m);
    size_t start = 0; // each piece runs from a replacement to the next
    for (size_t i = 0; i + (size_t)p->repl_len <= m;) {
        if (i > start && memcmp(buf + i, p->repl, (size_t)p->repl_len) == 0) {
            int r = piece(&y, start, i);
            if (r) return r;
            start = i;
        }
        int32_t cp;
        i += (size_t)ep_utf8_next(buf, m, i, &cp);
    }
    return piece(&y, start, m);
}

int ep_tok_pretokenize(const ep_tok_chain *c, int level, const char *s, size_t n, bool at0, ep_tok_arena *a,
                       ep_tok_emit_fn fn, void *ctx) {
    if (!n) return 0;
    if (level == c->n_pre) return fn(ctx, s, n);
    const ep_tok_pre *p = &c->pre[level];
    next_ctx x = {c, level + 1, s, at0, a, fn, ctx};
    switch (p->kind) {
    case EP_PRE_BERT: return bert(&x, n);
    case EP_PRE_WHITESPACE_SPLIT: return split_chars(&x, n, is_space, EP_SPLIT_REMOVED);
    case EP_PRE_WHITESPACE: return whitespace(&x, n);
    case EP_PRE_PUNCTUATION: return split_chars(&x, n, ep_hf_is_punct, p->behavior);
    case EP_PRE_METASPACE: return metaspace(p, &x, n);
    }
    return 0;
}
