/*
 * npy.h - the .npy container as embedpipe writes and reads it: a C-order
 * little-endian float16 ('<f2') matrix of shape (rows, cols).
 *
 * Writing follows numpy's current format 1.0 rule: magic "\x93NUMPY", version
 * 1.0, a 2-byte little-endian header length, then the header dict padded with
 * spaces and a final '\n' so that the data starts at a multiple of 64 bytes.
 * Reading accepts versions 1.0 and 2.0 and nothing but a 2-D '<f2' C-order array.
 */
#ifndef EP_NPY_H
#define EP_NPY_H

#include "embedpipe.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest header this file writes (a (2^64-1, 2^64-1) shape still fits). */
#define EP_NPY_MAX_WRITE_HEADER 192
/* Headers longer than this are rejected as implausible when reading. */
#define EP_NPY_MAX_READ_HEADER (1u << 20)

/* Writes the preamble and header of a (rows, cols) '<f2' array into buf.
 * @return its length (a multiple of 64), or 0 when cap is too small. */
size_t ep_npy_f16_header(uint8_t *buf, size_t cap, uint64_t rows, uint64_t cols);

/* Looks at the first len bytes of a .npy file and works out how long its
 * preamble + header is.
 * @return EP_OK with *total set (0 = give me more bytes: len is shorter than
 *         the preamble); EP_ERR_FORMAT for a bad magic, an unsupported version
 *         or an implausible header length. */
ep_status ep_npy_header_size(const uint8_t *p, size_t len, size_t *total, ep_error *err);

/* Parses a complete preamble + header (total bytes from ep_npy_header_size)
 * and insists on descr '<f2', fortran_order False and a 2-D shape.
 * @return EP_OK with *rows / *cols set; EP_ERR_FORMAT saying what is wrong. */
ep_status ep_npy_parse_f16_header(const uint8_t *p, size_t total, uint64_t *rows, uint64_t *cols, ep_error *err);

#ifdef __cplusplus
}
#endif

#endif /* EP_NPY_H */
