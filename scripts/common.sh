# common.sh - sourced by the scripts: paths and small helpers. Not run directly.
EP_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Everything embedpipe's scripts install outside the checkout lives here.
EP_CACHE=${EMBEDPIPE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/embedpipe}
EP_MODEL_DIR=${EMBEDPIPE_MODEL:-$EP_ROOT/models/all-MiniLM-L6-v2}
EP_JOBS=$(nproc 2>/dev/null || echo 2)

ep_log() { printf '==> %s\n' "$*" >&2; }
ep_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# A Python 3 interpreter (3.9+).
ep_python() {
  for p in python3 python; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import sys; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
      echo "$p"; return 0
    fi
  done
  return 1
}

# ep_build DIR BUILD_TYPE [cmake args...]: configure (once) and build.
ep_build() {
  local dir=$1 type=$2; shift 2
  local gen=()
  if [ ! -f "$dir/CMakeCache.txt" ] && command -v ninja >/dev/null 2>&1; then gen=(-G Ninja); fi
  mkdir -p "$dir"
  cmake -S "$EP_ROOT" -B "$dir" "${gen[@]}" -DCMAKE_BUILD_TYPE="$type" "$@" >"$dir/configure.log" 2>&1 \
    || { cat "$dir/configure.log" >&2; ep_die "cmake configure failed (log above)"; }
  grep -E '^-- embedpipe:' "$dir/configure.log" >&2 || true
  cmake --build "$dir" -j "$EP_JOBS"
}
