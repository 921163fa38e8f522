#!/usr/bin/env python3
"""gpu_table.py - step 7 of bench/gpu.sh: the GPU table and its machine-readable copy (stdlib only).

Throughput is end to end (file -> zstd shards on disk) with the start-up taken out: tokens /
(wall - start-up), the start-up being the median wall time of the same command on one text, as
the CPU table does; the start-up's share of the long run is printed so that a reader can judge it.
A real run rewrites the part of docs/PERFORMANCE.md between the gpu-table markers and writes
docs/perf/gpu-DATE.json. An emulated run (--emulated 1) writes both only to its scratch folder,
headed EMULATED: its figures are CPU figures of the dry run and say nothing about a GPU.
"""
import argparse
import datetime
import json
import re
import statistics
import subprocess
import sys


def q(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    except Exception:
        return None


def main():
    ap = argparse.ArgumentParser()
    for a in ("--doc", "--json", "--bench", "--reference", "--smi", "--arch", "--toolkit", "--root"):
        ap.add_argument(a, required=a not in ("--doc", "--smi"), default="")
    ap.add_argument("--startup", nargs="+", required=True)
    ap.add_argument("--emulated", type=int, default=0)
    ap.add_argument("--texts", type=int, required=True)
    ap.add_argument("--distinct", type=int, required=True)
    a = ap.parse_args()

    bench, ref = json.load(open(a.bench)), json.load(open(a.reference))
    ups = [json.load(open(p))["wall_s"] for p in a.startup]
    up = statistics.median(ups)
    wall = bench["wall_s"]
    if bench.get("records_embedded", 0) <= 0 or wall <= up:
        sys.exit(f"gpu_table.py: the throughput run ({wall:.2f} s) is not longer than the start-up ({up:.2f} s): "
                 "give bench/gpu.sh more --texts")
    net = wall - up
    tok_s, txt_s = bench["tokens"] / net, bench["records_embedded"] / net
    util, mem = [], []
    try:
        for line in open(a.smi):
            parts = [p.strip() for p in line.split(",")]
            if len(parts) == 2 and parts[0].isdigit():
                util.append(int(parts[0]))
                mem.append(int(parts[1]))
    except OSError:
        pass
    if a.emulated:
        gpu = "none: EMULATED dry run (bench/gpu.sh --emulate), CPU backend for the throughput"
    else:
        gpu = (q(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"]) or "?").splitlines()[0]
    commit = q(["git", "-C", a.root, "rev-parse", "--short", "HEAD"]) or "?"
    if q(["git", "-C", a.root, "status", "--porcelain", "--untracked-files=no"]):
        commit += "-dirty"
    st = ref.get("st_fp16_texts_per_s")
    speedup = txt_s / st if st else None
    record = {
        "emulated": bool(a.emulated), "date": datetime.date.today().isoformat(), "commit": commit,
        "gpu_driver": gpu, "cuda_arch": a.arch, "toolkit": a.toolkit,
        "texts": bench["records_embedded"], "distinct_texts": a.distinct, "tokens": bench["tokens"],
        "wall_s": wall, "startup_s": up, "startup_runs_s": ups, "startup_share": up / wall,
        "tokens_per_s": tok_s, "texts_per_s": txt_s, "stage_busy_s": bench["stage_busy_s"],
        "backend": bench.get("backend"), "threads": bench.get("threads"),
        "speedup_vs_st_fp16": speedup, "reference": ref,
        "gpu_util_mean_pct": statistics.mean(util) if util else None,
        "gpu_mem_peak_mib": max(mem) if mem else None,
    }
    fmt = lambda v, f: "n/a" if v is None else format(v, f)
    rows = [
        ("GPU / driver", gpu),
        ("commit, date, build", f"{commit}, {record['date']}, sm_{a.arch}, CUDA {a.toolkit}"),
        ("input", f"{record['texts']:,} real tweets ({a.distinct:,} distinct from tweeteval, repeated), "
                  f"{bench['tokens']:,} tokens"),
        ("embedpipe end to end (file -> shards), start-up excluded",
         f"{tok_s:,.0f} tokens/s, {txt_s:,.0f} texts/s (wall {wall:.2f} s - start-up {up:.2f} s; "
         f"start-up is {100 * up / wall:.1f}% of the run)"),
        ("sentence-transformers fp16 encode", "n/a" if not st else
         f"{st:,.0f} texts/s (first {ref['st_fp16_texts']:,} texts, batch {ref['st_batch_size']})"),
        ("speed-up vs sentence-transformers fp16", "n/a" if speedup is None else
         f"{speedup:.2f}x (target >= 3x: {'met' if speedup >= 3 else 'NOT met'})"),
        ("tokens/s target >= 5,000,000", "met" if tok_s >= 5e6 else "NOT met"),
        (f"min cosine embedpipe vs {ref.get('reference', 'fp32')}",
         f"{ref['min_cos_embedpipe_vs_fp32']:.6f} over {ref['rows_compared']:,} tweets (F16 weights for both)"),
        ("min cosine sentence-transformers fp16 vs fp32", fmt(ref.get("min_cos_st_fp16_vs_fp32"), ".6f")),
        ("GPU memory used (peak, nvidia-smi)", "n/a" if not mem else f"{max(mem):,} MiB"),
        ("GPU utilization (mean of 100 ms samples over the run, start-up included)",
         "n/a" if not util else f"{statistics.mean(util):.1f} %"),
        ("stage busy (s)", ", ".join(f"{k} {v:.2f}" for k, v in bench["stage_busy_s"].items())),
    ]
    table = "| measure | value |\n| --- | --- |\n" + "\n".join(f"| {k} | {v} |" for k, v in rows) + "\n"
    json.dump(record, open(a.json, "w"), indent=1)
    if a.doc and a.emulated:
        open(a.doc, "w").write("# EMULATED dry run of bench/gpu.sh: not a GPU measurement\n\n"
                               "Every step ran, but the kernels ran on the CPU emulation and the throughput on the CPU "
                               "backend. These figures must never be copied into docs/PERFORMANCE.md.\n\n" + table)
    elif a.doc:
        text = open(a.doc).read()
        begin, end = "<!-- gpu-table:begin -->", "<!-- gpu-table:end -->"
        if begin not in text or end not in text:
            sys.exit(f"{a.doc}: the GPU table markers are missing")
        body = table + f"\nMachine-readable: `docs/perf/gpu-{record['date']}.json`.\n"
        text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda m: begin + "\n" + body + end, text, flags=re.S)
        open(a.doc, "w").write(text)
    print(table)


if __name__ == "__main__":
    main()
