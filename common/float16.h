/*
 * float16.h - IEEE half-precision conversion, used by the shard writer, the
 * output tools and every backend (rows are stored as float16).
 */
#ifndef EP_FLOAT16_H
#define EP_FLOAT16_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* @return the IEEE half-precision bits nearest to f (round to nearest even;
 * overflow gives infinity, NaN stays NaN). */
uint16_t ep_f32_to_f16(float f);

/* @return the float value of IEEE half-precision bits h (exact). */
float ep_f16_to_f32(uint16_t h);

#ifdef __cplusplus
}
#endif

#endif /* EP_FLOAT16_H */
