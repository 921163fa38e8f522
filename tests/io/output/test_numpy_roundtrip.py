#!/usr/bin/env python3
"""Shards written by embedpipe load in Python exactly the way the README says.

Usage: test_numpy_roundtrip.py HELPER SCRATCH_DIR

HELPER (test_numpy_roundtrip_helper) writes output folders through the C
writer; this script loads every shard with the README's lines (numpy +
python-zstandard, one-shot decompress(), which needs the content size in the
zstd frame header) and compares bit for bit with what the helper wrote. It also
checks the ids files line by line with json.loads, the SHA-256 and sizes in
manifest.json with hashlib, and the .npy header layout. Exit 77 (skip) when
numpy or zstandard cannot be imported.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys

try:
    import io, numpy as np, zstandard  # noqa: E401 - the README's import line
except ImportError as e:
    print(f"SKIP: {e}; install numpy and zstandard (scripts/test.sh does, in a venv) "
          f"and configure with -DEP_PYTHON=/path/to/that/python")
    sys.exit(77)

failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print(f"FAIL: {what}", file=sys.stderr)


def load_shard(p):
    # The README's np.load line without its float32 cast: the float16 bits are compared here
    # (tests/host/tools/test_readme_loader.py runs the README's lines as written).
    v = np.load(io.BytesIO(zstandard.ZstdDecompressor().decompress(open(p, 'rb').read())))
    return v


def run(helper, scratch, workers, rows, per_shard):
    d = os.path.join(scratch, f"out-w{workers}-{rows}-{per_shard}")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    subprocess.run([helper, d, str(workers), str(rows), str(per_shard)], check=True)

    with open(os.path.join(d, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    dim = manifest["model"]["dim"]
    expected = np.fromfile(os.path.join(d, "expected.u16"), dtype="<u2").reshape(-1, dim)
    with open(os.path.join(d, "expected_ids.tsv"), encoding="ascii") as f:
        expected_ids = [line.rstrip("\n").split("\t") for line in f]
    check(expected.shape[0] == rows and len(expected_ids) == rows, "helper wrote the expected rows")

    shards = manifest["shards"]
    check(len(shards) == (rows + per_shard - 1) // per_shard, f"{len(shards)} shards for {rows} rows")
    check(manifest["counts"]["embedded"] == rows, "counts.embedded")
    first = 0
    for i, s in enumerate(shards):
        check(s["file"] == f"shard-{i:05d}.npy.zst", f"shard name {s['file']}")
        check(s["ids_file"] == f"shard-{i:05d}.ids.ndjson.zst", f"ids name {s['ids_file']}")
        check(s["first_row"] == first, f"{s['file']}: first_row")
        check(0 < s["rows"] <= per_shard, f"{s['file']}: rows {s['rows']}")
        p = os.path.join(d, s["file"])
        raw = open(p, "rb").read()
        check(len(raw) == s["bytes"], f"{s['file']}: bytes")
        check(hashlib.sha256(raw).hexdigest() == s["sha256"], f"{s['file']}: sha256 (hashlib)")
        params = zstandard.get_frame_parameters(raw)
        check(params.has_checksum, f"{s['file']}: zstd checksum flag")
        check(params.content_size != zstandard.CONTENTSIZE_UNKNOWN, f"{s['file']}: content size in frame header")

        v = load_shard(p)
        check(v.dtype == np.dtype("<f2"), f"{s['file']}: dtype {v.dtype}")
        check(v.shape == (s["rows"], dim), f"{s['file']}: shape {v.shape}")
        check(v.flags.c_contiguous, f"{s['file']}: C order")
        want = expected[first:first + s["rows"]]
        same = v.shape == want.shape and np.array_equal(v.view("<u2"), want)
        check(same, f"{s['file']}: rows differ from what was written")

        npy = zstandard.ZstdDecompressor().decompress(raw)
        check(npy[:8] == b"\x93NUMPY\x01\x00", f"{s['file']}: .npy magic and version 1.0")
        hlen = int.from_bytes(npy[8:10], "little")
        check((10 + hlen) % 64 == 0 and npy[10 + hlen - 1:10 + hlen] == b"\n", f"{s['file']}: header alignment")

        ids_raw = open(os.path.join(d, s["ids_file"]), "rb").read()
        check(hashlib.sha256(ids_raw).hexdigest() == s["ids_sha256"], f"{s['ids_file']}: sha256 (hashlib)")
        text = zstandard.ZstdDecompressor().decompress(ids_raw).decode("utf-8")
        check(text.endswith("\n"), f"{s['ids_file']}: final newline")
        lines = text.split("\n")[:-1]
        check(len(lines) == s["rows"], f"{s['ids_file']}: {len(lines)} lines")
        for j, line in enumerate(lines):
            obj = json.loads(line)
            check(list(obj) == ["id", "file", "line", "tokens", "truncated", "hash"], f"{s['ids_file']}: keys")
            e = expected_ids[first + j]
            got = [obj["id"].encode("utf-8").hex(), str(obj["file"]), str(obj["line"]), str(obj["tokens"]),
                   "1" if obj["truncated"] else "0", obj["hash"]]
            check(got == e, f"{s['ids_file']} line {j + 1}: {got} != {e}")
        first += s["rows"]
    check(first == rows, "rows add up")


def main():
    helper, scratch = sys.argv[1], sys.argv[2]
    os.makedirs(scratch, exist_ok=True)
    for workers, rows, per_shard in [(0, 20, 7), (0, 14, 7), (2, 20, 7), (0, 5, 1), (2, 3000, 1100)]:
        run(helper, scratch, workers, rows, per_shard)
    shutil.rmtree(scratch, ignore_errors=True)
    if failures:
        print(f"test_numpy_roundtrip: {failures} check(s) failed", file=sys.stderr)
        return 1
    print("test_numpy_roundtrip: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
