/*
 * reader.c - streams records out of NDJSON, tweets.js, archive.json and plain
 * text files (see reader.h for the formats and their rules).
 *
 * Layers: a byte source (io/input/byte_source.h: file, stdin, memory; zstd / gzip)
 * feeds a 64 KiB window (io/input/reader_input.h) that cuts lines, or array
 * elements with the framer (io/input/json_frame.h): that is ep_reader_next_frame,
 * cheap. Each record's bytes, never more than max_record_bytes of them, then go
 * to the extractor (record_extract.c: cJSON, and io/input/reader_fields.h takes
 * out the text and id), which callers may run in other threads; ep_reader_next
 * is the two in a row. Format detection lives in reader_detect.c, the tweets.js /
 * archive.json state machine in reader_array.c, parsing one JSON record in
 * reader_record.c. This file holds the reader (reader_internal.h) and the
 * framing of NDJSON and plain lines.
 */
#include "reader.h"
#include "setting_names.h"

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

void ep_reader_set_frame(ep_reader *r, ep_frame *frame, ep_frame_kind *kind, uint64_t line, bool truncated) {
    memset(frame, 0, sizeof *frame);
    frame->format = r->format;
    frame->line = line;
    frame->account = r->account;
    if (r->in.rec_too_big) {
        snprintf(r->reason, sizeof r->reason,
                 "record is %llu bytes, more than %s %zu; raise %s to read it", (unsigned long long)r->in.rec_total,
                 ep_setting_name(EP_SETTING_MAX_RECORD_BYTES), r->in.max_record,
                 ep_setting_name(EP_SETTING_MAX_RECORD_BYTES));
        frame->reason = r->reason;
        *kind = EP_FRAME_REJECTED;
        return;
    }
    frame->bytes = r->in.rec;
    frame->len = r->in.rec_len;
    frame->truncated = truncated;
    *kind = EP_FRAME_RECORD;
}

// ----------------------------------------------------------------------------
// NDJSON and plain lines

/* The next line of either line format into r->in.rec as a frame (NDJSON: blank lines skipped, as
 * they are no record), or the end. @return EP_OK, or a read error. */
static ep_status frame_line(ep_reader *r, ep_frame *frame, ep_frame_kind *kind, bool *produced, ep_error *err) {
    uint64_t line = r->in.line;
    bool got, newline;
    ep_status st = ep_input_read_line(&r->in, &got, &newline, err);
    if (st != EP_OK) return st;
    if (!got) {
        *kind = EP_FRAME_END;
        return EP_OK;
    }
    if (r->format == EP_FORMAT_NDJSON && !r->in.rec_too_big) {
        size_t n = r->in.rec_len, lead = 0;
        while (n > 0 && ep_json_is_space((unsigned char)r->in.rec[n - 1])) n--;
        while (lead < n && ep_json_is_space((unsigned char)r->in.rec[lead])) lead++;
        if (lead == n) return EP_OK;
    }
    *produced = true;
    ep_reader_set_frame(r, frame, kind, line, !newline);
    return EP_OK;
}

/* The next frame, past blank NDJSON lines and the array state machine's steps that
 * produce none. */
static ep_status next_frame(ep_reader *r, ep_frame *frame, ep_frame_kind *kind, ep_error *err) {
    for (;;) {
        bool produced = false;
        ep_frame_kind k = EP_FRAME_RECORD;
        ep_status st = r->format == EP_FORMAT_NDJSON || r->format == EP_FORMAT_LINES
                           ? frame_line(r, frame, &k, &produced, err)
                           : ep_reader_next_framed(r, frame, &k, &produced, err);
        if (st != EP_OK) return st;
        if (produced || k == EP_FRAME_END) {
            *kind = produced ? k : EP_FRAME_END;
            return EP_OK;
        }
    }
}

// ----------------------------------------------------------------------------
// Public interface

ep_status ep_reader_next_frame(ep_reader *r, ep_frame *frame, ep_frame_kind *kind, ep_error *err) {
    memset(frame, 0, sizeof *frame);
    *kind = EP_FRAME_END;
    if (r->state == ST_FAILED) {
        if (err) *err = r->fatal;
        return r->fatal.code;
    }
    r->good_byte = r->in.consumed;
    r->good_line = r->in.line;
    return next_frame(r, frame, kind, err);
}

const char *ep_reader_no_records_reason(ep_reader *r) {
    if (r->in.consumed == 0)
        snprintf(r->reason, sizeof r->reason, "empty file: no records");
    else if (r->format == EP_FORMAT_NDJSON)
        snprintf(r->reason, sizeof r->reason, "no records: the file holds only blank lines");
    else if (r->format == EP_FORMAT_TWEETS_JS)
        snprintf(r->reason, sizeof r->reason, "no records: the tweets.js array is empty");
    else
        snprintf(r->reason, sizeof r->reason, "no records: the archive's %s",
                 r->n_archive_keys > 1 ? "arrays are empty" : "array is empty");
    return r->reason;
}

ep_status ep_reader_next(ep_reader *r, ep_record *rec, ep_read_kind *kind, ep_error *err) {
    memset(rec, 0, sizeof *rec);
    rec->id = "";
    *kind = EP_READ_END;
    if (r->state == ST_FAILED) {
        if (err) *err = r->fatal;
        return r->fatal.code;
    }
    // The rest of an API page first; damage found next begins after the page's line.
    if (ep_extractor_next(r->x, rec, kind)) {
        r->emitted++;
        return EP_OK;
    }
    r->good_byte = r->in.consumed;
    r->good_line = r->in.line;
    for (;;) {
        ep_frame frame;
        ep_frame_kind fk;
        ep_status st = next_frame(r, &frame, &fk, err);
        if (st != EP_OK) return st;
        if (fk == EP_FRAME_END) break;
        ep_extractor_begin(r->x, &frame);
        if (ep_extractor_next(r->x, rec, kind)) { /* an empty API page yields nothing: on to the next line */
            r->emitted++;
            return EP_OK;
        }
    }
    memset(rec, 0, sizeof *rec);
    rec->id = "";
    *kind = EP_READ_END;
    if (r->emitted == 0) {
        // One rejection, so that a run over many files says which one gave nothing.
        rec->reason = ep_reader_no_records_reason(r);
        *kind = EP_READ_REJECTED;
        r->emitted++;
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
    size_t max_record = options->max_record_bytes ? options->max_record_bytes : DEFAULT_MAX_RECORD;
    ep_status st = ep_input_init(&r->in, src, r->path ? r->path : name, max_record, err);
    if (st == EP_OK && !r->path) st = ep_error_set(err, EP_ERR_NOMEM, "out of memory opening %s", name);
    if (st == EP_OK) st = ep_extractor_create(options, &r->x, err);
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
                 "of JSON; if it is JSON, pass %s ndjson (one object per line), tweets-js or archive-json",
                 name, like, total, ep_setting_name(EP_SETTING_FORMAT));
    // --keep's "default" author of a tweets.js is the account.js beside it (an archive.json's comes from its
    // "account" array, as the framer passes it); frames carry it to the extractor.
    st = ep_keep_parse(options->keep, &r->keep, err);
    if (st != EP_OK) {
        ep_reader_free(r);
        return st;
    }
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
    ep_extractor_free(r->x);
    ep_keep_release(&r->keep);
    free(r->path);
    free(r->archive_keys_buf);
    free(r);
}
