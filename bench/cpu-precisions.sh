#!/usr/bin/env bash
# cpu-precisions.sh - each CPU precision this machine offers, end to end, against each other:
# whether a table earns its place (issue 16: bf16 >= 1.5x fp32, int8 >= 1.5x the precision
# offered below it, on the same machine).
#
#   bench/cpu-precisions.sh [--rounds R] [--threads N] [--texts N] [--precisions LIST]
#                           [--binary PATH] [--model DIR] [FILE...]
#
# Runs `embedpipe embed FILE -o TMP --format lines -t N -q --overwrite --device cpu
# --precision P` for every P of LIST (default: fp32,bf16,int8; one this CPU does not offer is
# reported with embedpipe's reason and skipped), R rounds (default 5) with the order of the
# precisions reversed every other round, so that load from other programs falls on all of
# them alike. Per precision: the median wall time and the median CPU time (user + system of
# the whole process, from /usr/bin/time), tokens per CPU-second, and the ratio of CPU times
# to the precision before it in LIST. CPU time is the figure to read on a shared machine:
# other programs stretch the wall clock much more. Texts: the first N lines (default 10,000)
# of the FILEs (default ../shared/data/tweeteval/emotion-train_text.txt and
# hate-train_text.txt); their tokens are counted once by `embedpipe bench --device null`.
# The figures include start-up (loading and packing the model: ~0.3 s). Names the machine
# (lscpu model name, cpu family, the flags that decide the tables).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=5
THREADS=2
TEXTS=10000
PRECISIONS=fp32,bf16,int8
BIN="$ROOT/build/embedpipe"
MODEL="$ROOT/models/all-MiniLM-L6-v2"
FILES=()
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift ;;
    --threads) THREADS=$2; shift ;;
    --texts) TEXTS=$2; shift ;;
    --precisions) PRECISIONS=$2; shift ;;
    --binary) BIN=$2; shift ;;
    --model) MODEL=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "cpu-precisions.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) FILES+=("$1") ;;
  esac
  shift
done
DATA="$ROOT/../shared/data/tweeteval"
if [ ${#FILES[@]} -eq 0 ]; then
  if [ ! -d "$DATA" ]; then
    echo "SKIP: $DATA not found (the shared real-tweet data must sit beside this checkout)"
    exit 0
  fi
  FILES=("$DATA/emotion-train_text.txt" "$DATA/hate-train_text.txt")
fi
[ -x "$BIN" ] || { echo "cpu-precisions.sh: no embedpipe at $BIN (build first, or --binary)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "cpu-precisions.sh: /usr/bin/time is needed (apt-get install time)" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/embedpipe-precisions-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
awk -v n="$TEXTS" 'NR <= n' "${FILES[@]}" > "$WORK/texts.txt"
TOKENS=$("$BIN" bench "$WORK/texts.txt" --format lines --device null -m "$MODEL" --json 2>/dev/null |
         python3 -c 'import json,sys; print(json.load(sys.stdin)["tokens"])')

IFS=, read -r -a PREC <<< "$PRECISIONS"
OFFERED=()
for p in "${PREC[@]}"; do
  if "$BIN" embed "$WORK/texts.txt" -o "$WORK/probe" --format lines -t 1 -q --overwrite --device cpu \
       -m "$MODEL" --precision "$p" --max-seq-length 8 > /dev/null 2> "$WORK/probe.err" < /dev/null; then
    OFFERED+=("$p")
  else
    echo "precision $p: not offered here: $(head -c 600 "$WORK/probe.err")"
  fi
done
[ ${#OFFERED[@]} -gt 0 ] || exit 1

run_one() { # precision round
  /usr/bin/time -f "%e %U %S" -o "$WORK/time" "$BIN" embed "$WORK/texts.txt" -o "$WORK/out-$1" --format lines \
    -t "$THREADS" -q --overwrite --device cpu -m "$MODEL" --precision "$1" < /dev/null
  echo "$1 $2 $(cat "$WORK/time")" >> "$WORK/times"
}
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq 1 "$ROUNDS"); do
  order=("${OFFERED[@]}")
  if [ $((r % 2)) = 0 ]; then order=(); for ((i = ${#OFFERED[@]} - 1; i >= 0; i--)); do order+=("${OFFERED[i]}"); done; fi
  for p in "${order[@]}"; do run_one "$p" "$r"; done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

FAMILY=$(python3 -c 'import re; t=open("/proc/cpuinfo").read(); print(re.search(r"cpu family\s*:\s*(\d+)", t).group(1))')
MODEL_NAME=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
FLAGS=$(grep -m1 -o -w -E 'avx2|avx512f|avx512_vnni|avx_vnni|avx512_bf16|amx_bf16|amx_int8' /proc/cpuinfo | sort -u |
        tr '\n' ' ')
echo
echo "machine: $MODEL_NAME (cpu family $FAMILY, $(nproc) CPUs); flags: $FLAGS"
echo "$(wc -l < "$WORK/texts.txt") texts, $TOKENS tokens, $THREADS threads, $ROUNDS rounds (order reversed every other);" \
     "load average before: $LOAD_BEFORE, after: $LOAD_AFTER; binary: $BIN ($("$BIN" --version 2>/dev/null | head -1))"
python3 - "$WORK/times" "$TOKENS" "${OFFERED[@]}" <<'EOF'
import statistics, sys
path, tokens, order = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
runs = {}
for line in open(path):
    p, r, wall, user, sys_ = line.split()
    runs.setdefault(p, []).append((float(wall), float(user) + float(sys_)))
print("| precision | wall s (median) | CPU s (median) | CPU s per round | tokens per CPU-second | CPU time vs the row above |")
print("| --- | ---: | ---: | --- | ---: | ---: |")
prev = None
for p in order:
    w = statistics.median(x[0] for x in runs[p])
    c = statistics.median(x[1] for x in runs[p])
    each = ", ".join(f"{x[1]:.2f}" for x in runs[p])
    ratio = f"{prev / c:.2f}x" if prev else ""
    print(f"| {p} | {w:.2f} | {c:.2f} | {each} | {tokens / c:,.0f} | {ratio} |")
    prev = c
EOF
