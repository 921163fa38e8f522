/* test_shard_corrupt.c - ep_shard_read refuses damaged and foreign shards with
 * a message that says what is wrong: truncation at every kind of offset, every
 * single-bit flip, extra frames, frames without checksum, and .npy headers
 * that are not a 2-D C-order '<f2' array. It also accepts the valid variants
 * numpy itself may write (version 2.0, other key order, unaligned header). */
#include "npy.h"
#include "shard.h"
#include "test_shard_util.h"
#include "test_util.h"

static char g_dir[512];

/* @return the status of ep_shard_read on path, copying the message into msg. */
static ep_status read_status(const char *path, char *msg, size_t cap, size_t *rows, int *dim) {
    ep_error err = {0};
    uint16_t *data = NULL;
    size_t n = 0;
    int d = 0;
    ep_status st = ep_shard_read(path, &data, &n, &d, &err);
    if (st != EP_OK) CHECKF(data == NULL && n == 0 && d == 0, "outputs must be cleared on failure");
    free(data);
    snprintf(msg, cap, "%s", err.message);
    if (rows) *rows = n;
    if (dim) *dim = d;
    return st;
}

/* Writes a good shard of rows x dim with partly compressible data; returns its path. */
static void write_good(char *path, size_t cap, size_t rows, int dim, uint64_t seed) {
    ep_error err = {0};
    ep_shard_writer *w = NULL;
    ep_shard_writer_options opt = {.dir = g_dir, .dim = dim, .rows_per_shard = rows};
    CHECK_OK(ep_shard_writer_open(&opt, &w, &err), &err);
    uint16_t *data = malloc(rows * (size_t)dim * 2);
    ep_row_meta *meta = calloc(rows, sizeof *meta);
    uint64_t rng = seed;
    /* Small values repeat, so zstd makes real compressed blocks, not only raw ones. */
    for (size_t i = 0; i < rows * (size_t)dim; i++) data[i] = (uint16_t)(0x3000 + ep_test_rand(&rng) % 64);
    CHECK_OK(ep_shard_writer_append(w, data, meta, rows, &err), &err);
    CHECK(ep_shard_writer_count(w) == 1);
    snprintf(path, cap, "%s/%s", g_dir, ep_shard_writer_info(w, 0)->name);
    ep_shard_writer_free(w);
    free(data);
    free(meta);
}

static void truncation_and_flips(void) {
    char path[1024], bad[1024], msg[1024];
    write_good(path, sizeof path, 40, 24, 5);
    snprintf(bad, sizeof bad, "%s/bad.npy.zst", g_dir);
    size_t len;
    uint8_t *good = ep_test_read_file(path, &len);
    CHECK(good && len > 64);
    if (!good) return;
    size_t rows;
    int dim;
    CHECK(read_status(path, msg, sizeof msg, &rows, &dim) == EP_OK && rows == 40 && dim == 24);

    /* Every prefix of the file is refused, and the message says why. */
    for (size_t cut = 0; cut < len; cut++) {
        CHECK(ep_test_write_file(bad, good, cut) == 0);
        ep_status st = read_status(bad, msg, sizeof msg, NULL, NULL);
        CHECKF(st == EP_ERR_FORMAT, "truncated to %zu of %zu bytes: status %d", cut, len, (int)st);
        CHECKF(strstr(msg, "bad.npy.zst") != NULL, "message must name the file: %s", msg);
        if (cut >= 32)
            CHECKF(strstr(msg, "truncated") || strstr(msg, "corrupt"), "cut at %zu: %s", cut, msg);
    }
    CHECK(ep_test_write_file(bad, good, 0) == 0);
    read_status(bad, msg, sizeof msg, NULL, NULL);
    CHECKF(strstr(msg, "empty") != NULL, "%s", msg);
    CHECK(ep_test_write_file(bad, good, len - 1) == 0);
    read_status(bad, msg, sizeof msg, NULL, NULL);
    CHECKF(strstr(msg, "truncated") != NULL, "%s", msg);

    /* Every single-bit flip, at every byte, is either refused or harmless:
     * the zstd checksum covers the decoded content, so a flip that still
     * decodes to the same bytes (an unused frame-header bit, an unused part of
     * an entropy table) cannot be seen here - only the SHA-256 in the
     * manifest catches those, and test_manifest_verify checks that it does.
     * What must never happen is different rows coming back as valid. */
    uint16_t *want = NULL;
    size_t want_rows;
    int want_dim;
    ep_error err = {0};
    CHECK_OK(ep_shard_read(path, &want, &want_rows, &want_dim, &err), &err);
    size_t refused = 0, harmless = 0;
    for (size_t pos = 0; want && pos < len; pos++) {
        for (int bit = 0; bit < 8; bit++) {
            good[pos] ^= (uint8_t)(1u << bit);
            CHECK(ep_test_write_file(bad, good, len) == 0);
            good[pos] ^= (uint8_t)(1u << bit);
            uint16_t *got = NULL;
            size_t got_rows = 0;
            int got_dim = 0;
            ep_status st = ep_shard_read(bad, &got, &got_rows, &got_dim, &err);
            if (st == EP_OK) {
                harmless++;
                CHECKF(got_rows == want_rows && got_dim == want_dim &&
                           memcmp(got, want, want_rows * (size_t)want_dim * 2) == 0,
                       "flip of bit %d at byte %zu gave different rows without an error", bit, pos);
            } else {
                refused++;
                CHECKF(st == EP_ERR_FORMAT && strstr(err.message, "bad.npy.zst"), "flip at %zu: %d %s", pos, (int)st,
                       err.message);
            }
            free(got);
        }
    }
    free(want);
    printf("single-bit flips of a %zu-byte shard: %zu refused, %zu decode to the same rows\n", len, refused,
           harmless);
    CHECK(refused > harmless);
    /* A flip in the data of a stored (raw) block is caught by the checksum. */
    write_good(path, sizeof path, 3, 4, 9);
    free(good);
    good = ep_test_read_file(path, &len);
    good[len - 6] ^= 0x10;
    CHECK(ep_test_write_file(bad, good, len) == 0);
    CHECK(read_status(bad, msg, sizeof msg, NULL, NULL) == EP_ERR_FORMAT);
    CHECKF(strstr(msg, "checksum") || strstr(msg, "corrupt"), "%s", msg);

    /* A second frame after the first, and a frame without checksum, are refused. */
    uint8_t *twice = malloc(2 * len);
    memcpy(twice, good, len);
    memcpy(twice + len, good, len);
    good[len - 6] ^= 0x10;
    memcpy(twice, good, len);
    memcpy(twice + len, good, len);
    CHECK(ep_test_write_file(bad, twice, 2 * len) == 0);
    CHECK(read_status(bad, msg, sizeof msg, NULL, NULL) == EP_ERR_FORMAT);
    CHECKF(strstr(msg, "after the end") != NULL, "%s", msg);
    free(twice);
    size_t npy_len;
    uint8_t *npy = ts_read_zst(path, &npy_len);
    CHECK(npy && ts_write_zst(bad, npy, npy_len, 0) == 0);
    CHECK(read_status(bad, msg, sizeof msg, NULL, NULL) == EP_ERR_FORMAT);
    CHECKF(strstr(msg, "checksum") != NULL, "%s", msg);
    CHECK(npy && ep_test_write_file(bad, npy, npy_len) == 0); /* plain .npy, not compressed */
    CHECK(read_status(bad, msg, sizeof msg, NULL, NULL) == EP_ERR_FORMAT);
    CHECKF(strstr(msg, "not a zstd frame") != NULL, "%s", msg);
    free(npy);
    free(good);
    snprintf(bad, sizeof bad, "%s/none.npy.zst", g_dir);
    CHECK(read_status(bad, msg, sizeof msg, NULL, NULL) == EP_ERR_IO);
}

/* Builds preamble + header + data by hand and frames it with zstd (checksum on). */
static ep_status try_npy(const char *header, int version, size_t data_bytes, char *msg, size_t cap, size_t *rows,
                         int *dim) {
    size_t hlen = strlen(header), pre = version == 1 ? 10 : 12;
    size_t total = pre + hlen + data_bytes;
    uint8_t *buf = calloc(total + 1, 1);
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (uint8_t)version;
    buf[7] = 0;
    buf[8] = (uint8_t)hlen;
    buf[9] = (uint8_t)(hlen >> 8);
    memcpy(buf + pre, header, hlen);
    for (size_t i = 0; i < data_bytes; i++) buf[pre + hlen + i] = (uint8_t)(i * 7);
    char path[1024];
    snprintf(path, sizeof path, "%s/hand.npy.zst", g_dir);
    CHECK(ts_write_zst(path, buf, total, 1) == 0);
    free(buf);
    return read_status(path, msg, cap, rows, dim);
}

static void npy_headers(void) {
    char msg[1024];
    size_t rows;
    int dim;
    static const struct {
        const char *header;
        int version;
        size_t data_bytes;
        const char *expect; /* NULL: accepted */
    } cases[] = {
        {"{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3), }\n", 1, 12, NULL},
        {"{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3), }          \n", 2, 12, NULL},
        {"{\"shape\": (2,3), 'fortran_order':False,'descr':'<f2'}\n", 1, 12, NULL},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", 1, 24, "'<f4'"},
        {"{'descr': '>f2', 'fortran_order': False, 'shape': (2, 3), }\n", 1, 12, "'>f2'"},
        {"{'descr': '<f2', 'fortran_order': True, 'shape': (2, 3), }\n", 1, 12, "Fortran"},
        {"{'descr': '<f2', 'fortran_order': Falsey, 'shape': (2, 3), }\n", 1, 12, "fortran_order"},
        {"{'descr': '<f2', 'fortran_order': False, 'shape': (6,), }\n", 1, 12, "1 dimensions"},
        {"{'descr': '<f2', 'fortran_order': False, 'shape': (1, 2, 3), }\n", 1, 12, "3 dimensions"},
        {"{'descr': '<f2', 'fortran_order': False, 'shape': (), }\n", 1, 2, "0 dimensions"},
        {"{'descr': '<f2', 'fortran_order': False, 'shape': (0, 3), }\n", 1, 0, "empty"},
        {"{'descr': '<f2', 'fortran_order': False, 'shape': (2, 0), }\n", 1, 0, "empty"},
        {"{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3), }\n", 1, 10, "frame says"},
        {"{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3), }\n", 1, 14, "frame says"},
        {"{'descr': '<f2', 'fortran_order': False, 'shape': (2, -3), }\n", 1, 12, "shape"},
        {"{'descr': '<f2', 'fortran_order': False, 'shape': (99999999999999999999, 3), }\n", 1, 12, "shape"},
        {"{'descr': '<f2', 'fortran_order': False, 'shape': (4294967296, 4294967296), }\n", 1, 12, "large"},
        {"{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3), }", 1, 12, "newline"},
        {"{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3), 'extra': 1}\n", 1, 12, "'extra'"},
        {"{'descr': '<f2', 'descr': '<f2', 'fortran_order': False, 'shape': (2, 3)}\n", 1, 12, "repeats"},
        {"{'fortran_order': False, 'shape': (2, 3)}\n", 1, 12, "descr"},
        {"{'descr': '<f2', 'shape': (2, 3)}\n", 1, 12, "fortran_order"},
        {"{'descr': '<f2', 'fortran_order': False}\n", 1, 12, "shape"},
        {"['descr', '<f2']\n", 1, 12, "not a dict"},
        {"{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3)} x\n", 1, 12, "after the dict"},
        {"{'descr': '<f\\x32', 'fortran_order': False, 'shape': (2, 3)}\n", 1, 12, "descr"},
        {"{'descr': '<f2' 'fortran_order': False, 'shape': (2, 3)}\n", 1, 12, "malformed"},
        {"{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3), }\n", 3, 12, "version 3.0"},
        {"{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3), }\n", 0, 12, "version 0.0"},
        {"", 1, 0, "implausible"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ep_status st = try_npy(cases[i].header, cases[i].version, cases[i].data_bytes, msg, sizeof msg, &rows, &dim);
        if (!cases[i].expect) {
            CHECKF(st == EP_OK && rows == 2 && dim == 3, "case %zu refused: %s", i, msg);
        } else {
            CHECKF(st == EP_ERR_FORMAT, "case %zu accepted", i);
            CHECKF(strstr(msg, cases[i].expect) != NULL, "case %zu: message lacks \"%s\": %s", i, cases[i].expect,
                   msg);
        }
    }
    /* Files that end inside the preamble or header. */
    static const char *stubs[] = {"\x93NUM", "\x93NUMPY\x01", "\x93NUMPY\x01\x00\x40\x00{'descr'"};
    char path[1024];
    snprintf(path, sizeof path, "%s/stub.npy.zst", g_dir);
    for (size_t i = 0; i < 3; i++) {
        CHECK(ts_write_zst(path, stubs[i], strlen(stubs[i]), 1) == 0);
        CHECK(read_status(path, msg, sizeof msg, NULL, NULL) == EP_ERR_FORMAT);
        CHECKF(strstr(msg, "ends inside the .npy header") != NULL, "stub %zu: %s", i, msg);
    }
    CHECK(ts_write_zst(path, "NUMPY\x93\x01\x00", 8, 1) == 0);
    CHECK(read_status(path, msg, sizeof msg, NULL, NULL) == EP_ERR_FORMAT);
    CHECKF(strstr(msg, "bad magic") != NULL, "%s", msg);
}

/* The header writer follows numpy's rule for every size of shape. */
static void header_writer(void) {
    uint8_t buf[EP_NPY_MAX_WRITE_HEADER];
    const uint64_t sizes[] = {0, 1, 9, 10, 99999, 100000, 1ull << 32, UINT64_MAX};
    for (size_t i = 0; i < 8; i++) {
        for (size_t j = 0; j < 8; j++) {
            size_t n = ep_npy_f16_header(buf, sizeof buf, sizes[i], sizes[j]);
            CHECKF(n > 0 && n % 64 == 0 && buf[n - 1] == '\n', "shape %zu x %zu", i, j);
            size_t total = 0;
            uint64_t r = 0, c = 0;
            ep_error err = {0};
            CHECK_OK(ep_npy_header_size(buf, n, &total, &err), &err);
            CHECK(total == n);
            CHECK_OK(ep_npy_parse_f16_header(buf, n, &r, &c, &err), &err);
            CHECK(r == sizes[i] && c == sizes[j]);
        }
    }
    /* A small shape's header fills 128 bytes, as numpy's does. */
    CHECK(ep_npy_f16_header(buf, 128, 1, 1) == 128);
    CHECK(ep_npy_f16_header(buf, 127, 1, 1) == 0);
}

int main(void) {
    if (!ep_test_mkdtemp(g_dir, sizeof g_dir, "corrupt")) {
        fprintf(stderr, "cannot create a scratch folder\n");
        return 1;
    }
    header_writer();
    npy_headers();
    truncation_and_flips();
    ep_test_rm_rf(g_dir);
    return ep_test_finish("test_shard_corrupt");
}
