"""test_readme_loader.py - the Python loader that README.md and docs/output-format.md show, run as
written on a real output folder: it must give float32 rows (numpy's float16 matrix products are
100-200x slower) and ids as strings, a tweet id beyond 2^53 included, byte for byte.

The snippet is taken from the documents at run time, so the documents cannot drift from what is
tested. Exit 77 (skip) when EP_PYTHON lacks numpy or zstandard."""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # pipeline_util.py
from pipeline_util import *  # noqa: E402,F403

try:
    import numpy as np
    import zstandard  # noqa: F401
except ImportError as e:
    print(f"SKIP: {e}; install numpy and zstandard (scripts/test.sh does, in a venv) and configure with "
          f"-DEP_PYTHON=/path/to/that/python")
    sys.exit(SKIP)

cli()
src = os.environ.get("EP_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def snippet(doc, after):
    """The first ```python block of doc after the text after."""
    text = open(os.path.join(src, doc), encoding="utf-8").read()
    at = text.find(after)
    check(at >= 0, f"{doc}: no '{after}'")
    m = re.compile(r"```python\n(.*?)```", re.S).search(text, at)
    check(m is not None, f"{doc}: no python block after '{after}'")
    return m.group(1) if m else ""


root = workdir("readme")
model = tiny_model(root)
BIG = "2029905358261502168"  # pandas' read_json without dtype={"id": str} makes it ...208
ids = [BIG, "9007199254740993", "7", "0012", "-3"]
write_lines(os.path.join(root, "in.ndjson"),
            [json.dumps({"id_str": i, "text": f"record number {n} about bikes"}) for n, i in enumerate(ids)])
os.chdir(root)  # the snippet reads out/ relative to the working folder, as a user would
run(["embed", "in.ndjson", "-o", "out", "-m", model, "--device", "cpu", "-q"], check_rc=0)
dim = manifest("out")["model"]["dim"]

for doc, after in (("README.md", "Load a shard in Python"), ("docs/output-format.md", "## Shards")):
    code = snippet(doc, after)
    ns = {}
    try:
        exec(compile(code, doc, "exec"), ns)
    except Exception as e:  # noqa: BLE001 - report any failure of the documented lines
        check(False, f"{doc}: the loader fails: {type(e).__name__}: {e}")
        continue
    v, got = ns.get("v"), ns.get("ids")
    check(isinstance(v, np.ndarray) and v.dtype == np.float32, f"{doc}: v is not float32: {getattr(v, 'dtype', v)}")
    check(getattr(v, "shape", None) == (len(ids), dim), f"{doc}: v has shape {getattr(v, 'shape', None)}")
    if isinstance(v, np.ndarray):
        norms = np.linalg.norm(v.astype(np.float64), axis=1)
        check(bool(np.all(np.abs(norms - 1) < 2e-3)), f"{doc}: rows are not unit length: {norms}")
    check(got == ids and all(isinstance(i, str) for i in got or []), f"{doc}: ids {got!r}, expected {ids!r}")

cleanup(root)
finish("test_readme_loader")
