#!/usr/bin/env bash
# test_gpu_kit_offline.sh - bench/gpu.sh --emulate from the GPU kit with no network and no system -dev
# packages, then checks that every dependency came from the kit's private prefix:
#   - inside `unshare -n -m`: /proc/net/dev lists only lo, and the files of the installed Debian
#     packages the kit replaces (headers, .so links, .pc files, cmake configs, and the runtime
#     libraries the toolchain itself does not need) are covered by /dev/null bind mounts, so a build
#     that reached for them would fail;
#   - after: the headers the build read (ninja -t deps) are the kit's, `ldd embedpipe` resolves every
#     dependency into the prefix, the binary carries the prefix as DT_RPATH, the emulated table and
#     JSON exist and say EMULATED, and docs/PERFORMANCE.md was not touched.
# Env: EP_SOURCE_DIR, EP_BUILD_DIR (ctest), EP_GPU_KIT [~/.cache/embedpipe/gpu-kit].
set -uo pipefail
SRC=${EP_SOURCE_DIR:?}
BUILD=${EP_BUILD_DIR:?}/kit-offline
KIT=${EP_GPU_KIT:-${EMBEDPIPE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/embedpipe}/gpu-kit}
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; FAILED=1; }
FAILED=0

[ -f "$KIT/MANIFEST" ] || skip "no GPU kit at $KIT: make it with scripts/gpu-kit.sh --out $KIT (scripts/test.sh does)"
command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ] || skip "no CUDA toolkit (nvcc): the emulated build needs its headers"
unshare -n -m true 2>/dev/null || skip "unshare -n -m is not permitted here (needs root or user namespaces)"

# The packages whose files are hidden. zlib1g and libzstd1 stay: the compiler and linker load them.
HIDE_PKGS="libcjson-dev libcjson1 libzstd-dev libutf8proc-dev libutf8proc2 libxxhash-dev libxxhash0 zlib1g-dev
           libopenblas-dev libopenblas-pthread-dev libopenblas0-pthread"
HIDE=$(mktemp)
trap 'rm -f "$HIDE"' EXIT
for p in $HIDE_PKGS; do dpkg-query -L "$p" 2>/dev/null; done | sort -u | while read -r f; do
  case "$f" in /usr/share/*) continue ;; esac
  [ -f "$f" ] && [ ! -L "$f" ] && echo "$f"
done > "$HIDE"
echo "hiding $(wc -l < "$HIDE") files of the installed packages: $(echo $HIDE_PKGS)"

DOC_SUM=$(sha256sum "$SRC/docs/PERFORMANCE.md")
rm -rf "$BUILD"
unshare -n -m bash -c '
  set -e
  mount --make-rprivate /
  while read -r f; do mount --bind /dev/null "$f"; done < "$1"
  if grep -v "^ *lo:" /proc/net/dev | grep -q ":"; then echo "FAIL: a network interface besides lo is visible" >&2; exit 1; fi
  echo "network: only lo; e.g. $(head -1 "$1") now reads $(wc -c < "$(head -1 "$1")") bytes"
  exec bash "$2/bench/gpu.sh" --emulate --kit "$3" --build-dir "$4"
' _ "$HIDE" "$SRC" "$KIT" "$BUILD"
rc=$?
[ $rc -eq 0 ] || { echo "FAIL: bench/gpu.sh --emulate exited $rc offline (see above)" >&2; exit 1; }

PREFIX=$BUILD/deps
# Headers: every dependency header the build read lies in the prefix.
leaks=$(cd "$BUILD" && ninja -t deps 2>/dev/null | grep -E '(cjson/|zstd|utf8proc|xxhash|xxh3|zlib\.h|zconf\.h|cblas|openblas)' \
        | grep -E "^ +/usr/" | sort -u)
[ -z "$leaks" ] || fail "headers from outside the kit's prefix: $leaks"
n=$(cd "$BUILD" && ninja -t deps 2>/dev/null | grep -c "$PREFIX/usr/include/cjson/cJSON.h")
[ "$n" -gt 0 ] || fail "no compile read $PREFIX/usr/include/cjson/cJSON.h (ninja -t deps)"
# Libraries: resolved into the prefix, through DT_RPATH.
for lib in libcjson.so libzstd.so libutf8proc.so libxxhash.so libopenblas.so libz.so libgfortran.so; do
  where=$(ldd "$BUILD/embedpipe" | awk -v l="$lib" 'index($1, l) == 1 {print $3}')
  case "$where" in "$PREFIX"/*) ;; *) fail "$lib resolves to '${where:-nothing}', not into $PREFIX" ;; esac
done
readelf -d "$BUILD/embedpipe" | grep -q "(RPATH).*$PREFIX" || fail "embedpipe has no DT_RPATH into $PREFIX"
# The emulated table and its JSON, and nothing written into docs/.
md=$BUILD/emulated/PERFORMANCE-emulated.md
grep -q "EMULATED" "$md" 2>/dev/null || fail "$md missing or not marked EMULATED"
grep -q "min cosine embedpipe" "$md" 2>/dev/null || fail "$md has no accuracy row"
js=$(ls "$BUILD"/emulated/gpu-emulated-*.json 2>/dev/null | head -1)
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if r["emulated"] is True and r["tokens_per_s"] > 0 and r["reference"]["min_cos_embedpipe_vs_fp32"] >= 0.999 else 1)' "$js" \
  || fail "the emulated JSON ($js) is missing, not marked emulated, or its figures are off"
# The related step: the CPU's rows/s on the sample folder, marked emulated, no GPU figure (step 6b).
rjs=$(ls "$BUILD"/emulated/related-emulated-*.json 2>/dev/null | head -1)
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); d=[x["device"] for x in r["runs"]]; sys.exit(0 if r["emulated"] is True and d == ["cpu"] and r["runs"][0]["rows"] == 60 and r["runs"][0]["rows_per_s"] > 0 else 1)' "$rjs" \
  || fail "the emulated related JSON (${rjs:-none}) is missing, not marked emulated, has a GPU run, or its figures are off"
[ "$(sha256sum "$SRC/docs/PERFORMANCE.md")" = "$DOC_SUM" ] || fail "docs/PERFORMANCE.md changed in an emulated run"
[ $FAILED -eq 0 ] && echo "test_gpu_kit_offline: all checks passed"
exit $FAILED
