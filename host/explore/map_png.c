/* map_png.c - the map as a PNG, drawn by our own rasteriser; see map_png.h. */
#include "map_png.h"
#include "setting_names.h"

#include "map_font.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

typedef struct canvas {
    uint8_t *rgb;
    int w, h;
} canvas;

static void put(canvas *c, int x, int y, uint32_t colour, float alpha) {
    if (x < 0 || y < 0 || x >= c->w || y >= c->h) return;
    uint8_t *p = c->rgb + 3 * ((size_t)y * (size_t)c->w + (size_t)x);
    const uint8_t src[3] = {(uint8_t)(colour >> 16), (uint8_t)(colour >> 8), (uint8_t)colour};
    for (int i = 0; i < 3; i++) p[i] = (uint8_t)lrintf((float)p[i] * (1 - alpha) + (float)src[i] * alpha);
}

static void rect(canvas *c, int x, int y, int w, int h, uint32_t colour, float alpha) {
    for (int yy = y; yy < y + h; yy++)
        for (int xx = x; xx < x + w; xx++) put(c, xx, yy, colour, alpha);
}

/* @return the width in pixels of text drawn at scale s. */
static int text_width(const char *text, int s) {
    int n = 0;
    while (ep_map_font_next(&text)) n++;
    return n ? n * (EP_FONT_W + 1) * s - s : 0;
}

static void text(canvas *c, int x, int y, const char *t, int s, uint32_t colour) {
    uint32_t cp;
    while ((cp = ep_map_font_next(&t))) {
        const uint8_t *g = ep_map_font_glyph(cp);
        for (int r = 0; r < EP_FONT_H; r++)
            for (int b = 0; b < EP_FONT_W; b++)
                if (g[r] & (0x10 >> b)) rect(c, x + b * s, y + r * s, s, s, colour, 1);
        x += (EP_FONT_W + 1) * s;
    }
}

/* Text with a white halo so that it reads over the dots. */
static void halo_text(canvas *c, int x, int y, const char *t, int s) {
    for (int dy = -2; dy <= 2; dy++)
        for (int dx = -2; dx <= 2; dx++)
            if (dx || dy) text(c, x + dx, y + dy, t, s, 0xffffff);
    text(c, x, y, t, s, 0x111111);
}

/* A label cut to at most max_chars characters. */
static void cut(char *dst, size_t cap, const char *src, int max_chars) {
    const char *p = src;
    int n = 0;
    while (n < max_chars && ep_map_font_next(&p)) n++;
    size_t len = (size_t)(p - src);
    if (len >= cap) len = cap - 1;
    memcpy(dst, src, len);
    dst[len] = 0;
}

/* Cluster k's words, or "cluster k" when it has none (the page does the same), cut to max_chars. */
static void cluster_name(const ep_map_view *v, int k, char *dst, size_t cap, int max_chars) {
    char fallback[32];
    snprintf(fallback, sizeof fallback, "cluster %d", k);
    const char *name = v->cluster_names && v->cluster_names[k] && v->cluster_names[k][0] ? v->cluster_names[k] : fallback;
    cut(dst, cap, name, max_chars);
}

static void chunk(FILE *f, const char *type, const uint8_t *data, uint32_t len) {
    uint8_t head[8] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len,
                       (uint8_t)type[0], (uint8_t)type[1], (uint8_t)type[2], (uint8_t)type[3]};
    fwrite(head, 1, 8, f);
    if (len) fwrite(data, 1, len, f);
    uLong crc = crc32(0L, head + 4, 4);
    if (len) crc = crc32(crc, data, len);
    uint8_t tail[4] = {(uint8_t)(crc >> 24), (uint8_t)(crc >> 16), (uint8_t)(crc >> 8), (uint8_t)crc};
    fwrite(tail, 1, 4, f);
}

static ep_status encode(const char *path, const canvas *c, ep_error *err) {
    size_t raw_len = (size_t)c->h * (1 + 3 * (size_t)c->w);
    uint8_t *raw = malloc(raw_len);
    uLongf z_len = compressBound((uLong)raw_len);
    uint8_t *z = malloc(z_len);
    if (!raw || !z) {
        free(raw);
        free(z);
        return ep_error_set(err, EP_ERR_NOMEM, "map: out of memory for the PNG");
    }
    for (int y = 0; y < c->h; y++) {
        raw[(size_t)y * (1 + 3 * (size_t)c->w)] = 0; /* filter: none */
        memcpy(raw + (size_t)y * (1 + 3 * (size_t)c->w) + 1, c->rgb + 3 * (size_t)y * (size_t)c->w, 3 * (size_t)c->w);
    }
    ep_status st = EP_OK;
    if (compress2(z, &z_len, raw, (uLong)raw_len, 6) != Z_OK)
        st = ep_error_set(err, EP_ERR_NOMEM, "map: zlib could not compress the PNG");
    char tmp[4096];
    if (st == EP_OK && (size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        st = ep_error_set(err, EP_ERR_IO, "%s: path too long", path);
    FILE *f = st == EP_OK ? fopen(tmp, "wb") : NULL;
    if (st == EP_OK && !f) st = ep_error_set(err, EP_ERR_IO, "%s: %s", tmp, strerror(errno));
    if (f) {
        static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
        fwrite(sig, 1, 8, f);
        uint8_t ihdr[13] = {(uint8_t)(c->w >> 24), (uint8_t)(c->w >> 16), (uint8_t)(c->w >> 8), (uint8_t)c->w,
                            (uint8_t)(c->h >> 24), (uint8_t)(c->h >> 16), (uint8_t)(c->h >> 8), (uint8_t)c->h,
                            8, 2, 0, 0, 0}; /* 8-bit RGB, deflate, no filter choice, no interlace */
        chunk(f, "IHDR", ihdr, 13);
        chunk(f, "IDAT", z, (uint32_t)z_len);
        chunk(f, "IEND", NULL, 0);
        bool bad = ferror(f) != 0;
        if (fclose(f) != 0) bad = true;
        if (bad) st = ep_error_set(err, EP_ERR_IO, "%s: write failed: %s", tmp, strerror(errno));
        if (st == EP_OK && rename(tmp, path) != 0) st = ep_error_set(err, EP_ERR_IO, "%s: %s", path, strerror(errno));
        if (st != EP_OK) remove(tmp);
    }
    free(raw);
    free(z);
    return st;
}

ep_status ep_map_png_write(const char *path, const ep_map_view *v, int width, int height, ep_error *err) {
    if (width < 320 || height < 240 || width > 16384 || height > 16384)
        return ep_error_set(err, EP_ERR_USAGE, "map: %s must be between 320x240 and 16384x16384",
                            ep_setting_name(EP_SETTING_PNG_SIZE));
    canvas c = {.rgb = malloc(3 * (size_t)width * (size_t)height), .w = width, .h = height};
    if (!c.rgb) return ep_error_set(err, EP_ERR_NOMEM, "map: out of memory for a %dx%d image", width, height);
    memset(c.rgb, 0xff, 3 * (size_t)width * (size_t)height);
    const int legend_w = v->n_clusters > 0 ? 300 : 0, top = 44, pad = 16;
    const int plot_x = pad, plot_y = top, plot_w = width - legend_w - 2 * pad, plot_h = height - top - pad;
    /* one scale for both axes (the bounding box fitted), y up, centred in the plot area, as the page does */
    float lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY};
    for (uint64_t i = 0; i < v->n_rows; i++)
        for (int d = 0; d < 2; d++) {
            lo[d] = fminf(lo[d], v->xy[2 * i + d]);
            hi[d] = fmaxf(hi[d], v->xy[2 * i + d]);
        }
    float span_x = hi[0] - lo[0] > 0 ? hi[0] - lo[0] : 1.0f, span_y = hi[1] - lo[1] > 0 ? hi[1] - lo[1] : 1.0f;
    float scale = fminf((float)plot_w / span_x, (float)plot_h / span_y) * 0.96f;
    float cx = (lo[0] + hi[0]) / 2, cy = (lo[1] + hi[1]) / 2;
#define SX(x) ((float)plot_x + (float)plot_w / 2 + ((x) - cx) * scale)
#define SY(y) ((float)plot_y + (float)plot_h / 2 - ((y) - cy) * scale)
    const int size = v->n_rows > 200000 ? 1 : v->n_rows > 20000 ? 2 : 3;
    const float alpha = v->n_rows > 200000 ? 0.5f : 0.75f;
    for (uint64_t i = 0; i < v->n_rows; i++) {
        uint32_t colour = v->labels && v->labels[i] >= 0 ? ep_map_colour(v->labels[i]) : 0x1f77d0;
        int x = (int)lrintf(SX(v->xy[2 * i])) - size / 2, y = (int)lrintf(SY(v->xy[2 * i + 1])) - size / 2;
        rect(&c, x, y, size, size, colour, alpha);
    }
    /* labels at the clusters' centres, the largest first; one that would cover another is left out */
    float *centres = ep_map_view_centres(v);
    int *order = v->n_clusters > 0 ? malloc(sizeof(int) * (size_t)v->n_clusters) : NULL;
    int (*boxes)[4] = v->n_clusters > 0 ? malloc(sizeof *boxes * (size_t)v->n_clusters) : NULL;
    int n_boxes = 0;
    for (int k = 0; order && k < v->n_clusters; k++) {
        int j = k;
        while (j > 0 && v->cluster_sizes[order[j - 1]] < v->cluster_sizes[k]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = k;
    }
    for (int oi = 0; centres && order && boxes && oi < v->n_clusters; oi++) {
        int k = order[oi];
        if (!isfinite(centres[2 * k])) continue;
        char label[64];
        cluster_name(v, k, label, sizeof label, 24);
        int tw = text_width(label, 2), th = EP_FONT_H * 2;
        int x = (int)lrintf(SX(centres[2 * k])) - tw / 2, y = (int)lrintf(SY(centres[2 * k + 1])) - th / 2;
        // a cluster at the edge keeps its label whole: moved inside the image, not cut
        if (x + tw + 4 > width) x = width - tw - 4;
        if (x < 4) x = 4;
        if (y + th + 4 > height) y = height - th - 4;
        if (y < 4) y = 4;
        int box[4] = {x - 4, y - 4, x + tw + 4, y + th + 4};
        bool free_spot = true;
        for (int b = 0; b < n_boxes && free_spot; b++)
            free_spot = !(box[0] < boxes[b][2] && box[2] > boxes[b][0] && box[1] < boxes[b][3] && box[3] > boxes[b][1]);
        if (!free_spot) continue;
        memcpy(boxes[n_boxes++], box, sizeof box);
        halo_text(&c, x, y, label, 2);
    }
    /* title, and the legend of the largest clusters */
    char title[300];
    snprintf(title, sizeof title, "%s - %llu rows%s", v->title, (unsigned long long)v->n_rows,
             v->n_clusters ? "" : " (no clusters: run embedpipe cluster)");
    char cut_title[300];
    cut(cut_title, sizeof cut_title, title, (width - 2 * pad) / 12);
    text(&c, pad, 14, cut_title, 2, 0x222222);
    int ly = top;
    for (int oi = 0; order && oi < v->n_clusters && ly + 16 < height - pad; oi++) {
        int k = order[oi];
        char line[96], label[64];
        cluster_name(v, k, label, sizeof label, 15);
        snprintf(line, sizeof line, "%s %llu", label, (unsigned long long)v->cluster_sizes[k]);
        rect(&c, width - legend_w, ly, 12, 12, ep_map_colour(k), 1);
        text(&c, width - legend_w + 18, ly - 1, line, 2, 0x222222);
        ly += 20;
    }
#undef SX
#undef SY
    free(centres);
    free(order);
    free(boxes);
    ep_status st = encode(path, &c, err);
    free(c.rgb);
    return st;
}
