/* manifest_read.c - reading manifest.json back strictly: every field present
 * and typed, the message naming the field; integers up to 2^53 (see
 * manifest.c). */
#include "manifest.h"
#include "manifest_internal.h"

#include "read_file.h"
#include "sha256.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


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

/* The optional keys of the families after MiniLM (absent in a MiniLM folder and in older versions). */
static ep_status read_model_head(reader *r, const cJSON *model, ep_manifest *m) {
    ep_status st = EP_OK;
    uint64_t v;
    bool module = true;
    if (cJSON_HasObjectItem(model, "normalize_module") &&
        !(st = get_bool(r, model, "model.", "normalize_module", &module)))
        m->no_normalize_module = !module;
    if (!st && cJSON_HasObjectItem(model, "truncate_dim") &&
        !(st = get_uint(r, model, "model.", "truncate_dim", 1, INT32_MAX, &v))) {
        m->truncate_dim = (int)v;
        if (m->truncate_dim != m->dim) st = field_error(r, "model.", "truncate_dim", "must equal model.dim");
    }
    if (!st && cJSON_HasObjectItem(model, "dense_sha256")) st = get_sha(r, model, "model.", "dense_sha256", m->dense_sha256);
    if (!st && cJSON_HasObjectItem(model, "prompt"))
        st = get_string(r, model, "model.", "prompt", m->prompt, sizeof m->prompt);
    if (!st && cJSON_HasObjectItem(model, "prompt_name"))
        st = get_string(r, model, "model.", "prompt_name", m->prompt_name, sizeof m->prompt_name);
    return st;
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
    if (!st && !ep_manifest_pooling_valid(m->pooling))
        st = field_error(r, "model.", "pooling", "must be sentence-transformers' pooling modes joined by \"+\"");
    if (!st) st = get_bool(r, model, "model.", "normalized", &m->normalized);
    if (!st) st = get_uint(r, model, "model.", "max_seq_length", 1, INT32_MAX, &v);
    if (!st) m->max_seq_length = (int)v;
    if (!st) st = read_model_head(r, model, m);
    const cJSON *device = cJSON_GetObjectItemCaseSensitive(model, "device");
    if (!st && device) {
        if (!cJSON_IsString(device) || strcmp(device->valuestring, "null") != 0)
            st = field_error(r, "model.", "device", "must be \"null\" when present");
        else
            m->null_device = true;
    }
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
        if (!st && ep_manifest_shard_number(s->name, s->ids_name) < 0)
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
    // Absent in older versions: no text, no fields, no cleaning.
    if (!st && cJSON_GetObjectItemCaseSensitive(run, "text")) st = get_bool(r, run, "run.", "text", &u->text);
    if (!st && cJSON_GetObjectItemCaseSensitive(run, "keep")) st = get_string(r, run, "run.", "keep", u->keep, sizeof u->keep);
    if (!st && cJSON_GetObjectItemCaseSensitive(run, "clean"))
        st = get_string(r, run, "run.", "clean", u->clean, sizeof u->clean);
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
    const cJSON *compute = cJSON_GetObjectItemCaseSensitive(root, "compute"); /* absent in older folders: "" */
    if (!st && compute) st = get_typed(r, root, "", "compute", false, &compute);
    if (!st && compute) st = get_string(r, compute, "compute.", "precision", m->precision, sizeof m->precision);
    if (!st && compute && cJSON_GetObjectItemCaseSensitive(compute, "kernels"))
        st = get_string(r, compute, "compute.", "kernels", m->kernels, sizeof m->kernels);
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
