/* cli_common.c - helpers shared by the commands. */
#include "cli.h"
#include "pipeline.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
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
    case EP_ERR_BUSY: return EP_EXIT_BUSY;
    default: return EP_EXIT_FAILURE;
    }
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int ep_cli_expand_inputs(char **args, int n, const char *glob, char ***out, size_t *n_out) {
    size_t cap = 16, count = 0;
    char **list = malloc(sizeof(char *) * cap);
    for (int a = 0; list && a < n; a++) {
        struct stat st;
        if (strcmp(args[a], "-") != 0 && stat(args[a], &st) == 0 && S_ISDIR(st.st_mode)) {
            DIR *d = opendir(args[a]);
            if (!d) {
                fprintf(stderr, "embedpipe: cannot list %s: %s\n", args[a], strerror(errno));
                return -1;
            }
            size_t first = count;
            struct dirent *e;
            while ((e = readdir(d)) != NULL) {
                if (e->d_name[0] == '.' || fnmatch(glob, e->d_name, 0) != 0) continue;
                char path[4352];
                snprintf(path, sizeof path, "%s/%s", args[a], e->d_name);
                if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
                if (count == cap) list = realloc(list, sizeof(char *) * (cap *= 2));
                if (!list || !(list[count++] = strdup(path))) return -1;
            }
            closedir(d);
            qsort(list + first, count - first, sizeof(char *), cmp_str);
            if (count == first) {
                fprintf(stderr, "embedpipe: folder %s has no files matching --glob '%s'\n", args[a], glob);
                return -1;
            }
        } else {
            if (count == cap) list = realloc(list, sizeof(char *) * (cap *= 2));
            if (!list || !(list[count++] = strdup(args[a]))) return -1;
        }
    }
    if (!list) return -1;
    *out = list;
    *n_out = count;
    return 0;
}

void ep_cli_free_inputs(char **inputs, size_t n) {
    for (size_t i = 0; inputs && i < n; i++) free(inputs[i]);
    free(inputs);
}

int ep_cli_run_option(int c, const char *value, ep_run_options *o) {
    size_t v;
    ep_error err = {0};
    switch (c) {
    case 'm': o->model_dir = value; return 1;
    case 'd': o->device = value; return 1;
    case EP_OPT_TEXT: o->text_path = value; return 1;
    case EP_OPT_ID: o->id_path = value; return 1;
    case EP_OPT_PRECISION: o->precision = value; return 1;
    case 'f':
        if (ep_input_format_parse(value, &o->format, &err) != EP_OK) {
            ep_cli_report(&err);
            return -1;
        }
        return 1;
    case 't':
        if (ep_cli_parse_size("--threads", value, &v)) return -1;
        o->threads = (int)v;
        return 1;
    case EP_OPT_BATCH: return ep_cli_parse_size("--batch-tokens", value, &o->batch_tokens) ? -1 : 1;
    case EP_OPT_MAXSEQ:
        if (ep_cli_parse_size("--max-seq-length", value, &v)) return -1;
        o->max_seq_length = (int)v;
        return 1;
    case EP_OPT_SHARD:
        if (ep_cli_parse_size("--shard-rows", value, &o->rows_per_shard)) return -1;
        if (o->rows_per_shard == 0) {
            fprintf(stderr, "embedpipe: --shard-rows must be at least 1\n");
            return -1;
        }
        return 1;
    }
    return 0;
}
