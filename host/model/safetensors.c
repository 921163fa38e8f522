/* safetensors.c - a safetensors reader that rejects malformed input instead of trusting it. */
#include "safetensors.h"

#include "float16.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; ep_tensor_to_f32 copies F32 data as is"
#endif

struct ep_safetensors {
    char *label;
    const uint8_t *bytes;            /* the whole file image */
    size_t size;
    bool mapped;                     /* bytes came from mmap and must be unmapped */
    cJSON *root;                     /* owns the tensor names */
    const cJSON *metadata;           /* the "__metadata__" object, or NULL */
    ep_tensor_view *tensors;         /* sorted by data offset */
    const ep_tensor_view **by_name;  /* sorted by name, for bsearch */
    int n_tensors;
};

// ----------------------------------------------------------------------------
// dtypes

static const struct {
    const char *name;
    size_t size;
} dtype_info[EP_DTYPE_COUNT] = {
    [EP_DTYPE_BOOL] = {"BOOL", 1},       [EP_DTYPE_U8] = {"U8", 1},   [EP_DTYPE_I8] = {"I8", 1},
    [EP_DTYPE_F8_E4M3] = {"F8_E4M3", 1}, [EP_DTYPE_F8_E5M2] = {"F8_E5M2", 1},
    [EP_DTYPE_I16] = {"I16", 2},         [EP_DTYPE_U16] = {"U16", 2}, [EP_DTYPE_F16] = {"F16", 2},
    [EP_DTYPE_BF16] = {"BF16", 2},       [EP_DTYPE_I32] = {"I32", 4}, [EP_DTYPE_U32] = {"U32", 4},
    [EP_DTYPE_F32] = {"F32", 4},         [EP_DTYPE_I64] = {"I64", 8}, [EP_DTYPE_U64] = {"U64", 8},
    [EP_DTYPE_F64] = {"F64", 8},
};

const char *ep_dtype_name(ep_dtype dtype) {
    return (unsigned)dtype < EP_DTYPE_COUNT ? dtype_info[dtype].name : "?";
}

size_t ep_dtype_size(ep_dtype dtype) {
    return (unsigned)dtype < EP_DTYPE_COUNT ? dtype_info[dtype].size : 0;
}

static bool dtype_from_name(const char *name, ep_dtype *out) {
    for (int i = 0; i < EP_DTYPE_COUNT; i++) {
        if (strcmp(name, dtype_info[i].name) == 0) {
            *out = (ep_dtype)i;
            return true;
        }
    }
    return false;
}

static float bfloat_to_float(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

ep_status ep_tensor_to_f32(const ep_tensor_view *t, float *dst, ep_error *err) {
    const uint8_t *src = t->data;
    size_t n = (size_t)t->numel;
    switch (t->dtype) {
    case EP_DTYPE_F32:
        memcpy(dst, src, n * sizeof(float));
        return EP_OK;
    case EP_DTYPE_F16:
        for (size_t i = 0; i < n; i++) dst[i] = ep_f16_to_f32((uint16_t)(src[2 * i] | (src[2 * i + 1] << 8)));
        return EP_OK;
    case EP_DTYPE_BF16:
        for (size_t i = 0; i < n; i++) dst[i] = bfloat_to_float((uint16_t)(src[2 * i] | (src[2 * i + 1] << 8)));
        return EP_OK;
    default:
        return ep_error_set(err, EP_ERR_FORMAT, "tensor '%s' has dtype %s; expected F32, F16 or BF16", t->name,
                            ep_dtype_name(t->dtype));
    }
}

// ----------------------------------------------------------------------------
// header validation

/* JSON numbers are doubles: accept only non-negative integers that a double holds exactly. */
static bool json_uint(const cJSON *item, uint64_t *out) {
    if (!cJSON_IsNumber(item)) return false;
    double v = item->valuedouble;
    if (!(v >= 0.0 && v <= 9007199254740992.0) || v != floor(v)) return false;
    *out = (uint64_t)v;
    return true;
}

/* Keeps a message short when a name is absurdly long. */
static const char *short_name(const char *name, char buf[96]) {
    size_t n = strlen(name);
    if (n < 96) return name;
    snprintf(buf, 96, "%.80s...", name);
    return buf;
}

static ep_status parse_tensor(const ep_safetensors *st, const cJSON *entry, const uint8_t *data, uint64_t data_size,
                              ep_tensor_view *t, ep_error *err) {
    char nb[96];
    const char *name = short_name(entry->string, nb);
    t->name = entry->string;
    if (!cJSON_IsObject(entry))
        return ep_error_set(err, EP_ERR_FORMAT, "%s: tensor '%s': header entry is not a JSON object", st->label,
                            name);

    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(entry, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(entry, "shape");
    const cJSON *offsets = cJSON_GetObjectItemCaseSensitive(entry, "data_offsets");
    if (!cJSON_IsString(dtype))
        return ep_error_set(err, EP_ERR_FORMAT, "%s: tensor '%s': \"dtype\" is missing or not a string", st->label,
                            name);
    if (!dtype_from_name(dtype->valuestring, &t->dtype))
        return ep_error_set(err, EP_ERR_FORMAT, "%s: tensor '%s': unknown dtype \"%.32s\"", st->label, name,
                            dtype->valuestring);
    if (!cJSON_IsArray(shape))
        return ep_error_set(err, EP_ERR_FORMAT, "%s: tensor '%s': \"shape\" is missing or not an array", st->label,
                            name);
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > EP_SAFETENSORS_MAX_DIMS)
        return ep_error_set(err, EP_ERR_FORMAT, "%s: tensor '%s': %d dimensions; at most %d are supported", st->label,
                            name, ndim, EP_SAFETENSORS_MAX_DIMS);
    t->ndim = ndim;

    /* Overflow-checked: a header can claim any shape; the span check below then bounds it by the file. */
    size_t esize = ep_dtype_size(t->dtype);
    uint64_t numel = 1;
    bool overflow = false, empty = false;
    int d = 0;
    for (const cJSON *dim = shape->child; dim; dim = dim->next, d++) {
        uint64_t v;
        if (!json_uint(dim, &v))
            return ep_error_set(err, EP_ERR_FORMAT, "%s: tensor '%s': shape[%d] is not a non-negative integer",
                                st->label, name, d);
        t->shape[d] = (int64_t)v;
        if (v == 0) empty = true;
        else if (!overflow && numel > UINT64_MAX / esize / v) overflow = true;
        else numel *= v;
    }
    if (empty) numel = 0; /* any zero dimension makes the tensor empty, however large the others */
    else if (overflow)
        return ep_error_set(err, EP_ERR_FORMAT, "%s: tensor '%s': the shape's byte size overflows 64 bits", st->label,
                            name);
    uint64_t begin, end;
    if (!cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2 || !json_uint(offsets->child, &begin) ||
        !json_uint(offsets->child->next, &end))
        return ep_error_set(err, EP_ERR_FORMAT,
                            "%s: tensor '%s': \"data_offsets\" must be [begin, end], two non-negative integers",
                            st->label, name);
    if (begin > end || end > data_size)
        return ep_error_set(err, EP_ERR_FORMAT,
                            "%s: tensor '%s': data_offsets [%llu, %llu] lie outside the data region [0, %llu]; "
                            "the file is truncated or its header is corrupt",
                            st->label, name, (unsigned long long)begin, (unsigned long long)end,
                            (unsigned long long)data_size);
    if (end - begin != numel * esize) {
        char dims[160] = "";
        size_t len = 0;
        for (int i = 0; i < t->ndim && len < sizeof dims - 24; i++)
            len += (size_t)snprintf(dims + len, sizeof dims - len, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
        return ep_error_set(err, EP_ERR_FORMAT,
                            "%s: tensor '%s': data_offsets span %llu bytes but %s[%s] needs %llu bytes", st->label,
                            name, (unsigned long long)(end - begin), ep_dtype_name(t->dtype), dims,
                            (unsigned long long)(numel * esize));
    }
    t->numel = (int64_t)numel;
    t->nbytes = (size_t)(numel * esize);
    t->offset = begin;
    t->data = data + begin;
    return EP_OK;
}

static int cmp_offset(const void *a, const void *b) {
    const ep_tensor_view *x = a, *y = b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

static int cmp_name(const void *a, const void *b) {
    const ep_tensor_view *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

static ep_status check_metadata(const ep_safetensors *st, const cJSON *meta, ep_error *err) {
    if (!cJSON_IsObject(meta))
        return ep_error_set(err, EP_ERR_FORMAT, "%s: \"__metadata__\" is not a JSON object", st->label);
    for (const cJSON *m = meta->child; m; m = m->next) {
        char nb[96];
        if (!cJSON_IsString(m))
            return ep_error_set(err, EP_ERR_FORMAT, "%s: \"__metadata__\" value of '%s' is not a string", st->label,
                                short_name(m->string, nb));
    }
    return EP_OK;
}

/* The 8-byte length and the JSON object after it, padding checked, into st->root.
 * @return EP_OK and *header_len, or EP_ERR_FORMAT saying what is wrong. */
static ep_status parse_header_json(ep_safetensors *st, uint64_t *header_len, ep_error *err) {
    if (st->size < 8)
        return ep_error_set(err, EP_ERR_FORMAT,
                            "%s: %zu bytes is too short for a safetensors file (8-byte header length first); "
                            "the file is truncated",
                            st->label, st->size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | st->bytes[i];
    if (n < 2)
        return ep_error_set(err, EP_ERR_FORMAT, "%s: header length %llu is too small for a JSON object", st->label,
                            (unsigned long long)n);
    if (n > EP_SAFETENSORS_MAX_HEADER)
        return ep_error_set(err, EP_ERR_FORMAT,
                            "%s: header length %llu exceeds the %u-byte limit; this is not a safetensors file",
                            st->label, (unsigned long long)n, EP_SAFETENSORS_MAX_HEADER);
    if (n > st->size - 8)
        return ep_error_set(err, EP_ERR_FORMAT,
                            "%s: header length %llu runs past the end of the %zu-byte file; the file is truncated "
                            "or not a safetensors file",
                            st->label, (unsigned long long)n, st->size);

    const char *json = (const char *)st->bytes + 8;
    if (json[0] != '{')
        return ep_error_set(err, EP_ERR_FORMAT, "%s: header does not start with '{'; this is not a safetensors file",
                            st->label);
    const char *end = NULL;
    st->root = cJSON_ParseWithLengthOpts(json, (size_t)n, &end, 0);
    if (!st->root) {
        size_t at = end && end >= json && end <= json + n ? (size_t)(end - json) : 0;
        return ep_error_set(err, EP_ERR_FORMAT, "%s: header is not valid JSON (error near byte %zu of %llu)",
                            st->label, at, (unsigned long long)n);
    }
    /* The format allows the header to be padded with spaces, nothing else. */
    for (const char *p = end; p < json + n; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            return ep_error_set(err, EP_ERR_FORMAT, "%s: unexpected bytes after the header's JSON object (byte %zu)",
                                st->label, (size_t)(p - json));
    }
    if (!cJSON_IsObject(st->root))
        return ep_error_set(err, EP_ERR_FORMAT, "%s: header is not a JSON object", st->label);
    *header_len = n;
    return EP_OK;
}

/* No two tensors share a name or overlap in the data region; leaves st->tensors
 * sorted by offset and st->by_name sorted by name. @return EP_OK or EP_ERR_FORMAT. */
static ep_status check_tensor_layout(ep_safetensors *st, int count, ep_error *err) {
    /* cJSON keeps duplicate keys; a second tensor of the same name would be silently shadowed. */
    for (int i = 0; i < count; i++) st->by_name[i] = &st->tensors[i];
    qsort(st->by_name, (size_t)count, sizeof *st->by_name, cmp_name);
    for (int i = 1; i < count; i++) {
        if (strcmp(st->by_name[i - 1]->name, st->by_name[i]->name) == 0) {
            char nb[96];
            return ep_error_set(err, EP_ERR_FORMAT, "%s: tensor '%s' appears twice in the header", st->label,
                                short_name(st->by_name[i]->name, nb));
        }
    }

    /* Sorting moves the views, so the by-name index is rebuilt afterwards. */
    qsort(st->tensors, (size_t)count, sizeof *st->tensors, cmp_offset);
    const ep_tensor_view *prev = NULL;
    for (int i = 0; i < count; i++) {
        const ep_tensor_view *t = &st->tensors[i];
        if (t->nbytes == 0) continue; /* an empty tensor occupies no bytes */
        if (prev && prev->offset + prev->nbytes > t->offset) {
            char nb1[96], nb2[96];
            return ep_error_set(err, EP_ERR_FORMAT,
                                "%s: tensors '%s' [%llu, %llu) and '%s' [%llu, %llu) overlap in the data region",
                                st->label, short_name(prev->name, nb1), (unsigned long long)prev->offset,
                                (unsigned long long)(prev->offset + prev->nbytes), short_name(t->name, nb2),
                                (unsigned long long)t->offset, (unsigned long long)(t->offset + t->nbytes));
        }
        prev = t;
    }
    for (int i = 0; i < count; i++) st->by_name[i] = &st->tensors[i];
    qsort(st->by_name, (size_t)count, sizeof *st->by_name, cmp_name);
    return EP_OK;
}

static ep_status parse_header(ep_safetensors *st, ep_error *err) {
    uint64_t n = 0;
    ep_status hs = parse_header_json(st, &n, err);
    if (hs) return hs;

    const uint8_t *data = st->bytes + 8 + n;
    uint64_t data_size = st->size - 8 - n;
    int count = 0;
    for (const cJSON *e = st->root->child; e; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0) {
            if (st->metadata)
                return ep_error_set(err, EP_ERR_FORMAT, "%s: \"__metadata__\" appears twice in the header",
                                    st->label);
            ep_status s = check_metadata(st, e, err);
            if (s) return s;
            st->metadata = e;
        } else {
            count++;
        }
    }

    st->tensors = calloc(count ? (size_t)count : 1, sizeof *st->tensors);
    st->by_name = calloc(count ? (size_t)count : 1, sizeof *st->by_name);
    if (!st->tensors || !st->by_name)
        return ep_error_set(err, EP_ERR_NOMEM, "%s: out of memory for %d tensor entries", st->label, count);
    for (const cJSON *e = st->root->child; e; e = e->next) {
        if (e == st->metadata) continue;
        ep_status s = parse_tensor(st, e, data, data_size, &st->tensors[st->n_tensors], err);
        if (s) return s;
        st->n_tensors++;
    }

    return check_tensor_layout(st, count, err);
}

// ----------------------------------------------------------------------------
// open / parse / close

static ep_safetensors *st_new(const char *label) {
    ep_safetensors *st = calloc(1, sizeof *st);
    if (!st) return NULL;
    st->label = strdup(label ? label : "<memory>");
    if (!st->label) {
        free(st);
        return NULL;
    }
    return st;
}

ep_status ep_safetensors_parse(const void *data, size_t size, const char *label, ep_safetensors **out,
                               ep_error *err) {
    *out = NULL;
    ep_safetensors *st = st_new(label);
    if (!st) return ep_error_set(err, EP_ERR_NOMEM, "out of memory opening %s", label ? label : "<memory>");
    st->bytes = data;
    st->size = size;
    ep_status s = parse_header(st, err);
    if (s) {
        ep_safetensors_close(st);
        return s;
    }
    *out = st;
    return EP_OK;
}

ep_status ep_safetensors_open(const char *path, ep_safetensors **out, ep_error *err) {
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ep_error_set(err, EP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return ep_error_set(err, EP_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return ep_error_set(err, EP_ERR_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)sb.st_size > SIZE_MAX) {
        close(fd);
        return ep_error_set(err, EP_ERR_IO, "%s: too large to map", path);
    }
    ep_safetensors *st = st_new(path);
    if (!st) {
        close(fd);
        return ep_error_set(err, EP_ERR_NOMEM, "out of memory opening %s", path);
    }
    st->size = (size_t)sb.st_size;
    if (st->size > 0) {
        int flags = MAP_PRIVATE;
#ifdef MAP_POPULATE
        flags |= MAP_POPULATE; /* every byte is read anyway (hash, conversion): fault it in one go */
#endif
        void *map = mmap(NULL, st->size, PROT_READ, flags, fd, 0);
        if (map == MAP_FAILED) {
            int e = errno;
            close(fd);
            ep_safetensors_close(st);
            return ep_error_set(err, EP_ERR_IO, "%s: cannot map %zu bytes: %s", path, (size_t)sb.st_size,
                                strerror(e));
        }
        st->bytes = map;
        st->mapped = true;
    }
    close(fd); /* the mapping stays valid without the descriptor */

    ep_status s = parse_header(st, err);
    if (s) {
        ep_safetensors_close(st);
        return s;
    }
    *out = st;
    return EP_OK;
}

void ep_safetensors_close(ep_safetensors *st) {
    if (!st) return;
    if (st->mapped) munmap((void *)st->bytes, st->size);
    cJSON_Delete(st->root);
    free(st->tensors);
    free(st->by_name);
    free(st->label);
    free(st);
}

// ----------------------------------------------------------------------------
// lookups

const ep_tensor_view *ep_safetensors_find(const ep_safetensors *st, const char *name) {
    if (!st || !name) return NULL;
    int lo = 0, hi = st->n_tensors;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(st->by_name[mid]->name, name);
        if (c == 0) return st->by_name[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

int ep_safetensors_count(const ep_safetensors *st) { return st ? st->n_tensors : 0; }

const ep_tensor_view *ep_safetensors_at(const ep_safetensors *st, int i) {
    return st && i >= 0 && i < st->n_tensors ? &st->tensors[i] : NULL;
}

const char *ep_safetensors_metadata(const ep_safetensors *st, const char *key) {
    if (!st || !st->metadata || !key) return NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(st->metadata, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

const void *ep_safetensors_bytes(const ep_safetensors *st, size_t *size) {
    if (size) *size = st ? st->size : 0;
    return st ? st->bytes : NULL;
}

const char *ep_safetensors_label(const ep_safetensors *st) { return st ? st->label : ""; }

/* The tensor is converted in slices small enough to stay in cache and each slice is checked while
 * it is hot (branch-free, so it vectorises): the check adds no trip to memory, a few ms for
 * all-MiniLM-L6-v2. */
ep_status ep_tensor_to_f32_finite(const ep_safetensors *st, const ep_tensor_view *t, float *dst, ep_error *err) {
    enum { SLICE = 8192 };
    const size_t n = (size_t)t->numel, esz = ep_dtype_size(t->dtype);
    uint32_t bad = 0;
    ep_tensor_view part = *t;
    for (size_t off = 0; off < n; off += SLICE) {
        part.numel = (int64_t)(n - off < SLICE ? n - off : SLICE);
        part.data = (const uint8_t *)t->data + off * esz;
        part.nbytes = (size_t)part.numel * esz;
        ep_status s = ep_tensor_to_f32(&part, dst + off, err);
        if (s) return s;
        for (size_t i = off; i < off + (size_t)part.numel; i++) {
            uint32_t u;
            memcpy(&u, dst + i, sizeof u);
            bad |= (uint32_t)((u & 0x7F800000u) == 0x7F800000u);
        }
    }
    if (!bad) return EP_OK;
    size_t count = 0, first = 0;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(dst[i]) && count++ == 0) first = i;
    return ep_error_set(err, EP_ERR_MODEL,
                        "%s: tensor '%s' holds %zu non-finite value%s (the first, %s, at index %zu of %zu); the "
                        "file is damaged or comes from a diverged training run: fetch the model again",
                        ep_safetensors_label(st), t->name, count, count == 1 ? "" : "s",
                        isnan(dst[first]) ? "NaN" : dst[first] > 0 ? "+Inf" : "-Inf", first, n);
}
