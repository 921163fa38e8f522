#!/usr/bin/env bash
# compare-neighbours.sh - `embedpipe related` and `embedpipe cluster` against faiss-cpu on the
# same vectors, the same machine, the same number of threads, in one run.
#
#   bench/compare-neighbours.sh [--threads N] [--k K] [--clusters C] [--iterations I]
#                               [--build DIR] [--venv DIR] [--data DIR] [--folder DIR]
#                               [--faiss-as-installed]
#
# 1. embeds every line of ../shared/data/tweeteval/*_text.txt (105,170 tweets) once into
#    --folder (default ~/.cache/embedpipe/bench-neighbours/tweets; a second run finds it
#    complete and reuses it);
# 2. installs faiss-cpu, numpy and zstandard from PyPI into a private virtual environment
#    outside the repository ($EMBEDPIPE_BENCH_VENV, default ~/.cache/embedpipe/bench-venv);
# 3. times `embedpipe related DIR -k K --precision fp32` and `--precision bf16` (the whole
#    command: reading and checking the shards, the product, writing the files) against faiss
#    IndexFlatIP.search of every row against every row (k + 1, the row itself then dropped; the
#    index built beforehand, untimed); recall@K of embedpipe against faiss's answer, which is the
#    exact float32 one;
# 4. times `embedpipe cluster DIR -k C --iterations I` (the whole command: reading, k-means,
#    the report, writing) against faiss.Kmeans(spherical=True, niter=I, all rows used for
#    training, max_points_per_centroid raised) train + the final assignment (index.search);
#    the inertia of both, sum(2 - 2 cos(row, nearest centroid)), computed the same way in
#    numpy from each one's centroids;
# 5. prints wall and CPU seconds (user + system: the fairer measure on a machine shared with
#    other jobs) and peak RSS of every measured process (GNU time, getrusage; each system is
#    its own process), with the load average at each step.
# faiss-cpu's wheel bundles OpenBLAS 0.3.15, which does not know recent CPUs: on the Xeon of
# docs/PERFORMANCE.md it runs its SSE3 sgemm_kernel_PRESCOTT (perf shows it). faiss is therefore run
# with OPENBLAS_CORETYPE=SkylakeX (Haswell without AVX-512): its best on this machine; with
# --faiss-as-installed also without it, last (slow).
# Threads: OMP_NUM_THREADS / faiss.omp_set_num_threads and embedpipe --threads are all N.
# Nothing of faiss's enters the repository.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
THREADS=2
K=10
CLUSTERS=200
ITERATIONS=20
BUILD="$ROOT/build"
VENV="${EMBEDPIPE_BENCH_VENV:-$HOME/.cache/embedpipe/bench-venv}"
DATA="$ROOT/../shared/data"
FOLDER="$HOME/.cache/embedpipe/bench-neighbours/tweets"
MODEL="$ROOT/models/all-MiniLM-L6-v2"
AS_INSTALLED=""

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) THREADS=$2; shift ;;
    --k) K=$2; shift ;;
    --clusters) CLUSTERS=$2; shift ;;
    --iterations) ITERATIONS=$2; shift ;;
    --build) BUILD=$2; shift ;;
    --venv) VENV=$2; shift ;;
    --data) DATA=$2; shift ;;
    --folder) FOLDER=$2; shift ;;
    --faiss-as-installed) AS_INSTALLED=--faiss-as-installed ;;
    -h|--help) usage; exit 0 ;;
    *) echo "compare-neighbours.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if [ ! -d "$DATA/tweeteval" ]; then
  echo "compare-neighbours.sh: $DATA/tweeteval not found; the shared data is not beside this checkout" >&2
  exit 0
fi
DATA=$(cd "$DATA" && pwd -P)  # the run records its inputs' paths: the same spelling every time
EP="$BUILD/embedpipe"
[ -x "$EP" ] || { echo "compare-neighbours.sh: build embedpipe first ($EP)" >&2; exit 1; }
if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
"$VENV/bin/python" -c "import faiss, numpy, zstandard" 2>/dev/null ||
  "$VENV/bin/pip" install -q faiss-cpu numpy zstandard

mkdir -p "$(dirname "$FOLDER")"
echo "== embedding $DATA/tweeteval/*_text.txt into $FOLDER (once)" >&2
"$EP" embed "$DATA/tweeteval" --glob '*_text.txt' -o "$FOLDER" -m "$MODEL" -d cpu -t "$THREADS" -q

export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS
exec "$VENV/bin/python" "$ROOT/bench/compare_neighbours.py" --embedpipe "$EP" --folder "$FOLDER" \
  --threads "$THREADS" --k "$K" --clusters "$CLUSTERS" --iterations "$ITERATIONS" $AS_INSTALLED
