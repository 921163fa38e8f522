/* test_folder_lock.c - the output folder's lock and the writer's refusal of links.
 *
 * ep_folder_lock: a second lock on the same folder is refused at once with
 * EP_ERR_BUSY naming the holder's pid (flock locks belong to an open file, so
 * two opens in one process conflict like two processes do); releasing it lets
 * the next one in; a symbolic link under the lock's name is refused and its
 * target is not created or truncated. ep_atomic_file: a link under the
 * temporary name or the final name is refused and what it points to keeps its
 * bytes; a regular leftover temporary (a killed write) is replaced. */
#include "atomic_file.h"
#include "folder_lock.h"
#include "test_shard_util.h"
#include "test_util.h"

#include <unistd.h>

static void lock_tests(const char *root) {
    char dir[600], path[1024], outside[1024], pid[64];
    snprintf(dir, sizeof dir, "%s/out", root);
    CHECK(mkdir(dir, 0755) == 0);
    ep_error err = {0};
    ep_folder_lock *a = NULL, *b = NULL;
    CHECK_OK(ep_folder_lock_create(dir, &a, &err), &err);
    snprintf(path, sizeof path, "%s/%s", dir, EP_FOLDER_LOCK_NAME);
    size_t len = 0;
    char *text = (char *)ep_test_read_file(path, &len);
    snprintf(pid, sizeof pid, "pid %ld ", (long)getpid());
    CHECKF(text && len > 0 && memmem(text, len, pid, strlen(pid)) != NULL, "the lock file lacks \"%s\"", pid);
    free(text);
    ep_status st = ep_folder_lock_create(dir, &b, &err);
    CHECKF(st == EP_ERR_BUSY && b == NULL, "second lock: status %d, expected EP_ERR_BUSY", (int)st);
    CHECKF(strstr(err.message, pid) && strstr(err.message, "started") && strstr(err.message, "command:"),
           "the refusal does not name the holder: %s", err.message);
    ep_folder_lock_free(a);
    CHECK_OK(ep_folder_lock_create(dir, &b, &err), &err); /* released: the next writer gets it */
    ep_folder_lock_free(b);
    ep_folder_lock_free(NULL);

    /* A link planted as the lock file: refused, its target neither created nor changed. */
    snprintf(outside, sizeof outside, "%s/outside-lock", root);
    CHECK(ep_test_write_file(outside, "keep", 4) == 0);
    CHECK(unlink(path) == 0);
    CHECK(symlink(outside, path) == 0);
    st = ep_folder_lock_create(dir, &a, &err);
    CHECKF(st == EP_ERR_IO && strstr(err.message, "symbolic link"), "linked lock file: %d %s", (int)st, err.message);
    text = (char *)ep_test_read_file(outside, &len);
    CHECK(text && len == 4 && memcmp(text, "keep", 4) == 0);
    free(text);
    CHECK(unlink(path) == 0);
}

static void atomic_tests(const char *root) {
    char dir[600], path[1024], outside[1024];
    snprintf(dir, sizeof dir, "%s/atomic", root);
    CHECK(mkdir(dir, 0755) == 0);
    snprintf(outside, sizeof outside, "%s/outside-file", root);
    CHECK(ep_test_write_file(outside, "outside", 7) == 0);
    ep_error err = {0};
    ep_atomic_file f;

    /* A link as the temporary name. */
    snprintf(path, sizeof path, "%s/.manifest.json.tmp", dir);
    CHECK(symlink(outside, path) == 0);
    ep_status st = ep_atomic_file_open(&f, dir, "manifest.json", &err);
    CHECKF(st == EP_ERR_IO && strstr(err.message, "not a regular file"), "linked temporary: %d %s", (int)st,
           err.message);
    CHECK(unlink(path) == 0);

    /* A link as the final name: refused at commit, the link and its target left alone. */
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    CHECK(symlink(outside, path) == 0);
    CHECK_OK(ep_atomic_file_open(&f, dir, "manifest.json", &err), &err);
    CHECK_OK(ep_atomic_file_write(&f, "new", 3, &err), &err);
    st = ep_atomic_file_commit(&f, NULL, &err);
    CHECKF(st == EP_ERR_IO && strstr(err.message, "not a regular file"), "linked final name: %d %s", (int)st,
           err.message);
    struct stat sb;
    CHECK(lstat(path, &sb) == 0 && S_ISLNK(sb.st_mode));
    snprintf(path, sizeof path, "%s/.manifest.json.tmp", dir);
    CHECK(access(path, F_OK) != 0); /* the temporary is cleaned up */
    size_t len = 0;
    char *text = (char *)ep_test_read_file(outside, &len);
    CHECK(text && len == 7 && memcmp(text, "outside", 7) == 0);
    free(text);
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    CHECK(unlink(path) == 0);

    /* A regular leftover temporary is a killed write's: replaced. */
    snprintf(path, sizeof path, "%s/.errors.ndjson.tmp", dir);
    CHECK(ep_test_write_file(path, "half a write", 12) == 0);
    CHECK_OK(ep_atomic_file_open(&f, dir, "errors.ndjson", &err), &err);
    CHECK_OK(ep_atomic_file_write(&f, "done\n", 5, &err), &err);
    CHECK_OK(ep_atomic_file_commit(&f, NULL, &err), &err);
    snprintf(path, sizeof path, "%s/errors.ndjson", dir);
    text = (char *)ep_test_read_file(path, &len);
    CHECK(text && len == 5 && memcmp(text, "done\n", 5) == 0);
    free(text);
}

int main(void) {
    char root[512];
    if (!ep_test_mkdtemp(root, sizeof root, "lock")) {
        fprintf(stderr, "cannot create a scratch folder\n");
        return 1;
    }
    lock_tests(root);
    atomic_tests(root);
    ep_test_rm_rf(root);
    return ep_test_finish("test_folder_lock");
}
