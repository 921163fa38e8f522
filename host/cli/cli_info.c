/*
 * cli_info.c - `embedpipe info [--json] [--model DIR]`: what this machine gets.
 *
 * The CPU and the instructions that decide the kernels, every kernel table
 * with whether this CPU runs it and whether the backend offers it (and why
 * not), whether int8 is offered and why, what `--precision auto` picks and why, the CUDA devices, the default
 * thread count and the model folder found. The same decisions the backend
 * takes (cpu_choice.c, device.c), so the answer cannot drift from a run.
 */
#include "cli.h"
#include "cpu_fast.h"
#include "device.h"
#include "settings.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

/* Writes s as a JSON string (quotes included). */
static void json_str(const char *s) {
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') printf("\\%c", *p);
        else if (*p < 0x20) printf("\\u%04x", *p);
        else putchar(*p);
    }
    putchar('"');
}

static void usage(FILE *f) {
    fprintf(f, "Usage: embedpipe info [--json] [--model DIR]\n"
               "\n"
               "Says what this machine gets: the CPU and the instructions that matter, each CPU kernel\n"
               "table and whether this CPU runs it (and why not), what --precision auto picks and why,\n"
               "the CUDA devices, the default thread count and the model folder.\n"
               "\n"
               "      --json          one JSON object instead of text\n"
               "  -m, --model DIR     the model folder to report (default: as `embed` finds it)\n"
               "  -h, --help          this help\n"
               "\n"
               "EMBEDPIPE_CPU_ISA=generic|avx2|avx512|avx512-vnni|avx512-bf16 caps the instructions used (and\n"
               "shown).\n");
}

/* What this machine gets, worked out once for either form of the answer. */
typedef struct machine_info {
    const ep_cpu_features *f;
    ep_cpu_table_info tables[EP_CPU_N_TABLES];
    char auto_why[400];
    const char *auto_prec, *auto_kernels;   /* what --precision auto picks on the CPU, and its kernels */
    int cuda_count, driver, cuda_ok;
    ep_error cuda_err;                      /* why no CUDA device is usable, when none is */
    int threads;
    struct {
        const char *name;
        bool has;
    } isa[5];
    const ep_cpu_table_info *int8_info;     /* the int8 table's line: offered or not, and why */
    const char *model;                      /* NULL when none is found */
} machine_info;

static void machine_info_get(machine_info *mi, const char *model) {
    memset(mi, 0, sizeof *mi);
    mi->f = ep_cpu_features_get();
    ep_cpu_tables_describe(mi->tables);
    const ep_cpu_precision autop = ep_cpu_auto_precision(mi->auto_why, sizeof mi->auto_why);
    mi->auto_prec = autop == EP_CPU_PRECISION_BF16 ? "bf16" : autop == EP_CPU_PRECISION_INT8 ? "int8" : "fp32";
    const ep_cpu_kernels *auto_table = ep_cpu_kernels_best_fp32();
    ep_cpu_pick_kernels(autop, &auto_table, NULL); /* auto's precision is offered, so this succeeds */
    mi->auto_kernels = auto_table->name;
    for (int i = 0; i < EP_CPU_N_TABLES; i++)
        if (strcmp(mi->tables[i].precision, "int8") == 0) mi->int8_info = &mi->tables[i];
    mi->cuda_ok = ep_cuda_devices(&mi->cuda_count, &mi->driver, &mi->cuda_err) == EP_OK;
    mi->threads = ep_default_threads();
    const ep_cpu_features *f = mi->f;
    mi->isa[0].name = "avx2_fma", mi->isa[0].has = f->avx2_fma;
    mi->isa[1].name = "avx512", mi->isa[1].has = f->avx512;
    mi->isa[2].name = "avx512_vnni", mi->isa[2].has = f->avx512_vnni;
    mi->isa[3].name = "avx512_bf16", mi->isa[3].has = f->avx512_bf16;
    mi->isa[4].name = "amx_bf16", mi->isa[4].has = f->amx_bf16;
    mi->model = model;
}

/* The CPU, its instructions and every kernel table, as the JSON object's first fields. */
static void print_json_cpu(const machine_info *mi) {
    printf("{\"version\": ");
    json_str(ep_version());
    printf(", \"cpu\": {\"model\": ");
    json_str(mi->f->model);
    printf(", \"vendor\": ");
    json_str(mi->f->vendor);
    printf(", \"family\": %d, \"capped_by\": ", mi->f->family);
    json_str(mi->f->capped);
    printf(", \"threads_default\": %d, \"instructions\": {", mi->threads);
    for (int i = 0; i < 5; i++)
        printf("%s\"%s\": %s", i ? ", " : "", mi->isa[i].name, mi->isa[i].has ? "true" : "false");
    printf("}}, \"tables\": [");
    for (int i = 0; i < EP_CPU_N_TABLES; i++) {
        printf("%s{\"name\": ", i ? ", " : "");
        json_str(mi->tables[i].name);
        printf(", \"precision\": ");
        json_str(mi->tables[i].precision);
        printf(", \"runs\": %s, \"offered\": %s, \"why\": ", mi->tables[i].runs ? "true" : "false",
               mi->tables[i].offered ? "true" : "false");
        json_str(mi->tables[i].why);
        printf("}");
    }
    printf("]");
}

/* The whole answer as one JSON object on one line. */
static void print_json(const machine_info *mi) {
    print_json_cpu(mi);
    printf(", \"int8\": {\"offered\": %s, \"why\": ", mi->int8_info->offered ? "true" : "false");
    json_str(mi->int8_info->why);
    printf("}, \"auto\": {\"cpu\": {\"precision\": ");
    json_str(mi->auto_prec);
    printf(", \"kernels\": ");
    json_str(mi->auto_kernels);
    printf(", \"why\": ");
    json_str(mi->auto_why);
    printf("}, \"device\": ");
    json_str(mi->cuda_ok ? "cuda:0" : "cpu");
    printf(", \"precision\": ");
    json_str(mi->cuda_ok ? "fp16" : mi->auto_prec);
    printf("}, \"cuda\": {\"devices\": %d, \"driver\": %d, \"why\": ", mi->cuda_count, mi->driver);
    json_str(mi->cuda_ok ? "" : mi->cuda_err.message);
    printf("}, \"model\": ");
    if (mi->model) json_str(mi->model);
    else printf("null");
    printf("}\n");
}

/* The whole answer as text for a person. */
static void print_text(const machine_info *mi) {
    const ep_cpu_features *f = mi->f;
    printf("embedpipe %s\n\n", ep_version());
    printf("CPU: %s (%s, cpu family %d); %d thread%s by default (--threads)\n", f->model,
           f->vendor[0] ? f->vendor : "unknown vendor", f->family, mi->threads, mi->threads == 1 ? "" : "s");
    printf("  instructions:");
    for (int i = 0; i < 5; i++) printf(" %s %s", mi->isa[i].name, mi->isa[i].has ? "yes" : "no");
    if (f->capped[0]) printf(" (capped by EMBEDPIPE_CPU_ISA=%s)", f->capped);
    printf("\n\nCPU kernel tables (--device cpu):\n");
    for (int i = 0; i < EP_CPU_N_TABLES; i++)
        printf("  %-12s %-5s %-11s %s\n", mi->tables[i].name, mi->tables[i].precision,
               mi->tables[i].offered ? "offered" : mi->tables[i].runs ? "runs" : "cannot run", mi->tables[i].why);
    printf("  fp32-reference: the plain OpenBLAS backend, on any CPU (the oracle the tables are tested against)\n");
    printf("\n--precision auto on the CPU: %s (%s kernels): %s\n", mi->auto_prec, mi->auto_kernels, mi->auto_why);
    printf("--precision int8: %s: %s\n", mi->int8_info->offered ? "offered" : "not offered", mi->int8_info->why);
    if (mi->cuda_ok)
        printf("CUDA: %d device%s (driver %d); --device auto runs cuda:0 in fp16\n", mi->cuda_count,
               mi->cuda_count == 1 ? "" : "s", mi->driver);
    else
        printf("CUDA: none usable: %s; --device auto runs the CPU\n", mi->cuda_err.message);
    printf("Model: %s\n", mi->model ? mi->model : "none found (see above; --model DIR or EMBEDPIPE_MODEL)");
}

int ep_cli_info(int argc, char **argv) {
    static const struct option longopts[] = {
        {"json", no_argument, 0, 'j'}, {"model", required_argument, 0, 'm'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int json = 0, c;
    const char *model = NULL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:h", longopts, NULL)) != -1) {
        if (c == 'j') json = 1;
        else if (c == 'm') model = optarg;
        else if (c == 'h') {
            usage(stdout);
            return EP_EXIT_OK;
        } else {
            usage(stderr);
            return EP_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "embedpipe info: unexpected argument '%s'\n", argv[optind]);
        return EP_EXIT_USAGE;
    }
    if (!model) model = ep_cli_default_model(); /* NULL (after saying where it looked) when none is found */
    machine_info mi;
    machine_info_get(&mi, model);
    if (json) print_json(&mi);
    else print_text(&mi);
    return EP_EXIT_OK;
}
