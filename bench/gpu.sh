#!/usr/bin/env bash
# bench/gpu.sh - on a machine with an NVIDIA GPU, in one command:
#   1. build embedpipe with CUDA (Release, for this GPU's architecture) in build-gpu/
#   2. run the real-GPU tests (ctest -L gpu); a skip counts as a failure here
#   3. check correctness on real tweets: embedpipe (CUDA) and sentence-transformers fp16,
#      each against sentence-transformers fp32 (min cosine; needs torch + sentence-transformers)
#   4. measure end to end (tweets file -> shards on disk) with `embedpipe bench --keep`, and
#      sentence-transformers fp16 `encode` on the same texts in the same run
#   5. write the table to docs/PERFORMANCE.md (GPU section) - only ever from such a real run
#
# Usage: bench/gpu.sh MODEL_DIR [--repeat N] [--no-build] [--python PY] [--device cuda:N]
#   MODEL_DIR   a sentence-transformers folder (e.g. models/all-MiniLM-L6-v2)
#   --repeat N  the tweets corpus (../shared/data/tweeteval/*.txt, ~105k lines) N times over [4]
#   --python    interpreter with torch + sentence-transformers [$PYTHON, then
#               /root/.cache/embedpipe/ref-venv/bin/python, then python3]
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
MODEL=""
REPEAT=4
BUILD=1
DEVICE=cuda
PY=${PYTHON:-}
while [ $# -gt 0 ]; do
  case "$1" in
    --repeat) REPEAT=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --python) PY=$2; shift 2 ;;
    --device) DEVICE=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    -*) echo "gpu.sh: unknown option $1" >&2; exit 2 ;;
    *) MODEL=$1; shift ;;
  esac
done
[ -n "$MODEL" ] || { echo "usage: bench/gpu.sh MODEL_DIR [--repeat N] [--no-build] [--python PY]" >&2; exit 2; }
MODEL=$(cd "$MODEL" && pwd)
command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1 || {
  echo "gpu.sh: no NVIDIA GPU here (nvidia-smi finds none); nothing is measured or written" >&2; exit 77; }
if [ -z "$PY" ]; then
  if [ -x /root/.cache/embedpipe/ref-venv/bin/python ]; then PY=/root/.cache/embedpipe/ref-venv/bin/python; else PY=python3; fi
fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

BUILD_DIR=$ROOT/build-gpu
CLI=$BUILD_DIR/embedpipe
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"; [ -n "${SMI_PID:-}" ] && kill "$SMI_PID" 2>/dev/null || true' EXIT

# ---------------------------------------------------------------------------- 1. build
CC_CAP=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d '. ')
if [ "$BUILD" = 1 ]; then
  echo "== build (CUDA architecture ${CC_CAP:-default})"
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DEMBEDPIPE_CUDA=ON \
    ${CC_CAP:+-DCMAKE_CUDA_ARCHITECTURES=$CC_CAP} >/dev/null
  ninja -C "$BUILD_DIR"
fi

# ---------------------------------------------------------------------------- 2. GPU tests
echo "== real-GPU tests (ctest -L gpu)"
(cd "$BUILD_DIR" && ctest -L gpu --output-on-failure | tee "$WORK/ctest.log")
if grep -q "Skipped\|Not Run" "$WORK/ctest.log"; then
  echo "gpu.sh: a GPU test was skipped on a machine with a GPU: see above" >&2; exit 1
fi

# ---------------------------------------------------------------------------- inputs
DATA=$ROOT/../shared/data/tweeteval
[ -d "$DATA" ] || { echo "gpu.sh: $DATA not found (the shared real-tweet data)" >&2; exit 1; }
cat "$DATA"/*_text.txt | grep -v '^[[:space:]]*$' > "$WORK/tweets.txt"
head -n 2000 "$WORK/tweets.txt" > "$WORK/sample.txt"
for _ in $(seq "$REPEAT"); do cat "$WORK/tweets.txt"; done > "$WORK/bench.txt"
N_BENCH=$(wc -l < "$WORK/bench.txt")
echo "== inputs: $(wc -l < "$WORK/tweets.txt") distinct tweets; benchmark on $N_BENCH lines (x$REPEAT)"

# ---------------------------------------------------------------------------- 3. correctness
echo "== correctness: embedpipe --device $DEVICE on 2000 tweets"
"$CLI" embed "$WORK/sample.txt" -o "$WORK/sample-out" -m "$MODEL" --device "$DEVICE" --format lines
"$CLI" export "$WORK/sample-out" --to ndjson -o "$WORK/sample.ndjson" -q

# ---------------------------------------------------------------------------- 4. throughput
echo "== throughput: embedpipe bench --device $DEVICE (tweets file -> shards on disk)"
nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader,nounits -lms 100 > "$WORK/smi.csv" &
SMI_PID=$!
sleep 0.5
"$CLI" bench "$WORK/bench.txt" -m "$MODEL" --device "$DEVICE" --format lines --keep "$WORK/bench-out" --json \
  > "$WORK/bench.json"
kill "$SMI_PID" 2>/dev/null || true
SMI_PID=
cat "$WORK/bench.json"

echo "== sentence-transformers fp32 reference and fp16 baseline (same texts, same run)"
set +e
"$PY" "$ROOT/bench/gpu_reference.py" --model "$MODEL" --sample "$WORK/sample.txt" \
  --embedpipe-ndjson "$WORK/sample.ndjson" --bench-texts "$WORK/bench.txt" --out "$WORK/reference.json"
REF_RC=$?
set -e
if [ $REF_RC -ne 0 ] && [ $REF_RC -ne 1 ]; then
  echo "gpu.sh: the sentence-transformers reference could not run (rc $REF_RC); the table is not written" >&2
  exit 1
fi

# ---------------------------------------------------------------------------- 5. the table
"$PY" - "$ROOT/docs/PERFORMANCE.md" "$WORK/bench.json" "$WORK/reference.json" "$WORK/smi.csv" "$N_BENCH" <<'EOF'
import datetime, json, re, subprocess, sys
doc, bench_path, ref_path, smi_path, n_bench = sys.argv[1:6]
bench, ref = json.load(open(bench_path)), json.load(open(ref_path))
util, mem = [], []
for line in open(smi_path):
    parts = [p.strip() for p in line.split(",")]
    if len(parts) == 2 and parts[0].isdigit():
        util.append(int(parts[0])); mem.append(int(parts[1]))
def q(cmd):
    try: return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    except Exception: return "?"
gpu = q(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"]).splitlines()[0]
commit = q(["git", "-C", doc.rsplit("/docs/", 1)[0], "rev-parse", "--short", "HEAD"])
tok_s, txt_s = bench["tokens_per_s"], bench["records_per_s"]
speedup = txt_s / ref["st_fp16_texts_per_s"]
idle = 100.0 - sum(util) / len(util) if util else float("nan")
rows = [
    ("GPU / driver", gpu),
    ("commit, date", f"{commit}, {datetime.date.today().isoformat()}"),
    ("input", f"{n_bench} real tweets (tweeteval x repeat), {bench['tokens']} tokens"),
    ("embedpipe end to end (file -> shards)", f"{tok_s:,.0f} tokens/s, {txt_s:,.0f} texts/s, wall {bench['wall_s']:.2f} s"),
    ("sentence-transformers fp16 encode", f"{ref['st_fp16_texts_per_s']:,.0f} texts/s (batch {ref['st_batch_size']})"),
    ("speed-up vs sentence-transformers fp16", f"{speedup:.2f}x (target >= 3x: {'met' if speedup >= 3 else 'NOT met'})"),
    ("tokens/s target >= 5,000,000", "met" if tok_s >= 5e6 else "NOT met"),
    ("min cosine embedpipe vs fp32 reference", f"{ref['min_cos_embedpipe_vs_fp32']:.6f} over {ref['rows_compared']} tweets"),
    ("min cosine sentence-transformers fp16 vs fp32", f"{ref['min_cos_st_fp16_vs_fp32']:.6f}"),
    ("GPU memory used (peak, nvidia-smi)", f"{max(mem) if mem else '?'} MiB"),
    ("GPU idle share during the run (100 - mean utilization.gpu, 100 ms samples, model load included)", f"{idle:.1f} %"),
    ("stage busy (s)", ", ".join(f"{k} {v:.2f}" for k, v in bench["stage_busy_s"].items())),
]
table = "| measure | value |\n| --- | --- |\n" + "\n".join(f"| {k} | {v} |" for k, v in rows) + "\n"
text = open(doc).read()
begin, end = "<!-- gpu-table:begin -->", "<!-- gpu-table:end -->"
if begin not in text or end not in text:
    sys.exit(f"{doc}: the GPU table markers are missing")
text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda m: begin + "\n" + table + end, text, flags=re.S)
open(doc, "w").write(text)
print(table)
EOF
echo "== docs/PERFORMANCE.md updated (GPU section)"
if [ $REF_RC -ne 0 ]; then echo "gpu.sh: correctness check FAILED (see above)" >&2; exit 1; fi
