#!/usr/bin/env bash
# compare-cpu.sh - embedpipe against the CPU tools a user would pick instead, on the same
# real tweets, the same machine, the same number of threads, in one run.
#
#   bench/compare-cpu.sh [--quick] [--threads N] [--runs R] [--isa LEVEL[,LEVEL]...] [--llama-cpp DIR]
#                        [--no-doc] [--build DIR] [--venv DIR] [--data DIR] [--model DIR]
#
# Systems: embedpipe (every CPU precision this machine offers: fp32, bf16, int8), sentence-transformers on
# PyTorch (default batch size 32, and the best of a batch-size sweep), ONNX Runtime through
# sentence-transformers' ONNX backend (fp32, all graph optimisations on) and its dynamic int8
# quantisation (export_dynamic_quantized_onnx_model), and llama.cpp's llama-embedding on
# F32 and F16 GGUF conversions when --llama-cpp points at a llama.cpp source or build folder.
# Texts: 20,000 lines spread over ../shared/data/tweeteval/*.txt plus the 2,045 tweets of
# ../shared/data/twitter-export/tweets.js (--quick: 1,000 + 200, one run, no sweep).
# Every system runs as its own process, R times (default 3), the rounds interleaved so that
# load from other programs falls on all of them alike; timings are medians. Start-up time is
# the median wall time of the same command on one text; throughput is texts / (wall time -
# start-up). Accuracy is the min / mean cosine against sentence-transformers fp32 (the first
# run of the batch-32 row). Also measured: the fp32 GEMM ceiling (bench/gemm-ceiling, same
# threads) and single-thread tokenisation against Hugging Face tokenizers (identical ids are
# checked with a checksum). The table goes to the "## CPU" section of docs/PERFORMANCE.md
# (unless --no-doc) and is printed last.
#
# --isa LEVEL[,LEVEL]: embedpipe runs once per level with EMBEDPIPE_CPU_ISA=LEVEL (generic, avx2,
# avx512, avx512-vnni, avx512-bf16, or native: no cap), every precision offered at that level, so
# that one machine measures what CPUs with fewer instructions would get; the report has one table
# per level (embedpipe's rows at that level beside the peers, which run once), each naming the
# level and the CPU's flags. A level above this CPU's is reported and skipped.
#
# Peers are installed into a private virtual environment outside the repository
# ($EMBEDPIPE_BENCH_VENV, default ~/.cache/embedpipe/bench-venv) from PyPI; their ONNX
# exports go to ~/.cache/embedpipe/bench-models. Nothing of theirs enters the repository.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
THREADS=2
RUNS=3
QUICK=0
LLAMA=""
ISAS="native"
WRITE_DOC=1
BUILD="$ROOT/build-bench"
VENV="${EMBEDPIPE_BENCH_VENV:-$HOME/.cache/embedpipe/bench-venv}"
CACHE="$HOME/.cache/embedpipe"
DATA="$ROOT/../shared/data"
MODEL="$ROOT/models/all-MiniLM-L6-v2"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --threads) THREADS=$2; shift ;;
    --runs) RUNS=$2; shift ;;
    --llama-cpp) LLAMA=$(cd "$2" && pwd); shift ;;
    --isa) ISAS=$2; shift ;;
    --no-doc) WRITE_DOC=0 ;;
    --build) BUILD=$2; shift ;;
    --venv) VENV=$2; shift ;;
    --data) DATA=$2; shift ;;
    --model) MODEL=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "compare-cpu.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
N_TWEETEVAL=20000; N_TWEETS_JS=100000; SWEEP=1
if [ "$QUICK" = 1 ]; then N_TWEETEVAL=1000; N_TWEETS_JS=200; RUNS=1; SWEEP=0; fi

log() { printf '[compare-cpu %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

if [ ! -d "$DATA/tweeteval" ]; then
  echo "SKIP: $DATA/tweeteval not found: the shared real-tweet data must sit beside this checkout (../shared/data)"
  exit 0
fi
[ -f "$DATA/twitter-export/tweets.js" ] || { log "note: $DATA/twitter-export/tweets.js is absent; tweeteval only"; N_TWEETS_JS=0; }
[ -f "$MODEL/model.safetensors" ] || die "no model in $MODEL: run scripts/fetch-model.sh first"
command -v cmake >/dev/null && command -v ninja >/dev/null || die "cmake and ninja are needed (scripts/deps.sh)"
[ -x /usr/bin/time ] || die "/usr/bin/time is needed for peak RSS (apt-get install time)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/embedpipe-compare-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS
T_BEGIN=$(date +%s)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# --- build embedpipe (CPU only: the comparison does not need CUDA)
log "building embedpipe in $BUILD"
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DEMBEDPIPE_CUDA=OFF -DBUILD_TESTING=OFF >"$WORK/cmake.log" 2>&1 \
  || { cat "$WORK/cmake.log" >&2; die "cmake failed"; }
ninja -C "$BUILD" embedpipe_cli gemm-ceiling tokenizer-bench >"$WORK/ninja.log" 2>&1 \
  || { tail -30 "$WORK/ninja.log" >&2; die "build failed"; }
EP="$BUILD/embedpipe"

# --- the peers' private environment
PY="$VENV/bin/python"
if ! "$PY" -c 'import sentence_transformers, onnxruntime, optimum.onnxruntime, onnx, zstandard, numpy' 2>/dev/null; then
  log "installing sentence-transformers, onnxruntime, optimum-onnx into $VENV (PyPI; a few minutes)"
  python3 -m venv "$VENV"
  "$PY" -m pip install --disable-pip-version-check -q sentence-transformers onnxruntime optimum-onnx onnx zstandard numpy \
    || die "pip install failed"
fi
CMP="$PY $ROOT/bench/compare_cpu.py"

# --- texts and models
log "preparing texts"
$CMP prepare --data "$DATA" --model "$MODEL" --tweeteval "$N_TWEETEVAL" --tweets-js "$N_TWEETS_JS" \
  --out "$WORK/texts.ndjson" --one "$WORK/one.ndjson" --lines "$WORK/texts.txt" --meta "$WORK/meta.json" >&2
ONNX_DIR="$CACHE/bench-models/$(basename "$MODEL")"
log "exporting the ONNX models (cached in $ONNX_DIR)"
$CMP models --model "$MODEL" --cache "$ONNX_DIR" >"$WORK/models.log" 2>&1 || { cat "$WORK/models.log" >&2; die "ONNX export failed"; }
INT8_FILE=$("$PY" -c "import json; print(json.load(open('$ONNX_DIR/bench-models.json'))['int8'])")
INT8_CFG=$("$PY" -c "import json; print(json.load(open('$ONNX_DIR/bench-models.json'))['int8_config'])")

# --- the systems: name | precision | command with @IN@ (texts) and @OUT@ (a scratch path)
SYSTEMS=()
add() { SYSTEMS+=("$1|$2|$3"); }
# embedpipe, per ISA level (EMBEDPIPE_CPU_ISA; "native": none), each precision offered at that level
IFS=, read -r -a ISA_LIST <<< "$ISAS"
for isa in "${ISA_LIST[@]}"; do
  case "$isa" in native|generic|avx2|avx512|avx512-vnni|avx512-bf16) ;; *) die "--isa: unknown level $isa" ;; esac
  env_isa=""; name="embedpipe"
  if [ "$isa" != native ]; then
    env_isa="EMBEDPIPE_CPU_ISA=$isa "; name="embedpipe [EMBEDPIPE_CPU_ISA=$isa]"
    has=$(EMBEDPIPE_CPU_ISA=$isa "$EP" info --json | "$PY" -c '
import json, sys
j = json.load(sys.stdin)["cpu"]["instructions"]
need = {"generic": True, "avx2": j["avx2_fma"], "avx512": j["avx512"], "avx512-vnni": j["avx512_vnni"],
        "avx512-bf16": j["avx512_bf16"]}
print(1 if need[sys.argv[1]] else 0)' "$isa")
    if [ "$has" != 1 ]; then log "--isa $isa: this CPU lacks those instructions: skipped"; continue; fi
  fi
  EPCMD="${env_isa}$EP embed @IN@ -o @OUT@ --format ndjson -t $THREADS --device cpu -q --overwrite"
  for prec in fp32 bf16 int8; do
    if env ${env_isa} "$EP" embed "$WORK/one.ndjson" -o "$WORK/probe" --format ndjson -t 1 --device cpu -q --overwrite \
         --precision "$prec" 2>"$WORK/probe.log"; then
      add "$name" "$prec" "$EPCMD --precision $prec"
    else
      log "embedpipe $prec not offered at level $isa: $(cat "$WORK/probe.log")"
    fi
  done
done
STCMD="$CMP embed --system st --model $MODEL --threads $THREADS --texts @IN@ --out @OUT@"
add "sentence-transformers (PyTorch)" "fp32, batch 32 (default)" "$STCMD --batch-size 32"
if [ "$SWEEP" = 1 ]; then
  log "sentence-transformers: batch-size sweep on 2,000 texts"
  head -2000 "$WORK/texts.ndjson" >"$WORK/sweep.ndjson"
  best_bs=32; best_t=1e9
  for bs in 16 32 64 128 256; do
    cmd=${STCMD//@IN@/$WORK/sweep.ndjson}; cmd=${cmd//@OUT@/$WORK/sweep-out}
    t=$($cmd --batch-size "$bs" 2>/dev/null | tail -1 | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["encode_s"])') \
      || die "sentence-transformers failed at batch size $bs: $cmd --batch-size $bs"
    log "  batch $bs: $t s"
    if "$PY" -c "import sys; sys.exit(0 if $t < $best_t else 1)"; then best_t=$t; best_bs=$bs; fi
  done
  [ "$best_bs" != 32 ] && add "sentence-transformers (PyTorch)" "fp32, batch $best_bs (best of 16-256)" "$STCMD --batch-size $best_bs"
  [ "$best_bs" = 32 ] && log "  the default batch size 32 was the best: no second row"
fi
ORTCMD="$CMP embed --system ort --model $ONNX_DIR --threads $THREADS --texts @IN@ --out @OUT@"
add "ONNX Runtime (sentence-transformers ONNX backend)" "fp32, graph optimisations on" "$ORTCMD --onnx-file onnx/model.onnx"
add "ONNX Runtime (sentence-transformers ONNX backend)" "dynamic int8 ($INT8_CFG)" "$ORTCMD --onnx-file $INT8_FILE"
if [ -n "$LLAMA" ]; then
  [ -f "$ROOT/bench/compare-llama.sh" ] || die "--llama-cpp: bench/compare-llama.sh is missing"
  # shellcheck source=/dev/null
  . "$ROOT/bench/compare-llama.sh"
fi

# --- runs, interleaved: round r runs every system once, then the GEMM ceiling
RESULTS="$WORK/results.ndjson"; : >"$RESULTS"
run_one() { # system index, input file, tag; sets RUN_WALL, RUN_RSS and RUN_CPU (user + sys)
  local spec=${SYSTEMS[$1]} cmd out
  cmd=${spec##*|}
  out="$WORK/out-$1-$3"
  cmd=${cmd//@IN@/$2}; cmd=${cmd//@OUT@/$out}
  rm -rf "$out" "$out.npy"
  /usr/bin/time -f "%e %M %U %S" -o "$WORK/time" bash -c "$cmd" >"$WORK/run.log" 2>&1 || { cat "$WORK/run.log" >&2; die "failed: $cmd"; }
  read -r RUN_WALL RUN_RSS user sys <"$WORK/time"
  RUN_CPU=$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')
}
declare -A WALL STARTUP RSS CPU CPU_UP
CEILING=()
for r in $(seq 1 "$RUNS"); do
  for i in "${!SYSTEMS[@]}"; do
    spec=${SYSTEMS[$i]}; rest=${spec#*|}
    log "round $r/$RUNS: ${spec%%|*}, ${rest%%|*}"
    run_one "$i" "$WORK/one.ndjson" one
    STARTUP[$i]+="$RUN_WALL "; up=$RUN_WALL; CPU_UP[$i]+="$RUN_CPU "
    run_one "$i" "$WORK/texts.ndjson" "r$r"
    WALL[$i]+="$RUN_WALL "; RSS[$i]+="$RUN_RSS "; CPU[$i]+="$RUN_CPU "
    log "  $RUN_WALL s, start-up $up s"
    if [ "$r" -gt 1 ]; then rm -rf "$WORK/out-$i-r$r" "$WORK/out-$i-r$r.npy"; fi
  done
  CEILING+=("$("$BUILD/bench/gemm-ceiling" --model "$MODEL" --threads "$THREADS" --repeat 5 --json)")
done

# --- accuracy (first round's vectors against sentence-transformers fp32, batch 32)
REF=""
for i in "${!SYSTEMS[@]}"; do
  spec=${SYSTEMS[$i]}; out="$WORK/out-$i-r1"
  case "$spec" in
    embedpipe*) $CMP embedpipe --dir "$out" --out "$out.npy" ;; # every level's rows

    *) ;; # the Python peers saved $out.npy themselves
  esac
  [[ "$spec" == sentence-transformers*"batch 32 (default)"* ]] && REF="$out.npy"
done
median() { "$PY" -c "import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))" "$@"; }
for i in "${!SYSTEMS[@]}"; do
  spec=${SYSTEMS[$i]}; name=${spec%%|*}; rest=${spec#*|}; prec=${rest%%|*}; cmd=${rest#*|}
  acc=$($CMP accuracy --got "$WORK/out-$i-r1.npy" --ref "$REF")
  # shellcheck disable=SC2086
  w=$(median ${WALL[$i]}); s=$(median ${STARTUP[$i]}); m=$(median ${RSS[$i]})
  c=$(median ${CPU[$i]}); cu=$(median ${CPU_UP[$i]})
  "$PY" - "$name" "$prec" "$cmd" "$w" "$s" "$m" "$acc" "${WALL[$i]}" "$c" "$cu" >>"$RESULTS" <<'EOF'
import json, sys
name, prec, cmd, w, s, m, acc, walls, c, cu = sys.argv[1:]
w, s = float(w), float(s)
print(json.dumps({"system": name, "precision": prec, "command": cmd, "wall_s": w, "startup_s": s,
                  "encode_s": max(w - s, 1e-9), "rss_mb": float(m) / 1024, "accuracy": json.loads(acc),
                  "walls": walls.split(), "cpu_s": max(float(c) - float(cu), 1e-9)}))
EOF
done

# --- tokenizer, one thread, identical ids
log "tokenizer: embedpipe vs Hugging Face tokenizers, one thread"
TOK_EP=$("$BUILD/bench/tokenizer-bench" "$MODEL/vocab.txt" --repeat 5 "$WORK/texts.txt")
TOK_HF=$($CMP hf-tokenize --model "$MODEL" --lines "$WORK/texts.txt" --repeat 3)

# --- the report
VERSIONS=$("$PY" - <<'EOF'
import importlib.metadata as md
print(", ".join(f"{p} {md.version(p)}" for p in ["torch", "sentence-transformers", "transformers", "onnxruntime", "optimum-onnx", "tokenizers"]))
EOF
)
CPU_MODEL=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
CPU_MODEL="$CPU_MODEL, cpu family $(sed -n 's/^cpu family[^:]*: *//p' /proc/cpuinfo | head -1)"
CORES=$(nproc)
FLAGS=$(grep -o -w -E 'avx512f|avx512_bf16|avx512_vnni|avx_vnni|amx_bf16|amx_int8|avx2' /proc/cpuinfo | sort -u | tr '\n' ' ')
HYPER=$(lscpu | sed -n 's/^Hypervisor vendor: *//p' | head -1)
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
ELAPSED=$(( $(date +%s) - T_BEGIN ))
GIT=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)
REPORT="$WORK/report.md"
"$PY" - "$RESULTS" "$WORK/meta.json" "$REPORT" "$THREADS" "$RUNS" "$CPU_MODEL" "$CORES" "$HYPER" "$FLAGS" "$VERSIONS" \
  "$GIT" "$LOAD_BEFORE" "$LOAD_AFTER" "$ELAPSED" "$TOK_EP" "$TOK_HF" "$QUICK" "${CEILING[@]}" <<'EOF'
import json, re, statistics, sys, datetime
(results, meta, report, threads, runs, cpu, cores, hyper, flags, versions, git, load_before, load_after,
 elapsed, tok_ep, tok_hf, quick) = sys.argv[1:18]
ceilings = [json.loads(c) for c in sys.argv[18:]]
rows = [json.loads(l) for l in open(results)]
meta = json.load(open(meta))
machine = f"{cpu} ({cores} cores{', ' + hyper + ' guest' if hyper else ''})"
isa_of = lambda r: (re.search(r"EMBEDPIPE_CPU_ISA=([\w-]+)", r["system"]) or [None, "native"])[1] \
    if r["system"].startswith("embedpipe") else None
levels = list(dict.fromkeys(isa_of(r) for r in rows if isa_of(r)))
base = next(r for r in rows if r["system"].startswith("embedpipe") and r["precision"] == "fp32")
def med(kind):
    v = [x["tokens_per_s"] for c in ceilings for x in c["results"] if x["gemm"] == kind]
    g = [x["gflops"] for c in ceilings for x in c["results"] if x["gemm"] == kind]
    return (statistics.median(v), statistics.median(g)) if v else (None, None)
ob_tok, ob_gf = med("openblas")
ep32_tok, ep32_gf = med("embedpipe-fp32")
bf_tok, bf_gf = med("embedpipe-bf16")
i8_tok, i8_gf = med("embedpipe-int8")
L = []
w = L.append
w(f"Measured by `bench/compare-cpu.sh{' --quick' if quick == '1' else ''}` on {datetime.date.today()} "
  f"(embedpipe {git}), machine: **{machine}**; CPU flags: {flags.strip()}.")
w("")
w(f"{meta['texts']:,} texts ({meta['tweeteval']:,} tweeteval lines, {meta['tweets_js']:,} tweets.js tweets), "
  f"{meta['tokens']:,} tokens ([CLS]/[SEP] included, truncated at 256, as the model sees them); "
  f"{threads} threads for every system; medians of {runs} run{'s' if runs != '1' else ''}, rounds interleaved. "
  f"Load average (1/5/15 min) before: {load_before}, after: {load_after}; the whole run took {int(elapsed) // 60} min.")
w("")
for level in levels:
    here = [r for r in rows if isa_of(r) == level]
    base = next((r for r in here if r["precision"] == "fp32"), base)
    if len(levels) > 1 or level != "native":
        w(f"**Kernel level {level}** ({'no cap: what this CPU gets' if level == 'native' else 'EMBEDPIPE_CPU_ISA=' + level + ': what a CPU with no more than that gets'}); "
          f"embedpipe's precisions offered at this level, the peers as they run here; CPU flags: {flags.strip()}:")
        w("")
    w(f"| system | precision | texts/s | tokens/s | vs embedpipe fp32 | tokens per CPU-second | peak RSS | start-up | min cosine | mean cosine |")
    w("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in here + [r for r in rows if isa_of(r) is None]:
        a = r["accuracy"]
        w(f"| {r['system']} | {r['precision']} | {meta['texts'] / r['encode_s']:,.0f} | {meta['tokens'] / r['encode_s']:,.0f} | "
          f"{base['encode_s'] / r['encode_s']:.2f}x | {meta['tokens'] / r['cpu_s']:,.0f} | {r['rss_mb']:,.0f} MB | {r['startup_s']:.2f} s | "
          f"{a.get('min_cos', float('nan')):.6f} | {a.get('mean_cos', float('nan')):.6f} |")
    w("")
lv0 = "native" if "native" in levels else levels[0]  # the GEMM ceiling below is measured uncapped
base = next(r for r in rows if isa_of(r) == lv0 and r["precision"] == "fp32")
w(f"texts/s and tokens/s: texts / (median wall time - median start-up), start-up: the same command on one text; "
  f"tokens per CPU-second: tokens / (user + system CPU time of the run - that of the one-text run), a figure that "
  f"other programs on the machine disturb less than the wall clock (a peer whose threads spin while waiting pays "
  f"for it here); cosines against sentence-transformers fp32 (batch 32) on the same texts; machine: {machine}.")
w("")
if ob_tok:
    e2e = meta["tokens"] / base["encode_s"]
    w(f"**fp32 GEMM ceiling** (`bench/gemm-ceiling --threads {threads}`: the six layers' four GEMMs alone, "
      f"M = 4096 token rows, median of {len(ceilings)} runs interleaved with the rounds above; machine: {machine}):")
    w("")
    w("| GEMMs | GFLOP/s | tokens/s | embedpipe end to end / ceiling |")
    w("| --- | ---: | ---: | ---: |")
    w(f"| OpenBLAS `cblas_sgemm`, fp32 (the ceiling) | {ob_gf:.0f} | {ob_tok:,.0f} | fp32: {e2e / ob_tok:.0%} |")
    if ep32_tok:
        w(f"| embedpipe's AVX-512 fp32 kernels | {ep32_gf:.0f} | {ep32_tok:,.0f} | fp32: {e2e / ep32_tok:.0%} |")
    bfr = next((r for r in rows if isa_of(r) == lv0 and r["precision"] == "bf16"), None)
    if bf_tok and bfr:
        w(f"| embedpipe's bf16 kernels | {bf_gf:.0f} | {bf_tok:,.0f} | bf16: {meta['tokens'] / bfr['encode_s'] / bf_tok:.0%} |")
    i8r = next((r for r in rows if isa_of(r) == lv0 and r["precision"] == "int8"), None)
    if i8_tok:
        w(f"| embedpipe's int8 kernels (avx512-vnni) | {i8_gf:.0f} | {i8_tok:,.0f} | "
          f"{'int8: ' + format(meta['tokens'] / i8r['encode_s'] / i8_tok, '.0%') if i8r else 'int8 not offered'} |")
    w("")
    w("The embedpipe rows of this micro-benchmark multiply 4096-row matrices that live in main memory, one GEMM "
      "at a time, in 256-row chunks; end to end, a thread keeps a chunk's activations in its L2 cache through all "
      "six layers, which is why the end-to-end rate can exceed them. The ceiling the issue sets is the OpenBLAS row.")
    w("")
m_ep = re.search(r"= (\d+) texts/s.*checksum ([0-9a-f]+)", tok_ep)
hf = json.loads(tok_hf)
if m_ep:
    same = "identical ids (checksums match)" if m_ep.group(2) == hf["checksum"] else \
        f"**ids differ** (checksum {m_ep.group(2)} vs {hf['checksum']})"
    w(f"**Tokenizer**, one thread, the same {hf['texts']:,} texts: embedpipe {int(m_ep.group(1)):,} texts/s "
      f"(`bench/tokenizer-bench`), Hugging Face tokenizers {hf['texts_per_s']:,.0f} texts/s "
      f"(`Tokenizer.encode_batch`, RAYON_NUM_THREADS=1): {int(m_ep.group(1)) / hf['texts_per_s']:.1f}x, {same}; "
      f"machine: {machine}.")
    w("")
w(f"Versions: {versions}. Commands (`@IN@` the texts as NDJSON, `@OUT@` a scratch path):")
w("")
for r in rows:
    w(f"- {r['system']}, {r['precision']}: `{r['command']}` (wall times {', '.join(r['walls'])} s)")
open(report, "w").write("\n".join(L) + "\n")
EOF
if [ "$WRITE_DOC" = 1 ]; then
  "$PY" - "$ROOT/docs/PERFORMANCE.md" "$REPORT" <<'EOF'
import os, re, sys
doc, report = sys.argv[1:]
body = open(report).read()
if not os.path.exists(doc):
    open(doc, "w").write("# Performance\n\n## CPU\n\n## GPU\n")
text = open(doc).read()
if "## CPU" not in text:
    text = text.rstrip("\n") + "\n\n## CPU\n"
head, rest = text.split("## CPU", 1)
nxt = re.search(r"^## ", rest, flags=re.M)
tail = rest[nxt.start():] if nxt else ""
keep = ""  # hand-written notes above the marker stay
m = re.search(r"<!-- compare-cpu.sh writes below this line -->", rest[: nxt.start() if nxt else len(rest)])
if m:
    keep = rest[: m.end()].lstrip("\n")
else:
    keep = "<!-- compare-cpu.sh writes below this line -->"
open(doc, "w").write(head + "## CPU\n\n" + keep.strip("\n") + "\n\n" + body + ("\n" + tail if tail else ""))
EOF
  log "wrote the table to docs/PERFORMANCE.md (## CPU)"
fi
echo
cat "$REPORT"
