/*
 * fuzz_replay_main.c - a deterministic main for libFuzzer-style targets, so that
 * every fuzz target also runs as a bounded ctest without libFuzzer.
 *
 *   TARGET [-runs=N] [-seed=S] [-max_len=L] [FILE...]
 *
 * 1. Each FILE is passed to the target as it is (crash reproducers, corpus
 *    files) and joins the seed list.
 * 2. Then N inputs (default 20000, or $EP_FUZZ_RUNS) from a fixed-seed PRNG:
 *    a third are fresh random byte strings (ASCII, raw bytes and valid UTF-8
 *    mixed), the rest are seeds (ep_fuzz_seeds from the target, and the files)
 *    with a few random mutations: bit flips, byte inserts and deletes, random
 *    code points (valid and invalid UTF-8), repeated chunks, splices, cuts.
 * The same arguments always replay the same inputs. A failing target aborts
 * (the test fails); the input that did it is written to ./fuzz-crash-input
 * first, so `TARGET fuzz-crash-input` reproduces it.
 *
 * Not compiled into targets built with -fsanitize=fuzzer (libFuzzer has its own main).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_replay.h"
#include "test_util.h"

// Optional hooks of the target (weak: a target need not define them).
extern const ep_fuzz_seed ep_fuzz_seeds[] __attribute__((weak));
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static uint64_t rng_state;

static uint64_t rng(void) { // splitmix64
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static size_t below(size_t n) {
    return n ? (size_t)(rng() % n) : 0;
}

static ep_fuzz_seed *seeds;
static size_t n_seeds, cap_seeds;

static void add_seed(const void *data, size_t len) {
    if (n_seeds == cap_seeds) {
        cap_seeds = cap_seeds ? 2 * cap_seeds : 64;
        seeds = realloc(seeds, sizeof *seeds * cap_seeds);
        if (!seeds) abort();
    }
    seeds[n_seeds].data = data;
    seeds[n_seeds++].len = len;
}

// The input under test, kept for the crash handler.
static const uint8_t *current;
static size_t current_len;

static void on_crash(int sig) {
    FILE *f = fopen("fuzz-crash-input", "wb");
    if (f) {
        fwrite(current, 1, current_len, f);
        fclose(f);
    }
    fprintf(stderr, "fuzz replay: signal %d on a %zu-byte input, saved to ./fuzz-crash-input\n", sig, current_len);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void run_one(const uint8_t *data, size_t len) {
    current = data;
    current_len = len;
    LLVMFuzzerTestOneInput(data, len);
}

// Appends one random code point, valid UTF-8 or (1 in 8) a malformed sequence.
static size_t put_codepoint(uint8_t *out, size_t room) {
    static const uint8_t bad[][4] = {{0xFF}, {0xC0, 0xAF}, {0xED, 0xA0, 0x80}, {0xF4, 0x90, 0x80, 0x80},
                                     {0xE2, 0x82}, {0x80}, {0xF0, 0x9F, 0x98}, {0xFE}};
    static const uint8_t bad_len[] = {1, 2, 3, 4, 2, 1, 3, 1};
    if (room < 4) return 0;
    if (below(8) == 0) {
        size_t k = below(8);
        memcpy(out, bad[k], bad_len[k]);
        return bad_len[k];
    }
    uint32_t cp;
    switch (below(4)) {
    case 0: cp = (uint32_t)below(0x80); break;
    case 1: cp = 0x80 + (uint32_t)below(0x800 - 0x80); break;
    case 2: cp = 0x800 + (uint32_t)below(0x10000 - 0x800); break;
    default: cp = 0x10000 + (uint32_t)below(0x110000 - 0x10000); break;
    }
    if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
    return (size_t)ep_test_utf8_encode(cp, (char *)out);
}

static size_t random_input(uint8_t *buf, size_t max_len) {
    size_t want = below(max_len + 1), n = 0;
    while (n < want) {
        size_t r = below(10);
        if (r < 5) buf[n++] = (uint8_t)(0x20 + below(0x5F)); // printable ASCII
        else if (r < 7) buf[n++] = (uint8_t)below(256);
        else {
            size_t k = put_codepoint(buf + n, max_len - n);
            if (!k) break;
            n += k;
        }
    }
    return n;
}

static size_t mutate(uint8_t *buf, size_t len, size_t max_len) {
    int steps = 1 + (int)below(4);
    for (int s = 0; s < steps; s++) {
        switch (below(8)) {
        case 0: // flip a bit
            if (len) buf[below(len)] ^= (uint8_t)(1u << below(8));
            break;
        case 1: // overwrite a byte
            if (len) buf[below(len)] = (uint8_t)below(256);
            break;
        case 2: { // insert a code point
            uint8_t cp[4];
            size_t k = put_codepoint(cp, sizeof cp), at = below(len + 1);
            if (len + k <= max_len) {
                memmove(buf + at + k, buf + at, len - at);
                memcpy(buf + at, cp, k);
                len += k;
            }
            break;
        }
        case 3: { // delete a range
            if (!len) break;
            size_t at = below(len), k = 1 + below(len - at < 8 ? len - at : 8);
            memmove(buf + at, buf + at + k, len - at - k);
            len -= k;
            break;
        }
        case 4: { // repeat a chunk
            if (!len) break;
            size_t at = below(len), k = 1 + below(len - at), times = 1 + below(16);
            for (size_t t = 0; t < times && len + k <= max_len; t++) {
                memmove(buf + at + k, buf + at, len - at);
                len += k;
            }
            break;
        }
        case 5: { // splice in part of another seed
            if (!n_seeds) break;
            const ep_fuzz_seed *o = &seeds[below(n_seeds)];
            if (!o->len) break;
            size_t from = below(o->len), k = 1 + below(o->len - from), at = below(len + 1);
            if (len + k > max_len) k = max_len - len;
            memmove(buf + at + k, buf + at, len - at);
            memcpy(buf + at, (const uint8_t *)o->data + from, k);
            len += k;
            break;
        }
        case 6: // cut
            len = below(len + 1);
            break;
        default: // insert an ASCII byte that matters to tokenizers and parsers
            if (len < max_len) {
                static const char special[] = " \t\n\r[]{}\"\\#@&;:,.!?-_'0";
                size_t at = below(len + 1);
                memmove(buf + at + 1, buf + at, len - at);
                buf[at] = (uint8_t)special[below(sizeof special - 1)];
                len++;
            }
            break;
        }
    }
    return len;
}

int main(int argc, char **argv) {
    long runs = 20000, max_len = 1024;
    unsigned long long seed = 0x6570667A7A31ull; // fixed: every run replays the same inputs
    const char *env = getenv("EP_FUZZ_RUNS");
    if (env && *env) runs = atol(env);
    if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
    if (ep_fuzz_seeds)
        for (const ep_fuzz_seed *s = ep_fuzz_seeds; s->data; s++) add_seed(s->data, s->len);
    signal(SIGABRT, on_crash);
    signal(SIGSEGV, on_crash);
    signal(SIGBUS, on_crash);
    signal(SIGFPE, on_crash);
    size_t files = 0;
    for (int a = 1; a < argc; a++) {
        if (strncmp(argv[a], "-runs=", 6) == 0) runs = atol(argv[a] + 6);
        else if (strncmp(argv[a], "-seed=", 6) == 0) seed = strtoull(argv[a] + 6, NULL, 0);
        else if (strncmp(argv[a], "-max_len=", 9) == 0) max_len = atol(argv[a] + 9);
        else if (argv[a][0] == '-') fprintf(stderr, "fuzz replay: ignoring option %s\n", argv[a]);
        else {
            size_t len = 0;
            char *data = ep_test_read_file(argv[a], &len);
            if (!data) {
                fprintf(stderr, "fuzz replay: cannot read %s\n", argv[a]);
                return 1;
            }
            run_one((const uint8_t *)data, len);
            add_seed(data, len);
            files++;
        }
    }
    if (max_len < 1) max_len = 1;
    rng_state = seed;
    uint8_t *buf = malloc((size_t)max_len);
    if (!buf) return 1;
    for (long i = 0; i < runs; i++) {
        size_t len;
        if (!n_seeds || below(3) == 0) {
            len = random_input(buf, (size_t)max_len);
        } else {
            const ep_fuzz_seed *s = &seeds[below(n_seeds)];
            len = s->len < (size_t)max_len ? s->len : (size_t)max_len;
            memcpy(buf, s->data, len);
            len = mutate(buf, len, (size_t)max_len);
        }
        // An exact-size copy, so that reading past the input shows up under ASan.
        uint8_t *input = malloc(len ? len : 1);
        memcpy(input, buf, len);
        run_one(input, len);
        free(input);
    }
    printf("fuzz replay: %zu file(s) and %ld generated inputs (seed %#llx, %zu seeds, max_len %ld): no failure\n",
           files, runs, seed, n_seeds, max_len);
    free(buf);
    free(seeds);
    return 0;
}
