/*
 * reader_array.c - tweets.js and archive.json: one top-level array (after the
 * `window.YTD.<name>.part<N> = ` prefix) or an object of arrays, cut into
 * elements by the framer (json_frame.h) without holding the file in memory;
 * each element is a frame for the extractor (record_extract.c). reader.c owns
 * the reader and the other formats (reader_internal.h).
 */
#include "reader_internal.h"
#include "setting_names.h"

#include "json_frame.h"
#include "reader_detect.h"

#include <stdio.h>
#include <string.h>


static bool archive_key_selected(const ep_reader *r, const char *key) {
    for (size_t i = 0; i < r->n_archive_keys; i++)
        if (strcmp(r->archive_keys[i], key) == 0) return true;
    return false;
}

static ep_status start_tweets_js(ep_reader *r, ep_error *err) {
    int c;
    ep_status st = ep_input_skip_space(&r->in, &c, err);
    if (st != EP_OK) return st;
    if (c >= 0 && c != '[') {
        // `window.YTD.tweets.part0 = [`, or any other `name.path = [` (YTD.tweet.part1, var tweets): the
        // prefix is short; make sure the window holds it whole.
        while (r->in.end - r->in.pos < 512 && !r->in.eof)
            if ((st = ep_input_fill(&r->in, err)) != EP_OK) return st;
        const unsigned char *p = r->in.win + r->in.pos;
        size_t n = r->in.end - r->in.pos < 512 ? r->in.end - r->in.pos : 512;
        const unsigned char *nl = memchr(p, '\n', n);
        size_t at = ep_detect_js_prefix(p, n);
        if (at == 0) {
            char first[64];
            ep_snippet(first, sizeof first, (const char *)p, nl ? (size_t)(nl - p) : n, 40);
            return ep_reader_fail(r, err, r->in.line,
                        "expected '[' opening the array of tweets, after 'window.YTD.<name>.part<N> = ' or another "
                        "'name = ', found '%s': this is not a Twitter export tweets.js - pass %s to read it as "
                        "another format",
                        first, ep_setting_name(EP_SETTING_FORMAT));
        }
        ep_input_consume(&r->in, at);
        c = '[';
    }
    if (c != '[')
        return ep_reader_fail(r, err, r->in.line,
                    "expected '[' opening the array of tweets%s; this is not a Twitter export tweets.js - pass "
                    "%s to read it as another format",
                    c < 0 ? " but the file ends" : "", ep_setting_name(EP_SETTING_FORMAT));
    r->open_line = r->in.line;
    ep_input_consume(&r->in, 1);
    r->state = ST_ARRAY_FIRST;
    return EP_OK;
}

static ep_status start_archive(ep_reader *r, ep_error *err) {
    int c;
    ep_status st = ep_input_skip_space(&r->in, &c, err);
    if (st != EP_OK) return st;
    if (c != '{')
        return ep_reader_fail(r, err, r->in.line,
                    "expected '{' opening an archive.json object%s; pass %s to read it as another format",
                    c < 0 ? " but the file ends" : "", ep_setting_name(EP_SETTING_FORMAT));
    r->open_line = r->in.line;
    ep_input_consume(&r->in, 1);
    r->state = ST_OBJECT_FIRST;
    return EP_OK;
}

/* One element of an array: frame it (the extractor parses it). */
static ep_status array_element(ep_reader *r, ep_frame *frame, ep_frame_kind *kind, bool *produced, ep_error *err) {
    uint64_t line = r->in.line;
    bool complete;
    ep_status st = ep_input_read_value(&r->in, true, &complete, err);
    if (st != EP_OK) return st;
    if (!complete)
        return ep_reader_fail(r, err, line,
                    "the file ends inside the element that starts here (the array opened at line %llu is never "
                    "closed): the file is truncated; copy or download it again",
                    (unsigned long long)r->open_line);
    r->state = ST_ARRAY_NEXT;
    *produced = true;
    ep_reader_set_frame(r, frame, kind, line, false);
    return EP_OK;
}

static ep_status step_array(ep_reader *r, ep_frame *frame, ep_frame_kind *kind, bool *produced, ep_error *err) {
    int c;
    ep_status st = ep_input_skip_space(&r->in, &c, err);
    if (st != EP_OK) return st;
    if (c >= 0 && r->state == ST_ARRAY_NEXT && c == ',') {
        ep_input_consume(&r->in, 1);
        if ((st = ep_input_skip_space(&r->in, &c, err)) != EP_OK) return st;
    }
    if (c < 0)
        return ep_reader_fail(r, err, r->in.line,
                    "the file ends before the array opened at line %llu is closed with ']': the file is truncated; "
                    "copy or download it again",
                    (unsigned long long)r->open_line);
    if (c == ']') {
        ep_input_consume(&r->in, 1);
        r->state = r->format == EP_FORMAT_TWEETS_JS ? ST_TRAILER : ST_OBJECT_NEXT;
        return EP_OK;
    }
    // A missing comma between elements is forgiven: the framer finds the element all the same.
    return array_element(r, frame, kind, produced, err);
}

/* archive.json: the next top-level key; its array is entered or its value skipped. */
static ep_status step_object(ep_reader *r, ep_error *err) {
    int c;
    ep_status st = ep_input_skip_space(&r->in, &c, err);
    if (st != EP_OK) return st;
    if (c < 0)
        return ep_reader_fail(r, err, r->in.line,
                    "the file ends before the object opened at line %llu is closed with '}': the file is truncated; "
                    "copy or download it again",
                    (unsigned long long)r->open_line);
    if (c == '}') {
        ep_input_consume(&r->in, 1);
        r->state = ST_TRAILER;
        return EP_OK;
    }
    if (r->state == ST_OBJECT_NEXT) {
        if (c != ',') {
            char found[16];
            if (c >= 0x20 && c < 0x7F)
                snprintf(found, sizeof found, "'%c'", c);
            else
                snprintf(found, sizeof found, "byte 0x%02X", c);
            return ep_reader_fail(r, err, r->in.line, "expected ',' or '}' after a top-level value, found %s", found);
        }
        ep_input_consume(&r->in, 1);
        if ((st = ep_input_skip_space(&r->in, &c, err)) != EP_OK) return st;
    }
    if (c != '"')
        return ep_reader_fail(r, err, r->in.line, "expected a quoted key in the top-level object, found %s",
                    c < 0 ? "the end of the file" : "another byte");
    uint64_t key_line = r->in.line;
    bool complete;
    if ((st = ep_input_read_value(&r->in, true, &complete, err)) != EP_OK) return st;
    cJSON *key = complete && !r->in.rec_too_big ? cJSON_ParseWithLength(r->in.rec, r->in.rec_len) : NULL;
    if (!cJSON_IsString(key)) {
        cJSON_Delete(key);
        return ep_reader_fail(r, err, key_line, "malformed top-level key; the archive.json is damaged");
    }
    bool selected = archive_key_selected(r, key->valuestring);
    // The account comes before the tweets in a Community Archive: its name is "default"'s author (--keep).
    bool account = !selected && r->keep.defaults && strcmp(key->valuestring, "account") == 0;
    cJSON_Delete(key);
    if ((st = ep_input_skip_space(&r->in, &c, err)) != EP_OK) return st;
    if (c != ':') return ep_reader_fail(r, err, r->in.line, "expected ':' after a top-level key");
    ep_input_consume(&r->in, 1);
    if ((st = ep_input_skip_space(&r->in, &c, err)) != EP_OK) return st;
    if (selected && c == '[') {
        r->open_line = r->in.line;
        r->found_array = true;
        ep_input_consume(&r->in, 1);
        r->state = ST_ARRAY_FIRST;
        return EP_OK;
    }
    uint64_t value_line = r->in.line;
    if (c < 0 || (st = ep_input_read_value(&r->in, account, &complete, err)) != EP_OK || !complete)
        return st != EP_OK ? st
                           : ep_reader_fail(r, err, value_line,
                                  "the file ends inside the top-level value that starts here: the file is truncated; "
                                  "copy or download it again");
    if (account && !r->in.rec_too_big) {
        cJSON *value = cJSON_ParseWithLength(r->in.rec, r->in.rec_len);
        ep_keep_archive_account(value, r->account, sizeof r->account);
        cJSON_Delete(value);
    }
    r->state = ST_OBJECT_NEXT;
    return EP_OK;
}

static ep_status step_trailer(ep_reader *r, ep_error *err) {
    int c;
    for (;;) {
        ep_status st = ep_input_skip_space(&r->in, &c, err);
        if (st != EP_OK) return st;
        if (c != ';') break;
        ep_input_consume(&r->in, 1);
    }
    if (c >= 0)
        return ep_reader_fail(r, err, r->in.line,
                    "unexpected bytes after the end of the %s; the file is damaged or holds two documents",
                    r->format == EP_FORMAT_TWEETS_JS ? "array" : "object");
    if (r->format == EP_FORMAT_ARCHIVE_JSON && !r->found_array) {
        char keys[256];
        size_t o = 0;
        keys[0] = '\0';
        for (size_t i = 0; i < r->n_archive_keys && o < sizeof keys; i++)
            o += (size_t)snprintf(keys + o, sizeof keys - o, "%s%s", i ? ", " : "", r->archive_keys[i]);
        return ep_reader_fail(r, err, r->in.line,
                    "no top-level array named %s: this is not a Community Archive archive.json (name other "
                    "arrays with the archive keys option; a file of JSON records must hold one per line to be "
                    "read as NDJSON, e.g. after `jq -c '.[]'`)",
                    keys);
    }
    r->state = ST_DONE;
    return EP_OK;
}

ep_status ep_reader_next_framed(ep_reader *r, ep_frame *frame, ep_frame_kind *kind, bool *produced, ep_error *err) {
    switch (r->state) {
    case ST_START:
        return r->format == EP_FORMAT_TWEETS_JS ? start_tweets_js(r, err) : start_archive(r, err);
    case ST_ARRAY_FIRST:
    case ST_ARRAY_NEXT: return step_array(r, frame, kind, produced, err);
    case ST_OBJECT_FIRST:
    case ST_OBJECT_NEXT: return step_object(r, err);
    case ST_TRAILER: return step_trailer(r, err);
    case ST_DONE: *kind = EP_FRAME_END; return EP_OK;
    case ST_FAILED: break;
    }
    if (err) *err = r->fatal;
    return r->fatal.code;
}

