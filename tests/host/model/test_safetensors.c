/*
 * test_safetensors.c - the safetensors reader on files built here byte by byte:
 * valid ones are read back exactly; each kind of malformation is rejected with a
 * message naming the input and the tensor; the F16/BF16 conversions are exact
 * for all 65,536 bit patterns.
 */
#include "safetensors.h"
#include "model_test_util.h"

#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

/* An in-memory file: 8-byte length, header, data_len bytes of data (byte i = i & 0xff). */
typedef struct img {
    uint8_t *b;
    size_t n;
} img;

static img build_len(uint64_t header_len_field, const char *header, size_t data_len) {
    size_t hl = strlen(header);
    img m = {malloc(8 + hl + data_len + 1), 8 + hl + data_len};
    for (int i = 0; i < 8; i++) m.b[i] = (uint8_t)(header_len_field >> (8 * i));
    memcpy(m.b + 8, header, hl);
    for (size_t i = 0; i < data_len; i++) m.b[8 + hl + i] = (uint8_t)i;
    return m;
}

static img build(const char *header, size_t data_len) { return build_len(strlen(header), header, data_len); }

static const char *LABEL = "test.safetensors";

/* Expects a parse failure whose message names LABEL and contains needles. */
static void reject(const char *what, img m, const char *needle1, const char *needle2) {
    ep_safetensors *st = (ep_safetensors *)1;
    ep_error err = {0};
    ep_status s = ep_safetensors_parse(m.b, m.n, LABEL, &st, &err);
    CHECKF(s == EP_ERR_FORMAT, "%s: status %d, expected EP_ERR_FORMAT", what, (int)s);
    CHECKF(st == NULL, "%s: *out not NULL", what);
    CHECKF(strstr(err.message, LABEL) != NULL, "%s: message does not name the file: %s", what, err.message);
    CHECKF(!needle1 || strstr(err.message, needle1), "%s: message lacks \"%s\": %s", what, needle1, err.message);
    CHECKF(!needle2 || strstr(err.message, needle2), "%s: message lacks \"%s\": %s", what, needle2, err.message);
    if (s == EP_OK) ep_safetensors_close(st);
    else printf("  ok, rejected (%s): %s\n", what, err.message);
    free(m.b);
}

static void test_valid(void) {
    /* a: F32[2,3] at 0..24, gap, b: F16[4] at 32..40, c: BF16 scalar, empty: F32[0,5], i: I64[1,2] */
    const char *h = "{\"__metadata__\":{\"format\":\"pt\",\"k\":\"v\"},"
                    "\"b\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[32,40]},"
                    "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                    "\"c\":{\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[40,42]},"
                    "\"empty\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[42,42]},"
                    "\"i\":{\"dtype\":\"I64\",\"shape\":[1,2],\"data_offsets\":[48,64]}}   ";
    img m = build(h, 64);
    ep_safetensors *st = NULL;
    ep_error err = {0};
    CHECK_OK(ep_safetensors_parse(m.b, m.n, LABEL, &st, &err), &err);
    if (!st) {
        free(m.b);
        return;
    }
    const uint8_t *data = m.b + 8 + strlen(h);
    CHECK(ep_safetensors_count(st) == 5);
    const ep_tensor_view *a = ep_safetensors_find(st, "a"), *b = ep_safetensors_find(st, "b");
    const ep_tensor_view *c = ep_safetensors_find(st, "c"), *e = ep_safetensors_find(st, "empty");
    const ep_tensor_view *i64 = ep_safetensors_find(st, "i");
    CHECK(a && b && c && e && i64);
    CHECK(ep_safetensors_find(st, "__metadata__") == NULL && ep_safetensors_find(st, "z") == NULL);
    CHECK(ep_safetensors_find(st, "") == NULL && ep_safetensors_find(NULL, "a") == NULL);
    if (a && b && c && e && i64) {
        CHECK(a->dtype == EP_DTYPE_F32 && a->ndim == 2 && a->shape[0] == 2 && a->shape[1] == 3);
        CHECK(a->numel == 6 && a->nbytes == 24 && a->data == data && strcmp(a->name, "a") == 0);
        CHECK(b->dtype == EP_DTYPE_F16 && b->ndim == 1 && b->numel == 4 && b->data == data + 32);
        CHECK(c->dtype == EP_DTYPE_BF16 && c->ndim == 0 && c->numel == 1 && c->nbytes == 2);
        CHECK(e->numel == 0 && e->nbytes == 0);
        CHECK(i64->dtype == EP_DTYPE_I64 && i64->nbytes == 16);
        /* at() is in offset order */
        CHECK(ep_safetensors_at(st, 0) == a && ep_safetensors_at(st, 4) == i64 && !ep_safetensors_at(st, 5));
        CHECK(ep_safetensors_at(st, -1) == NULL);
        float v[6];
        CHECK_OK(ep_tensor_to_f32(a, v, &err), &err);
        CHECK(memcmp(v, data, 24) == 0);
        CHECK_OK(ep_tensor_to_f32(b, v, &err), &err);
        for (int k = 0; k < 4; k++) CHECK(v[k] == mt_half((uint16_t)(data[32 + 2 * k] | data[33 + 2 * k] << 8)));
        CHECK(ep_tensor_to_f32(i64, v, &err) == EP_ERR_FORMAT && strstr(err.message, "I64"));
    }
    CHECK(ep_safetensors_metadata(st, "format") && strcmp(ep_safetensors_metadata(st, "format"), "pt") == 0);
    CHECK(ep_safetensors_metadata(st, "nope") == NULL);
    size_t size = 0;
    CHECK(ep_safetensors_bytes(st, &size) == m.b && size == m.n);
    CHECK(strcmp(ep_safetensors_label(st), LABEL) == 0);
    ep_safetensors_close(st);
    ep_safetensors_close(NULL);

    /* No tensors at all is a valid (empty) file. */
    img z = build("{}", 0);
    CHECK_OK(ep_safetensors_parse(z.b, z.n, LABEL, &st, &err), &err);
    CHECK(ep_safetensors_count(st) == 0);
    ep_safetensors_close(st);
    free(z.b);
    free(m.b);
}

static void test_malformed(void) {
    const char *ok1 = "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    for (size_t n = 0; n < 8; n++) {
        img m = build(ok1, 8);
        m.n = n;
        reject("shorter than 8 bytes", m, "too short", "truncated");
    }
    img m = build(ok1, 8);
    m.n -= 1;
    reject("data truncated by one byte", m, "'t'", "outside the data region");
    m = build(ok1, 8);
    m.n = 8 + strlen(ok1) - 3;
    reject("header truncated", m, "runs past the end", NULL);
    reject("header length past EOF", build_len(1u << 20, ok1, 8), "runs past the end", NULL);
    reject("header length huge", build_len(UINT64_MAX, ok1, 8), "exceeds", NULL);
    reject("header length zero", build_len(0, ok1, 8), "too small", NULL);
    reject("not JSON", build("{\"t\":{\"dtype\":\"F32\",", 8), "not valid JSON", NULL);
    reject("binary garbage", build("\x7f" "ELF\x02\x01\x01", 64), "does not start with '{'", NULL);
    reject("array header", build("[1,2]", 0), "does not start with '{'", NULL);
    reject("trailing bytes", build("{}x", 0), "after the header", NULL);
    reject("trailing second object", build("{} {}", 0), "after the header", NULL);
    reject("entry not an object", build("{\"t\":[1]}", 0), "'t'", "not a JSON object");
    reject("no dtype", build("{\"t\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4), "'t'", "dtype");
    reject("bad dtype", build("{\"t\":{\"dtype\":\"F128\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4), "'t'",
           "unknown dtype \"F128\"");
    reject("dtype number", build("{\"t\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4), "'t'", "dtype");
    reject("no shape", build("{\"t\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4), "'t'", "shape");
    reject("negative dim", build("{\"t\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4), "'t'",
           "shape[0]");
    reject("fractional dim", build("{\"t\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4), "'t'",
           "shape[0]");
    reject("string dim", build("{\"t\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4), "'t'",
           "shape[0]");
    reject("nine dims",
           build("{\"t\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4), "'t'",
           "9 dimensions");
    reject("shape overflow",
           build("{\"t\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,4]}}",
                 4),
           "'t'", "overflows");
    reject("shape wrapping to zero",
           build("{\"t\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}}", 4),
           "'t'", "overflows");
    reject("shape too large for data",
           build("{\"t\":{\"dtype\":\"F32\",\"shape\":[1048576,1048576],\"data_offsets\":[0,4]}}", 4),
           "'t'", "needs 4398046511104 bytes");
    reject("shape past 2^53", build("{\"t\":{\"dtype\":\"F32\",\"shape\":[1e300],\"data_offsets\":[0,4]}}", 4),
           "'t'", "shape[0]");
    reject("size mismatch", build("{\"t\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8), "'t'",
           "needs 12 bytes");
    reject("dtype size mismatch", build("{\"t\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8),
           "'t'", "F16[2] needs 4 bytes");
    reject("offsets past end", build("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 8), "'t'",
           "[4, 12]");
    reject("offsets reversed", build("{\"t\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", 8), "'t'",
           "outside");
    reject("three offsets", build("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8), "'t'",
           "data_offsets");
    reject("negative offset", build("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 8), "'t'",
           "data_offsets");
    reject("no offsets", build("{\"t\":{\"dtype\":\"F32\",\"shape\":[1]}}", 8), "'t'", "data_offsets");
    reject("overlap",
           build("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                 "\"y\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                 12),
           "'x'", "'y'");
    reject("same range",
           build("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                 "\"y\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                 8),
           "overlap", NULL);
    reject("contained",
           build("{\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                 "\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},"
                 "\"y\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[6,8]}}",
                 16),
           "overlap", "'y'");
    reject("duplicate names",
           build("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                 "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                 8),
           "'w'", "appears twice");
    reject("metadata not object", build("{\"__metadata__\":[1]}", 0), "__metadata__", NULL);
    reject("metadata value not string", build("{\"__metadata__\":{\"n\":1}}", 0), "'n'", "not a string");
    reject("metadata twice", build("{\"__metadata__\":{},\"__metadata__\":{}}", 0), "twice", NULL);
    char deep[3000];
    memset(deep, '[', sizeof deep);
    memcpy(deep, "{\"t\":", 5);
    deep[sizeof deep - 1] = '\0';
    reject("deep nesting", build(deep, 0), "not valid JSON", NULL);
}

static void test_files(void) {
    char dir[] = "/tmp/ep_test_st_XXXXXX";
    if (!mkdtemp(dir)) return;
    char path[256];
    snprintf(path, sizeof path, "%s/ok.safetensors", dir);
    const char *h = "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    img m = build(h, 8);
    CHECK(ep_test_write_file(path, m.b, m.n) == 0);
    ep_safetensors *st = NULL;
    ep_error err = {0};
    CHECK_OK(ep_safetensors_open(path, &st, &err), &err);
    const ep_tensor_view *t = ep_safetensors_find(st, "t");
    CHECK(t && memcmp(t->data, m.b + 8 + strlen(h), 8) == 0);
    CHECK(st && strcmp(ep_safetensors_label(st), path) == 0);
    ep_safetensors_close(st);

    CHECK(truncate(path, (off_t)m.n - 1) == 0);
    CHECK(ep_safetensors_open(path, &st, &err) == EP_ERR_FORMAT && st == NULL && strstr(err.message, path));
    CHECK(truncate(path, 0) == 0);
    CHECK(ep_safetensors_open(path, &st, &err) == EP_ERR_FORMAT && strstr(err.message, "too short"));
    unlink(path);
    CHECK(ep_safetensors_open(path, &st, &err) == EP_ERR_IO && strstr(err.message, path));
    CHECK(ep_safetensors_open(dir, &st, &err) == EP_ERR_IO && strstr(err.message, "not a regular file"));
    printf("  ok, missing file: %s\n", err.message);
    rmdir(dir);
    free(m.b);
}

static void test_conversions(void) {
    /* All 65,536 patterns, at an odd address: F16 against _Float16 and the definition, BF16 against its
     * definition. */
    uint8_t *raw = malloc(2 * 65536 + 1);
    float *got = malloc(sizeof(float) * 65536);
    for (uint32_t h = 0; h < 65536; h++) {
        raw[1 + 2 * h] = (uint8_t)(h & 0xff);
        raw[2 + 2 * h] = (uint8_t)(h >> 8);
    }
    ep_tensor_view all = {.name = "all", .dtype = EP_DTYPE_F16, .ndim = 1, .shape = {65536}, .numel = 65536,
                          .data = raw + 1, .nbytes = 2 * 65536};
    ep_error err = {0};
    CHECK_OK(ep_tensor_to_f32(&all, got, &err), &err);
    long bad16 = 0, badbf = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float want = mt_half((uint16_t)h);
        bool same = isnan(want) ? isnan(got[h]) : memcmp(&got[h], &want, 4) == 0;
#ifdef __FLT16_MAX__
        _Float16 hf;
        uint16_t bits = (uint16_t)h;
        memcpy(&hf, &bits, 2);
        float want2 = (float)hf;
        same = same && (isnan(want2) ? isnan(got[h]) : memcmp(&got[h], &want2, 4) == 0);
#endif
        if (!same && bad16++ < 3) fprintf(stderr, "F16 %04x: got %.9g want %.9g\n", h, got[h], want);
    }
    all.dtype = EP_DTYPE_BF16;
    CHECK_OK(ep_tensor_to_f32(&all, got, &err), &err);
    for (uint32_t h = 0; h < 65536; h++) {
        float want = mt_bfloat((uint16_t)h);
        if (memcmp(&got[h], &want, 4) != 0 && badbf++ < 3) fprintf(stderr, "BF16 %04x: got %.9g\n", h, got[h]);
    }
    CHECKF(bad16 == 0, "%ld F16 patterns convert wrongly", bad16);
    CHECKF(badbf == 0, "%ld BF16 patterns convert wrongly", badbf);
    free(raw);
    free(got);

    /* Unaligned source data converts the same. */
    uint8_t small[1 + 8] = {0, 0x00, 0x3c, 0x00, 0xc0, 0x80, 0x3f, 0x01, 0x00};
    ep_tensor_view t = {.name = "u", .dtype = EP_DTYPE_F16, .ndim = 1, .shape = {4}, .numel = 4,
                        .data = small + 1, .nbytes = 8};
    float v[4];
    CHECK_OK(ep_tensor_to_f32(&t, v, &err), &err);
    CHECK(v[0] == 1.0f && v[1] == -2.0f && v[2] == mt_half(0x3f80) && v[3] == mt_half(0x0001));
    t.dtype = EP_DTYPE_BF16;
    CHECK_OK(ep_tensor_to_f32(&t, v, &err), &err);
    CHECK(v[0] == mt_bfloat(0x3c00) && v[1] == -2.0f && v[2] == 1.0f);

    CHECK(ep_dtype_size(EP_DTYPE_BF16) == 2 && ep_dtype_size(EP_DTYPE_F64) == 8 && ep_dtype_size(EP_DTYPE_COUNT) == 0);
    CHECK(strcmp(ep_dtype_name(EP_DTYPE_F8_E4M3), "F8_E4M3") == 0 && strcmp(ep_dtype_name(EP_DTYPE_COUNT), "?") == 0);
}

int main(void) {
    test_valid();
    test_malformed();
    test_files();
    test_conversions();
    return ep_test_finish("test_safetensors");
}
