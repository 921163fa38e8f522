/* manifest.c - writing manifest.json: cJSON in a fixed key order, replaced
 * atomically. 64-bit counts are written as exact decimal integers, but cJSON
 * parses numbers into doubles, so reading (manifest_read.c) accepts integers
 * up to 2^53 only; writing refuses larger values so that every manifest
 * written can be read. 2^53 rows is far beyond any real run. */
#include "manifest.h"
#include "manifest_internal.h"

#include "atomic_file.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Writing */

bool ep_manifest_pooling_valid(const char *pooling) {
    static const char *const modes[] = {"mean", "cls", "max", "mean_sqrt_len_tokens", "weightedmean", "lasttoken"};
    const char *p = pooling;
    do {
        const size_t len = strcspn(p, "+");
        bool known = false;
        for (size_t i = 0; i < sizeof modes / sizeof modes[0] && !known; i++)
            known = strlen(modes[i]) == len && strncmp(p, modes[i], len) == 0;
        if (!known) return false;
        p += len;
    } while (*p++ == '+');
    return true;
}

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
    if (!ep_manifest_pooling_valid(m->pooling))
        return BAD("pooling must be sentence-transformers' mode names joined by \"+\", got \"%s\"", m->pooling);
    if (m->dense_sha256[0] && !ep_sha256_is_hex(m->dense_sha256))
        return BAD("dense_sha256 must be 64 lowercase hex digits");
    if (m->truncate_dim && m->truncate_dim != m->dim) return BAD("truncate_dim %d is not dim %d", m->truncate_dim, m->dim);
    if (m->dtype[0] && strcmp(m->dtype, "float16") != 0) return BAD("dtype must be \"float16\", got \"%s\"", m->dtype);
    if (m->n_inputs && !m->inputs) return BAD("n_inputs is %zu but inputs is NULL", m->n_inputs);
    for (size_t i = 0; i < m->n_inputs; i++)
        if (!m->inputs[i].path) return BAD("inputs[%zu].path is NULL", i);
    if (m->n_shards && !m->shards) return BAD("n_shards is %zu but shards is NULL", m->n_shards);
    for (size_t i = 0; i < m->n_shards; i++) {
        const ep_shard_info *s = &m->shards[i];
        if (ep_manifest_shard_number(s->name, s->ids_name) < 0)
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

/* Adds item under key to obj, unless an earlier step failed (ok false). cJSON_AddItemTo* fails (and
 * does not take ownership) only for a NULL item, i.e. after a failed allocation. */
#define ADD(obj, key, item) ok = ok && cJSON_AddItemToObject((obj), (key), (item))

/* Adds an input's "damage" object (where it was found damaged, and the checkpoint before it).
 * @return false when out of memory. */
static bool add_damage(cJSON *in, const ep_manifest_damage *d) {
    bool ok = true;
    cJSON *dj = cJSON_CreateObject();
    ADD(in, "damage", dj);
    if (!ok) return false;
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
    return ok;
}

/* Adds the "inputs" array. @return false when out of memory. */
static bool add_inputs(cJSON *root, const ep_manifest *m) {
    bool ok = true;
    cJSON *inputs = cJSON_CreateArray();
    ADD(root, "inputs", inputs);
    for (size_t i = 0; ok && i < m->n_inputs; i++) {
        const ep_manifest_input *input = &m->inputs[i];
        cJSON *in = cJSON_CreateObject();
        ok = ok && cJSON_AddItemToArray(inputs, in);
        ADD(in, "path", cJSON_CreateString(input->path));
        ADD(in, "format", cJSON_CreateString(input->format));
        ADD(in, "size", exact_uint(input->size));
        if (input->abs_path) {
            ADD(in, "abs_path", cJSON_CreateString(input->abs_path));
            ADD(in, "mtime_sec", exact_uint(input->mtime_sec));
            ADD(in, "mtime_nsec", exact_uint(input->mtime_nsec));
        }
        if (ok && input->damage.present) ok = add_damage(in, &input->damage);
    }
    return ok;
}

/* Adds the "shards" array. @return false when out of memory. */
static bool add_shards(cJSON *root, const ep_manifest *m) {
    bool ok = true;
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
    return ok;
}

/* Adds the "run" object (how the rows were cut, and where an interrupted run resumes).
 * @return false when out of memory. */
static bool add_run(cJSON *root, const ep_manifest *m) {
    bool ok = true;
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
        ADD(run, "text", cJSON_CreateBool(m->run.text));
        ADD(run, "keep", cJSON_CreateString(m->run.keep));
        ADD(run, "clean", cJSON_CreateString(m->run.clean));
    }
    return ok;
}

/* @return the manifest's JSON, its keys in the fixed order, or NULL when out of memory. */
static cJSON *build_json(const ep_manifest *m) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    bool ok = true;
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
        /* What the families after MiniLM add, each only when it applies: a MiniLM folder keeps its bytes. */
        if (m->no_normalize_module) ADD(model, "normalize_module", cJSON_CreateFalse());
        if (m->truncate_dim) ADD(model, "truncate_dim", cJSON_CreateNumber(m->truncate_dim));
        if (m->dense_sha256[0]) ADD(model, "dense_sha256", cJSON_CreateString(m->dense_sha256));
        if (m->prompt[0]) ADD(model, "prompt", cJSON_CreateString(m->prompt));
        if (m->prompt_name[0]) ADD(model, "prompt_name", cJSON_CreateString(m->prompt_name));
        // Only a null run says so: every other manifest keeps its bytes.
        if (m->null_device) ADD(model, "device", cJSON_CreateString("null"));
    }
    ADD(root, "dtype", cJSON_CreateString("float16"));
    if (m->precision[0]) {
        cJSON *compute = cJSON_CreateObject();
        ADD(root, "compute", compute);
        if (ok) {
            ADD(compute, "precision", cJSON_CreateString(m->precision));
            ADD(compute, "kernels", cJSON_CreateString(m->kernels));
        }
    }
    ADD(root, "text_path", cJSON_CreateString(m->text_path));
    ADD(root, "id_path", cJSON_CreateString(m->id_path));
    ok = ok && add_inputs(root, m) && add_shards(root, m);
    cJSON *counts = cJSON_CreateObject();
    ADD(root, "counts", counts);
    if (ok) {
        ADD(counts, "read", exact_uint(m->records_read));
        ADD(counts, "embedded", exact_uint(m->records_embedded));
        ADD(counts, "rejected", exact_uint(m->records_rejected));
    }
    ADD(root, "complete", cJSON_CreateBool(m->complete));
    ADD(root, "errors_file", cJSON_CreateString(ERRORS_FILE));
    ok = ok && add_run(root, m);
    if (!ok) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}
#undef ADD

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
