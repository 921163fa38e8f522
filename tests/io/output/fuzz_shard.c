/* fuzz_shard.c - fuzz target for everything that reads an output folder back:
 * arbitrary bytes as a .npy.zst / .ids.ndjson.zst file, as the content of a
 * valid zstd frame (so the .npy and NDJSON parsers are reached), as a valid
 * frame with one bit flipped or cut short, as a .npy header, and as
 * manifest.json (read, then verify). Nothing may crash, leak or hang; every
 * failure must come back as a status with a message.
 *
 * libFuzzer:  clang -fsanitize=fuzzer,address,undefined ... fuzz_shard.c (+ the library sources)
 * ctest:      linked with tests/fuzz_replay_main.c, which mutates ep_fuzz_seeds below. */
#include "fuzz_replay.h"
#include "manifest.h"
#include "shard.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

/* Seeds: the decompressed content of a real shard and ids file, and a real
 * manifest (as embedpipe writes them; the shards it names are absent, so
 * verify stops at the first). Mode 2 below frames them with zstd. */
static const char seed_npy[] = "\x93NUMPY\x01\x00\x3c\x00{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3), }\n"
                               "\x00\x3c\x00\xbc\x00\x00\x00\x7c\xff\x7f\x01\x00";
static const char seed_ids[] =
    "{\"id\": \"1\", \"file\": 0, \"line\": 1, \"tokens\": 7, \"truncated\": false, \"hash\": \"0123456789abcdef\"}\n"
    "{\"id\": \"a\\\"b\\u0001\xf0\x9f\x98\x80\", \"file\": 1, \"line\": 9, \"tokens\": 512, \"truncated\": true, "
    "\"hash\": \"ffffffffffffffff\"}\n";
static const char seed_manifest[] =
    "{\n\t\"format\":\t\"embedpipe-output\",\n\t\"format_version\":\t1,\n"
    "\t\"tool\":\t{\"name\":\t\"embedpipe\", \"version\":\t\"0.1.0\"},\n"
    "\t\"model\":\t{\"name\":\t\"m\", \"sha256\":\t\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\", "
    "\"dim\":\t3, \"pooling\":\t\"mean\", \"normalized\":\ttrue, \"max_seq_length\":\t256},\n"
    "\t\"dtype\":\t\"float16\",\n\t\"text_path\":\t\"\",\n\t\"id_path\":\t\"\",\n"
    "\t\"inputs\":\t[{\"path\":\t\"in.ndjson\", \"format\":\t\"ndjson\", \"size\":\t100}],\n"
    "\t\"shards\":\t[{\"file\":\t\"shard-00000.npy.zst\", \"ids_file\":\t\"shard-00000.ids.ndjson.zst\", \"rows\":\t2, "
    "\"first_row\":\t0, \"bytes\":\t99, \"sha256\":\t\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\", "
    "\"ids_sha256\":\t\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"}],\n"
    "\t\"counts\":\t{\"read\":\t3, \"embedded\":\t2, \"rejected\":\t1},\n\t\"complete\":\ttrue,\n"
    "\t\"errors_file\":\t\"errors.ndjson\",\n"
    "\t\"run\":\t{\"shard_rows\":\t32768, \"part_index\":\t0, \"part_count\":\t1, \"format\":\t\"auto\", "
    "\"max_record_bytes\":\t0, \"next_record\":\t3, \"next_row\":\t2, \"errors_bytes\":\t50}\n}\n";

const ep_fuzz_seed ep_fuzz_seeds[] = {
    {seed_npy, sizeof seed_npy - 1}, {seed_ids, sizeof seed_ids - 1}, {seed_manifest, sizeof seed_manifest - 1},
    {NULL, 0}};

static char g_dir[256];

/* Every input removes its files, so only the empty folder is left at exit. */
static void remove_dir(void) { rmdir(g_dir); }

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

/* Frames data as one zstd frame with checksum and writes it to path; when
 * damage is non-zero, first flips bit (damage >> 1) of the frame (odd damage)
 * or cuts the frame there (even damage). */
static void write_frame(const char *path, const void *data, size_t len, unsigned damage) {
    size_t cap = ZSTD_compressBound(len);
    uint8_t *out = malloc(cap);
    ZSTD_CCtx *c = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
    size_t n = ZSTD_compress2(c, out, cap, data, len);
    must(!ZSTD_isError(n), "zstd compresses the input");
    if (damage & 1) out[(damage >> 4) % n] ^= (uint8_t)(1u << ((damage >> 1) & 7));
    else if (damage) n = (damage >> 1) % n;
    write_file(path, out, n);
    ZSTD_freeCCtx(c);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!g_dir[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(g_dir, sizeof g_dir, "%s/ep-fuzz-shard-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        must(mkdtemp(g_dir) != NULL, "scratch folder can be created");
        atexit(remove_dir);
    }
    char path[512];
    /* 1. The bytes are the file. */
    snprintf(path, sizeof path, "%s/shard-00000.npy.zst", g_dir);
    write_file(path, data, size);
    read_as_shard(path);
    /* 2. The bytes are the content of a valid frame. */
    write_frame(path, data, size, 0);
    read_as_shard(path);
    /* 2b. The same frame with a bit flipped or cut short, where the input's
     * first bytes say (the rest is the content). */
    if (size > 2) {
        write_frame(path, data + 2, size - 2, (unsigned)data[0] | (unsigned)data[1] << 8 | 1u);
        read_as_shard(path);
        write_frame(path, data + 2, size - 2, ((unsigned)data[0] | (unsigned)data[1] << 8) & ~1u);
        read_as_shard(path);
    }
    /* 3. The bytes follow a .npy v1.0 preamble, so the header parser sees them. */
    uint8_t *npy = malloc(size + 10);
    memcpy(npy, "\x93NUMPY\x01\x00", 8);
    size_t hlen = size < 0xffff ? size : 0xffff;
    npy[8] = (uint8_t)hlen;
    npy[9] = (uint8_t)(hlen >> 8);
    if (size) memcpy(npy + 10, data, size);
    write_frame(path, npy, size + 10, 0);
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
