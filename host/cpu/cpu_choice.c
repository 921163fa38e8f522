/*
 * cpu_choice.c - which kernel table this CPU gets for each precision, what
 * precision "auto" runs, and why: one place, so that the backend, `embedpipe
 * info` and the documentation say the same thing.
 *
 * A table is offered only where it earns its place (docs/PERFORMANCE.md):
 *  - fp32: the widest of avx512 > avx2 > generic the CPU runs (each measured
 *    faster than the one below it);
 *  - bf16: AMX (3.8x the fp32 avx512 table end to end at a minimum cosine of
 *    0.99995 against sentence-transformers), or the AVX512-BF16 dot products
 *    on a CPU family where they were measured at least 1.5x fp32 end to end
 *    (`measured` below). Whether vdpbf16ps pays depends on the core: on the
 *    Intel Xeon measured (Sapphire Rapids class, no AMX in the VM) one issues
 *    at a quarter of the rate of a 16-lane FMA, so bf16 took 1.6x the CPU time
 *    of fp32; on AMD Zen 5 it issues at the FMA's rate and bf16 is 1.7x faster.
 *    A CPU not measured is not offered it (bench/dot-throughput.c and
 *    bench/backend-bench.c measure one);
 *  - int8 (the avx512-vnni table): where its accuracy bar (minimum cosine >=
 *    0.995 and mean >= 0.999 against sentence-transformers fp32 on real tweets,
 *    the same bits on every CPU: test_cpu_int8_conformance) and its speed bar
 *    (>= 1.5x the precision offered below it, measured on this CPU family)
 *    both hold. Not on AMX machines: AMX-INT8 tiles are not written (no machine
 *    here to test them on), and VNNI does not beat AMX bf16.
 * "auto" is the fastest offered precision whose minimum cosine is >= 0.999.
 */
#include "cpu_fast.h"

#include <stdio.h>
#include <string.h>

/* End-to-end speed of the tables without a matrix unit, measured on one CPU family
 * (docs/PERFORMANCE.md, "bf16 and int8 without AMX": bench/backend-bench.c, process
 * CPU time per token on 3,000 tweets, runs interleaved). 0 = not measured. */
typedef struct measured_cpu {
    const char *vendor; /* cpuid's vendor string */
    int family;         /* cpuid's display family */
    const char *name;   /* as messages name it */
    double bf16_vs_fp32, int8_vs_fp32, int8_vs_bf16;
} measured_cpu;

static const measured_cpu measured[] = {
    {"AuthenticAMD", 0x1a, "AMD Zen 5 (family 26)", 1.89, 2.63, 1.39},
};

/* int8's accuracy on the fixture's 2,100 tweets against sentence-transformers fp32
 * (test_cpu_int8_conformance asserts the bars and that these decide the same way). */
const double ep_cpu_int8_min_cosine = 0.9982, ep_cpu_int8_mean_cosine = 0.99937;

enum { BAR_PERMILLE = 1500 }; /* a table must be 1.5x the one below it */

static const measured_cpu *measured_here(void) {
    const ep_cpu_features *f = ep_cpu_features_get();
    for (size_t i = 0; i < sizeof measured / sizeof measured[0]; i++)
        if (strcmp(f->vendor, measured[i].vendor) == 0 && f->family == measured[i].family) return &measured[i];
    return NULL;
}

static int pays(double ratio) { return ratio * 1000.0 >= BAR_PERMILLE; }

/* @return the AVX512-BF16 table where it is offered (no AMX, a CPU where it was measured to pay), else NULL. */
static const ep_cpu_kernels *dp_bf16_offered(void) {
    const measured_cpu *m = measured_here();
    return !ep_cpu_kernels_amx() && m && pays(m->bf16_vs_fp32) ? ep_cpu_kernels_avx512_bf16() : NULL;
}

/* @return the bf16 table this CPU is offered, or NULL. */
static const ep_cpu_kernels *bf16_table(void) {
    const ep_cpu_kernels *k = ep_cpu_kernels_amx();
    return k ? k : dp_bf16_offered();
}

/* Why bf16 is not offered here (only called when it is not). */
static void bf16_refusal(char *why, size_t cap) {
    const ep_cpu_features *f = ep_cpu_features_get();
    const char *capped = f->capped[0] ? ", capped by EMBEDPIPE_CPU_ISA=" : "";
    if (f->avx512_bf16)
        snprintf(why, cap,
                 "this CPU (%s%s%s) has AVX512-BF16 but not AMX, and bf16 without AMX was measured to pay only on "
                 "AMD Zen 5; on an Intel Xeon without AMX it was slower than fp32 (a vdpbf16ps issues at a quarter "
                 "of an FMA's rate; docs/PERFORMANCE.md), so precision bf16 needs AMX or a CPU where it was measured",
                 f->model, capped, f->capped);
    else
        snprintf(why, cap,
                 "precision bf16 needs a CPU with AMX (Intel Sapphire Rapids or later) or AVX512-BF16 where it was "
                 "measured to pay (AMD Zen 5); this CPU (%s%s%s) has neither",
                 f->model, capped, f->capped);
}

/* @return the int8 table where it is offered, else NULL and (why != NULL) the reason. */
static const ep_cpu_kernels *int8_table(char *why, size_t cap) {
    const ep_cpu_features *f = ep_cpu_features_get();
    const ep_cpu_kernels *k = ep_cpu_kernels_avx512_vnni();
    const measured_cpu *m = measured_here();
    const char *capped = f->capped[0] ? ", capped by EMBEDPIPE_CPU_ISA=" : "";
    const int over_bf16 = bf16_table() != NULL;
    const double ratio = m ? (over_bf16 ? m->int8_vs_bf16 : m->int8_vs_fp32) : 0;
    if (!k) {
        if (why) snprintf(why, cap, "precision int8 needs AVX512-VNNI, which this CPU (%s%s%s) lacks", f->model,
                          capped, f->capped);
    } else if (ep_cpu_kernels_amx()) {
        if (why) snprintf(why, cap, "on this CPU (%s) AMX bf16 is faster than int8 on VNNI (int8 on AMX-INT8 tiles "
                          "is not written yet)", f->model);
    } else if (!(ep_cpu_int8_min_cosine >= 0.995 && ep_cpu_int8_mean_cosine >= 0.999)) {
        if (why) snprintf(why, cap, "int8 misses its accuracy bar (minimum cosine %.4f, mean %.5f against "
                          "sentence-transformers; it needs 0.995 and 0.999)", ep_cpu_int8_min_cosine,
                          ep_cpu_int8_mean_cosine);
    } else if (!m || ratio == 0) {
        if (why) snprintf(why, cap, "int8 has not been measured on this CPU (%s%s%s) against %s, so it is not "
                          "offered (bench/backend-bench measures the table, kernels:avx512-vnni)", f->model,
                          capped, f->capped, over_bf16 ? "bf16" : "fp32");
    } else if (!pays(ratio)) {
        if (why) snprintf(why, cap, "on this CPU (%s) int8 measured only %.2fx %s end to end, below the 1.5x that "
                          "would earn it a place (docs/PERFORMANCE.md)", m->name, ratio, over_bf16 ? "bf16" : "fp32");
    } else {
        if (why) snprintf(why, cap, "%.2fx %s measured on %s, minimum cosine %.4f", ratio,
                          over_bf16 ? "bf16" : "fp32", m->name, ep_cpu_int8_min_cosine);
        return k;
    }
    return NULL;
}

const ep_cpu_kernels *ep_cpu_kernels_best_fp32(void) {
    const ep_cpu_kernels *k = ep_cpu_kernels_avx512();
    if (!k) k = ep_cpu_kernels_avx2();
    if (!k) k = ep_cpu_kernels_generic();
    return k;
}

ep_status ep_cpu_pick_kernels(ep_cpu_precision precision, const ep_cpu_kernels **out, ep_error *err) {
    char why[512];
    const ep_cpu_kernels *fp32 = ep_cpu_kernels_best_fp32();
    if (precision == EP_CPU_PRECISION_BF16) {
        *out = bf16_table();
        if (*out) return EP_OK;
        bf16_refusal(why, sizeof why);
        return ep_error_set(err, EP_ERR_DEVICE, "%s; this CPU offers precision fp32 (%s kernels), which auto picks",
                            why, fp32->name);
    }
    if (precision == EP_CPU_PRECISION_INT8) {
        *out = int8_table(why, sizeof why);
        if (*out) return EP_OK;
        const ep_cpu_kernels *bf = bf16_table();
        return ep_error_set(err, EP_ERR_DEVICE, "precision int8 is not offered here: %s; this CPU offers precision "
                            "%s (%s kernels), which auto picks", why, bf ? "bf16" : "fp32", (bf ? bf : fp32)->name);
    }
    *out = fp32;
    return EP_OK;
}

ep_cpu_precision ep_cpu_auto_precision(char *why, size_t cap) {
    const measured_cpu *m = measured_here();
    if (int8_table(NULL, 0) && ep_cpu_int8_min_cosine >= 0.999) {
        if (why) snprintf(why, cap, "int8 is offered and meets auto's minimum cosine of 0.999");
        return EP_CPU_PRECISION_INT8;
    }
    char int8_note[160] = "";
    if (int8_table(NULL, 0))
        snprintf(int8_note, sizeof int8_note, "; int8 is offered but only on request (its minimum cosine, %.4f, is "
                 "under auto's 0.999)", ep_cpu_int8_min_cosine);
    if (ep_cpu_kernels_amx()) {
        if (why) snprintf(why, cap, "AMX: bf16 measured 3.8x fp32 end to end at a minimum cosine of 0.99995 "
                          "(docs/PERFORMANCE.md)");
        return EP_CPU_PRECISION_BF16;
    }
    if (dp_bf16_offered()) {
        if (why) snprintf(why, cap, "%s: bf16 (AVX512-BF16, no AMX) measured %.1fx fp32 end to end at a minimum "
                          "cosine of 0.99997 (docs/PERFORMANCE.md)%s", m->name, m->bf16_vs_fp32, int8_note);
        return EP_CPU_PRECISION_BF16;
    }
    if (why) {
        if (ep_cpu_features_get()->avx512_bf16)
            snprintf(why, cap, "no AMX, and AVX512-BF16 alone was not measured to pay on this CPU (on an Intel Xeon "
                     "it was 1.6x slower than fp32; docs/PERFORMANCE.md), so bf16 is not offered%s", int8_note);
        else
            snprintf(why, cap, "no AMX or measured AVX512-BF16, so bf16 is not offered%s", int8_note);
    }
    return EP_CPU_PRECISION_FP32;
}

/* The reason one table is or is not offered, for info. */
static void table_why(ep_cpu_table_info *o, const ep_cpu_kernels *k, const ep_cpu_kernels *fp32) {
    const ep_cpu_features *f = ep_cpu_features_get();
    const measured_cpu *m = measured_here();
    if (strcmp(o->name, "avx512-vnni") == 0) {
        o->offered = int8_table(o->why, sizeof o->why) != NULL;
        if (o->offered) {
            char tail[sizeof o->why];
            snprintf(tail, sizeof tail, "%s", o->why);
            snprintf(o->why, sizeof o->why, "precision int8, on request only (%s)", tail);
        }
    } else if (strcmp(o->name, "avx512-bf16") == 0) {
        o->offered = dp_bf16_offered() == k;
        if (f->amx_bf16)
            snprintf(o->why, sizeof o->why, "not used: AMX is faster");
        else if (o->offered)
            snprintf(o->why, sizeof o->why, "precision bf16: %.1fx fp32 measured on %s", m->bf16_vs_fp32, m->name);
        else
            snprintf(o->why, sizeof o->why, "not offered: not measured to pay on this CPU (on an Intel Xeon without "
                     "AMX it was slower than fp32; lab and tests only)");
    } else if (strcmp(o->name, "amx") == 0) {
        o->offered = true;
        snprintf(o->why, sizeof o->why, "precision bf16 (3.8x fp32 measured)");
    } else if (k == fp32) {
        o->offered = true;
        snprintf(o->why, sizeof o->why, "precision fp32: the widest fp32 table this CPU runs");
    } else {
        snprintf(o->why, sizeof o->why, "not used: %s is faster", fp32->name);
    }
}

int ep_cpu_tables_describe(ep_cpu_table_info out[EP_CPU_N_TABLES]) {
    const ep_cpu_features *f = ep_cpu_features_get();
    const ep_cpu_kernels *fp32 = ep_cpu_kernels_best_fp32();
    const struct {
        const char *name, *precision;
        const ep_cpu_kernels *k;
        const char *needs;
    } t[EP_CPU_N_TABLES] = {
        {"amx", "bf16", ep_cpu_kernels_amx(), "AMX-TILE + AMX-BF16 and the OS's tile state"},
        {"avx512-vnni", "int8", ep_cpu_kernels_avx512_vnni(), "AVX512-VNNI"},
        {"avx512-bf16", "bf16", ep_cpu_kernels_avx512_bf16(), "AVX512-BF16"},
        {"avx512", "fp32", ep_cpu_kernels_avx512(), "AVX-512 F/BW/VL/DQ"},
        {"avx2", "fp32", ep_cpu_kernels_avx2(), "AVX2 + FMA"},
        {"generic", "fp32", ep_cpu_kernels_generic(), "nothing (plain C)"},
    };
    for (int i = 0; i < EP_CPU_N_TABLES; i++) {
        ep_cpu_table_info *o = &out[i];
        memset(o, 0, sizeof *o);
        o->name = t[i].name;
        o->precision = t[i].precision;
        o->runs = t[i].k != NULL;
        if (o->runs) {
            table_why(o, t[i].k, fp32);
            continue;
        }
        snprintf(o->why, sizeof o->why, "this CPU lacks %s%s%s", t[i].needs,
                 f->capped[0] ? " (as capped by EMBEDPIPE_CPU_ISA=" : "", f->capped[0] ? f->capped : "");
        if (f->capped[0]) strncat(o->why, ")", sizeof o->why - strlen(o->why) - 1);
    }
    return EP_CPU_N_TABLES;
}
