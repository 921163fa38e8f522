"""test_tools_checked_reads.py - nothing reads a shard without checking it.

export, search, merge (also --no-verify) and embed --reuse read an output folder
through one checked reader: swapped or changed shards are refused (exit 3,
naming the shard and the SHA-256), never exported in the wrong order or copied
as wrong vectors. A small .npy.zst whose header claims millions of rows is
refused by verify and export before anything is allocated for it (the child's
peak RSS is measured). --threads is clamped to 4 per online CPU. search reads
texts only from the input file the run recorded (found from any folder), and
only while it is unchanged; otherwise it prints the rows without text and says
why once."""
import json
import os
import resource
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_tools_util import *  # noqa: E402,F403

root, model = start("checked-reads")
write_lines("in.ndjson", make_records(200, seed=3))
base = ["-m", model, "--device", "cpu", "--threads", "2", "--shard-rows", "37", "-q"]
run(["embed", "in.ndjson", "-o", "out"] + base, check_rc=0)
run(["verify", "out"], check_rc=0)


def err(p):
    return p.stderr.decode(errors="replace")


def swap(d, a, b):
    pa, pb, tmp = os.path.join(d, a), os.path.join(d, b), os.path.join(d, "swap.tmp")
    os.rename(pa, tmp)
    os.rename(pb, pa)
    os.rename(tmp, pb)


def refused(p, what, shard):
    e = err(p)
    check(p.returncode == 3, f"{what}: exit {p.returncode}, expected 3 (mismatch): {e[-400:]}")
    # The size is compared first when it differs; the SHA-256 catches the rest.
    check(shard in e and ("SHA-256" in e or "swapped" in e),
          f"{what}: message does not name {shard} and say it is not the file listed: {e[-400:]}")


# --- Swapped shards: same shape, so only the checksum tells them apart.
shutil.copytree("out", "swapped")
swap("swapped", "shard-00000.npy.zst", "shard-00001.npy.zst")
p = run(["export", "swapped", "--to", "npy", "-o", "swapped.npy"])
refused(p, "export of swapped shards", "shard-0000")
check(not os.path.exists("swapped.npy"), "export of swapped shards left a file")
p = run(["export", "swapped", "--to", "ndjson", "-o", "-"])
refused(p, "export --to ndjson of swapped shards", "shard-0000")
p = run(["search", "swapped", "bike rain", "-m", model])
refused(p, "search over swapped shards", "shard-0000")
p = run(["embed", "in.ndjson", "-o", "reuse-swapped", "--reuse", "swapped"] + base)
refused(p, "--reuse of swapped shards", "shard-0000")
check(not any(n.startswith("shard-") for n in os.listdir("reuse-swapped")) if os.path.isdir("reuse-swapped")
      else True, "--reuse of swapped shards wrote shards")

# --- A changed shard (valid zstd, valid .npy, other values) is not reused.
import zstandard  # noqa: E402  (the test venv has it)
shutil.copytree("out", "changed")
raw = zstd_decompress("changed/shard-00002.npy.zst")
shape, descr, data, data_at = parse_npy(raw)
head = raw[:data_at]
bad = zstandard.ZstdCompressor(write_checksum=True).compress(head + bytes(len(data)))  # every value 0.0
with open("changed/shard-00002.npy.zst", "wb") as f:
    f.write(bad)
p = run(["embed", "in.ndjson", "-o", "reuse-changed", "--reuse", "changed"] + base)
check(p.returncode == 3 and "shard-00002.npy.zst" in err(p),
      f"--reuse of a changed shard: exit {p.returncode}: {err(p)[-400:]}")
if p.returncode == 0:
    run(["verify", "reuse-changed"])

# --- merge, also with --no-verify (which used to link shards unread).
for i in range(2):
    run(["embed", "in.ndjson", "-o", f"p{i}", "--part", f"{i}/2"] + base, check_rc=0)
swap("p0", "shard-00000.npy.zst", "shard-00002.npy.zst")
for extra in ([], ["--no-verify"]):
    p = run(["merge", "p0", "p1", "-o", "merged" + "".join(extra)] + extra)
    refused(p, "merge " + " ".join(extra) + " of a part with swapped shards", "shard-0000")

# --- A decompression bomb: 16.7M rows claimed in a few KB.
dim = manifest("out")["model"]["dim"]
bomb_rows = 1 << 24


def npy_header(rows, cols):
    d = "{'descr': '<f2', 'fortran_order': False, 'shape': (%d, %d), }" % (rows, cols)
    pad = 64 - (10 + len(d) + 1) % 64
    return b"\x93NUMPY\x01\x00" + (len(d) + pad + 1).to_bytes(2, "little") + d.encode() + b" " * pad + b"\n"


def write_bomb(path):
    c = zstandard.ZstdCompressor(level=1, write_checksum=True, write_content_size=False)
    zeros = bytes(1 << 22)
    with open(path, "wb") as f, c.stream_writer(f) as w:
        w.write(npy_header(bomb_rows, dim))
        for _ in range(bomb_rows * dim * 2 // len(zeros)):
            w.write(zeros)


def peak_rss_mb(args):
    """Runs embedpipe in a fresh Python child; returns (exit status, stderr, the embedpipe child's peak RSS in MB)."""
    code = ("import resource, subprocess, sys; "
            "p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE); "
            "sys.stderr.write(p.stderr.decode(errors='replace')); "
            "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    q = subprocess.run([sys.executable, "-c", code, cli()] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    rc, kb = q.stdout.split()
    return int(rc), q.stderr, int(kb) / 1024


# What the binary needs anyway (with CUDA built in, loading its runtime libraries alone is ~200 MB): the bombs
# must stay within a small margin of a good folder's verify, far below the 12.9 GB they claim.
_, _, base_mb = peak_rss_mb(["verify", "out"])
print(f"verify of the good folder: peak RSS {base_mb:.0f} MB")
for edited in (False, True):
    d = "bomb-edited" if edited else "bomb"
    shutil.copytree("out", d)
    write_bomb(os.path.join(d, "shard-00000.npy.zst"))
    size = os.path.getsize(os.path.join(d, "shard-00000.npy.zst"))
    if edited:  # the manifest made to agree with the file, except for its row count
        import hashlib
        with open(os.path.join(d, "shard-00000.npy.zst"), "rb") as f:
            sha = hashlib.sha256(f.read()).hexdigest()
        m = manifest(d)
        m["shards"][0]["bytes"], m["shards"][0]["sha256"] = size, sha
        with open(os.path.join(d, "manifest.json"), "w") as f:
            json.dump(m, f)
    for cmd in (["verify", d], ["export", d, "--to", "npy", "-o", d + ".npy"], ["search", d, "x", "-m", model]):
        rc, e, mb = peak_rss_mb(cmd)
        what = f"{' '.join(cmd[:2])} of a {size}-byte shard claiming {bomb_rows} rows" + (" (manifest edited)"
                                                                                          if edited else "")
        check(rc == 3 and "shard-00000.npy.zst" in e, f"{what}: exit {rc}: {e[-300:]}")
        check(mb < base_mb + 150, f"{what}: peak RSS {mb:.0f} MB, {base_mb:.0f} MB for a good folder (must refuse "
                                  "before allocating)")
        print(f"{what}: exit {rc}, peak RSS {mb:.0f} MB")

# --- --threads far beyond the machine is clamped, with a note.
p = run(["embed", "in.ndjson", "-o", "threads", "-m", model, "--device", "cpu", "--threads", "100000", "-q"])
check(p.returncode == 0 and "--threads 100000 is more than 4 per online CPU" in err(p) and "using" in err(p),
      f"--threads 100000: exit {p.returncode}: {err(p)[-300:]}")

# --- search finds texts through the paths the run recorded, from any folder.
texts = {json.loads(l)["id"]: json.loads(l)["text"] for l in open("in.ndjson")}
some = texts[sorted(texts)[5]]
p = run(["search", os.path.join(root, "out"), some, "-m", model, "-k", "3"], cwd="/")
out = p.stdout.decode()
snippets = [l for l in out.splitlines() if l.startswith("    ")]  # a text is printed indented under its row
check(p.returncode == 0 and any(some[:60] in l for l in snippets) and "texts not shown" not in err(p),
      f"search from / did not find the texts: exit {p.returncode}: {out[-400:]} {err(p)[-300:]}")

# Without stored texts (--no-text, as older versions wrote), search reads them again from the inputs,
# and after the input changed (size and mtime), rows come without text, and the reason once.
run(["embed", "in.ndjson", "-o", "out-nt", "-m", model, "--device", "cpu", "--no-text", "-q"], check_rc=0)
p = run(["search", os.path.join(root, "out-nt"), some, "-m", model, "-k", "3"], cwd="/")
check(p.returncode == 0 and any(some[:60] in l for l in p.stdout.decode().splitlines() if l.startswith("    ")),
      f"search of a --no-text folder reads the texts from the recorded input: {p.stdout.decode()[-300:]}")
with open("in.ndjson", "a") as f:
    f.write('{"id": "late", "text": "appended after the run"}\n')
p = run(["search", "out", some, "-m", model, "-k", "3"])
check(p.returncode == 0 and any(some[:60] in l for l in p.stdout.decode().splitlines() if l.startswith("    ")),
      "search prints the stored texts whatever became of the input")
p = run(["search", "out-nt", some, "-m", model, "-k", "3"])
out, e = p.stdout.decode(), err(p)
check(p.returncode == 0 and not any(l.startswith("    ") for l in out.splitlines()) and
      e.count("texts not shown") == 1 and "changed" in e,
      f"search after the input changed: exit {p.returncode}: {out[-400:]} {e[-300:]}")
check(out.count(" row ") == 3 and " id " in out, f"search after the input changed lost its rows or ids: {out}")

# A manifest of an older version (no recorded path or mtime): ids only, saying why.
m = manifest("out-nt")
for i in m["inputs"]:
    for k in ("abs_path", "mtime_sec", "mtime_nsec"):
        i.pop(k, None)
for k in ("text", "keep", "clean"):
    m["run"].pop(k, None)
with open("out-nt/manifest.json", "w") as f:
    json.dump(m, f)
p = run(["search", "out-nt", some, "-m", model, "-k", "3"])
out, e = p.stdout.decode(), err(p)
check(p.returncode == 0 and "older embedpipe" in e and not any(l.startswith("    ") for l in out.splitlines()),
      f"search of an older manifest: exit {p.returncode}: {out[-300:]} {e[-300:]}")

cleanup(root)
finish("test_tools_checked_reads")
