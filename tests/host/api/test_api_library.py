"""test_api_library.py - libembedpipe.so as a program outside this tree sees it.

- `nm -D --defined-only` of the built library lists exactly the functions include/embedpipe.h marks EP_API:
  nothing internal leaks out (each would become ABI), nothing public is missing;
- `cmake --install BUILD --prefix TMP` installs lib*/libembedpipe.so and include/embedpipe.h, with the same
  exports; examples/embed_texts.c, compiled by the C compiler against only those two, runs on a tiny model,
  and every cosine similarity it prints equals the one computed (numpy) from the rows `embedpipe embed`
  writes for the same texts (within float16 rounding); with the real model, the related pairs score higher;
- examples/read_folder (as built) prints the folder's row count and the ids of its first rows.
Usage: test_api_library.py CMAKE BUILD_DIR CC LIBEMBEDPIPE_SO"""
import glob
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # pipeline_util.py
from pipeline_util import *  # noqa: E402,F403

try:
    import numpy as np
    import zstandard
except ImportError:
    print("SKIP: needs numpy and zstandard (EP_PYTHON: scripts/test.sh passes a venv that has them)")
    sys.exit(SKIP)

cmake, build, cc, lib = sys.argv[1:5]
src = os.environ.get("EP_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
cli()  # skips outside ctest


def public_functions():
    with open(os.path.join(src, "include", "embedpipe.h"), encoding="utf-8") as f:
        text = f.read()
    return set(re.findall(r"^EP_API [^(]*?\b(ep_\w+)\(", text, re.M))


def exports(path):
    out = subprocess.run(["nm", "-D", "--defined-only", path], stdout=subprocess.PIPE, text=True, check=True).stdout
    return {line.split()[-1] for line in out.splitlines() if line.split() and line.split()[-2] in "TtWDBR"}


want = public_functions()
check(len(want) >= 20 and "ep_embedder_encode" in want, f"parsed too few EP_API functions: {sorted(want)}")
got = exports(lib)
check(got == want, f"{lib}: exported but not public {sorted(got - want)}; public but not exported {sorted(want - got)}")

root = workdir("api-library")
prefix = os.path.join(root, "prefix")
r = subprocess.run([cmake, "--install", build, "--prefix", prefix], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                   text=True)
if not check(r.returncode == 0, f"cmake --install failed: {r.stdout}"):
    finish("test_api_library")
libs = glob.glob(os.path.join(prefix, "lib*", "**", "libembedpipe.so"), recursive=True)
header = os.path.join(prefix, "include", "embedpipe.h")
check(len(libs) == 1, f"installed libembedpipe.so: {libs}")
check(os.path.exists(header), "no include/embedpipe.h installed")
if not libs:
    finish("test_api_library")
libdir = os.path.dirname(libs[0])
check(exports(libs[0]) == want, "the installed library exports other functions than the built one")

exe = os.path.join(root, "embed_texts")
r = subprocess.run([cc, "-std=c11", "-Wall", "-Werror"] + os.environ.get("EP_EXAMPLE_CFLAGS", "").split() +
                   [os.path.join(src, "examples", "embed_texts.c"),
                    "-I", os.path.join(prefix, "include"), "-L", libdir, "-lembedpipe", "-lm", "-o", exe],
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
check(r.returncode == 0, f"examples/embed_texts.c does not build against the installed library: {r.stdout}")
env = dict(os.environ, LD_LIBRARY_PATH=libdir)


def similarities(model, texts, n=None):
    """The matrix embed_texts prints for texts (n: how many it embeds of its own when texts is empty), as numpy;
    None (after a failed check) when it failed."""
    n = n or len(texts)
    p = subprocess.run([exe, model] + texts, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    if not check(p.returncode == 0, f"embed_texts {model}: exit {p.returncode}: {p.stderr}"):
        return None
    lines = p.stdout.splitlines()
    check(lines[0].startswith("libembedpipe ") and " dimensions, " in lines[0], f"first line: {lines[0]}")
    for i, t in enumerate(texts):
        check(lines[1 + i].split(None, 1) == [str(i), t][:2 if t else 1], f"text line {i}: {lines[1 + i]!r}")
    at = lines.index("cosine similarity:")
    rows = [[float(v) for v in line.split()[1:]] for line in lines[at + 2:at + 2 + n]]
    return np.array(rows)


def cli_rows(model, texts, out):
    """The float16 rows `embedpipe embed` writes for texts (one per line), as float64."""
    path = os.path.join(root, "texts.txt")
    write_lines(path, texts)
    run(["embed", path, "-o", out, "-m", model, "--device", "cpu", "-q", "--overwrite", "--format", "lines"],
        check_rc=0)
    with open(os.path.join(out, "shard-00000.npy.zst"), "rb") as f:
        raw = zstandard.ZstdDecompressor().stream_reader(f).read()
    with open(os.path.join(root, "rows.npy"), "wb") as f:
        f.write(raw)
    return np.load(os.path.join(root, "rows.npy")).astype(np.float64)


texts = ["Rode to the lab through sleet this morning.", "Feeding the new sourdough starter.",
         "Paper accepted! The reviewers liked it.", "Winter tyres off, slick tyres on.", ""]
tiny = tiny_model(root)
sims = similarities(tiny, texts)
if sims is not None:
    v = cli_rows(tiny, texts, os.path.join(root, "out"))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    want_sims = v @ v.T
    check(sims.shape == want_sims.shape, f"printed {sims.shape} similarities, expected {want_sims.shape}")
    if sims.shape == want_sims.shape:
        worst = float(np.abs(sims - want_sims).max())
        check(worst < 2e-3, f"embed_texts' similarities differ from embed's rows by up to {worst}")
    check(np.all(np.abs(np.diag(sims) - 1) < 1e-4), f"diagonal not 1: {np.diag(sims)}")

    reader = os.path.join(build, "examples", "read_folder")
    p = subprocess.run([reader, os.path.join(root, "out"), "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    check(p.returncode == 0, f"read_folder: exit {p.returncode}: {p.stderr}")
    lines = p.stdout.splitlines()
    check(len(lines) == 3 and f": {len(texts)} rows of " in lines[0], f"read_folder printed {lines}")
    check(len(lines) == 3 and all("|v|=1.00" in line for line in lines[1:]), f"rows not unit length: {lines}")

real = os.environ.get("EP_MODEL_DIR", "")
if os.path.exists(os.path.join(real, "model.safetensors")):
    own = similarities(real, [], n=4)  # the example's own four texts: two about cycling, two about bread
    if own is not None:
        check(own[0, 1] > own[0, 2] and own[0, 1] > own[0, 3] and own[2, 3] > own[1, 2] and own[2, 3] > own[0, 2],
              f"with {real} the related texts do not score higher:\n{own}")
else:
    print("note: no real model at EP_MODEL_DIR; the example ran on the tiny model only")
cleanup(root)
finish("test_api_library")
