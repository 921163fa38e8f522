/* verify.c - checking an output folder against its manifest (ep_output_verify,
 * ep_manifest_check_layout) and telling the folder's own files from others'.
 * Reading and writing manifest.json is manifest.c. */
#include "derived.h"
#include "manifest.h"
#include "manifest_internal.h"

#include "folder_lock.h"
#include "npy.h"
#include "output_reader.h"
#include "shard.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include <sys/stat.h>
#include <unistd.h>

/* "shard-NNNNN.npy.zst" and "shard-NNNNN.ids.ndjson.zst" with the same
 * number of at least five digits. @return the shard number, or -1. */
long long ep_manifest_shard_number(const char *name, const char *ids_name) {
    const char *p = name;
    if (strncmp(p, "shard-", 6) != 0) return -1;
    p += 6;
    size_t digits = strspn(p, "0123456789");
    if (digits < 5 || digits > 9 || strcmp(p + digits, ".npy.zst") != 0) return -1;
    if (strncmp(ids_name, name, 6 + digits) != 0 || strcmp(ids_name + 6 + digits, ".ids.ndjson.zst") != 0) return -1;
    return strtoll(p, NULL, 10);
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
    const long long number = ep_manifest_shard_number(s->name, s->ids_name);
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
    ep_derived_index derived;
    ep_status st = ep_derived_index_read(dir, &derived, err);
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
        } else if (!temp && regular && ep_output_is_derived_file(name) &&
                   (strcmp(name, EP_DERIVED_INDEX) == 0 || ep_derived_listed(&derived, name))) {
            continue; /* checked against derived.json below */
        } else {
            if (n_foreign < 8 && used + strlen(name) + 3 < sizeof foreign)
                used += (size_t)snprintf(foreign + used, sizeof foreign - used, "%s%s", n_foreign ? ", " : "", name);
            n_foreign++;
        }
    }
    closedir(d);
    ep_derived_index_clear(&derived);
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
        last_number = ep_manifest_shard_number(s->name, s->ids_name);
        next_row = s->first_row + s->rows;
        total += s->rows;
    }
    if (total != m->records_embedded)
        return ep_error_set(err, EP_ERR_MISMATCH, "%s/manifest.json: the shards hold %" PRIu64 " rows but "
                            "counts.embedded is %" PRIu64, dir, total, m->records_embedded);
    return EP_OK;
}

/* The stored texts against the rest of their lines: present exactly when run.text says so, and each
 * the text that was embedded (its XXH3 is the line's "hash"), so an edited text is caught even when
 * the ids file's checksum in manifest.json was edited to match. */
static ep_status check_texts(const char *dir, const ep_manifest *m, const ep_output_shard *s, ep_error *err) {
    for (size_t k = 0; k < s->n_rows; k++) {
        const ep_row_meta *row = &s->meta[k];
        if (!row->text != !m->run.text)
            return ep_error_set(err, EP_ERR_MISMATCH, "%s/%s line %zu: %s, but manifest.json says run.text is %s",
                                dir, s->info->ids_name, k + 1, row->text ? "holds a text" : "holds no text",
                                m->run.text ? "true" : "false");
        if (row->text && XXH3_64bits(row->text, strlen(row->text)) != row->text_hash)
            return ep_error_set(err, EP_ERR_MISMATCH, "%s/%s line %zu: the stored text is not the text embedded "
                                "(its XXH3-64 is not the line's hash %016" PRIx64 "): the file was edited",
                                dir, s->info->ids_name, k + 1, row->text_hash);
    }
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
        if (st == EP_OK) st = check_texts(dir, m, &s, err);
        ep_output_shard_free(&s);
    }
    if (st == EP_OK) st = check_errors_file(dir, m, err);
    if (st == EP_OK) st = check_folder_contents(dir, r, m, err);
    if (st == EP_OK) st = ep_derived_verify(dir, m, err);
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
