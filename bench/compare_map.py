"""compare_map.py - the umap-learn half of bench/compare-map.sh: fits umap-learn on the rows of an
embedpipe folder with embedpipe's exact neighbour table, and compares trustworthiness and time with
the layout `embedpipe map` kept (map-xy.npy.zst). Prints a Markdown table."""
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
ap.add_argument("--embedpipe-seconds", type=float, required=True)
ap.add_argument("--embedpipe-rss-kb", type=int, default=0)
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
ours = load(os.path.join(args.folder, "map-xy.npy.zst"))
t_load = time.perf_counter() - t_start

import umap  # noqa: E402  (imported after loading: its import time is counted below)
import sklearn  # noqa: E402
from sklearn.manifold import trustworthiness  # noqa: E402


def fit():
    t0 = time.perf_counter()
    reducer = umap.UMAP(n_neighbors=args.neighbours, n_components=2, metric="cosine", min_dist=0.1, spread=1.0,
                        n_epochs=args.epochs, precomputed_knn=(knn_i, knn_d, None), n_jobs=args.threads)
    y = reducer.fit_transform(x)
    return y, time.perf_counter() - t0


cold, t_cold = fit()   # numba compiles umap-learn's functions on this first call
warm, t_warm = fit()   # compiled: the optimisation alone
t0 = time.perf_counter()
tw_ours = trustworthiness(x, ours, n_neighbors=10)
tw_cold = trustworthiness(x, cold, n_neighbors=10)
tw_warm = trustworthiness(x, warm, n_neighbors=10)
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
      f"{args.epochs} epochs, {args.threads} threads; CPU: {cpu}, {os.cpu_count()} logical cores; "
      f"umap-learn {umap.__version__}, scikit-learn {sklearn.__version__}, Python {platform.python_version()}")
print()
print("| layout | seconds | x faster than umap-learn (cold / warm) | trustworthiness (k=10) | peak RSS |")
print("| --- | ---: | ---: | ---: | ---: |")
print(f"| embedpipe map (whole command) | {args.embedpipe_seconds:.2f} | {t_cold / args.embedpipe_seconds:.1f} / "
      f"{t_warm / args.embedpipe_seconds:.1f} | {tw_ours:.4f} | {args.embedpipe_rss_kb / 1024:.0f} MiB |")
print(f"| umap-learn, first fit in a fresh process (numba compiles) | {t_cold:.2f} | | {tw_cold:.4f} | |")
print(f"| umap-learn, second fit (compiled) | {t_warm:.2f} | | {tw_warm:.4f} | {rss / 1024:.0f} MiB (the Python process) |")
print()
delta = tw_ours - tw_cold
print(f"trustworthiness: embedpipe - umap-learn = {delta:+.4f} ({'within' if abs(delta) <= 0.01 or delta > 0 else 'NOT within'} "
      f"0.01 or better); speed: {t_cold / args.embedpipe_seconds:.1f}x against umap-learn's first fit, "
      f"{t_warm / args.embedpipe_seconds:.1f}x against its second; (loading {t_load:.1f} s, trustworthiness {t_tw:.0f} s, untimed)")
