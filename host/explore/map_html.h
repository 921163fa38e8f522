/*
 * map_html.h - the map as one self-contained HTML page (no network: the script and styles are inline).
 * A zoomable, pannable scatter of every row drawn into a canvas pixel buffer (smooth at a million
 * points), coloured by cluster with the clusters' words at their centres and a legend; hovering a
 * point shows its text, date and author; the search box marks the rows whose text matches; a click
 * marks a row's nearest neighbours. The positions travel as uint16 pairs, the clusters as uint16,
 * the neighbours as int32 (base64); texts cut to text_chars characters unless 0.
 */
#ifndef EP_MAP_HTML_H
#define EP_MAP_HTML_H

#include "map_view.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes the page for v to path (replaced atomically: written beside it, then renamed).
 * text_chars: characters of each text kept (an ellipsis marks a cut), 0 = all.
 * @return EP_OK, EP_ERR_IO naming the file, EP_ERR_NOMEM. */
ep_status ep_map_html_write(const char *path, const ep_map_view *v, int text_chars, ep_error *err);

#ifdef __cplusplus
}
#endif

#endif /* EP_MAP_HTML_H */
