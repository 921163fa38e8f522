"""compare_neighbours.py - the measuring half of bench/compare-neighbours.sh (see there)."""
import argparse
import io
import json
import os
import re
import subprocess
import sys
import time

import numpy as np
import zstandard


def load_npy_zst(path):
    with open(path, "rb") as f:
        return np.load(io.BytesIO(zstandard.ZstdDecompressor().stream_reader(f).read()))


def load_rows(folder):
    with open(os.path.join(folder, "manifest.json")) as f:
        m = json.load(f)
    return np.concatenate([load_npy_zst(os.path.join(folder, s["file"])) for s in m["shards"]]).astype(np.float32)


def timed(cmd):
    """(wall seconds, CPU seconds (user + system), peak RSS MiB) of cmd, run under GNU time as its own process."""
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M %U %S"] + cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr[-2000:]}")
    rss_kib, user, system = p.stderr.strip().splitlines()[-1].split()
    return wall, float(user) + float(system), int(rss_kib) / 1024


FAISS_CHILD = r'''
import json, resource, sys, time
def cpu():
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime
import numpy as np, faiss
sys.path.insert(0, sys.argv[1])
from compare_neighbours import load_rows
task, folder, threads, k, clusters, iterations, out = sys.argv[2:9]
threads, k, clusters, iterations = int(threads), int(k), int(clusters), int(iterations)
faiss.omp_set_num_threads(threads)
x = load_rows(folder)
n, d = x.shape
if task == "related":
    index = faiss.IndexFlatIP(d)
    index.add(x)
    t0, c0 = time.perf_counter(), cpu()
    scores, rows = index.search(x, k + 1)
    seconds, cpu_seconds = time.perf_counter() - t0, cpu() - c0
    np.save(out, np.concatenate([rows.astype(np.float64), scores.astype(np.float64)], axis=1))
else:
    km = faiss.Kmeans(d, clusters, niter=iterations, spherical=True, seed=1, verbose=False,
                      max_points_per_centroid=(n + clusters - 1) // clusters + 1)
    t0, c0 = time.perf_counter(), cpu()
    km.train(x)
    _, labels = km.index.search(x, 1)
    seconds, cpu_seconds = time.perf_counter() - t0, cpu() - c0
    np.save(out, km.centroids)
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "faiss": faiss.__version__}))
'''


def faiss_run(args, task, out, coretype=None):
    env = dict(os.environ)
    if coretype:
        env["OPENBLAS_CORETYPE"] = coretype
    p = subprocess.run([sys.executable, "-c", FAISS_CHILD, os.path.dirname(os.path.abspath(__file__)), task,
                        args.folder, str(args.threads), str(args.k), str(args.clusters), str(args.iterations), out],
                       stdout=subprocess.PIPE, text=True, check=True, env=env)
    return json.loads(p.stdout.strip().splitlines()[-1])


def inertia(x, centroids):
    best = np.full(len(x), -2.0, dtype=np.float32)
    for i in range(0, len(x), 8192):
        best[i:i + 8192] = (x[i:i + 8192] @ centroids.T).max(axis=1)
    return float(np.sum(2.0 - 2.0 * best.astype(np.float64)))


def main():
    ap = argparse.ArgumentParser()
    for a in ("--embedpipe", "--folder"):
        ap.add_argument(a, required=True)
    for a in ("--threads", "--k", "--clusters", "--iterations"):
        ap.add_argument(a, type=int, required=True)
    ap.add_argument("--faiss-as-installed", action="store_true", help="also faiss without OPENBLAS_CORETYPE")
    args = ap.parse_args()
    x = load_rows(args.folder)
    n, d = x.shape
    tmp = os.path.join(os.path.dirname(args.folder), "faiss-out.npy")
    cpu = re.search(r"model name\s*:\s*(.*)", open("/proc/cpuinfo").read()).group(1)
    print(f"{n} rows x {d} (float16 shards of {args.folder}), {args.threads} threads, {cpu}, "
          f"{os.cpu_count()} CPUs visible, load average {os.getloadavg()[0]:.2f}")

    def load_avg():  # noqa: E306
        return f"{os.getloadavg()[0]:.1f}"

    # faiss-cpu's wheel bundles OpenBLAS 0.3.15, which does not know recent CPUs and may fall back to its
    # SSE3 (Prescott) kernels; OPENBLAS_CORETYPE picks the kernels this CPU runs best. Both are measured.
    best = "SkylakeX" if "avx512f" in open("/proc/cpuinfo").read() else "Haswell"
    variants = [(f"OPENBLAS_CORETYPE={best}", best)] + ([("as installed", None)] if args.faiss_as_installed else [])

    # --- related vs IndexFlatIP (embedpipe in both precisions)
    exact = None
    faiss_related = []
    for label, core in variants:
        fr = faiss_run(args, "related", tmp, core)
        if exact is None:
            both = np.load(tmp)
            exact, exact_scores = both[:, :args.k + 1].astype(np.int64), both[:, args.k + 1:]
        faiss_related.append((label, fr))
        print(f"faiss {fr['faiss']} IndexFlatIP.search, {label} (search only, index built beforehand): wall "
              f"{fr['seconds']:.1f} s, CPU {fr['cpu_seconds']:.1f} s, process peak RSS {fr['rss_mib']:.0f} MiB "
              f"(load {load_avg()})", flush=True)
        if core is not None:
            break  # the as-installed run, much slower, comes last
    for precision in ("fp32", "bf16"):
        wall, cpu_s, rss = timed([args.embedpipe, "related", args.folder, "-k", str(args.k), "-t", str(args.threads),
                                  "--precision", precision])
        ours = load_npy_zst(os.path.join(args.folder, "related-rows.npy.zst"))
        ours_scores = load_npy_zst(os.path.join(args.folder, "related-scores.npy.zst"))
        hits = tie_hits = 0
        for i in range(n):
            keep = [e for e in range(args.k + 1) if exact[i, e] != i][:args.k]  # the row itself left out, as ours
            hits += len(set(exact[i, keep].tolist()) & set(ours[i].tolist()))
            # Tweets repeat: a tie at the k-th score may be broken either way. A neighbour scoring at least the
            # exact k-th score (to float rounding) is a right answer; embedpipe's scores are exact float32 ones.
            kth = exact_scores[i, keep].min()
            tie_hits += min(args.k, int(np.sum(ours_scores[i] >= kth - 1e-5)))
        recall, tie_recall = hits / (n * args.k), tie_hits / (n * args.k)
        label, fr = faiss_related[0]
        print(f"embedpipe related -k {args.k} --precision {precision} (whole command): wall {wall:.1f} s, CPU "
              f"{cpu_s:.1f} s, peak RSS {rss:.0f} MiB, recall@{args.k} {recall:.4f} (ties at the k-th score counted "
              f"as right: {tie_recall:.4f}) | faiss ({label})/embedpipe: "
              f"wall {fr['seconds'] / wall:.2f}x, CPU {fr['cpu_seconds'] / cpu_s:.2f}x (load {load_avg()})", flush=True)

    # --- cluster vs faiss.Kmeans
    wall, cpu_s, rss = timed([args.embedpipe, "cluster", args.folder, "-k", str(args.clusters), "--iterations",
                              str(args.iterations), "-t", str(args.threads), "--show", "0"])
    ran = json.load(open(os.path.join(args.folder, "cluster-report.json")))["iterations"]
    ours_inertia = inertia(x, load_npy_zst(os.path.join(args.folder, "cluster-centroids.npy.zst")))
    print(f"embedpipe cluster -k {args.clusters} --iterations {args.iterations} (ran {ran}; whole command): wall "
          f"{wall:.1f} s, CPU {cpu_s:.1f} s, peak RSS {rss:.0f} MiB, inertia {ours_inertia:.1f} (load {load_avg()})",
          flush=True)
    for label, core in variants:
        fk = faiss_run(args, "cluster", tmp, core)
        faiss_inertia = inertia(x, np.load(tmp))
        print(f"faiss Kmeans -k {args.clusters} niter {args.iterations} spherical, {label}, train + assign: wall "
              f"{fk['seconds']:.1f} s, CPU {fk['cpu_seconds']:.1f} s, process peak RSS {fk['rss_mib']:.0f} MiB, "
              f"inertia {faiss_inertia:.1f} (embedpipe {100 * (ours_inertia / faiss_inertia - 1):+.2f}%) | "
              f"faiss/embedpipe: wall {fk['seconds'] / wall:.2f}x, CPU {fk['cpu_seconds'] / cpu_s:.2f}x "
              f"(load {load_avg()})", flush=True)

    # --- last: faiss related as installed (slow where its OpenBLAS falls back to SSE3 kernels)
    for label, core in variants:
        if core is None:
            fr = faiss_run(args, "related", tmp, None)  # noqa: F841 (timing only)
            print(f"faiss {fr['faiss']} IndexFlatIP.search, {label} (search only): wall {fr['seconds']:.1f} s, CPU "
                  f"{fr['cpu_seconds']:.1f} s, process peak RSS {fr['rss_mib']:.0f} MiB (load {load_avg()})",
                  flush=True)
    os.unlink(tmp)


if __name__ == "__main__":
    main()
