/*
 * test_util.h - the few helpers every test program shares: checks that print
 * where and what differed, skips that say what is missing, fixture paths,
 * a deterministic random stream, UTF-8 encoding and whole-file read/write.
 * The one place for each of these: a concept's own helper header (reader,
 * shard, model, tokenizer, kernel) builds on them instead of copying them.
 * It compiles as C and as C++ (the emulation's tests include it).
 */
#ifndef EP_TEST_UTIL_H
#define EP_TEST_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

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

// ----------------------------------------------------------------------------
// Deterministic random numbers: xorshift64*, the same sequence on every machine,
// so that a failure reproduces and no test data has to be typed in.

static uint64_t ep_test_rng = 0x9e3779b97f4a7c15ull;   /* the stream ep_test_frand draws from */

/* Advances *state (which must not be 0). @return the next 64 random bits. */
static inline uint64_t ep_test_rand(uint64_t *state) {
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* @return a uniform float in [-1, 1) with 24 random bits, from ep_test_rng. */
static inline float ep_test_frand(void) {
    return (float)(ep_test_rand(&ep_test_rng) >> 40) / (float)(1 << 23) - 1.0f;
}

/* Encodes code point cp (at most 0x10FFFF) as UTF-8 into out, which has room for 4 bytes.
 * @return the number of bytes written (1 to 4). */
static inline int ep_test_utf8_encode(uint32_t cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

// ----------------------------------------------------------------------------
// Whole files

/* Reads the whole file (a pipe too: it reads until end of file).
 * @return a malloc'd copy with a NUL after its last byte (its length in *len when len is not
 * NULL), or NULL when the file cannot be opened or memory runs out. */
static inline void *ep_test_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0, got;
    char *buf = (char *)malloc(cap + 1);
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *bigger = (char *)realloc(buf, 2 * cap + 1);
            if (!bigger) free(buf);
            buf = bigger;
            cap *= 2;
        }
    }
    fclose(f);
    if (!buf) return NULL;
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

/* Writes len bytes to path, replacing the file. @return 0, or -1 when it cannot be written whole. */
static inline int ep_test_write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t n = len ? fwrite(data, 1, len, f) : 0;
    return (fclose(f) == 0 && n == len) ? 0 : -1;
}

// ----------------------------------------------------------------------------
// Scratch folders

/* Creates a fresh folder $TMPDIR/ep-TAG-XXXXXX (or under /tmp) into buf. @return buf, or NULL. */
static inline char *ep_test_mkdtemp(char *buf, size_t cap, const char *tag) {
    snprintf(buf, cap, "%s/ep-%s-XXXXXX", ep_test_env("TMPDIR", "/tmp"), tag);
    return mkdtemp(buf);
}

static inline int ep_test_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Removes a folder tree, not following links (best effort: a test's leftovers are not its result). */
static inline void ep_test_rm_rf(const char *dir) { nftw(dir, ep_test_rm_one, 16, FTW_DEPTH | FTW_PHYS); }

#endif /* EP_TEST_UTIL_H */
