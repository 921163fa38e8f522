/* test_shard_roundtrip.c - rows written through ep_shard_writer come back
 * bit for bit from ep_shard_read, across shard boundaries (1 row per shard,
 * an exact multiple, a remainder, fewer rows than one shard), with the right
 * names, counts, sizes and checksums, no empty shard and no temporary file
 * left behind. */
#include "sha256.h"
#include "shard.h"
#include "test_shard_util.h"
#include "test_util.h"

#include <dirent.h>
#include <sys/stat.h>

typedef struct scenario {
    int dim;
    size_t rows_per_shard;
    size_t n_rows;
    int zstd_level;
    int zstd_workers;
    unsigned first_shard;
    uint64_t first_row;
} scenario;

/* @return the number of directory entries other than . and .. (all of them
 * must be shard or ids files: no temporary file may be left). */
static size_t count_entries(const char *dir, size_t *tmp_files) {
    DIR *d = opendir(dir);
    size_t n = 0;
    *tmp_files = 0;
    if (!d) return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        n++;
        if (e->d_name[0] == '.' || strstr(e->d_name, ".tmp")) (*tmp_files)++;
    }
    closedir(d);
    return n;
}

static void run(const scenario *sc, uint64_t seed) {
    char dir[512];
    if (!ep_test_mkdtemp(dir, sizeof dir, "shard")) {
        CHECK(!"mkdtemp");
        return;
    }
    size_t dim = (size_t)sc->dim;
    uint16_t *rows = malloc((sc->n_rows ? sc->n_rows : 1) * dim * sizeof *rows);
    ep_row_meta *meta = calloc(sc->n_rows ? sc->n_rows : 1, sizeof *meta);
    char (*ids)[32] = calloc(sc->n_rows ? sc->n_rows : 1, sizeof *ids);
    uint64_t rng = seed;
    for (size_t i = 0; i < sc->n_rows * dim; i++) rows[i] = (uint16_t)ep_test_rand(&rng); /* incl. NaN, inf, subnormal */
    for (size_t i = 0; i < sc->n_rows; i++) {
        snprintf(ids[i], sizeof ids[i], "id-%zu", i);
        meta[i] = (ep_row_meta){.id = ids[i], .file_index = (uint32_t)(i % 3), .line = i + 1,
                                .n_tokens = (int)(i % 513), .truncated = i % 5 == 0, .text_hash = ep_test_rand(&rng)};
    }

    ep_error err = {0};
    ep_shard_writer *w = NULL;
    ep_shard_writer_options opt = {.dir = dir, .dim = sc->dim, .rows_per_shard = sc->rows_per_shard,
                                   .zstd_level = sc->zstd_level, .zstd_workers = sc->zstd_workers,
                                   .first_shard = sc->first_shard, .first_row = sc->first_row};
    CHECK_OK(ep_shard_writer_open(&opt, &w, &err), &err);
    if (!w) goto out;
    /* Append in random pieces, empty ones included. */
    for (size_t done = 0; done < sc->n_rows;) {
        size_t piece = (size_t)(ep_test_rand(&rng) % 9);
        if (piece > sc->n_rows - done) piece = sc->n_rows - done;
        CHECK_OK(ep_shard_writer_append(w, rows + done * dim, meta + done, piece, &err), &err);
        done += piece;
        CHECK(ep_shard_writer_next_row(w) == sc->first_row + done);
    }
    size_t rps = sc->rows_per_shard ? sc->rows_per_shard : 32768;
    CHECK(ep_shard_writer_buffered(w) == sc->n_rows % rps);
    CHECK_OK(ep_shard_writer_flush(w, &err), &err);
    CHECK_OK(ep_shard_writer_flush(w, &err), &err); /* a second flush writes nothing */
    CHECK(ep_shard_writer_buffered(w) == 0);

    size_t want_shards = (sc->n_rows + rps - 1) / rps;
    size_t n_shards = ep_shard_writer_count(w);
    CHECKF(n_shards == want_shards, "%zu rows, %zu per shard: %zu shards, expected %zu", sc->n_rows, rps, n_shards,
           want_shards);
    CHECK(ep_shard_writer_info(w, n_shards) == NULL);
    size_t tmp_files;
    CHECKF(count_entries(dir, &tmp_files) == 2 * n_shards, "files in %s", dir);
    CHECK(tmp_files == 0);

    uint64_t next_row = sc->first_row;
    size_t row_at = 0;
    for (size_t s = 0; s < n_shards; s++) {
        const ep_shard_info *info = ep_shard_writer_info(w, s);
        char want_name[64], want_ids[64], path[1024];
        snprintf(want_name, sizeof want_name, "shard-%05u.npy.zst", sc->first_shard + (unsigned)s);
        snprintf(want_ids, sizeof want_ids, "shard-%05u.ids.ndjson.zst", sc->first_shard + (unsigned)s);
        CHECKF(strcmp(info->name, want_name) == 0, "%s vs %s", info->name, want_name);
        CHECKF(strcmp(info->ids_name, want_ids) == 0, "%s vs %s", info->ids_name, want_ids);
        size_t want_rows = s + 1 < n_shards ? rps : sc->n_rows - s * rps;
        CHECKF(info->rows == want_rows && info->rows > 0, "shard %zu has %llu rows, expected %zu", s,
               (unsigned long long)info->rows, want_rows);
        CHECK(info->first_row == next_row);
        next_row += info->rows;

        snprintf(path, sizeof path, "%s/%s", dir, info->name);
        struct stat st;
        CHECK(stat(path, &st) == 0 && (uint64_t)st.st_size == info->bytes);
        char hex[65];
        CHECK_OK(ep_sha256_file(path, hex, &err), &err);
        CHECKF(strcmp(hex, info->sha256) == 0, "%s: recorded SHA-256 differs from the file's", info->name);

        /* The frame header must carry the content size (one-shot decoders
         * need it) and the checksum flag; the .npy header must end on a
         * multiple of 64 bytes. */
        size_t raw_len, npy_len = 0;
        uint8_t *raw = ep_test_read_file(path, &raw_len);
        CHECK(raw && raw_len > 5 && (raw[4] & 0x04));
        uint8_t *npy = ts_read_zst(path, &npy_len);
        CHECKF(npy != NULL, "%s: frame content size missing or data not decodable", info->name);
        if (npy) {
            size_t hlen = (size_t)npy[8] | (size_t)npy[9] << 8;
            CHECK(memcmp(npy, "\x93NUMPY\x01\x00", 8) == 0);
            CHECKF((10 + hlen) % 64 == 0, "header length %zu", hlen);
            CHECK(npy[10 + hlen - 1] == '\n');
            CHECK(npy_len == 10 + hlen + info->rows * dim * 2);
        }
        free(raw);
        free(npy);

        uint16_t *back = NULL;
        size_t n_back = 0;
        int dim_back = 0;
        CHECK_OK(ep_shard_read(path, &back, &n_back, &dim_back, &err), &err);
        CHECK(n_back == info->rows && dim_back == sc->dim);
        if (back && n_back == info->rows)
            CHECKF(memcmp(back, rows + row_at * dim, n_back * dim * 2) == 0, "%s: rows differ", info->name);
        free(back);

        snprintf(path, sizeof path, "%s/%s", dir, info->ids_name);
        CHECK_OK(ep_sha256_file(path, hex, &err), &err);
        CHECKF(strcmp(hex, info->ids_sha256) == 0, "%s: recorded SHA-256 differs", info->ids_name);
        ep_row_meta *mb = NULL;
        size_t n_meta = 0;
        CHECK_OK(ep_shard_read_ids(path, &mb, &n_meta, &err), &err);
        CHECK(n_meta == info->rows);
        for (size_t i = 0; mb && i < n_meta && i < info->rows; i++) {
            const ep_row_meta *a = &meta[row_at + i], *b = &mb[i];
            CHECKF(strcmp(a->id, b->id) == 0 && a->file_index == b->file_index && a->line == b->line &&
                       a->n_tokens == b->n_tokens && a->truncated == b->truncated && a->text_hash == b->text_hash,
                   "%s line %zu differs", info->ids_name, i + 1);
        }
        ep_shard_ids_free(mb, n_meta);
        row_at += info->rows;
    }
    CHECK(row_at == sc->n_rows);
out:
    ep_shard_writer_free(w);
    free(rows);
    free(meta);
    free(ids);
    ep_test_rm_rf(dir);
}

static void usage_errors(void) {
    char dir[512];
    if (!ep_test_mkdtemp(dir, sizeof dir, "shard-usage")) return;
    ep_error err = {0};
    ep_shard_writer *w = NULL;
    ep_shard_writer_options bad_dim = {.dir = dir, .dim = 0};
    CHECK(ep_shard_writer_open(&bad_dim, &w, &err) == EP_ERR_USAGE && w == NULL);
    char missing[600];
    snprintf(missing, sizeof missing, "%s/no-such-folder", dir);
    ep_shard_writer_options bad_dir = {.dir = missing, .dim = 4};
    CHECK(ep_shard_writer_open(&bad_dir, &w, &err) == EP_ERR_USAGE);
    CHECKF(strstr(err.message, "no-such-folder") != NULL, "message should name the folder: %s", err.message);
    ep_shard_writer_options bad_level = {.dir = dir, .dim = 4, .zstd_level = 1000};
    CHECK(ep_shard_writer_open(&bad_level, &w, &err) == EP_ERR_USAGE);
    ep_shard_writer_options bad_workers = {.dir = dir, .dim = 4, .zstd_workers = -1};
    CHECK(ep_shard_writer_open(&bad_workers, &w, &err) == EP_ERR_USAGE);
    /* Workers are clamped or dropped, never an error. */
    ep_shard_writer_options many = {.dir = dir, .dim = 4, .zstd_workers = 100000};
    CHECK_OK(ep_shard_writer_open(&many, &w, &err), &err);
    CHECK(ep_shard_writer_zstd_workers(w) >= 0);
    printf("libzstd allows %d worker(s) of the 100000 asked for\n", ep_shard_writer_zstd_workers(w));
    CHECK(ep_shard_writer_flush(w, &err) == EP_OK && ep_shard_writer_count(w) == 0);
    ep_shard_writer_free(w);
    ep_shard_writer_free(NULL);
    CHECK(ep_shard_writer_count(NULL) == 0 && ep_shard_writer_info(NULL, 0) == NULL);
    ep_test_rm_rf(dir);
}

int main(void) {
    const scenario cases[] = {
        {.dim = 384, .rows_per_shard = 1, .n_rows = 5},                          /* one row per shard */
        {.dim = 384, .rows_per_shard = 8, .n_rows = 32},                         /* exact multiple */
        {.dim = 384, .rows_per_shard = 8, .n_rows = 37},                         /* remainder */
        {.dim = 384, .rows_per_shard = 1000, .n_rows = 17},                      /* one short shard */
        {.dim = 384, .rows_per_shard = 0, .n_rows = 40},                         /* default size */
        {.dim = 384, .rows_per_shard = 7, .n_rows = 0},                          /* nothing: no shard */
        {.dim = 1, .rows_per_shard = 3, .n_rows = 10},                           /* width 1 */
        {.dim = 7, .rows_per_shard = 5, .n_rows = 23, .zstd_level = 19},
        {.dim = 384, .rows_per_shard = 300, .n_rows = 1000, .zstd_workers = 2},  /* zstd threads */
        {.dim = 384, .rows_per_shard = 6, .n_rows = 13, .first_shard = 41, .first_row = 12345}, /* resume */
        {.dim = 64, .rows_per_shard = 40000, .n_rows = 40001, .zstd_level = 1},  /* > 16-bit row count */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run(&cases[i], 0x1234567ull + i);
    usage_errors();
    return ep_test_finish("test_shard_roundtrip");
}
