/*
 * safetensors.h - a strict reader of the safetensors format.
 *
 * File layout: an 8-byte little-endian header length N, N bytes of JSON
 * (an object: tensor name -> {"dtype", "shape", "data_offsets": [begin, end]},
 * plus an optional "__metadata__" object of strings), then the data region;
 * offsets are relative to the start of the data region.
 *
 * Nothing in the header is trusted: the header length is bounds-checked, the
 * JSON is parsed by cJSON, every tensor's dtype, shape and offsets are checked,
 * byte sizes are computed with overflow checks and must equal the offsets'
 * span, tensors may not overlap and names must be unique. Gaps between tensors
 * are tolerated (they are harmless: nothing reads them). Any violation is an
 * EP_ERR_FORMAT error naming the file and the tensor.
 */
#ifndef EP_SAFETENSORS_H
#define EP_SAFETENSORS_H

#include "embedpipe.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Header lengths above this are rejected; the reference implementation uses the same cap. */
#define EP_SAFETENSORS_MAX_HEADER (100u * 1024u * 1024u)
/* Tensors with more dimensions than this are rejected. */
#define EP_SAFETENSORS_MAX_DIMS 8

/* The dtypes of the safetensors specification. */
typedef enum ep_dtype {
    EP_DTYPE_BOOL, EP_DTYPE_U8, EP_DTYPE_I8, EP_DTYPE_F8_E4M3, EP_DTYPE_F8_E5M2,
    EP_DTYPE_I16, EP_DTYPE_U16, EP_DTYPE_F16, EP_DTYPE_BF16,
    EP_DTYPE_I32, EP_DTYPE_U32, EP_DTYPE_F32,
    EP_DTYPE_I64, EP_DTYPE_U64, EP_DTYPE_F64,
    EP_DTYPE_COUNT
} ep_dtype;

/* One tensor of an open file. Valid until ep_safetensors_close. */
typedef struct ep_tensor_view {
    const char *name;
    ep_dtype dtype;
    int ndim;                                /* 0 for a scalar */
    int64_t shape[EP_SAFETENSORS_MAX_DIMS];  /* shape[0..ndim) */
    int64_t numel;                           /* product of the shape (1 for a scalar) */
    const void *data;                        /* little-endian, NOT necessarily aligned: memcpy from it */
    size_t nbytes;                           /* numel * ep_dtype_size(dtype) */
    uint64_t offset;                         /* data_offsets[0], relative to the data region */
} ep_tensor_view;

typedef struct ep_safetensors ep_safetensors;

/* Memory-maps and validates the file at path.
 * @return EP_OK and *out set; EP_ERR_IO naming the file when it cannot be opened, read
 *         or mapped; EP_ERR_FORMAT naming the file and tensor when it is malformed.
 *         *out is NULL on failure. */
ep_status ep_safetensors_open(const char *path, ep_safetensors **out, ep_error *err);

/* Validates an in-memory safetensors image. The bytes are not copied: they must
 * outlive the result. label names the input in error messages (a path, "<memory>").
 * @return EP_OK and *out set, or EP_ERR_FORMAT / EP_ERR_NOMEM; *out is NULL on failure. */
ep_status ep_safetensors_parse(const void *data, size_t size, const char *label, ep_safetensors **out,
                               ep_error *err);

/* Unmaps the file (when opened from a path) and frees everything. Accepts NULL. */
void ep_safetensors_close(ep_safetensors *st);

/* @return the tensor called name, or NULL when there is none. O(log n). */
const ep_tensor_view *ep_safetensors_find(const ep_safetensors *st, const char *name);

/* @return the number of tensors (the "__metadata__" entry is not a tensor). */
int ep_safetensors_count(const ep_safetensors *st);

/* @return tensor i (0 <= i < count) in order of data offset, or NULL when i is out of range. */
const ep_tensor_view *ep_safetensors_at(const ep_safetensors *st, int i);

/* @return the "__metadata__" string value for key, or NULL when absent. */
const char *ep_safetensors_metadata(const ep_safetensors *st, const char *key);

/* @return the whole file image (header included) and its size via *size, e.g. to hash it. */
const void *ep_safetensors_bytes(const ep_safetensors *st, size_t *size);

/* @return the label (path) given at open/parse time. */
const char *ep_safetensors_label(const ep_safetensors *st);

/* @return the spec's name of a dtype ("F32"), or "?" when out of range. */
const char *ep_dtype_name(ep_dtype dtype);

/* @return the size of one element in bytes, or 0 when out of range. */
size_t ep_dtype_size(ep_dtype dtype);

/* Converts the tensor's F32, F16 or BF16 little-endian data (any alignment) to float, exactly
 * (subnormals, infinities and NaNs included). dst holds t->numel floats.
 * @return EP_OK, or EP_ERR_FORMAT when dtype is not one of those three. */
ep_status ep_tensor_to_f32(const ep_tensor_view *t, float *dst, ep_error *err);

/* As ep_tensor_to_f32, refusing a NaN or Inf: such a weight makes every vector that touches it NaN,
 * silently, so a file that holds one is refused at load. st names the file in the message.
 * @return EP_OK, or the conversion's error, or EP_ERR_MODEL naming the file, the tensor and the first
 *         bad index. */
ep_status ep_tensor_to_f32_finite(const ep_safetensors *st, const ep_tensor_view *t, float *dst, ep_error *err);

#ifdef __cplusplus
}
#endif

#endif /* EP_SAFETENSORS_H */
