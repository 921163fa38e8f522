/*
 * test_util.h - the few helpers every test program shares: checks that print
 * where and what differed, skips that say what is missing, fixture paths.
 */
#ifndef EP_TEST_UTIL_H
#define EP_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define EP_TEST_SKIP 77

static int ep_test_failures = 0;

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);     \
            ep_test_failures++;                                                         \
        }                                                                               \
    } while (0)

#define CHECKF(cond, ...)                                                               \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);     \
            fprintf(stderr, __VA_ARGS__);                                               \
            fputc('\n', stderr);                                                        \
            ep_test_failures++;                                                         \
        }                                                                               \
    } while (0)

/* Check that an ep_status call succeeded; print its message if not. */
#define CHECK_OK(call, errp)                                                            \
    do {                                                                                \
        ep_status st_ = (call);                                                         \
        if (st_ != EP_OK) {                                                             \
            fprintf(stderr, "%s:%d: %s failed (%d): %s\n", __FILE__, __LINE__, #call,    \
                    (int)st_, (errp)->message);                                         \
            ep_test_failures++;                                                         \
        }                                                                               \
    } while (0)

/* @return getenv(name), or fallback when unset or empty. */
static inline const char *ep_test_env(const char *name, const char *fallback) {
    const char *v = getenv(name);
    return (v && *v) ? v : fallback;
}

static inline int ep_test_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* Exit with the skip code, saying why, when path does not exist. */
static inline void ep_test_require(const char *path, const char *what_to_do) {
    if (!ep_test_exists(path)) {
        printf("SKIP: %s not found; %s\n", path, what_to_do);
        exit(EP_TEST_SKIP);
    }
}

/* The model folder, or skip when absent. */
static inline const char *ep_test_model_dir(void) {
    const char *dir = ep_test_env("EP_MODEL_DIR", "models/all-MiniLM-L6-v2");
    ep_test_require(dir, "run scripts/fetch-model.sh first");
    return dir;
}

/* The shared data folder (../shared/data), or skip when absent. */
static inline const char *ep_test_shared_data(void) {
    const char *dir = ep_test_env("EP_SHARED_DATA", "../shared/data");
    ep_test_require(dir, "the shared real-tweet data is not beside this checkout (../shared/data)");
    return dir;
}

/* Print the summary line and return the exit code for main. */
static inline int ep_test_finish(const char *name) {
    if (ep_test_failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, ep_test_failures);
        return 1;
    }
    printf("%s: all checks passed\n", name);
    return 0;
}

#endif /* EP_TEST_UTIL_H */
