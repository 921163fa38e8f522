"""test_cli_inputs.py - the command line on real and on broken input.

Real data (../shared/data, skipped when absent): the Twitter export gives all
2,045 tweets, twarc's flat.jsonl all 100, API v2 pages one row per tweet, a
stream capture with error objects rejects exactly those. Broken input: each
kind of bad record gets an errors.ndjson entry naming file, line and reason,
and every good record around it is still embedded, in input order."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from pipeline_util import *  # noqa: E402,F403

root = workdir("cli-inputs")
model = tiny_model(root)
base = ["-m", model, "--device", "cpu", "-q"]


def ids_of(out):
    rows = []
    for name in sorted(os.listdir(out)):
        if name.endswith(".ids.ndjson.zst"):
            text = subprocess.run(["zstd", "-dcq", os.path.join(out, name)], check=True,
                                  stdout=subprocess.PIPE).stdout.decode()
            rows += [json.loads(l) for l in text.splitlines()]
    return rows


def errors_of(out):
    with open(os.path.join(out, "errors.ndjson")) as f:
        return [json.loads(l) for l in f]


def manifest(out):
    with open(os.path.join(out, "manifest.json")) as f:
        return json.load(f)


# --- broken input, one kind per line, good records between them
good = [json.dumps({"id": f"g{i}", "text": f"good record number {i}"}) for i in range(8)]
bad = {
    2: '{"id": "m1", "text": "malformed',                      # not JSON
    4: b'{"id": "u1", "text": "bad \xff\xfe utf8"}',             # invalid UTF-8
    6: '{"id": "n1", "note": "no text field"}',                # missing text
    8: '{"id": "n2", "text": null}',                           # null text
    10: '{"id": "n3", "text": 42}',                            # numeric text
    12: '{"id": "big", "text": "' + "x" * (10 * 1024 * 1024) + '"}',  # a 10 MB line
    14: b'{"id": "z1", "text": "nul\x00byte"}',                 # a NUL byte
    16: '{"id": "z2", "text": "escaped nul \\u0000 here"}',    # an escaped NUL
}
path = os.path.join(root, "broken.ndjson")
with open(path, "wb") as f:
    g = iter(good)
    for line_no in range(1, 18):
        item = bad.get(line_no)
        if item is None:
            item = next(g, json.dumps({"id": f"x{line_no}", "text": "filler"}))
        f.write((item if isinstance(item, bytes) else item.encode()) + b"\n")
    f.write(b'{"id": "t1", "text": "truncated last li')      # a truncated last line, no newline
out = os.path.join(root, "broken-out")
run(["embed", path, "-o", out] + base, check_rc=0)
errs = errors_of(out)
lines = sorted(e["line"] for e in errs)
check(lines == sorted(list(bad) + [18]), f"rejected lines {lines}, expected {sorted(list(bad) + [18])}")
for e in errs:
    check(e["file"] == path and e["reason"], f"entry without file or reason: {e}")
print("\n".join(f"  line {e['line']}: {e['reason'][:110]}" for e in sorted(errs, key=lambda e: e["line"])))
rows = ids_of(out)
check([r["line"] for r in rows] == [n for n in range(1, 18) if n not in bad],
      f"good rows {[r['line'] for r in rows]}")
m = manifest(out)
check(m["counts"] == {"read": 18, "embedded": 9, "rejected": 9}, f"counts {m['counts']}")

# --- an empty file: one entry, no shard, a complete folder, and exit 1: nothing was embedded
empty = os.path.join(root, "empty.ndjson")
open(empty, "w").close()
out = os.path.join(root, "empty-out")
run(["embed", empty, "-o", out] + base, check_rc=1)
check(len(errors_of(out)) == 1 and not ids_of(out), "an empty file should give one entry and no rows")
check(manifest(out)["complete"] is True, "the empty run is not complete")

# --- real data
data = os.environ.get("EP_SHARED_DATA", "")
if not os.path.isdir(data):
    print(f"SKIP (real data): {data} not found; the shared tweet data is not beside this checkout")
else:
    cases = [("twitter-export/tweets.js", 2045, "tweets-js"), ("twarc/flat.jsonl", 100, "ndjson")]
    for rel, want, fmt in cases:
        out = os.path.join(root, rel.replace("/", "_"))
        run(["embed", os.path.join(data, rel), "-o", out] + base, check_rc=0)
        m = manifest(out)
        check(m["counts"]["embedded"] == want and m["counts"]["rejected"] == 0,
              f"{rel}: {m['counts']} (expected {want} rows)")
        check(m["inputs"][0]["format"] == fmt, f"{rel}: detected {m['inputs'][0]['format']}")
        rows = ids_of(out)
        check(all(r["id"].isdigit() and len(r["id"]) >= 15 for r in rows), f"{rel}: ids are not tweet ids")
        run(["verify", out], check_rc=0)
    for rel in ("twarc/kpop.jsonl", "twarc/brexit.jsonl"):
        with open(os.path.join(data, rel)) as f:
            want = sum(len(json.loads(l).get("data", [])) for l in f if l.strip())
        out = os.path.join(root, rel.replace("/", "_"))
        run(["embed", os.path.join(data, rel), "-o", out] + base, check_rc=0)
        check(manifest(out)["counts"]["embedded"] == want, f"{rel}: {manifest(out)['counts']} (want {want})")
    rel = "twarc/streaming_output_with_error.jsonl"
    out = os.path.join(root, "stream")
    run(["embed", os.path.join(data, rel), "-o", out] + base, check_rc=0)
    n_err = 0
    with open(os.path.join(data, rel)) as f:
        for l in f:
            try:
                n_err += "data" not in json.loads(l)
            except ValueError:  # the capture ends in a cut-off line
                n_err += 1
    check(len(errors_of(out)) == n_err and n_err > 0, f"{rel}: {len(errors_of(out))} rejections, {n_err} error lines")
cleanup(root)
finish("test_cli_inputs")
