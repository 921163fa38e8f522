"""test_tools_export.py - `embedpipe export OUT --to npy|ndjson`.

npy: one uncompressed '<f2' array of shape (rows, dim) whose data is the
shards' data concatenated (the shards decoded here with zstandard or zstd(1),
not by embedpipe), and which numpy memory-maps; ndjson: one line per row, in
row order, with the id, file and line of the ids files and the vector's
float16 values printed as the shortest decimals that read back to the same
float. Also: the default file name, standard output, a part folder (exported
with a warning), a damaged shard (refused, no file left behind)."""
import json
import os
import re
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_tools_util import *  # noqa: E402,F403

root, model = start("export")
t_start = time.time()
write_lines("in.ndjson", make_records(700, seed=9, bad_every=53))
base = ["-m", model, "--device", "cpu", "--threads", "2", "--shard-rows", "37", "-q"]
run(["embed", "in.ndjson", "-o", "out"] + base, check_rc=0)
m = manifest("out")
dim = m["model"]["dim"]
rows = m["counts"]["embedded"]
check(len(m["shards"]) > 10, "expected many shards")

# The shards, decoded independently of embedpipe.
shard_data, shard_ids = [], []
for s in m["shards"]:
    raw = zstd_decompress(os.path.join("out", s["file"]))
    ids = zstd_decompress(os.path.join("out", s["ids_file"]))
    if raw is None:
        break
    shape, descr, data, _ = parse_npy(raw)
    check(shape == (s["rows"], dim) and descr == "<f2", f"{s['file']}: shape {shape} {descr}")
    shard_data.append(data)
    shard_ids += [json.loads(line) for line in ids.decode("utf-8").splitlines()]
independent = len(shard_data) == len(m["shards"])
if not independent:
    print("SKIP part: neither the zstandard module nor the zstd tool is available; the export is checked "
          "against itself (npy vs ndjson) but not against the shards")

# --- npy -------------------------------------------------------------------
p = run(["export", "out", "--to", "npy"], check_rc=0)
check(os.path.exists("out/vectors.npy"), "export --to npy did not write the default out/vectors.npy")
blob = open("out/vectors.npy", "rb").read()
shape, descr, data, offset = parse_npy(blob)
check(shape == (rows, dim), f"npy shape {shape}, expected ({rows}, {dim})")
check(descr == "<f2", f"npy descr {descr}")
check(offset % 64 == 0, f"npy data starts at {offset}, not a multiple of 64 (memory-mapping aligns it)")
check(len(data) == rows * dim * 2, f"npy holds {len(data)} data bytes, expected {rows * dim * 2}")
if independent:
    check(data == b"".join(shard_data), "npy data differs from the shards concatenated")
np = try_numpy()
if np is None:
    print("SKIP part: numpy is not importable by this Python (scripts/test.sh passes -DEP_PYTHON with numpy); "
          "np.load(mmap_mode='r') not checked")
else:
    arr = np.load("out/vectors.npy", mmap_mode="r")
    check(isinstance(arr, np.memmap), "np.load(mmap_mode='r') did not memory-map the export")
    check(arr.shape == (rows, dim) and arr.dtype == np.float16, f"numpy sees {arr.shape} {arr.dtype}")
    if independent:
        ref = np.concatenate([np.frombuffer(d, dtype="<f2").reshape(-1, dim) for d in shard_data])
        check(np.array_equal(arr.view(np.uint16), ref.view(np.uint16)), "numpy: export differs from the shards")
    norms = np.linalg.norm(np.asarray(arr, dtype=np.float32), axis=1)
    check(bool(np.all(np.abs(norms - 1) < 1e-2)), "exported rows are not L2-normalised")

run(["export", "out", "--to", "npy", "-o", "copy/../other.npy"], check_rc=1)  # no such folder: I/O error
run(["export", "out", "--to", "npy", "-o", "other.npy", "-q"], check_rc=0)
check(open("other.npy", "rb").read() == blob, "export -o FILE differs from the default export")

# --- ndjson ----------------------------------------------------------------
run(["export", "out", "--to", "ndjson"], check_rc=0)
text = open("out/vectors.ndjson", encoding="utf-8").read()
p = run(["export", "out", "--to", "ndjson", "-o", "-", "-q"], check_rc=0)
check(p.stdout.decode("utf-8") == text, "export -o - differs from the file export")
lines = text.splitlines()
check(len(lines) == rows, f"ndjson has {len(lines)} lines, expected {rows}")
vec_re = re.compile(r'"vector":\[([^\]]*)\]\}$')
tokens = set()
values = []
for i, line in enumerate(lines):
    obj = json.loads(line)
    check(list(obj) == ["id", "file", "line", "text", "vector"], f"line {i + 1}: keys {list(obj)}")
    check(len(obj["vector"]) == dim, f"line {i + 1}: {len(obj['vector'])} values")
    if independent:
        ids = shard_ids[i]
        ok = obj["id"] == ids["id"] and obj["line"] == ids["line"] and obj["file"] == "in.ndjson" and \
            obj["text"] == ids["text"]
        if not check(ok, f"line {i + 1}: {obj['id']} {obj['file']}:{obj['line']} vs ids file {ids}"):
            break
    values += obj["vector"]
    tokens.update(vec_re.search(line).group(1).split(","))
# The values read back as the very same halves.
packed = struct.pack(f"<{len(values)}e", *values)
check(packed == data, "ndjson values do not round-trip to the float16 bits of the npy export")


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


# Each printed number is the shortest decimal that reads back to its float.
not_shortest = []
for tok in tokens:
    x = float(tok)
    digits = len(re.sub(r"[-.]|e.*$", "", tok).lstrip("0")) or 1
    if digits > 1 and f32(float(f"{f32(x):.{digits - 1}g}")) == f32(x) and tok not in ("-0.0",):
        not_shortest.append(tok)
check(not not_shortest, f"not the shortest round-trip decimals: {sorted(not_shortest)[:5]}")

# --- a part folder, a damaged shard, usage ----------------------------------
run(["embed", "in.ndjson", "-o", "part1", "--part", "1/3"] + base, check_rc=0)
p = run(["export", "part1", "--to", "ndjson", "-o", "part1.ndjson"], check_rc=0)
check("warning" in p.stderr.decode(), "exporting one part should warn")
part_ids = [json.loads(x)["id"] for x in open("part1.ndjson", encoding="utf-8")]
want = []
for k, s in enumerate(m["shards"]):
    if k % 3 == 1:
        want += [json.loads(x)["id"] for x in lines[s["first_row"]:s["first_row"] + s["rows"]]]
check(part_ids == want, "a part's export does not hold exactly its shards' rows")

os.makedirs("bad", exist_ok=True)
for name in os.listdir("out"):
    if not name.startswith("vectors."):
        with open(os.path.join("out", name), "rb") as src, open(os.path.join("bad", name), "wb") as dst:
            dst.write(src.read())
victim = os.path.join("bad", m["shards"][3]["file"])
raw = bytearray(open(victim, "rb").read())
raw[len(raw) // 2] ^= 0x10
open(victim, "wb").write(bytes(raw))
for fmt in ("npy", "ndjson"):
    p = run(["export", "bad", "--to", fmt])
    check(p.returncode != 0, f"export --to {fmt} of a damaged shard succeeded")
    check(m["shards"][3]["file"] in p.stderr.decode(), f"the error does not name the damaged shard: {p.stderr}")
    check(not os.path.exists(f"bad/vectors.{fmt}"), f"a failed export --to {fmt} left a file")
check(not [n for n in os.listdir("bad") if n.endswith(".tmp")], "a failed export left a temporary file")
run(["export", "out", "--to", "csv"], check_rc=2)
run(["export", "out"], check_rc=2)
run(["export", "missing-folder", "--to", "npy"], check_rc=1)

print(f"test_tools_export: {time.time() - t_start:.1f} s")
os.chdir("/")
cleanup(root)
finish("test_tools_export")
