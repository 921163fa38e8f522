"""py_env.py - the private Python environment of the Python package's tests, and the driver they share.

The package's tests need what the test venv (numpy, zstandard) lacks: pandas, pyarrow, duckdb,
pytest and llm. They live in one venv in the cache (scripts/common.sh's EP_CACHE, ~/.cache/embedpipe/py-venv),
made once (scripts/test.sh makes it: `python tests/python/py_env.py --ensure`), never in the
repository. A test that finds it missing and cannot reach PyPI skips (77) saying so.

Each test installs the package the way a user does, `pip install ./python`, into a folder of its own
under the build folder (pip --target, no dependencies: the venv has them), with EMBEDPIPE_LIBRARY
pointing at this build's libembedpipe.so, and runs its pytest files with that folder on PYTHONPATH.
"""
import fcntl
import os
import shutil
import subprocess
import sys
import tempfile

SKIP = 77
PACKAGES = ["numpy", "zstandard", "pandas", "pyarrow>=15", "duckdb", "pytest", "llm"]
IMPORTS = "import numpy, zstandard, pandas, pyarrow, duckdb, pytest, llm"
HERE = os.path.dirname(os.path.abspath(__file__))


def cache_dir():
    """scripts/common.sh's EP_CACHE: $EMBEDPIPE_CACHE, else ${XDG_CACHE_HOME:-~/.cache}/embedpipe."""
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.environ.get("EMBEDPIPE_CACHE") or os.path.join(xdg, "embedpipe")


def venv_python():
    return os.path.join(cache_dir(), "py-venv", "bin", "python")


def ensure_venv():
    """The venv's python, made (under a lock, since tests run in parallel) when missing or incomplete.
    Exits 77 when it cannot be made because PyPI is unreachable."""
    py = venv_python()
    os.makedirs(cache_dir(), exist_ok=True)
    with open(os.path.join(cache_dir(), "py-venv.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(py) and subprocess.run([py, "-c", IMPORTS], capture_output=True).returncode == 0:
            return py
        venv = os.path.dirname(os.path.dirname(py))
        print(f"py_env: making {venv} with {' '.join(PACKAGES)}", file=sys.stderr)
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        p = subprocess.run([py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--timeout", "30",
                            "--retries", "1"] + PACKAGES, capture_output=True, text=True)
        if p.returncode != 0:
            shutil.rmtree(venv, ignore_errors=True)
            print(f"SKIP: could not install {' '.join(PACKAGES)} into {venv} (is PyPI reachable?):\n"
                  f"{p.stderr[-2000:]}")
            sys.exit(SKIP)
        return py


def install_package(py, dest):
    """`pip install ./python` into dest (a --target folder) against this build's library.
    Returns dest; exits 1 when the install fails (that is a failure of the package, not of PyPI)."""
    build = os.environ["EP_BUILD_DIR"]
    lib = os.path.join(build, "libembedpipe.so")
    shutil.rmtree(dest, ignore_errors=True)
    env = dict(os.environ, EMBEDPIPE_LIBRARY=lib)
    p = subprocess.run([py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
                        "--no-build-isolation", "--no-index", "--target", dest,
                        os.path.join(os.environ["EP_SOURCE_DIR"], "python")],
                       capture_output=True, text=True, env=env)
    if p.returncode != 0:
        print(f"FAIL: pip install ./python:\n{p.stdout}\n{p.stderr}")
        sys.exit(1)
    return dest


def run_pytest(name, files):
    """The driver of a ctest entry: skips without the model, the CLI or the data, then installs the
    package and runs pytest on files (beside this one). Exits with pytest's verdict."""
    for var in ("EP_CLI", "EP_BUILD_DIR", "EP_SOURCE_DIR"):
        if not os.environ.get(var):
            print(f"SKIP: {var} is not set (run through ctest)")
            sys.exit(SKIP)
    model = os.environ.get("EP_MODEL_DIR", "")
    if not os.path.isfile(os.path.join(model, "model.safetensors")):
        print(f"SKIP: no model at {model}; run scripts/fetch-model.sh")
        sys.exit(SKIP)
    data = os.environ.get("EP_SHARED_DATA", "")
    if not os.path.isfile(os.path.join(data, "twarc", "flat.jsonl")):
        print(f"SKIP (real data): {data}/twarc/flat.jsonl not found; the shared tweet data is not beside this checkout")
        sys.exit(SKIP)
    py = ensure_venv()
    work = tempfile.mkdtemp(prefix=f"ep-{name}-")
    site = install_package(py, os.path.join(work, "site"))
    env = dict(os.environ, PYTHONPATH=site, EP_TEST_WORK=work, LLM_USER_PATH=os.path.join(work, "llm-user"),
               PYTHONDONTWRITEBYTECODE="1")
    env.pop("EMBEDPIPE_LIBRARY", None)  # the tests use the copy the install bundled
    rc = subprocess.run([py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", "--rootdir", HERE]
                        + [os.path.join(HERE, f) for f in files], env=env, cwd=work).returncode
    if rc == 0:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"(work folder kept: {work})")
    sys.exit(0 if rc == 0 else 1)


if __name__ == "__main__":
    if sys.argv[1:] == ["--ensure"]:
        print(ensure_venv())
    else:
        print("usage: py_env.py --ensure   (makes the tests' venv; prints its python)", file=sys.stderr)
        sys.exit(2)
