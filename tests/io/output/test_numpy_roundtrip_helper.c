/* test_numpy_roundtrip_helper.c - writes an output folder for
 * test_numpy_roundtrip.py: shards through ep_shard_writer, manifest.json
 * through ep_manifest_write, and beside them what was written, in forms
 * Python reads without embedpipe: expected.u16 (all rows, little-endian
 * halves) and expected_ids.tsv (hex of the id bytes, file, line, tokens,
 * truncated, hash).
 *
 *   test_numpy_roundtrip_helper OUT_DIR ZSTD_WORKERS ROWS ROWS_PER_SHARD */
#include "manifest.h"
#include "sha256.h"
#include "shard.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIM 384

static uint64_t next_rand(uint64_t *s) {
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static int fail(const char *what, const ep_error *err) {
    fprintf(stderr, "helper: %s: %s\n", what, err ? err->message : "");
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s OUT_DIR ZSTD_WORKERS ROWS ROWS_PER_SHARD\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    int workers = atoi(argv[2]);
    size_t n = (size_t)strtoull(argv[3], NULL, 10), per_shard = (size_t)strtoull(argv[4], NULL, 10);
    static const char *hostile[] = {
        "plain", "", "with \"quotes\"", "back\\slash \\u0041 \\n", "\x01\x02\x1f\x7f ctrl",
        "emoji \xf0\x9f\x98\x80\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb", "line\nbreak\r\n\ttab",
        "\xe2\x80\xa8 separators \xe2\x80\xa9", "}\n{\"id\": \"x\"}", "\xc3\xa9\xe4\xb8\xad\xf0\x90\x8d\x88",
    };
    const size_t n_hostile = sizeof hostile / sizeof hostile[0];

    uint16_t *rows = malloc(n * DIM * sizeof *rows);
    ep_row_meta *meta = calloc(n, sizeof *meta);
    char (*ids)[48] = calloc(n, sizeof *ids);
    if (!rows || !meta || !ids) return fail("out of memory", NULL);
    uint64_t rng = 0xC0FFEEull + (uint64_t)workers;
    for (size_t i = 0; i < n * DIM; i++) {
        /* Mostly the kind of values embeddings have, plus every so often any
         * bit pattern at all (NaN, inf, subnormals): all must come back. */
        uint64_t r = next_rand(&rng);
        rows[i] = (r & 0xf) == 0 ? (uint16_t)(r >> 16) : (uint16_t)(0x2000 + (r >> 20) % 0x1800 + ((r >> 8) & 1) * 0x8000);
    }
    for (size_t i = 0; i < n; i++) {
        if (i < n_hostile) snprintf(ids[i], sizeof ids[i], "%s", hostile[i]);
        else snprintf(ids[i], sizeof ids[i], "%" PRIu64, (uint64_t)(1000000000000000000ull + next_rand(&rng) % 1000000000ull));
        meta[i] = (ep_row_meta){.id = ids[i], .file_index = (uint32_t)(i % 2), .line = (uint64_t)i * 3 + 1,
                                .n_tokens = (int)(2 + i % 255), .truncated = i % 7 == 0,
                                .text_hash = next_rand(&rng)};
    }

    ep_error err = {0};
    ep_shard_writer *w = NULL;
    ep_shard_writer_options opt = {.dir = dir, .dim = DIM, .rows_per_shard = per_shard, .zstd_workers = workers};
    if (ep_shard_writer_open(&opt, &w, &err) != EP_OK) return fail("open", &err);
    /* Uneven appends, as batches arrive. */
    for (size_t done = 0; done < n;) {
        size_t piece = 1 + (size_t)(next_rand(&rng) % 50);
        if (piece > n - done) piece = n - done;
        if (ep_shard_writer_append(w, rows + done * DIM, meta + done, piece, &err) != EP_OK) return fail("append", &err);
        done += piece;
    }
    if (ep_shard_writer_flush(w, &err) != EP_OK) return fail("flush", &err);
    printf("wrote %zu rows in %zu shards with %d zstd worker(s)\n", n, ep_shard_writer_count(w),
           ep_shard_writer_zstd_workers(w));

    ep_manifest m;
    memset(&m, 0, sizeof m);
    snprintf(m.tool_version, sizeof m.tool_version, "%s", EP_VERSION_STRING);
    snprintf(m.model_name, sizeof m.model_name, "round-trip-test");
    ep_sha256_hex("no model", 8, m.model_sha256);
    m.dim = DIM;
    snprintf(m.pooling, sizeof m.pooling, "mean");
    m.normalized = true;
    m.max_seq_length = 256;
    ep_manifest_input inputs[2] = {{.path = "a.ndjson", .format = "ndjson"}, {.path = "b.txt", .format = "lines"}};
    m.inputs = inputs;
    m.n_inputs = 2;
    m.n_shards = ep_shard_writer_count(w);
    ep_shard_info *shards = calloc(m.n_shards + 1, sizeof *shards);
    for (size_t i = 0; i < m.n_shards; i++) shards[i] = *ep_shard_writer_info(w, i);
    m.shards = shards;
    m.records_read = m.records_embedded = n;
    m.complete = true;
    if (ep_manifest_write(dir, &m, &err) != EP_OK) return fail("manifest", &err);
    ep_shard_writer_free(w);
    free(shards);

    char path[4096];
    snprintf(path, sizeof path, "%s/expected.u16", dir);
    FILE *f = fopen(path, "wb");
    if (!f) return fail("cannot create expected.u16", NULL);
    for (size_t i = 0; i < n * DIM; i++) {
        uint8_t le[2] = {(uint8_t)rows[i], (uint8_t)(rows[i] >> 8)};
        fwrite(le, 1, 2, f);
    }
    fclose(f);
    snprintf(path, sizeof path, "%s/expected_ids.tsv", dir);
    f = fopen(path, "w");
    if (!f) return fail("cannot create expected_ids.tsv", NULL);
    for (size_t i = 0; i < n; i++) {
        for (const uint8_t *p = (const uint8_t *)meta[i].id; *p; p++) fprintf(f, "%02x", *p);
        fprintf(f, "\t%u\t%" PRIu64 "\t%d\t%d\t%016" PRIx64 "\n", meta[i].file_index, meta[i].line, meta[i].n_tokens,
                meta[i].truncated ? 1 : 0, meta[i].text_hash);
    }
    fclose(f);
    free(rows);
    free(meta);
    free(ids);
    return 0;
}
