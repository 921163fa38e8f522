/* output_reader.c - the output reader (output_reader.h), the one gate through
 * which the tools read an output folder: every file's SHA-256 and size, its
 * place in the manifest and the sizes its contents claim are checked against
 * the manifest before a byte of it is handed out or a buffer sized for it. */
#include "output_reader.h"

#include "manifest.h"
#include "sha256.h"
#include "shard_read_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>


#define PATH_CAP 4352

struct ep_output_reader {
    char *dir;
    ep_manifest *m;
};

ep_status ep_output_open(const char *dir, ep_output_reader **out, ep_error *err) {
    *out = NULL;
    ep_output_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->dir = strdup(dir))) {
        free(r);
        return ep_error_set(err, EP_ERR_NOMEM, "out of memory");
    }
    ep_status st = ep_manifest_read(dir, &r->m, err);
    if (st == EP_OK) st = ep_manifest_check_layout(dir, r->m, err);
    if (st != EP_OK) {
        ep_output_close(r);
        return st;
    }
    *out = r;
    return EP_OK;
}

const ep_manifest *ep_output_manifest(const ep_output_reader *r) { return r->m; }

size_t ep_output_shard_of_row(const ep_output_reader *r, uint64_t row) {
    /* The layout check made first_row increase with the index. */
    const ep_manifest *m = r->m;
    size_t lo = 0, hi = m->n_shards;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->shards[mid].first_row + m->shards[mid].rows <= row) lo = mid + 1;
        else hi = mid;
    }
    return lo < m->n_shards && m->shards[lo].first_row <= row ? lo : SIZE_MAX;
}

/* @return the columns --keep adds (its paths, and six for "default"). */
static uint64_t kept_columns(const char *keep) {
    uint64_t n = 0;
    for (const char *p = keep; *p;) {
        size_t len = strcspn(p, ",");
        size_t lead = strspn(p, " ");
        if (len > lead) n += (len - lead >= 7 && strncmp(p + lead, "default", 7) == 0) ? 6 : 1;
        p += len + (p[len] == ',');
    }
    return n;
}

/* The longest ids line a row of this run can make. The id, the text and each
 * kept value come from one record (max_record_bytes) and are escaped at worst
 * as \u00XX (6 bytes a byte; the writer stores a longer kept value as null);
 * add the column names and the five small keys. */
static uint64_t max_ids_line(const ep_manifest *m) {
    uint64_t record = m->run.max_record_bytes ? m->run.max_record_bytes : 1u << 20;
    uint64_t values = 1 + (m->run.text ? 1 : 0) + kept_columns(m->run.keep);
    if (record > (UINT64_MAX / 2) / 6 / values) return UINT64_MAX;
    return record * 6 * values + 6 * (uint64_t)strlen(m->run.keep) + 64 * values + 512;
}

ep_status ep_output_check_shard_files(const ep_output_reader *r, size_t i, unsigned what, ep_error *err) {
    const ep_shard_info *s = &r->m->shards[i];
    char path[PATH_CAP];
    for (int k = 0; k < 2; k++) {
        if (!(what & (k ? EP_OUTPUT_IDS : EP_OUTPUT_VECTORS))) continue;
        snprintf(path, sizeof path, "%s/%s", r->dir, k ? s->ids_name : s->name);
        struct stat sb;
        if (stat(path, &sb) != 0)
            return ep_error_set(err, EP_ERR_IO, "%s is missing (manifest.json lists it): %s", path, strerror(errno));
        if (!k && (uint64_t)sb.st_size != s->bytes)
            return ep_error_set(err, EP_ERR_MISMATCH, "%s is %" PRIu64 " bytes but manifest.json says %" PRIu64
                                " (truncated, replaced or swapped with another shard?)", path, (uint64_t)sb.st_size,
                                s->bytes);
        char sha[65];
        ep_status st = ep_sha256_file(path, sha, err);
        if (st != EP_OK) return st;
        const char *want = k ? s->ids_sha256 : s->sha256;
        if (strcmp(sha, want) != 0)
            return ep_error_set(err, EP_ERR_MISMATCH, "%s: SHA-256 %s does not match manifest.json (%s): the file was "
                                "changed, corrupted or swapped with another shard after it was written", path, sha,
                                want);
    }
    return EP_OK;
}

ep_status ep_output_read_shard(ep_output_reader *r, size_t i, unsigned what, ep_output_shard *out, ep_error *err) {
    memset(out, 0, sizeof *out);
    const ep_manifest *m = r->m;
    if (i >= m->n_shards) return ep_error_set(err, EP_ERR_USAGE, "%s: no shard %zu", r->dir, i);
    const ep_shard_info *s = &m->shards[i];
    char path[PATH_CAP];
    ep_status st = EP_OK;
    if (what & EP_OUTPUT_VECTORS) {
        snprintf(path, sizeof path, "%s/%s", r->dir, s->name);
        zfile_check check = {s->bytes, s->sha256, "manifest.json"};
        size_t n = 0;
        int dim = 0;
        st = ep_shard_read_checked(path, &check, s->rows, (uint64_t)m->dim, &out->rows, &n, &dim, err);
        if (st == EP_OK && (n != s->rows || dim != m->dim)) /* shard_read checked it; kept as a guard */
            st = ep_error_set(err, EP_ERR_MISMATCH, "%s holds %zu rows of width %d but manifest.json says %" PRIu64
                              " rows of width %d", path, n, dim, s->rows, m->dim);
    }
    if (st == EP_OK && (what & EP_OUTPUT_IDS)) {
        snprintf(path, sizeof path, "%s/%s", r->dir, s->ids_name);
        zfile_check check = {0, s->ids_sha256, "manifest.json"};
        size_t n = 0;
        st = ep_shard_read_ids_checked(path, &check, s->rows, max_ids_line(m), &out->meta, &n, err);
        if (st == EP_OK && n != s->rows)
            st = ep_error_set(err, EP_ERR_MISMATCH, "%s has %zu lines but manifest.json says %" PRIu64 " rows", path,
                              n, s->rows);
        if (st != EP_OK) {
            ep_shard_ids_free(out->meta, n);
            out->meta = NULL;
        }
    }
    if (st != EP_OK) {
        free(out->rows);
        memset(out, 0, sizeof *out);
        return st;
    }
    out->info = s;
    out->n_rows = (size_t)s->rows;
    return EP_OK;
}

void ep_output_shard_free(ep_output_shard *s) {
    if (!s) return;
    free(s->rows);
    ep_shard_ids_free(s->meta, s->meta ? s->n_rows : 0);
    memset(s, 0, sizeof *s);
}

void ep_output_close(ep_output_reader *r) {
    if (!r) return;
    ep_manifest_free(r->m);
    free(r->dir);
    free(r);
}
