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

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # pipeline_util.py
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
}
nul_line = 16  # an escaped NUL: embedded without it (BERT's tokenizer drops NUL), not rejected
good.append('{"id": "z2", "text": "escaped nul \\u0000 here"}')
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
check(m["counts"] == {"read": 18, "embedded": 10, "rejected": 8}, f"counts {m['counts']}")
nul_rows = [r for r in rows if r["line"] == nul_line]
check(len(nul_rows) == 1 and nul_rows[0]["id"] == "z2", f"the \\u0000 record is not row of line {nul_line}: {nul_rows}")

# --- an empty file: one entry, no shard, a complete folder, and exit 1: nothing was embedded
empty = os.path.join(root, "empty.ndjson")
open(empty, "w").close()
out = os.path.join(root, "empty-out")
run(["embed", empty, "-o", out] + base, check_rc=1)
check(len(errors_of(out)) == 1 and not ids_of(out), "an empty file should give one entry and no rows")
check(manifest(out)["complete"] is True, "the empty run is not complete")

# --- issue 8: what a reader used to get wrong
# A \u0000 escape is removed: the text embedded is the one without it (same hash, same vector alone).
for name, text in (("nul", "hello\\u0000world"), ("plain", "helloworld")):
    with open(os.path.join(root, name + ".ndjson"), "w") as f:
        f.write('{"id": "%s", "text": "%s"}\n' % (name, text))
    run(["embed", os.path.join(root, name + ".ndjson"), "-o", os.path.join(root, name + "-out")] + base, check_rc=0)
a, b = ids_of(os.path.join(root, "nul-out")), ids_of(os.path.join(root, "plain-out"))
check(len(a) == 1 and len(b) == 1 and a[0]["hash"] == b[0]["hash"] and a[0]["tokens"] == b[0]["tokens"],
      f"\\u0000 text: {a} vs {b}")
shard = "shard-00000.npy.zst"
check(folder_digest(os.path.join(root, "nul-out")).get(shard) == folder_digest(os.path.join(root, "plain-out")).get(shard),
      "the \\u0000 text gets another vector than the text without it")

# Blank lines of plain text: every line is a row (row N = line N), or dropped with --skip-blank; counted.
txt = os.path.join(root, "labels.txt")
with open(txt, "w") as f:
    f.write("first line\n\nthird line\n   \nfifth line\n")
out = os.path.join(root, "blank-out")
p = run(["embed", txt, "-o", out, "-m", model, "--device", "cpu"], check_rc=0)
rows = ids_of(out)
check([r["line"] for r in rows] == [1, 2, 3, 4, 5] and rows[1]["tokens"] == 2 and rows[3]["tokens"] == 2,
      f"blank lines: rows {[(r['line'], r['tokens']) for r in rows]}")
check("2 blank lines embedded as the empty text" in p.stderr, f"blank lines not counted: {p.stderr[-500:]}")
p = run(["tokenize", "-m", model, ""], check_rc=0)
check(p.stdout.split() == ["101", "102"], f"the empty text tokenizes to {p.stdout!r}, not [CLS] [SEP]")
out = os.path.join(root, "skip-out")
p = run(["embed", txt, "-o", out, "--skip-blank", "-m", model, "--device", "cpu"], check_rc=0)
check([r["line"] for r in ids_of(out)] == [1, 3, 5], f"--skip-blank rows {[r['line'] for r in ids_of(out)]}")
check("2 blank lines dropped (--skip-blank)" in p.stderr, f"dropped blank lines not counted: {p.stderr[-500:]}")
p = run(["embed", txt, "-o", out] + base)
check(p.returncode == 3 and "--skip-blank" in p.stderr, f"resuming without --skip-blank: {p.returncode} {p.stderr}")

# tweets.js whose first line is not `window.YTD.tweets.part0 = [`: still an export, not lines of fragments.
tweets = ",\n".join(json.dumps({"tweet": {"id_str": str(i), "full_text": f"tweet {i}"}}, indent=2) for i in range(5))
for k, head in enumerate(("YTD.tweets.part0 = [", "window.YTD.tweet.part1 = [", "var tweets = [")):
    js = os.path.join(root, f"head{k}.js")
    with open(js, "w") as f:
        f.write(head + "\n" + tweets + "\n]")
    out = os.path.join(root, f"head{k}-out")
    run(["embed", js, "-o", out] + base, check_rc=0)
    check(manifest(out)["inputs"][0]["format"] == "tweets-js" and [r["id"] for r in ids_of(out)] == list("01234"),
          f"'{head}': format {manifest(out)['inputs'][0]['format']}, {len(ids_of(out))} rows")

# A file read as lines whose lines look like JSON: a warning naming --format.
frag = os.path.join(root, "fragments")
with open(frag, "w") as f:
    f.write(tweets.split("\n", 1)[1])
p = run(["embed", frag, "-o", os.path.join(root, "frag-out"), "-m", model, "--device", "cpu"], check_rc=0)
check("look like pieces of JSON" in p.stderr and "--format" in p.stderr, f"no warning: {p.stderr[-600:]}")

# Messages that name the problem: a lone surrogate, too deep a nesting, a duplicate key.
odd = os.path.join(root, "odd.ndjson")
with open(odd, "w") as f:
    f.write('{"id": "s", "text": "emoji cut \\ud83d here"}\n')
    f.write('{"id": "d", "text": "deep", "x": ' + "[" * 1100 + "]" * 1100 + "}\n")
    f.write('{"id": "k", "text": "one", "text": "two"}\n')
    f.write('{"id": "ok", "text": "fine"}\n')
out = os.path.join(root, "odd-out")
run(["embed", odd, "-o", out] + base, check_rc=0)
reasons = {e["line"]: e["reason"] for e in errors_of(out)}
check("lone UTF-16 surrogate escape '\\ud83d'" in reasons.get(1, ""), f"surrogate: {reasons.get(1)}")
check("nested more than 1000 levels deep" in reasons.get(2, ""), f"deep: {reasons.get(2)}")
check("the key 'text' of the text path 'text' appears twice" in reasons.get(3, ""), f"duplicate: {reasons.get(3)}")
check([r["id"] for r in ids_of(out)] == ["ok"], "the good record after them is not embedded")

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
