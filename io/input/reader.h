/*
 * reader.h - streams text records out of an input file, never loading it whole.
 *
 * Formats: NDJSON (one JSON object per line), Twitter's export (tweets.js:
 * `window.YTD.tweets.part0 = [ {"tweet": {...}}, ... ]`), the Community
 * Archive archive.json (`{"tweets": [{"tweet": {...}}], ...}`), and plain text
 * (one record per line). A record that cannot be used is reported as a
 * rejection (file, line, reason) and reading goes on with the next one.
 *
 * Memory stays bounded by max_record_bytes plus fixed buffers: files are read
 * through a stream (zstd and gzip recognised by their magic bytes and
 * decompressed on the fly), and the big arrays of tweets.js / archive.json are
 * cut into elements by a framer (io/input/json_frame.h) before cJSON parses each.
 *
 * Per format:
 * - NDJSON: one record per line. Blank lines are skipped silently. Text from
 *   the first of text, full_text, tweet.full_text, tweet.text, content, body,
 *   data.text that holds a string; id from id_str, id, tweet.id_str, tweet.id,
 *   data.id. A Twitter API v2 page ({"data": [tweet, ...], ...} with no text
 *   of its own) yields one record per element of "data", all with the line's
 *   number; an empty "data" array yields nothing.
 * - tweets.js (any `window.YTD.<name>.partN = [`, or another JavaScript
 *   assignment `<name>(.<name>)* = [` such as `YTD.tweets.part0 = [` or
 *   `var tweets = [`, or a bare `[` when the format is given or the file
 *   starts with `[{`): one record per element,
 *   rec.line = the line of the element's first byte. Text from tweet.full_text,
 *   tweet.text, like.fullText, noteTweet.core.text, full_text, text; id from
 *   tweet.id_str, tweet.id, like.tweetId, noteTweet.noteTweetId, id_str, id.
 * - archive.json: the elements of the top-level arrays named by
 *   options->archive_keys (default "tweets,community-tweet": the account's own
 *   posts; "like" holds other people's tweets and "note-tweet" the long text
 *   of tweets already in "tweets", so neither is read unless asked), with the
 *   tweets.js paths. Every other top-level value is skipped without being
 *   stored. A minified archive.json is one line, so all its records have line 1.
 * - lines: the line without its '\n' (and a '\r' before it) is the text, the
 *   id is "" (callers number such records by rec.line). Every line is a
 *   record, so that record N is line N: a line that is empty or only
 *   whitespace is the empty text, with rec.blank set (the caller may drop it).
 * Rejections (rec.line = the record's first line; rec.id when it was found):
 * invalid JSON (with line/column and the bytes near the error; "the file is
 * probably truncated" for a last line without newline), a raw NUL byte, no
 * text at any path tried (lists them, says to pass --text), text that is
 * null / a number / a boolean / an object / an array, empty or blank text, a
 * \u0000 escape in the id (in the text it is removed, as BERT's tokenizer
 * removes control characters), a lone UTF-16 surrogate escape (\ud800
 * without its pair), nesting deeper than cJSON's limit, a key of the text or
 * id path that appears twice in one object, text or id that is not valid UTF-8 (byte
 * offset), a record over max_record_bytes (skipped without being stored; says
 * to raise --max-record-bytes), a line or element that is not an object. A
 * structural break (tweets.js without '[', an array or object never closed,
 * bytes after the end, an archive.json without the arrays asked for) ends
 * reading with EP_ERR_FORMAT after every good record before it was returned;
 * so does corrupt or truncated compressed data (ep_reader_position says how
 * far the good records went). A UTF-16 file (byte order mark FF FE / FE FF, or
 * ASCII with a NUL beside every byte) is refused by ep_reader_open with
 * EP_ERR_FORMAT, saying how to convert it.
 * A numeric id is returned as its digits exactly as in the file (never through
 * a double). A file that yields nothing at all gives one rejection with line 0
 * ("empty file: no records", or "no records: ..." when it held only blanks).
 *
 * Text is returned exactly as found unless options->clean asks otherwise (then
 * rec.text is the cleaned text; a text left empty by cleaning is a rejection).
 * options->keep adds rec.fields, one JSON object per record; Twitter exports
 * have no author per tweet, so "default"'s author comes from the account.js
 * beside a tweets.js, or archive.json's "account" array (when it comes before
 * the tweets, as the Community Archive writes it).
 *
 * Auto-detection looks at the first 64 KiB (after a UTF-8 byte order mark):
 * `window.YTD.` or another `name.path = [` = tweets.js; `{` whose first key is an archive.json key
 * (account, profile, tweets, like, ...) holding an array, or a top-level
 * "tweets" array, or an object that spans lines = archive.json; `{` whose
 * first line is a whole JSON object (or a .jsonl/.ndjson/.json name) = NDJSON;
 * `[{` = a JSON array read like tweets.js; anything else, or a .txt name = lines.
 */
#ifndef EP_READER_H
#define EP_READER_H

#include "embedpipe.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ep_input_format {
    EP_FORMAT_AUTO = 0,     /* detected from the first bytes (and the name) */
    EP_FORMAT_NDJSON,
    EP_FORMAT_TWEETS_JS,
    EP_FORMAT_ARCHIVE_JSON,
    EP_FORMAT_LINES
} ep_input_format;

/* @return "auto", "ndjson", "tweets-js", "archive-json" or "lines". */
const char *ep_input_format_name(ep_input_format format);
/* Parses a --format value. @return EP_OK, or EP_ERR_USAGE listing the valid names. */
ep_status ep_input_format_parse(const char *name, ep_input_format *out, ep_error *err);

typedef struct ep_reader_options {
    ep_input_format format;   /* EP_FORMAT_AUTO to detect */
    const char *text_path;    /* dotted JSON path of the text, NULL = the format's defaults */
    const char *id_path;      /* dotted JSON path of the id, NULL = the format's defaults */
    size_t max_record_bytes;  /* larger records are rejected (0 = 1 MiB) */
    const char *archive_keys; /* archive.json: comma-separated top-level arrays to read,
                                 NULL = "tweets,community-tweet" */
    const char *keep;         /* --keep: comma-separated dotted paths and/or "default" (see ep_keep_check);
                                 NULL = no fields */
    unsigned clean;           /* --clean: EP_CLEAN_* flags (0 = the text exactly as found) */
} ep_reader_options;

/* --clean steps, opt-in text preparation for tweets (off by default, so that the
 * vectors are sentence-transformers' on the raw text): */
enum {
    EP_CLEAN_HTML = 1,      /* unescape HTML entities: &amp; &lt; &gt; &quot; &apos; &#NN; &#xNN; */
    EP_CLEAN_LINKS = 2,     /* drop t.co links (http(s)://t.co/...) and the space before one that ends the text */
    EP_CLEAN_MENTIONS = 4,  /* drop the leading chain of @mentions of a reply ("@a @b thanks" -> "thanks") */
    EP_CLEAN_RETWEETS = 8,  /* skip records whose text starts "RT @name:" (rec.skipped) */
    EP_CLEAN_ALL = 15
};

/* Parses a --clean value: html, links, mentions, retweets or all, comma-separated.
 * @return EP_OK and *flags set, or EP_ERR_USAGE naming the unknown step. */
ep_status ep_clean_parse(const char *spec, unsigned *flags, ep_error *err);

/* Writes the canonical name of flags ("html,links,mentions,retweets" in this
 * order, "" for none) into out (cap bytes), as the manifest records it. */
void ep_clean_name(unsigned flags, char *out, size_t cap);

/* Checks a --keep value: comma-separated dotted paths (tweet.created_at,
 * user.screen_name) and/or "default" (the columns created_at, author, url,
 * lang, is_reply, is_retweet, derived for Twitter exports, archive.json, API
 * v1.1 and v2). A path is its own column name; the names id, file, line,
 * tokens, truncated, hash, text (and vector, of an export) are taken.
 * @return EP_OK, or EP_ERR_USAGE naming the bad entry. */
ep_status ep_keep_check(const char *spec, ep_error *err);

typedef enum ep_read_kind {
    EP_READ_END = 0,          /* no more records */
    EP_READ_RECORD = 1,       /* rec holds a usable record */
    EP_READ_REJECTED = 2      /* rec.line / rec.reason say what was wrong with one record */
} ep_read_kind;

/* One record. Pointers stay valid until the next ep_reader_next call. */
typedef struct ep_record {
    const char *text;         /* valid UTF-8, text_len bytes (NUL-terminated too) */
    size_t text_len;
    const char *id;           /* the id as a string; "" when the record has none */
    uint64_t line;            /* 1-based line where the record starts in its file */
    const char *reason;       /* EP_READ_REJECTED only: what was wrong and what to do */
    bool blank;               /* lines format: the line was empty or only whitespace (text is "") */
    const char *fields;       /* options->keep: the kept fields as one JSON object text
                               * ({"created_at": "...", "user.screen_name": null}; a missing field is null),
                               * NULL when nothing is kept */
    bool skipped;             /* EP_CLEAN_RETWEETS: a retweet, to be dropped (text and id are still set) */
} ep_record;

typedef struct ep_reader ep_reader;

/* Opens path ("-" = standard input; ".zst" and ".gz" files are decompressed
 * on the fly) and detects its format unless options->format says it.
 * @return EP_OK and *out set; EP_ERR_IO when it cannot be opened;
 *         EP_ERR_FORMAT when the format cannot be recognised. */
ep_status ep_reader_open(const char *path, const ep_reader_options *options, ep_reader **out, ep_error *err);

/* Like ep_reader_open, over len bytes at data (which must outlive the reader);
 * name stands for the path in messages and in detection (its extension).
 * @return as ep_reader_open. */
ep_status ep_reader_open_memory(const void *data, size_t len, const char *name, const ep_reader_options *options,
                                ep_reader **out, ep_error *err);

/* Reads the next record into rec and its kind into *kind.
 * @return EP_OK (then see *kind); EP_ERR_IO on a read error, or EP_ERR_FORMAT
 *         when the file's structure is broken beyond the current record (e.g.
 *         an unterminated tweets.js array) - the message names file and line. */
ep_status ep_reader_next(ep_reader *reader, ep_record *rec, ep_read_kind *kind, ep_error *err);

/* The framer's half of ep_reader_next (record_extract.h has the other half): where one record's
 * raw bytes are, without parsing them. */
typedef enum ep_frame_kind {
    EP_FRAME_END = 0,         /* no more records in this file */
    EP_FRAME_RECORD = 1,      /* bytes hold one line or one array element, to be extracted */
    EP_FRAME_REJECTED = 2     /* a record refused before parsing (over max_record_bytes): reason says why */
} ep_frame_kind;

typedef struct ep_frame {
    ep_input_format format;   /* the file's format (never EP_FORMAT_AUTO): says how to extract */
    char *bytes;              /* the record's bytes, len of them, bytes[len] == '\0' (NULL when len is 0) */
    size_t len;
    uint64_t line;            /* 1-based line where the record starts */
    bool truncated;           /* NDJSON and lines: the file's last line, without '\n' */
    const char *reason;       /* EP_FRAME_REJECTED: what was wrong and what to do; NULL otherwise */
    const char *account;      /* --keep "default": the export's account name so far ("" unknown; NULL = "") */
} ep_frame;

/* Cuts the next record of the file without parsing it: a line (blank NDJSON lines are skipped),
 * or one element of a tweets.js / archive.json array. Pointers stay valid until the next call.
 * Cheap (a byte scan), so one thread can feed many extractors.
 * @return as ep_reader_next; after EP_ERR_FORMAT, ep_reader_position says where the damage begins. */
ep_status ep_reader_next_frame(ep_reader *reader, ep_frame *frame, ep_frame_kind *kind, ep_error *err);

/* The rejection ep_reader_next gives for a file that yields no record at all ("empty file: no
 * records", "no records: the file holds only blank lines", ...): for a caller that extracts
 * frames itself and found none of them held a record. @return a message owned by the reader. */
const char *ep_reader_no_records_reason(ep_reader *reader);

/* @return NULL, or a warning about the detected format for the user (e.g. a
 * file read as plain lines whose lines look like JSON). */
const char *ep_reader_warning(const ep_reader *reader);

/* Where the records returned so far end: *byte = offset in the file's
 * (decompressed) bytes, *line = its line. After ep_reader_next failed with
 * EP_ERR_FORMAT, the damage begins there: every record before it was returned. */
void ep_reader_position(const ep_reader *reader, uint64_t *byte, uint64_t *line);

/* @return the format in use (after detection). */
ep_input_format ep_reader_format(const ep_reader *reader);
/* @return the path given to ep_reader_open. */
const char *ep_reader_path(const ep_reader *reader);
/* @return bytes consumed so far from the (compressed) file, for progress. */
uint64_t ep_reader_bytes_read(const ep_reader *reader);

/* Closes the file and frees the reader. Accepts NULL. */
void ep_reader_free(ep_reader *reader);

#ifdef __cplusplus
}
#endif

#endif /* EP_READER_H */
