/* cli_common.c - helpers shared by the commands. */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *ep_cli_default_model(void) {
    static char path[PATH_MAX + 64];
    const char *env = getenv("EMBEDPIPE_MODEL");
    if (env && *env) return env;
    if (is_dir("models/all-MiniLM-L6-v2")) return "models/all-MiniLM-L6-v2";
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        for (int up = 0; up < 3; up++) { /* build/embedpipe, build/x/embedpipe, prefix/bin/embedpipe */
            char *slash = strrchr(exe, '/');
            if (!slash) break;
            *slash = '\0';
            snprintf(path, sizeof path, "%s/models/all-MiniLM-L6-v2", exe);
            if (is_dir(path)) return path;
        }
    }
    return "models/all-MiniLM-L6-v2";
}

int ep_cli_parse_size(const char *option, const char *value, size_t *out) {
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(value, &end, 10);
    if (errno || !*value || *end || value[0] == '-') {
        fprintf(stderr, "embedpipe: %s expects a non-negative integer, got '%s'\n", option, value);
        return -1;
    }
    *out = (size_t)v;
    return 0;
}

int ep_cli_report(const ep_error *err) {
    fprintf(stderr, "embedpipe: %s: %s\n", ep_status_name(err->code), err->message);
    switch (err->code) {
    case EP_OK: return EP_EXIT_OK;
    case EP_ERR_USAGE: return EP_EXIT_USAGE;
    case EP_ERR_MISMATCH: return EP_EXIT_MISMATCH;
    case EP_ERR_INTERRUPTED: return EP_EXIT_INTERRUPTED;
    default: return EP_EXIT_FAILURE;
    }
}
