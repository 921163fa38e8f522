/* derived.c - the files computed from a finished run (related, cluster) and their index; see derived.h. */
#include "derived.h"

#include "atomic_file.h"
#include "sha256.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

static const char *const DERIVED_NAMES[] = {
    EP_DERIVED_INDEX,          "related-rows.npy.zst",   "related-scores.npy.zst", "cluster-labels.npy.zst",
    "cluster-scores.npy.zst", "cluster-centroids.npy.zst", "cluster-report.json",
    "map-xy.npy.zst",
};
#define N_DERIVED_NAMES (sizeof DERIVED_NAMES / sizeof DERIVED_NAMES[0])

bool ep_output_is_derived_file(const char *name) {
    size_t len = strlen(name);
    for (size_t i = 0; i < N_DERIVED_NAMES; i++) {
        size_t n = strlen(DERIVED_NAMES[i]);
        if (len == n && memcmp(name, DERIVED_NAMES[i], n) == 0) return true;
        if (len == n + 5 && name[0] == '.' && memcmp(name + 1, DERIVED_NAMES[i], n) == 0 &&
            strcmp(name + len - 4, ".tmp") == 0)
            return true;
    }
    return false;
}

void ep_derived_run_digest(const ep_manifest *m, char hex[65]) {
    ep_sha256 ctx;
    ep_sha256_init(&ctx);
    for (size_t i = 0; i < m->n_shards; i++) {
        char line[512];
        int n = snprintf(line, sizeof line, "%s %" PRIu64 " %" PRIu64 " %s %s\n", m->shards[i].name,
                         m->shards[i].first_row, m->shards[i].rows, m->shards[i].sha256, m->shards[i].ids_sha256);
        ep_sha256_update(&ctx, line, (size_t)n);
    }
    ep_sha256_final_hex(&ctx, hex);
}

/* The .npy v1.0 preamble + header of an int32 / float32 array, padded to 64 bytes. @return its length. */
static size_t npy_header(char *buf, size_t cap, char kind, uint64_t rows, uint64_t cols) {
    char dict[160];
    int n = cols ? snprintf(dict, sizeof dict, "{'descr': '<%c4', 'fortran_order': False, 'shape': (%" PRIu64 ", %"
                            PRIu64 "), }", kind, rows, cols)
                 : snprintf(dict, sizeof dict, "{'descr': '<%c4', 'fortran_order': False, 'shape': (%" PRIu64 ",), }",
                            kind, rows);
    size_t total = (10 + (size_t)n + 1 + 63) / 64 * 64;
    if (total > cap) return 0;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (char)((total - 10) & 0xff);
    buf[9] = (char)((total - 10) >> 8);
    memset(buf + 10, ' ', total - 10);
    memcpy(buf + 10, dict, (size_t)n);
    buf[total - 1] = '\n';
    return total;
}

/* Writes dir/name atomically and describes it in out (name, bytes, SHA-256). @return EP_OK or the write's error. */
static ep_status write_file(const char *dir, const char *name, const void *data, size_t len, ep_derived_file *out,
                            ep_error *err) {
    ep_atomic_file f = {.fd = -1};
    ep_status st = ep_atomic_file_open(&f, dir, name, err);
    if (st == EP_OK) st = ep_atomic_file_write(&f, data, len, err);
    if (st == EP_OK) {
        memset(out, 0, sizeof *out);
        snprintf(out->name, sizeof out->name, "%s", name);
        out->bytes = f.bytes;
        st = ep_atomic_file_commit(&f, out->sha256, err);
    }
    ep_atomic_file_abort(&f);
    return st;
}

/* Compresses src into one zstd frame with its content checksum and commits it as dir/name. */
static ep_status write_compressed(const char *dir, const char *name, const void *src, size_t len, ep_derived_file *out,
                                  ep_error *err) {
    size_t cap = ZSTD_compressBound(len);
    void *dst = malloc(cap ? cap : 1);
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    if (!dst || !cctx) {
        free(dst);
        ZSTD_freeCCtx(cctx);
        return ep_error_set(err, EP_ERR_NOMEM, "out of memory writing %s/%s", dir, name);
    }
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 3);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
    size_t z = ZSTD_compress2(cctx, dst, cap, src, len);
    ZSTD_freeCCtx(cctx);
    ep_status st = EP_OK;
    if (ZSTD_isError(z)) st = ep_error_set(err, EP_ERR_IO, "%s/%s: zstd: %s", dir, name, ZSTD_getErrorName(z));
    if (st == EP_OK) st = write_file(dir, name, dst, z, out, err);
    free(dst);
    return st;
}

ep_status ep_derived_write_array(const char *dir, const ep_derived_array *a, ep_derived_file *out, ep_error *err) {
    char head[256];
    size_t h = npy_header(head, sizeof head, a->kind, a->rows, a->cols);
    size_t data_bytes = (size_t)a->rows * (size_t)(a->cols ? a->cols : 1) * 4;
    uint8_t *buf = malloc(h + data_bytes);
    if (!buf) return ep_error_set(err, EP_ERR_NOMEM, "out of memory writing %s/%s", dir, a->name);
    memcpy(buf, head, h);
    if (data_bytes) memcpy(buf + h, a->data, data_bytes);
    ep_status st = write_compressed(dir, a->name, buf, h + data_bytes, out, err);
    free(buf);
    return st;
}

ep_status ep_derived_write_text(const char *dir, const char *name, const char *text, ep_derived_file *out,
                                ep_error *err) {
    return write_file(dir, name, text, strlen(text), out, err);
}

/* Reads the whole regular file path (never through a link) into a malloc'd, NUL-terminated buffer. */
static ep_status read_whole(const char *path, char **out, size_t *len, ep_error *err) {
    *out = NULL;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return ep_error_set(err, EP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return ep_error_set(err, EP_ERR_IO, "%s: not a regular file", path);
    }
    char *buf = malloc((size_t)sb.st_size + 1);
    if (!buf) {
        close(fd);
        return ep_error_set(err, EP_ERR_NOMEM, "out of memory reading %s", path);
    }
    size_t got = 0;
    while (got < (size_t)sb.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(fd);
    if (got != (size_t)sb.st_size) {
        free(buf);
        return ep_error_set(err, EP_ERR_IO, "%s: short read", path);
    }
    buf[got] = 0;
    *out = buf;
    *len = got;
    return EP_OK;
}

void ep_derived_index_clear(ep_derived_index *idx) {
    if (!idx) return;
    for (size_t i = 0; i < idx->n_settings; i++) free(idx->settings[i]);
    memset(idx, 0, sizeof *idx);
}

ep_status ep_derived_index_read(const char *dir, ep_derived_index *out, ep_error *err) {
    memset(out, 0, sizeof *out);
    char path[4352];
    snprintf(path, sizeof path, "%s/%s", dir, EP_DERIVED_INDEX);
    struct stat sb;
    if (lstat(path, &sb) != 0 && errno == ENOENT) return EP_OK;
    char *text = NULL;
    size_t len = 0;
    ep_status st = read_whole(path, &text, &len, err);
    if (st != EP_OK) return st;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    const cJSON *digest = cJSON_GetObjectItemCaseSensitive(root, "run_digest");
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(root, "files");
    const cJSON *settings = cJSON_GetObjectItemCaseSensitive(root, "settings");
    if (!cJSON_IsString(digest) || strlen(digest->valuestring) != 64 || !cJSON_IsArray(files)) {
        cJSON_Delete(root);
        return ep_error_set(err, EP_ERR_FORMAT, "%s: not an embedpipe derived.json (needs run_digest and files); "
                            "remove it and run related / cluster again", path);
    }
    snprintf(out->run_digest, sizeof out->run_digest, "%s", digest->valuestring);
    const cJSON *f;
    cJSON_ArrayForEach(f, files) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(f, "name");
        const cJSON *by = cJSON_GetObjectItemCaseSensitive(f, "by");
        const cJSON *bytes = cJSON_GetObjectItemCaseSensitive(f, "bytes");
        const cJSON *sha = cJSON_GetObjectItemCaseSensitive(f, "sha256");
        if (out->n_files == EP_DERIVED_MAX_FILES || !cJSON_IsString(name) || !cJSON_IsString(by) ||
            !cJSON_IsNumber(bytes) || !cJSON_IsString(sha) || strlen(sha->valuestring) != 64 ||
            !ep_output_is_derived_file(name->valuestring) || name->valuestring[0] == '.' ||
            strcmp(name->valuestring, EP_DERIVED_INDEX) == 0) {
            cJSON_Delete(root);
            ep_derived_index_clear(out);
            return ep_error_set(err, EP_ERR_FORMAT, "%s: file entry %zu is malformed (name, by, bytes, sha256)",
                                path, out->n_files + 1);
        }
        ep_derived_file *d = &out->files[out->n_files++];
        snprintf(d->name, sizeof d->name, "%s", name->valuestring);
        snprintf(d->by, sizeof d->by, "%s", by->valuestring);
        d->bytes = (uint64_t)bytes->valuedouble;
        snprintf(d->sha256, sizeof d->sha256, "%s", sha->valuestring);
    }
    const cJSON *s;
    cJSON_ArrayForEach(s, settings) {
        if (out->n_settings == EP_DERIVED_MAX_FILES || !s->string) break;
        char *t = cJSON_PrintUnformatted(s);
        if (!t) break;
        snprintf(out->by_names[out->n_settings], sizeof out->by_names[0], "%s", s->string);
        out->settings[out->n_settings++] = t;
    }
    cJSON_Delete(root);
    return EP_OK;
}

bool ep_derived_listed(const ep_derived_index *idx, const char *name) {
    for (size_t i = 0; i < idx->n_files; i++)
        if (strcmp(idx->files[i].name, name) == 0) return true;
    return false;
}

ep_status ep_derived_index_update(const char *dir, const ep_manifest *m, const char *by, const char *settings_json,
                                  const ep_derived_file *files, size_t n, ep_error *err) {
    ep_derived_index old;
    ep_status st = ep_derived_index_read(dir, &old, err);
    if (st != EP_OK) return st;
    char digest[65];
    ep_derived_run_digest(m, digest);
    bool same_run = strcmp(old.run_digest, digest) == 0;
    cJSON *root = cJSON_CreateObject(), *list = cJSON_CreateArray(), *settings = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "format", 1);
    cJSON_AddStringToObject(root, "run_digest", digest);
    cJSON_AddItemToObject(root, "files", list);
    cJSON_AddItemToObject(root, "settings", settings);
    // Another command's files stay when they describe these very rows; a stale one is removed.
    for (size_t i = 0; i < old.n_files; i++) {
        const ep_derived_file *d = &old.files[i];
        bool replaced = false;
        for (size_t j = 0; j < n; j++) replaced |= strcmp(files[j].name, d->name) == 0;
        if (replaced || strcmp(d->by, by) == 0) continue;
        if (!same_run) {
            char path[4352];
            snprintf(path, sizeof path, "%s/%s", dir, d->name);
            unlink(path);
            continue;
        }
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", d->name);
        cJSON_AddStringToObject(e, "by", d->by);
        cJSON_AddNumberToObject(e, "bytes", (double)d->bytes);
        cJSON_AddStringToObject(e, "sha256", d->sha256);
        cJSON_AddItemToArray(list, e);
    }
    for (size_t i = 0; same_run && i < old.n_settings; i++)
        if (strcmp(old.by_names[i], by) != 0)
            cJSON_AddItemToObject(settings, old.by_names[i], cJSON_Parse(old.settings[i]));
    for (size_t j = 0; j < n; j++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", files[j].name);
        cJSON_AddStringToObject(e, "by", by);
        cJSON_AddNumberToObject(e, "bytes", (double)files[j].bytes);
        cJSON_AddStringToObject(e, "sha256", files[j].sha256);
        cJSON_AddItemToArray(list, e);
    }
    cJSON_AddItemToObject(settings, by, settings_json ? cJSON_Parse(settings_json) : cJSON_CreateObject());
    ep_derived_index_clear(&old);
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return ep_error_set(err, EP_ERR_NOMEM, "out of memory writing %s/%s", dir, EP_DERIVED_INDEX);
    size_t len = strlen(text);
    char *with_nl = realloc(text, len + 2);
    if (!with_nl) {
        free(text);
        return ep_error_set(err, EP_ERR_NOMEM, "out of memory writing %s/%s", dir, EP_DERIVED_INDEX);
    }
    with_nl[len] = '\n';
    with_nl[len + 1] = 0;
    ep_derived_file ignored;
    st = ep_derived_write_text(dir, EP_DERIVED_INDEX, with_nl, &ignored, err);
    free(with_nl);
    return st;
}

/* Finds name in idx and checks the index belongs to m. */
static ep_status listed_entry(const char *dir, const ep_manifest *m, const ep_derived_index *idx, const char *name,
                              const ep_derived_file **out, ep_error *err) {
    char digest[65];
    ep_derived_run_digest(m, digest);
    if (!idx->run_digest[0])
        return ep_error_set(err, EP_ERR_IO, "%s has no %s: run `embedpipe %s %s` first", dir, EP_DERIVED_INDEX,
                            strncmp(name, "related", 7) == 0 ? "related" : "cluster", dir);
    if (strcmp(idx->run_digest, digest) != 0)
        return ep_error_set(err, EP_ERR_MISMATCH, "%s/%s was computed from other shards than the folder's: run "
                            "related / cluster again", dir, EP_DERIVED_INDEX);
    for (size_t i = 0; i < idx->n_files; i++)
        if (strcmp(idx->files[i].name, name) == 0) {
            *out = &idx->files[i];
            return EP_OK;
        }
    return ep_error_set(err, EP_ERR_IO, "%s/%s is not there: run `embedpipe %s %s` first", dir, name,
                        strncmp(name, "related", 7) == 0 ? "related" : "cluster", dir);
}

/* Parses a '<i4' / '<f4' .npy header; @return its length, or 0 when it is not one of kind. */
static size_t parse_npy(const uint8_t *p, size_t len, char kind, uint64_t *rows, uint64_t *cols) {
    if (len < 10 || memcmp(p, "\x93NUMPY\x01\x00", 8) != 0) return 0;
    size_t total = 10 + (size_t)p[8] + ((size_t)p[9] << 8);
    if (total > len) return 0;
    char dict[1024];
    size_t n = total - 10 < sizeof dict - 1 ? total - 10 : sizeof dict - 1;
    memcpy(dict, p + 10, n);
    dict[n] = 0;
    char want[32];
    snprintf(want, sizeof want, "'descr': '<%c4'", kind);
    const char *shape = strstr(dict, "'shape': (");
    if (!strstr(dict, want) || !strstr(dict, "'fortran_order': False") || !shape) return 0;
    unsigned long long a = 0, b = 0;
    int got = sscanf(shape + 10, "%llu, %llu", &a, &b);
    if (got < 1) return 0;
    *rows = a;
    *cols = got == 2 ? b : 0;
    uint64_t items = a * (got == 2 ? b : 1);
    return len - total == items * 4 ? total : 0;
}

ep_status ep_derived_read_array(const char *dir, const ep_manifest *m, const char *name, char kind, void **data,
                                uint64_t *rows, uint64_t *cols, ep_error *err) {
    *data = NULL;
    ep_derived_index idx;
    ep_status st = ep_derived_index_read(dir, &idx, err);
    const ep_derived_file *entry = NULL;
    if (st == EP_OK) st = listed_entry(dir, m, &idx, name, &entry, err);
    char path[4352];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *z = NULL;
    size_t zlen = 0;
    if (st == EP_OK) st = read_whole(path, &z, &zlen, err);
    if (st == EP_OK) {
        char sha[65];
        ep_sha256_hex(z, zlen, sha);
        if (zlen != entry->bytes || strcmp(sha, entry->sha256) != 0)
            st = ep_error_set(err, EP_ERR_MISMATCH, "%s is not the file %s lists (size or SHA-256 differ): run "
                              "the command that wrote it again", path, EP_DERIVED_INDEX);
    }
    unsigned long long raw = st == EP_OK ? ZSTD_getFrameContentSize(z, zlen) : 0;
    if (st == EP_OK && (raw == ZSTD_CONTENTSIZE_ERROR || raw == ZSTD_CONTENTSIZE_UNKNOWN))
        st = ep_error_set(err, EP_ERR_FORMAT, "%s: not a zstd frame with its size", path);
    uint8_t *buf = st == EP_OK ? malloc(raw ? raw : 1) : NULL;
    if (st == EP_OK && !buf) st = ep_error_set(err, EP_ERR_NOMEM, "out of memory reading %s", path);
    if (st == EP_OK && ZSTD_decompress(buf, raw, z, zlen) != raw)
        st = ep_error_set(err, EP_ERR_FORMAT, "%s: zstd data is corrupt", path);
    size_t head = st == EP_OK ? parse_npy(buf, raw, kind, rows, cols) : 0;
    if (st == EP_OK && !head)
        st = ep_error_set(err, EP_ERR_FORMAT, "%s: not a C-order '<%c4' .npy array", path, kind);
    if (st == EP_OK) {
        memmove(buf, buf + head, raw - head);
        *data = buf;
    } else {
        free(buf);
    }
    free(z);
    ep_derived_index_clear(&idx);
    return st;
}

ep_status ep_derived_verify(const char *dir, const ep_manifest *m, ep_error *err) {
    ep_derived_index idx;
    ep_status st = ep_derived_index_read(dir, &idx, err);
    if (st != EP_OK || !idx.run_digest[0]) return st;
    char digest[65];
    ep_derived_run_digest(m, digest);
    if (strcmp(idx.run_digest, digest) != 0)
        st = ep_error_set(err, EP_ERR_MISMATCH, "%s/%s describes other shards than the folder's (a stale result of "
                          "related / cluster): run them again, or remove it and the files it lists", dir,
                          EP_DERIVED_INDEX);
    for (size_t i = 0; i < idx.n_files && st == EP_OK; i++) {
        char path[4352], sha[65];
        snprintf(path, sizeof path, "%s/%s", dir, idx.files[i].name);
        struct stat sb;
        if (lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
            st = ep_error_set(err, EP_ERR_MISMATCH, "%s, listed in %s, is missing or not a regular file", path,
                              EP_DERIVED_INDEX);
        else if ((uint64_t)sb.st_size != idx.files[i].bytes || ep_sha256_file(path, sha, err) != EP_OK ||
                 strcmp(sha, idx.files[i].sha256) != 0)
            st = ep_error_set(err, EP_ERR_MISMATCH, "%s differs from %s (size or SHA-256): run `embedpipe %s` again",
                              path, EP_DERIVED_INDEX, idx.files[i].by);
    }
    ep_derived_index_clear(&idx);
    return st;
}
