/* folder_lock.c - flock(2) on DIR/.embedpipe.lock, with the holder's details in the file. */
#include "folder_lock.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

struct ep_folder_lock {
    int fd;
};

/* This process's command line, arguments joined by spaces (Linux: /proc/self/cmdline). */
static void own_command(char *buf, size_t cap) {
    snprintf(buf, cap, "embedpipe");
    FILE *f = fopen("/proc/self/cmdline", "rb");
    if (!f) return;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    if (n == 0) {
        snprintf(buf, cap, "embedpipe");
        return;
    }
    while (n > 0 && buf[n - 1] == '\0') n--;
    for (size_t i = 0; i < n; i++)
        if (buf[i] == '\0' || buf[i] == '\n') buf[i] = ' ';
    buf[n] = '\0';
}

/* Reads the holder's details into buf as one line ("" when it has not written them yet). */
static void holder_details(int fd, char *buf, size_t cap) {
    buf[0] = '\0';
    ssize_t n = pread(fd, buf, cap - 1, 0);
    if (n <= 0) return;
    buf[n] = '\0';
    // The file is "key: value" lines; one line reads better in an error message.
    for (char *p = buf; *p; p++)
        if (*p == '\n') *p = p[1] ? ',' : '\0';
}

ep_status ep_folder_lock_create(const char *dir, ep_folder_lock **out, ep_error *err) {
    *out = NULL;
    char path[4352];
    if (snprintf(path, sizeof path, "%s/%s", dir, EP_FOLDER_LOCK_NAME) >= (int)sizeof path)
        return ep_error_set(err, EP_ERR_USAGE, "output folder path is too long: %s", dir);
    // O_NOFOLLOW: a link planted under the lock's name must not make us create or truncate a file elsewhere.
    int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    bool details = fd >= 0;
    if (fd < 0 && (errno == EACCES || errno == EROFS || errno == EPERM)) {
        /* A folder this process cannot write: it will write nothing there (a
         * complete run has nothing to do; anything else fails on its first
         * write with its own message), so it only needs to keep writers out
         * while it reads, which a read-only descriptor can do; with no lock
         * file at all, nobody has ever written there as a locking writer. */
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT) {
            ep_folder_lock *l = malloc(sizeof *l);
            if (!l) return ep_error_set(err, EP_ERR_NOMEM, "out of memory");
            l->fd = -1;
            *out = l;
            return EP_OK;
        }
    }
    if (fd < 0) {
        if (errno == ELOOP)
            return ep_error_set(err, EP_ERR_IO, "%s is a symbolic link; embedpipe never follows links in its output "
                                "folder: remove it", path);
        return ep_error_set(err, EP_ERR_IO, "%s: cannot open the folder's lock file: %s (is the output folder "
                            "writable?)", path, strerror(errno));
    }
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EINTR) continue;
        int saved = errno;
        if (saved == EWOULDBLOCK) {
            char who[1024];
            holder_details(fd, who, sizeof who);
            close(fd);
            return ep_error_set(err, EP_ERR_BUSY, "%s is in use by another embedpipe process (%s); only one "
                                "command may write a folder at a time: wait for it to finish (or stop it), then "
                                "run this command again, or choose another output folder",
                                dir, who[0] ? who : "it has not yet written its pid into " EP_FOLDER_LOCK_NAME);
        }
        close(fd);
        return ep_error_set(err, EP_ERR_IO, "%s: cannot lock: %s", path, strerror(saved));
    }
    if (details) {
        char host[256] = "unknown host", when[64] = "", cmd[512], text[1024];
        if (gethostname(host, sizeof host) != 0) snprintf(host, sizeof host, "unknown host");
        host[sizeof host - 1] = '\0';
        time_t now = time(NULL);
        struct tm tm;
        if (gmtime_r(&now, &tm)) strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
        own_command(cmd, sizeof cmd);
        int len = snprintf(text, sizeof text, "pid %ld on %s\nstarted %s\ncommand: %s\n", (long)getpid(), host,
                           when, cmd);
        if (len >= (int)sizeof text) len = (int)sizeof text - 1;
        // The details only serve messages: failing to write them does not make the lock any less held.
        ssize_t wrote = ftruncate(fd, 0) == 0 ? pwrite(fd, text, (size_t)len, 0) : -1;
        (void)wrote;
    }
    ep_folder_lock *l = malloc(sizeof *l);
    if (!l) {
        close(fd);
        return ep_error_set(err, EP_ERR_NOMEM, "out of memory");
    }
    l->fd = fd;
    *out = l;
    return EP_OK;
}

void ep_folder_lock_free(ep_folder_lock *lock) {
    if (!lock) return;
    if (lock->fd >= 0) close(lock->fd); /* releases the flock */
    free(lock);
}
