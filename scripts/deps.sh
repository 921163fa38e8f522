#!/usr/bin/env bash
# deps.sh - installs the Debian packages embedpipe builds against, when missing. Idempotent.
# CUDA is not installed here: the build uses it when nvcc is present. SQLite (libsqlite3-dev) is optional to
# the build (export --to llm); the offline GPU kit builds without it.
set -euo pipefail
source "$(dirname "$0")/common.sh"

pkgs=(build-essential cmake ninja-build pkg-config libcjson-dev libzstd-dev libutf8proc-dev
      libopenblas-dev libxxhash-dev zlib1g-dev zstd libsqlite3-dev)
# Debian's Python is needed only when no Python 3 with venv and pip is there already (e.g. pyenv's).
if ! { py=$(ep_python) && "$py" -c 'import venv, ensurepip' 2>/dev/null; }; then
  pkgs+=(python3 python3-venv python3-pip)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  ep_log "dependencies: all present"
  exit 0
fi
ep_log "installing: ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || ep_die "need root (or sudo) to install: ${missing[*]}"
  sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
