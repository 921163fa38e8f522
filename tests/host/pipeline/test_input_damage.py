"""test_input_damage.py - damage in one input never costs the good records.

A truncated .zst, a corrupt .gz, a tweets.js and an archive.json cut off
mid-array, and a UTF-16 file, among good inputs: every record before each
damage is embedded (exactly the records a streaming decoder gets out of the
damaged bytes), each damage is one errors.ndjson line with file, byte, line
and reason, the good inputs are embedded whole, the run exits 4 and the
folder passes verify. Then the documented resume rule: a repaired input sends
the run back to the checkpoint before its damage and the folder ends equal to
a fresh run over the repaired inputs; an input that changed before its damage
is refused (pointing to --overwrite and --reuse); an unchanged damaged input
leaves a complete folder alone and still exits 4."""
import gzip
import json
import os
import shutil
import subprocess
import sys
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # pipeline_util.py
from pipeline_util import *  # noqa: E402,F403

if not shutil.which("zstd"):
    print("SKIP: the zstd command is needed")
    sys.exit(SKIP)

root = workdir("damage")
model = tiny_model(root)
base = ["-m", model, "--device", "cpu", "--shard-rows", "64"]
PARTIAL = 4


def ids_of(out):
    rows = []
    for name in sorted(os.listdir(out)):
        if name.endswith(".ids.ndjson.zst"):
            data = subprocess.run(["zstd", "-dcq", os.path.join(out, name)], check=True, stdout=subprocess.PIPE).stdout
            rows += [json.loads(l) for l in data.decode().splitlines()]
    return rows


def errors_of(out):
    with open(os.path.join(out, "errors.ndjson"), encoding="utf-8") as f:
        return [json.loads(l) for l in f]


def good_prefix(decoded):
    """The ids of the good records among the complete lines of decoded bytes (corrupt deflate data
    decodes to some garbage before inflate notices: those lines are rejected, not embedded)."""
    ids = []
    for line in decoded[: decoded.rfind(b"\n") + 1].splitlines():
        try:
            o = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            continue
        if isinstance(o, dict) and isinstance(o.get("text"), str) and o["text"].strip():
            ids.append(o["id"])
    return ids


def streamed(decompress, data):
    """Everything a streaming decoder gives before it fails, fed a byte at a time."""
    out = []
    for i in range(len(data)):
        try:
            out.append(decompress(data[i:i + 1]))
        except Exception:
            break
    return b"".join(out)


def tweet(i):
    return {"tweet": {"id_str": f"t{i}", "full_text": f"tweet number {i} about bikes and rain"}}


def tweets_js(n, head="window.YTD.tweets.part0 = ["):
    return head + "\n" + ",\n".join(json.dumps(tweet(i), indent=2) for i in range(n)) + "\n]\n"


def archive_json(n):
    return json.dumps({"account": [{"account": {"username": "x"}}], "tweets": [tweet(1000 + i) for i in range(n)],
                       "like": []}, indent=2) + "\n"


# --- the inputs: good ones around damaged ones
d = os.path.join(root, "in")
os.mkdir(d)
good_a = make_records(150, seed=1, first_id=0)
good_f = make_records(90, seed=2, first_id=5000)
write_lines(os.path.join(d, "a.ndjson"), good_a)
write_lines(os.path.join(d, "f.ndjson"), good_f)

b_lines = make_records(400, seed=3, first_id=1000)
# One frame per 40 lines (as pzstd and zstd -T write big files), so that a cut file still holds whole frames.
b_full = b"".join(subprocess.run(["zstd", "-q", "-c", "-3"], input="".join(l + "\n" for l in b_lines[k:k + 40]).encode(),
                                 check=True, stdout=subprocess.PIPE).stdout for k in range(0, len(b_lines), 40))
b_cut = b_full[: len(b_full) * 3 // 5]
open(os.path.join(d, "b.ndjson.zst"), "wb").write(b_cut)
# zstd -d writes out every block it could decode before it fails on the cut one.
b_expect = good_prefix(subprocess.run(["zstd", "-dcq"], input=b_cut, stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL).stdout)

c_lines = make_records(400, seed=4, first_id=2000)
c_full = gzip.compress("".join(l + "\n" for l in c_lines).encode(), mtime=0)
c_bad = bytearray(c_full)
for k in range(len(c_bad) // 2, len(c_bad) // 2 + 40):
    c_bad[k] ^= 0x5A
c_bad = bytes(c_bad)
open(os.path.join(d, "c.ndjson.gz"), "wb").write(c_bad)
c_expect = good_prefix(streamed(zlib.decompressobj(16 + 15).decompress, c_bad))

d_full = tweets_js(60)
cut = d_full.index('"t41"')  # inside tweet 41: tweets 0..40 are whole
open(os.path.join(d, "d_tweets.js"), "w").write(d_full[:cut])
e_full = archive_json(50)
open(os.path.join(d, "e_archive.json"), "w").write(e_full[: e_full.index('"t1030"')])
open(os.path.join(d, "u16.txt"), "wb").write("one line\nanother line\n".encode("utf-16"))

check(0 < len(b_expect) < 400 and 0 < len(c_expect) < 400,
      f"the damage must fall mid-file: b keeps {len(b_expect)}, c {len(c_expect)}")

names = ["a.ndjson", "b.ndjson.zst", "c.ndjson.gz", "d_tweets.js", "e_archive.json", "u16.txt", "f.ndjson"]
inputs = [os.path.join(d, n) for n in names]
out = os.path.join(root, "out")
p = run(["embed"] + inputs + ["-o", out] + base)
check(p.returncode == PARTIAL, f"damaged inputs: exit {p.returncode}, expected {PARTIAL}: {p.stderr[-1500:]}")
check("partial: 5 inputs are damaged" in p.stderr and "errors.ndjson" in p.stderr,
      f"the summary does not say the run is partial: {p.stderr[-800:]}")

rows = ids_of(out)
by_file = {}
for r in rows:
    by_file.setdefault(names[r["file"]], []).append(r["id"])
want = {
    "a.ndjson": [json.loads(l)["id"] for l in good_a],
    "b.ndjson.zst": b_expect,
    "c.ndjson.gz": c_expect,
    "d_tweets.js": [f"t{i}" for i in range(41)],
    "e_archive.json": [f"t{1000 + i}" for i in range(30)],
    "f.ndjson": [json.loads(l)["id"] for l in good_f],
}
for name, ids in want.items():
    got = by_file.get(name, [])
    check(got == ids, f"{name}: embedded {len(got)} rows, expected the {len(ids)} records before the damage"
                      f" (first differences: {[x for x in got if x not in ids][:3]} / {[x for x in ids if x not in got][:3]})")
check([names[r["file"]] for r in rows] == sorted([names[r["file"]] for r in rows], key=names.index),
      "rows are not in input order")

errs = {os.path.basename(e["file"]): e for e in errors_of(out) if e.get("damaged")}
check(sorted(errs) == sorted(["b.ndjson.zst", "c.ndjson.gz", "d_tweets.js", "e_archive.json", "u16.txt"]),
      f"damage entries for {sorted(errs)}")
for name, e in errs.items():
    check(isinstance(e.get("byte"), int) and e["byte"] >= 0 and e.get("line", 0) >= 1 and
          name in e.get("reason", ""), f"{name}: damage entry lacks file / byte / line / reason: {e}")
check("zstd data ends in the middle of a frame" in errs.get("b.ndjson.zst", {}).get("reason", ""),
      f"b: {errs.get('b.ndjson.zst')}")
check("corrupt gzip data" in errs.get("c.ndjson.gz", {}).get("reason", ""), f"c: {errs.get('c.ndjson.gz')}")
check("truncated" in errs.get("d_tweets.js", {}).get("reason", ""), f"d: {errs.get('d_tweets.js')}")
check("iconv -f UTF-16 -t UTF-8" in errs.get("u16.txt", {}).get("reason", ""), f"u16: {errs.get('u16.txt')}")
# The byte offsets: for plain files, just past the last good record.
d_text = d_full[:cut]
check(errs.get("d_tweets.js", {}).get("byte") == d_text.rindex("}") + 1,
      f"d: damage byte {errs.get('d_tweets.js', {}).get('byte')}, want {d_text.rindex('}') + 1}")
check(errs.get("b.ndjson.zst", {}).get("byte") == len("".join(l + "\n" for l in b_lines[:len(b_expect)]).encode()),
      f"b: damage byte {errs.get('b.ndjson.zst', {}).get('byte')}")
m = manifest(out)
check(m["complete"] and m["counts"]["embedded"] == len(rows), "the manifest does not close the run")
check(m["counts"]["rejected"] == len(errors_of(out)), "counts.rejected is not the number of errors.ndjson lines")
damaged = [os.path.basename(i["path"]) for i in m["inputs"] if "damage" in i]
check(sorted(damaged) == sorted(errs), f"the manifest records damage for {damaged}")
run(["verify", out], check_rc=0)

# --- the same command again, inputs unchanged: nothing to do, still partial
p = run(["embed"] + inputs + ["-o", out] + base)
check(p.returncode == PARTIAL and "nothing to do" in p.stderr, f"unchanged rerun: exit {p.returncode}: {p.stderr}")
check(len(ids_of(out)) == len(rows), "an unchanged rerun changed the rows")

# --- repair b, d and the UTF-16 file: the run goes back before b's damage and reads the rest
open(os.path.join(d, "b.ndjson.zst"), "wb").write(b_full)
open(os.path.join(d, "d_tweets.js"), "w").write(d_full)
p = run(["embed"] + inputs + ["-o", out] + base)
check(p.returncode == PARTIAL, f"after repairing b and d (c, e, u16 still damaged): exit {p.returncode}: {p.stderr[-800:]}")
check("going back to the checkpoint before the damage" in p.stderr, f"no word of going back: {p.stderr[-800:]}")
run(["verify", out], check_rc=0)
ref = os.path.join(root, "ref")
run(["embed"] + inputs + ["-o", ref] + base + ["-q"], check_rc=PARTIAL)
same_folders(out, ref, "repaired and resumed vs a fresh run", skip=("manifest.json",))
mo, mr = manifest(out), manifest(ref)
check(mo["counts"] == mr["counts"] and mo["shards"] == mr["shards"] and mo["inputs"] == mr["inputs"],
      "the resumed manifest differs from a fresh run's")
got_b = [r["id"] for r in ids_of(out) if names[r["file"]] == "b.ndjson.zst"]
check(len(got_b) == 400, f"b after repair: {len(got_b)} rows, expected 400")

# --- repair e and the UTF-16 file too: only c stays damaged
open(os.path.join(d, "e_archive.json"), "w").write(e_full)
open(os.path.join(d, "u16.txt"), "w").write("one line\nanother line\n")
p = run(["embed"] + inputs + ["-o", out] + base)
check(p.returncode == PARTIAL and "partial: 1 input is damaged" in p.stderr,
      f"only c damaged: exit {p.returncode}: {p.stderr[-800:]}")
ref2 = os.path.join(root, "ref2")
run(["embed"] + inputs + ["-o", ref2] + base + ["-q"], check_rc=PARTIAL)
same_folders(out, ref2, "repaired twice vs a fresh run", skip=("manifest.json",))
run(["verify", out], check_rc=0)

# --- c: corrupt deflate data decodes to some garbage before inflate notices, so the bytes before the damage
# were not those of the repaired file: the rule refuses, and says what to do.
open(os.path.join(d, "c.ndjson.gz"), "wb").write(c_full)
before = folder_digest(out)
p = run(["embed"] + inputs + ["-o", out] + base)
check(p.returncode == 3 and "c.ndjson.gz was damaged at byte" in p.stderr and "--overwrite" in p.stderr and
      "--reuse" in p.stderr, f"c repaired: exit {p.returncode}: {p.stderr[-800:]}")
check(folder_digest(out) == before, "a refused run changed the folder")
new = os.path.join(root, "new")
p = run(["embed"] + inputs + ["-o", new, "--reuse", out] + base + ["-q"], check_rc=0)
ref3 = os.path.join(root, "ref3")
run(["embed"] + inputs + ["-o", ref3] + base + ["-q"], check_rc=0)
# (vectors are compared only where the batches are the same: --reuse copies rows computed in other batches)
check(manifest(new)["counts"] == manifest(ref3)["counts"] and [r["id"] for r in ids_of(new)] == [r["id"] for r in ids_of(ref3)],
      "--reuse of the partial folder gives other rows than a fresh run")
run(["embed"] + inputs + ["-o", out, "--overwrite"] + base + ["-q"], check_rc=0)
same_folders(out, ref3, "--overwrite vs a fresh run", skip=("manifest.json",))

# --- a damaged input that changed before its damage too: refused, with what to do
d2 = os.path.join(root, "in2")
os.mkdir(d2)
t_path = os.path.join(d2, "tweets.js")
open(t_path, "w").write(d_full[:cut])
out2 = os.path.join(root, "out2")
run(["embed", os.path.join(d, "a.ndjson"), t_path, "-o", out2] + base + ["-q"], check_rc=PARTIAL)
before = folder_digest(out2)
open(t_path, "w").write(d_full.replace("tweet number 3 ", "tweet number three "))
p = run(["embed", os.path.join(d, "a.ndjson"), t_path, "-o", out2] + base)
check(p.returncode == 3 and "--overwrite" in p.stderr and "--reuse" in p.stderr and "tweets.js" in p.stderr,
      f"changed before the damage: exit {p.returncode}: {p.stderr[-600:]}")
check(folder_digest(out2) == before, "a refused run changed the folder")
p = run(["embed", os.path.join(d, "a.ndjson"), t_path, "-o", out2, "--overwrite"] + base + ["-q"], check_rc=0)

# --- the exit status is documented where users look
check("4 partial" in run(["embed", "--help"]).stdout, "embed --help does not document exit 4")
check("4    partial" in run(["--help"]).stdout, "embedpipe --help does not document exit 4")

cleanup(root)
finish("test_input_damage")
