#!/usr/bin/env bash
# zstd-levels.sh - what each zstd level costs and saves on real shards: decompresses the first shard
# of an output folder written with real embeddings and runs zstd's own benchmark over levels
# -5 (fast) to 6 on its bytes (one core; the writer runs the same compressor with --zstd-workers).
#
#   bench/zstd-levels.sh OUT_FOLDER
#
# Make a folder of real vectors first, e.g. (about a minute on two cores):
#   head -4000 ../shared/data/tweeteval/emoji-train_text.txt > /tmp/real4k.txt
#   build/embedpipe embed /tmp/real4k.txt -o /tmp/real4k --device cpu
set -euo pipefail
dir=${1:?usage: zstd-levels.sh OUT_FOLDER}
command -v zstd >/dev/null || { echo "zstd-levels: the zstd command is needed" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
shard=$(ls "$dir"/shard-*.npy.zst | head -1)
zstd -q -dc "$shard" > "$tmp/shard.npy"
echo "shard $shard: $(stat -c %s "$tmp/shard.npy") bytes uncompressed; $(nproc) cores, $(uname -m)"
printf '%-6s %12s %8s %14s %14s\n' level bytes ratio "compress MB/s" "decompress MB/s"
for level in -5 -1 1 2 3 4 6; do
    if [ "$level" -lt 0 ]; then args=(--fast=$((-level)) -b); else args=(-b"$level"); fi
    # zstd -b prints "name : in -> out (xR), C MB/s, D MB/s" lines with carriage returns; keep the last.
    line=$(zstd "${args[@]}" -i3 "$tmp/shard.npy" 2>&1 | tr '\r' '\n' | grep -E 'MB/s,' | tail -1)
    out=$(sed -E 's/.*-> *([0-9]+) \(x([0-9.]+)\), *([0-9.]+) MB\/s, *([0-9.]+) MB\/s.*/\1 \2 \3 \4/' <<<"$line")
    read -r bytes ratio c d <<<"$out"
    printf '%-6s %12s %8s %14s %14s\n' "$level" "$bytes" "x$ratio" "$c" "$d"
done
