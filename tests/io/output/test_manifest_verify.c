/* test_manifest_verify.c - ep_output_verify passes on a folder the writer and
 * manifest made, and names the first problem in a damaged one: a flipped
 * byte, a truncated shard, a missing shard or ids file, a shard whose
 * checksums were "fixed" in the manifest but whose zstd frame is corrupt,
 * rows that do not add up, a gap in first_row; and (contents) a file the run
 * did not write, a killed write's temporary in a complete run, a linked
 * errors.ndjson or shard, an errors.ndjson whose line count or size disagrees
 * with the manifest, a stale or matching export vectors.npy. */
#include "folder_lock.h"
#include "manifest.h"
#include "npy.h"
#include "sha256.h"
#include "shard.h"
#include "test_shard_util.h"
#include "test_util.h"

#include <unistd.h>

#define ERRORS_TEXT "{\"line\":1,\"reason\":\"a\"}\n{\"line\":7,\"reason\":\"b\"}\n"

#define DIM 16
#define ROWS 23
#define PER_SHARD 8 /* shards of 8, 8, 7 */

static char g_root[512];

/* Writes a complete output folder into dir. @return 0 on success. */
static int make_folder(const char *dir) {
    ep_test_rm_rf(dir);
    if (mkdir(dir, 0755) != 0) return -1;
    ep_error err = {0};
    ep_shard_writer *w = NULL;
    ep_shard_writer_options opt = {.dir = dir, .dim = DIM, .rows_per_shard = PER_SHARD};
    if (ep_shard_writer_open(&opt, &w, &err) != EP_OK) return -1;
    uint16_t rows[ROWS * DIM];
    ep_row_meta meta[ROWS];
    char ids[ROWS][16];
    uint64_t rng = 3;
    for (int i = 0; i < ROWS * DIM; i++) rows[i] = (uint16_t)ep_test_rand(&rng);
    for (int i = 0; i < ROWS; i++) {
        snprintf(ids[i], sizeof ids[i], "%d", 1000 + i);
        meta[i] = (ep_row_meta){.id = ids[i], .line = (uint64_t)i + 1, .n_tokens = 5, .text_hash = ep_test_rand(&rng)};
    }
    ep_status st = ep_shard_writer_append(w, rows, meta, ROWS, &err);
    if (st == EP_OK) st = ep_shard_writer_flush(w, &err);
    ep_manifest m;
    memset(&m, 0, sizeof m);
    snprintf(m.tool_version, sizeof m.tool_version, "%s", EP_VERSION_STRING);
    snprintf(m.model_name, sizeof m.model_name, "test-model");
    ep_sha256_hex("weights", 7, m.model_sha256);
    m.dim = DIM;
    snprintf(m.pooling, sizeof m.pooling, "mean");
    m.max_seq_length = 128;
    ep_manifest_input input = {.path = "in.ndjson", .format = "ndjson"};
    m.inputs = &input;
    m.n_inputs = 1;
    ep_shard_info shards[8];
    m.n_shards = ep_shard_writer_count(w);
    for (size_t i = 0; i < m.n_shards && i < 8; i++) shards[i] = *ep_shard_writer_info(w, i);
    m.shards = shards;
    m.records_read = ROWS + 2;
    m.records_embedded = ROWS;
    m.records_rejected = 2;
    m.complete = true;
    m.run.shard_rows = PER_SHARD;
    m.run.part_count = 1;
    m.run.errors_bytes = strlen(ERRORS_TEXT);
    char errors_path[1024];
    snprintf(errors_path, sizeof errors_path, "%s/errors.ndjson", dir);
    if (st == EP_OK && ep_test_write_file(errors_path, ERRORS_TEXT, strlen(ERRORS_TEXT)) != 0) st = EP_ERR_IO;
    if (st == EP_OK) st = ep_manifest_write(dir, &m, &err);
    ep_shard_writer_free(w);
    if (st != EP_OK) fprintf(stderr, "make_folder: %s\n", err.message);
    return st == EP_OK && m.n_shards == 3 ? 0 : -1;
}

static void file_path(char *out, size_t cap, const char *dir, const char *name) {
    snprintf(out, cap, "%s/%s", dir, name);
}

/* Runs ep_output_verify and checks the status and that the message holds each needle. */
static void expect(const char *dir, const char *what, ep_status want, const char *needle1, const char *needle2) {
    ep_error err = {0};
    ep_status st = ep_output_verify(dir, &err);
    CHECKF(st == want, "%s: status %d (%s), expected %d", what, (int)st, err.message, (int)want);
    if (needle1) CHECKF(strstr(err.message, needle1) != NULL, "%s: message lacks \"%s\": %s", what, needle1, err.message);
    if (needle2) CHECKF(strstr(err.message, needle2) != NULL, "%s: message lacks \"%s\": %s", what, needle2, err.message);
    if (getenv("EP_TEST_VERBOSE")) printf("%-28s -> %s\n", what, st ? err.message : "ok");
}

/* Rewrites manifest.json through a text substitution (first occurrence). */
static void edit_manifest(const char *dir, const char *from, const char *to) {
    char path[1024];
    file_path(path, sizeof path, dir, "manifest.json");
    size_t len;
    char *text = (char *)ep_test_read_file(path, &len);
    CHECK(text != NULL);
    if (!text) return;
    text = realloc(text, len + 1);
    text[len] = '\0';
    char *at = strstr(text, from);
    CHECKF(at != NULL, "test bug: \"%s\" not in the manifest", from);
    if (at) {
        FILE *f = fopen(path, "wb");
        fwrite(text, 1, (size_t)(at - text), f);
        fputs(to, f);
        fputs(at + strlen(from), f);
        fclose(f);
    }
    free(text);
}

/* The value of "key": "..." in the nth shard object of manifest.json (as text). */
static void manifest_string(const char *dir, int shard, const char *key, char *out, size_t cap) {
    ep_manifest *m = NULL;
    ep_error err = {0};
    out[0] = '\0';
    if (ep_manifest_read(dir, &m, &err) != EP_OK) return;
    if (strcmp(key, "sha256") == 0) snprintf(out, cap, "%s", m->shards[shard].sha256);
    if (strcmp(key, "bytes") == 0) snprintf(out, cap, "%llu", (unsigned long long)m->shards[shard].bytes);
    ep_manifest_free(m);
}

/* Writes part part_index of part_count of a run of n_rows rows into dir:
 * the shards N*k+part_index, each numbered and placed as the whole run would
 * place it. @return 0 on success. */
static int make_part_folder(const char *dir, int part_index, int part_count, size_t n_rows) {
    ep_test_rm_rf(dir);
    if (mkdir(dir, 0755) != 0) return -1;
    ep_error err = {0};
    ep_shard_info shards[16];
    size_t n_shards = 0;
    uint64_t embedded = 0;
    uint64_t rng = 11;
    for (size_t k = 0; k * PER_SHARD < n_rows && n_shards < 16; k++) {
        if ((int)(k % (size_t)part_count) != part_index) continue;
        size_t rows = n_rows - k * PER_SHARD < PER_SHARD ? n_rows - k * PER_SHARD : PER_SHARD;
        uint16_t data[PER_SHARD * DIM];
        ep_row_meta meta[PER_SHARD];
        for (size_t i = 0; i < rows * DIM; i++) data[i] = (uint16_t)ep_test_rand(&rng);
        for (size_t i = 0; i < rows; i++) meta[i] = (ep_row_meta){.id = "p", .line = k * PER_SHARD + i + 1};
        ep_shard_writer *w = NULL;
        ep_shard_writer_options opt = {.dir = dir, .dim = DIM, .rows_per_shard = PER_SHARD,
                                       .first_shard = (unsigned)k, .first_row = k * PER_SHARD};
        if (ep_shard_writer_open(&opt, &w, &err) != EP_OK) return -1;
        ep_status st = ep_shard_writer_append(w, data, meta, rows, &err);
        if (st == EP_OK) st = ep_shard_writer_flush(w, &err);
        if (st == EP_OK) shards[n_shards++] = *ep_shard_writer_info(w, 0);
        ep_shard_writer_free(w);
        if (st != EP_OK) return -1;
        embedded += rows;
    }
    ep_manifest m;
    memset(&m, 0, sizeof m);
    ep_sha256_hex("weights", 7, m.model_sha256);
    m.dim = DIM;
    snprintf(m.pooling, sizeof m.pooling, "mean");
    m.max_seq_length = 128;
    m.shards = shards;
    m.n_shards = n_shards;
    m.records_read = n_rows;
    m.records_embedded = embedded;
    m.run.shard_rows = PER_SHARD;
    m.run.part_index = part_index;
    m.run.part_count = part_count;
    return ep_manifest_write(dir, &m, &err) == EP_OK ? 0 : -1;
}

/* Writes dir/vectors.npy: a (rows, DIM) header, then the shards' rows concatenated, with
 * the byte at flip (when < the data size) changed. @return 0 on success. */
static int write_export(const char *dir, uint64_t rows, size_t flip) {
    ep_manifest *m = NULL;
    ep_error err = {0};
    if (ep_manifest_read(dir, &m, &err) != EP_OK) return -1;
    uint8_t head[EP_NPY_MAX_WRITE_HEADER];
    size_t hlen = ep_npy_f16_header(head, sizeof head, rows, DIM);
    size_t cap = hlen + ROWS * DIM * 2, len = hlen;
    uint8_t *buf = malloc(cap);
    memcpy(buf, head, hlen);
    for (size_t i = 0; i < m->n_shards; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, m->shards[i].name);
        uint16_t *data = NULL;
        size_t n = 0;
        int dim = 0;
        if (ep_shard_read(path, &data, &n, &dim, &err) == EP_OK && len + n * DIM * 2 <= cap) {
            memcpy(buf + len, data, n * DIM * 2);
            len += n * DIM * 2;
        }
        free(data);
    }
    ep_manifest_free(m);
    if (flip < len - hlen) buf[hlen + flip] ^= 0x01;
    char path[1024];
    snprintf(path, sizeof path, "%s/vectors.npy", dir);
    int rc = ep_test_write_file(path, buf, len);
    free(buf);
    return rc;
}

/* The folder holds only what the run wrote; errors.ndjson agrees with the manifest. */
static void contents(const char *dir) {
    char path[1024], target[1200];
    CHECK(make_folder(dir) == 0);
    FILE *f;
    /* The lock file every writer leaves is part of the folder. */
    file_path(path, sizeof path, dir, EP_FOLDER_LOCK_NAME);
    CHECK(ep_test_write_file(path, "pid 1\n", 6) == 0);
    expect(dir, "lock file", EP_OK, NULL, NULL);
    /* A user's file, even one named like a run file. */
    file_path(path, sizeof path, dir, "shard-notes.txt");
    CHECK(ep_test_write_file(path, "mine", 4) == 0);
    expect(dir, "foreign file", EP_ERR_MISMATCH, "shard-notes.txt", "did not write");
    CHECK(make_folder(dir) == 0);
    file_path(path, sizeof path, dir, "shard-00000.npy.zst.bak");
    CHECK(ep_test_write_file(path, "old", 3) == 0);
    expect(dir, "backup copy", EP_ERR_MISMATCH, "shard-00000.npy.zst.bak", NULL);
    /* A killed write's temporary is a leftover only while the run is unfinished. */
    CHECK(make_folder(dir) == 0);
    file_path(path, sizeof path, dir, ".shard-00003.npy.zst.tmp");
    CHECK(ep_test_write_file(path, "x", 1) == 0);
    expect(dir, "temporary in a complete run", EP_ERR_MISMATCH, ".shard-00003.npy.zst.tmp", NULL);
    edit_manifest(dir, "\"complete\":\ttrue", "\"complete\":\tfalse");
    expect(dir, "temporary in an unfinished run", EP_OK, NULL, NULL);

    /* errors.ndjson: its lines must be the manifest's rejected count. */
    CHECK(make_folder(dir) == 0);
    edit_manifest(dir, "\"rejected\":\t2", "\"rejected\":\t3");
    expect(dir, "errors count off", EP_ERR_MISMATCH, "errors.ndjson", "holds 2 lines but manifest.json counts 3");
    CHECK(make_folder(dir) == 0);
    file_path(path, sizeof path, dir, "errors.ndjson");
    f = fopen(path, "ab");
    fputs("{\"line\":9,\"reason\":\"twice\"}\n", f); /* as a second run appending would */
    fclose(f);
    expect(dir, "errors appended after the end", EP_ERR_MISMATCH, "errors.ndjson", "errors_bytes");
    edit_manifest(dir, "\"complete\":\ttrue", "\"complete\":\tfalse");
    expect(dir, "errors past the checkpoint, unfinished", EP_OK, NULL, NULL);
    CHECK(make_folder(dir) == 0);
    CHECK(remove(path) == 0);
    expect(dir, "errors missing", EP_ERR_MISMATCH, "errors.ndjson", "missing");
    /* A linked errors.ndjson (or shard) is not the run's file, even when what it points to matches. */
    CHECK(make_folder(dir) == 0);
    snprintf(target, sizeof target, "%s/outside-errors.ndjson", g_root);
    CHECK(ep_test_write_file(target, ERRORS_TEXT, strlen(ERRORS_TEXT)) == 0);
    CHECK(remove(path) == 0);
    CHECK(symlink(target, path) == 0);
    expect(dir, "linked errors.ndjson", EP_ERR_MISMATCH, "errors.ndjson", "symbolic link");
    CHECK(make_folder(dir) == 0);
    file_path(path, sizeof path, dir, "shard-00001.ids.ndjson.zst");
    snprintf(target, sizeof target, "%s/outside.zst", g_root);
    CHECK(rename(path, target) == 0);
    CHECK(symlink(target, path) == 0);
    expect(dir, "linked ids file", EP_ERR_MISMATCH, "shard-00001.ids.ndjson.zst", "not a regular file");
    /* A linked manifest is refused, never read through. */
    CHECK(make_folder(dir) == 0);
    file_path(path, sizeof path, dir, "manifest.json");
    snprintf(target, sizeof target, "%s/outside-manifest.json", g_root);
    CHECK(rename(path, target) == 0);
    CHECK(symlink(target, path) == 0);
    expect(dir, "linked manifest", EP_ERR_IO, "manifest.json", "symbolic link");

    /* An export left in the folder must be this run's rows, byte for byte. */
    CHECK(make_folder(dir) == 0);
    CHECK(write_export(dir, ROWS, SIZE_MAX) == 0);
    expect(dir, "matching export", EP_OK, NULL, NULL);
    CHECK(write_export(dir, ROWS, 5 * 2 * DIM + 3) == 0);
    expect(dir, "export with other rows", EP_ERR_MISMATCH, "vectors.npy", "stale export");
    CHECK(make_folder(dir) == 0);
    CHECK(write_export(dir, 16, SIZE_MAX) == 0); /* the header says 16 rows: a run of 16 rows */
    expect(dir, "export of another size", EP_ERR_MISMATCH, "vectors.npy", "stale export");
    CHECK(make_folder(dir) == 0);
    file_path(path, sizeof path, dir, "vectors.ndjson");
    CHECK(ep_test_write_file(path, "{}\n{}\n", 6) == 0);
    expect(dir, "ndjson export of another size", EP_ERR_MISMATCH, "vectors.ndjson", "2 lines");
}

static void parts(const char *dir) {
    /* 37 rows, 8 per shard: shards 0..4, the last of 5 rows. */
    CHECK(make_part_folder(dir, 0, 2, 37) == 0);
    expect(dir, "part 0 of 2", EP_OK, NULL, NULL);
    CHECK(make_part_folder(dir, 1, 2, 37) == 0);
    expect(dir, "part 1 of 2", EP_OK, NULL, NULL);
    CHECK(make_part_folder(dir, 2, 3, 37) == 0);
    expect(dir, "part 2 of 3", EP_OK, NULL, NULL);
    CHECK(make_part_folder(dir, 1, 2, 37) == 0);
    edit_manifest(dir, "\"part_index\":\t1", "\"part_index\":\t0");
    expect(dir, "shards of another part", EP_ERR_MISMATCH, "shards[0]", "does not belong to part 0 of 2");
    CHECK(make_part_folder(dir, 0, 1, 37) == 0);
    expect(dir, "one part", EP_OK, NULL, NULL);
    /* A full shard counts as short when the manifest claims more rows per shard. */
    CHECK(make_part_folder(dir, 0, 1, 37) == 0);
    edit_manifest(dir, "\"shard_rows\":\t8", "\"shard_rows\":\t9");
    expect(dir, "shard_rows disagrees", EP_ERR_MISMATCH, "shards[0]", "every shard but the last has 9");
}

int main(void) {
    if (!ep_test_mkdtemp(g_root, sizeof g_root, "verify")) {
        fprintf(stderr, "cannot create a scratch folder\n");
        return 1;
    }
    char dir[600], path[1024];
    snprintf(dir, sizeof dir, "%s/out", g_root);

    CHECK(make_folder(dir) == 0);
    expect(dir, "good folder", EP_OK, NULL, NULL);

    /* One flipped byte in the middle shard: the SHA-256 names it. */
    CHECK(make_folder(dir) == 0);
    file_path(path, sizeof path, dir, "shard-00001.npy.zst");
    size_t len;
    uint8_t *data = ep_test_read_file(path, &len);
    CHECK(data != NULL);
    if (data) {
        data[len / 2] ^= 0x01;
        CHECK(ep_test_write_file(path, data, len) == 0);
        free(data);
    }
    expect(dir, "flipped byte", EP_ERR_MISMATCH, "shard-00001.npy.zst", "SHA-256");
    /* Every single-bit flip anywhere in a shard is caught (the zstd checksum
     * alone misses flips that decode to the same bytes; the SHA-256 does not). */
    CHECK(make_folder(dir) == 0);
    file_path(path, sizeof path, dir, "shard-00002.npy.zst");
    data = ep_test_read_file(path, &len);
    size_t missed = 0;
    for (size_t pos = 0; data && pos < len; pos += 1 + pos / 64) {
        data[pos] ^= (uint8_t)(1u << (pos % 8));
        CHECK(ep_test_write_file(path, data, len) == 0);
        data[pos] ^= (uint8_t)(1u << (pos % 8));
        ep_error err = {0};
        if (ep_output_verify(dir, &err) != EP_ERR_MISMATCH) missed++;
    }
    CHECKF(missed == 0, "%zu flips passed verify", missed);
    if (data) CHECK(ep_test_write_file(path, data, len) == 0);
    free(data);
    expect(dir, "restored", EP_OK, NULL, NULL);

    /* A flipped byte in an ids file. */
    file_path(path, sizeof path, dir, "shard-00000.ids.ndjson.zst");
    data = ep_test_read_file(path, &len);
    if (data) {
        data[len - 3] ^= 0x40;
        CHECK(ep_test_write_file(path, data, len) == 0);
        free(data);
    }
    expect(dir, "flipped ids byte", EP_ERR_MISMATCH, "shard-00000.ids.ndjson.zst", "SHA-256");

    /* A truncated shard. */
    CHECK(make_folder(dir) == 0);
    file_path(path, sizeof path, dir, "shard-00002.npy.zst");
    CHECK(truncate(path, 20) == 0);
    expect(dir, "truncated shard", EP_ERR_MISMATCH, "shard-00002.npy.zst", "truncated");

    /* A missing shard, a missing ids file. */
    CHECK(make_folder(dir) == 0);
    file_path(path, sizeof path, dir, "shard-00001.npy.zst");
    CHECK(remove(path) == 0);
    expect(dir, "missing shard", EP_ERR_IO, "shard-00001.npy.zst", "missing");
    CHECK(make_folder(dir) == 0);
    file_path(path, sizeof path, dir, "shard-00002.ids.ndjson.zst");
    CHECK(remove(path) == 0);
    expect(dir, "missing ids file", EP_ERR_IO, "shard-00002.ids.ndjson.zst", "missing");

    /* A corrupt frame whose size and SHA-256 were written into the manifest:
     * the zstd checksum still catches it. */
    CHECK(make_folder(dir) == 0);
    file_path(path, sizeof path, dir, "shard-00000.npy.zst");
    char old_sha[65], new_sha[65];
    manifest_string(dir, 0, "sha256", old_sha, sizeof old_sha);
    data = ep_test_read_file(path, &len);
    if (data) {
        data[len - 2] ^= 0x55; /* inside the 4-byte content checksum */
        CHECK(ep_test_write_file(path, data, len) == 0);
        ep_sha256_hex(data, len, new_sha);
        free(data);
    }
    edit_manifest(dir, old_sha, new_sha);
    expect(dir, "corrupt frame, fixed sha", EP_ERR_FORMAT, "shard-00000.npy.zst", "checksum");

    /* The same with a valid frame of another shape: the row count is checked. */
    CHECK(make_folder(dir) == 0);
    char src[1024], sha1[65], sha2[65], bytes2[32], bytes1[32];
    manifest_string(dir, 1, "sha256", sha1, sizeof sha1);
    manifest_string(dir, 1, "bytes", bytes1, sizeof bytes1);
    manifest_string(dir, 2, "sha256", sha2, sizeof sha2);
    manifest_string(dir, 2, "bytes", bytes2, sizeof bytes2);
    file_path(src, sizeof src, dir, "shard-00002.npy.zst"); /* 7 rows */
    file_path(path, sizeof path, dir, "shard-00001.npy.zst"); /* should hold 8 */
    data = ep_test_read_file(src, &len);
    if (data) CHECK(ep_test_write_file(path, data, len) == 0);
    free(data);
    char from[160], to[160];
    snprintf(from, sizeof from, "\"bytes\":\t%s,\n\t\t\t\"sha256\":\t\"%s\"", bytes1, sha1);
    snprintf(to, sizeof to, "\"bytes\":\t%s,\n\t\t\t\"sha256\":\t\"%s\"", bytes2, sha2);
    edit_manifest(dir, from, to);
    expect(dir, "shard of the wrong size", EP_ERR_MISMATCH, "shard-00001.npy.zst", "7 rows");

    /* Row counts that do not add up, and a gap in first_row. */
    CHECK(make_folder(dir) == 0);
    edit_manifest(dir, "\"embedded\":\t23", "\"embedded\":\t24");
    expect(dir, "embedded count off", EP_ERR_MISMATCH, "counts.embedded", NULL);
    CHECK(make_folder(dir) == 0);
    edit_manifest(dir, "\"first_row\":\t16", "\"first_row\":\t17");
    expect(dir, "first_row gap", EP_ERR_MISMATCH, "shards[2]", "starts at row 17");
    CHECK(make_folder(dir) == 0);
    edit_manifest(dir, "\"shard_rows\":\t8", "\"shard_rows\":\t0");
    edit_manifest(dir, "\"first_row\":\t16", "\"first_row\":\t17");
    expect(dir, "gap, no shard_rows", EP_ERR_MISMATCH, "shards[2]", "but the shards before it end at row 16");
    CHECK(make_folder(dir) == 0);
    edit_manifest(dir, "\"shard_rows\":\t8", "\"shard_rows\":\t0");
    expect(dir, "no shard_rows", EP_OK, NULL, NULL);
    parts(dir);
    contents(dir);
    CHECK(make_folder(dir) == 0);
    edit_manifest(dir, "\"file\":\t\"shard-00001.npy.zst\",\n\t\t\t\"ids_file\":\t\"shard-00001.ids.ndjson.zst\"",
                  "\"file\":\t\"shard-00000.npy.zst\",\n\t\t\t\"ids_file\":\t\"shard-00000.ids.ndjson.zst\"");
    expect(dir, "repeated shard", EP_ERR_MISMATCH, "shards[1]", "repeated");

    /* No manifest at all; an empty run. */
    CHECK(make_folder(dir) == 0);
    file_path(path, sizeof path, dir, "manifest.json");
    CHECK(remove(path) == 0);
    expect(dir, "no manifest", EP_ERR_IO, "manifest.json", NULL);
    {
        ep_test_rm_rf(dir);
        CHECK(mkdir(dir, 0755) == 0);
        ep_manifest m;
        memset(&m, 0, sizeof m);
        ep_sha256_hex("w", 1, m.model_sha256);
        m.dim = 384;
        m.max_seq_length = 256;
        snprintf(m.pooling, sizeof m.pooling, "cls");
        ep_error err = {0};
        CHECK_OK(ep_manifest_write(dir, &m, &err), &err);
        expect(dir, "empty run", EP_OK, NULL, NULL);
    }
    ep_test_rm_rf(g_root);
    return ep_test_finish("test_manifest_verify");
}
