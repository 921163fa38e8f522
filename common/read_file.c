/* read_file.c - whole-file reads, written once. */
#include "read_file.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

ep_status ep_read_stream(FILE *f, const char *path, size_t max_bytes, char **buf, size_t *len, ep_error *err) {
    *buf = NULL;
    *len = 0;
    size_t cap = 1 << 14, n = 0;
    char *b = malloc(cap + 1);
    for (;;) {
        if (!b) return ep_error_set(err, EP_ERR_NOMEM, "out of memory reading %s", path);
        n += fread(b + n, 1, cap - n, f);
        if (n < cap) break;
        if (max_bytes && cap >= max_bytes) {
            free(b);
            return ep_error_set(err, EP_ERR_FORMAT, "%s: larger than %zu bytes, the most this file may hold", path,
                                max_bytes);
        }
        char *grown = cap > SIZE_MAX / 4 ? NULL : realloc(b, cap * 2 + 1);
        if (!grown) free(b);
        b = grown;
        cap *= 2;
    }
    if (ferror(f)) {
        int saved = errno;
        free(b);
        return ep_error_set(err, EP_ERR_IO, "%s: read error: %s", path, strerror(saved));
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return EP_OK;
}

ep_status ep_read_file(const char *path, size_t max_bytes, char **buf, size_t *len, ep_error *err) {
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return ep_error_set(err, EP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    ep_status st = ep_read_stream(f, path, max_bytes, buf, len, err);
    fclose(f);
    return st;
}
