"""compare_map.py - the umap-learn half of bench/compare-map.sh: fits umap-learn on the rows of an
embedpipe folder with embedpipe's exact neighbour table, and compares time, trustworthiness and
neighbourhood preservation with the layouts of `embedpipe map` (--layout, one per start). Prints a
Markdown table."""
import argparse
import io
import json
import os
import platform
import resource
import time

import numpy as np
import zstandard


def load(path):
    with open(path, "rb") as f:
        return np.load(io.BytesIO(zstandard.ZstdDecompressor().stream_reader(f).read()))


ap = argparse.ArgumentParser()
ap.add_argument("folder")
ap.add_argument("--neighbours", type=int, default=15)
ap.add_argument("--epochs", type=int, default=200)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--layout", action="append", required=True,
                help="NAME=PATH,SECONDS,RSS_KB: an embedpipe layout (map-xy.npy.zst) and its command's time and memory")
ap.add_argument("--quick", action="store_true", help="fit umap-learn once (its first fit, numba compiling)")
args = ap.parse_args()

t_start = time.perf_counter()
m = json.load(open(os.path.join(args.folder, "manifest.json")))
x = np.concatenate([load(os.path.join(args.folder, s["file"])) for s in m["shards"]]).astype(np.float32)
n = x.shape[0]
k = args.neighbours - 1
rows = load(os.path.join(args.folder, "related-rows.npy.zst"))[:, :k]
scores = load(os.path.join(args.folder, "related-scores.npy.zst"))[:, :k]
# umap-learn counts the row itself as its first neighbour, at distance 0
knn_i = np.concatenate([np.arange(n, dtype=np.int32)[:, None], rows], axis=1)
knn_d = np.concatenate([np.zeros((n, 1), np.float32), np.maximum(0.0, 1.0 - scores)], axis=1).astype(np.float32)
ours = []
for spec in args.layout:
    name, rest = spec.split("=", 1)
    path, seconds, rss_kb = rest.rsplit(",", 2)
    ours.append((name, load(path), float(seconds), int(rss_kb)))
t_load = time.perf_counter() - t_start

import umap  # noqa: E402  (imported after loading: its import time is counted below)
import sklearn  # noqa: E402
from sklearn.manifold import trustworthiness  # noqa: E402
from sklearn.neighbors import NearestNeighbors  # noqa: E402


def fit():
    t0 = time.perf_counter()
    reducer = umap.UMAP(n_neighbors=args.neighbours, n_components=2, metric="cosine", min_dist=0.1, spread=1.0,
                        n_epochs=args.epochs, precomputed_knn=(knn_i, knn_d, None), n_jobs=args.threads)
    y = reducer.fit_transform(x)
    return y, time.perf_counter() - t0


def preserved(y, kk=10):
    """Neighbourhood preservation: the share of each row's kk nearest rows by cosine (the exact table's
    first kk columns) that are among its kk nearest on the map, averaged over the rows."""
    nn = NearestNeighbors(n_neighbors=kk).fit(y).kneighbors(return_distance=False)
    return float(np.mean([len(set(a) & set(b)) for a, b in zip(rows[:, :kk].tolist(), nn.tolist())])) / kk


cold, t_cold = fit()   # numba compiles umap-learn's functions on this first call
warm, t_warm = (None, None) if args.quick else fit()   # compiled: the optimisation alone
t0 = time.perf_counter()
quality = {}
for name, y, _, _ in ours:
    quality[name] = (trustworthiness(x, y, n_neighbors=10), preserved(y))
quality["cold"] = (trustworthiness(x, cold, n_neighbors=10), preserved(cold))
if warm is not None:
    quality["warm"] = (trustworthiness(x, warm, n_neighbors=10), preserved(warm))
t_tw = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

cpu = "unknown"
try:
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
except OSError:
    pass
print()
print(f"rows: {n:,} tweets (dim {x.shape[1]}), {args.neighbours} neighbours (the row itself counted), "
      f"{args.epochs} epochs, {args.threads} threads; CPU: {cpu}, {os.cpu_count()} logical cores, load average "
      f"{os.getloadavg()[0]:.1f}; umap-learn {umap.__version__}, scikit-learn {sklearn.__version__}, "
      f"Python {platform.python_version()}")
print()
print("| layout | seconds | x faster than umap-learn (first fit / second fit) | trustworthiness (k=10) | "
      "10-NN preserved | peak RSS |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
for name, _, seconds, rss_kb in ours:
    tw, pres = quality[name]
    warm_ratio = f"{t_warm / seconds:.1f}" if warm is not None else "-"
    print(f"| {name} | {seconds:.2f} | {t_cold / seconds:.1f} / {warm_ratio} | {tw:.4f} | {pres:.4f} | "
          f"{rss_kb / 1024:.0f} MiB |")
print(f"| umap-learn, first fit in a fresh process (numba compiles) | {t_cold:.2f} | | {quality['cold'][0]:.4f} | "
      f"{quality['cold'][1]:.4f} | |")
if warm is not None:
    print(f"| umap-learn, second fit (compiled) | {t_warm:.2f} | | {quality['warm'][0]:.4f} | {quality['warm'][1]:.4f} | "
          f"{rss / 1024:.0f} MiB (the Python process) |")
print()
for name, _, seconds, _ in ours:
    delta = quality[name][0] - quality["cold"][0]
    print(f"{name}: trustworthiness - umap-learn's = {delta:+.4f} "
          f"({'within' if abs(delta) <= 0.01 or delta > 0 else 'NOT within'} 0.01 or better); speed: "
          f"{t_cold / seconds:.1f}x against umap-learn's first fit"
          + (f", {t_warm / seconds:.1f}x against its second" if warm is not None else ""))
print(f"(loading {t_load:.1f} s, quality measures {t_tw:.0f} s, untimed)")
