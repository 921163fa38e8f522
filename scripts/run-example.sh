#!/usr/bin/env bash
# run-example.sh - the main job on the bundled example, from a fresh machine. Idempotent.
#   installs what is missing, fetches the model, builds (Release), embeds
#   examples/archive.json into out/example/, prints a summary and the top 5 results
#   of a semantic query over it.
# Usage: scripts/run-example.sh ["your query"]
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$EP_ROOT"
query=${1:-"commuting by bike in the rain"}

bash scripts/deps.sh
bash scripts/fetch-model.sh
ep_log "build: build/ (Release)"
ep_build "$EP_ROOT/build" Release

out=out/example
ep_log "embed: examples/archive.json -> $out/"
./build/embedpipe embed examples/archive.json -o "$out" --overwrite
ep_log "summary"
./build/embedpipe inspect "$out"
./build/embedpipe verify "$out"
ep_log "search: \"$query\""
./build/embedpipe search "$out" "$query" -k 5
