/* cluster_words.c - c-TF-IDF top words per cluster; see cluster_words.h. */
#include "cluster_words.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

static const char *const STOP_WORDS[] = {
    // English
    "the", "and", "for", "are", "but", "not", "you", "all", "any", "can", "had", "her", "was", "one", "our", "out",
    "has", "him", "his", "how", "its", "may", "new", "now", "see", "who", "did", "get", "got", "let", "say", "she",
    "too", "use", "that", "with", "have", "this", "will", "your", "from", "they", "been", "were", "what", "when",
    "where", "which", "while", "there", "their", "them", "then", "than", "these", "those", "would", "could",
    "should", "about", "into", "just", "like", "more", "some", "such", "only", "other", "over", "also", "after",
    "before", "because", "being", "both", "each", "here", "very", "much", "many", "most", "own", "same", "why",
    "why", "off", "again", "further", "once", "does", "doing", "down", "during", "few", "nor", "until", "above",
    "below", "between", "through", "under", "what", "whom", "yours", "ours", "hers", "itself", "myself", "don",
    "dont", "didn", "doesn", "isn", "aren", "wasn", "weren", "won", "cant", "can't", "don't", "i'm", "it's",
    "you're", "that's", "im", "ive", "i've", "youre", "thats", "lol", "via",
    // Twitter
    "user", "amp", "http", "https",
    // Spanish
    "que", "los", "las", "del", "por", "con", "una", "para", "como", "pero", "sus", "más", "mas", "este", "esta",
    "son", "fue", "muy", "sin", "sobre", "también", "hay", "todo", "ese", "esa", "eso", "porque", "cuando", "donde",
    // French
    "les", "des", "est", "une", "pour", "qui", "dans", "par", "sur", "pas", "plus", "avec", "son", "ses", "aux",
    "mais", "nous", "vous", "ils", "elle", "cette", "sont", "être", "ont", "tout", "comme",
    // German
    "der", "die", "und", "den", "das", "ist", "nicht", "sie", "ich", "mit", "sich", "des", "auf", "ein", "eine",
    "dem", "auch", "als", "wie", "noch", "nach", "bei", "aus", "wenn", "nur", "oder", "aber", "vor", "zur", "bis",
    "mehr", "durch", "man", "sein", "wir", "ihr", "sind", "hat", "war", "wird", "einen", "einem", "einer",
    "für", "von", "zum", "vom", "beim", "dann", "denn", "doch", "immer", "schon", "haben", "hatte", "hätte",
    "werden", "wurde", "wurden", "worden", "würde", "wäre", "kein", "keine", "keinen", "gegen", "über", "unter",
    "ohne", "alle", "alles", "diese", "dieser", "dieses", "diesen", "einfach", "mal", "nein", "nichts", "etwas",
    "jetzt", "heute", "hier", "dort", "weil", "dass", "kann", "können", "muss", "müssen", "soll", "sollte",
    "gibt", "ihm", "ihn", "ihre", "ihren", "uns", "euch", "mich", "dich", "mir", "dir", "sehr", "viel", "viele",
    "also", "wieder", "selbst", "was", "wer", "wo", "bin", "bist", "seid", "waren", "sowie", "zwar", "eben",
    // Italian
    "che", "non", "per", "una", "sono", "della", "delle", "degli", "con", "nel", "nella", "alla", "anche", "come",
    "questo", "questa", "gli", "dei", "suo", "sua", "più", "ma", "mi",
    // Portuguese
    "não", "nao", "uma", "com", "para", "por", "mais", "dos", "das", "como", "mas", "foi", "ele", "ela", "seu",
    "sua", "isso", "esse", "essa", "tem", "são", "quando", "muito", "nos", "já", "também",
};

bool ep_is_stop_word(const char *word, size_t len) {
    for (size_t i = 0; i < sizeof STOP_WORDS / sizeof STOP_WORDS[0]; i++)
        if (strlen(STOP_WORDS[i]) == len && memcmp(STOP_WORDS[i], word, len) == 0) return true;
    return false;
}

/* An open-addressing table of (word, cluster) -> count, words interned once. */
typedef struct entry {
    uint32_t word;     /* index into words; UINT32_MAX = empty */
    int32_t cluster;   /* -1: the word's total over all clusters */
    uint64_t count;
} entry;

typedef struct table {
    entry *slots;
    size_t cap, used;
    char **words;
    size_t n_words, words_cap;
    uint32_t *word_slots; /* word interning: index into words, UINT32_MAX = empty */
    size_t word_cap;
} table;

static uint64_t hash_bytes(const char *p, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    return h;
}

static bool grow_words(table *t) {
    size_t cap = t->word_cap ? t->word_cap * 2 : 4096;
    uint32_t *slots = malloc(sizeof(uint32_t) * cap);
    if (!slots) return false;
    memset(slots, 0xff, sizeof(uint32_t) * cap);
    for (size_t i = 0; i < t->word_cap; i++) {
        uint32_t w = t->word_slots[i];
        if (w == UINT32_MAX) continue;
        size_t s = hash_bytes(t->words[w], strlen(t->words[w])) & (cap - 1);
        while (slots[s] != UINT32_MAX) s = (s + 1) & (cap - 1);
        slots[s] = w;
    }
    free(t->word_slots);
    t->word_slots = slots;
    t->word_cap = cap;
    return true;
}

/* @return the word's index, or UINT32_MAX when out of memory. */
static uint32_t intern(table *t, const char *p, size_t n) {
    if ((t->n_words + 1) * 2 > t->word_cap && !grow_words(t)) return UINT32_MAX;
    size_t s = hash_bytes(p, n) & (t->word_cap - 1);
    while (t->word_slots[s] != UINT32_MAX) {
        const char *w = t->words[t->word_slots[s]];
        if (strlen(w) == n && memcmp(w, p, n) == 0) return t->word_slots[s];
        s = (s + 1) & (t->word_cap - 1);
    }
    if (t->n_words == t->words_cap) {
        size_t cap = t->words_cap ? t->words_cap * 2 : 4096;
        char **words = realloc(t->words, sizeof(char *) * cap);
        if (!words) return UINT32_MAX;
        t->words = words;
        t->words_cap = cap;
    }
    char *copy = malloc(n + 1);
    if (!copy) return UINT32_MAX;
    memcpy(copy, p, n);
    copy[n] = 0;
    t->words[t->n_words] = copy;
    t->word_slots[s] = (uint32_t)t->n_words;
    return (uint32_t)t->n_words++;
}

static size_t slot_of(uint32_t word, int32_t cluster, size_t cap) {
    uint64_t h = ((uint64_t)word * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)(uint32_t)cluster * 0xC2B2AE3D27D4EB4Full);
    return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

static bool grow_counts(table *t) {
    size_t cap = t->cap ? t->cap * 2 : 16384;
    entry *slots = malloc(sizeof(entry) * cap);
    if (!slots) return false;
    for (size_t i = 0; i < cap; i++) slots[i].word = UINT32_MAX;
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slots[i].word == UINT32_MAX) continue;
        size_t s = slot_of(t->slots[i].word, t->slots[i].cluster, cap);
        while (slots[s].word != UINT32_MAX) s = (s + 1) & (cap - 1);
        slots[s] = t->slots[i];
    }
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
    return true;
}

static bool add_count(table *t, uint32_t word, int32_t cluster) {
    if ((t->used + 1) * 2 > t->cap && !grow_counts(t)) return false;
    size_t s = slot_of(word, cluster, t->cap);
    while (t->slots[s].word != UINT32_MAX) {
        if (t->slots[s].word == word && t->slots[s].cluster == cluster) {
            t->slots[s].count++;
            return true;
        }
        s = (s + 1) & (t->cap - 1);
    }
    t->slots[s] = (entry){word, cluster, 1};
    t->used++;
    return true;
}

static uint64_t count_of(const table *t, uint32_t word, int32_t cluster) {
    size_t s = slot_of(word, cluster, t->cap);
    while (t->slots[s].word != UINT32_MAX) {
        if (t->slots[s].word == word && t->slots[s].cluster == cluster) return t->slots[s].count;
        s = (s + 1) & (t->cap - 1);
    }
    return 0;
}

/* A word is a run of letters (any script, Unicode categories L*), digits and
 * apostrophes; words with a digit are dropped, so are emoji and punctuation,
 * which are not letters. Letters are lowercased by Unicode's simple mapping,
 * so "Für" and "für" are one word (and one stop word). */
static bool is_letter(utf8proc_int32_t cp) {
    const utf8proc_category_t k = utf8proc_category(cp);
    return k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO;
}

/* The code point at p (len bytes, at least 1) into *cp; @return its length in bytes (1 for a bad byte, *cp = -1). */
static size_t next_cp(const unsigned char *p, size_t len, utf8proc_int32_t *cp) {
    utf8proc_ssize_t n = utf8proc_iterate(p, (utf8proc_ssize_t)(len < 4 ? len : 4), cp);
    if (n <= 0) {
        *cp = -1;
        return 1;
    }
    return (size_t)n;
}

/* Skips a token that is not words (a mention, URL or e-mail) up to the next whitespace. */
static const unsigned char *skip_token(const unsigned char *p) {
    while (*p && *p != ' ' && *p != '\n' && *p != '\t') p++;
    return p;
}

/* Adds the words of one text to cluster c; *words_in gets how many were counted. */
static bool add_text(table *t, const char *text, int32_t c, uint64_t *words_in) {
    char buf[64];
    const unsigned char *p = (const unsigned char *)text;
    const unsigned char *end = p + strlen(text);
    while (p < end) {
        utf8proc_int32_t cp;
        size_t k = next_cp(p, (size_t)(end - p), &cp);
        if (cp == '@') {
            p = skip_token(p);
            continue;
        }
        if (cp < 0 || !(is_letter(cp) || cp == '\'')) {
            p += k;
            continue;
        }
        size_t n = 0, letters = 0;
        bool has_digit = false, fits = true;
        while (p < end) {
            k = next_cp(p, (size_t)(end - p), &cp);
            const bool digit = cp >= '0' && cp <= '9';
            if (cp < 0 || !(is_letter(cp) || cp == '\'' || digit)) break;
            has_digit |= digit;
            utf8proc_uint8_t enc[4];
            utf8proc_ssize_t m = utf8proc_encode_char(is_letter(cp) ? utf8proc_tolower(cp) : cp, enc);
            if (n + (size_t)m < sizeof buf) {
                memcpy(buf + n, enc, (size_t)m);
                n += (size_t)m;
            } else {
                fits = false;
            }
            letters += is_letter(cp);
            p += k;
        }
        if (*p == ':' && p[1] == '/' && p[2] == '/') { /* a URL */
            p = skip_token(p);
            continue;
        }
        while (n > 0 && buf[n - 1] == '\'') n--;
        if (!fits || has_digit || letters < 3 || n < 3 || ep_is_stop_word(buf, n)) continue;
        uint32_t w = intern(t, buf, n);
        if (w == UINT32_MAX || !add_count(t, w, c) || !add_count(t, w, -1)) return false;
        (*words_in)++;
    }
    return true;
}

void ep_cluster_words_free(char **words, int k, int top) {
    if (!words) return;
    for (size_t i = 0; i < (size_t)k * (size_t)top; i++) free(words[i]);
    free(words);
}

ep_status ep_cluster_words(const char *const *texts, const int32_t *labels, uint64_t n, int k, int top,
                           char ***out, ep_error *err) {
    *out = NULL;
    table t = {0};
    uint64_t *cluster_words = calloc((size_t)k, sizeof(uint64_t));
    char **words = calloc((size_t)k * (size_t)top + 1, sizeof(char *));
    float *best = malloc(sizeof(float) * (size_t)k * (size_t)top + 1);
    uint32_t *best_word = malloc(sizeof(uint32_t) * (size_t)k * (size_t)top + 1);
    int *n_best = calloc((size_t)k, sizeof(int));
    bool ok = cluster_words && words && best && best_word && n_best && grow_words(&t) && grow_counts(&t);
    for (uint64_t i = 0; ok && i < n; i++)
        if (texts[i] && labels[i] >= 0 && labels[i] < k) ok = add_text(&t, texts[i], labels[i], &cluster_words[labels[i]]);
    if (ok) {
        uint64_t all = 0;
        for (int c = 0; c < k; c++) all += cluster_words[c];
        double mean_words = (double)all / k;
        for (size_t s = 0; s < t.cap; s++) {
            const entry *e = &t.slots[s];
            if (e->word == UINT32_MAX || e->cluster < 0 || e->count < 2) continue;
            int c = e->cluster;
            double f = (double)count_of(&t, e->word, -1);
            float score = (float)((double)e->count / (double)cluster_words[c] * log(1.0 + mean_words / f));
            float *b = best + (size_t)c * (size_t)top;
            uint32_t *bw = best_word + (size_t)c * (size_t)top;
            int m = n_best[c];
            // ties go to the word that sorts first, so the report does not depend on the table's order
            #define BEATS(sa, wa, sb, wb) ((sa) > (sb) || ((sa) == (sb) && strcmp(t.words[wa], t.words[wb]) < 0))
            if (m == top && !BEATS(score, e->word, b[top - 1], bw[top - 1])) continue;
            int p = m < top ? m++ : top - 1;
            while (p > 0 && BEATS(score, e->word, b[p - 1], bw[p - 1])) {
                b[p] = b[p - 1];
                bw[p] = bw[p - 1];
                p--;
            }
            #undef BEATS
            b[p] = score;
            bw[p] = e->word;
            n_best[c] = m;
        }
        for (int c = 0; ok && c < k; c++)
            for (int i = 0; ok && i < n_best[c]; i++)
                ok = (words[(size_t)c * (size_t)top + (size_t)i] =
                          strdup(t.words[best_word[(size_t)c * (size_t)top + (size_t)i]])) != NULL;
    }
    for (size_t i = 0; i < t.n_words; i++) free(t.words[i]);
    free(t.words);
    free(t.word_slots);
    free(t.slots);
    free(cluster_words);
    free(best);
    free(best_word);
    free(n_best);
    if (!ok) {
        ep_cluster_words_free(words, k, top);
        return ep_error_set(err, EP_ERR_NOMEM, "cluster: out of memory counting words");
    }
    *out = words;
    return EP_OK;
}
