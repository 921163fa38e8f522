/* cli_common.c - helpers shared by the commands. */
#include "cli.h"
#include "device.h"
#include "pipeline.h"
#include "search.h"
#include "settings.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EP_DEFAULT_MODEL_NAME "all-MiniLM-L6-v2"

/* A folder that holds a model, not just a folder of that name. */
static int is_model(const char *dir) {
    char cfg[PATH_MAX + 64];
    struct stat st;
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    return stat(cfg, &st) == 0 && S_ISREG(st.st_mode);
}

const char *ep_cli_default_model(void) {
    static char found[PATH_MAX + 64];
    const char *env = ep_settings_get()->model;
    if (env) return env; /* taken as it is: a wrong one is reported by the loader, with its path */
    enum { MAX_PLACES = 6 }; /* ./models, the data folder, and 4 beside the executable */
    char places[MAX_PLACES][PATH_MAX + 64];
    int n = 0;
    snprintf(places[n++], sizeof places[0], "models/" EP_DEFAULT_MODEL_NAME);
    const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
    if (xdg && *xdg == '/') /* the XDG spec ignores relative values */
        snprintf(places[n++], sizeof places[0], "%s/embedpipe/models/" EP_DEFAULT_MODEL_NAME, xdg);
    else if (home && *home)
        snprintf(places[n++], sizeof places[0], "%s/.local/share/embedpipe/models/" EP_DEFAULT_MODEL_NAME, home);
    char dir[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", dir, sizeof dir - 1);
    char *slash = len > 0 ? (dir[len] = '\0', strrchr(dir, '/')) : NULL;
    // The executable's folder and the two above it: PREFIX/bin (an installed binary looks in
    // PREFIX/share), or build/ or build/x/ inside the checkout (which holds models/).
    for (int up = 0; slash && up < 3; up++) {
        *slash = '\0';
        if (up == 1) snprintf(places[n++], sizeof places[0], "%s/share/embedpipe/models/" EP_DEFAULT_MODEL_NAME, dir);
        snprintf(places[n++], sizeof places[0], "%s/models/" EP_DEFAULT_MODEL_NAME, dir);
        slash = strrchr(dir, '/');
    }
    for (int i = 0; i < n; i++) {
        if (!is_model(places[i])) continue;
        snprintf(found, sizeof found, "%s", places[i]);
        return found;
    }
    fprintf(stderr, "embedpipe: no model given and none found; looked for %s in:\n", EP_DEFAULT_MODEL_NAME);
    for (int i = 0; i < n; i++) fprintf(stderr, "  %s\n", places[i]);
    fprintf(stderr, "Pass --model DIR or set EMBEDPIPE_MODEL=DIR (a sentence-transformers folder), or fetch it:\n"
                    "scripts/fetch-model.sh --user (in the source checkout, or PREFIX/share/embedpipe/scripts/\n"
                    "after cmake --install) puts it into %s.\n",
            n > 1 ? places[1] : "~/.local/share/embedpipe/models/" EP_DEFAULT_MODEL_NAME);
    return NULL;
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

int ep_cli_parse_range(const char *option, const char *value, size_t lo, size_t hi, size_t *out) {
    if (ep_cli_parse_size(option, value, out) || *out < lo || *out > hi) {
        fprintf(stderr, "embedpipe: %s must be between %zu and %zu\n", option, lo, hi);
        return -1;
    }
    return 0;
}

const char *ep_cli_one_folder(int argc, char **argv, void (*usage)(FILE *)) {
    if (argc - optind != 1) {
        usage(stderr);
        return NULL;
    }
    return argv[optind];
}

/* Prints text on one line, newlines shown as spaces, cut at max_chars code points. */
static void print_snippet(const char *text, int max_chars) {
    int chars = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if ((*p & 0xC0) != 0x80 && ++chars > max_chars) {
            fputs("...", stdout);
            return;
        }
        putchar(*p == '\n' || *p == '\r' || *p == '\t' ? ' ' : *p);
    }
}

void ep_cli_print_hit(int rank, const struct ep_search_hit *hit, const char *id, const char *text) {
    printf("%2d. %.4f  row %llu", rank, hit->score, (unsigned long long)hit->row);
    if (id && *id) printf("  id %s", id);
    if (text) {
        fputs("\n    ", stdout);
        print_snippet(text, 160);
    }
}

/* The command-line side of a library error: library messages name values
 * ("device cuda", "precision bf16"), never flags; this adds which flag to change. */
static const char *flag_hint(const ep_error *err) {
    if (err->code == EP_ERR_MODEL) return "--model DIR (or EMBEDPIPE_MODEL=DIR) chooses the model folder";
    if (err->code != EP_ERR_DEVICE && err->code != EP_ERR_USAGE) return NULL;
    if (strncmp(err->message, "device ", 7) == 0) return "use --device cpu, which runs on any machine";
    if (strncmp(err->message, "precision ", 10) == 0 || strstr(err->message, "precision fp32"))
        return "choose another --precision (fp32 runs on any CPU; see `embedpipe embed --help`)";
    return NULL;
}

int ep_cli_report(const ep_error *err) {
    fprintf(stderr, "embedpipe: %s: %s\n", ep_status_name(err->code), err->message);
    const char *hint = flag_hint(err);
    if (hint) fprintf(stderr, "embedpipe: hint: %s\n", hint);
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
    case EP_OPT_PRECISION: {
        ep_precision p; /* refused here, naming the flag; ep_backend_create parses it again, as any caller's */
        if (ep_precision_parse(value, &p, &err) != EP_OK) {
            fprintf(stderr, "embedpipe: --%s\n", err.message);
            return -1;
        }
        o->precision = value;
        return 1;
    }
    case 'f':
        if (ep_input_format_parse(value, &o->format, &err) != EP_OK) {
            ep_cli_report(&err);
            return -1;
        }
        return 1;
    case 't': {
        if (ep_cli_parse_size("--threads", value, &v)) return -1;
        /* More threads than a few per core only cost memory and start-up (each
         * holds buffers), and a huge count can exhaust the process: clamp, and say so. */
        const int cpus = ep_default_threads();
        size_t cap = (size_t)cpus * EP_CLI_THREADS_PER_CPU;
        if (v > cap) {
            fprintf(stderr, "embedpipe: --threads %zu is more than %d per online CPU (%d CPUs); using %zu\n", v,
                    EP_CLI_THREADS_PER_CPU, cpus, cap);
            v = cap;
        }
        o->threads = (int)v;
        return 1;
    }
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

int ep_cli_parse_part(const char *v, int *index, int *count) {
    const char *tid = getenv("SLURM_ARRAY_TASK_ID"), *tmin = getenv("SLURM_ARRAY_TASK_MIN"),
               *tcount = getenv("SLURM_ARRAY_TASK_COUNT"), *k8s = getenv("JOB_COMPLETION_INDEX");
    long i = -1, n = -1;
    char *end;
    const char *slash = strchr(v, '/');
    if (strcmp(v, "auto") == 0) {
        if (!tid || !tcount) {
            fprintf(stderr, "embedpipe: --part auto needs SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT "
                            "(run it inside a Slurm job array, or give --part I/N)\n");
            return -1;
        }
        n = strtol(tcount, NULL, 10);
        i = strtol(tid, NULL, 10) - (tmin ? strtol(tmin, NULL, 10) : 0);
    } else if (slash) {
        i = strtol(v, &end, 10);
        if (end != slash) i = -1;
        n = strtol(slash + 1, &end, 10);
        if (*end) n = -1;
    } else {
        n = strtol(v, &end, 10);
        if (*end) n = -1;
        if (tid) i = strtol(tid, NULL, 10) - (tmin ? strtol(tmin, NULL, 10) : 0);
        else if (k8s) i = strtol(k8s, NULL, 10);
        else {
            fprintf(stderr, "embedpipe: --part %s: no part index: give --part I/N, or run in a Slurm job array "
                            "(SLURM_ARRAY_TASK_ID) or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX)\n", v);
            return -1;
        }
    }
    if (n < 1 || i < 0 || i >= n) {
        fprintf(stderr, "embedpipe: --part %s: expected I/N with 0 <= I < N (got part %ld of %ld)\n", v, i, n);
        return -1;
    }
    *index = (int)i;
    *count = (int)n;
    return 0;
}
