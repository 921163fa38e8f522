/*
 * fuzz_reader.c - libFuzzer target: any bytes as an input file, read in every
 * format (auto, ndjson, tweets-js, archive-json, lines) and with a tiny record
 * limit. Whatever the bytes, the reader must return records whose text is
 * non-empty valid UTF-8 without NUL bytes, ids and reasons that are valid
 * UTF-8, line numbers that never go back nor past the input's last line, a
 * bounded number of results, and errors only as EP_ERR_FORMAT with a message.
 * The same bytes zstd- and gzip-compressed must read exactly the same, and every frame must
 * extract to the same records with the extractor's fast path (json_scan.h) on and off, kept fields
 * (--keep, keep_scan.h) included.
 *
 * With libFuzzer (clang):
 *   clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Iio -Itests \
 *     tests/io/input/fuzz_reader.c io/input/[a-z]*.c common/error.c \
 *     -lcjson -lutf8proc -lzstd -lz -o fuzz_reader
 *   ./fuzz_reader -max_len=4096 -max_total_time=60
 * In ctest, tests/fuzz_replay_main.c replays seeded mutations deterministically.
 */
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#include <zlib.h>
#include <zstd.h>

#include "fuzz_replay.h"
#include "reader.h"
#include "record_extract.h"

#define REQUIRE(c)                  \
    do {                            \
        if (!(c)) __builtin_trap(); \
    } while (0)

const ep_fuzz_seed ep_fuzz_seeds[] = {
    EP_FUZZ_SEED("{\"id\": 1377650090978992134, \"text\": \"caf\\u00e9 \\ud83d\\ude00\"}\n"
                 "\n{\"id_str\": \"2\", \"full_text\": \"two\"}\r\n{\"text\": null}\n{\"text\": \"a\\u0000b\"}\n"
                 "{\"tweet\": {\"id\": \"3\", \"full_text\": \"x\"}}\n{\"text\": \"trunc"),
    EP_FUZZ_SEED("{\"data\": [{\"id\": \"1\", \"text\": \"one\"}, 5, {\"id\": 22, \"text\": \"two\"}], \"includes\": {}}\n"
                 "{\"data\": {\"id\": \"9\", \"text\": \"streamed\"}}\n{\"errors\": [{\"detail\": \"gone\"}]}\n"),
    EP_FUZZ_SEED("window.YTD.tweets.part0 = [\n  {\n    \"tweet\" : {\n      \"id_str\" : \"2029905358261502168\",\n"
                 "      \"full_text\" : \"@a {b} [c] \\\"d\\\" &amp; \xF0\x9F\x9A\xB2\",\n      \"lang\" : \"en\"\n"
                 "    }\n  },\n  {\n    \"tweet\" : { \"id\" : \"5\", \"text\" : \"second\" }\n  }\n]"),
    EP_FUZZ_SEED("{\n  \"account\": [{\"account\": {\"username\": \"x\"}}],\n  \"like\": [{\"like\": {\"fullText\": "
                 "\"l\"}}],\n  \"tweets\": [\n    {\"tweet\": {\"id_str\": \"1\", \"full_text\": \"one\"}},\n"
                 "    {\"tweet\": {\"id_str\": \"2\", \"full_text\": 2}}\n  ],\n  \"community-tweet\": [],\n"
                 "  \"note-tweet\": []\n}\n"),
    EP_FUZZ_SEED("{\"account\":[],\"tweets\":[{\"tweet\":{\"id_str\":\"1\",\"full_text\":\"a\"}}]}"),
    EP_FUZZ_SEED("plain line\r\n\n  \nzweite Zeile \xC3\xA4\xC3\xB6\xC3\xBC\nbad \xC3\x28\nlast"),
    EP_FUZZ_SEED("[{\"text\": \"bare\"}, {\"text\": \"array\"}]"),
    // Issue 8: other tweets.js prefixes, \u0000 and surrogates in texts, duplicate keys.
    EP_FUZZ_SEED("var tweets = [{\"tweet\": {\"id_str\": \"1\", \"full_text\": \"a\\u0000\\ud83d\\ude00b\"}},\n"
                 "{\"tweet\": {\"full_text\": \"x\", \"full_text\": \"y\"}}, {\"tweet\": {\"text\": \"\\udc00\"}}]"),
    EP_FUZZ_SEED("YTD.tweet.part1 =\n[ {\"tweet\": {\"id\": 7, \"full_text\": \"\\u0000\"}} ]\n"),
    {NULL, 0},
};

static bool valid_utf8(const char *s, size_t n) {
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    size_t i = 0;
    while (i < n) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(p + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0) return false;
        i += (size_t)k;
    }
    return true;
}

/* One result, kept to compare a plain read with a compressed one. */
typedef struct result {
    ep_read_kind kind;
    uint64_t line;
    uint64_t hash;   /* over text, id and reason */
} result;

static uint64_t fnv(uint64_t h, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001B3ull;
    return h * 0x100000001B3ull;
}

/* Reads everything; checks the promises. @return the number of results (into out, up to cap). */
static size_t read_all(const uint8_t *data, size_t size, uint64_t max_lines, size_t max_results,
                       const ep_reader_options *o, result *out, size_t cap, ep_status *final) {
    ep_reader *r = NULL;
    ep_error err = {0};
    ep_status st = ep_reader_open_memory(data, size, "fuzz-input", o, &r, &err);
    *final = st;
    if (st != EP_OK) {
        // Only corrupt compressed data, or UTF-16 text, can fail this early.
        REQUIRE(r == NULL && st == EP_ERR_FORMAT && err.message[0]);
        return 0;
    }
    REQUIRE(ep_reader_format(r) != EP_FORMAT_AUTO);
    uint64_t last = 0, last_byte = 0;
    size_t n = 0;
    for (;;) {
        ep_record rec;
        ep_read_kind kind;
        st = ep_reader_next(r, &rec, &kind, &err);
        uint64_t at_byte, at_line;
        ep_reader_position(r, &at_byte, &at_line);
        REQUIRE(at_line >= 1 && at_line <= max_lines && at_byte >= last_byte);
        last_byte = at_byte;
        if (st != EP_OK) {
            REQUIRE(st == EP_ERR_FORMAT && err.code == st && err.message[0]);
            REQUIRE(valid_utf8(err.message, strlen(err.message)));
            // The error sticks.
            REQUIRE(ep_reader_next(r, &rec, &kind, &err) == st);
            break;
        }
        if (kind == EP_READ_END) break;
        REQUIRE(kind == EP_READ_RECORD || kind == EP_READ_REJECTED);
        REQUIRE(n < max_results);
        REQUIRE(rec.id && valid_utf8(rec.id, strlen(rec.id)));
        uint64_t h = fnv(0xCBF29CE484222325ull, rec.id, strlen(rec.id));
        if (kind == EP_READ_RECORD) {
            // Only a blank line of plain text is the empty text.
            REQUIRE(rec.text && (rec.text_len > 0 || rec.blank) && rec.text[rec.text_len] == '\0');
            REQUIRE(!rec.blank || (ep_reader_format(r) == EP_FORMAT_LINES && rec.text_len == 0));
            REQUIRE(strlen(rec.text) == rec.text_len);
            REQUIRE(valid_utf8(rec.text, rec.text_len));
            REQUIRE(rec.line >= 1);
            h = fnv(h, rec.text, rec.text_len);
            // Kept fields: one JSON object of valid UTF-8 without raw control bytes (an ids line holds them as is).
            REQUIRE(!o->keep == !rec.fields);
            if (rec.fields) {
                size_t fl = strlen(rec.fields);
                REQUIRE(fl >= 2 && rec.fields[0] == '{' && rec.fields[fl - 1] == '}' && valid_utf8(rec.fields, fl));
                for (size_t i = 0; i < fl; i++) REQUIRE((unsigned char)rec.fields[i] >= 0x20);
                cJSON *doc = cJSON_Parse(rec.fields);
                REQUIRE(cJSON_IsObject(doc));
                cJSON_Delete(doc);
                h = fnv(h, rec.fields, fl);
            }
        } else {
            REQUIRE(rec.reason && rec.reason[0] && valid_utf8(rec.reason, strlen(rec.reason)));
            h = fnv(h, rec.reason, strlen(rec.reason));
        }
        // Line 0 is only the lone "no records" rejection.
        if (rec.line == 0) REQUIRE(n == 0 && kind == EP_READ_REJECTED);
        REQUIRE(rec.line >= last && rec.line <= max_lines);
        last = rec.line;
        if (n < cap) out[n] = (result){kind, rec.line, h};
        n++;
    }
    *final = st;
    ep_reader_free(r);
    return n;
}

/* Everything frame f yields through x, as one hash. */
static uint64_t frame_hash(ep_extractor *x, const ep_frame *f) {
    ep_frame copy = *f; /* the extractor may write into the bytes (a line's '\r'): each path gets its own */
    copy.bytes = NULL;
    if (f->bytes) {
        copy.bytes = malloc(f->len + 1);
        REQUIRE(copy.bytes);
        memcpy(copy.bytes, f->bytes, f->len + 1);
    }
    ep_extractor_begin(x, &copy);
    uint64_t h = 0xCBF29CE484222325ull;
    ep_record rec;
    ep_read_kind kind;
    while (ep_extractor_next(x, &rec, &kind)) {
        char head[64];
        int n = snprintf(head, sizeof head, "%d %llu %zu %d %d", (int)kind, (unsigned long long)rec.line,
                         rec.text_len, rec.skipped, rec.blank);
        h = fnv(h, head, (size_t)n);
        if (rec.text) h = fnv(h, rec.text, rec.text_len);
        h = fnv(h, rec.id, strlen(rec.id));
        if (rec.reason) h = fnv(h, rec.reason, strlen(rec.reason));
        if (rec.fields) h = fnv(h, rec.fields, strlen(rec.fields));
    }
    free(copy.bytes);
    return h;
}

/* Every frame extracted twice, by the fast path and by cJSON alone: the same records. */
static void both_paths(const uint8_t *data, size_t size, const ep_reader_options *o, size_t max_frames) {
    ep_reader *r = NULL;
    ep_extractor *fast = NULL, *slow = NULL;
    ep_error err = {0};
    if (ep_reader_open_memory(data, size, "fuzz-input", o, &r, &err) != EP_OK) return;
    REQUIRE(ep_extractor_create(o, &fast, &err) == EP_OK && ep_extractor_create(o, &slow, &err) == EP_OK);
    ep_extractor_set_fast(slow, false);
    for (size_t i = 0; i < max_frames; i++) {
        ep_frame f;
        ep_frame_kind k;
        if (ep_reader_next_frame(r, &f, &k, &err) != EP_OK || k == EP_FRAME_END) break;
        REQUIRE(frame_hash(fast, &f) == frame_hash(slow, &f));
    }
    REQUIRE(ep_extractor_fast_records(slow) == 0);
    ep_extractor_free(fast);
    ep_extractor_free(slow);
    ep_reader_free(r);
}

static uint8_t *gzip(const uint8_t *data, size_t size, size_t *out_len) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return NULL;
    size_t cap = deflateBound(&z, (uLong)size) + 64;
    uint8_t *out = malloc(cap);
    if (out) {
        z.next_in = (uint8_t *)data;
        z.avail_in = (uInt)size;
        z.next_out = out;
        z.avail_out = (uInt)cap;
        if (deflate(&z, Z_FINISH) == Z_STREAM_END) {
            *out_len = cap - z.avail_out;
        } else {
            free(out);
            out = NULL;
        }
    }
    deflateEnd(&z);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    // A private copy, so that reading past the input is a sanitizer error.
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    if (size) memcpy(copy, data, size);
    uint64_t max_lines = 1;
    for (size_t i = 0; i < size; i++) max_lines += copy[i] == '\n';
    // Compressed input is decompressed by the reader, so its lines are not countable here.
    bool magic = size >= 2 && ((copy[0] == 0x28 && size >= 4 && copy[1] == 0xB5) || (copy[0] == 0x1F && copy[1] == 0x8B));
    size_t max_results = size + 2;
    if (magic) {
        max_lines = UINT64_MAX;
        max_results = SIZE_MAX;
    }

    size_t zcap = ZSTD_compressBound(size), zn = 0, gn = 0;
    uint8_t *z = malloc(zcap);
    if (z) {
        zn = ZSTD_compress(z, zcap, copy, size, 1);
        if (ZSTD_isError(zn)) zn = 0;
    }
    uint8_t *gz = gzip(copy, size, &gn);

    static const ep_input_format formats[] = {EP_FORMAT_AUTO, EP_FORMAT_NDJSON, EP_FORMAT_TWEETS_JS,
                                              EP_FORMAT_ARCHIVE_JSON, EP_FORMAT_LINES};
    enum { CAP = 256 };
    static result plain[CAP], packed[CAP];
    for (size_t f = 0; f < sizeof formats / sizeof *formats; f++) {
        for (int variant = 0; variant < 2; variant++) {
            ep_reader_options o = {.format = formats[f]};
            if (variant == 1) {
                o.max_record_bytes = 48;
                o.text_path = "tweet.full_text";
                o.id_path = "id";
                o.archive_keys = "like,tweets";
                o.keep = "default,tweet,user.0.name,text.x"; /* every value kind, a value over max_value */
                o.clean = EP_CLEAN_ALL;
            }
            ep_status st_plain, st_packed;
            size_t n = read_all(copy, size, max_lines, max_results, &o, plain, CAP, &st_plain);
            if (magic) continue;
            if (variant == 0) {
                both_paths(copy, size, &o, max_results);
                ep_reader_options given = {.format = formats[f], .text_path = "text", .id_path = "id",
                                           .clean = EP_CLEAN_ALL};
                both_paths(copy, size, &given, max_results);
                ep_reader_options kept = {.format = formats[f], .keep = "default,x,user,entities.hashtags,id_str"};
                both_paths(copy, size, &kept, max_results); /* the kept fields by the fast path (keep_scan.h) */
            } else {
                both_paths(copy, size, &o, max_results);
                continue;
            }
            // Compression must be invisible: the same results in the same order.
            for (int which = 0; which < 2; which++) {
                const uint8_t *c = which ? gz : z;
                size_t cn = which ? gn : zn;
                if (!c || !cn) continue;
                size_t m = read_all(c, cn, max_lines, max_results, &o, packed, CAP, &st_packed);
                REQUIRE(m == n && st_packed == st_plain);
                for (size_t i = 0; i < n && i < CAP; i++)
                    REQUIRE(plain[i].kind == packed[i].kind && plain[i].line == packed[i].line &&
                            plain[i].hash == packed[i].hash);
            }
        }
    }
    free(z);
    free(gz);
    free(copy);
    return 0;
}
