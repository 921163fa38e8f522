"""test_tools_util.py - helpers for the tests of merge, export and bench.

The tests run the real embedpipe binary ($EP_CLI) on a tiny BERT with random
weights (scripts/make-tiny-model.py, the real vocab when it is there) and on
generated NDJSON inputs with some malformed lines, so they take seconds.
Only the standard library is needed; numpy and zstandard, when the running
Python has them (scripts/test.sh passes one that does), add independent checks.
"""
import hashlib
import json
import re
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile

SKIP = 77
failures = []


def check(cond, message):
    if not cond:
        failures.append(message)
        print("CHECK failed: " + message, file=sys.stderr)
    return cond


def finish(name):
    if failures:
        print(f"{name}: {len(failures)} check(s) failed", file=sys.stderr)
        sys.exit(1)
    print(f"{name}: all checks passed")
    sys.exit(0)


def cli():
    path = os.environ.get("EP_CLI")
    if not path or not os.path.exists(path):
        print("SKIP: EP_CLI is not set (run the test through ctest)")
        sys.exit(SKIP)
    return path


def workdir(name):
    return tempfile.mkdtemp(prefix=f"ep-tools-{name}-")


def cleanup(d):
    shutil.rmtree(d, ignore_errors=True)


def tiny_model(root, hidden=32):
    """A tiny random model in root/model; the real vocab when EP_MODEL_DIR has one, else a synthetic one."""
    src = os.environ.get("EP_SOURCE_DIR", ".")
    out = os.path.join(root, "model")
    args = [sys.executable, os.path.join(src, "scripts", "make-tiny-model.py"), "--out", out, "--hidden",
            str(hidden), "--layers", "2", "--heads", "2", "--intermediate", str(2 * hidden), "--seed", "5"]
    vocab = os.path.join(os.environ.get("EP_MODEL_DIR", ""), "vocab.txt")
    if os.path.exists(vocab):
        args += ["--vocab", vocab]
    else:
        print("note: no real vocab.txt at EP_MODEL_DIR; using the tiny model's synthetic vocab")
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    return out


WORDS = ("the a of to and in is it for on with this that was bike rain coffee bread garden city train "
         "model vector search tweet archive night job shard résumé café naïve straße 東京 москва 🚲 ☕").split()


def make_records(n, seed=1, bad_every=0, first_id=0):
    """n NDJSON lines {"id", "text"}; every bad_every-th line is malformed in one of four ways."""
    rnd = random.Random(seed)
    lines = []
    for i in range(first_id, first_id + n):
        if bad_every and i % bad_every == bad_every - 1:
            kind = (i // bad_every) % 4
            lines.append(['{"id": "%d", "text": "unterminated' % i,
                          json.dumps({"id": str(i), "note": "no text field"}),
                          json.dumps({"id": str(i), "text": None}),
                          json.dumps({"id": str(i), "text": 12345})][kind])
            continue
        words = [rnd.choice(WORDS) for _ in range(rnd.randint(1, 30))]
        lines.append(json.dumps({"id": f"id-{i}", "text": " ".join(words)}, ensure_ascii=False))
    return lines


def write_lines(path, lines):
    with open(path, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(line + "\n")


def run(args, check_rc=None, env=None, **kw):
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    p = subprocess.run([cli()] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env, **kw)
    if check_rc is not None and p.returncode != check_rc:
        print(p.stdout[-2000:], p.stderr[-2000:], file=sys.stderr)
        check(False, f"embedpipe {' '.join(args)}: exit {p.returncode}, expected {check_rc}")
    return p


def folder_digest(d, skip=()):
    """{name: sha256} of every file in d."""
    out = {}
    for name in sorted(os.listdir(d)):
        if name in skip:
            continue
        with open(os.path.join(d, name), "rb") as f:
            out[name] = hashlib.sha256(f.read()).hexdigest()
    return out


def same_folders(a, b, what, skip=()):
    da, db = folder_digest(a, skip), folder_digest(b, skip)
    if da == db:
        return True
    only_a = sorted(set(da) - set(db))
    only_b = sorted(set(db) - set(da))
    differ = sorted(k for k in set(da) & set(db) if da[k] != db[k])
    return check(False, f"{what}: folders differ: only in {a}: {only_a}, only in {b}: {only_b}, differ: {differ}")


def manifest(d):
    with open(os.path.join(d, "manifest.json"), encoding="utf-8") as f:
        return json.load(f)


# ---------------------------------------------------------------------------
# Reading shards independently of embedpipe (zstandard or the zstd tool).

def zstd_decompress(path):
    """The decompressed bytes of a .zst file, or None when neither zstandard nor zstd(1) is available."""
    try:
        import zstandard
        with open(path, "rb") as f:
            return zstandard.ZstdDecompressor().stream_reader(f).read()
    except ImportError:
        pass
    if shutil.which("zstd"):
        return subprocess.run(["zstd", "-dc", path], check=True, stdout=subprocess.PIPE).stdout
    return None


def parse_npy(data):
    """(shape, descr, data bytes) of a .npy file's bytes, with the standard library only."""
    assert data[:6] == b"\x93NUMPY", "not a .npy file"
    major = data[6]
    if major == 1:
        hlen = struct.unpack("<H", data[8:10])[0]
        start = 10
    else:
        hlen = struct.unpack("<I", data[8:12])[0]
        start = 12
    header = data[start:start + hlen].decode("latin1")
    import ast
    d = ast.literal_eval(header)
    return d["shape"], d["descr"], data[start + hlen:], start + hlen


def halves(raw):
    """float16 values (as Python floats) of little-endian '<f2' bytes."""
    return list(struct.unpack(f"<{len(raw) // 2}e", raw))


def try_numpy():
    try:
        import numpy
        return numpy
    except ImportError:
        return None
