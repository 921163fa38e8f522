#!/usr/bin/env bash
# compare-output.sh - the output folders of two embedpipe binaries, byte for byte, on the real inputs
# of ../shared/data in every format (tweets.js, an archive.json made from it, Twitter API v2 pages,
# flat NDJSON, plain lines) and on edge cases (damage, blank lines, empty API pages, empty files,
# --skip-blank, --part, --shard-rows, --threads). For a change that must not change any output, e.g.
# moving parsing from the reader into the workers:
#
#   scripts/compare-output.sh OLD_BIN build/embedpipe [MODEL_DIR]
#
# OLD_BIN is the binary built at the commit to compare against, e.g.
#   mkdir /tmp/base && git archive BASE_COMMIT | tar -x -C /tmp/base &&
#   cmake -S /tmp/base -B /tmp/base/build -G Ninja -DCMAKE_BUILD_TYPE=Release -DEMBEDPIPE_CUDA=OFF &&
#   ninja -C /tmp/base/build embedpipe
#
# MODEL_DIR defaults to a tiny random model (scripts/make-tiny-model.py, the real vocab when
# models/all-MiniLM-L6-v2 is there): the vectors differ from the real model's, but every byte of
# every file still has to match, and it runs in a minute on two cores. Prints one line per case and
# exits 1 when any folder differs (the differing files are named).
set -euo pipefail
old=${1:?usage: compare-output.sh OLD_BIN NEW_BIN [MODEL_DIR]}
new=${2:?usage: compare-output.sh OLD_BIN NEW_BIN [MODEL_DIR]}
here=$(cd "$(dirname "$0")/.." && pwd)
data=${EP_DATA_DIR:-$here/../shared/data}
[ -d "$data/twitter-export" ] || data=/work/shared/data
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ep-compare-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
py=${EP_PYTHON:-python3}

model=${3:-}
if [ -z "$model" ]; then
    model=$tmp/model
    vocab=()
    [ -f "$here/models/all-MiniLM-L6-v2/vocab.txt" ] && vocab=(--vocab "$here/models/all-MiniLM-L6-v2/vocab.txt")
    "$py" "$here/scripts/make-tiny-model.py" --out "$model" --hidden 32 --layers 2 --heads 2 --intermediate 64 \
        --max-seq-length 128 --seed 3 "${vocab[@]}" >/dev/null
fi

# Inputs: the real files where they are, and made ones in $tmp.
in=$tmp/in
mkdir -p "$in"
"$py" "$here/scripts/make-archive-json.py" "$data/twitter-export/tweets.js" "$in/archive.json"
head -c 1500000 "$data/twitter-export/tweets.js" > "$in/truncated-tweets.js"          # damage: cut mid-element
head -c 200000 "$data/twarc/kpop.jsonl" | gzip > "$in/cut.jsonl.gz"
gzip -c "$data/twarc/brexit.jsonl" > "$in/brexit.jsonl.gz"
head -c 60000 "$in/brexit.jsonl.gz" > "$in/corrupt.jsonl.gz"                             # damage in the compressed stream
cat "$data"/tweeteval/emotion-*_text.txt > "$in/emotion.txt"
printf 'first line\n\n   \nsecond\n\t\nlast without newline' > "$in/blanks.txt"
printf '{"data": []}\n\n{"data": [{"id": "1", "text": "one"}, 7, {"id": "3"}]}\n  \n{"text": "x", "id": 2}\n{"data": []}\n{bad json\n' > "$in/pages-edge.jsonl"
printf '{"data": []}\n{"data": []}\n' > "$in/only-empty-pages.jsonl"
# damage right after an empty API page: the damage begins before the page, as one reader saw it
"$py" - "$in/empty-then-damage.jsonl.gz" <<'PY'
import base64, gzip, json, random, sys
rnd = random.Random(5)
lines = [json.dumps({"id": str(i), "text": "good %d" % i}) for i in range(100)] + ['{"data": []}', '', '{"data": []}']
lines.append(json.dumps({"id": "big", "text": base64.b64encode(rnd.randbytes(150000)).decode()}))
z = gzip.compress(("\n".join(lines) + "\n").encode())
open(sys.argv[1], "wb").write(z[: len(z) - 100000])
PY
: > "$in/empty.jsonl"
printf '\n\n' > "$in/only-blank.jsonl"

fails=0
# compare NAME -- embed arguments...
compare() {
    local name=$1
    shift
    local a=$tmp/out/old-$name b=$tmp/out/new-$name
    mkdir -p "$tmp/out"
    local ra=0 rb=0
    # The same zstd level for both: the default went from 3 to 1 (bench/zstd-levels.sh), which changes
    # the compressed bytes, never what they hold.
    "$old" embed "$@" -m "$model" --device cpu --zstd-level 3 -q -o "$a" 2>"$tmp/old.err" || ra=$?
    "$new" embed "$@" -m "$model" --device cpu --zstd-level 3 -q -o "$b" 2>"$tmp/new.err" || rb=$?
    local diffs
    diffs=$(diff -rq -x .embedpipe.lock "$a" "$b" 2>&1 || true)
    if [ "$ra" != "$rb" ]; then
        echo "DIFFERS $name: exit $ra (old) vs $rb (new)"
        fails=$((fails + 1))
    elif [ -n "$diffs" ]; then
        echo "DIFFERS $name: $diffs"
        fails=$((fails + 1))
    else
        printf 'same    %-28s exit %s, %s files, %s rows, %s rejected\n' "$name" "$ra" "$(ls "$a" | wc -l)" \
            "$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["counts"]["embedded"])' "$a/manifest.json" 2>/dev/null || echo -)" \
            "$(wc -l < "$a/errors.ndjson" 2>/dev/null || echo -)"
    fi
    rm -rf "$a" "$b"
}

compare tweets-js "$data/twitter-export/tweets.js" --shard-rows 700
compare archive-json "$in/archive.json" --shard-rows 700
compare api-v2-pages "$data/twarc/kpop.jsonl" "$data/twarc/brexit.jsonl" "$data/twarc/streaming_output_with_error.jsonl" --shard-rows 300
compare ndjson-flat "$data/twarc/flat.jsonl" --shard-rows 400
compare lines "$in/emotion.txt" "$in/blanks.txt" --shard-rows 1000
compare lines-skip-blank "$in/emotion.txt" "$in/blanks.txt" --shard-rows 1000 --skip-blank
compare threads-1 "$data/twitter-export/tweets.js" "$data/twarc/kpop.jsonl" --threads 1 --shard-rows 500
compare threads-3 "$data/twitter-export/tweets.js" "$data/twarc/kpop.jsonl" --threads 3 --shard-rows 500
compare part-1-of-3 "$in/emotion.txt" "$data/twarc/brexit.jsonl" --part 1/3 --shard-rows 400
compare empty-page-then-damage "$in/empty-then-damage.jsonl.gz" "$data/twarc/flat.jsonl"
compare damaged "$in/truncated-tweets.js" "$in/cut.jsonl.gz" "$in/corrupt.jsonl.gz" "$data/twarc/flat.jsonl" --shard-rows 500
compare edge-cases "$in/pages-edge.jsonl" "$in/only-empty-pages.jsonl" "$in/empty.jsonl" "$in/only-blank.jsonl" "$in/blanks.txt"
compare max-record-bytes "$data/twitter-export/tweets.js" "$data/twarc/kpop.jsonl" --max-record-bytes 3000
compare text-id-paths "$data/twarc/flat.jsonl" --text source --id author_id
compare nothing-good "$in/only-empty-pages.jsonl" "$in/empty.jsonl"
# --keep / --clean / --no-text (both binaries must have them): the kept fields, the archive's account as
# "default"'s author, the cleaned text, retweets dropped.
all_formats=("$data/twitter-export/tweets.js" "$in/archive.json" "$data/twarc/kpop.jsonl" "$data/twarc/flat.jsonl" "$in/emotion.txt")
compare keep-clean "${all_formats[@]}" --keep default,tweet.lang --clean all --shard-rows 700
compare keep-no-text "${all_formats[@]}" --keep default --no-text --shard-rows 700
# kept values of every kind (objects, arrays, numbers, booleans, nulls, missing), read by the fast path
compare keep-paths "${all_formats[@]}" "$data/twarc/brexit.jsonl" --keep default,public_metrics,entities.hashtags,user.followers_count,tweet.favorite_count,tweet.entities,possibly_sensitive,geo,edit_history_tweet_ids,tweet.retweeted --shard-rows 900
compare clean-skip-blank "${all_formats[@]}" "$in/blanks.txt" --clean retweets,links --skip-blank --threads 3
# --part with rows dropped before numbering (blank lines, retweets) and every format: the workers count the
# rows themselves to tokenise only the part's (host/pipeline/row_ahead.c), so the parts must stay the same.
compare part-0-of-2-clean "${all_formats[@]}" "$in/blanks.txt" --part 0/2 --clean retweets --skip-blank --shard-rows 300 --threads 3
compare part-2-of-3-keep "${all_formats[@]}" "$in/pages-edge.jsonl" --part 2/3 --keep default,source,user.followers_count --shard-rows 500
compare part-1-of-4-damaged "$in/truncated-tweets.js" "$in/empty-then-damage.jsonl.gz" "$data/twarc/flat.jsonl" --part 1/4 --shard-rows 100 --threads 1

if [ "$fails" -gt 0 ]; then
    echo "compare-output: $fails case(s) differ"
    exit 1
fi
echo "compare-output: every folder is byte-identical"
