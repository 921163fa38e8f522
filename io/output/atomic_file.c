/* atomic_file.c - temporary file + fsync + rename + fsync of the folder. */
#include "atomic_file.h"

#include <errno.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *join_path(const char *dir, const char *prefix, const char *name, const char *suffix) {
    size_t n = strlen(dir) + strlen(prefix) + strlen(name) + strlen(suffix) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s%s%s", dir, prefix, name, suffix);
    return p;
}

static void release(ep_atomic_file *f) {
    if (f->fd >= 0) close(f->fd);
    f->fd = -1;
    free(f->tmp_path);
    free(f->final_path);
    free(f->dir);
    f->tmp_path = f->final_path = f->dir = NULL;
}

ep_status ep_atomic_file_open(ep_atomic_file *f, const char *dir, const char *name, ep_error *err) {
    memset(f, 0, sizeof *f);
    f->fd = -1;
    if (!dir || !name || !*name || strchr(name, '/'))
        return ep_error_set(err, EP_ERR_USAGE, "atomic file: invalid name \"%s\"", name ? name : "(null)");
    f->tmp_path = join_path(dir, ".", name, ".tmp");
    f->final_path = join_path(dir, "", name, "");
    f->dir = strdup(dir);
    if (!f->tmp_path || !f->final_path || !f->dir) {
        release(f);
        return ep_error_set(err, EP_ERR_NOMEM, "out of memory opening %s/%s", dir, name);
    }
    /* Created exclusively and never through a link: a symbolic link planted
     * under the temporary name must not make us truncate a file elsewhere. A
     * regular file there is a killed write's leftover (its writer held the
     * folder's lock, which we hold now), so it is replaced. */
    const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
    f->fd = open(f->tmp_path, flags, 0644);
    struct stat ls;
    if (f->fd < 0 && errno == EEXIST && lstat(f->tmp_path, &ls) == 0 && S_ISREG(ls.st_mode) &&
        unlink(f->tmp_path) == 0)
        f->fd = open(f->tmp_path, flags, 0644);
    if (f->fd < 0) {
        ep_status st = errno == EEXIST || errno == ELOOP
                           ? ep_error_set(err, EP_ERR_IO, "%s exists and is not a regular file (a symbolic link?); "
                                          "embedpipe never writes through links: remove it", f->tmp_path)
                           : ep_error_set(err, EP_ERR_IO, "%s: cannot create: %s (is the output folder writable?)",
                                          f->tmp_path, strerror(errno));
        release(f);
        return st;
    }
    ep_sha256_init(&f->sha);
    return EP_OK;
}

ep_status ep_atomic_file_write(ep_atomic_file *f, const void *data, size_t len, ep_error *err) {
    const char *p = data;
    ep_sha256_update(&f->sha, data, len);
    f->bytes += len;
    while (len > 0) {
        ssize_t n = write(f->fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return ep_error_set(err, EP_ERR_IO, "%s: write failed: %s", f->tmp_path, strerror(errno));
        }
        p += n;
        len -= (size_t)n;
    }
    return EP_OK;
}

ep_status ep_fsync_dir(const char *dir, ep_error *err) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return ep_error_set(err, EP_ERR_IO, "%s: cannot open folder to fsync: %s", dir, strerror(errno));
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    /* Some file systems cannot fsync a folder (EINVAL); the rename is then as
     * durable as that file system makes it, which is all we can do. */
    if (rc != 0 && saved != EINVAL)
        return ep_error_set(err, EP_ERR_IO, "%s: fsync of folder failed: %s", dir, strerror(saved));
    return EP_OK;
}

static ep_status commit(ep_atomic_file *f, char sha_hex[65], bool sync_dir, ep_error *err) {
    ep_status st = EP_OK;
    struct stat ls;
    /* rename would replace a link rather than follow it, but a link (or a
     * folder) under the final name was put there by someone else: refuse to
     * touch it instead of silently deciding for them. */
    if (lstat(f->final_path, &ls) == 0 && !S_ISREG(ls.st_mode)) {
        st = ep_error_set(err, EP_ERR_IO, "%s exists and is not a regular file (a symbolic link?); embedpipe "
                          "replaces only files it wrote: remove it", f->final_path);
    } else if (fsync(f->fd) != 0) {
        st = ep_error_set(err, EP_ERR_IO, "%s: fsync failed: %s", f->tmp_path, strerror(errno));
    } else {
        int rc = close(f->fd);
        f->fd = -1;
        if (rc != 0) {
            st = ep_error_set(err, EP_ERR_IO, "%s: close failed: %s", f->tmp_path, strerror(errno));
        } else if (rename(f->tmp_path, f->final_path) != 0) {
            st = ep_error_set(err, EP_ERR_IO, "cannot rename %s to %s: %s", f->tmp_path, f->final_path,
                              strerror(errno));
        } else {
            if (sync_dir) st = ep_fsync_dir(f->dir, err);
            if (st == EP_OK && sha_hex) ep_sha256_final_hex(&f->sha, sha_hex);
            release(f);
            return st;
        }
    }
    ep_atomic_file_abort(f);
    return st;
}

ep_status ep_atomic_file_commit(ep_atomic_file *f, char sha_hex[65], ep_error *err) {
    return commit(f, sha_hex, true, err);
}

ep_status ep_atomic_file_commit_nodirsync(ep_atomic_file *f, char sha_hex[65], ep_error *err) {
    return commit(f, sha_hex, false, err);
}

void ep_atomic_file_abort(ep_atomic_file *f) {
    /* tmp_path is set whenever the file is open, so a zeroed struct (fd 0) is
     * never mistaken for an open one. */
    if (!f || !f->tmp_path) return;
    if (f->fd >= 0) close(f->fd);
    f->fd = -1;
    if (f->tmp_path) unlink(f->tmp_path);
    release(f);
}

ep_status ep_make_dirs(const char *path, ep_error *err) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return ep_error_set(err, EP_ERR_USAGE, "folder path is too long: %s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return ep_error_set(err, EP_ERR_IO, "cannot create folder %s: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        return ep_error_set(err, EP_ERR_IO, "cannot create folder %s: %s", buf, strerror(errno));
    struct stat st;
    if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
        return ep_error_set(err, EP_ERR_IO, "%s exists and is not a folder", buf);
    return EP_OK;
}
