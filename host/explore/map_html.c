/* map_html.c - the map as one self-contained HTML page; see map_html.h (the page itself: map_page.html). */
#include "map_html.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char ep_map_page[]; /* map_page.html, built in by CMakeLists.txt */

static void base64(FILE *f, const uint8_t *p, size_t n) {
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    fputc('"', f);
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        char q[4] = {A[v >> 18 & 63], A[v >> 12 & 63], i + 1 < n ? A[v >> 6 & 63] : '=', i + 2 < n ? A[v & 63] : '='};
        fwrite(q, 1, 4, f);
    }
    fputc('"', f);
}

/* The characters of a JSON string safe inside <script>, without the quotes: <, >, & and the JS line
 * separators escaped, U+001F (the page's column separator) a space; at most max_chars code points
 * (0 = all), an ellipsis where cut; bytes that are not UTF-8 become U+FFFD. */
static void json_chars(FILE *f, const char *s, int max_chars) {
    int chars = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        if (max_chars > 0 && chars == max_chars) {
            fputs("\\u2026", f);
            break;
        }
        unsigned c = *p;
        int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        for (int i = 1; i < len; i++)
            if ((p[i] & 0xC0) != 0x80) len = 0;
        chars++;
        if (len == 0) {
            fputs("\\ufffd", f);
            p++;
            continue;
        }
        if (len > 1) {
            /* U+2028 / U+2029 end a line in older JavaScript */
            if (len == 3 && p[0] == 0xE2 && p[1] == 0x80 && (p[2] == 0xA8 || p[2] == 0xA9))
                fprintf(f, "\\u%04x", p[2] == 0xA8 ? 0x2028 : 0x2029);
            else
                fwrite(p, 1, (size_t)len, f);
            p += len;
            continue;
        }
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c == '\n') fputs("\\n", f);
        else if (c == 0x1f) fputc(' ', f);
        else if (c < 0x20 || c == '<' || c == '>' || c == '&') fprintf(f, "\\u%04x", c);
        else fputc((int)c, f);
        p++;
    }
}

static void json_string(FILE *f, const char *s, int max_chars) {
    fputc('"', f);
    json_chars(f, s, max_chars);
    fputc('"', f);
}

/* A column of n strings as a list of strings of COLUMN_ROWS rows each, the rows joined by U+001F (written
 * raw: legal in a JS string, and json_chars keeps it out of the rows). The page joins the list the same way.
 * Why: a browser parses a few hundred literals far faster than a million (a page of a million tweets drew
 * its first map after 4.6 s instead of 11 s, bench/map-browser.sh), but not one literal of 100 MB either:
 * V8 grows a literal's buffer by at most 1 MB at a time, copying it each time (that page took 50 s). */
enum { COLUMN_ROWS = 4096 };
static void string_list(FILE *f, const char *key, char **list, uint64_t n, int max_chars) {
    fprintf(f, ",\n\"%s\":", key);
    if (!list) {
        fputs("null", f);
        return;
    }
    fputc('[', f);
    for (uint64_t i = 0; i < n; i++) {
        if (i % COLUMN_ROWS == 0) fputs(i ? "\",\n\"" : "\"", f);
        else fputc(0x1f, f);
        if (list[i]) json_chars(f, list[i], max_chars);
    }
    fputs(n ? "\"]" : "]", f);
}

/* The data the page reads: window.EP_DATA = {...}. */
static ep_status write_data(FILE *f, const ep_map_view *v, int text_chars, ep_error *err) {
    const uint64_t n = v->n_rows;
    float lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY};
    for (uint64_t i = 0; i < n; i++)
        for (int d = 0; d < 2; d++) {
            lo[d] = fminf(lo[d], v->xy[2 * i + d]);
            hi[d] = fmaxf(hi[d], v->xy[2 * i + d]);
        }
    /* one scale for both axes keeps the layout's shape */
    float span = n ? fmaxf(hi[0] - lo[0], hi[1] - lo[1]) : 1.0f;
    if (!(span > 0)) span = 1.0f;
    float off[2] = {0, 0};
    for (int d = 0; d < 2 && n; d++) off[d] = (span - (hi[d] - lo[d])) / 2;
    uint16_t *q = calloc(2 * (size_t)(n ? n : 1), sizeof(uint16_t));
    if (!q) return ep_error_set(err, EP_ERR_NOMEM, "map: out of memory for the page");
    for (uint64_t i = 0; i < 2 * n; i++) {
        float t = (v->xy[i] - lo[i & 1] + off[i & 1]) / span;
        q[i] = (uint16_t)lrintf(fminf(1.0f, fmaxf(0.0f, t)) * 65535.0f);
    }
    fputs("window.EP_DATA = {\"n\":", f);
    fprintf(f, "%llu,\"title\":", (unsigned long long)n);
    json_string(f, v->title, 0);
    fputs(",\n\"xy\":", f);
    base64(f, (const uint8_t *)q, sizeof(uint16_t) * 2 * (size_t)n);
    free(q);
    fputs(",\n\"labels\":", f);
    if (v->labels) {
        uint16_t *l = malloc(sizeof(uint16_t) * (size_t)(n ? n : 1));
        if (!l) return ep_error_set(err, EP_ERR_NOMEM, "map: out of memory for the page");
        for (uint64_t i = 0; i < n; i++) l[i] = v->labels[i] >= 0 && v->labels[i] < 65535 ? (uint16_t)v->labels[i] : 65535;
        base64(f, (const uint8_t *)l, sizeof(uint16_t) * (size_t)n);
        free(l);
    } else {
        fputs("null", f);
    }
    fputs(",\n\"clusters\":[", f);
    float *centres = ep_map_view_centres(v);
    for (int c = 0; c < v->n_clusters; c++) {
        fprintf(f, "%s{\"size\":%llu,\"colour\":\"#%06x\",\"name\":", c ? "," : "",
                (unsigned long long)v->cluster_sizes[c], (unsigned)ep_map_colour(c));
        json_string(f, v->cluster_names && v->cluster_names[c] ? v->cluster_names[c] : "", 0);
        if (centres && isfinite(centres[2 * c]))
            fprintf(f, ",\"cx\":%.5f,\"cy\":%.5f}", (centres[2 * c] - lo[0] + off[0]) / span,
                    1.0f - (centres[2 * c + 1] - lo[1] + off[1]) / span);
        else
            fputs(",\"cx\":null,\"cy\":null}", f);
    }
    free(centres);
    fputs("],\n\"nb\":", f);
    if (v->neighbours) base64(f, (const uint8_t *)v->neighbours, sizeof(int32_t) * (size_t)n * (size_t)v->n_neighbours);
    else fputs("null", f);
    fprintf(f, ",\"nk\":%d,\"text_chars\":%d", v->neighbours ? v->n_neighbours : 0, text_chars);
    string_list(f, "texts", v->texts, n, text_chars);
    string_list(f, "dates", v->dates, n, 64);
    string_list(f, "authors", v->authors, n, 64);
    string_list(f, "ids", v->ids, n, 64);
    fputs("};\n", f);
    return EP_OK;
}

ep_status ep_map_html_write(const char *path, const ep_map_view *v, int text_chars, ep_error *err) {
    const char *marker = strstr(ep_map_page, "/*EP_DATA*/");
    if (!marker) return ep_error_set(err, EP_ERR_IO, "map: the built-in page has no data marker (a build error)");
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        return ep_error_set(err, EP_ERR_IO, "%s: path too long", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return ep_error_set(err, EP_ERR_IO, "%s: %s", tmp, strerror(errno));
    fwrite(ep_map_page, 1, (size_t)(marker - ep_map_page), f);
    ep_status st = write_data(f, v, text_chars, err);
    fputs(marker + strlen("/*EP_DATA*/"), f);
    bool bad = ferror(f) != 0;
    if (fclose(f) != 0) bad = true;
    if (st == EP_OK && bad) st = ep_error_set(err, EP_ERR_IO, "%s: write failed: %s", tmp, strerror(errno));
    if (st == EP_OK && rename(tmp, path) != 0) st = ep_error_set(err, EP_ERR_IO, "%s: %s", path, strerror(errno));
    if (st != EP_OK) remove(tmp);
    return st;
}
