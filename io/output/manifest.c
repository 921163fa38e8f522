/* manifest.c - manifest.json: written with cJSON in a fixed key order,
 * replaced atomically, read back strictly (every field present and typed,
 * the message naming the field).
 *
 * 64-bit counts are written as exact decimal integers, but cJSON parses
 * numbers into doubles, so reading accepts integers up to 2^53 only; writing
 * refuses larger values so that every manifest written can be read. 2^53 rows
 * is far beyond any real run. */
#include "manifest.h"

#include "atomic_file.h"
#include "folder_lock.h"
#include "read_file.h"
#include "npy.h"
#include "output_reader.h"
#include "sha256.h"
#include "shard.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MANIFEST_NAME "manifest.json"
#define FORMAT_NAME "embedpipe-output"
#define FORMAT_VERSION 1
#define ERRORS_FILE "errors.ndjson"
#define MAX_EXACT_INT 9007199254740992ull /* 2^53 */

/* "shard-NNNNN.npy.zst" and "shard-NNNNN.ids.ndjson.zst" with the same
 * number of at least five digits. @return the shard number, or -1. */
static long long shard_number(const char *name, const char *ids_name) {
    const char *p = name;
    if (strncmp(p, "shard-", 6) != 0) return -1;
    p += 6;
    size_t digits = strspn(p, "0123456789");
    if (digits < 5 || digits > 9 || strcmp(p + digits, ".npy.zst") != 0) return -1;
    if (strncmp(ids_name, name, 6 + digits) != 0 || strcmp(ids_name + 6 + digits, ".ids.ndjson.zst") != 0) return -1;
    return strtoll(p, NULL, 10);
}

/* ------------------------------------------------------------------------ */
/* Writing */

static cJSON *exact_uint(uint64_t v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    return cJSON_CreateRaw(buf);
}

/* The checks that make a manifest readable by ep_manifest_read. */
static ep_status check_for_write(const ep_manifest *m, ep_error *err) {
#define BAD(...) ep_error_set(err, EP_ERR_USAGE, "manifest: " __VA_ARGS__)
    if (m->dim <= 0) return BAD("dim must be positive, got %d", m->dim);
    if (m->max_seq_length <= 0) return BAD("max_seq_length must be positive, got %d", m->max_seq_length);
    if (!ep_sha256_is_hex(m->model_sha256)) return BAD("model_sha256 must be 64 lowercase hex digits");
    if (strcmp(m->pooling, "mean") != 0 && strcmp(m->pooling, "cls") != 0)
        return BAD("pooling must be \"mean\" or \"cls\", got \"%s\"", m->pooling);
    if (m->dtype[0] && strcmp(m->dtype, "float16") != 0) return BAD("dtype must be \"float16\", got \"%s\"", m->dtype);
    if (m->n_inputs && !m->inputs) return BAD("n_inputs is %zu but inputs is NULL", m->n_inputs);
    for (size_t i = 0; i < m->n_inputs; i++)
        if (!m->inputs[i].path) return BAD("inputs[%zu].path is NULL", i);
    if (m->n_shards && !m->shards) return BAD("n_shards is %zu but shards is NULL", m->n_shards);
    for (size_t i = 0; i < m->n_shards; i++) {
        const ep_shard_info *s = &m->shards[i];
        if (shard_number(s->name, s->ids_name) < 0)
            return BAD("shards[%zu] has unexpected file names \"%s\" / \"%s\"", i, s->name, s->ids_name);
        if (!ep_sha256_is_hex(s->sha256) || !ep_sha256_is_hex(s->ids_sha256))
            return BAD("shards[%zu] lacks a SHA-256", i);
        if (s->rows == 0) return BAD("shards[%zu] has no rows", i);
        if (s->rows > MAX_EXACT_INT || s->first_row > MAX_EXACT_INT || s->bytes > MAX_EXACT_INT)
            return BAD("shards[%zu] has a count above 2^53", i);
    }
    if (m->records_read > MAX_EXACT_INT || m->records_embedded > MAX_EXACT_INT || m->records_rejected > MAX_EXACT_INT)
        return BAD("a record count is above 2^53");
#undef BAD
    return EP_OK;
}

static cJSON *build_json(const ep_manifest *m) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    bool ok = true;
#define ADD(obj, key, item) ok = ok && cJSON_AddItemToObject((obj), (key), (item))
    ADD(root, "format", cJSON_CreateString(FORMAT_NAME));
    ADD(root, "format_version", cJSON_CreateNumber(FORMAT_VERSION));
    cJSON *tool = cJSON_CreateObject();
    ADD(root, "tool", tool);
    if (ok) {
        ADD(tool, "name", cJSON_CreateString("embedpipe"));
        ADD(tool, "version", cJSON_CreateString(m->tool_version));
    }
    cJSON *model = cJSON_CreateObject();
    ADD(root, "model", model);
    if (ok) {
        ADD(model, "name", cJSON_CreateString(m->model_name));
        ADD(model, "sha256", cJSON_CreateString(m->model_sha256));
        ADD(model, "dim", cJSON_CreateNumber(m->dim));
        ADD(model, "pooling", cJSON_CreateString(m->pooling));
        ADD(model, "normalized", cJSON_CreateBool(m->normalized));
        ADD(model, "max_seq_length", cJSON_CreateNumber(m->max_seq_length));
    }
    ADD(root, "dtype", cJSON_CreateString("float16"));
    ADD(root, "text_path", cJSON_CreateString(m->text_path));
    ADD(root, "id_path", cJSON_CreateString(m->id_path));
    cJSON *inputs = cJSON_CreateArray();
    ADD(root, "inputs", inputs);
    for (size_t i = 0; ok && i < m->n_inputs; i++) {
        cJSON *in = cJSON_CreateObject();
        ok = ok && cJSON_AddItemToArray(inputs, in);
        ADD(in, "path", cJSON_CreateString(m->inputs[i].path));
        ADD(in, "format", cJSON_CreateString(m->inputs[i].format));
        ADD(in, "size", exact_uint(m->inputs[i].size));
        if (m->inputs[i].abs_path) {
            ADD(in, "abs_path", cJSON_CreateString(m->inputs[i].abs_path));
            ADD(in, "mtime_sec", exact_uint(m->inputs[i].mtime_sec));
            ADD(in, "mtime_nsec", exact_uint(m->inputs[i].mtime_nsec));
        }
        const ep_manifest_damage *d = &m->inputs[i].damage;
        if (ok && d->present) {
            cJSON *dj = cJSON_CreateObject();
            ADD(in, "damage", dj);
            if (ok) {
                ADD(dj, "byte", exact_uint(d->byte));
                ADD(dj, "line", exact_uint(d->line));
                ADD(dj, "record", exact_uint(d->record));
                ADD(dj, "prefix_xxh3", cJSON_CreateString(d->prefix_xxh3));
                ADD(dj, "mtime_s", cJSON_CreateNumber((double)d->mtime_s));
                ADD(dj, "mtime_ns", cJSON_CreateNumber(d->mtime_ns));
                cJSON *rj = cJSON_CreateObject();
                ADD(dj, "resume", rj);
                if (ok) {
                    ADD(rj, "shards", exact_uint(d->resume_shards));
                    ADD(rj, "next_record", exact_uint(d->resume_next_record));
                    ADD(rj, "next_row", exact_uint(d->resume_next_row));
                    ADD(rj, "errors_bytes", exact_uint(d->resume_errors_bytes));
                    ADD(rj, "embedded", exact_uint(d->resume_embedded));
                    ADD(rj, "rejected", exact_uint(d->resume_rejected));
                }
            }
        }
    }
    cJSON *shards = cJSON_CreateArray();
    ADD(root, "shards", shards);
    for (size_t i = 0; ok && i < m->n_shards; i++) {
        const ep_shard_info *s = &m->shards[i];
        cJSON *o = cJSON_CreateObject();
        ok = ok && cJSON_AddItemToArray(shards, o);
        ADD(o, "file", cJSON_CreateString(s->name));
        ADD(o, "ids_file", cJSON_CreateString(s->ids_name));
        ADD(o, "rows", exact_uint(s->rows));
        ADD(o, "first_row", exact_uint(s->first_row));
        ADD(o, "bytes", exact_uint(s->bytes));
        ADD(o, "sha256", cJSON_CreateString(s->sha256));
        ADD(o, "ids_sha256", cJSON_CreateString(s->ids_sha256));
    }
    cJSON *counts = cJSON_CreateObject();
    ADD(root, "counts", counts);
    if (ok) {
        ADD(counts, "read", exact_uint(m->records_read));
        ADD(counts, "embedded", exact_uint(m->records_embedded));
        ADD(counts, "rejected", exact_uint(m->records_rejected));
    }
    ADD(root, "complete", cJSON_CreateBool(m->complete));
    ADD(root, "errors_file", cJSON_CreateString(ERRORS_FILE));
    cJSON *run = cJSON_CreateObject();
    ADD(root, "run", run);
    if (ok) {
        ADD(run, "shard_rows", exact_uint(m->run.shard_rows));
        ADD(run, "part_index", cJSON_CreateNumber(m->run.part_index));
        ADD(run, "part_count", cJSON_CreateNumber(m->run.part_count < 1 ? 1 : m->run.part_count));
        ADD(run, "format", cJSON_CreateString(m->run.format));
        ADD(run, "max_record_bytes", exact_uint(m->run.max_record_bytes));
        ADD(run, "next_record", exact_uint(m->run.next_record));
        ADD(run, "next_row", exact_uint(m->run.next_row));
        ADD(run, "errors_bytes", exact_uint(m->run.errors_bytes));
        ADD(run, "skip_blank", cJSON_CreateBool(m->run.skip_blank));
    }
#undef ADD
    /* cJSON_AddItemTo* fails (and does not take ownership) only for a NULL
     * item, i.e. after a failed allocation; those items were never created. */
    if (!ok) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

ep_status ep_manifest_write(const char *dir, const ep_manifest *m, ep_error *err) {
    if (!dir || !m) return ep_error_set(err, EP_ERR_USAGE, "ep_manifest_write: NULL folder or manifest");
    ep_status st = check_for_write(m, err);
    if (st != EP_OK) return st;
    cJSON *root = build_json(m);
    char *text = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text) return ep_error_set(err, EP_ERR_NOMEM, "out of memory writing %s/%s", dir, MANIFEST_NAME);
    ep_atomic_file f;
    st = ep_atomic_file_open(&f, dir, MANIFEST_NAME, err);
    if (st == EP_OK) st = ep_atomic_file_write(&f, text, strlen(text), err);
    if (st == EP_OK) st = ep_atomic_file_write(&f, "\n", 1, err);
    if (st == EP_OK) st = ep_atomic_file_commit(&f, NULL, err);
    else ep_atomic_file_abort(&f);
    cJSON_free(text);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Reading */

typedef struct reader {
    const char *path;
    ep_error *err;
} reader;

static ep_status field_error(reader *r, const char *prefix, const char *key, const char *what) {
    return ep_error_set(r->err, EP_ERR_FORMAT, "%s: field \"%s%s\" %s", r->path, prefix, key, what);
}

/* The member key of obj, which must appear exactly once. */
static ep_status member(reader *r, const cJSON *obj, const char *prefix, const char *key, const cJSON **out) {
    *out = NULL;
    for (const cJSON *c = obj->child; c; c = c->next) {
        if (c->string && strcmp(c->string, key) == 0) {
            if (*out) return field_error(r, prefix, key, "appears twice");
            *out = c;
        }
    }
    if (!*out) return field_error(r, prefix, key, "is missing");
    return EP_OK;
}

static ep_status get_string(reader *r, const cJSON *obj, const char *prefix, const char *key, char *dst, size_t cap) {
    const cJSON *v;
    ep_status st = member(r, obj, prefix, key, &v);
    if (st != EP_OK) return st;
    if (!cJSON_IsString(v)) return field_error(r, prefix, key, "must be a string");
    if (strlen(v->valuestring) >= cap) {
        char what[64];
        snprintf(what, sizeof what, "is longer than %zu bytes", cap - 1);
        return field_error(r, prefix, key, what);
    }
    memcpy(dst, v->valuestring, strlen(v->valuestring) + 1);
    return EP_OK;
}

static ep_status get_uint(reader *r, const cJSON *obj, const char *prefix, const char *key, uint64_t min,
                          uint64_t max, uint64_t *out) {
    const cJSON *v;
    ep_status st = member(r, obj, prefix, key, &v);
    if (st != EP_OK) return st;
    double d = cJSON_IsNumber(v) ? v->valuedouble : -1;
    if (!cJSON_IsNumber(v) || d != floor(d) || d < (double)min || d > (double)max) {
        char what[96];
        snprintf(what, sizeof what, "must be an integer in %" PRIu64 "..%" PRIu64, min, max);
        return field_error(r, prefix, key, what);
    }
    *out = (uint64_t)d;
    return EP_OK;
}

static ep_status get_bool(reader *r, const cJSON *obj, const char *prefix, const char *key, bool *out) {
    const cJSON *v;
    ep_status st = member(r, obj, prefix, key, &v);
    if (st != EP_OK) return st;
    if (!cJSON_IsBool(v)) return field_error(r, prefix, key, "must be true or false");
    *out = cJSON_IsTrue(v);
    return EP_OK;
}

static ep_status get_typed(reader *r, const cJSON *obj, const char *prefix, const char *key, bool array,
                           const cJSON **out) {
    ep_status st = member(r, obj, prefix, key, out);
    if (st != EP_OK) return st;
    if (array ? !cJSON_IsArray(*out) : !cJSON_IsObject(*out))
        return field_error(r, prefix, key, array ? "must be an array" : "must be an object");
    return EP_OK;
}

static ep_status get_sha(reader *r, const cJSON *obj, const char *prefix, const char *key, char dst[65]) {
    char tmp[128];
    ep_status st = get_string(r, obj, prefix, key, tmp, sizeof tmp);
    if (st != EP_OK) return st;
    if (!ep_sha256_is_hex(tmp)) return field_error(r, prefix, key, "must be 64 lowercase hex digits");
    memcpy(dst, tmp, 65);
    return EP_OK;
}

static ep_status read_model(reader *r, const cJSON *root, ep_manifest *m) {
    const cJSON *model;
    uint64_t v;
    ep_status st = get_typed(r, root, "", "model", false, &model);
    if (!st) st = get_string(r, model, "model.", "name", m->model_name, sizeof m->model_name);
    if (!st) st = get_sha(r, model, "model.", "sha256", m->model_sha256);
    if (!st) st = get_uint(r, model, "model.", "dim", 1, INT32_MAX, &v);
    if (!st) m->dim = (int)v;
    if (!st) st = get_string(r, model, "model.", "pooling", m->pooling, sizeof m->pooling);
    if (!st && strcmp(m->pooling, "mean") != 0 && strcmp(m->pooling, "cls") != 0)
        st = field_error(r, "model.", "pooling", "must be \"mean\" or \"cls\"");
    if (!st) st = get_bool(r, model, "model.", "normalized", &m->normalized);
    if (!st) st = get_uint(r, model, "model.", "max_seq_length", 1, INT32_MAX, &v);
    if (!st) m->max_seq_length = (int)v;
    return st;
}

/* An input's optional "damage" object (see ep_manifest_damage). */
static ep_status read_damage(reader *r, const cJSON *in, const char *prefix, ep_manifest_damage *d) {
    const cJSON *dj, *rj;
    char dp[96], rp[112];
    uint64_t v;
    snprintf(dp, sizeof dp, "%sdamage.", prefix);
    snprintf(rp, sizeof rp, "%sresume.", dp);
    ep_status st = get_typed(r, in, prefix, "damage", false, &dj);
    if (!st) st = get_uint(r, dj, dp, "byte", 0, MAX_EXACT_INT, &d->byte);
    if (!st) st = get_uint(r, dj, dp, "line", 0, MAX_EXACT_INT, &d->line);
    if (!st) st = get_uint(r, dj, dp, "record", 0, MAX_EXACT_INT, &d->record);
    if (!st) st = get_string(r, dj, dp, "prefix_xxh3", d->prefix_xxh3, sizeof d->prefix_xxh3);
    if (!st) st = get_uint(r, dj, dp, "mtime_s", 0, MAX_EXACT_INT, &v);
    if (!st) d->mtime_s = (int64_t)v;
    if (!st) st = get_uint(r, dj, dp, "mtime_ns", 0, 999999999, &v);
    if (!st) d->mtime_ns = (int32_t)v;
    if (!st) st = get_typed(r, dj, dp, "resume", false, &rj);
    if (!st) st = get_uint(r, rj, rp, "shards", 0, MAX_EXACT_INT, &d->resume_shards);
    if (!st) st = get_uint(r, rj, rp, "next_record", 0, MAX_EXACT_INT, &d->resume_next_record);
    if (!st) st = get_uint(r, rj, rp, "next_row", 0, MAX_EXACT_INT, &d->resume_next_row);
    if (!st) st = get_uint(r, rj, rp, "errors_bytes", 0, MAX_EXACT_INT, &d->resume_errors_bytes);
    if (!st) st = get_uint(r, rj, rp, "embedded", 0, MAX_EXACT_INT, &d->resume_embedded);
    if (!st) st = get_uint(r, rj, rp, "rejected", 0, MAX_EXACT_INT, &d->resume_rejected);
    if (!st) d->present = true;
    return st;
}

static ep_status read_inputs(reader *r, const cJSON *root, ep_manifest *m) {
    const cJSON *inputs;
    ep_status st = get_typed(r, root, "", "inputs", true, &inputs);
    if (st) return st;
    size_t n = (size_t)cJSON_GetArraySize(inputs);
    m->inputs = calloc(n ? n : 1, sizeof *m->inputs);
    if (!m->inputs) return ep_error_set(r->err, EP_ERR_NOMEM, "out of memory reading %s", r->path);
    size_t i = 0;
    for (const cJSON *in = inputs->child; in; in = in->next, i++) {
        char prefix[48];
        snprintf(prefix, sizeof prefix, "inputs[%zu]", i);
        if (!cJSON_IsObject(in)) return field_error(r, prefix, "", "must be an object");
        strcat(prefix, ".");
        const cJSON *path;
        st = member(r, in, prefix, "path", &path);
        if (st) return st;
        if (!cJSON_IsString(path)) return field_error(r, prefix, "path", "must be a string");
        m->inputs[i].path = strdup(path->valuestring);
        m->n_inputs = i + 1;
        if (!m->inputs[i].path) return ep_error_set(r->err, EP_ERR_NOMEM, "out of memory reading %s", r->path);
        st = get_string(r, in, prefix, "format", m->inputs[i].format, sizeof m->inputs[i].format);
        if (!st) st = get_uint(r, in, prefix, "size", 0, MAX_EXACT_INT, &m->inputs[i].size);
        if (!st && cJSON_GetObjectItemCaseSensitive(in, "damage")) st = read_damage(r, in, prefix, &m->inputs[i].damage);
        if (st) return st;
        /* Written since the output format gained them (search uses them to find
         * the texts again); older manifests lack all three. */
        const cJSON *abs = cJSON_GetObjectItemCaseSensitive(in, "abs_path");
        if (abs) {
            if (!cJSON_IsString(abs) || abs->valuestring[0] != '/')
                return field_error(r, prefix, "abs_path", "must be an absolute path");
            if (!(m->inputs[i].abs_path = strdup(abs->valuestring)))
                return ep_error_set(r->err, EP_ERR_NOMEM, "out of memory reading %s", r->path);
            st = get_uint(r, in, prefix, "mtime_sec", 0, MAX_EXACT_INT, &m->inputs[i].mtime_sec);
            if (!st) st = get_uint(r, in, prefix, "mtime_nsec", 0, 999999999, &m->inputs[i].mtime_nsec);
            if (st) return st;
        }
    }
    return EP_OK;
}

static ep_status read_shards(reader *r, const cJSON *root, ep_manifest *m) {
    const cJSON *shards;
    ep_status st = get_typed(r, root, "", "shards", true, &shards);
    if (st) return st;
    size_t n = (size_t)cJSON_GetArraySize(shards);
    m->shards = calloc(n ? n : 1, sizeof *m->shards);
    if (!m->shards) return ep_error_set(r->err, EP_ERR_NOMEM, "out of memory reading %s", r->path);
    size_t i = 0;
    for (const cJSON *o = shards->child; o; o = o->next, i++) {
        ep_shard_info *s = &m->shards[i];
        char prefix[48];
        snprintf(prefix, sizeof prefix, "shards[%zu]", i);
        if (!cJSON_IsObject(o)) return field_error(r, prefix, "", "must be an object");
        strcat(prefix, ".");
        st = get_string(r, o, prefix, "file", s->name, sizeof s->name);
        if (!st) st = get_string(r, o, prefix, "ids_file", s->ids_name, sizeof s->ids_name);
        if (!st && shard_number(s->name, s->ids_name) < 0)
            st = field_error(r, prefix, "file",
                             "must be shard-NNNNN.npy.zst with ids_file shard-NNNNN.ids.ndjson.zst (same number)");
        if (!st) st = get_uint(r, o, prefix, "rows", 1, MAX_EXACT_INT, &s->rows);
        if (!st) st = get_uint(r, o, prefix, "first_row", 0, MAX_EXACT_INT, &s->first_row);
        if (!st) st = get_uint(r, o, prefix, "bytes", 1, MAX_EXACT_INT, &s->bytes);
        if (!st) st = get_sha(r, o, prefix, "sha256", s->sha256);
        if (!st) st = get_sha(r, o, prefix, "ids_sha256", s->ids_sha256);
        if (st) return st;
        m->n_shards = i + 1;
    }
    return EP_OK;
}

static ep_status read_run(reader *r, const cJSON *root, ep_manifest *m) {
    const cJSON *run;
    uint64_t v;
    ep_manifest_run *u = &m->run;
    ep_status st = get_typed(r, root, "", "run", false, &run);
    if (!st) st = get_uint(r, run, "run.", "shard_rows", 0, MAX_EXACT_INT, &u->shard_rows);
    if (!st) st = get_uint(r, run, "run.", "part_count", 1, INT32_MAX, &v);
    if (!st) u->part_count = (int)v;
    if (!st) st = get_uint(r, run, "run.", "part_index", 0, (uint64_t)u->part_count - 1, &v);
    if (!st) u->part_index = (int)v;
    if (!st) st = get_string(r, run, "run.", "format", u->format, sizeof u->format);
    if (!st) st = get_uint(r, run, "run.", "max_record_bytes", 0, MAX_EXACT_INT, &u->max_record_bytes);
    if (!st) st = get_uint(r, run, "run.", "next_record", 0, MAX_EXACT_INT, &u->next_record);
    if (!st) st = get_uint(r, run, "run.", "next_row", 0, MAX_EXACT_INT, &u->next_row);
    if (!st) st = get_uint(r, run, "run.", "errors_bytes", 0, MAX_EXACT_INT, &u->errors_bytes);
    if (!st && cJSON_GetObjectItemCaseSensitive(run, "skip_blank")) st = get_bool(r, run, "run.", "skip_blank", &u->skip_blank);
    return st;
}

static ep_status read_root(reader *r, const cJSON *root, ep_manifest *m) {
    char text[64];
    uint64_t v;
    if (!cJSON_IsObject(root)) return ep_error_set(r->err, EP_ERR_FORMAT, "%s: not a JSON object", r->path);
    ep_status st = get_string(r, root, "", "format", text, sizeof text);
    if (!st && strcmp(text, FORMAT_NAME) != 0)
        st = field_error(r, "", "format", "must be \"" FORMAT_NAME "\" (is this an embedpipe output folder?)");
    if (!st) st = get_uint(r, root, "", "format_version", 0, MAX_EXACT_INT, &v);
    if (!st && v != FORMAT_VERSION)
        st = ep_error_set(r->err, EP_ERR_FORMAT, "%s: field \"format_version\" is %" PRIu64 "; this embedpipe reads "
                          "version %d (was the folder written by a newer embedpipe?)", r->path, v, FORMAT_VERSION);
    const cJSON *tool, *counts;
    if (!st) st = get_typed(r, root, "", "tool", false, &tool);
    if (!st) st = get_string(r, tool, "tool.", "name", text, sizeof text);
    if (!st && strcmp(text, "embedpipe") != 0) st = field_error(r, "tool.", "name", "must be \"embedpipe\"");
    if (!st) st = get_string(r, tool, "tool.", "version", m->tool_version, sizeof m->tool_version);
    if (!st) st = read_model(r, root, m);
    if (!st) st = get_string(r, root, "", "dtype", m->dtype, sizeof m->dtype);
    if (!st && strcmp(m->dtype, "float16") != 0) st = field_error(r, "", "dtype", "must be \"float16\"");
    if (!st) st = get_string(r, root, "", "text_path", m->text_path, sizeof m->text_path);
    if (!st) st = get_string(r, root, "", "id_path", m->id_path, sizeof m->id_path);
    if (!st) st = read_inputs(r, root, m);
    if (!st) st = read_shards(r, root, m);
    if (!st) st = get_typed(r, root, "", "counts", false, &counts);
    if (!st) st = get_uint(r, counts, "counts.", "read", 0, MAX_EXACT_INT, &m->records_read);
    if (!st) st = get_uint(r, counts, "counts.", "embedded", 0, MAX_EXACT_INT, &m->records_embedded);
    if (!st) st = get_uint(r, counts, "counts.", "rejected", 0, MAX_EXACT_INT, &m->records_rejected);
    if (!st) st = get_bool(r, root, "", "complete", &m->complete);
    if (!st) st = get_string(r, root, "", "errors_file", text, sizeof text);
    if (!st && strcmp(text, ERRORS_FILE) != 0) st = field_error(r, "", "errors_file", "must be \"" ERRORS_FILE "\"");
    if (!st) st = read_run(r, root, m);
    return st;
}

static ep_status read_text_file(const char *path, char **out, size_t *len, ep_error *err) {
    *out = NULL;
    // Never through a link: embedpipe never writes one, so a linked manifest is someone else's file.
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ELOOP)
        return ep_error_set(err, EP_ERR_IO, "%s is a symbolic link; embedpipe never follows links in an output "
                            "folder (remove it, or copy the file it points to in its place)", path);
    FILE *f = fd < 0 ? NULL : fdopen(fd, "rb");
    if (!f) {
        int saved = errno;
        if (fd >= 0) close(fd);
        return ep_error_set(err, EP_ERR_IO, "%s: cannot open: %s", path, strerror(saved));
    }
    ep_status st = ep_read_stream(f, path, 0, out, len, err);
    fclose(f);
    return st;
}

ep_status ep_manifest_read(const char *dir, ep_manifest **out, ep_error *err) {
    *out = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, MANIFEST_NAME);
    char *text;
    size_t len = 0;
    ep_status st = read_text_file(path, &text, &len, err);
    if (st != EP_OK) return st;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        size_t at = end && end >= text && end <= text + len ? (size_t)(end - text) : 0, line = 1;
        for (size_t i = 0; i < at; i++) line += text[i] == '\n';
        free(text);
        return ep_error_set(err, EP_ERR_FORMAT, "%s: not valid JSON (near line %zu)", path, line);
    }
    while (end < text + len && (*end == ' ' || *end == '\n' || *end == '\t' || *end == '\r')) end++;
    bool trailing = end != text + len;
    free(text);
    if (trailing) {
        cJSON_Delete(root);
        return ep_error_set(err, EP_ERR_FORMAT, "%s: text after the JSON object", path);
    }
    ep_manifest *m = calloc(1, sizeof *m);
    if (!m) {
        cJSON_Delete(root);
        return ep_error_set(err, EP_ERR_NOMEM, "out of memory reading %s", path);
    }
    reader r = {path, err};
    st = read_root(&r, root, m);
    cJSON_Delete(root);
    if (st != EP_OK) {
        ep_manifest_free(m);
        return st;
    }
    *out = m;
    return EP_OK;
}

void ep_manifest_free(ep_manifest *m) {
    if (!m) return;
    for (size_t i = 0; i < m->n_inputs; i++) {
        free(m->inputs[i].path);
        free(m->inputs[i].abs_path);
    }
    free(m->inputs);
    free(m->shards);
    free(m);
}

/* ------------------------------------------------------------------------ */
/* Verifying a folder */

/* Where the manifest says a shard sits. With run.shard_rows known, shard N
 * starts at row N * shard_rows and only the last shard may be short; a part
 * of a --part I/N run holds every N-th shard starting at I, so only a
 * single-part folder must be contiguous from row 0.
 * @return EP_OK or EP_ERR_MISMATCH naming the shard. */
static ep_status check_layout(const char *dir, const ep_manifest *m, size_t i, long long last_number,
                              uint64_t next_row, ep_error *err) {
    const ep_shard_info *s = &m->shards[i];
    const long long number = shard_number(s->name, s->ids_name);
    const uint64_t per = m->run.shard_rows;
    const int parts = m->run.part_count > 1 ? m->run.part_count : 1;
#define BAD(...) ep_error_set(err, EP_ERR_MISMATCH, "%s/manifest.json: shards[%zu] (%s) " __VA_ARGS__)
    if (number <= last_number) return BAD("is out of order or repeated", dir, i, s->name);
    if (parts > 1 && number % parts != m->run.part_index)
        return BAD("does not belong to part %d of %d", dir, i, s->name, m->run.part_index, parts);
    if (per > 0) {
        if (s->first_row != (uint64_t)number * per)
            return BAD("starts at row %" PRIu64 ", but with %" PRIu64 " rows per shard it should start at row %" PRIu64,
                       dir, i, s->name, s->first_row, per, (uint64_t)number * per);
        if (s->rows > per || (i + 1 < m->n_shards && s->rows != per))
            return BAD("has %" PRIu64 " rows; every shard but the last has %" PRIu64, dir, i, s->name, s->rows, per);
    }
    if (parts == 1 && s->first_row != next_row)
        return BAD("starts at row %" PRIu64 " but the shards before it end at row %" PRIu64, dir, i, s->name,
                   s->first_row, next_row);
#undef BAD
    return EP_OK;
}

/* errors.ndjson: a regular file that holds run.errors_bytes bytes (more only
 * while the run is unfinished: what it wrote after its last checkpoint), with
 * one line per rejected record in them. */
static ep_status check_errors_file(const char *dir, const ep_manifest *m, ep_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, ERRORS_FILE);
    const uint64_t want = m->run.errors_bytes;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0 && errno == ENOENT) {
        if (want == 0 && m->records_rejected == 0) return EP_OK; /* nothing was rejected */
        return ep_error_set(err, EP_ERR_MISMATCH, "%s is missing, but manifest.json counts %" PRIu64 " rejected "
                            "records in %" PRIu64 " bytes", path, m->records_rejected, want);
    }
    if (fd < 0)
        return ep_error_set(err, errno == ELOOP ? EP_ERR_MISMATCH : EP_ERR_IO, "%s: cannot open: %s%s", path,
                            strerror(errno), errno == ELOOP ? " (a symbolic link: not a file this run wrote)" : "");
    struct stat sb;
    ep_status st = EP_OK;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st = ep_error_set(err, EP_ERR_MISMATCH, "%s is not a regular file", path);
    } else if ((uint64_t)sb.st_size < want || (m->complete && (uint64_t)sb.st_size != want)) {
        st = ep_error_set(err, EP_ERR_MISMATCH, "%s is %" PRIu64 " bytes but manifest.json records %" PRIu64 " (run."
                          "errors_bytes): it was cut short, or another process appended to it", path,
                          (uint64_t)sb.st_size, want);
    } else {
        char buf[1 << 16];
        uint64_t lines = 0, left = want;
        while (left > 0 && st == EP_OK) {
            ssize_t n = read(fd, buf, left < sizeof buf ? (size_t)left : sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                st = ep_error_set(err, EP_ERR_IO, "%s: read error: %s", path, n < 0 ? strerror(errno) : "short file");
                break;
            }
            for (ssize_t i = 0; i < n; i++) lines += buf[i] == '\n';
            left -= (uint64_t)n;
        }
        if (st == EP_OK && lines != m->records_rejected)
            st = ep_error_set(err, EP_ERR_MISMATCH, "%s holds %" PRIu64 " lines but manifest.json counts %" PRIu64
                              " rejected records: the file was edited, or mixed with another run's", path, lines,
                              m->records_rejected);
    }
    close(fd);
    return st;
}

/* An export left in the folder (vectors.npy) must be this run's rows: the
 * shards' data concatenated, byte for byte. A stale one (of a run that
 * --overwrite replaced, or exported before a resume) would be loaded by
 * whoever trusts the folder. */
static ep_status check_export_npy(const char *dir, ep_output_reader *r, const ep_manifest *m, ep_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/vectors.npy", dir);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return ep_error_set(err, EP_ERR_MISMATCH, "%s: cannot open: %s", path, strerror(errno));
    uint8_t head[4096];
    ssize_t got = pread(fd, head, sizeof head, 0);
    size_t total = 0;
    uint64_t rows = 0, cols = 0, want_rows = 0;
    for (size_t i = 0; i < m->n_shards; i++) want_rows += m->shards[i].rows;
    ep_error e;
    struct stat sb;
    ep_status st = EP_OK;
    if (got < 0 || ep_npy_header_size(head, (size_t)got, &total, &e) != EP_OK || total == 0 || total > (size_t)got ||
        ep_npy_parse_f16_header(head, total, &rows, &cols, &e) != EP_OK) {
        st = ep_error_set(err, EP_ERR_MISMATCH, "%s is not an export of this run (no float16 .npy header)", path);
    } else if (rows != want_rows || cols != (uint64_t)m->dim || fstat(fd, &sb) != 0 ||
               (uint64_t)sb.st_size != total + rows * cols * 2) {
        st = ep_error_set(err, EP_ERR_MISMATCH, "%s holds %" PRIu64 " rows x %" PRIu64 " but the run holds %" PRIu64
                          " x %d: a stale export; export again (embedpipe export) or remove it", path, rows, cols,
                          want_rows, m->dim);
    }
    uint64_t offset = total;
    for (size_t i = 0; i < m->n_shards && st == EP_OK; i++) {
        ep_output_shard shard;
        st = ep_output_read_shard(r, i, EP_OUTPUT_VECTORS, &shard, err);
        size_t bytes = st == EP_OK ? shard.n_rows * (size_t)m->dim * 2 : 0;
        uint8_t *have = st == EP_OK ? malloc(bytes ? bytes : 1) : NULL;
        if (st == EP_OK && !have) st = ep_error_set(err, EP_ERR_NOMEM, "out of memory");
        if (st == EP_OK &&
            (pread(fd, have, bytes, (off_t)offset) != (ssize_t)bytes || memcmp(have, shard.rows, bytes) != 0))
            st = ep_error_set(err, EP_ERR_MISMATCH, "%s differs from %s (rows from %" PRIu64 "): a stale export; "
                              "export again (embedpipe export) or remove it", path, m->shards[i].name,
                              (offset - total) / ((uint64_t)m->dim * 2));
        offset += bytes;
        free(have);
        ep_output_shard_free(&shard);
    }
    close(fd);
    return st;
}

/* vectors.ndjson, an export: one line per row of the run. */
static ep_status check_export_ndjson(const char *dir, const ep_manifest *m, ep_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/vectors.ndjson", dir);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return ep_error_set(err, EP_ERR_MISMATCH, "%s: cannot open: %s", path, strerror(errno));
    uint64_t lines = 0, want = 0;
    for (size_t i = 0; i < m->n_shards; i++) want += m->shards[i].rows;
    char buf[1 << 16];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        for (ssize_t i = 0; i < n; i++) lines += buf[i] == '\n';
    close(fd);
    if (n < 0) return ep_error_set(err, EP_ERR_IO, "%s: read error: %s", path, strerror(errno));
    if (lines != want)
        return ep_error_set(err, EP_ERR_MISMATCH, "%s holds %" PRIu64 " lines but the run holds %" PRIu64 " rows: a "
                            "stale export; export again (embedpipe export) or remove it", path, lines, want);
    return EP_OK;
}

/* @return true when name is one of the shard or ids files the manifest lists. */
static bool listed_shard_file(const ep_manifest *m, const char *name) {
    for (size_t i = 0; i < m->n_shards; i++)
        if (strcmp(name, m->shards[i].name) == 0 || strcmp(name, m->shards[i].ids_name) == 0) return true;
    return false;
}

/* Everything in the folder must be the run's: its listed files (regular files,
 * never links), the lock file, an export that matches the run, and (only while
 * the run is unfinished) the temporaries of a killed write. */
static ep_status check_folder_contents(const char *dir, ep_output_reader *r, const ep_manifest *m, ep_error *err) {
    DIR *d = opendir(dir);
    if (!d) return ep_error_set(err, EP_ERR_IO, "cannot list %s: %s", dir, strerror(errno));
    char foreign[768] = "";
    size_t n_foreign = 0, used = 0;
    ep_status st = EP_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && st == EP_OK) {
        const char *name = e->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strcmp(name, EP_FOLDER_LOCK_NAME) == 0) continue;
        char path[4352];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        struct stat sb;
        bool regular = lstat(path, &sb) == 0 && S_ISREG(sb.st_mode);
        bool temp = name[0] == '.';
        bool ours = strcmp(name, MANIFEST_NAME) == 0 || strcmp(name, ERRORS_FILE) == 0 || listed_shard_file(m, name);
        if (ours && !regular) {
            st = ep_error_set(err, EP_ERR_MISMATCH, "%s is not a regular file (a symbolic link?): a run writes its "
                              "files in the folder itself and never through links", path);
        } else if (ours || (temp && !m->complete && (ep_output_is_run_file(name) || ep_output_is_export_file(name)))) {
            continue;
        } else if (!temp && regular && strcmp(name, "vectors.npy") == 0) {
            st = check_export_npy(dir, r, m, err);
        } else if (!temp && regular && strcmp(name, "vectors.ndjson") == 0) {
            st = check_export_ndjson(dir, m, err);
        } else {
            if (n_foreign < 8 && used + strlen(name) + 3 < sizeof foreign)
                used += (size_t)snprintf(foreign + used, sizeof foreign - used, "%s%s", n_foreign ? ", " : "", name);
            n_foreign++;
        }
    }
    closedir(d);
    if (st == EP_OK && n_foreign)
        st = ep_error_set(err, EP_ERR_MISMATCH, "%s holds %zu file%s that the run did not write: %s%s (an output "
                          "folder holds only what embedpipe writes; move %s elsewhere)", dir, n_foreign,
                          n_foreign == 1 ? "" : "s", foreign, n_foreign > 8 ? ", ..." : "",
                          n_foreign == 1 ? "it" : "them");
    return st;
}

ep_status ep_manifest_check_layout(const char *dir, const ep_manifest *m, ep_error *err) {
    uint64_t next_row = 0, total = 0;
    long long last_number = -1;
    for (size_t i = 0; i < m->n_shards; i++) {
        const ep_shard_info *s = &m->shards[i];
        ep_status st = check_layout(dir, m, i, last_number, next_row, err);
        if (st != EP_OK) return st;
        last_number = shard_number(s->name, s->ids_name);
        next_row = s->first_row + s->rows;
        total += s->rows;
    }
    if (total != m->records_embedded)
        return ep_error_set(err, EP_ERR_MISMATCH, "%s/manifest.json: the shards hold %" PRIu64 " rows but "
                            "counts.embedded is %" PRIu64, dir, total, m->records_embedded);
    return EP_OK;
}

ep_status ep_output_verify(const char *dir, ep_error *err) {
    /* The same checked reader the tools use: every file's size and SHA-256,
     * the shapes it claims bounded by the manifest before anything is
     * allocated for them. */
    ep_output_reader *r;
    ep_status st = ep_output_open(dir, &r, err);
    if (st != EP_OK) return st;
    const ep_manifest *m = ep_output_manifest(r);
    for (size_t i = 0; i < m->n_shards && st == EP_OK; i++) {
        ep_output_shard s;
        st = ep_output_read_shard(r, i, EP_OUTPUT_VECTORS | EP_OUTPUT_IDS, &s, err);
        ep_output_shard_free(&s);
    }
    if (st == EP_OK) st = check_errors_file(dir, m, err);
    if (st == EP_OK) st = check_folder_contents(dir, r, m, err);
    ep_output_close(r);
    return st;
}

/* @return true for a final run-file name (no temporary). */
static bool is_final_run_name(const char *name, size_t len) {
    if ((len == strlen(MANIFEST_NAME) && memcmp(name, MANIFEST_NAME, len) == 0) ||
        (len == strlen(ERRORS_FILE) && memcmp(name, ERRORS_FILE, len) == 0))
        return true;
    if (len < 6 || memcmp(name, "shard-", 6) != 0) return false;
    size_t digits = 0;
    while (6 + digits < len && name[6 + digits] >= '0' && name[6 + digits] <= '9') digits++;
    if (digits < 5 || digits > 9) return false;
    const char *rest = name + 6 + digits;
    size_t rest_len = len - 6 - digits;
    return (rest_len == 8 && memcmp(rest, ".npy.zst", 8) == 0) ||
           (rest_len == 15 && memcmp(rest, ".ids.ndjson.zst", 15) == 0);
}

/* @return true for name, or its temporary ".name.tmp", where final(name) holds. */
static bool is_name_or_temp(const char *name, bool (*final)(const char *, size_t)) {
    size_t len = strlen(name);
    if (final(name, len)) return true;
    return len > 5 && name[0] == '.' && strcmp(name + len - 4, ".tmp") == 0 && final(name + 1, len - 5);
}

static bool is_final_export_name(const char *name, size_t len) {
    return (len == 11 && memcmp(name, "vectors.npy", 11) == 0) ||
           (len == 14 && memcmp(name, "vectors.ndjson", 14) == 0);
}

bool ep_output_is_run_file(const char *name) { return is_name_or_temp(name, is_final_run_name); }

bool ep_output_is_export_file(const char *name) { return is_name_or_temp(name, is_final_export_name); }
