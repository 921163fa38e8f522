#!/usr/bin/env bash
# compare-map.sh - `embedpipe map` (UMAP) against umap-learn on the same vectors, the same exact
# neighbours and the same epochs, on the same machine in one run.
#
#   bench/compare-map.sh [--rows N] [--threads N] [--epochs E] [--neighbours K] [--quick]
#                        [--build DIR] [--venv DIR] [--data DIR] [--work DIR]
#
# 1. takes the first --rows (20,000) distinct non-empty lines of ../shared/data/tweeteval/*_text.txt
#    (files in name order) and embeds them once with all-MiniLM-L6-v2 into --work (default
#    ~/.cache/embedpipe/bench-map/out; a second run finds it complete and reuses it);
# 2. `embedpipe related -k K-1` once: the exact neighbour table both layouts start from;
# 3. installs umap-learn, scikit-learn, numpy and zstandard from PyPI into a private virtual
#    environment outside the repository ($EMBEDPIPE_MAP_VENV, default ~/.cache/embedpipe/map-venv);
# 4. times `embedpipe map DIR --epochs E -t N --init I` for each start I, pca (the default) and spectral
#    (the whole command: reading the table and the rows, the graph, the start, the optimisation,
#    writing map-xy.npy.zst);
# 5. times umap-learn in a fresh process (bench/compare_map.py): UMAP(n_neighbors=K, metric=cosine,
#    min_dist=0.1, n_epochs=E, precomputed_knn = embedpipe's table with each row itself first) with its
#    default spectral start, fit on the same rows: once cold (numba compiles its functions: what a
#    user's first run pays) and once more in the same process (compiled); umap-learn without
#    random_state (so it may use its parallel code on the N cores); --quick: the first fit only;
# 6. trustworthiness (scikit-learn, n_neighbors=10, Euclidean on the unit rows = cosine order) and
#    neighbourhood preservation (the share of each row's 10 nearest rows by cosine that are among its
#    10 nearest on the map) of every layout, and prints a Markdown table for docs/PERFORMANCE.md.
# Nothing of umap-learn's enters the repository.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROWS=20000
THREADS=2
EPOCHS=200
NEIGHBOURS=15
QUICK=()
BUILD="$ROOT/build"
VENV="${EMBEDPIPE_MAP_VENV:-$HOME/.cache/embedpipe/map-venv}"
DATA="$ROOT/../shared/data"
WORK="$HOME/.cache/embedpipe/bench-map"
MODEL="$ROOT/models/all-MiniLM-L6-v2"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) ROWS=$2; shift ;;
    --threads) THREADS=$2; shift ;;
    --epochs) EPOCHS=$2; shift ;;
    --neighbours) NEIGHBOURS=$2; shift ;;
    --quick) QUICK=(--quick) ;;
    --build) BUILD=$2; shift ;;
    --venv) VENV=$2; shift ;;
    --data) DATA=$2; shift ;;
    --work) WORK=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "compare-map.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
EP="$BUILD/embedpipe"
[ -x "$EP" ] || { echo "compare-map.sh: build embedpipe first ($EP is missing)" >&2; exit 1; }
[ -d "$DATA/tweeteval" ] || { echo "compare-map.sh: $DATA/tweeteval not found" >&2; exit 1; }
mkdir -p "$WORK"
INPUT="$WORK/tweets-$ROWS.txt"
OUT="$WORK/out"
[ "$ROWS" = 20000 ] || OUT="$WORK/out-$ROWS"

if [ ! -s "$INPUT" ]; then
  python3 - "$DATA/tweeteval" "$ROWS" "$INPUT" <<'PY'
import os, sys
src, rows, dst = sys.argv[1], int(sys.argv[2]), sys.argv[3]
seen, out = set(), []
for name in sorted(os.listdir(src)):
    if not name.endswith("_text.txt"):
        continue
    for line in open(os.path.join(src, name), encoding="utf-8"):
        line = line.rstrip("\n")
        if line.strip() and line not in seen and len(out) < rows:
            seen.add(line)
            out.append(line)
with open(dst, "w", encoding="utf-8") as f:
    f.write("\n".join(out) + "\n")
print(f"{len(out)} tweets -> {dst}", file=sys.stderr)
PY
fi
if ! grep -q '"complete":[[:space:]]*true' "$OUT/manifest.json" 2>/dev/null; then
  echo "==> embedding $ROWS tweets into $OUT (once)" >&2
  "$EP" embed "$INPUT" -o "$OUT" -m "$MODEL" -q -t "$THREADS"
fi
K=$((NEIGHBOURS - 1))
echo "==> embedpipe related -k $K" >&2
"$EP" related "$OUT" -k "$K" -t "$THREADS"

if ! "$VENV/bin/python" -c 'import umap, sklearn, numpy, zstandard' 2>/dev/null; then
  echo "==> installing umap-learn, scikit-learn, numpy, zstandard into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check umap-learn scikit-learn numpy zstandard
fi

LAYOUTS=()
for INIT in pca spectral; do
  echo "==> embedpipe map --epochs $EPOCHS -t $THREADS --init $INIT" >&2
  rm -f "$OUT/map-xy.npy.zst" # not reused: measured from scratch
  TIMES="$WORK/embedpipe-map-$INIT.time"
  /usr/bin/time -f '%e %M' -o "$TIMES" "$EP" map "$OUT" --neighbours "$NEIGHBOURS" --epochs "$EPOCHS" -t "$THREADS" \
    --init "$INIT"
  read -r SECONDS_ RSS_ < "$TIMES"
  cp "$OUT/map-xy.npy.zst" "$WORK/map-xy-$INIT.npy.zst"
  LAYOUTS+=(--layout "embedpipe map --init $INIT (whole command)=$WORK/map-xy-$INIT.npy.zst,$SECONDS_,$RSS_")
done

echo "==> umap-learn (fresh process) and the quality measures" >&2
NUMBA_NUM_THREADS=$THREADS OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS \
  "$VENV/bin/python" "$ROOT/bench/compare_map.py" "$OUT" --neighbours "$NEIGHBOURS" --epochs "$EPOCHS" \
  --threads "$THREADS" "${LAYOUTS[@]}" "${QUICK[@]}"
