"""test_tools_util.py - helpers for the tests of merge, export and bench.

The tests run the real embedpipe binary ($EP_CLI) on a tiny BERT with random
weights (scripts/make-tiny-model.py, the real vocab when it is there) and on
generated NDJSON inputs with some malformed lines, so they take seconds.
Only the standard library is needed; numpy and zstandard, when the running
Python has them (scripts/test.sh passes one that does), add independent checks.
"""
import json  # noqa: F401  (re-exported to the tests)
import os
import re  # noqa: F401
import shutil
import struct
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # pipeline_util.py
from pipeline_util import *  # noqa: E402,F401,F403  (check, tiny_model, make_records, same_folders, ...)
import pipeline_util  # noqa: E402


def start(name):
    """What every tools test does first: skip (77) without $EP_CLI, make a fresh work folder and
    work in it (input paths are recorded as given: relative ones stay identical across runs), and
    write a tiny model there. Returns (root, model)."""
    cli()
    root = workdir(name)
    os.chdir(root)
    return root, tiny_model(root)


def run(args, check_rc=None, env=None, **kw):
    """Runs embedpipe ARGS; these tests read its output as bytes."""
    return pipeline_util.run(args, check_rc=check_rc, env=env, text=False, **kw)


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
