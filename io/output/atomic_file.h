/*
 * atomic_file.h - a file that appears under its final name complete or not at all.
 *
 * Bytes go to ".NAME.tmp" in the same folder; commit fsyncs it, renames it to
 * NAME and fsyncs the folder, so a crash leaves either the old file (or none)
 * or the new one, never a partial one. The SHA-256 and size of the bytes are
 * computed while writing, so nothing has to be read back.
 */
#ifndef EP_ATOMIC_FILE_H
#define EP_ATOMIC_FILE_H

#include "embedpipe.h"
#include "sha256.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ep_atomic_file {
    int fd;              /* -1 when not open */
    char *tmp_path;      /* dir/.NAME.tmp */
    char *final_path;    /* dir/NAME */
    char *dir;           /* the folder, fsynced after the rename */
    ep_sha256 sha;       /* of every byte written */
    uint64_t bytes;      /* bytes written */
} ep_atomic_file;

/* Creates dir/.name.tmp exclusively, never through a symbolic link (a
 * leftover regular file of that name is replaced). On failure f is left closed.
 * @return EP_OK; EP_ERR_IO naming the file (a link there is refused); EP_ERR_NOMEM. */
ep_status ep_atomic_file_open(ep_atomic_file *f, const char *dir, const char *name, ep_error *err);

/* Writes all len bytes (retrying short writes and EINTR).
 * @return EP_OK, or EP_ERR_IO naming the file (e.g. disk full). */
ep_status ep_atomic_file_write(ep_atomic_file *f, const void *data, size_t len, ep_error *err);

/* fsync, close, rename to the final name, fsync the folder; writes the SHA-256
 * of the content to sha_hex (when non-NULL). The file is closed afterwards,
 * whatever the result; on failure the temporary file is removed. An existing
 * final name that is not a regular file (a symbolic link) is refused, not replaced.
 * @return EP_OK, or EP_ERR_IO naming the step and the file. */
ep_status ep_atomic_file_commit(ep_atomic_file *f, char sha_hex[65], ep_error *err);

/* As ep_atomic_file_commit, without the folder's fsync: for several files that appear together
 * (a shard and its ids file), the caller fsyncs the folder once (ep_fsync_dir) after the last
 * rename and before anything names them. @return as ep_atomic_file_commit. */
ep_status ep_atomic_file_commit_nodirsync(ep_atomic_file *f, char sha_hex[65], ep_error *err);

/* Closes and removes the temporary file and frees the paths. Safe on NULL, on
 * a file that failed to open, was committed or aborted, and on a zeroed struct. */
void ep_atomic_file_abort(ep_atomic_file *f);

/* Creates folder path and its missing parents (mkdir -p).
 * @return EP_OK when path is a folder afterwards; EP_ERR_IO naming the part that failed. */
ep_status ep_make_dirs(const char *path, ep_error *err);

/* fsyncs a folder, so that renames in it survive a crash.
 * @return EP_OK, or EP_ERR_IO naming the folder. */
ep_status ep_fsync_dir(const char *dir, ep_error *err);

#ifdef __cplusplus
}
#endif

#endif /* EP_ATOMIC_FILE_H */
