/*
 * reader.c - streams records out of NDJSON, tweets.js, archive.json and plain
 * text files (see reader.h for the formats and their rules).
 *
 * Layers: a byte source (io/input/byte_source.h: file, stdin, memory; zstd / gzip)
 * feeds a 64 KiB window (io/input/reader_input.h) that cuts lines, or array
 * elements with the framer (io/input/json_frame.h); each record's bytes, never more
 * than max_record_bytes of them, go to cJSON; io/input/reader_fields.h takes out
 * the text and id. Format detection lives in reader_detect.c, the tweets.js /
 * archive.json state machine in reader_array.c, parsing one JSON record in
 * reader_record.c. This file holds the reader
 * (reader_internal.h), NDJSON with API pages, and plain lines.
 */
#include "reader.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "byte_source.h"
#include "json_frame.h"
#include "reader_detect.h"
#include "reader_input.h"
#include "reader_fields.h"
#include "reader_internal.h"

#define DEFAULT_MAX_RECORD (1u << 20)

static const char *const NDJSON_TEXT[] = {"text", "full_text", "tweet.full_text", "tweet.text",
                                          "content", "body", "data.text"};
static const char *const NDJSON_ID[] = {"id_str", "id", "tweet.id_str", "tweet.id", "data.id"};
static const char *const EXPORT_TEXT[] = {"tweet.full_text", "tweet.text", "like.fullText", "noteTweet.core.text",
                                          "full_text", "text"};
static const char *const EXPORT_ID[] = {"tweet.id_str", "tweet.id", "like.tweetId", "noteTweet.noteTweetId",
                                        "id_str", "id"};
#define COUNT(a) (sizeof(a) / sizeof *(a))


// ----------------------------------------------------------------------------
// Formats by name

const char *ep_input_format_name(ep_input_format format) {
    switch (format) {
    case EP_FORMAT_AUTO: return "auto";
    case EP_FORMAT_NDJSON: return "ndjson";
    case EP_FORMAT_TWEETS_JS: return "tweets-js";
    case EP_FORMAT_ARCHIVE_JSON: return "archive-json";
    case EP_FORMAT_LINES: return "lines";
    }
    return "unknown";
}

ep_status ep_input_format_parse(const char *name, ep_input_format *out, ep_error *err) {
    static const struct {
        const char *name;
        ep_input_format format;
    } names[] = {{"auto", EP_FORMAT_AUTO},           {"ndjson", EP_FORMAT_NDJSON},
                 {"jsonl", EP_FORMAT_NDJSON},        {"tweets-js", EP_FORMAT_TWEETS_JS},
                 {"tweets.js", EP_FORMAT_TWEETS_JS}, {"archive-json", EP_FORMAT_ARCHIVE_JSON},
                 {"archive.json", EP_FORMAT_ARCHIVE_JSON}, {"lines", EP_FORMAT_LINES},
                 {"text", EP_FORMAT_LINES}};
    for (size_t i = 0; name && i < COUNT(names); i++) {
        if (strcmp(name, names[i].name) == 0) {
            *out = names[i].format;
            return EP_OK;
        }
    }
    return ep_error_set(err, EP_ERR_USAGE,
                        "unknown input format '%s': use auto, ndjson, tweets-js, archive-json or lines",
                        name ? name : "(null)");
}

// ----------------------------------------------------------------------------
// Results


/* Stops reading for good: the file's structure is broken beyond one record. */
ep_status ep_reader_fail(ep_reader *r, ep_error *err, uint64_t line, const char *fmt, ...) {
    char what[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    r->state = ST_FAILED;
    ep_error_set(&r->fatal, EP_ERR_FORMAT, "%s:%llu: %s", r->path, (unsigned long long)line, what);
    if (err) *err = r->fatal;
    return EP_ERR_FORMAT;
}

void ep_reader_set_reject(ep_reader *r, ep_record *rec, ep_read_kind *kind, uint64_t line, const char *id) {
    rec->text = NULL;
    rec->text_len = 0;
    rec->id = id ? id : "";
    rec->line = line;
    rec->reason = r->reason;
    *kind = EP_READ_REJECTED;
    r->emitted++;
}

static void set_record(ep_reader *r, ep_record *rec, ep_read_kind *kind, uint64_t line, const char *text,
                       size_t len, const char *id) {
    rec->text = text;
    rec->text_len = len;
    rec->id = id ? id : "";
    rec->line = line;
    rec->reason = NULL;
    *kind = EP_READ_RECORD;
    r->emitted++;
}

void ep_reader_reject_too_big(ep_reader *r, ep_record *rec, ep_read_kind *kind, uint64_t line) {
    snprintf(r->reason, sizeof r->reason,
             "record is %llu bytes, more than --max-record-bytes %zu; raise --max-record-bytes to read it",
             (unsigned long long)r->in.rec_total, r->in.max_record);
    ep_reader_set_reject(r, rec, kind, line, "");
}

/* Text and id of one JSON object. */
void ep_reader_emit_fields(ep_reader *r, const cJSON *obj, const char *where, uint64_t line, ep_record *rec,
                        ep_read_kind *kind) {
    ep_fields *f = &r->fields;
    if (ep_fields_extract(r->doc, obj, r->in.rec, r->in.rec_len, &r->paths, where, f) == EP_READ_RECORD) {
        set_record(r, rec, kind, line, f->text, f->text_len, f->id);
        rec->fields = f->kept;
        rec->skipped = f->skipped;
    } else {
        snprintf(r->reason, sizeof r->reason, "%s", f->reason);
        ep_reader_set_reject(r, rec, kind, line, f->id);
    }
}

// ----------------------------------------------------------------------------
// NDJSON and plain lines

/* The next element of an API page. @return false when the page is used up. */
static bool page_next(ep_reader *r, ep_record *rec, ep_read_kind *kind) {
    const cJSON *item = r->page_item;
    if (!item) return false;
    r->page_item = item->next;
    size_t index = r->page_index++;
    char where[48];
    snprintf(where, sizeof where, "data[%zu]: ", index);
    if (!cJSON_IsObject(item)) {
        snprintf(r->reason, sizeof r->reason, "%sis %s, not a tweet object", where, ep_json_type_name(item));
        ep_reader_set_reject(r, rec, kind, r->page_line, "");
        return true;
    }
    ep_reader_emit_fields(r, item, where, r->page_line, rec, kind);
    return true;
}

/* The start of both line formats: the next line into r->in.rec, or the end, or the
 * rejection of a line over max_record_bytes. @return EP_OK with *have true when the
 * line at *line is there to look at (*newline: it ended with one), false when rec /
 * kind already say what happened; or a read error. */
static ep_status read_line_record(ep_reader *r, ep_record *rec, ep_read_kind *kind, bool *produced, uint64_t *line,
                                  bool *newline, bool *have, ep_error *err) {
    *line = r->in.line;
    *have = false;
    bool got;
    ep_status st = ep_input_read_line(&r->in, &got, newline, err);
    if (st != EP_OK) return st;
    if (!got) {
        *kind = EP_READ_END;
        return EP_OK;
    }
    if (r->in.rec_too_big) {
        ep_reader_reject_too_big(r, rec, kind, *line);
        *produced = true;
        return EP_OK;
    }
    *have = true;
    return EP_OK;
}

static ep_status next_ndjson(ep_reader *r, ep_record *rec, ep_read_kind *kind, bool *produced, ep_error *err) {
    uint64_t line;
    bool newline, have;
    ep_status st = read_line_record(r, rec, kind, produced, &line, &newline, &have, err);
    if (st != EP_OK || !have) return st;
    size_t n = r->in.rec_len;
    while (n > 0 && ep_json_is_space((unsigned char)r->in.rec[n - 1])) n--;
    size_t lead = 0;
    while (lead < n && ep_json_is_space((unsigned char)r->in.rec[lead])) lead++;
    if (lead == n) return EP_OK;
    *produced = true;
    r->doc = ep_reader_parse_rec(r, line, true, !newline);
    if (!r->doc) {
        ep_reader_set_reject(r, rec, kind, line, "");
        return EP_OK;
    }
    if (!cJSON_IsObject(r->doc)) {
        snprintf(r->reason, sizeof r->reason, "line is %s, not an object holding a text field",
                 ep_json_type_name(r->doc));
        ep_reader_set_reject(r, rec, kind, line, "");
        return EP_OK;
    }
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(r->doc, "data");
    if (cJSON_IsArray(data) && !ep_fields_has_text(r->doc, &r->paths)) {
        r->page_item = data->child;
        r->page_index = 0;
        r->page_line = line;
        *produced = page_next(r, rec, kind);
        return EP_OK;
    }
    ep_reader_emit_fields(r, r->doc, "", line, rec, kind);
    return EP_OK;
}

static ep_status next_line(ep_reader *r, ep_record *rec, ep_read_kind *kind, bool *produced, ep_error *err) {
    uint64_t line;
    bool newline, have;
    ep_status st = read_line_record(r, rec, kind, produced, &line, &newline, &have, err);
    if (st != EP_OK || !have) return st;
    size_t n = r->in.rec_len;
    if (n > 0 && r->in.rec[n - 1] == '\r') n--;
    size_t i = 0;
    while (i < n && (r->in.rec[i] == ' ' || r->in.rec[i] == '\t' || r->in.rec[i] == '\r' || r->in.rec[i] == '\f' ||
                     r->in.rec[i] == '\v'))
        i++;
    *produced = true;
    if (i == n) {
        // Every line is a record, so that row N is line N: a blank one is the empty text
        // (SentenceTransformer.encode("") gives [CLS] [SEP] too); the caller may drop it (--skip-blank).
        set_record(r, rec, kind, line, "", 0, "");
        rec->blank = true;
        ep_field_paths plain = r->paths;
        plain.clean = 0; /* a blank line stays the empty text: --clean has nothing to remove from it */
        if (ep_fields_finish(NULL, NULL, NULL, 0, &plain, "", 0, "", "", &r->fields) == EP_READ_RECORD)
            rec->fields = r->fields.kept;
        return EP_OK;
    }
    const char *nul = memchr(r->in.rec, '\0', n);
    if (nul) {
        snprintf(r->reason, sizeof r->reason, "a NUL byte at byte %zu of the line; remove NUL bytes (tr -d '\\000')",
                 (size_t)(nul - r->in.rec));
        ep_reader_set_reject(r, rec, kind, line, "");
        return EP_OK;
    }
    size_t bad = ep_utf8_invalid_at(r->in.rec, n);
    if (bad < n) {
        snprintf(r->reason, sizeof r->reason,
                 "line is not valid UTF-8 at byte %zu; re-encode the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)",
                 bad);
        ep_reader_set_reject(r, rec, kind, line, "");
        return EP_OK;
    }
    r->in.rec[n] = '\0';
    if (ep_fields_finish(NULL, NULL, NULL, 0, &r->paths, r->in.rec, n, "", "", &r->fields) != EP_READ_RECORD) {
        snprintf(r->reason, sizeof r->reason, "%s", r->fields.reason);
        ep_reader_set_reject(r, rec, kind, line, "");
        return EP_OK;
    }
    set_record(r, rec, kind, line, r->fields.text, r->fields.text_len, "");
    rec->fields = r->fields.kept;
    rec->skipped = r->fields.skipped;
    return EP_OK;
}

// ----------------------------------------------------------------------------
// Public interface

ep_status ep_reader_next(ep_reader *r, ep_record *rec, ep_read_kind *kind, ep_error *err) {
    memset(rec, 0, sizeof *rec);
    rec->id = "";
    *kind = EP_READ_END;
    if (r->state == ST_FAILED) {
        if (err) *err = r->fatal;
        return r->fatal.code;
    }
    if (r->page_item && page_next(r, rec, kind)) return EP_OK;
    r->good_byte = r->in.consumed;
    r->good_line = r->in.line;
    for (;;) {
        cJSON_Delete(r->doc);
        r->doc = NULL;
        r->page_item = NULL;
        bool produced = false;
        ep_read_kind k = EP_READ_RECORD;
        ep_status st;
        switch (r->format) {
        case EP_FORMAT_NDJSON: st = next_ndjson(r, rec, &k, &produced, err); break;
        case EP_FORMAT_LINES: st = next_line(r, rec, &k, &produced, err); break;
        default: st = ep_reader_next_framed(r, rec, &k, &produced, err); break;
        }
        if (st != EP_OK) return st;
        if (produced) {
            *kind = k;
            return EP_OK;
        }
        if (k == EP_READ_END) break;
    }
    if (r->emitted == 0) {
        // One rejection, so that a run over many files says which one gave nothing.
        if (r->in.consumed == 0)
            snprintf(r->reason, sizeof r->reason, "empty file: no records");
        else if (r->format == EP_FORMAT_NDJSON)
            snprintf(r->reason, sizeof r->reason, "no records: the file holds only blank lines");
        else if (r->format == EP_FORMAT_TWEETS_JS)
            snprintf(r->reason, sizeof r->reason, "no records: the tweets.js array is empty");
        else
            snprintf(r->reason, sizeof r->reason, "no records: the archive's %s", r->n_archive_keys > 1 ? "arrays are empty" : "array is empty");
        ep_reader_set_reject(r, rec, kind, 0, "");
    }
    return EP_OK;
}

static ep_status set_archive_keys(ep_reader *r, const char *keys, ep_error *err) {
    r->archive_keys_buf = strdup(keys && *keys ? keys : "tweets,community-tweet");
    if (!r->archive_keys_buf) return ep_error_set(err, EP_ERR_NOMEM, "out of memory");
    char *save = NULL;
    for (char *k = strtok_r(r->archive_keys_buf, ",", &save); k; k = strtok_r(NULL, ",", &save)) {
        while (*k == ' ') k++;
        if (!*k) continue;
        if (r->n_archive_keys == MAX_ARCHIVE_KEYS)
            return ep_error_set(err, EP_ERR_USAGE, "more than %d archive keys given", MAX_ARCHIVE_KEYS);
        r->archive_keys[r->n_archive_keys++] = k;
    }
    if (r->n_archive_keys == 0) return ep_error_set(err, EP_ERR_USAGE, "no archive keys given");
    return EP_OK;
}

static void set_paths(ep_reader *r) {
    bool export_paths = r->format == EP_FORMAT_TWEETS_JS || r->format == EP_FORMAT_ARCHIVE_JSON;
    ep_field_paths *p = &r->paths;
    if (r->text_path) {
        r->given_text[0] = r->text_path;
        p->text = r->given_text;
        p->n_text = 1;
        p->text_given = true;
    } else {
        p->text = export_paths ? EXPORT_TEXT : NDJSON_TEXT;
        p->n_text = export_paths ? COUNT(EXPORT_TEXT) : COUNT(NDJSON_TEXT);
    }
    if (r->id_path) {
        r->given_id[0] = r->id_path;
        p->id = r->given_id;
        p->n_id = 1;
        p->id_given = true;
    } else {
        p->id = export_paths ? EXPORT_ID : NDJSON_ID;
        p->n_id = export_paths ? COUNT(EXPORT_ID) : COUNT(NDJSON_ID);
    }
}

/* Takes ownership of src. */
static ep_status reader_start(ep_byte_source *src, const char *name, const ep_reader_options *options,
                              ep_reader **out, ep_error *err) {
    ep_reader_options defaults = {0};
    if (!options) options = &defaults;
    ep_reader *r = calloc(1, sizeof *r);
    if (!r) {
        ep_byte_source_free(src);
        return ep_error_set(err, EP_ERR_NOMEM, "out of memory opening %s", name);
    }
    r->path = strdup(name);
    if (options->text_path && *options->text_path) r->text_path = strdup(options->text_path);
    if (options->id_path && *options->id_path) r->id_path = strdup(options->id_path);
    size_t max_record = options->max_record_bytes ? options->max_record_bytes : DEFAULT_MAX_RECORD;
    ep_status st = ep_input_init(&r->in, src, r->path ? r->path : name, max_record, err);
    if (st == EP_OK && (!r->path || (options->text_path && *options->text_path && !r->text_path) ||
                        (options->id_path && *options->id_path && !r->id_path)))
        st = ep_error_set(err, EP_ERR_NOMEM, "out of memory opening %s", name);
    if (st == EP_OK) st = set_archive_keys(r, options->archive_keys, err);
    // Detection (and the byte order mark) needs the first window's worth of bytes.
    while (st == EP_OK && r->in.end < EP_INPUT_WINDOW && !r->in.eof) {
        st = ep_input_fill(&r->in, err);
        // Damage inside the first window: detect from the good bytes before it. The byte source repeats its
        // error when reading reaches the damage, after the records before it.
        if (st == EP_ERR_FORMAT) {
            st = EP_OK;
            break;
        }
    }
    if (st != EP_OK) {
        ep_reader_free(r);
        return st;
    }
    const char *utf16 = ep_detect_utf16(r->in.win, r->in.end);
    if (utf16) {
        st = ep_error_set(err, EP_ERR_FORMAT,
                          "%s is %s text (%s); embedpipe reads UTF-8: convert it first, e.g. "
                          "`iconv -f UTF-16 -t UTF-8 %s > converted.txt`",
                          name, utf16,
                          r->in.win[0] == 0xFF || r->in.win[0] == 0xFE ? "it starts with a UTF-16 byte order mark"
                                                                        : "a NUL byte beside every character",
                          name);
        ep_reader_free(r);
        return st;
    }
    if (r->in.end >= 3 && memcmp(r->in.win, "\xEF\xBB\xBF", 3) == 0) {
        r->in.pos = 3;
        r->in.consumed = 3;
    }
    r->format = options->format != EP_FORMAT_AUTO
                    ? options->format
                    : ep_detect_format(r->in.win + r->in.pos, r->in.end - r->in.pos, r->in.eof, name, r->archive_keys,
                                       r->n_archive_keys);
    int like, total;
    if (options->format == EP_FORMAT_AUTO && r->format == EP_FORMAT_LINES &&
        ep_detect_json_like_lines(r->in.win + r->in.pos, r->in.end - r->in.pos, &like, &total))
        snprintf(r->warning, sizeof r->warning,
                 "%s is read as plain text (one record per line), but %d of its first %d lines look like pieces "
                 "of JSON; if it is JSON, pass --format ndjson (one object per line), tweets-js or archive-json",
                 name, like, total);
    set_paths(r);
    if (st == EP_OK) st = ep_keep_parse(options->keep, &r->keep, err);
    if (st != EP_OK) {
        ep_reader_free(r);
        return st;
    }
    r->paths.keep = &r->keep;
    r->paths.clean = options->clean;
    r->paths.account = r->account;
    // The bound the output's checked reader puts on an ids line allows each kept value what an escaped record takes.
    r->paths.max_value = max_record * 6;
    if (r->keep.defaults && r->format == EP_FORMAT_TWEETS_JS) ep_keep_export_account(name, r->account, sizeof r->account);
    r->state = ST_START;
    r->good_byte = r->in.consumed;
    r->good_line = 1;
    *out = r;
    return EP_OK;
}

ep_status ep_reader_open(const char *path, const ep_reader_options *options, ep_reader **out, ep_error *err) {
    *out = NULL;
    if (options && (int)options->format > (int)EP_FORMAT_LINES)
        return ep_error_set(err, EP_ERR_USAGE, "invalid input format %d", (int)options->format);
    ep_byte_source *src = NULL;
    ep_status st = ep_byte_source_open(path, &src, err);
    if (st != EP_OK) return st;
    return reader_start(src, path, options, out, err);
}

ep_status ep_reader_open_memory(const void *data, size_t len, const char *name, const ep_reader_options *options,
                                ep_reader **out, ep_error *err) {
    *out = NULL;
    if (!name) name = "(memory)";
    if (options && (int)options->format > (int)EP_FORMAT_LINES)
        return ep_error_set(err, EP_ERR_USAGE, "invalid input format %d", (int)options->format);
    ep_byte_source *src = NULL;
    ep_status st = ep_byte_source_open_memory(data, len, name, &src, err);
    if (st != EP_OK) return st;
    return reader_start(src, name, options, out, err);
}

ep_input_format ep_reader_format(const ep_reader *r) { return r->format; }

const char *ep_reader_path(const ep_reader *r) { return r->path; }

const char *ep_reader_warning(const ep_reader *r) { return r->warning[0] ? r->warning : NULL; }

void ep_reader_position(const ep_reader *r, uint64_t *byte, uint64_t *line) {
    if (byte) *byte = r->good_byte;
    if (line) *line = r->good_line;
}

uint64_t ep_reader_bytes_read(const ep_reader *r) { return r->in.src ? ep_byte_source_bytes_in(r->in.src) : 0; }

void ep_reader_free(ep_reader *r) {
    if (!r) return;
    ep_input_release(&r->in);
    cJSON_Delete(r->doc);
    ep_fields_release(&r->fields);
    ep_keep_release(&r->keep);
    free(r->path);
    free(r->text_path);
    free(r->id_path);
    free(r->archive_keys_buf);
    free(r);
}
