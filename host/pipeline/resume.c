/*
 * resume.c - what an output folder already holds, and what this run does with
 * it: start fresh, resume an interrupted run of the same job after its last
 * complete shard, leave a complete one alone, or refuse a different one.
 */
#include "resume.h"
#include "setting_names.h"

#include "atomic_file.h"
#include "byte_source.h"
#include "derived.h"

#include <xxhash.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Removes the files a run (or an export into the folder) writes, by their
 * exact names only: a user's shard-notes.txt or shard-00000.npy.zst.bak stays.
 * With keep != NULL, only those not named in it (and all temporaries): an
 * export of the interrupted run is stale once the run goes on. unlink never
 * follows a link, so a planted one is removed, not what it points to. */
static ep_status remove_run_files(const char *dir, const ep_manifest *keep, bool *found_any, ep_error *err) {
    DIR *d = opendir(dir);
    if (!d) return ep_error_set(err, EP_ERR_IO, "cannot list output folder %s: %s", dir, strerror(errno));
    struct dirent *e;
    ep_status st = EP_OK;
    while ((e = readdir(d)) != NULL && st == EP_OK) {
        if (!ep_output_is_run_file(e->d_name) && !ep_output_is_export_file(e->d_name) &&
            !ep_output_is_derived_file(e->d_name))
            continue;
        // Temporaries are a killed write's leftovers, never a finished file: always removable.
        if (found_any && e->d_name[0] != '.') {
            *found_any = true;
            continue;
        }
        if (keep) {
            if (strcmp(e->d_name, "manifest.json") == 0 || strcmp(e->d_name, "errors.ndjson") == 0) continue;
            bool named = false;
            for (size_t i = 0; i < keep->n_shards && !named; i++)
                named = strcmp(e->d_name, keep->shards[i].name) == 0 || strcmp(e->d_name, keep->shards[i].ids_name) == 0;
            if (named) continue;
        }
        char path[4352];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (unlink(path) != 0) st = ep_error_set(err, EP_ERR_IO, "cannot remove %s: %s", path, strerror(errno));
    }
    closedir(d);
    return st;
}

void ep_pipeline_model_fields(const ep_pipeline *p, ep_manifest *m) {
    const ep_run_options *o = p->opt;
    const ep_model *model = p->model;
    const ep_model_config *c = &model->config;
    snprintf(m->model_name, sizeof m->model_name, "%s", c->name);
    snprintf(m->model_sha256, sizeof m->model_sha256, "%s", c->weights_sha256);
    snprintf(m->dense_sha256, sizeof m->dense_sha256, "%s", c->dense_sha256);
    m->dim = ep_model_output_dim(model);
    m->truncate_dim = m->dim < ep_model_full_dim(c) ? m->dim : 0;
    ep_model_pooling_string(c, m->pooling, sizeof m->pooling);
    // Zero rows are not unit vectors, and a folder of them must never pass for embeddings.
    m->null_device = !o->backend && o->device && strcmp(o->device, "null") == 0;
    m->normalized = ep_model_normalizes(model) && !m->null_device;
    m->no_normalize_module = !c->normalize && !m->null_device;
    snprintf(m->prompt, sizeof m->prompt, "%s", p->prompt ? p->prompt : "");
    snprintf(m->prompt_name, sizeof m->prompt_name, "%s", p->prompt_name ? p->prompt_name : "");
    m->max_seq_length = p->max_len;
}

ep_status ep_pipeline_manifest(const ep_pipeline *p, const ep_shard_info *shards, size_t n_shards,
                               uint64_t records_read, uint64_t rows, uint64_t rejected, uint64_t next_row,
                               bool complete, ep_manifest **out, ep_error *err) {
    const ep_run_options *o = p->opt;
    ep_manifest *m = calloc(1, sizeof *m);
    if (!m) return ep_error_set(err, EP_ERR_NOMEM, "out of memory");
    *out = m;
    snprintf(m->tool_version, sizeof m->tool_version, "%s", EP_VERSION_STRING);
    ep_pipeline_model_fields(p, m);
    snprintf(m->dtype, sizeof m->dtype, "float16");
    if (p->backend) { /* NULL for the first manifest of a fresh run, written before the backend exists */
        snprintf(m->precision, sizeof m->precision, "%s", p->backend->precision);
        snprintf(m->kernels, sizeof m->kernels, "%s", p->backend->kernels);
    }
    snprintf(m->text_path, sizeof m->text_path, "%s", o->text_path ? o->text_path : "");
    snprintf(m->id_path, sizeof m->id_path, "%s", o->id_path ? o->id_path : "");
    m->inputs = calloc(o->n_inputs ? o->n_inputs : 1, sizeof *m->inputs);
    m->shards = malloc(sizeof *m->shards * (n_shards ? n_shards : 1));
    if (!m->inputs || !m->shards) return ep_error_set(err, EP_ERR_NOMEM, "out of memory");
    m->n_inputs = o->n_inputs;
    for (size_t i = 0; i < o->n_inputs; i++) {
        if (!(m->inputs[i].path = strdup(o->inputs[i]))) return ep_error_set(err, EP_ERR_NOMEM, "out of memory");
        snprintf(m->inputs[i].format, sizeof m->inputs[i].format, "%s", ep_input_format_name(p->formats[i]));
        m->inputs[i].size = p->input_sizes[i];
        const ep_manifest_input *stamp = &p->input_stamps[i];
        if (stamp->abs_path && !(m->inputs[i].abs_path = strdup(stamp->abs_path)))
            return ep_error_set(err, EP_ERR_NOMEM, "out of memory");
        m->inputs[i].mtime_sec = stamp->mtime_sec;
        m->inputs[i].mtime_nsec = stamp->mtime_nsec;
        if (p->damage) m->inputs[i].damage = p->damage[i];
    }
    if (n_shards) memcpy(m->shards, shards, sizeof *shards * n_shards);
    m->n_shards = n_shards;
    m->records_read = records_read;
    m->records_embedded = rows;
    m->records_rejected = rejected;
    m->complete = complete;
    m->run.shard_rows = p->rows_per_shard;
    m->run.part_index = o->part_count > 1 ? o->part_index : 0;
    m->run.part_count = o->part_count > 1 ? o->part_count : 1;
    snprintf(m->run.format, sizeof m->run.format, "%s", ep_input_format_name(o->format));
    m->run.max_record_bytes = o->max_record_bytes;
    m->run.next_record = records_read;
    m->run.next_row = next_row;
    m->run.errors_bytes = p->errors_bytes;
    m->run.skip_blank = o->skip_blank;
    m->run.text = !o->no_text;
    snprintf(m->run.keep, sizeof m->run.keep, "%s", o->keep ? o->keep : "");
    ep_clean_name(p->clean, m->run.clean, sizeof m->run.clean);
    return EP_OK;
}

/* @return EP_OK when dir/name is absent or a regular file; EP_ERR_MISMATCH for a link or anything else. */
static ep_status check_regular(const char *dir, const char *name, ep_error *err) {
    char path[4352];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct stat sb;
    if (lstat(path, &sb) != 0 || S_ISREG(sb.st_mode)) return EP_OK;
    return ep_error_set(err, EP_ERR_MISMATCH, "%s is %s, not a file embedpipe wrote; embedpipe never writes through "
                        "links in its output folder: remove it (or pass %s, which removes the link, not "
                        "what it points to), or choose another %s folder",
                        path, S_ISLNK(sb.st_mode) ? "a symbolic link" : "not a regular file",
                        ep_setting_name(EP_SETTING_OVERWRITE), ep_setting_name(EP_SETTING_OUT_DIR));
}

ep_status ep_input_prefix_hash(const char *path, uint64_t n, char hex[17], ep_error *err) {
    ep_byte_source *src = NULL;
    ep_status st = ep_byte_source_open(path, &src, err);
    if (st != EP_OK) return st;
    XXH3_state_t *h = XXH3_createState();
    unsigned char *buf = malloc(1u << 16);
    if (!h || !buf) st = ep_error_set(err, EP_ERR_NOMEM, "out of memory hashing %s", path);
    if (st == EP_OK) XXH3_64bits_reset(h);
    uint64_t left = n;
    while (st == EP_OK && left > 0) {
        size_t got = 0;
        st = ep_byte_source_read(src, buf, left < (1u << 16) ? (size_t)left : (1u << 16), &got, err);
        if (st == EP_OK && got == 0)
            st = ep_error_set(err, EP_ERR_MISMATCH, "%s holds fewer than %llu bytes", path, (unsigned long long)n);
        if (st == EP_OK) XXH3_64bits_update(h, buf, got);
        left -= got;
    }
    if (st == EP_OK) snprintf(hex, 17, "%016llx", (unsigned long long)XXH3_64bits_digest(h));
    XXH3_freeState(h);
    free(buf);
    ep_byte_source_free(src);
    return st;
}

/* @return true when input i was recorded damaged in theirs and its file changed since (size or mtime). */
static bool damaged_and_changed(const ep_pipeline *p, const ep_manifest *theirs, size_t i) {
    const ep_manifest_damage *d = &theirs->inputs[i].damage;
    return d->present && (theirs->inputs[i].size != p->input_sizes[i] || d->mtime_s != (int64_t)p->input_mtimes[i].tv_sec ||
                          d->mtime_ns != (int32_t)p->input_mtimes[i].tv_nsec);
}

/* Input `first` was damaged and has changed: if its bytes before the damage are the same, theirs goes back
 * to the checkpoint recorded before the damage (shards after it are dropped by the caller, the rest is
 * read again); otherwise the run is refused. */
static ep_status rewind_to_damage(ep_pipeline *p, ep_manifest *theirs, size_t first, ep_error *err) {
    const char *dir = p->opt->out_dir;
    const ep_manifest_damage d = theirs->inputs[first].damage;
    const char *path = theirs->inputs[first].path;
    char now[17] = "";
    ep_error e = {0};
    ep_status st = d.prefix_xxh3[0] ? ep_input_prefix_hash(path, d.byte, now, &e) : EP_ERR_MISMATCH;
    if (st == EP_ERR_MISMATCH || (st == EP_OK && strcmp(now, d.prefix_xxh3) != 0))
        return ep_error_set(err, EP_ERR_MISMATCH,
                            "%s was damaged at byte %llu when %s was written, and has changed since before that "
                            "byte too: the rows already embedded from it are not those of the file now. Pass "
                            "%s to embed everything again, or write to a new folder with %s %s to "
                            "copy the rows that did not change",
                            path, (unsigned long long)d.byte, dir, ep_setting_name(EP_SETTING_OVERWRITE),
                            ep_setting_name(EP_SETTING_REUSE), dir);
    if (st != EP_OK) {
        if (err) *err = e;
        return ep_error_prefix(err, "%s was damaged and changed since; reading it again failed", path);
    }
    if (d.resume_shards > theirs->n_shards || d.resume_next_record > theirs->run.next_record)
        return ep_error_set(err, EP_ERR_FORMAT, "%s/manifest.json: the damage checkpoint of %s is past the run's end; "
                            "pass %s", dir, path, ep_setting_name(EP_SETTING_OVERWRITE));
    theirs->n_shards = d.resume_shards;
    theirs->complete = false;
    theirs->records_read = theirs->run.next_record = d.resume_next_record;
    theirs->run.next_row = d.resume_next_row;
    theirs->run.errors_bytes = d.resume_errors_bytes;
    theirs->records_embedded = d.resume_embedded;
    theirs->records_rejected = d.resume_rejected;
    // The folder says where it stands before anything after that point is removed; the damage records stay in
    // it, so that a run killed now goes back to the same point again.
    return ep_manifest_write(dir, theirs, err);
}

/* A folder without manifest.json: refused if it holds a run's files, else marked as this run's
 * (mine) before anything else is written. @return EP_OK, EP_ERR_MISMATCH, or an I/O error. */
static ep_status start_fresh(const char *dir, const ep_manifest *mine, ep_error *err) {
    bool found = false;
    ep_status st = remove_run_files(dir, NULL, &found, err);
    if (st == EP_OK && found)
        st = ep_error_set(err, EP_ERR_MISMATCH,
                          "%s holds files a run or an export writes (shards, errors.ndjson, vectors.npy) but "
                          "no manifest.json; pass %s to replace them, or choose another %s folder",
                          dir, ep_setting_name(EP_SETTING_OVERWRITE), ep_setting_name(EP_SETTING_OUT_DIR));
    // A fresh run marks the folder as its own before writing anything else.
    if (st == EP_OK) st = ep_manifest_write(dir, mine, err);
    return st;
}

/* Compares the folder's run (theirs) with this one (mine); a damaged input that changed since sends
 * theirs back to the checkpoint before its damage. @return EP_OK, EP_ERR_MISMATCH for a different run,
 * or the error of going back. */
static ep_status check_same_job(ep_pipeline *p, ep_manifest *theirs, const ep_manifest *mine, ep_error *err) {
    const char *dir = p->opt->out_dir;
    char why[1024];
    if (ep_manifest_same_job(theirs, mine, EP_JOB_MODEL | EP_JOB_READING | EP_JOB_KEPT | EP_JOB_PART | EP_JOB_DAMAGED_MAY_CHANGE,
                             why, sizeof why))
        return ep_error_set(err, EP_ERR_MISMATCH,
                            "%s holds a different run (the folder's vs this run's: %s). Pass %s to replace it, or choose another %s "
                            "folder",
                            dir, why, ep_setting_name(EP_SETTING_OVERWRITE), ep_setting_name(EP_SETTING_OUT_DIR));
    ep_status st = EP_OK;
    // A damaged input that changed (repaired, say) sends the run back to the checkpoint before its damage.
    for (size_t i = 0; i < theirs->n_inputs && st == EP_OK; i++) {
        if (!damaged_and_changed(p, theirs, i)) continue;
        st = rewind_to_damage(p, theirs, i, err);
        if (st == EP_OK)
            ep_pipeline_say(p, EP_EVENT_NOTICE, "%s changed since it was found damaged; going back to the "
                            "checkpoint before the damage (record %llu) to read the rest",
                            theirs->inputs[i].path, (unsigned long long)theirs->run.next_record);
        break;
    }
    // Damage found before the resume point stays true of this run (the input is unchanged).
    for (size_t i = 0; i < theirs->n_inputs && st == EP_OK; i++)
        if (theirs->inputs[i].damage.present && theirs->inputs[i].damage.record < theirs->run.next_record)
            p->damage[i] = theirs->inputs[i].damage;
    return st;
}

/* Cuts errors.ndjson back to the interrupted run's checkpoint. @return EP_OK, EP_ERR_MISMATCH when
 * it is not a regular file or shorter than recorded, or EP_ERR_IO. */
static ep_status truncate_errors(const char *dir, const ep_manifest *theirs, ep_error *err) {
    char path[4352];
    snprintf(path, sizeof path, "%s/errors.ndjson", dir);
    ep_status st = EP_OK;
    // Opened once, never through a link (checked before, and O_NOFOLLOW closes the gap since).
    int efd = open(path, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat es;
    uint64_t have = efd >= 0 && fstat(efd, &es) == 0 ? (uint64_t)es.st_size : 0;
    if (efd < 0 && errno != ENOENT) st = ep_error_set(err, EP_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    if (st == EP_OK && efd >= 0 && !S_ISREG(es.st_mode))
        st = ep_error_set(err, EP_ERR_MISMATCH, "%s is not a regular file; remove it", path);
    if (st == EP_OK && have < theirs->run.errors_bytes)
        st = ep_error_set(err, EP_ERR_MISMATCH,
                          "%s is shorter (%llu bytes) than the manifest records (%llu); pass %s",
                          path, (unsigned long long)have, (unsigned long long)theirs->run.errors_bytes,
                          ep_setting_name(EP_SETTING_OVERWRITE));
    // Drop what the interrupted run wrote after its last checkpoint.
    if (st == EP_OK && efd >= 0 && ftruncate(efd, (off_t)theirs->run.errors_bytes) != 0)
        st = ep_error_set(err, EP_ERR_IO, "cannot truncate %s: %s", path, strerror(errno));
    if (efd >= 0) close(efd);
    return st;
}

/* Makes the folder hold exactly the interrupted run's checkpoint (theirs), checking that it still does.
 * @return EP_OK, EP_ERR_USAGE when the run read standard input, EP_ERR_MISMATCH when the folder
 * changed since, or EP_ERR_IO. */
static ep_status prepare_resume(ep_pipeline *p, const ep_manifest *theirs, ep_error *err) {
    const ep_run_options *o = p->opt;
    const char *dir = o->out_dir;
    ep_status st = EP_OK;
    for (size_t i = 0; i < o->n_inputs && st == EP_OK; i++)
        if (strcmp(o->inputs[i], "-") == 0)
            st = ep_error_set(err, EP_ERR_USAGE,
                              "%s holds an interrupted run that read standard input, which cannot be read "
                              "again; pass %s to start over",
                              dir, ep_setting_name(EP_SETTING_OVERWRITE));
    if (st == EP_OK) st = truncate_errors(dir, theirs, err);
    if (st == EP_OK) st = remove_run_files(dir, theirs, NULL, err);
    for (size_t i = 0; i < theirs->n_shards && st == EP_OK; i++) {
        char path[4352];
        struct stat ss;
        snprintf(path, sizeof path, "%s/%s", dir, theirs->shards[i].name);
        if (lstat(path, &ss) != 0 || !S_ISREG(ss.st_mode) || (uint64_t)ss.st_size != theirs->shards[i].bytes)
            st = ep_error_set(err, EP_ERR_MISMATCH,
                              "%s is missing, not a regular file, or has the wrong size: the folder was "
                              "changed since the interrupted run; pass %s to start over",
                              path, ep_setting_name(EP_SETTING_OVERWRITE));
    }
    return st;
}

ep_status ep_resume_prepare(ep_pipeline *p, ep_error *err) {
    const ep_run_options *o = p->opt;
    const char *dir = o->out_dir;
    ep_status st = ep_make_dirs(dir, err);
    if (st != EP_OK) return st;
    if (o->overwrite) {
        st = remove_run_files(dir, NULL, NULL, err);
        if (st != EP_OK) return st;
    }
    st = check_regular(dir, "manifest.json", err);
    if (st == EP_OK) st = check_regular(dir, "errors.ndjson", err);
    if (st != EP_OK) return st;
    ep_manifest *mine = NULL;
    st = ep_pipeline_manifest(p, NULL, 0, 0, 0, 0, 0, false, &mine, err);
    if (st != EP_OK) {
        ep_manifest_free(mine);
        return st;
    }
    char path[4352];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    struct stat ms;
    if (lstat(path, &ms) != 0) {
        st = start_fresh(dir, mine, err);
        ep_manifest_free(mine);
        return st;
    }
    ep_manifest *theirs = NULL;
    st = ep_manifest_read(dir, &theirs, err);
    if (st != EP_OK) {
        ep_manifest_free(mine);
        return ep_error_prefix(err, "%s holds an unreadable manifest (pass %s to replace the run)", dir,
                               ep_setting_name(EP_SETTING_OVERWRITE));
    }
    // An explicit --precision is what this run will record: a folder computed in another is refused now,
    // finished or not. (Not in the manifest a fresh run writes first: a refused precision must not stay
    // behind in the folder. auto is compared once the backend has resolved it, in pipeline.c.)
    const char *asked = p->opt->precision;
    if (asked && *asked && strcmp(asked, "auto") != 0) snprintf(mine->precision, sizeof mine->precision, "%s", asked);
    st = check_same_job(p, theirs, mine, err);
    if (st == EP_OK && theirs->complete) {
        p->already_complete = true;
        p->checkpoint = theirs; /* its counts say whether that run embedded anything */
        theirs = NULL;
    } else if (st == EP_OK && (st = prepare_resume(p, theirs, err)) == EP_OK) {
        p->start_seq = theirs->run.next_record;
        p->start_row = theirs->run.next_row;
        p->errors_bytes = theirs->run.errors_bytes;
        p->checkpoint = theirs;
        theirs = NULL;
    }
    ep_manifest_free(theirs);
    ep_manifest_free(mine);
    return st;
}
