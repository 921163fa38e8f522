/*
 * reader_clean.c - the opt-in text preparation for tweets (--clean): HTML
 * entities unescaped, t.co links and the mentions a reply starts with
 * dropped, retweets skipped; the parser of the setting and its canonical
 * name. See reader_keep.h (ep_text_clean) and reader.h (ep_clean_parse).
 */
#include "reader_keep_internal.h"
#include "setting_names.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

// ----------------------------------------------------------------------------
// The setting

static const struct {
    const char *name;
    unsigned flag;
} CLEAN_NAMES[] = {{"html", EP_CLEAN_HTML},
                   {"links", EP_CLEAN_LINKS},
                   {"mentions", EP_CLEAN_MENTIONS},
                   {"retweets", EP_CLEAN_RETWEETS}};

ep_status ep_clean_parse(const char *spec, unsigned *flags, ep_error *err) {
    *flags = 0;
    if (!spec) return EP_OK;
    const char *p = spec;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        while (n > 0 && *p == ' ') p++, n--;
        while (n > 0 && p[n - 1] == ' ') n--;
        bool found = n == 0;
        if (n == 3 && memcmp(p, "all", 3) == 0) {
            *flags |= EP_CLEAN_ALL;
            found = true;
        }
        for (size_t i = 0; i < EP_COUNT(CLEAN_NAMES) && !found; i++) {
            if (strlen(CLEAN_NAMES[i].name) == n && memcmp(p, CLEAN_NAMES[i].name, n) == 0) {
                *flags |= CLEAN_NAMES[i].flag;
                found = true;
            }
        }
        if (!found)
            return ep_error_set(err, EP_ERR_USAGE, "%s: unknown step '%.*s': use html, links, mentions, retweets "
                                "or all (comma-separated)",
                                ep_setting_name(EP_SETTING_CLEAN), (int)(n > 64 ? 64 : n), p);
        p += n;
        while (*p == ' ') p++;
        if (*p == ',') p++;
    }
    return EP_OK;
}

void ep_clean_name(unsigned flags, char *out, size_t cap) {
    size_t o = 0;
    if (cap) out[0] = '\0';
    for (size_t i = 0; i < EP_COUNT(CLEAN_NAMES) && o < cap; i++)
        if (flags & CLEAN_NAMES[i].flag)
            o += (size_t)snprintf(out + o, cap - o, "%s%s", o ? "," : "", CLEAN_NAMES[i].name);
}

// ----------------------------------------------------------------------------
// The steps

static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool ep_tweet_is_retweet_text(const char *s, size_t n) { return ep_keep_retweet_text(s, n); }

/* One HTML entity at s (s[0] == '&'): its UTF-8 into out, *used = bytes read.
 * @return the bytes written (0 = not an entity: copy the '&'). */
static size_t html_entity(const char *s, size_t n, char *out, size_t *used) {
    static const struct {
        const char *name;
        char c;
    } named[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    for (size_t i = 0; i < EP_COUNT(named); i++) {
        size_t l = strlen(named[i].name);
        if (n >= l && memcmp(s, named[i].name, l) == 0) {
            out[0] = named[i].c;
            *used = l;
            return 1;
        }
    }
    if (n < 4 || s[1] != '#') return 0;
    bool hex = s[2] == 'x' || s[2] == 'X';
    size_t i = hex ? 3 : 2;
    long cp = 0;
    size_t digits = 0;
    for (; i < n && digits < 8; i++, digits++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : hex && c >= 'a' && c <= 'f' ? c - 'a' + 10
                                     : hex && c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) break;
        cp = cp * (hex ? 16 : 10) + d;
    }
    // A NUL or a control character would be removed by the tokenizer anyway; leave such entities as written.
    if (digits == 0 || i >= n || s[i] != ';' || cp < 0x20 || !utf8proc_codepoint_valid((utf8proc_int32_t)cp)) return 0;
    *used = i + 1;
    return (size_t)utf8proc_encode_char((utf8proc_int32_t)cp, (utf8proc_uint8_t *)out);
}

/* @return the length of a t.co link at s ("https://t.co/abc123"), or 0. */
static size_t tco_link(const char *s, size_t n) {
    size_t l = n >= 13 && memcmp(s, "https://t.co/", 13) == 0 ? 13 : n >= 12 && memcmp(s, "http://t.co/", 12) == 0 ? 12 : 0;
    if (!l) return 0;
    size_t i = l;
    while (i < n && ep_tweet_name_byte(s[i]) && s[i] != '_') i++;
    return i > l ? i : 0;
}

size_t ep_text_clean(const char *text, size_t len, unsigned flags, char **buf, size_t *cap, bool *skip) {
    *skip = (flags & EP_CLEAN_RETWEETS) && ep_tweet_is_retweet_text(text, len);
    if (!ep_keep_grow(buf, cap, len + 1)) return (size_t)-1;
    char *o = *buf;
    size_t n = 0;
    // Entities first: a link or mention written with one (rare) is then seen as the reader of the tweet sees it.
    for (size_t i = 0; i < len;) {
        size_t used = 0, w = (flags & EP_CLEAN_HTML) && text[i] == '&' ? html_entity(text + i, len - i, o + n, &used) : 0;
        if (w) {
            n += w; /* never longer than the entity itself */
            i += used;
        } else {
            o[n++] = text[i++];
        }
    }
    if (flags & EP_CLEAN_MENTIONS) {
        // Only the chain a reply starts with ("@a @b thanks"): a mention inside the sentence is part of it.
        size_t i = 0, end = 0;
        while (i < n && is_blank(o[i])) i++;
        while (i < n && o[i] == '@') {
            size_t j = i + 1;
            while (j < n && ep_tweet_name_byte(o[j])) j++;
            if (j == i + 1 || (j < n && !is_blank(o[j]))) break;
            while (j < n && is_blank(o[j])) j++;
            i = end = j;
        }
        if (end) {
            memmove(o, o + end, n - end);
            n -= end;
        }
    }
    if (flags & EP_CLEAN_LINKS) {
        size_t w = 0;
        for (size_t i = 0; i < n;) {
            size_t l = tco_link(o + i, n - i);
            if (!l) {
                o[w++] = o[i++];
                continue;
            }
            i += l;
            // The space before a link goes with it when nothing but space follows, so no gap is left.
            if (i == n || is_blank(o[i]))
                while (w > 0 && (o[w - 1] == ' ' || o[w - 1] == '\t')) w--;
        }
        n = w;
        while (n > 0 && is_blank(o[n - 1])) n--;
    }
    o[n] = '\0';
    return n;
}
