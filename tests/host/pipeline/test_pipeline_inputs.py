"""test_pipeline_inputs.py - many inputs at once (files, a folder with --glob,
standard input, .zst and .gz compressed files) give the same rows as one
plain file; the ids files say which input and line each row came from."""
import gzip
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # pipeline_util.py
from pipeline_util import *  # noqa: E402,F403

root = workdir("inputs")
model = tiny_model(root)
lines = make_records(3000, seed=21, bad_every=400)
write_lines(os.path.join(root, "all.ndjson"), lines)
parts = [lines[:1000], lines[1000:2000], lines[2000:]]
d = os.path.join(root, "dir")
os.mkdir(d)
write_lines(os.path.join(d, "a.ndjson"), parts[0])
with gzip.open(os.path.join(d, "b.ndjson.gz"), "wt", encoding="utf-8") as f:
    f.write("".join(l + "\n" for l in parts[1]))
write_lines(os.path.join(d, "c.ndjson"), parts[2])
write_lines(os.path.join(d, "ignored.txt"), ["not an input"])
if shutil.which("zstd"):
    subprocess.run(["zstd", "-q", "--rm", os.path.join(d, "c.ndjson")], check=True)
else:
    print("note: zstd command not found; c stays uncompressed")
base = ["-m", model, "--device", "cpu", "--shard-rows", "512", "-q"]

one = os.path.join(root, "one")
run(["embed", os.path.join(root, "all.ndjson"), "-o", one] + base, check_rc=0)
many = os.path.join(root, "many")
run(["embed", d, "--glob", "*.ndjson*", "-o", many] + base, check_rc=0)
stdin = os.path.join(root, "stdin")
with open(os.path.join(root, "all.ndjson"), "rb") as f:
    run(["embed", "-", "-o", stdin] + base, check_rc=0, stdin=f)

def shards(folder):
    return {k: v for k, v in folder_digest(folder).items() if k.endswith(".npy.zst")}

check(shards(one) == shards(many), "a folder of .ndjson/.gz/.zst inputs gives other vectors than one file")
check(shards(one) == shards(stdin), "standard input gives other vectors than the file")
man = open(os.path.join(many, "manifest.json")).read()
check(man.count('"path"') == 3 and "ignored.txt" not in man, "--glob did not pick exactly the three inputs")
e1 = open(os.path.join(one, "errors.ndjson")).read().count("\n")
e2 = open(os.path.join(many, "errors.ndjson")).read().count("\n")
check(e1 == e2 and e1 > 0, f"rejections differ: {e1} vs {e2}")
p = run(["embed", os.path.join(root, "missing.ndjson"), "-o", os.path.join(root, "m")] + base)
check(p.returncode == 1 and "missing.ndjson" in p.stderr, f"a missing input: exit {p.returncode}: {p.stderr}")
cleanup(root)
finish("test_pipeline_inputs")
