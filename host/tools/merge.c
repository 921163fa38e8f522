/*
 * merge.c - joins the parts of a `--part I/N` job (see merge.h).
 *
 * The checks run before anything is written, so a refused merge leaves the
 * output folder as it was; the manifest is written last, so an interrupted
 * merge leaves shards but no manifest, which the same merge run again
 * replaces (a scheduler may simply retry it).
 */
#include "merge.h"
#include "setting_names.h"

#include "atomic_file.h"
#include "folder_lock.h"
#include "manifest.h"
#include "output_reader.h"
#include "sha256.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ERRORS_FILE "errors.ndjson"
#define PATH_CAP 4352

typedef struct part {
    const char *dir;       /* as given */
    ep_manifest *m;
    char errors_sha[65];   /* of errors.ndjson ("" when the file is absent and empty by the manifest) */
} part;

// ----------------------------------------------------------------------------
// Checking the parts

/* What every part of one job agrees on (ep_manifest_same_job): the part itself differs. */
#define MERGE_SAME_JOB (EP_JOB_MODEL | EP_JOB_WRITER | EP_JOB_READING | EP_JOB_KEPT | EP_JOB_INPUT_FORMATS)

/* Every part reads all records, so these must agree even though each part embeds only its shards. */
static const char *count_difference(const ep_manifest *a, const ep_manifest *b, char *why, size_t cap) {
#define DIFF_U(field, what)                                                                         \
    if (a->field != b->field) {                                                                     \
        snprintf(why, cap, "%s: %llu vs %llu (the inputs were read differently: did they change "   \
                 "between the parts' runs?)", what, (unsigned long long)a->field,                   \
                 (unsigned long long)b->field);                                                     \
        return why;                                                                                 \
    }
    DIFF_U(records_read, "records read");
    DIFF_U(records_rejected, "records rejected");
    DIFF_U(run.next_record, "run.next_record");
    DIFF_U(run.next_row, "rows in the whole job (run.next_row)");
    DIFF_U(run.errors_bytes, "the size of errors.ndjson (run.errors_bytes)");
#undef DIFF_U
    return NULL;
}

/* Hashes p->dir/errors.ndjson and checks its size against the manifest. */
static ep_status hash_errors(part *p, ep_error *err) {
    char path[PATH_CAP];
    snprintf(path, sizeof path, "%s/%s", p->dir, ERRORS_FILE);
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT && p->m->run.errors_bytes == 0) { /* nothing was ever rejected */
            ep_sha256_hex("", 0, p->errors_sha);
            return EP_OK;
        }
        return ep_error_set(err, EP_ERR_IO, "part %s: cannot read %s: %s", p->dir, path, strerror(errno));
    }
    if ((uint64_t)st.st_size != p->m->run.errors_bytes)
        return ep_error_set(err, EP_ERR_MISMATCH, "part %s: %s is %llu bytes but its manifest records %llu "
                            "(changed after the run?)", p->dir, path, (unsigned long long)st.st_size,
                            (unsigned long long)p->m->run.errors_bytes);
    ep_status s = ep_sha256_file(path, p->errors_sha, err);
    return s == EP_OK ? EP_OK : ep_error_prefix(err, "part %s", p->dir);
}

/* Without the full verify: the manifest's layout, and each shard and ids
 * file with its recorded size and SHA-256 (read, not decompressed), so that
 * a changed or swapped shard is never linked into the merged folder. */
static ep_status check_shard_files(const part *p, ep_error *err) {
    ep_output_reader *r = NULL;
    ep_status st = ep_output_open(p->dir, &r, err);
    for (size_t i = 0; st == EP_OK && i < ep_output_manifest(r)->n_shards; i++)
        st = ep_output_check_shard_files(r, i, EP_OUTPUT_VECTORS | EP_OUTPUT_IDS, err);
    ep_output_close(r);
    if (st == EP_ERR_IO) { /* a part lacking a file it lists is a damaged part, as verify reports it */
        st = EP_ERR_MISMATCH;
        if (err) err->code = st;
    }
    return st == EP_OK ? EP_OK : ep_error_prefix(err, "part %s is damaged (re-run it with %s)", p->dir,
                                                 ep_setting_name(EP_SETTING_OVERWRITE));
}

/* Each part index 0..count-1 given exactly once. @return EP_OK, EP_ERR_MISMATCH naming the twice-given or
 * the missing parts, EP_ERR_NOMEM. */
static ep_status check_part_indexes(const part *parts, size_t n, int count, ep_error *err) {
    ep_status st = EP_OK;
    const char **by_index = calloc((size_t)count, sizeof *by_index);
    if (!by_index) return ep_error_set(err, EP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n && st == EP_OK; i++) {
        int k = parts[i].m->run.part_index;
        if (by_index[k])
            st = ep_error_set(err, EP_ERR_MISMATCH, "%s and %s are both part %d of %d: give each part once",
                              by_index[k], parts[i].dir, k, count);
        by_index[k] = parts[i].dir;
    }
    if (st == EP_OK) {
        char missing[256] = "";
        int n_missing = 0;
        for (int k = 0; k < count; k++) {
            if (by_index[k]) continue;
            if (n_missing++ < 16) {
                size_t len = strlen(missing);
                snprintf(missing + len, sizeof missing - len, "%s%d", len ? ", " : "", k);
            }
        }
        if (n_missing)
            st = ep_error_set(err, EP_ERR_MISMATCH, "the job has %d parts but %d %s missing: part%s %s%s (each is "
                              "the folder of one `embed %s I/%d` run)", count, n_missing,
                              n_missing == 1 ? "is" : "are", n_missing == 1 ? "" : "s", missing,
                              n_missing > 16 ? ", ..." : "", ep_setting_name(EP_SETTING_PART), count);
    }
    free(by_index);
    return st;
}

/* The same errors.ndjson in every part, and every part's shards sound: verified in full, or (skip_verify)
 * present with their recorded sizes. @return EP_OK, EP_ERR_MISMATCH naming the part. */
static ep_status check_part_files(part *parts, size_t n, const ep_merge_options *o, ep_error *err) {
    ep_status st = EP_OK;
    for (size_t i = 0; i < n && st == EP_OK; i++) {
        st = hash_errors(&parts[i], err);
        if (st == EP_OK && strcmp(parts[i].errors_sha, parts[0].errors_sha) != 0)
            st = ep_error_set(err, EP_ERR_MISMATCH, "parts %s and %s have different errors.ndjson files; every part "
                              "reads all records, so they must be identical (changed inputs, or a folder edited?)",
                              parts[0].dir, parts[i].dir);
    }
    for (size_t i = 0; i < n && st == EP_OK; i++) {
        if (o->skip_verify) {
            st = check_shard_files(&parts[i], err);
        } else if ((st = ep_output_verify(parts[i].dir, err)) != EP_OK) {
            // A malformed shard is a damaged part, as `embedpipe verify` reports it.
            if (st == EP_ERR_FORMAT) {
                st = EP_ERR_MISMATCH;
                if (err) err->code = st;
            }
            ep_error_prefix(err, "part %s is damaged (re-run it with %s)", parts[i].dir,
                            ep_setting_name(EP_SETTING_OVERWRITE));
        }
    }
    return st;
}

static ep_status check_parts(part *parts, size_t n, const ep_merge_options *o, ep_error *err) {
    char why[768];
    for (size_t i = 0; i < n; i++) {
        ep_status st = ep_manifest_read(parts[i].dir, &parts[i].m, err);
        if (st != EP_OK) return ep_error_prefix(err, "part %s", parts[i].dir);
        const ep_manifest *m = parts[i].m;
        if (!m->complete)
            return ep_error_set(err, EP_ERR_MISMATCH, "part %s (part %d of %d) is not complete: its run was "
                                "interrupted or is still going; run its embed command again to finish it",
                                parts[i].dir, m->run.part_index, m->run.part_count);
    }
    const ep_manifest *first = parts[0].m;
    for (size_t i = 1; i < n; i++)
        if (ep_manifest_same_job(first, parts[i].m, MERGE_SAME_JOB, why, sizeof why))
            return ep_error_set(err, EP_ERR_MISMATCH, "parts %s and %s come from different jobs: %s", parts[0].dir,
                                parts[i].dir, why);
    const int count = first->run.part_count;
    for (size_t i = 1; i < n; i++)
        if (parts[i].m->run.part_count != count)
            return ep_error_set(err, EP_ERR_MISMATCH, "part %s is part %d of %d but %s is part %d of %d: all parts "
                                "must come from the same %s I/N split", parts[0].dir, first->run.part_index,
                                count, parts[i].dir, parts[i].m->run.part_index, parts[i].m->run.part_count,
                                ep_setting_name(EP_SETTING_PART));
    if ((size_t)count > n && count > 4096) /* too many to list (and a table for them is pointless) */
        return ep_error_set(err, EP_ERR_MISMATCH, "the job has %d parts but only %zu are given: give every part "
                            "folder 0..%d", count, n, count - 1);
    ep_status st = check_part_indexes(parts, n, count, err);
    if (st != EP_OK) return st;
    for (size_t i = 1; i < n; i++)
        if (count_difference(first, parts[i].m, why, sizeof why))
            return ep_error_set(err, EP_ERR_MISMATCH, "parts %s and %s disagree on %s", parts[0].dir, parts[i].dir,
                                why);
    return check_part_files(parts, n, o, err);
}

static int cmp_first_row(const void *a, const void *b) {
    const ep_shard_info *x = *(const ep_shard_info *const *)a, *y = *(const ep_shard_info *const *)b;
    return x->first_row < y->first_row ? -1 : x->first_row > y->first_row;
}

/* The shards of all parts in row order, with the part folder of each; they
 * must tile rows 0..next_row exactly as one run's shards do. */
static ep_status collect_shards(const part *parts, size_t n, ep_shard_info **out, const char ***dirs,
                                size_t *n_out, ep_error *err) {
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += parts[i].m->n_shards;
    const ep_shard_info **order = malloc(sizeof *order * (total ? total : 1));
    ep_shard_info *shards = malloc(sizeof *shards * (total ? total : 1));
    const char **from = malloc(sizeof *from * (total ? total : 1));
    if (!order || !shards || !from) {
        free(order);
        free(shards);
        free(from);
        return ep_error_set(err, EP_ERR_NOMEM, "out of memory");
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < parts[i].m->n_shards; j++) order[k++] = &parts[i].m->shards[j];
    qsort(order, total, sizeof *order, cmp_first_row);
    const ep_manifest *m = parts[0].m;
    const uint64_t per = m->run.shard_rows;
    uint64_t next = 0;
    ep_status st = EP_OK;
    for (k = 0; k < total && st == EP_OK; k++) {
        shards[k] = *order[k];
        // Which part it came from: pointer ranges, since order[] points into the parts' arrays.
        for (size_t i = 0; i < n; i++)
            if (order[k] >= parts[i].m->shards && order[k] < parts[i].m->shards + parts[i].m->n_shards)
                from[k] = parts[i].dir;
        char want[64];
        snprintf(want, sizeof want, "shard-%05zu.npy.zst", k);
        if (strcmp(shards[k].name, want) != 0 || shards[k].first_row != next)
            st = ep_error_set(err, EP_ERR_MISMATCH, "part %s: %s starts at row %llu, but the shards before it end at "
                              "row %llu and the next shard should be %s", from[k], shards[k].name,
                              (unsigned long long)shards[k].first_row, (unsigned long long)next, want);
        else if (per && k + 1 < total && shards[k].rows != per)
            st = ep_error_set(err, EP_ERR_MISMATCH, "part %s: %s has %llu rows; every shard but the last has %llu",
                              from[k], shards[k].name, (unsigned long long)shards[k].rows, (unsigned long long)per);
        next = shards[k].first_row + shards[k].rows;
    }
    if (st == EP_OK && next != m->run.next_row)
        st = ep_error_set(err, EP_ERR_MISMATCH, "the parts' shards hold rows 0..%llu but the job has %llu rows: a "
                          "part's shards are missing", (unsigned long long)next, (unsigned long long)m->run.next_row);
    free(order);
    if (st != EP_OK) {
        free(shards);
        free(from);
        return st;
    }
    *out = shards;
    *dirs = from;
    *n_out = total;
    return EP_OK;
}

// ----------------------------------------------------------------------------
// Writing the merged folder

/* @return true when name is a file this merge writes (or its temporary). */
static bool planned(const ep_manifest *plan, const char *name) {
    if (name[0] == '.') return true;
    if (strcmp(name, ERRORS_FILE) == 0) return true;
    for (size_t k = 0; k < plan->n_shards; k++)
        if (strcmp(name, plan->shards[k].name) == 0 || strcmp(name, plan->shards[k].ids_name) == 0) return true;
    return false;
}

/* @return true when out_dir holds exactly the merge described by plan: same
 * manifest content, every shard present with its size, errors.ndjson the same. */
static bool already_merged(const char *out_dir, const ep_manifest *plan, const char *errors_sha) {
    ep_manifest *have = NULL;
    if (ep_manifest_read(out_dir, &have, NULL) != EP_OK) return false;
    char why[768];
    bool same = have->complete && have->run.part_count == 1 && have->n_shards == plan->n_shards &&
                have->records_embedded == plan->records_embedded && !ep_manifest_same_job(have, plan, MERGE_SAME_JOB, why, sizeof why) &&
                !count_difference(have, plan, why, sizeof why);
    for (size_t k = 0; same && k < plan->n_shards; k++) {
        const ep_shard_info *a = &have->shards[k], *b = &plan->shards[k];
        same = strcmp(a->name, b->name) == 0 && strcmp(a->sha256, b->sha256) == 0 &&
               strcmp(a->ids_sha256, b->ids_sha256) == 0 && a->rows == b->rows && a->first_row == b->first_row;
    }
    ep_manifest_free(have);
    if (!same) return false;
    part p = {.dir = out_dir, .m = (ep_manifest *)plan};
    ep_error ignored;
    return check_shard_files(&p, &ignored) == EP_OK && hash_errors(&p, &ignored) == EP_OK &&
           strcmp(p.errors_sha, errors_sha) == 0;
}

/* Gets out_dir ready for the merge described by plan. Takes the folder's lock
 * (*lock, held until the merge ends: one writer per folder). Refuses a folder
 * that is one of the parts or holds another output (unless overwrite); finds a
 * folder that holds this very merge (*done); clears what an interrupted merge
 * left (files this merge writes, but no manifest). */
static ep_status prepare_out(const ep_merge_options *o, const part *parts, size_t n, const ep_manifest *plan,
                             bool *done, ep_folder_lock **lock, ep_error *err) {
    *done = false;
    ep_status st = ep_make_dirs(o->out_dir, err);
    if (st == EP_OK) st = ep_folder_lock_create(o->out_dir, lock, err);
    if (st != EP_OK) return st;
    struct stat out_st, part_st;
    if (stat(o->out_dir, &out_st) != 0)
        return ep_error_set(err, EP_ERR_IO, "cannot read output folder %s: %s", o->out_dir, strerror(errno));
    for (size_t i = 0; i < n; i++)
        if (stat(parts[i].dir, &part_st) == 0 && part_st.st_dev == out_st.st_dev && part_st.st_ino == out_st.st_ino)
            return ep_error_set(err, EP_ERR_USAGE, "the output folder %s is the part folder %s: choose another %s",
                                o->out_dir, parts[i].dir, ep_setting_name(EP_SETTING_OUT_DIR));
    char path[PATH_CAP];
    snprintf(path, sizeof path, "%s/manifest.json", o->out_dir);
    const bool has_manifest = access(path, F_OK) == 0;
    if (has_manifest && !o->overwrite) {
        if (already_merged(o->out_dir, plan, parts[0].errors_sha)) {
            *done = true;
            return EP_OK;
        }
        return ep_error_set(err, EP_ERR_MISMATCH, "%s already holds another output: pass %s to replace it, "
                            "or choose another %s",
                            o->out_dir, ep_setting_name(EP_SETTING_OVERWRITE), ep_setting_name(EP_SETTING_OUT_DIR));
    }
    DIR *d = opendir(o->out_dir);
    if (!d) return ep_error_set(err, EP_ERR_IO, "cannot list output folder %s: %s", o->out_dir, strerror(errno));
    struct dirent *e;
    while ((e = readdir(d)) != NULL && st == EP_OK) {
        // Exact names only (a user's shard-notes.txt stays); an earlier export is stale once OUT changes.
        if (!ep_output_is_run_file(e->d_name) && !ep_output_is_export_file(e->d_name)) continue;
        if (!o->overwrite && !planned(plan, e->d_name)) {
            st = ep_error_set(err, EP_ERR_MISMATCH, "%s holds %s, which this merge would not write, and no "
                              "manifest.json: pass %s to replace it, or choose another %s",
                              o->out_dir, e->d_name, ep_setting_name(EP_SETTING_OVERWRITE),
                              ep_setting_name(EP_SETTING_OUT_DIR));
            break;
        }
        snprintf(path, sizeof path, "%s/%s", o->out_dir, e->d_name);
        if (unlink(path) != 0) st = ep_error_set(err, EP_ERR_IO, "cannot remove %s: %s", path, strerror(errno));
    }
    closedir(d);
    return st;
}

/* Copies src to out_dir/name atomically; the copy's SHA-256 must be want_sha (when given). */
static ep_status copy_file(const char *src, const char *out_dir, const char *name, const char *want_sha,
                           ep_error *err) {
    int fd = open(src, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ep_error_set(err, EP_ERR_IO, "cannot open %s: %s", src, strerror(errno));
    enum { BUF = 1 << 20 };
    char *buf = malloc(BUF);
    ep_atomic_file f;
    memset(&f, 0, sizeof f);
    f.fd = -1;
    ep_status st = buf ? ep_atomic_file_open(&f, out_dir, name, err) : ep_error_set(err, EP_ERR_NOMEM, "out of memory");
    while (st == EP_OK) {
        ssize_t got = read(fd, buf, BUF);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) st = ep_error_set(err, EP_ERR_IO, "cannot read %s: %s", src, strerror(errno));
        if (got <= 0) break;
        st = ep_atomic_file_write(&f, buf, (size_t)got, err);
    }
    close(fd);
    free(buf);
    char sha[65];
    if (st == EP_OK) st = ep_atomic_file_commit(&f, sha, err);
    else ep_atomic_file_abort(&f);
    if (st == EP_OK && want_sha && strcmp(sha, want_sha) != 0)
        st = ep_error_set(err, EP_ERR_MISMATCH, "%s changed while it was copied (SHA-256 %s, its manifest says %s)",
                          src, sha, want_sha);
    return st;
}

/* A hard link when src and out_dir share a filesystem (shards are never
 * modified in place, only replaced by rename, so sharing the inode is safe);
 * a copy otherwise. */
static ep_status place_file(const char *src_dir, const char *name, const char *want_sha, const ep_merge_options *o,
                            bool *linked, ep_error *err) {
    char src[PATH_CAP], dst[PATH_CAP];
    snprintf(src, sizeof src, "%s/%s", src_dir, name);
    snprintf(dst, sizeof dst, "%s/%s", o->out_dir, name);
    *linked = false;
    if (!o->copy) {
        if (link(src, dst) == 0) {
            *linked = true;
            return EP_OK;
        }
        if (errno != EXDEV && errno != EPERM && errno != EMLINK && errno != ENOTSUP && errno != EOPNOTSUPP &&
            errno != ENOSYS)
            return ep_error_set(err, EP_ERR_IO, "cannot link %s to %s: %s", src, dst, strerror(errno));
    }
    return copy_file(src, o->out_dir, name, want_sha, err);
}

static ep_status write_out(const ep_merge_options *o, const part *parts, const ep_manifest *plan, const char **from,
                           ep_merge_summary *sum, ep_error *err) {
    ep_status st = EP_OK;
    for (size_t k = 0; k < plan->n_shards && st == EP_OK; k++) {
        const ep_shard_info *s = &plan->shards[k];
        bool linked = false, ids_linked = false;
        st = place_file(from[k], s->name, s->sha256, o, &linked, err);
        if (st == EP_OK) st = place_file(from[k], s->ids_name, s->ids_sha256, o, &ids_linked, err);
        if (st == EP_OK) {
            sum->linked += linked;
            sum->copied += !linked;
        }
    }
    // errors.ndjson is copied, not linked: a later run in a part folder could append to it.
    char src[PATH_CAP];
    snprintf(src, sizeof src, "%s/%s", parts[0].dir, ERRORS_FILE);
    if (st == EP_OK) {
        if (access(src, F_OK) == 0) {
            st = copy_file(src, o->out_dir, ERRORS_FILE, parts[0].errors_sha, err);
        } else { /* absent and empty by the manifest: a single run still writes an empty file */
            ep_atomic_file f;
            st = ep_atomic_file_open(&f, o->out_dir, ERRORS_FILE, err);
            if (st == EP_OK) st = ep_atomic_file_commit(&f, NULL, err);
        }
    }
    if (st == EP_OK) st = ep_manifest_write(o->out_dir, plan, err);
    if (st == EP_OK) st = ep_fsync_dir(o->out_dir, err); /* the links */
    return st;
}

ep_status ep_merge(const ep_merge_options *o, ep_merge_summary *summary, ep_error *err) {
    ep_merge_summary local;
    if (!summary) summary = &local;
    memset(summary, 0, sizeof *summary);
    if (!o || !o->out_dir || !*o->out_dir) return ep_error_set(err, EP_ERR_USAGE, "merge: no output folder (%s OUT)",
                                                               ep_setting_name(EP_SETTING_OUT_DIR));
    if (o->n_parts == 0 || !o->parts) return ep_error_set(err, EP_ERR_USAGE, "merge: no part folders given");
    part *parts = calloc(o->n_parts, sizeof *parts);
    if (!parts) return ep_error_set(err, EP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < o->n_parts; i++) parts[i].dir = o->parts[i];

    ep_shard_info *shards = NULL;
    const char **from = NULL;
    size_t n_shards = 0;
    bool done = false;
    ep_folder_lock *lock = NULL;
    ep_status st = check_parts(parts, o->n_parts, o, err);
    if (st == EP_OK) st = collect_shards(parts, o->n_parts, &shards, &from, &n_shards, err);
    if (st == EP_OK) {
        // What a single run writes: the parts' manifest (they agree) with all shards, as part 0 of 1.
        ep_manifest plan = *parts[0].m;
        plan.shards = shards;
        plan.n_shards = n_shards;
        plan.records_embedded = 0;
        for (size_t k = 0; k < n_shards; k++) plan.records_embedded += shards[k].rows;
        plan.run.part_index = 0;
        plan.run.part_count = 1;
        st = prepare_out(o, parts, o->n_parts, &plan, &done, &lock, err);
        if (st == EP_OK && !done) st = write_out(o, parts, &plan, from, summary, err);
        summary->rows = plan.records_embedded;
    }
    if (st == EP_OK) {
        summary->already_merged = done;
        summary->part_count = parts[0].m->run.part_count;
        summary->shards = n_shards;
        summary->records_read = parts[0].m->records_read;
        summary->records_rejected = parts[0].m->records_rejected;
    }
    ep_folder_lock_free(lock);
    free(shards);
    free(from);
    for (size_t i = 0; i < o->n_parts; i++) ep_manifest_free(parts[i].m);
    free(parts);
    return st;
}
