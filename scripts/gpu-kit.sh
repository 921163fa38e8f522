#!/usr/bin/env bash
# gpu-kit.sh - fills .gpu-kit/ (git-ignored) with everything a bare, offline GPU machine lacks to run
# bench/gpu.sh: the Debian packages of the build dependencies (unpacked there with `dpkg -x` into a
# private prefix that CMake is pointed at), all-MiniLM-L6-v2 in F16 (scripts/convert-f16.py) and a
# few thousand real tweets from ../shared/data/tweeteval. Runs here, where apt and the model are.
# Then the source (git ls-files) plus the kit must stay under 62 MiB: a GPU lease carries 64 MiB in
# all (tracked and untracked files plus carried folders), and 2 MiB are left for untracked files and
# the tool's own bookkeeping. The script prints the size and fails when over. (The F16 model is 45 MiB
# of it: the test fixtures of other model families grow the source, so watch this line.)
#
# Usage: scripts/gpu-kit.sh [--out DIR] [--tweets N] [--data DIR] [--python PY]
#   --out DIR     where to put the kit [.gpu-kit]; the size check counts it with the source
#   --tweets N    lines taken from each of the three tweeteval test files [1000]
#   --data DIR    the shared real data [../shared/data]
#   --python PY   a Python with numpy for the converter [$EP_PYTHON, the test venv, python3]
# Idempotent: a kit whose MANIFEST matches what would be made is kept as is.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$EP_ROOT"

OUT=$EP_ROOT/.gpu-kit
TWEETS=1000
DATA=$EP_ROOT/../shared/data
PY=${EP_PYTHON:-}
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT=$2; shift 2 ;;
    --tweets) TWEETS=$2; shift 2 ;;
    --data) DATA=$2; shift 2 ;;
    --python) PY=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) ep_die "gpu-kit.sh: unknown argument $1 (see --help)" ;;
  esac
done
LIMIT_MIB=62

# The exact packages: each -dev package, the runtime library it links to, and OpenBLAS's runtime
# needs that a CUDA image may lack (libgfortran5, libquadmath0). libopenblas-dev and libopenblas0
# are Debian's empty selector packages, kept so the list reads like `apt-get install`. Not taken:
# libc6, libgcc-s1, gcc-12-base (every machine with a compiler has newer ones; an older libgcc_s
# in the private prefix would shadow the system's for the whole process).
PKGS=(libcjson-dev libcjson1 libzstd-dev libzstd1 libutf8proc-dev libutf8proc2
      libxxhash-dev libxxhash0 zlib1g-dev zlib1g
      libopenblas-dev libopenblas0 libopenblas-pthread-dev libopenblas0-pthread libgfortran5 libquadmath0)

[ -d "$DATA/tweeteval" ] || ep_die "$DATA/tweeteval not found: the shared real-tweet data (its README) must be beside the checkout"
bash scripts/fetch-model.sh >&2
SRC_MODEL=$EP_MODEL_DIR
if [ -z "$PY" ]; then
  if "$EP_CACHE/test-venv/bin/python" -c 'import numpy' 2>/dev/null; then PY=$EP_CACHE/test-venv/bin/python
  else PY=$(ep_python) || ep_die "python3 not found"; fi
fi
"$PY" -c 'import numpy' 2>/dev/null || ep_die "$PY has no numpy (scripts/test.sh makes a venv with it; or --python PY)"

# What this kit is made of; a kit with the same recipe is reused.
candidates() { for p in "${PKGS[@]}"; do printf '%s=%s\n' "$p" "$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ {print $2}')"; done; }
versions=$(candidates)
if printf '%s\n' "$versions" | grep -qE '=$|=\(none\)$'; then  # a fresh machine has no package index yet
  ep_log "gpu-kit: apt-get update (no package index for: $(printf '%s\n' "$versions" | grep -E '=$|=\(none\)$' | tr '\n' ' '))"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -q >&2
  versions=$(candidates)
  ! printf '%s\n' "$versions" | grep -qE '=$|=\(none\)$' || ep_die "no Debian package for: $(printf '%s\n' "$versions" | grep -E '=$|=\(none\)$' | tr '\n' ' ')"
fi
model_sum=$(sha256sum "$SRC_MODEL/model.safetensors" | cut -c1-16)
recipe=$(printf 'tweets=%s\nmodel=%s\nconverter=%s\n%s\n' "$TWEETS" "$model_sum" \
  "$(cat scripts/convert-f16.py scripts/gpu-kit.sh | sha256sum | cut -c1-16)" "$versions")
if [ -f "$OUT/RECIPE" ] && [ "$(cat "$OUT/RECIPE")" = "$recipe" ] && (cd "$OUT" && sha256sum -c --quiet MANIFEST); then
  ep_log "gpu-kit: $OUT is up to date"
else
  ep_log "gpu-kit: making $OUT"
  rm -rf "$OUT.tmp"
  mkdir -p "$OUT.tmp/debs" "$OUT.tmp/model" "$OUT.tmp/data/tweeteval"
  # The exact versions recorded in RECIPE (pkg=version), so the kit says what it holds.
  (cd "$OUT.tmp/debs" && apt-get download $versions >&2) \
    || ep_die "apt-get download failed (needs the Debian package index: apt-get update)"
  n=$(ls "$OUT.tmp"/debs/*.deb | wc -l)
  [ "$n" -eq ${#PKGS[@]} ] || ep_die "expected ${#PKGS[@]} .deb files, got $n"
  # Slim each package to what a shared-library build needs, or source + kit would not fit: static
  # libraries (libopenblasp-r0.3.21.a alone is 58 MB), documentation, manual pages, and OpenBLAS's
  # libblas.so.3 / liblapack.so.3 (Debian's alternatives for other programs; embedpipe links
  # libopenblas itself). Each stays a .deb of the same name and version, unpacked with `dpkg -x`.
  for deb in "$OUT.tmp"/debs/*.deb; do
    raw=$OUT.tmp/raw
    rm -rf "$raw"
    dpkg-deb -R "$deb" "$raw"
    (cd "$raw" && find . \( -name '*.a' -o -path './usr/share/doc/*' -o -path './usr/share/man/*' \
       -o -name 'libblas.so*' -o -name 'liblapack.so*' \) \( -type f -o -type l \) -print -delete) > "$raw.removed"
    if [ -s "$raw.removed" ]; then
      [ -f "$raw/DEBIAN/md5sums" ] && grep -v -F -f <(sed 's|^\./||' "$raw.removed") "$raw/DEBIAN/md5sums" > "$raw.md5" \
        && mv "$raw.md5" "$raw/DEBIAN/md5sums"
      dpkg-deb --root-owner-group -Zxz -z9 --build "$raw" "$deb" >/dev/null
    fi
    rm -rf "$raw" "$raw.removed"
  done

  "$PY" scripts/convert-f16.py "$SRC_MODEL" "$OUT.tmp/model/all-MiniLM-L6-v2" >&2

  # Tweets: the first N lines of each test split that test_cuda_backend_tweets reads, same layout as
  # ../shared/data, so EP_SHARED_DATA can point at the kit. Licence and provenance travel with them.
  for f in sentiment-test_text.txt emotion-test_text.txt hate-test_text.txt; do
    head -n "$TWEETS" "$DATA/tweeteval/$f" > "$OUT.tmp/data/tweeteval/$f"
  done
  cp "$DATA/tweeteval/SOURCE-README.md" "$OUT.tmp/data/tweeteval/" 2>/dev/null || true
  printf 'Sampled by scripts/gpu-kit.sh from ../shared/data/tweeteval (see its README): the first %s lines of\neach of sentiment-, emotion- and hate-test_text.txt.\n' \
    "$TWEETS" > "$OUT.tmp/data/README.md"

  printf '%s\n' "$recipe" > "$OUT.tmp/RECIPE"
  (cd "$OUT.tmp" && find . -type f ! -name MANIFEST ! -name RECIPE | sort | xargs sha256sum > MANIFEST)
  rm -rf "$OUT"
  mv "$OUT.tmp" "$OUT"
fi

src_bytes=$(git ls-files -z | xargs -0 stat -c %s 2>/dev/null | awk '{s += $1} END {print s + 0}')
kit_bytes=$(find "$OUT" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
total=$((src_bytes + kit_bytes))
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b / 1048576}'; }
echo "gpu-kit: source $(mib "$src_bytes") + kit $(mib "$kit_bytes") = $(mib "$total") (limit $LIMIT_MIB MiB; debs $(du -sh "$OUT/debs" | cut -f1), model $(du -sh "$OUT/model" | cut -f1), data $(du -sh "$OUT/data" | cut -f1))"
if [ "$total" -gt $((LIMIT_MIB * 1048576)) ]; then
  ep_die "source + kit is over $LIMIT_MIB MiB: it would not travel with a GPU lease (64 MiB in all)"
fi
