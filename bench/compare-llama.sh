# compare-llama.sh - sourced by bench/compare-cpu.sh when it is given --llama-cpp DIR: adds
# llama.cpp's llama-embedding on F32 and F16 GGUF conversions of the model to the systems.
#
# DIR is a llama.cpp source folder (llama-embedding is then built into
# ~/.cache/embedpipe/llama.cpp-build, CPU only, -DGGML_NATIVE=ON) or a build folder with
# bin/llama-embedding whose parent is the source folder. The GGUF files are written by the
# source's own convert_hf_to_gguf.py (run with the benchmark's virtual environment) into
# ~/.cache/embedpipe/bench-models/. Any llama.cpp source will do; e.g. the copy vendored in
# the llama-cpp-python source package on PyPI:
#   pip download --no-deps --no-binary :all: llama-cpp-python && tar xzf llama_cpp_python-*.tar.gz
#   bench/compare-cpu.sh --llama-cpp llama_cpp_python-*/vendor/llama.cpp
# Expects from compare-cpu.sh: LLAMA, CACHE, MODEL, WORK, THREADS, PY, CMP, add, log, die.

LLAMA_BIN=""
for c in "$LLAMA/bin/llama-embedding" "$LLAMA/build/bin/llama-embedding"; do
  if [ -x "$c" ]; then LLAMA_BIN=$c; break; fi
done
LLAMA_SRC=$LLAMA
[ -f "$LLAMA_SRC/convert_hf_to_gguf.py" ] || LLAMA_SRC=$(cd "$LLAMA/.." && pwd)
[ -f "$LLAMA_SRC/convert_hf_to_gguf.py" ] || die "--llama-cpp $LLAMA: no convert_hf_to_gguf.py there or in its parent"
if [ -z "$LLAMA_BIN" ]; then
  [ -f "$LLAMA/CMakeLists.txt" ] || die "--llama-cpp $LLAMA: neither a build folder (bin/llama-embedding) nor a source folder"
  LB="$CACHE/llama.cpp-build"
  log "building llama.cpp's llama-embedding in $LB (several minutes on 2 cores)"
  cmake -S "$LLAMA" -B "$LB" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_SERVER=OFF -DGGML_CUDA=OFF >"$WORK/llama-cmake.log" 2>&1 \
    || { tail -20 "$WORK/llama-cmake.log" >&2; die "llama.cpp: cmake failed"; }
  cmake --build "$LB" --target llama-embedding -j "$(nproc)" >"$WORK/llama-build.log" 2>&1 \
    || { tail -20 "$WORK/llama-build.log" >&2; die "llama.cpp: build failed"; }
  LLAMA_BIN="$LB/bin/llama-embedding"
fi
GGUF_DIR="$CACHE/bench-models/$(basename "$MODEL")-gguf"
mkdir -p "$GGUF_DIR"
for t in f32 f16; do
  if [ ! -f "$GGUF_DIR/model-$t.gguf" ]; then
    log "converting the model to GGUF $t"
    PYTHONPATH="$LLAMA_SRC/gguf-py:$LLAMA_SRC" "$PY" "$LLAMA_SRC/convert_hf_to_gguf.py" "$MODEL" --outtype "$t" \
      --outfile "$GGUF_DIR/model-$t.gguf" >"$WORK/convert.log" 2>&1 \
      || { tail -20 "$WORK/convert.log" >&2; die "llama.cpp: GGUF conversion failed"; }
  fi
done
LLAMA_VERSION=$("$LLAMA_BIN" --version 2>&1 | sed -n 's/^version: *\([^ ]*\).*/\1/p' | head -1)
log "llama.cpp: $LLAMA_BIN ($LLAMA_VERSION)"
add "llama.cpp llama-embedding ${LLAMA_VERSION:-(unknown version)}" "F32 GGUF, batch 2048" \
  "$CMP llama --bin $LLAMA_BIN --model $GGUF_DIR/model-f32.gguf --threads $THREADS --texts @IN@ --out @OUT@"
add "llama.cpp llama-embedding ${LLAMA_VERSION:-(unknown version)}" "F16 GGUF, batch 2048" \
  "$CMP llama --bin $LLAMA_BIN --model $GGUF_DIR/model-f16.gguf --threads $THREADS --texts @IN@ --out @OUT@"
