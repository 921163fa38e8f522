#!/usr/bin/env bash
# compare-commands.sh - what two embedpipe binaries say and write for the commands that read a finished
# output folder (info, related, duplicates, cluster, similar, search, merge, inspect, verify), byte for
# byte: the exit code, standard output, standard error (the seconds a step took masked) and the files
# they write into the folder. For a change that must not change what a command does, e.g. splitting a
# long function into steps:
#
#   scripts/compare-commands.sh OLD_BIN build/embedpipe [MODEL_DIR]
#
# OLD_BIN is the binary built at the commit to compare against (see scripts/compare-output.sh for how).
# The folders are embedded once, by OLD_BIN, from ../shared/data (tweets.js with its texts and the kept
# default columns; tweeteval lines with --no-text and a planted copy, so the texts are read again from
# the input; an `embed --part` job of two parts for merge); each command then runs with each binary on
# its own copy. MODEL_DIR defaults to a tiny random model, as in compare-output.sh. Prints one line per
# case and exits 1 when any case differs (the difference is shown).
set -euo pipefail
old=${1:?usage: compare-commands.sh OLD_BIN NEW_BIN [MODEL_DIR]}
new=${2:?usage: compare-commands.sh OLD_BIN NEW_BIN [MODEL_DIR]}
here=$(cd "$(dirname "$0")/.." && pwd)
data=${EP_DATA_DIR:-$here/../shared/data}
[ -d "$data/twitter-export" ] || data=/work/shared/data
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ep-compare-commands-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# Each binary from a folder of the same depth, so that where `info` looks for a model reads the same.
mkdir -p "$tmp/bin-old" "$tmp/bin-new" "$tmp/home"
cp "$old" "$tmp/bin-old/embedpipe"
cp "$new" "$tmp/bin-new/embedpipe"
old=$tmp/bin-old/embedpipe
new=$tmp/bin-new/embedpipe
unset EMBEDPIPE_MODEL
py=${EP_PYTHON:-python3}

model=${3:-}
if [ -z "$model" ]; then
    model=$tmp/model
    vocab=()
    [ -f "$here/models/all-MiniLM-L6-v2/vocab.txt" ] && vocab=(--vocab "$here/models/all-MiniLM-L6-v2/vocab.txt")
    "$py" "$here/scripts/make-tiny-model.py" --out "$model" --hidden 32 --layers 2 --heads 2 --intermediate 64 \
        --max-seq-length 128 --seed 3 "${vocab[@]}" >/dev/null
fi
embed=(-m "$model" --device cpu -q -t 2 --zstd-level 3)

# The folders, embedded once by the old binary.
mkdir -p "$tmp/in" "$tmp/base"
head -n 5000 "$data/tweeteval/emoji-train_text.txt" > "$tmp/in/lines.txt"
sed -n "100p;200p;200p" "$data/tweeteval/emoji-train_text.txt" >> "$tmp/in/lines.txt"  # copies: exact groups
"$old" embed "$data/twitter-export/tweets.js" -o "$tmp/base/texts" --keep default --shard-rows 700 "${embed[@]}"
"$old" embed "$tmp/in/lines.txt" -o "$tmp/base/notext" --no-text --shard-rows 600 "${embed[@]}"
"$old" embed "$tmp/in/lines.txt" -o "$tmp/base/part1" --part 0/2 "${embed[@]}"
"$old" embed "$tmp/in/lines.txt" -o "$tmp/base/part2" --part 1/2 "${embed[@]}"
cp -r "$tmp/base/notext" "$tmp/base/related"
"$old" related "$tmp/base/related" -k 6 -t 2 2>/dev/null  # neighbours kept, for duplicates to read

fails=0
# run_one BIN SIDE NAME [K=V...] ARGS... - runs BIN ARGS (with the environment K=V) in a fresh copy of the
# folders, from inside it (ARGS name the folders texts, notext, related, part1, part2); keeps the exit
# code, stdout, stderr (seconds masked) and the folders in $tmp/SIDE.
run_one() {
    local bin=$1 side=$2
    shift 3
    local envs=()
    while [ $# -gt 0 ] && [[ $1 == *=* ]]; do envs+=("$1"); shift; done
    local d=$tmp/$side
    rm -rf "$d"
    mkdir -p "$d"
    cp -r "$tmp/base/." "$d/"
    local rc=0
    (cd "$d" && env "${envs[@]}" "$bin" "$@" >"$d/stdout" 2>"$d/stderr.raw") || rc=$?
    echo "$rc" > "$d/rc"
    # the times differ between runs; the paths differ between the two sides
    sed -E -e 's/[0-9]+\.[0-9]+ s\b/N s/g' -e "s#$d#DIR#g" -e "s#$tmp/bin-$side#BIN#g" "$d/stderr.raw" > "$d/stderr"
    sed -i -e "s#$d#DIR#g" -e "s#$tmp/bin-$side#BIN#g" "$d/stdout"
    rm "$d/stderr.raw"
}

# compare NAME [K=V...] ARGS...
compare() {
    local name=$1
    run_one "$old" old "$@"
    run_one "$new" new "$@"
    # derived.json records when a file was written: compare it without its times
    local f
    for f in "$tmp"/old/*/derived.json "$tmp"/new/*/derived.json; do
        [ -f "$f" ] && sed -i -E 's/"(written|created|at|time)": *"[^"]*"/"\1": "T"/g' "$f"
    done
    local diffs
    diffs=$(diff -r -x .embedpipe.lock "$tmp/old" "$tmp/new" 2>&1 || true)
    if [ -n "$diffs" ]; then
        echo "DIFFERS $name:"
        echo "$diffs" | head -40
        fails=$((fails + 1))
    else
        printf 'same    %-34s exit %s, %s bytes out, %s bytes err\n' "$name" "$(cat "$tmp/old/rc")" \
            "$(wc -c < "$tmp/old/stdout")" "$(wc -c < "$tmp/old/stderr")"
    fi
}

# info: the text and JSON forms; a model given, none found, a stray argument, help
compare info EMBEDPIPE_MODEL="$model" info
compare info-json EMBEDPIPE_MODEL="$model" info --json
compare info-model info -m "$model"
compare info-no-model HOME="$tmp/home" XDG_DATA_HOME="$tmp/home" info
compare info-no-model-json HOME="$tmp/home" XDG_DATA_HOME="$tmp/home" info --json
compare info-stray info stray
compare info-help info --help
compare info-bad-flag info --nope

# related: the kept files, and each refusal of a flag
compare related related texts -k 5 -t 2
compare related-memory related texts -k 3 -t 1 --memory 1
compare related-notext related notext -k 4 -t 2
compare related-bf16 related notext -k 4 -t 2 --precision bf16
compare related-bf16-blocks related notext -k 4 -t 2 --precision bf16 --memory 1
compare related-blocks related notext -k 7 -t 2 --memory 1
compare related-k0 related texts -k 0
compare related-precision related texts --precision fp16
compare related-memory0 related texts --memory 0
compare related-two related texts notext
compare related-missing related nowhere
compare related-help related --help

# duplicates: neighbours computed here, then read from related's files; near and exact groups; JSON
compare dup-computed duplicates notext -k 4 -t 2 --exact
compare dup-json duplicates notext -k 4 -t 2 --exact --json
compare dup-threshold duplicates texts --threshold 0.8 --show 3 -t 2
compare dup-kept duplicates related --exact --show 2
compare dup-kept-json duplicates related --threshold 0.9 --json
compare dup-bad-threshold duplicates texts --threshold 2
compare dup-bad-k duplicates texts -k 0
compare dup-missing duplicates nowhere
compare dup-help duplicates --help

# cluster: texts kept (words) and not (texts read again from the input); JSON; every flag's refusal
compare cluster-texts cluster texts -k 6 --seed 2 -t 2
compare cluster-texts-json cluster texts -k 6 --seed 2 -t 2 --json --words 3
compare cluster-show-all cluster texts -k 4 --show 0 --iterations 5 -t 1
compare cluster-notext cluster notext -k 5 -t 2
compare cluster-default-k cluster notext -t 2 --show 2
compare cluster-k0 cluster texts -k 0
compare cluster-words0 cluster texts --words 0
compare cluster-missing cluster nowhere
compare cluster-help cluster --help

# the tools beside them: similar and search read texts back; merge joins the parts; inspect, verify
compare similar-row similar notext --row 3 -k 5
compare similar-texts similar texts --row 10 -k 3
compare search search notext "happy day" -m "$model" --device cpu
compare merge merge part1 part2 -o merged
compare merge-one-part merge part1 -o merged
compare inspect inspect texts
compare verify verify notext

if [ "$fails" -gt 0 ]; then
    echo "compare-commands: $fails case(s) differ"
    exit 1
fi
echo "compare-commands: every case is byte-identical"
