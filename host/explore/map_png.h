/*
 * map_png.h - the map as a still PNG for reports, drawn without a browser: every row a dot in its
 * cluster's colour (the page's colours), the clusters' words at their centres with a white halo, a
 * legend of the largest clusters and a title; our own rasteriser, a 5x7 bitmap font (map_font.h)
 * and zlib for the image data.
 */
#ifndef EP_MAP_PNG_H
#define EP_MAP_PNG_H

#include "map_view.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes v as an RGB PNG of width x height pixels (at least 320 x 240) to path (atomically).
 * @return EP_OK, EP_ERR_USAGE for a size out of range, EP_ERR_IO naming the file, EP_ERR_NOMEM. */
ep_status ep_map_png_write(const char *path, const ep_map_view *v, int width, int height, ep_error *err);

#ifdef __cplusplus
}
#endif

#endif /* EP_MAP_PNG_H */
