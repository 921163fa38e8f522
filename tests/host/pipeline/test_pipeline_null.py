"""test_pipeline_null.py - `--device null` runs everything of a run but the encoder: on the same inputs
it gives the ids files, errors.ndjson and counts of a CPU run, every row zeros, and a manifest that
says so (model.device "null", not normalised) which `verify` accepts and `search` refuses. A null
folder is not the same job as a CPU folder: resuming or reusing across them is refused."""
import json
import os
import sys

import numpy as np
import zstandard

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # pipeline_util.py
from pipeline_util import *  # noqa: E402,F403

root = workdir("null")
model = tiny_model(root)
src = os.path.join(root, "in.ndjson")
lines = make_records(1500, seed=5, bad_every=97)
# an API v2 page among the lines: one line, several records
lines.insert(300, json.dumps({"data": [{"id": "p1", "text": "page one"}, {"id": "p2", "text": None},
                                       {"id": "p3", "text": "page three"}]}))
write_lines(src, lines)
base = ["-m", model, "--shard-rows", "256", "-q", "--threads", "2"]

cpu, null = os.path.join(root, "cpu"), os.path.join(root, "null")
run(["embed", src, "-o", cpu, "--device", "cpu"] + base, check_rc=0)
run(["embed", src, "-o", null, "--device", "null"] + base, check_rc=0)


def unzstd(path):
    with open(path, "rb") as f:
        return zstandard.ZstdDecompressor().decompressobj().decompress(f.read())


names = sorted(os.listdir(cpu))
check(names == sorted(os.listdir(null)), f"file names differ: {names} vs {sorted(os.listdir(null))}")
for name in names:
    if name.endswith(".ids.ndjson.zst"):
        check(unzstd(os.path.join(cpu, name)) == unzstd(os.path.join(null, name)), f"{name} differs")
check(open(os.path.join(cpu, "errors.ndjson")).read() == open(os.path.join(null, "errors.ndjson")).read(),
      "errors.ndjson differs between the cpu and the null device")
mc, mn = manifest(cpu), manifest(null)
check(mc["counts"] == mn["counts"] and mc["counts"]["rejected"] > 0, f"counts: {mc['counts']} vs {mn['counts']}")
check(mn["model"].get("device") == "null" and mn["model"]["normalized"] is False,
      f"the null manifest does not say it is null: {mn['model']}")
check("device" not in mc["model"] and mc["model"]["normalized"] is True, f"the cpu manifest changed: {mc['model']}")
rows = 0
for name in names:
    if name.endswith(".npy.zst"):
        raw = unzstd(os.path.join(null, name))
        arr = np.load(__import__("io").BytesIO(raw))
        rows += arr.shape[0]
        check(arr.shape[1] == mn["model"]["dim"] and not arr.any(), f"{name}: not all zeros, shape {arr.shape}")
check(rows == mn["counts"]["embedded"], f"{rows} rows in the shards, manifest says {mn['counts']['embedded']}")
run(["verify", null], check_rc=0)
p = run(["search", null, "bike", "-m", model])
check(p.returncode != 0 and "null" in p.stderr, f"search over a null folder: exit {p.returncode}: {p.stderr}")
# resuming a null folder with a real device must not mix zero rows with embeddings
p = run(["embed", src, "-o", null, "--device", "cpu"] + base)
check(p.returncode != 0 and "device" in p.stderr, f"a cpu run into a null folder: exit {p.returncode}: {p.stderr}")
p = run(["embed", src, "-o", os.path.join(root, "x"), "--device", "null", "--precision", "fp32"] + base)
check(p.returncode == 2, f"--device null --precision fp32: exit {p.returncode}, expected a usage error")

# 1 worker and 4 give the same folder: records are parsed in any order by the workers, numbered in
# read order by compute. Every format at once: tweets.js, API pages, plain lines (with blanks).
tj = os.path.join(root, "tweets.js")
with open(tj, "w", encoding="utf-8") as f:
    f.write("window.YTD.tweets.part0 = [\n" + ",\n".join(
        json.dumps({"tweet": {"id_str": str(i), "full_text": "tweet %d %s" % (i, "x" * (i % 50))}}) if i % 37 else "7"
        for i in range(3000)) + "\n]\n")
pages = os.path.join(root, "pages.jsonl")
write_lines(pages, [json.dumps({"data": [{"id": "%d-%d" % (p, k), "text": "page %d tweet %d" % (p, k)} if k % 11 else 5
                                         for k in range(p % 40)]}) for p in range(200)])
txt = os.path.join(root, "lines.txt")
write_lines(txt, ["line %d" % i if i % 13 else "" for i in range(2000)])
folders = []
for t in ("1", "4"):
    d = os.path.join(root, "threads-" + t)
    run(["embed", tj, pages, txt, src, "-o", d, "--device", "null", "-m", model, "--shard-rows", "300", "-q",
         "--threads", t], check_rc=0)
    folders.append(d)
same_folders(folders[0], folders[1], "--threads 1 and --threads 4")
m = manifest(folders[0])
check(m["counts"]["rejected"] > 100 and m["counts"]["embedded"] > 5000, f"counts: {m['counts']}")

# Damage right after API pages with an empty "data" (a truncated .gz of a search that ended with no
# results): as when one thread parsed in order, the damage begins before the first empty page.
import base64, gzip, random  # noqa: E402
rnd = random.Random(5)
good = [json.dumps({"id": str(i), "text": "good %d" % i}) for i in range(100)]
lines = good + ['{"data": []}', "", '{"data": []}', json.dumps({"id": "big", "text": base64.b64encode(
    rnd.randbytes(150000)).decode()})]
z = gzip.compress(("\n".join(lines) + "\n").encode())
cut = os.path.join(root, "cut.jsonl.gz")
open(cut, "wb").write(z[: len(z) - 100000])
d = os.path.join(root, "cut")
run(["embed", cut, "-o", d, "--device", "null", "-m", model, "-q", "--threads", "3"], check_rc=4)
err = [json.loads(l) for l in open(os.path.join(d, "errors.ndjson"))]
want = len(("\n".join(good) + "\n").encode())
check(len(err) == 1 and err[0].get("damaged") and err[0]["line"] == 101 and err[0]["byte"] == want,
      f"damage after empty pages: {err}, expected line 101 byte {want}")
cleanup(root)
finish("test_pipeline_null")
