#!/usr/bin/env bash
# test.sh - sets up everything a fresh machine lacks, builds, and runs the whole ctest suite.
# Idempotent. Usage: scripts/test.sh [extra ctest arguments, e.g. -R tokenizer]
#
# Set-up: Debian packages (scripts/deps.sh; slurm-wlm and munge when root), the model (scripts/fetch-model.sh),
# a small private Python environment with numpy + zstandard for the shard round-trip test, a second one with
# pandas, pyarrow, duckdb, pytest and llm for the Python package's tests (tests/python/py_env.py; they
# skip without it), and the GPU kit (scripts/gpu-kit.sh) in the cache for the offline kit test; optionally Debian's chromium for test_map.
# Two builds run the suite: build/ (Release, CUDA when nvcc is there, the GPU tests skip without a
# GPU) and build-sanitize/ (AddressSanitizer + UndefinedBehaviorSanitizer, CUDA off; the tests
# labelled no-sanitizer, which measure memory or only repeat Release checks at length, are left out).
# EMBEDPIPE_SKIP_SANITIZE=1 skips the second build.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$EP_ROOT"

bash scripts/deps.sh
bash scripts/fetch-model.sh

# Slurm and munge, for test_slurm_array (a real one-node cluster runs the sbatch scripts of
# docs/scale-out.md). Optional: where they cannot be installed the test skips and says so.
if [ "$(id -u)" -eq 0 ] && [ ! -x /usr/sbin/slurmctld ]; then
  ep_log "slurm: installing slurm-wlm and munge for test_slurm_array"
  apt-get update -q >/dev/null || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends slurm-wlm munge >/dev/null \
    || ep_log "slurm: not installed; test_slurm_array will skip"
fi

venv=$EP_CACHE/test-venv
if ! "$venv/bin/python" -c 'import numpy, zstandard' 2>/dev/null; then
  ep_log "python: creating $venv with numpy and zstandard"
  py=$(ep_python) || ep_die "python3 not found"
  rm -rf "$venv"
  "$py" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check numpy zstandard
fi

# The Python package's test environment (tests/python): made once; without PyPI the tests skip.
"$venv/bin/python" tests/python/py_env.py --ensure >/dev/null \
  || ep_log "python: the package tests' environment was not made (see above); tests/python will skip"

# The GPU kit, for test_gpu_kit_offline (label kit): made once in the cache, reused while its recipe holds.
if [ -d "$EP_ROOT/../shared/data/tweeteval" ]; then
  bash scripts/gpu-kit.sh --out "$EP_CACHE/gpu-kit" --python "$venv/bin/python" \
    || ep_log "gpu-kit: not made (see above); test_gpu_kit_offline will skip"
fi

# Optional: Debian's chromium, in which test_map opens the map's page (it skips those checks, saying so,
# where chromium is missing or cannot be installed).
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  sudo_=""
  [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && sudo_=sudo
  ep_log "chromium: installing (optional, for test_map's browser checks)"
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1 \
    || ep_log "chromium: not installed; test_map will skip its browser checks"
fi

ep_log "build: build/ (Release)"
ep_build "$EP_ROOT/build" Release -DEP_PYTHON="$venv/bin/python"

ep_log "tests (Release)"
ctest --test-dir "$EP_ROOT/build" --output-on-failure -j "$EP_JOBS" "$@"

if [ "${EMBEDPIPE_SKIP_SANITIZE:-0}" != 1 ]; then
  ep_log "build: build-sanitize/ (AddressSanitizer + UndefinedBehaviorSanitizer)"
  ep_build "$EP_ROOT/build-sanitize" RelWithDebInfo -DEMBEDPIPE_SANITIZE=ON -DEMBEDPIPE_CUDA=OFF \
    -DEP_PYTHON="$venv/bin/python"
  ep_log "tests (sanitizers)"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir "$EP_ROOT/build-sanitize" --output-on-failure -j "$EP_JOBS" -LE no-sanitizer "$@"
fi
