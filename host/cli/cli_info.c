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

    const ep_cpu_features *f = ep_cpu_features_get();
    ep_cpu_table_info tables[EP_CPU_N_TABLES];
    ep_cpu_tables_describe(tables);
    char auto_why[400];
    const ep_cpu_precision autop = ep_cpu_auto_precision(auto_why, sizeof auto_why);
    const char *auto_prec = autop == EP_CPU_PRECISION_BF16 ? "bf16" : autop == EP_CPU_PRECISION_INT8 ? "int8" : "fp32";
    const ep_cpu_kernels *auto_table = ep_cpu_kernels_best_fp32();
    ep_cpu_pick_kernels(autop, &auto_table, NULL); /* auto's precision is offered, so this succeeds */
    const char *auto_kernels = auto_table->name;
    // int8: offered or not, and why (the table's line says the same)
    const ep_cpu_table_info *int8_info = NULL;
    for (int i = 0; i < EP_CPU_N_TABLES; i++)
        if (strcmp(tables[i].precision, "int8") == 0) int8_info = &tables[i];
    int cuda_count = 0, driver = 0;
    ep_error cuda_err = {0};
    const int cuda_ok = ep_cuda_devices(&cuda_count, &driver, &cuda_err) == EP_OK;
    const int threads = ep_default_threads();
    const struct {
        const char *name;
        bool has;
    } isa[5] = {{"avx2_fma", f->avx2_fma}, {"avx512", f->avx512}, {"avx512_vnni", f->avx512_vnni},
                {"avx512_bf16", f->avx512_bf16}, {"amx_bf16", f->amx_bf16}};

    if (json) {
        printf("{\"version\": ");
        json_str(ep_version());
        printf(", \"cpu\": {\"model\": ");
        json_str(f->model);
        printf(", \"vendor\": ");
        json_str(f->vendor);
        printf(", \"family\": %d, \"capped_by\": ", f->family);
        json_str(f->capped);
        printf(", \"threads_default\": %d, \"instructions\": {", threads);
        for (int i = 0; i < 5; i++) printf("%s\"%s\": %s", i ? ", " : "", isa[i].name, isa[i].has ? "true" : "false");
        printf("}}, \"tables\": [");
        for (int i = 0; i < EP_CPU_N_TABLES; i++) {
            printf("%s{\"name\": ", i ? ", " : "");
            json_str(tables[i].name);
            printf(", \"precision\": ");
            json_str(tables[i].precision);
            printf(", \"runs\": %s, \"offered\": %s, \"why\": ", tables[i].runs ? "true" : "false",
                   tables[i].offered ? "true" : "false");
            json_str(tables[i].why);
            printf("}");
        }
        printf("], \"int8\": {\"offered\": %s, \"why\": ", int8_info->offered ? "true" : "false");
        json_str(int8_info->why);
        printf("}, \"auto\": {\"cpu\": {\"precision\": ");
        json_str(auto_prec);
        printf(", \"kernels\": ");
        json_str(auto_kernels);
        printf(", \"why\": ");
        json_str(auto_why);
        printf("}, \"device\": ");
        json_str(cuda_ok ? "cuda:0" : "cpu");
        printf(", \"precision\": ");
        json_str(cuda_ok ? "fp16" : auto_prec);
        printf("}, \"cuda\": {\"devices\": %d, \"driver\": %d, \"why\": ", cuda_count, driver);
        json_str(cuda_ok ? "" : cuda_err.message);
        printf("}, \"model\": ");
        if (model) json_str(model);
        else printf("null");
        printf("}\n");
        return EP_EXIT_OK;
    }
    printf("embedpipe %s\n\n", ep_version());
    printf("CPU: %s (%s, cpu family %d); %d thread%s by default (--threads)\n", f->model,
           f->vendor[0] ? f->vendor : "unknown vendor", f->family, threads, threads == 1 ? "" : "s");
    printf("  instructions:");
    for (int i = 0; i < 5; i++) printf(" %s %s", isa[i].name, isa[i].has ? "yes" : "no");
    if (f->capped[0]) printf(" (capped by EMBEDPIPE_CPU_ISA=%s)", f->capped);
    printf("\n\nCPU kernel tables (--device cpu):\n");
    for (int i = 0; i < EP_CPU_N_TABLES; i++)
        printf("  %-12s %-5s %-11s %s\n", tables[i].name, tables[i].precision,
               tables[i].offered ? "offered" : tables[i].runs ? "runs" : "cannot run", tables[i].why);
    printf("  fp32-reference: the plain OpenBLAS backend, on any CPU (the oracle the tables are tested against)\n");
    printf("\n--precision auto on the CPU: %s (%s kernels): %s\n", auto_prec, auto_kernels, auto_why);
    printf("--precision int8: %s: %s\n", int8_info->offered ? "offered" : "not offered", int8_info->why);
    if (cuda_ok)
        printf("CUDA: %d device%s (driver %d); --device auto runs cuda:0 in fp16\n", cuda_count,
               cuda_count == 1 ? "" : "s", driver);
    else
        printf("CUDA: none usable: %s; --device auto runs the CPU\n", cuda_err.message);
    printf("Model: %s\n", model ? model : "none found (see above; --model DIR or EMBEDPIPE_MODEL)");
    return EP_EXIT_OK;
}
