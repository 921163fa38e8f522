#!/usr/bin/env bash
# map-browser.sh - the page of `embedpipe map --html` at a million points, measured in a real browser.
#
#   bench/map-browser.sh [--rows N] [--clusters K] [--threads N] [--build DIR] [--data DIR] [--work DIR]
#                        [--page-only]
#
# 1. writes --rows (1,000,000) lines into --work (default ~/.cache/embedpipe/bench-map-1m): line i is
#    tweet i mod T of ../shared/data/tweeteval/*_text.txt (files in name order, T about 105,000) with two
#    words from a fixed list appended (from a hash of i), so that no two rows are the same vector;
# 2. embeds them through the real pipeline and writer with a tiny random-weight model
#    (scripts/make-tiny-model.py: 2 layers, hidden 32, all-MiniLM-L6-v2's vocabulary when models/ has it):
#    the page does not care which model made the rows, and this takes minutes, not hours;
# 3. `embedpipe cluster -k K` (30) for the colours, labels and legend, then
#    `embedpipe map --method pca --html` (the kept texts cut to 200 characters, as by default);
# 4. bench/map_browser.py opens the page in Debian's chromium (headless, software rendering) through
#    the DevTools protocol and prints the page's size, the time to its first drawn map and the frame
#    times while panning and zooming with real input events.
# Steps 1-3 are skipped when their results are there (--page-only: only step 4 on the page made before).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROWS=1000000
CLUSTERS=30
THREADS=2
BUILD="$ROOT/build"
DATA="$ROOT/../shared/data"
WORK="$HOME/.cache/embedpipe/bench-map-1m"
PAGE_ONLY=0

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) ROWS=$2; shift ;;
    --clusters) CLUSTERS=$2; shift ;;
    --threads) THREADS=$2; shift ;;
    --build) BUILD=$2; shift ;;
    --data) DATA=$2; shift ;;
    --work) WORK=$2; shift ;;
    --page-only) PAGE_ONLY=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "map-browser.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
EP="$BUILD/embedpipe"
PAGE="$WORK/map-$ROWS.html"
command -v chromium >/dev/null 2>&1 || { echo "map-browser.sh: chromium not found (apt-get install chromium)" >&2; exit 1; }
mkdir -p "$WORK"

if [ "$PAGE_ONLY" = 0 ]; then
  [ -x "$EP" ] || { echo "map-browser.sh: build embedpipe first ($EP is missing)" >&2; exit 1; }
  [ -d "$DATA/tweeteval" ] || { echo "map-browser.sh: $DATA/tweeteval not found" >&2; exit 1; }
  INPUT="$WORK/lines-$ROWS.txt"
  OUT="$WORK/out-$ROWS"
  MODEL="$WORK/model"
  if [ ! -s "$INPUT" ]; then
    python3 - "$DATA/tweeteval" "$ROWS" "$INPUT" <<'PY'
import os, sys
src, rows, dst = sys.argv[1], int(sys.argv[2]), sys.argv[3]
tweets = []
for name in sorted(os.listdir(src)):
    if name.endswith("_text.txt"):
        with open(os.path.join(src, name), encoding="utf-8") as f:
            tweets += [line.rstrip("\n") for line in f if line.strip()]
words = ("the a of to and in is it for on with this that was are be at by not you have from or one "
         "bike rain coffee bread garden city train night job").split()
with open(dst, "w", encoding="utf-8") as f:
    for i in range(rows):
        h = (i * 2654435761) & 0xFFFFFFFF
        f.write(f"{tweets[i % len(tweets)]} {words[h % len(words)]} {words[(h >> 8) % len(words)]}\n")
print(f"{rows} lines from {len(tweets)} tweets -> {dst}", file=sys.stderr)
PY
  fi
  if [ ! -f "$MODEL/config.json" ]; then
    VOCAB=()
    [ -f "$ROOT/models/all-MiniLM-L6-v2/vocab.txt" ] && VOCAB=(--vocab "$ROOT/models/all-MiniLM-L6-v2/vocab.txt")
    python3 "$ROOT/scripts/make-tiny-model.py" --out "$MODEL" --hidden 32 --layers 2 --heads 2 --intermediate 64 \
      --max-seq-length 64 --seed 7 "${VOCAB[@]}" >/dev/null
  fi
  if ! grep -q '"complete":[[:space:]]*true' "$OUT/manifest.json" 2>/dev/null; then
    echo "==> embedding $ROWS lines into $OUT with the tiny model" >&2
    /usr/bin/time -f 'embed: %e s, peak RSS %M KB' "$EP" embed "$INPUT" -o "$OUT" -m "$MODEL" --device cpu -q \
      -t "$THREADS" --overwrite
  fi
  if [ ! -f "$OUT/cluster-labels.npy.zst" ]; then
    echo "==> embedpipe cluster -k $CLUSTERS" >&2
    /usr/bin/time -f 'cluster: %e s, peak RSS %M KB' "$EP" cluster "$OUT" -k "$CLUSTERS" -t "$THREADS" --show 3
  fi
  echo "==> embedpipe map --method pca --html" >&2
  /usr/bin/time -f 'map --html: %e s, peak RSS %M KB' "$EP" map "$OUT" --method pca -t "$THREADS" --html "$PAGE"
fi
[ -f "$PAGE" ] || { echo "map-browser.sh: $PAGE not found (run without --page-only first)" >&2; exit 1; }
echo "==> chromium: $PAGE" >&2
python3 "$ROOT/bench/map_browser.py" "$PAGE" --json "$WORK/map-$ROWS-browser.json"
