/* cli_map.c - `embedpipe map DIR`: a 2D layout of every row kept in DIR, and optionally an HTML page and a PNG of it. */
#include "cli.h"
#include "derived.h"
#include "folder_lock.h"
#include "manifest.h"
#include "map_html.h"
#include "map_layout.h"
#include "map_png.h"
#include "map_view.h"
#include "neighbours.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void map_usage(FILE *f) {
    fprintf(f,
            "Usage: embedpipe map DIR [OPTIONS]\n"
            "\n"
            "Places every row of DIR on a 2D map and keeps it beside the shards:\n"
            "  DIR/map-xy.npy.zst   float32 (rows, 2), listed in DIR/derived.json with its settings\n"
            "The default layout is UMAP's (as umap-learn computes it) over the exact neighbour table of\n"
            "`related` (computed and kept when DIR has none wide enough): the fuzzy k-NN graph, a PCA or\n"
            "spectral start, then the attraction / repulsion optimisation with negative sampling. It is the\n"
            "same for a seed whatever the thread count. --method pca is the fast linear projection. A second\n"
            "run with the same settings reuses the kept layout.\n"
            "\n"
            "Options (default in brackets):\n"
            "      --method M       umap or pca [umap]\n"
            "      --init I         UMAP's start: pca (the rows' first two principal components) or spectral\n"
            "                       (umap-learn's default: eigenvectors of the graph's normalised Laplacian,\n"
            "                       per connected component; the PCA place where they do not converge) [pca]\n"
            "  -k, --neighbours K   UMAP's n_neighbors, the row itself counted (K - 1 neighbours) [15]\n"
            "      --epochs N       optimisation epochs [500 up to 10,000 rows, else 200]\n"
            "      --min-dist D     how tightly UMAP packs close rows [0.1]\n"
            "      --spread S       the scale of the packed points [1.0]\n"
            "      --seed N         the seed of the start's jitter and the negative samples [1]\n"
            "  -t, --threads N      threads [all cores]\n"
            "      --memory MIB     memory for the neighbour search's row blocks, in MiB [2048]\n"
            "      --html FILE      write the map as one self-contained HTML page (no network needed):\n"
            "                       zoom, pan, clusters with their words, hover for a row's text, date and\n"
            "                       author, search, a click marks a row's nearest neighbours\n"
            "      --text-chars N   characters of each text in the page [200]; --full-text keeps them all\n"
            "      --png FILE       write the map as a PNG (no browser needed)\n"
            "      --png-size WxH   the PNG's size in pixels [1600x1000]\n"
            "  -h, --help           this help\n"
            "\n"
            "Clusters come from `embedpipe cluster DIR` when it has been run; texts, dates and authors from\n"
            "what the run kept.\n");
}

typedef struct map_args {
    bool pca, spectral;
    size_t neighbours, epochs, seed, threads, memory_mib, text_chars, png_w, png_h;
    double min_dist, spread;
    const char *html, *png;
} map_args;

/* @return 0, or the exit code after printing what is wrong. */
static int parse_args(int argc, char **argv, map_args *a, const char **dir) {
    enum { OPT_METHOD = EP_OPT_LOCAL, OPT_INIT, OPT_EPOCHS, OPT_MIN_DIST, OPT_SPREAD, OPT_SEED, OPT_MEMORY, OPT_HTML,
           OPT_TEXT_CHARS, OPT_FULL_TEXT, OPT_PNG, OPT_PNG_SIZE };
    static const struct option longopts[] = {
        {"method", required_argument, 0, OPT_METHOD},   {"neighbours", required_argument, 0, 'k'},
        {"init", required_argument, 0, OPT_INIT},
        {"epochs", required_argument, 0, OPT_EPOCHS},   {"min-dist", required_argument, 0, OPT_MIN_DIST},
        {"spread", required_argument, 0, OPT_SPREAD},   {"seed", required_argument, 0, OPT_SEED},
        {"threads", required_argument, 0, 't'},         {"memory", required_argument, 0, OPT_MEMORY},
        {"html", required_argument, 0, OPT_HTML},       {"text-chars", required_argument, 0, OPT_TEXT_CHARS},
        {"full-text", no_argument, 0, OPT_FULL_TEXT},   {"png", required_argument, 0, OPT_PNG},
        {"png-size", required_argument, 0, OPT_PNG_SIZE}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    *a = (map_args){.neighbours = 15, .seed = 1, .memory_mib = 2048, .text_chars = 200, .png_w = 1600, .png_h = 1000,
                    .min_dist = 0.1, .spread = 1.0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "k:t:h", longopts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case OPT_METHOD:
            if (strcmp(optarg, "umap") != 0 && strcmp(optarg, "pca") != 0) {
                fprintf(stderr, "embedpipe: --method must be umap or pca, not '%s'\n", optarg);
                return EP_EXIT_USAGE;
            }
            a->pca = strcmp(optarg, "pca") == 0;
            break;
        case OPT_INIT:
            if (strcmp(optarg, "spectral") != 0 && strcmp(optarg, "pca") != 0) {
                fprintf(stderr, "embedpipe: --init must be spectral or pca, not '%s'\n", optarg);
                return EP_EXIT_USAGE;
            }
            a->spectral = strcmp(optarg, "spectral") == 0;
            break;
        case 'k':
            if (ep_cli_parse_range("--neighbours", optarg, 2, 1001, &a->neighbours)) return EP_EXIT_USAGE;
            break;
        case OPT_EPOCHS:
            if (ep_cli_parse_range("--epochs", optarg, 1, 100000, &a->epochs)) return EP_EXIT_USAGE;
            break;
        case OPT_MIN_DIST:
        case OPT_SPREAD: {
            double v = strtod(optarg, &end);
            if (!end || *end || !(v >= 0 && v <= 100) || (c == OPT_SPREAD && v <= 0)) {
                fprintf(stderr, "embedpipe: %s must be a number %s 100, not '%s'\n",
                        c == OPT_SPREAD ? "--spread" : "--min-dist", c == OPT_SPREAD ? "above 0 up to" : "from 0 to",
                        optarg);
                return EP_EXIT_USAGE;
            }
            if (c == OPT_SPREAD) a->spread = v;
            else a->min_dist = v;
            break;
        }
        case OPT_SEED:
            if (ep_cli_parse_size("--seed", optarg, &a->seed)) return EP_EXIT_USAGE;
            break;
        case 't':
            if (ep_cli_parse_range("--threads", optarg, 0, 1024, &a->threads)) return EP_EXIT_USAGE;
            break;
        case OPT_MEMORY:
            if (ep_cli_parse_size("--memory", optarg, &a->memory_mib) || a->memory_mib < 1) {
                fprintf(stderr, "embedpipe: --memory must be at least 1 (MiB)\n");
                return EP_EXIT_USAGE;
            }
            break;
        case OPT_HTML: a->html = optarg; break;
        case OPT_TEXT_CHARS:
            if (ep_cli_parse_size("--text-chars", optarg, &a->text_chars) || a->text_chars < 1 ||
                a->text_chars > 1000000) {
                fprintf(stderr, "embedpipe: --text-chars must be between 1 and 1000000 (--full-text: all)\n");
                return EP_EXIT_USAGE;
            }
            break;
        case OPT_FULL_TEXT: a->text_chars = 0; break;
        case OPT_PNG: a->png = optarg; break;
        case OPT_PNG_SIZE: {
            unsigned w = 0, h = 0;
            char tail = 0;
            if (sscanf(optarg, "%ux%u%c", &w, &h, &tail) != 2 || w < 320 || h < 240 || w > 16384 || h > 16384) {
                fprintf(stderr, "embedpipe: --png-size must be WIDTHxHEIGHT between 320x240 and 16384x16384, not "
                        "'%s'\n", optarg);
                return EP_EXIT_USAGE;
            }
            a->png_w = w;
            a->png_h = h;
            break;
        }
        case 'h': map_usage(stdout); return -1;
        default: map_usage(stderr); return EP_EXIT_USAGE;
        }
    }
    if (a->min_dist > a->spread) {
        fprintf(stderr, "embedpipe: --min-dist (%g) must not exceed --spread (%g)\n", a->min_dist, a->spread);
        return EP_EXIT_USAGE;
    }
    if (!(*dir = ep_cli_one_folder(argc, argv, map_usage))) return EP_EXIT_USAGE;
    return 0;
}

/* The settings a kept layout is recorded with; the same text means the same layout. */
static void settings_json(const map_args *a, uint64_t n, char *out, size_t cap) {
    if (a->pca)
        snprintf(out, cap, "{\"method\": \"pca\", \"sample\": 20000}");
    else
        snprintf(out, cap,
                 "{\"method\": \"umap\", \"neighbours\": %zu, \"epochs\": %d, \"min_dist\": %g, \"spread\": %g, "
                 "\"seed\": %zu, \"negative_rate\": 5, \"init\": \"%s\", \"metric\": \"cosine\"}",
                 a->neighbours, a->epochs ? (int)a->epochs : ep_map_default_epochs(n), a->min_dist, a->spread, a->seed,
                 a->spectral ? "spectral" : "pca");
}

/* The kept layout when derived.json lists one made with these settings. @return true with *xy set. */
static bool reuse_layout(const char *dir, const ep_manifest *m, const char *settings, float **xy) {
    ep_derived_index idx;
    ep_error err = {0};
    if (ep_derived_index_read(dir, &idx, &err) != EP_OK) return false;
    bool same = false;
    cJSON *want = cJSON_Parse(settings);
    for (size_t i = 0; i < idx.n_settings; i++)
        if (strcmp(idx.by_names[i], "map") == 0 && idx.settings[i]) {
            /* compared as JSON values: derived.json keeps them in its own layout; "start" says what the
             * start turned out to be (the spectral one, or where it fell back to PCA): an outcome, not a setting */
            cJSON *kept = cJSON_Parse(idx.settings[i]);
            cJSON_DeleteItemFromObjectCaseSensitive(kept, "start");
            same = kept && want && cJSON_Compare(kept, want, true) && ep_derived_listed(&idx, "map-xy.npy.zst");
            cJSON_Delete(kept);
        }
    cJSON_Delete(want);
    ep_derived_index_clear(&idx);
    void *data = NULL;
    uint64_t rows = 0, cols = 0;
    if (!same || ep_derived_read_array(dir, m, "map-xy.npy.zst", 'f', &data, &rows, &cols, &err) != EP_OK) return false;
    if (rows != m->records_embedded || cols != 2) {
        free(data);
        return false;
    }
    *xy = data;
    return true;
}

/* The neighbour table UMAP needs: the kept one when it is wide enough, else computed and kept. */
static ep_status neighbour_table(const char *dir, const ep_manifest *m, const map_args *a, ep_neighbours *nb,
                                 ep_error *err) {
    const int k = (int)a->neighbours - 1;
    const uint64_t n = m->records_embedded;
    void *rows = NULL, *scores = NULL;
    uint64_t r1 = 0, c1 = 0, r2 = 0, c2 = 0;
    ep_error ignored = {0};
    if (ep_derived_read_array(dir, m, "related-rows.npy.zst", 'i', &rows, &r1, &c1, &ignored) == EP_OK &&
        ep_derived_read_array(dir, m, "related-scores.npy.zst", 'f', &scores, &r2, &c2, &ignored) == EP_OK &&
        r1 == n && r2 == n && c1 == c2 && c1 >= (uint64_t)k) {
        /* the table is exact and best first, so its first k columns are the exact top k */
        int32_t *ri = rows;
        float *sf = scores;
        for (uint64_t i = 0; i < n; i++) {
            memmove(ri + i * (size_t)k, ri + i * c1, sizeof(int32_t) * (size_t)k);
            memmove(sf + i * (size_t)k, sf + i * c1, sizeof(float) * (size_t)k);
        }
        *nb = (ep_neighbours){.n_rows = n, .k = k, .dim = m->dim, .rows = ri, .scores = sf};
        fprintf(stderr, "embedpipe: map: using the kept neighbour table (%s/related-rows.npy.zst)\n", dir);
        return EP_OK;
    }
    free(rows);
    free(scores);
    fprintf(stderr, "embedpipe: map: computing the exact %d nearest neighbours of every row (kept as `related "
            "-k %d` would)\n", k, k);
    ep_neighbours_options o = {.k = k, .threads = (int)a->threads, .memory_bytes = a->memory_mib << 20};
    ep_status st = ep_neighbours_compute(dir, &o, nb, err);
    ep_derived_file files[2];
    if (st == EP_OK)
        st = ep_derived_write_array(dir, &(ep_derived_array){"related-rows.npy.zst", 'i', n, (uint64_t)k, nb->rows},
                                    &files[0], err);
    if (st == EP_OK)
        st = ep_derived_write_array(dir, &(ep_derived_array){"related-scores.npy.zst", 'f', n, (uint64_t)k, nb->scores},
                                    &files[1], err);
    char settings[64];
    snprintf(settings, sizeof settings, "{\"k\": %d}", k);
    if (st == EP_OK) st = ep_derived_index_update(dir, m, "related", settings, files, 2, err);
    return st;
}

/* The spectral start's outcome: one line for the user, and the "start" object kept beside the settings. */
static void report_start(const ep_map_start_report *r, char *json, size_t cap) {
    const uint64_t pca_rows = r->small_rows + r->unconverged_rows;
    snprintf(json, cap,
             "{\"components\": %llu, \"spectral_rows\": %llu, \"pca_rows\": %llu, \"products\": %d, "
             "\"residual\": %.3g, \"converged\": %s}",
             (unsigned long long)r->components, (unsigned long long)r->spectral_rows, (unsigned long long)pca_rows,
             r->largest_solve.products, r->largest_solve.residual, r->largest_solve.converged ? "true" : "false");
    if (r->spectral_rows == 0)
        fprintf(stderr, "embedpipe: map: the spectral start did not converge (residual %.2g after %d products; "
                "%llu components): using the PCA start\n", r->largest_solve.residual, r->largest_solve.products,
                (unsigned long long)r->components);
    else if (pca_rows == 0)
        fprintf(stderr, "embedpipe: map: spectral start: %llu component%s, %d products, residual %.2g\n",
                (unsigned long long)r->components, r->components == 1 ? "" : "s", r->largest_solve.products,
                r->largest_solve.residual);
    else
        fprintf(stderr, "embedpipe: map: spectral start for %llu rows; %llu rows keep their PCA place (%llu in "
                "components of fewer than 4 rows, %llu in %llu components whose eigenvectors did not converge) of "
                "%llu components\n", (unsigned long long)r->spectral_rows, (unsigned long long)pca_rows,
                (unsigned long long)r->small_rows, (unsigned long long)r->unconverged_rows,
                (unsigned long long)r->unconverged, (unsigned long long)r->components);
}

/* The layout; start_json gets the spectral start's outcome ("" for the others). */
static ep_status compute_layout(const char *dir, const ep_manifest *m, const map_args *a, float *xy, char *start_json,
                                size_t cap, ep_error *err) {
    const uint64_t n = m->records_embedded;
    start_json[0] = 0;
    ep_status st = ep_map_pca_folder(dir, n, m->dim, xy, err);
    if (st != EP_OK || a->pca) return st;
    ep_neighbours nb = {0};
    ep_map_graph g = {0};
    int epochs = a->epochs ? (int)a->epochs : ep_map_default_epochs(n);
    st = neighbour_table(dir, m, a, &nb, err);
    if (st == EP_OK) st = ep_map_graph_build(nb.rows, nb.scores, n, nb.k, epochs, &g, err);
    ep_neighbours_free(&nb);
    if (st == EP_OK && a->spectral) {
        ep_map_start_report rep;
        ep_map_spectral_options so = {.threads = (int)a->threads};
        st = ep_map_spectral_start(&g, &so, xy, &rep, err);
        if (st == EP_OK) report_start(&rep, start_json, cap);
    }
    ep_map_options o = {.epochs = epochs, .min_dist = a->min_dist, .spread = a->spread, .seed = a->seed,
                        .threads = (int)a->threads};
    if (st == EP_OK) {
        ep_map_scale_start(xy, n, a->seed);
        st = ep_map_optimize(&g, &o, xy, err);
    }
    ep_map_graph_free(&g);
    return st;
}

static double seconds_since(const struct timespec *t0) {
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) * 1e-9;
}

int ep_cli_map(int argc, char **argv) {
    map_args a;
    const char *dir = NULL;
    int rc = parse_args(argc, argv, &a, &dir);
    if (rc) return rc < 0 ? EP_EXIT_OK : rc;
    ep_folder_lock *lock = NULL;
    ep_manifest *m = NULL;
    rc = ep_cli_open_for_derived(dir, &lock, &m);
    if (rc != EP_EXIT_OK) return rc;
    ep_error err = {0};
    const uint64_t n = m->records_embedded;
    char settings[512];
    settings_json(&a, n, settings, sizeof settings);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    float *xy = NULL;
    ep_status st = EP_OK;
    bool reused = reuse_layout(dir, m, settings, &xy);
    if (!reused) {
        xy = malloc(sizeof(float) * 2 * (size_t)(n ? n : 1));
        if (!xy) st = ep_error_set(&err, EP_ERR_NOMEM, "map: out of memory for %llu positions", (unsigned long long)n);
        char start[320];
        if (st == EP_OK) st = compute_layout(dir, m, &a, xy, start, sizeof start, &err);
        /* the settings, and the start's outcome beside them */
        char kept[sizeof settings + sizeof start + 16];
        size_t len = strlen(settings);
        if (start[0]) snprintf(kept, sizeof kept, "%.*s, \"start\": %s}", (int)len - 1, settings, start);
        else snprintf(kept, sizeof kept, "%s", settings);
        ep_derived_file file;
        if (st == EP_OK)
            st = ep_derived_write_array(dir, &(ep_derived_array){"map-xy.npy.zst", 'f', n, 2, xy}, &file, &err);
        if (st == EP_OK) st = ep_derived_index_update(dir, m, "map", kept, &file, 1, &err);
        if (st == EP_OK)
            fprintf(stderr, "embedpipe: %s layout of %llu rows in %.2f s -> %s/map-xy.npy.zst\n", a.pca ? "PCA" : "UMAP",
                    (unsigned long long)n, seconds_since(&t0), dir);
    } else {
        fprintf(stderr, "embedpipe: map: reusing %s/map-xy.npy.zst (made with the same settings)\n", dir);
    }
    if (st == EP_OK && (a.html || a.png)) {
        ep_map_view view;
        st = ep_map_view_load(dir, m, xy, 10, &view, &err);
        if (st == EP_OK && !view.texts)
            fprintf(stderr, "embedpipe: map: note: %s keeps no texts; the page shows positions and clusters only\n",
                    dir);
        if (st == EP_OK && !view.labels)
            fprintf(stderr, "embedpipe: map: note: no clusters yet; run `embedpipe cluster %s` to colour the map\n",
                    dir);
        if (st == EP_OK && a.html) st = ep_map_html_write(a.html, &view, (int)a.text_chars, &err);
        if (st == EP_OK && a.html) fprintf(stderr, "embedpipe: map -> %s\n", a.html);
        if (st == EP_OK && a.png) st = ep_map_png_write(a.png, &view, (int)a.png_w, (int)a.png_h, &err);
        if (st == EP_OK && a.png) fprintf(stderr, "embedpipe: map -> %s\n", a.png);
        if (st == EP_OK) ep_map_view_free(&view);
    }
    if (st != EP_OK) rc = ep_cli_report(&err);
    free(xy);
    ep_folder_lock_free(lock);
    ep_manifest_free(m);
    return rc;
}
