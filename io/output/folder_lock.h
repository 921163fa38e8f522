/*
 * folder_lock.h - one writer per output folder.
 *
 * Every command that writes an output folder (embed, merge, export into it)
 * holds an exclusive flock(2) on DIR/.embedpipe.lock for its whole life. A
 * second writer is refused at once, never made to wait: a nightly job that
 * finds its folder busy should fail loudly, not queue behind a run that may
 * take hours. The lock file holds the holder's pid, host, start time and
 * command line, so the refusal can say who to wait for. The kernel drops the
 * lock when the holder exits, however it exits (a SIGKILL included), so a
 * leftover file never blocks anyone; the file itself is never deleted, since
 * deleting it would let two processes lock two different files of one name.
 */
#ifndef EP_FOLDER_LOCK_H
#define EP_FOLDER_LOCK_H

#include "embedpipe.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The lock file's name inside the folder. Read-only commands ignore it. */
#define EP_FOLDER_LOCK_NAME ".embedpipe.lock"

typedef struct ep_folder_lock ep_folder_lock;

/* Takes the lock on the existing folder dir without waiting, and writes this
 * process's pid, host, start time and command line into the lock file. In a
 * folder this process cannot write, an existing lock file is locked through a
 * read-only descriptor and a missing one is not created (such a process
 * writes nothing there, so a complete run still finds "nothing to do").
 * @return EP_OK and *out (free with ep_folder_lock_free); EP_ERR_BUSY naming
 *         the process that holds it (pid, host, command, start time) and what
 *         to do; EP_ERR_IO naming the file (e.g. the lock file is a symbolic
 *         link, which is never followed); EP_ERR_NOMEM. */
ep_status ep_folder_lock_create(const char *dir, ep_folder_lock **out, ep_error *err);

/* Releases the lock (the file stays). Safe on NULL. */
void ep_folder_lock_free(ep_folder_lock *lock);

#ifdef __cplusplus
}
#endif

#endif /* EP_FOLDER_LOCK_H */
