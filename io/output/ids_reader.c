/* ids_reader.c - reads ids files back (shard-NNNNN.ids.ndjson.zst): one zstd
 * frame, strict lines with exactly the fields the writer writes, numbers
 * exact, the kept text and fields as they were stored, and line counts and
 * lengths bounded as the bytes arrive when the caller knows the bounds. */
#include "shard.h"
#include "shard_read_internal.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#include <zstd.h>

/* Numbers in the ids file go through cJSON's doubles: exact up to 2^53. */
#define MAX_EXACT_INT 9007199254740992.0


typedef struct buf_sink {
    zsink base;
    char *data;
    size_t len, cap;
    uint64_t max_lines;      /* refuse more lines than this (0 = no bound) */
    uint64_t max_line;       /* refuse a longer line (0 = no bound) */
    uint64_t lines, line_len;/* counted as the bytes arrive */
} buf_sink;

static ep_status buf_write(zsink *base, const uint8_t *p, size_t len, ep_error *err) {
    buf_sink *s = (buf_sink *)base;
    if (s->max_lines) {
        /* Bounded as the bytes arrive, before they are kept: no more lines
         * than the manifest's rows, none longer than a record can make. */
        for (size_t i = 0; i < len; i++) {
            if (p[i] == '\n') {
                s->line_len = 0;
                if (++s->lines > s->max_lines)
                    return ep_error_set(err, EP_ERR_MISMATCH, "more than the %" PRIu64 " lines manifest.json "
                                        "lists for it", s->max_lines);
            } else if (++s->line_len > s->max_line) {
                return ep_error_set(err, EP_ERR_MISMATCH, "line %" PRIu64 " is longer than %" PRIu64 " bytes, more "
                                    "than any record of this run can make", s->lines + 1, s->max_line);
            }
        }
    }
    if (s->cap - s->len < len + 1) {
        size_t cap = s->cap ? s->cap : 1 << 16;
        while (cap - s->len < len + 1) {
            if (cap > SIZE_MAX / 2) return ep_error_set(err, EP_ERR_NOMEM, "ids file too large");
            cap *= 2;
        }
        char *d = realloc(s->data, cap);
        if (!d) return ep_error_set(err, EP_ERR_NOMEM, "out of memory for %zu bytes of ids", cap);
        s->data = d;
        s->cap = cap;
    }
    memcpy(s->data + s->len, p, len);
    s->len += len;
    s->data[s->len] = '\0';
    return EP_OK;
}

static bool as_uint(const cJSON *v, double max, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return false;
    double d = v->valuedouble;
    if (!(d >= 0 && d <= max) || d != floor(d)) return false;
    *out = (uint64_t)d;
    return true;
}

static bool parse_hash(const char *s, uint64_t *out) {
    uint64_t v = 0;
    int i = 0;
    for (; s[i]; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0 || i >= 16) return false;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return i == 16;
}

/* The kept fields of an ids line as the writer put them: after "hash" and
 * "text", up to the closing brace, so that their numbers keep every digit
 * (cJSON would turn a 19-digit id into a double). @return a malloc'd
 * "{...}", or NULL when the line is not laid out that way (the caller then
 * prints the fields from the parsed tree). */
static char *kept_slice(const char *line, size_t len, size_t n_fields) {
    static const char HASH[] = "\"hash\": \"";
    const char *h = memmem(line, len, HASH, sizeof HASH - 1);
    if (!h) return NULL;
    const char *p = h + sizeof HASH - 1 + 17, *end = line + len;
    while (end > line && end[-1] == ' ') end--;
    if (p > end || end[-1] != '}') return NULL;
    static const char TEXT[] = ", \"text\": \"";
    if ((size_t)(end - p) > sizeof TEXT - 1 && memcmp(p, TEXT, sizeof TEXT - 1) == 0) {
        p += sizeof TEXT - 1;
        while (p < end && *p != '"') p += *p == '\\' ? 2 : 1;
        p++;
    }
    if (end - p < 3 || p[0] != ',' || p[1] != ' ') return NULL;
    p += 2;
    size_t n = (size_t)(end - 1 - p);
    char *out = malloc(n + 3);
    if (!out) return NULL;
    out[0] = '{';
    memcpy(out + 1, p, n);
    out[n + 1] = '}';
    out[n + 2] = '\0';
    // A line laid out otherwise (keys reordered by another tool) may slice wrong: only an object with
    // exactly the line's other keys is the fields.
    cJSON *check = cJSON_Parse(out);
    bool ok = cJSON_IsObject(check) && (size_t)cJSON_GetArraySize(check) == n_fields;
    cJSON_Delete(check);
    if (!ok) {
        free(out);
        return NULL;
    }
    return out;
}

/* The keys an ids line has: the first six always, "text" unless --no-text; any other is a kept field. */
enum { KEY_ID, KEY_FILE, KEY_LINE, KEY_TOKENS, KEY_TRUNCATED, KEY_HASH, KEY_TEXT, N_KEYS };
static const char *const KEYS[N_KEYS] = {"id", "file", "line", "tokens", "truncated", "hash", "text"};

static bool is_known_key(const char *s) {
    bool known = false;
    for (int k = 0; k < N_KEYS; k++) known = known || strcmp(s, KEYS[k]) == 0;
    return known;
}

/* The line as one JSON object and nothing else (spaces aside), without raw control characters.
 * @return EP_OK and *obj (cJSON_Delete it), EP_ERR_FORMAT. */
static ep_status parse_object(const char *line, size_t len, cJSON **obj, ep_error *err) {
    *obj = NULL;
    for (size_t i = 0; i < len; i++) {
        if ((uint8_t)line[i] < 0x20)
            return ep_error_set(err, EP_ERR_FORMAT, "raw control character 0x%02x at column %zu", (uint8_t)line[i],
                                i + 1);
    }
    const char *end = NULL;
    cJSON *o = cJSON_ParseWithLengthOpts(line, len, &end, 0);
    if (!o) return ep_error_set(err, EP_ERR_FORMAT, "not valid JSON");
    ep_status st = EP_OK;
    while (end && end < line + len && *end == ' ') end++;
    if (!end || end != line + len) st = ep_error_set(err, EP_ERR_FORMAT, "text after the JSON object");
    else if (!cJSON_IsObject(o)) st = ep_error_set(err, EP_ERR_FORMAT, "not a JSON object");
    if (st != EP_OK) cJSON_Delete(o);
    else *obj = o;
    return st;
}

/* vals[k]: the member named KEYS[k] (NULL for an absent "text"); *n_other: the other members (kept fields).
 * @return EP_OK, EP_ERR_FORMAT when a key appears twice or one of the first six is missing. */
static ep_status find_keys(const cJSON *obj, const cJSON *vals[N_KEYS], size_t *n_other, ep_error *err) {
    *n_other = 0;
    for (const cJSON *c = obj->child; c; c = c->next) {
        bool known = false;
        for (int k = 0; k < N_KEYS; k++) {
            if (c->string && strcmp(c->string, KEYS[k]) == 0) {
                if (vals[k]) return ep_error_set(err, EP_ERR_FORMAT, "\"%s\" appears twice", KEYS[k]);
                vals[k] = c;
                known = true;
            }
        }
        if (!known) (*n_other)++; /* a kept field (--keep) */
    }
    for (int k = 0; k < KEY_TEXT; k++) {
        if (!vals[k]) return ep_error_set(err, EP_ERR_FORMAT, "\"%s\" is missing", KEYS[k]);
    }
    return EP_OK;
}

/* Each value of the known keys has the type and range the writer gives it; the numbers into m.
 * @return EP_OK, EP_ERR_FORMAT naming the first that does not. */
static ep_status check_values(const cJSON *const vals[N_KEYS], ep_row_meta *m, ep_error *err) {
    uint64_t file = 0, line_no = 0, tokens = 0, hash = 0;
    ep_status st = EP_OK;
    if (!cJSON_IsString(vals[KEY_ID])) st = ep_error_set(err, EP_ERR_FORMAT, "\"id\" is not a string");
    else if (!as_uint(vals[KEY_FILE], (double)UINT32_MAX, &file))
        st = ep_error_set(err, EP_ERR_FORMAT, "\"file\" is not an integer in 0..2^32-1");
    else if (!as_uint(vals[KEY_LINE], MAX_EXACT_INT, &line_no))
        st = ep_error_set(err, EP_ERR_FORMAT, "\"line\" is not an integer in 0..2^53");
    else if (!as_uint(vals[KEY_TOKENS], (double)INT32_MAX, &tokens))
        st = ep_error_set(err, EP_ERR_FORMAT, "\"tokens\" is not a non-negative integer");
    else if (!cJSON_IsBool(vals[KEY_TRUNCATED]))
        st = ep_error_set(err, EP_ERR_FORMAT, "\"truncated\" is not true or false");
    else if (!cJSON_IsString(vals[KEY_HASH]) || !parse_hash(vals[KEY_HASH]->valuestring, &hash))
        st = ep_error_set(err, EP_ERR_FORMAT, "\"hash\" is not 16 lowercase hex digits");
    else if (vals[KEY_TEXT] && !cJSON_IsString(vals[KEY_TEXT]))
        st = ep_error_set(err, EP_ERR_FORMAT, "\"text\" is not a string");
    if (st != EP_OK) return st;
    m->file_index = (uint32_t)file;
    m->line = line_no;
    m->n_tokens = (int)tokens;
    m->truncated = cJSON_IsTrue(vals[KEY_TRUNCATED]);
    m->text_hash = hash;
    return EP_OK;
}

/* The n_other kept fields of the line as one JSON object text: the line's own bytes when laid out as the
 * writer lays them out (kept_slice), else printed again from the tree, in the order they were written.
 * @return the text (free with cJSON_free), or NULL when out of memory. */
static char *kept_fields(const cJSON *obj, const char *line, size_t len, size_t n_other) {
    char *fields = kept_slice(line, len, n_other);
    if (fields) return fields;
    cJSON *kept = cJSON_CreateObject();
    for (const cJSON *c = obj->child; c && kept; c = c->next) {
        if (is_known_key(c->string)) continue;
        cJSON_AddItemToObject(kept, c->string, cJSON_Duplicate(c, true));
    }
    fields = kept ? cJSON_PrintUnformatted(kept) : NULL;
    cJSON_Delete(kept);
    return fields;
}

/* One line, without its '\n'. The id is strdup'd into m->id. */
static ep_status parse_ids_line(const char *line, size_t len, ep_row_meta *m, ep_error *err) {
    cJSON *obj = NULL;
    ep_status st = parse_object(line, len, &obj, err);
    if (st != EP_OK) return st;
    const cJSON *vals[N_KEYS] = {0};
    size_t n_other = 0;
    ep_row_meta meta = *m;
    st = find_keys(obj, vals, &n_other, err);
    if (st == EP_OK) st = check_values(vals, &meta, err);
    if (st != EP_OK) {
        cJSON_Delete(obj);
        return st;
    }
    char *id = strdup(vals[KEY_ID]->valuestring);
    char *text = vals[KEY_TEXT] ? strdup(vals[KEY_TEXT]->valuestring) : NULL;
    char *fields = n_other ? kept_fields(obj, line, len, n_other) : NULL;
    if (!id || (vals[KEY_TEXT] && !text) || (n_other && !fields)) {
        free(id);
        free(text);
        if (fields) cJSON_free(fields);
        st = ep_error_set(err, EP_ERR_NOMEM, "out of memory for an id");
    } else {
        meta.id = id;
        meta.text = text;
        meta.fields = fields;
        *m = meta;
    }
    cJSON_Delete(obj);
    return st;
}

ep_status ep_shard_read_ids_checked(const char *path, const zfile_check *check, uint64_t max_lines, uint64_t max_line,
                                ep_row_meta **meta, size_t *n_rows, ep_error *err) {
    *meta = NULL;
    *n_rows = 0;
    buf_sink s;
    memset(&s, 0, sizeof s);
    s.base.write = buf_write;
    s.base.content_size = ZSTD_CONTENTSIZE_UNKNOWN;
    s.max_lines = max_lines;
    s.max_line = max_line;
    if (max_lines) s.base.max_content = max_lines > UINT64_MAX / (max_line + 1) ? UINT64_MAX : max_lines * (max_line + 1);
    ep_status st = ep_zstd_read_file(path, check, &s.base, err);
    if (st != EP_OK) {
        free(s.data);
        return st;
    }
    if (s.len == 0 || s.data[s.len - 1] != '\n') {
        free(s.data);
        return ep_error_set(err, EP_ERR_FORMAT, "%s: %s", path,
                            s.len == 0 ? "no rows (embedpipe never writes an empty shard)"
                                       : "the last line has no newline (the file was cut short?)");
    }
    /* cJSON does not check UTF-8, so the whole text is checked here. */
    size_t line_no = 1;
    for (size_t i = 0; i < s.len;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s.data + i, (utf8proc_ssize_t)(s.len - i), &cp);
        if (n <= 0) {
            free(s.data);
            return ep_error_set(err, EP_ERR_FORMAT, "%s: line %zu: invalid UTF-8", path, line_no);
        }
        if (cp == '\n') line_no++;
        i += (size_t)n;
    }
    size_t count = line_no - 1;
    ep_row_meta *m = calloc(count, sizeof *m);
    if (!m) {
        free(s.data);
        return ep_error_set(err, EP_ERR_NOMEM, "out of memory for %zu ids", count);
    }
    const char *p = s.data;
    for (size_t i = 0; i < count; i++) {
        const char *nl = memchr(p, '\n', (size_t)(s.data + s.len - p));
        st = parse_ids_line(p, (size_t)(nl - p), &m[i], err);
        if (st != EP_OK) {
            ep_error_prefix(err, "%s: line %zu", path, i + 1);
            ep_shard_ids_free(m, i);
            free(s.data);
            return st;
        }
        p = nl + 1;
    }
    free(s.data);
    *meta = m;
    *n_rows = count;
    return EP_OK;
}

ep_status ep_shard_read_ids(const char *path, ep_row_meta **meta, size_t *n_rows, ep_error *err) {
    return ep_shard_read_ids_checked(path, NULL, 0, 0, meta, n_rows, err);
}

void ep_shard_ids_free(ep_row_meta *meta, size_t n_rows) {
    if (!meta) return;
    for (size_t i = 0; i < n_rows; i++) {
        free((char *)meta[i].id);
        free((char *)meta[i].text);
        free((char *)meta[i].fields);
    }
    free(meta);
}
