/* fuzz_shard.c - fuzz target for everything that reads an output folder back:
 * arbitrary bytes as a .npy.zst / .ids.ndjson.zst file, as the content of a
 * valid zstd frame (so the .npy and NDJSON parsers are reached), as a .npy
 * header, and as manifest.json (read, then verify). Nothing may crash, leak or
 * hang; every failure must come back as a status with a message.
 *
 * Build with libFuzzer:  clang -fsanitize=fuzzer,address,undefined ... fuzz_shard.c
 * As a ctest it runs under a deterministic replay driver (tests/fuzz_replay_main.c
 * when present, else the EP_FUZZ_OWN_MAIN driver at the end of this file). */
#include "manifest.h"
#include "shard.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char g_dir[256];

static void must(int cond, const char *what) {
    if (!cond) {
        fprintf(stderr, "fuzz_shard: invariant broken: %s\n", what);
        abort();
    }
}

static void write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    must(f != NULL, "scratch file can be created");
    if (len) must(fwrite(data, 1, len, f) == len, "scratch file can be written");
    fclose(f);
}

static void check_error(ep_status st, const ep_error *err) {
    must(st == EP_ERR_FORMAT || st == EP_ERR_IO || st == EP_ERR_NOMEM || st == EP_ERR_MISMATCH,
         "failures are IO/FORMAT/NOMEM/MISMATCH");
    must(err->code == st && err->message[0] != '\0', "a failure carries a message");
}

static void read_as_shard(const char *path) {
    ep_error err = {0};
    uint16_t *rows = NULL;
    size_t n = 0;
    int dim = 0;
    ep_status st = ep_shard_read(path, &rows, &n, &dim, &err);
    if (st == EP_OK) {
        must(rows != NULL && n > 0 && dim > 0, "a good shard has rows");
        /* Touch every row so ASan sees any short allocation. */
        volatile uint16_t sum = 0;
        for (size_t i = 0; i < n * (size_t)dim; i++) sum ^= rows[i];
        (void)sum;
    } else {
        check_error(st, &err);
        must(rows == NULL && n == 0 && dim == 0, "outputs cleared on failure");
    }
    free(rows);

    ep_row_meta *meta = NULL;
    memset(&err, 0, sizeof err);
    st = ep_shard_read_ids(path, &meta, &n, &err);
    if (st == EP_OK) {
        must(meta != NULL && n > 0, "a good ids file has rows");
        for (size_t i = 0; i < n; i++) must(meta[i].id != NULL, "every id is a string");
    } else {
        check_error(st, &err);
        must(meta == NULL && n == 0, "outputs cleared on failure");
    }
    ep_shard_ids_free(meta, n);
}

static void write_frame(const char *path, const void *data, size_t len) {
    size_t cap = ZSTD_compressBound(len);
    void *out = malloc(cap);
    ZSTD_CCtx *c = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
    size_t n = ZSTD_compress2(c, out, cap, data, len);
    must(!ZSTD_isError(n), "zstd compresses the input");
    write_file(path, out, n);
    ZSTD_freeCCtx(c);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!g_dir[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(g_dir, sizeof g_dir, "%s/ep-fuzz-shard-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        must(mkdtemp(g_dir) != NULL, "scratch folder can be created");
    }
    char path[512];
    /* 1. The bytes are the file. */
    snprintf(path, sizeof path, "%s/shard-00000.npy.zst", g_dir);
    write_file(path, data, size);
    read_as_shard(path);
    /* 2. The bytes are the content of a valid frame. */
    write_frame(path, data, size);
    read_as_shard(path);
    /* 3. The bytes follow a .npy v1.0 preamble, so the header parser sees them. */
    uint8_t *npy = malloc(size + 10);
    memcpy(npy, "\x93NUMPY\x01\x00", 8);
    size_t hlen = size < 0xffff ? size : 0xffff;
    npy[8] = (uint8_t)hlen;
    npy[9] = (uint8_t)(hlen >> 8);
    if (size) memcpy(npy + 10, data, size);
    write_frame(path, npy, size + 10);
    free(npy);
    read_as_shard(path);
    remove(path);

    /* 4. The bytes are manifest.json: read it, then verify the folder. */
    snprintf(path, sizeof path, "%s/manifest.json", g_dir);
    write_file(path, data, size);
    ep_error err = {0};
    ep_manifest *m = NULL;
    ep_status st = ep_manifest_read(g_dir, &m, &err);
    if (st == EP_OK) {
        must(m != NULL, "a manifest comes back");
        for (size_t i = 0; i < m->n_inputs; i++) must(m->inputs[i].path != NULL, "input paths are set");
        for (size_t i = 0; i < m->n_shards; i++) must(m->shards[i].rows > 0, "shards have rows");
    } else {
        check_error(st, &err);
        must(m == NULL, "no manifest on failure");
    }
    ep_manifest_free(m);
    memset(&err, 0, sizeof err);
    st = ep_output_verify(g_dir, &err);
    if (st != EP_OK) check_error(st, &err);
    remove(path);
    return 0;
}

#ifdef EP_FUZZ_OWN_MAIN
/* A deterministic stand-in for libFuzzer: replays the files named on the
 * command line, or else mutates seeds made here (a real shard, its ids file,
 * a real manifest) with a fixed random stream: bit flips, truncations, byte
 * insertions and overwrites, splices. EP_FUZZ_ITERATIONS sets the count. */
#include "sha256.h"

static uint64_t rnd(uint64_t *s) {
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static uint8_t *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n + 1);
    *len = fread(buf, 1, (size_t)n, f);
    fclose(f);
    return buf;
}

typedef struct seed {
    uint8_t *data;
    size_t len;
} seed;

/* Writes a small real output folder and returns its files as seeds; for the
 * compressed files the decompressed content is a seed too. */
static int make_seeds(seed *seeds) {
    char dir[256];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/ep-fuzz-seed-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    must(mkdtemp(dir) != NULL, "seed folder");
    ep_error err = {0};
    ep_shard_writer *w = NULL;
    ep_shard_writer_options opt = {.dir = dir, .dim = 4, .rows_per_shard = 3};
    must(ep_shard_writer_open(&opt, &w, &err) == EP_OK, "seed writer");
    uint16_t rows[5 * 4];
    for (int i = 0; i < 20; i++) rows[i] = (uint16_t)(0x3c00 + i);
    ep_row_meta meta[5] = {{.id = "a\"b"}, {.id = "\xf0\x9f\x98\x80"}, {.id = ""}, {.id = "x"}, {.id = "y"}};
    must(ep_shard_writer_append(w, rows, meta, 5, &err) == EP_OK && ep_shard_writer_flush(w, &err) == EP_OK,
         "seed rows");
    ep_manifest m;
    memset(&m, 0, sizeof m);
    ep_sha256_hex("m", 1, m.model_sha256);
    m.dim = 4;
    m.max_seq_length = 8;
    snprintf(m.pooling, sizeof m.pooling, "mean");
    ep_manifest_input in = {.path = "in.txt", .format = "lines"};
    m.inputs = &in;
    m.n_inputs = 1;
    ep_shard_info shards[2] = {*ep_shard_writer_info(w, 0), *ep_shard_writer_info(w, 1)};
    m.shards = shards;
    m.n_shards = 2;
    m.records_read = m.records_embedded = 5;
    must(ep_manifest_write(dir, &m, &err) == EP_OK, "seed manifest");
    ep_shard_writer_free(w);
    const char *names[3] = {"shard-00000.npy.zst", "shard-00000.ids.ndjson.zst", "manifest.json"};
    int n = 0;
    for (int i = 0; i < 3; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        seeds[n].data = slurp(path, &seeds[n].len);
        must(seeds[n].data != NULL, "seed file");
        if (i < 2) {
            unsigned long long size = ZSTD_getFrameContentSize(seeds[n].data, seeds[n].len);
            seeds[n + 1].data = malloc(size + 1);
            seeds[n + 1].len = ZSTD_decompress(seeds[n + 1].data, size, seeds[n].data, seeds[n].len);
            must(!ZSTD_isError(seeds[n + 1].len), "seed decompresses");
            n++;
        }
        n++;
        remove(path);
    }
    char path[512];
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, i ? "shard-00001.npy.zst" : "shard-00001.ids.ndjson.zst");
        remove(path);
    }
    rmdir(dir);
    return n;
}

int main(int argc, char **argv) {
    if (argc > 1) {
        for (int i = 1; i < argc; i++) {
            size_t len;
            uint8_t *data = slurp(argv[i], &len);
            if (!data) {
                fprintf(stderr, "fuzz_shard: cannot read %s\n", argv[i]);
                return 1;
            }
            LLVMFuzzerTestOneInput(data, len);
            free(data);
        }
        printf("fuzz_shard: replayed %d input(s)\n", argc - 1);
        return 0;
    }
    seed seeds[5];
    int n_seeds = make_seeds(seeds);
    const char *it = getenv("EP_FUZZ_ITERATIONS");
    long iterations = it ? atol(it) : 3000;
    uint64_t rng = 0xF00DF00Dull;
    uint8_t *buf = malloc(1 << 16);
    for (int i = 0; i < n_seeds; i++) LLVMFuzzerTestOneInput(seeds[i].data, seeds[i].len);
    for (long k = 0; k < iterations; k++) {
        const seed *s = &seeds[rnd(&rng) % (uint64_t)n_seeds];
        size_t len = s->len;
        memcpy(buf, s->data, len);
        int edits = 1 + (int)(rnd(&rng) % 4);
        for (int e = 0; e < edits; e++) {
            switch (rnd(&rng) % 6) {
            case 0: /* flip a bit */
                if (len) buf[rnd(&rng) % len] ^= (uint8_t)(1u << (rnd(&rng) % 8));
                break;
            case 1: /* truncate */
                if (len) len = rnd(&rng) % len;
                break;
            case 2: /* overwrite a byte with an interesting value */
                if (len) buf[rnd(&rng) % len] = (uint8_t)"\x00\xff\x7f\x80\"\\\n{}[],:0"[rnd(&rng) % 14];
                break;
            case 3: /* insert a byte */
                if (len + 1 < (1 << 16)) {
                    size_t at = len ? rnd(&rng) % len : 0;
                    memmove(buf + at + 1, buf + at, len - at);
                    buf[at] = (uint8_t)rnd(&rng);
                    len++;
                }
                break;
            case 4: { /* splice a piece of another seed */
                const seed *o = &seeds[rnd(&rng) % (uint64_t)n_seeds];
                size_t at = len ? rnd(&rng) % len : 0, from = rnd(&rng) % o->len, n = rnd(&rng) % 64;
                if (from + n > o->len) n = o->len - from;
                if (at + n > (1 << 16)) n = 0;
                memcpy(buf + at, o->data + from, n);
                if (at + n > len) len = at + n;
                break;
            }
            default: /* random bytes */
                for (size_t j = 0, n = rnd(&rng) % 16; j < n && len; j++) buf[rnd(&rng) % len] = (uint8_t)rnd(&rng);
            }
        }
        LLVMFuzzerTestOneInput(buf, len);
    }
    free(buf);
    for (int i = 0; i < n_seeds; i++) free(seeds[i].data);
    rmdir(g_dir);
    printf("fuzz_shard: %ld mutated inputs from %d seeds, no crash\n", iterations, n_seeds);
    return 0;
}
#endif
