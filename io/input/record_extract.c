/*
 * record_extract.c - a framed record's bytes into text and id, or its
 * rejection (see record_extract.h): NDJSON lines (with API v2 pages), array
 * elements of tweets.js / archive.json, plain lines. The framing lives in
 * reader.c / reader_array.c, parsing in reader_record.c, the field paths in
 * reader_fields.c. Plain JSON records take a fast path (json_scan.c, at the
 * end of this file) that gives exactly what the cJSON path gives.
 */
#include "reader_internal.h"

#include "json_scan.h"
#include "keep_scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const NDJSON_TEXT[] = {"text", "full_text", "tweet.full_text", "tweet.text",
                                          "content", "body", "data.text"};
static const char *const NDJSON_ID[] = {"id_str", "id", "tweet.id_str", "tweet.id", "data.id"};
static const char *const EXPORT_TEXT[] = {"tweet.full_text", "tweet.text", "like.fullText", "noteTweet.core.text",
                                          "full_text", "text"};
static const char *const EXPORT_ID[] = {"tweet.id_str", "tweet.id", "like.tweetId", "noteTweet.noteTweetId",
                                        "id_str", "id"};
#define COUNT(a) (sizeof(a) / sizeof *(a))

struct ep_extractor {
    char *text_path, *id_path;       /* copies of the options' paths, NULL = the format's defaults */
    const char *given_text[1], *given_id[1];
    ep_field_paths paths;            /* for paths_format */
    ep_input_format paths_format;

    ep_frame frame;                  /* the frame being taken apart */
    bool has_frame;                  /* ep_extractor_begin was called */
    bool started;                    /* its first record was returned */
    cJSON *doc;                      /* the parsed frame */
    const cJSON *page_item;          /* next element of an API page's "data" array */
    size_t page_index;
    ep_fields fields;
    ep_keep keep;                    /* --keep, parsed */
    char reason[1024];

    // The fast path (json_scan.h): plain JSON records read without a tree, their kept fields too (keep_scan.h).
    bool fast_off;                   /* ep_extractor_set_fast(x, false): always cJSON */
    bool fast_page;                  /* the frame is an API page read by the fast path */
    bool fast_page_done;             /* its "data" is used up */
    size_t fast_doc;                 /* offset of the frame's top-level object */
    size_t fast_item;                /* offset of the page's next element */
    ep_jscan_cache cache;
    char *text_buf, *id_buf;         /* decoded strings of the current record */
    size_t text_cap, id_cap;
    ep_keep_scan keep_scan;          /* the kept fields' decoded strings, the page's includes.users */
    uint64_t fast_records;           /* records the fast path returned (for tests) */
};

static void set_paths(ep_extractor *x, ep_input_format format) {
    bool export_paths = format == EP_FORMAT_TWEETS_JS || format == EP_FORMAT_ARCHIVE_JSON;
    ep_field_paths *p = &x->paths;
    x->paths_format = format;
    if (x->text_path) {
        x->given_text[0] = x->text_path;
        p->text = x->given_text;
        p->n_text = 1;
        p->text_given = true;
    } else {
        p->text = export_paths ? EXPORT_TEXT : NDJSON_TEXT;
        p->n_text = export_paths ? COUNT(EXPORT_TEXT) : COUNT(NDJSON_TEXT);
        p->text_given = false;
    }
    if (x->id_path) {
        x->given_id[0] = x->id_path;
        p->id = x->given_id;
        p->n_id = 1;
        p->id_given = true;
    } else {
        p->id = export_paths ? EXPORT_ID : NDJSON_ID;
        p->n_id = export_paths ? COUNT(EXPORT_ID) : COUNT(NDJSON_ID);
        p->id_given = false;
    }
}

ep_status ep_extractor_create(const ep_reader_options *options, ep_extractor **out, ep_error *err) {
    *out = NULL;
    ep_extractor *x = calloc(1, sizeof *x);
    if (!x) return ep_error_set(err, EP_ERR_NOMEM, "out of memory");
    if (options && options->text_path && *options->text_path) x->text_path = strdup(options->text_path);
    if (options && options->id_path && *options->id_path) x->id_path = strdup(options->id_path);
    if ((options && options->text_path && *options->text_path && !x->text_path) ||
        (options && options->id_path && *options->id_path && !x->id_path)) {
        ep_extractor_free(x);
        return ep_error_set(err, EP_ERR_NOMEM, "out of memory");
    }
    ep_status st = ep_keep_parse(options ? options->keep : NULL, &x->keep, err);
    if (st != EP_OK) {
        ep_extractor_free(x);
        return st;
    }
    set_paths(x, EP_FORMAT_NDJSON);
    x->paths.keep = &x->keep;
    x->paths.clean = options ? options->clean : 0;
    // The bound the output's checked reader puts on an ids line allows each kept value what an escaped record takes.
    x->paths.max_value = (options && options->max_record_bytes ? options->max_record_bytes : (size_t)1 << 20) * 6;
    x->paths.account = "";
    *out = x;
    return EP_OK;
}

void ep_extractor_free(ep_extractor *x) {
    if (!x) return;
    cJSON_Delete(x->doc);
    ep_jscan_cache_release(&x->cache);
    ep_keep_scan_release(&x->keep_scan);
    free(x->text_buf);
    free(x->id_buf);
    ep_fields_release(&x->fields);
    ep_keep_release(&x->keep);
    free(x->text_path);
    free(x->id_path);
    free(x);
}

void ep_extractor_begin(ep_extractor *x, const ep_frame *frame) {
    cJSON_Delete(x->doc);
    x->doc = NULL;
    x->page_item = NULL;
    x->page_index = 0;
    x->frame = *frame;
    x->has_frame = true;
    // Once per frame, not once per tweet of an API page: see string_has_nul in reader_fields.c.
    x->fields.raw_nul_known = true;
    x->fields.raw_has_nul = frame->bytes && memmem(frame->bytes, frame->len, "\\u0000", 6) != NULL;
    x->started = false;
    x->fast_page = false;
    ep_jscan_cache_reset(&x->cache);
    ep_keep_scan_reset(&x->keep_scan);
    if (frame->format != x->paths_format) set_paths(x, frame->format);
    x->paths.account = frame->account ? frame->account : "";
}

// ----------------------------------------------------------------------------
// Results

static bool reject(ep_extractor *x, ep_record *rec, ep_read_kind *kind, const char *id) {
    memset(rec, 0, sizeof *rec);
    rec->id = id ? id : "";
    rec->line = x->frame.line;
    rec->reason = x->reason;
    *kind = EP_READ_REJECTED;
    return true;
}

static bool accept(ep_extractor *x, ep_record *rec, ep_read_kind *kind, const char *text, size_t len,
                   const char *id) {
    memset(rec, 0, sizeof *rec);
    rec->text = text;
    rec->text_len = len;
    rec->id = id ? id : "";
    rec->line = x->frame.line;
    *kind = EP_READ_RECORD;
    return true;
}

/* Text and id of one JSON object of the frame's document. */
static bool emit_fields(ep_extractor *x, const cJSON *obj, const char *where, ep_record *rec, ep_read_kind *kind) {
    ep_fields *f = &x->fields;
    if (ep_fields_extract(x->doc, obj, x->frame.bytes, x->frame.len, &x->paths, where, f) == EP_READ_RECORD) {
        accept(x, rec, kind, f->text, f->text_len, f->id);
        rec->fields = f->kept;
        rec->skipped = f->skipped;
        return true;
    }
    snprintf(x->reason, sizeof x->reason, "%s", f->reason);
    return reject(x, rec, kind, f->id);
}

// ----------------------------------------------------------------------------
// Per format

/* The next element of an API page. @return false when the page is used up. */
static bool page_item(ep_extractor *x, const cJSON *item, size_t index, ep_record *rec, ep_read_kind *kind) {
    char where[48];
    snprintf(where, sizeof where, "data[%zu]: ", index);
    if (!cJSON_IsObject(item)) {
        snprintf(x->reason, sizeof x->reason, "%sis %s, not a tweet object", where, ep_json_type_name(item));
        return reject(x, rec, kind, "");
    }
    return emit_fields(x, item, where, rec, kind);
}

/* The next element of an API page. @return false when the page is used up. */
static bool page_next(ep_extractor *x, ep_record *rec, ep_read_kind *kind) {
    const cJSON *item = x->page_item;
    if (!item) return false;
    x->page_item = item->next;
    return page_item(x, item, x->page_index++, rec, kind);
}

/* One NDJSON line: an object, or an API v2 page of them. */
static bool ndjson_first(ep_extractor *x, ep_record *rec, ep_read_kind *kind) {
    const ep_frame *f = &x->frame;
    x->doc = ep_parse_record(f->bytes, f->len, f->line, true, f->truncated, x->reason, sizeof x->reason);
    if (!x->doc) return reject(x, rec, kind, "");
    if (!cJSON_IsObject(x->doc)) {
        snprintf(x->reason, sizeof x->reason, "line is %s, not an object holding a text field",
                 ep_json_type_name(x->doc));
        return reject(x, rec, kind, "");
    }
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(x->doc, "data");
    if (cJSON_IsArray(data) && !ep_fields_has_text(x->doc, &x->paths)) {
        x->page_item = data->child;
        x->page_index = 0;
        return page_next(x, rec, kind); /* an empty "data" yields nothing */
    }
    return emit_fields(x, x->doc, "", rec, kind);
}

/* One element of a tweets.js / archive.json array. */
static bool element_first(ep_extractor *x, ep_record *rec, ep_read_kind *kind) {
    const ep_frame *f = &x->frame;
    x->doc = ep_parse_record(f->bytes, f->len, f->line, false, false, x->reason, sizeof x->reason);
    if (!x->doc) return reject(x, rec, kind, "");
    if (!cJSON_IsObject(x->doc)) {
        snprintf(x->reason, sizeof x->reason, "array element is %s, not an object such as {\"tweet\": {...}}",
                 ep_json_type_name(x->doc));
        return reject(x, rec, kind, "");
    }
    return emit_fields(x, x->doc, "", rec, kind);
}

/* One plain line: the text itself. */
static bool line_first(ep_extractor *x, ep_record *rec, ep_read_kind *kind) {
    char *s = x->frame.bytes;
    size_t n = x->frame.len;
    if (n > 0 && s[n - 1] == '\r') n--;
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\f' || s[i] == '\v')) i++;
    if (i == n) {
        // Every line is a record, so that row N is line N: a blank one is the empty text
        // (SentenceTransformer.encode("") gives [CLS] [SEP] too); the caller may drop it (--skip-blank).
        accept(x, rec, kind, "", 0, "");
        rec->blank = true;
        ep_field_paths plain = x->paths;
        plain.clean = 0; /* a blank line stays the empty text: --clean has nothing to remove from it */
        if (ep_fields_finish(NULL, NULL, NULL, 0, &plain, "", 0, "", "", &x->fields) == EP_READ_RECORD)
            rec->fields = x->fields.kept;
        return true;
    }
    const char *nul = memchr(s, '\0', n);
    if (nul) {
        snprintf(x->reason, sizeof x->reason, "a NUL byte at byte %zu of the line; remove NUL bytes (tr -d '\\000')",
                 (size_t)(nul - s));
        return reject(x, rec, kind, "");
    }
    size_t bad = ep_utf8_invalid_at(s, n);
    if (bad < n) {
        snprintf(x->reason, sizeof x->reason,
                 "line is not valid UTF-8 at byte %zu; re-encode the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)",
                 bad);
        return reject(x, rec, kind, "");
    }
    s[n] = '\0';
    if (ep_fields_finish(NULL, NULL, NULL, 0, &x->paths, s, n, "", "", &x->fields) != EP_READ_RECORD) {
        snprintf(x->reason, sizeof x->reason, "%s", x->fields.reason);
        return reject(x, rec, kind, "");
    }
    accept(x, rec, kind, x->fields.text, x->fields.text_len, "");
    rec->fields = x->fields.kept;
    rec->skipped = x->fields.skipped;
    return true;
}

// ----------------------------------------------------------------------------
// The fast path: most records are plain JSON whose text and id are found at once, and building
// cJSON's tree of every one (7 KB of JSON for 55 tokens in a flat twarc record) cost more than the
// tokeniser. json_scan.h checks the record in one pass and reads only the values asked for, the kept
// fields' too (keep_scan.h). It returns only records it accepts; for anything else (a rejection, a
// duplicate key, a \u0000, a non-UTF-8 text or kept value) it defers to the cJSON path above, which
// then decides, byte for byte as before. @return true with rec set, or false: defer.

static bool grow(char **buf, size_t *cap, size_t need) {
    if (need <= *cap) return true;
    size_t n = *cap ? *cap : 256;
    while (n < need) n *= 2;
    char *grown = realloc(*buf, n);
    if (!grown) return false;
    *buf = grown;
    *cap = n;
    return true;
}

static bool fast_emit(ep_extractor *x, size_t obj, const char *where, ep_record *rec, ep_read_kind *kind) {
    const char *s = x->frame.bytes;
    const ep_field_paths *p = &x->paths;
    const char *id = "";
    size_t at;
    for (size_t i = 0; i < p->n_id; i++) {
        ep_jscan_result r = ep_jscan_path(s, obj, p->id[i], &x->cache, &at);
        if (r == EP_JSCAN_DEFER) return false;
        if (r == EP_JSCAN_MISSING) {
            if (p->id_given) return false;
            continue;
        }
        if (s[at] == '"') {
            if (!grow(&x->id_buf, &x->id_cap, ep_jscan_string_len(s, at) + 1)) return false;
            size_t n = ep_jscan_string(s, at, x->id_buf);
            if (ep_utf8_invalid_at(x->id_buf, n) < n) return false;
            id = x->id_buf;
            break;
        }
        if (s[at] == '-' || (s[at] >= '0' && s[at] <= '9')) { /* the digits as they stand, as find_id */
            size_t n = ep_jscan_skip(s, at) - at;
            if (n >= sizeof x->fields.id_digits) return false;
            memcpy(x->fields.id_digits, s + at, n);
            x->fields.id_digits[n] = '\0';
            id = x->fields.id_digits;
            break;
        }
        if (p->id_given) return false;
    }
    bool found = false;
    for (size_t i = 0; i < p->n_text && !found; i++) {
        ep_jscan_result r = ep_jscan_path(s, obj, p->text[i], &x->cache, &at);
        if (r == EP_JSCAN_DEFER) return false;
        found = r == EP_JSCAN_FOUND && s[at] == '"';
    }
    if (!found || !grow(&x->text_buf, &x->text_cap, ep_jscan_string_len(s, at) + 1)) return false;
    size_t n = ep_jscan_string(s, at, x->text_buf);
    if (strspn(x->text_buf, " \t\r\n") == n || ep_utf8_invalid_at(x->text_buf, n) < n) return false;
    ep_fields *f = &x->fields;
    ep_field_paths no_keep = *p; /* the kept fields come from the raw bytes, not from a tree */
    no_keep.keep = NULL;
    if (ep_fields_finish(NULL, NULL, NULL, 0, &no_keep, x->text_buf, n, id, where, f) != EP_READ_RECORD) return false;
    if (ep_keep_any(&x->keep)) {
        ep_keep_scan_source src = {.s = s, .root = x->fast_doc, .obj = obj, .id = id, .text = x->text_buf,
                                   .account = p->account, .max_value = p->max_value};
        if (ep_keep_scan_build(&x->keep, &src, &x->cache, &x->keep_scan, &f->fields, &f->fields_cap) ==
            EP_KEEP_SCAN_DEFER)
            return false;
        f->kept = f->fields;
    }
    accept(x, rec, kind, f->text, f->text_len, id);
    rec->fields = f->kept;
    rec->skipped = f->skipped;
    x->fast_records++;
    return true;
}

/* @return the offset of the frame's top-level object when the fast path may read the frame, else 0
 * with *ok false. */
static size_t fast_root(ep_extractor *x, bool *ok) {
    const ep_frame *f = &x->frame;
    *ok = false;
    // The member index holds 32-bit offsets: a frame over 4 GiB (--max-record-bytes) is cJSON's.
    if (x->fast_off || !f->bytes || f->len >= UINT32_MAX || x->fields.raw_has_nul) return 0;
    size_t i = 0;
    while (i < f->len && (f->bytes[i] == ' ' || f->bytes[i] == '\t' || f->bytes[i] == '\r' || f->bytes[i] == '\n')) i++;
    if (i == f->len || f->bytes[i] != '{' || !ep_jscan_plain(f->bytes, f->len)) return 0;
    *ok = true;
    return i;
}

/* The page's next element by the fast path, or by cJSON (parsed now) when it defers. */
static bool fast_page_next(ep_extractor *x, ep_record *rec, ep_read_kind *kind) {
    if (x->fast_page_done) return false;
    const char *s = x->frame.bytes;
    size_t at = x->fast_item, index = x->page_index++;
    size_t next = ep_jscan_skip(s, at);
    while (s[next] == ' ' || s[next] == '\t' || s[next] == '\r' || s[next] == '\n') next++;
    if (s[next] == ',') {
        next++;
        while (s[next] == ' ' || s[next] == '\t' || s[next] == '\r' || s[next] == '\n') next++;
        x->fast_item = next;
    } else {
        x->fast_page_done = true;
    }
    char where[48];
    snprintf(where, sizeof where, "data[%zu]: ", index);
    if (s[at] == '{' && fast_emit(x, at, where, rec, kind)) return true;
    if (!x->doc) {
        const ep_frame *f = &x->frame;
        x->doc = ep_parse_record(f->bytes, f->len, f->line, true, f->truncated, x->reason, sizeof x->reason);
        if (!x->doc) return reject(x, rec, kind, ""); /* cannot happen: the scanner takes less than cJSON */
    }
    const cJSON *item = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(x->doc, "data"), (int)index);
    return page_item(x, item, index, rec, kind);
}

/* One NDJSON line by the fast path. @return false: defer the whole line to ndjson_first. */
static bool fast_ndjson_first(ep_extractor *x, size_t root, ep_record *rec, ep_read_kind *kind, bool *done) {
    const char *s = x->frame.bytes;
    size_t data, at;
    ep_jscan_result r = ep_jscan_path(s, root, "data", &x->cache, &data);
    if (r == EP_JSCAN_DEFER) return false;
    if (r == EP_JSCAN_FOUND && s[data] == '[') {
        for (size_t i = 0; i < x->paths.n_text; i++) {
            r = ep_jscan_path(s, root, x->paths.text[i], &x->cache, &at);
            if (r == EP_JSCAN_DEFER) return false;
            if (r == EP_JSCAN_FOUND) return fast_emit(x, root, "", rec, kind) && (*done = true);
        }
        x->fast_page = true;
        x->page_index = 0;
        size_t i = data + 1;
        while (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n') i++;
        x->fast_item = i;
        x->fast_page_done = s[i] == ']';
        *done = fast_page_next(x, rec, kind); /* an empty "data" yields nothing */
        return true;
    }
    return fast_emit(x, root, "", rec, kind) && (*done = true);
}

void ep_extractor_set_fast(ep_extractor *x, bool on) { x->fast_off = !on; }

uint64_t ep_extractor_fast_records(const ep_extractor *x) { return x->fast_records; }

bool ep_extractor_next(ep_extractor *x, ep_record *rec, ep_read_kind *kind) {
    if (!x->has_frame) return false;
    if (x->started) /* only an API page holds more than one record */
        return x->fast_page ? fast_page_next(x, rec, kind) : page_next(x, rec, kind);
    x->started = true;
    if (x->frame.reason) { /* EP_FRAME_REJECTED */
        snprintf(x->reason, sizeof x->reason, "%s", x->frame.reason);
        return reject(x, rec, kind, "");
    }
    bool fast = false, done = false;
    size_t root = x->frame.format == EP_FORMAT_LINES ? 0 : fast_root(x, &fast);
    x->fast_doc = root;
    switch (x->frame.format) {
    case EP_FORMAT_NDJSON:
        if (fast) {
            if (fast_ndjson_first(x, root, rec, kind, &done)) return done;
            x->fast_page = false;
        }
        return ndjson_first(x, rec, kind);
    case EP_FORMAT_LINES: return line_first(x, rec, kind);
    default:
        if (fast && fast_emit(x, root, "", rec, kind)) return true;
        return element_first(x, rec, kind);
    }
}
