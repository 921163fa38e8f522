/*
 * cpu_choice.c - which kernel table this CPU gets for each precision, what
 * precision "auto" runs, and why: one place, so that the backend, `embedpipe
 * info` and the documentation say the same thing.
 *
 * A table is offered only where it earns its place (docs/PERFORMANCE.md):
 *  - fp32: the widest of avx512 > avx2 > generic the CPU runs (each measured
 *    faster than the one below it);
 *  - bf16: AMX only. AMX measured 3.8x the fp32 avx512 table end to end at a
 *    minimum cosine of 0.99995 against sentence-transformers. AVX512-BF16
 *    without AMX is not offered: on the Xeon (Sapphire Rapids class, no AMX
 *    in the VM) it was measured, one vdpbf16ps (32 multiply-adds) issues at a
 *    quarter of the rate of a 16-lane FMA, so its peak is 0.48x fp32's and the
 *    whole run took 1.6x the CPU time of fp32 (bench/dot-throughput.c,
 *    bench/backend-bench.c). The table
 *    stays for the labs and tests (ep_cpu_kernels_avx512_bf16), so that a CPU
 *    where it might pay (Zen 4, untested) can be measured.
 * "auto" is bf16 where bf16 is offered, fp32 otherwise.
 */
#include "cpu_fast.h"

#include <stdio.h>
#include <string.h>

/* The reason bf16 is not offered on a CPU without AMX, or "" when it is. */
static void bf16_refusal(char *why, size_t cap) {
    const ep_cpu_features *f = ep_cpu_features_get();
    const char *capped = f->capped[0] ? ", capped by EMBEDPIPE_CPU_ISA=" : "";
    if (f->amx_bf16)
        snprintf(why, cap, "%s", "");
    else if (f->avx512_bf16)
        snprintf(why, cap,
                 "this CPU (%s%s%s) has AVX512-BF16 but not AMX; there bf16 was measured slower than fp32 (a "
                 "vdpbf16ps issues at a quarter of an FMA's rate; docs/PERFORMANCE.md), so precision bf16 needs AMX "
                 "(Intel Sapphire Rapids or later, with a kernel that grants the tile state)",
                 f->model, capped, f->capped);
    else
        snprintf(why, cap,
                 "precision bf16 needs a CPU with AMX (Intel Sapphire Rapids or later); this CPU (%s%s%s) has "
                 "no bfloat16 matrix unit",
                 f->model, capped, f->capped);
}

const ep_cpu_kernels *ep_cpu_kernels_best_fp32(void) {
    const ep_cpu_kernels *k = ep_cpu_kernels_avx512();
    if (!k) k = ep_cpu_kernels_avx2();
    if (!k) k = ep_cpu_kernels_generic();
    return k;
}

ep_status ep_cpu_pick_kernels(ep_cpu_precision precision, const ep_cpu_kernels **out, ep_error *err) {
    if (precision == EP_CPU_PRECISION_BF16) {
        *out = ep_cpu_kernels_amx();
        if (*out) return EP_OK;
        char why[400];
        bf16_refusal(why, sizeof why);
        const ep_cpu_kernels *fp32 = ep_cpu_kernels_best_fp32();
        return ep_error_set(err, EP_ERR_DEVICE, "%s; this CPU offers precision fp32 (%s kernels), which auto picks",
                            why, fp32->name);
    }
    *out = ep_cpu_kernels_best_fp32();
    return EP_OK;
}

ep_cpu_precision ep_cpu_auto_precision(char *why, size_t cap) {
    if (ep_cpu_kernels_amx()) {
        if (why)
            snprintf(why, cap, "AMX: bf16 measured 3.8x fp32 end to end at a minimum cosine of 0.99995 "
                               "(docs/PERFORMANCE.md)");
        return EP_CPU_PRECISION_BF16;
    }
    if (why) {
        snprintf(why, cap, "%s", ep_cpu_features_get()->avx512_bf16
                                     ? "no AMX; AVX512-BF16 without AMX measured 1.6x slower than fp32 "
                                       "(docs/PERFORMANCE.md), so bf16 is not offered"
                                     : "no AMX, so bf16 is not offered");
    }
    return EP_CPU_PRECISION_FP32;
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
        if (!o->runs) {
            snprintf(o->why, sizeof o->why, "this CPU lacks %s%s%s", t[i].needs,
                     f->capped[0] ? " (as capped by EMBEDPIPE_CPU_ISA=" : "", f->capped[0] ? f->capped : "");
            if (f->capped[0]) strncat(o->why, ")", sizeof o->why - strlen(o->why) - 1);
        } else if (strcmp(t[i].name, "avx512-bf16") == 0) {
            snprintf(o->why, sizeof o->why, "%s",
                     f->amx_bf16 ? "not used: AMX is faster"
                                 : "not offered: without AMX it measured slower than fp32 (lab and tests only)");
        } else if (strcmp(t[i].precision, "bf16") == 0) {
            o->offered = true;
            snprintf(o->why, sizeof o->why, "precision bf16 (3.8x fp32 measured)");
        } else if (t[i].k == fp32) {
            o->offered = true;
            snprintf(o->why, sizeof o->why, "precision fp32: the widest fp32 table this CPU runs");
        } else {
            snprintf(o->why, sizeof o->why, "not used: %s is faster", fp32->name);
        }
    }
    return EP_CPU_N_TABLES;
}
