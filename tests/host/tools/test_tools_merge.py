"""test_tools_merge.py - `embed --part I/N` for N = 1..5, merged with `embedpipe merge`,
is byte-identical (every file: shards, ids files, errors.ndjson, manifest.json)
to a single-process run of the same job; also when N exceeds the number of
shards, when the rows fill the last shard exactly, and when every record is
rejected (each such run exits 1, as a run that embedded nothing must, and its
complete folder still merges). Parts are taken from --part I/N, from Slurm's variables (--part auto)
and from a Kubernetes Indexed Job's JOB_COMPLETION_INDEX (--part N), as
docs/scale-out.md runs them. Merge refuses, with exit 3 and nothing written: a
missing part, a part given twice, parts of different jobs or splits, an
incomplete part and a damaged one; and an output folder that holds another
output. Merging again is a no-op, and completes an interrupted merge. Each part
tokenises only its own rows (the texts_tokenized count of bench --json and embed's
summary), also with blank lines and retweets dropped before numbering. Parts
that --reuse a previous merged output merge into what a single --reuse run
writes."""
import json
import os
import random
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_tools_util import *  # noqa: E402,F403

root, model = start("merge")
ROWS = "37"
t_start = time.time()


def embed(inp, out, extra=(), env=None, rc=0):
    return run(["embed", inp, "-o", out, "-m", model, "--device", "cpu", "--threads", "2", "--shard-rows", ROWS,
                "-q"] + list(extra), check_rc=rc, env=env)


def parts_of(inp, tag, n, how="slash", rc=0):
    """Runs the n parts of inp; how = slash (--part I/N), slurm (--part auto) or k8s (--part N)."""
    dirs = []
    for i in range(n):
        d = f"{tag}-{n}-part{i}"
        if how == "slurm":
            env = {"SLURM_ARRAY_TASK_ID": str(i), "SLURM_ARRAY_TASK_COUNT": str(n), "SLURM_ARRAY_TASK_MIN": "0"}
            embed(inp, d, ["--part", "auto"], env=env)
        elif how == "k8s":
            embed(inp, d, ["--part", str(n)], env={"JOB_COMPLETION_INDEX": str(i)})
        else:
            embed(inp, d, ["--part", f"{i}/{n}"], rc=rc)
        dirs.append(d)
    return dirs


# Inputs: many shards; exactly two full shards then rejections; nothing but rejections.
write_lines("big.ndjson", make_records(1500, seed=3, bad_every=41))
write_lines("exact.ndjson", make_records(74, seed=4) + make_records(3, bad_every=1, first_id=900))
write_lines("allbad.ndjson", make_records(20, bad_every=1))

embed("big.ndjson", "single")
m = manifest("single")
check(len(m["shards"]) > 30, f"expected many shards, got {len(m['shards'])}")
check(m["counts"]["rejected"] > 0, "the input should have rejected records")

rnd = random.Random(1)
hows = {1: "slash", 2: "slash", 3: "slash", 4: "slurm", 5: "k8s"}
parts = {}
for n in range(1, 6):
    dirs = parts_of("big.ndjson", "big", n, hows[n])
    parts[n] = dirs
    for i, d in enumerate(dirs):
        pm = manifest(d)
        check(pm["run"]["part_index"] == i and pm["run"]["part_count"] == n,
              f"{d}: run says part {pm['run']['part_index']} of {pm['run']['part_count']}")
    shuffled = dirs[:]
    rnd.shuffle(shuffled)  # merge takes the parts in any order
    out = f"merged-{n}"
    p = run(["merge"] + shuffled + ["-o", out], check_rc=0)
    check("merged" in p.stderr.decode(), f"merge of {n} parts: no summary on stderr")
    same_folders("single", out, f"{n} parts merged vs one run")
    run(["verify", out], check_rc=0)

# Each part parses every record (that is how it numbers the rows) but tokenises only its own rows: the
# pipeline's count of texts tokenised (bench --json, and embed's summary) is the part's rows, not the job's.
def bench(inp, extra=()):
    p = run(["bench", inp, "-m", model, "--device", "cpu", "--threads", "2", "--shard-rows", ROWS, "--json"]
            + list(extra), check_rc=0)
    return json.loads(p.stdout.decode())


whole = bench("big.ndjson")
check(whole["texts_tokenized"] == m["counts"]["embedded"],
      f"a whole run tokenised {whole['texts_tokenized']} texts for {m['counts']['embedded']} rows")
for i, d in enumerate(parts[3]):
    b = bench("big.ndjson", ["--part", f"{i}/3"])
    rows = manifest(d)["counts"]["embedded"]
    check(b["records_read"] == m["counts"]["read"], f"part {i}/3 read {b['records_read']} records")
    check(b["texts_tokenized"] == rows == b["records_embedded"] and 0 < rows < m["counts"]["embedded"] // 2,
          f"part {i}/3 tokenised {b['texts_tokenized']} texts for its {rows} rows (job: {m['counts']['embedded']})")
p = run(["embed", "big.ndjson", "-o", "said-1-of-3", "-m", model, "--device", "cpu", "--shard-rows", ROWS,
         "--part", "1/3"], check_rc=0)
rows = manifest("said-1-of-3")["counts"]["embedded"]
check(f"{rows} texts tokenised" in p.stderr.decode(), f"embed --part 1/3 does not say it tokenised {rows} texts: "
      f"{p.stderr.decode()}")

# Rows that depend on more than the record being good: blank lines dropped (--skip-blank) and retweets
# dropped (--clean retweets) are numbered by nobody, in the parts as in one run.
lines = []
for k in range(400):
    lines.append("" if k % 7 == 3 else f"RT @user{k}: retweeted {k}" if k % 5 == 1 else f"text number {k} here")
open("mixed.txt", "w").write("\n".join(lines) + "\n")
opts = ["--skip-blank", "--clean", "retweets", "--format", "lines"]
embed("mixed.txt", "mixed-single", opts)
mixed = [f"mixed-part{i}" for i in range(3)]
for i, d in enumerate(mixed):
    p = run(["embed", "mixed.txt", "-o", d, "-m", model, "--device", "cpu", "--threads", "2", "--shard-rows", ROWS,
             "--part", f"{i}/3"] + opts, check_rc=0)
    rows = manifest(d)["counts"]["embedded"]
    check(f"{rows} texts tokenised" in p.stderr.decode(), f"mixed part {i} of {rows} rows: {p.stderr.decode()}")
run(["merge"] + mixed + ["-o", "mixed-merged"], check_rc=0)
same_folders("mixed-single", "mixed-merged", "--skip-blank --clean retweets parts merged vs one run")

# Hard links on the same filesystem, copies with --copy; both identical to the run.
a = os.stat(os.path.join(parts[2][0], "shard-00000.npy.zst"))
b = os.stat(os.path.join("merged-2", "shard-00000.npy.zst"))
check(a.st_ino == b.st_ino, "merge should hard-link shards on the same filesystem")
run(["merge", "--copy"] + parts[3] + ["-o", "merged-copy"], check_rc=0)
same_folders("single", "merged-copy", "3 parts merged with --copy")
check(os.stat(os.path.join("merged-copy", "shard-00000.npy.zst")).st_nlink == 1, "--copy should copy")
run(["merge", "--no-verify"] + parts[4] + ["-o", "merged-noverify"], check_rc=0)
same_folders("single", "merged-noverify", "4 parts merged with --no-verify")

# A nightly job as docs/scale-out.md runs it: tonight's parts --reuse last night's merged folder;
# merged, they equal a single --reuse run (which equals a full run).
tonight = make_records(1500, seed=3, bad_every=41)
tonight = tonight[:700] + make_records(100, seed=8, first_id=5000) + tonight[800:]
write_lines("tonight.ndjson", tonight)
embed("tonight.ndjson", "tonight-single", ["--reuse", "merged-2"])
dirs = [f"tonight-part{i}" for i in range(3)]
for i, d in enumerate(dirs):
    embed("tonight.ndjson", d, ["--part", f"{i}/3", "--reuse", "merged-2"])
run(["merge"] + dirs + ["-o", "tonight-merged"], check_rc=0)
same_folders("tonight-single", "tonight-merged", "--reuse parts merged vs a single --reuse run")

# More parts than shards (two shards, five parts: three parts hold none); rows that fill the
# last shard exactly, with rejections after it; and an input whose every record is rejected.
for inp, n in (("exact.ndjson", 5), ("exact.ndjson", 2), ("allbad.ndjson", 3)):
    tag = inp.split(".")[0]
    # A run that embedded nothing exits 1 (every record rejected), but leaves a complete folder that merges.
    rc = 1 if inp == "allbad.ndjson" else 0
    embed(inp, f"{tag}-single", rc=rc)
    dirs = parts_of(inp, tag, n, rc=rc)
    empty = [d for d in dirs if not manifest(d)["shards"]]
    if inp == "exact.ndjson" and n == 5:
        check(len(empty) == 3, f"expected 3 parts without shards, got {len(empty)}")
    run(["merge"] + dirs + ["-o", f"{tag}-{n}-merged"], check_rc=0)
    same_folders(f"{tag}-single", f"{tag}-{n}-merged", f"{inp}: {n} parts merged vs one run")


# ---------------------------------------------------------------------------
# Refusals: exit 3, a message naming the part and the problem, nothing written.

def refused(args, out, words, what, fresh=True):
    p = run(["merge"] + args + ["-o", out])
    err = p.stderr.decode()
    check(p.returncode == 3, f"{what}: exit {p.returncode}, expected 3 ({err.strip()})")
    for w in words:
        check(w in err, f"{what}: message lacks '{w}': {err.strip()}")
    if fresh:
        check(not os.path.exists(os.path.join(out, "manifest.json")), f"{what}: wrote a manifest")
    return err


p3 = parts[3]
refused([p3[0], p3[2]], "r-missing", ["missing", "part 1"], "a missing part")
refused([p3[0], p3[1], p3[1], p3[2]], "r-dup", ["both part 1 of 3", p3[1]], "a duplicate part")
refused([parts[2][0], p3[1], p3[2]], "r-split", ["part 0 of 2", "part 1 of 3"], "parts of different splits")

embed("big.ndjson", "other-1", ["--part", "1/2", "--max-seq-length", "16"])
refused([parts[2][0], "other-1"], "r-job", ["different jobs", "--max-seq-length", "other-1"], "different options")
embed("exact.ndjson", "other-2", ["--part", "1/2"])
refused([parts[2][0], "other-2"], "r-input", ["different jobs", "exact.ndjson"], "different inputs")

# An incomplete part: the state an interrupted run leaves (its manifest says complete: false).
shutil.copytree(p3[1], "incomplete")
text = open("incomplete/manifest.json").read()
check('"complete":\ttrue' in text, "manifest layout changed: cannot find complete: true")
open("incomplete/manifest.json", "w").write(text.replace('"complete":\ttrue', '"complete":\tfalse'))
refused([p3[0], "incomplete", p3[2]], "r-incomplete", ["incomplete", "not complete"], "an incomplete part")

# A part whose folder has no manifest at all is an I/O error (exit 1) naming it.
os.makedirs("empty-part", exist_ok=True)
p = run(["merge", p3[0], "empty-part", p3[2], "-o", "r-nomanifest"])
check(p.returncode == 1 and "empty-part" in p.stderr.decode(),
      f"a part without manifest: exit {p.returncode}: {p.stderr.decode().strip()}")

# A damaged shard (one flipped byte) and a different errors.ndjson.
shutil.copytree(p3[2], "damaged")
shard = os.path.join("damaged", manifest("damaged")["shards"][0]["file"])
data = bytearray(open(shard, "rb").read())
data[len(data) // 2] ^= 0x40
os.chmod(shard, 0o644)
open(shard, "wb").write(bytes(data))
refused([p3[0], p3[1], "damaged"], "r-damaged", ["damaged", "SHA-256"], "a damaged shard")
shutil.copytree(p3[2], "errs")
errs = open("errs/errors.ndjson", "rb").read()
open("errs/errors.ndjson", "wb").write(errs.replace(b"line", b"LINE", 1))
refused([p3[0], p3[1], "errs"], "r-errors", ["errors.ndjson", "errs"], "different errors.ndjson")

# The output folder. The same merge again: nothing to do, nothing changed. An interrupted merge
# (its files, no manifest): the same merge again completes it. Another output: refused, and
# --overwrite replaces it. A part is never the output.
before = folder_digest("merged-3")
p = run(["merge"] + p3 + ["-o", "merged-3"], check_rc=0)
check("nothing to do" in p.stderr.decode(), f"merging again: {p.stderr.decode().strip()}")
check(folder_digest("merged-3") == before, "merging again changed the folder")
os.remove("merged-3/manifest.json")
os.remove("merged-3/shard-00001.npy.zst")
open("merged-3/.shard-00002.npy.zst.tmp", "wb").write(b"partial")
run(["merge"] + p3 + ["-o", "merged-3"], check_rc=0)
same_folders("single", "merged-3", "an interrupted merge, merged again")
refused(p3, "exact-single", ["already holds another output", "--overwrite"], "another output", fresh=False)
check(manifest("exact-single")["counts"]["embedded"] == 74, "a refused merge changed its output folder")
os.makedirs("stray", exist_ok=True)
open("stray/shard-09999.npy.zst", "wb").write(b"x")
refused(p3, "stray", ["shard-09999.npy.zst", "--overwrite"], "a folder with a stray shard")
run(["merge", "--overwrite"] + p3 + ["-o", "exact-single"], check_rc=0)
same_folders("single", "exact-single", "after merge --overwrite")
p = run(["merge"] + p3 + ["-o", p3[0]])
check(p.returncode == 2, f"merging into a part folder: exit {p.returncode}, expected 2")
run(["merge", p3[0]], check_rc=2)
check(run(["merge", "--help"], check_rc=0).stdout.decode().startswith("Usage: embedpipe merge"), "merge --help")

print(f"test_tools_merge: {time.time() - t_start:.1f} s")
os.chdir("/")
cleanup(root)
finish("test_tools_merge")
