"""embedpipe_build - the PEP 517 build backend of `pip install ./python`.

It needs nothing but the standard library (pyproject.toml's `requires = []`), so an install from a
checkout works offline. It writes one wheel holding the packages `embedpipe` and `llm_embedpipe`
and a copy of libembedpipe.so, found in this order:

  1. $EMBEDPIPE_LIBRARY, a path to a built libembedpipe.so;
  2. the checkout's build/libembedpipe.so (the folder `cmake -B build` made, as docs/build.md says);
  3. otherwise it builds one: cmake -S CHECKOUT -B CHECKOUT/build-python, target embedpipe_shared
     (minutes; the Debian packages of scripts/deps.sh must be there).

The wheel is tagged for this platform only, since it holds a native library built here.
"""
import base64
import hashlib
import os
import re

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent      # python/
CHECKOUT = HERE.parent                             # the repository root, when built from a checkout
NAME, VERSION = "embedpipe", "0.1.0"
PACKAGES = ("embedpipe", "llm_embedpipe")


def _find_library():
    """The path of the libembedpipe.so to bundle; builds one when none is found."""
    env = os.environ.get("EMBEDPIPE_LIBRARY")
    if env:
        if not os.path.isfile(env):
            raise RuntimeError(f"EMBEDPIPE_LIBRARY={env}: no such file; point it at a built libembedpipe.so")
        return Path(env)
    if not (CHECKOUT / "CMakeLists.txt").is_file():
        raise RuntimeError(
            f"no libembedpipe.so: {HERE} is not inside an embedpipe checkout; set EMBEDPIPE_LIBRARY to a "
            "built libembedpipe.so (cmake --build build makes build/libembedpipe.so)")
    built = CHECKOUT / "build" / "libembedpipe.so"
    if built.is_file():
        return built
    out = CHECKOUT / "build-python"
    print(f"embedpipe: no {built}; building libembedpipe with cmake into {out}", file=sys.stderr)
    try:
        subprocess.run(["cmake", "-S", str(CHECKOUT), "-B", str(out), "-DCMAKE_BUILD_TYPE=Release"], check=True,
                       stdout=sys.stderr)
        subprocess.run(["cmake", "--build", str(out), "--target", "embedpipe_shared", "-j",
                        str(os.cpu_count() or 2)], check=True, stdout=sys.stderr)
    except (OSError, subprocess.CalledProcessError) as e:
        raise RuntimeError(f"building libembedpipe failed ({e}); run scripts/deps.sh for the build tools and "
                           "libraries, or set EMBEDPIPE_LIBRARY to a built libembedpipe.so") from e
    return out / "libembedpipe.so"


def _tag():
    plat = re.sub(r"[^A-Za-z0-9_]", "_", sysconfig.get_platform())
    return f"py3-none-{plat}"


def _metadata():
    readme = (HERE / "README.md").read_text(encoding="utf-8") if (HERE / "README.md").is_file() else ""
    lines = [
        "Metadata-Version: 2.1", f"Name: {NAME}", f"Version: {VERSION}",
        "Summary: Sentence embeddings through libembedpipe: encode texts, read embedpipe output folders, llm plugin",
        "Requires-Python: >=3.9", "Requires-Dist: numpy>=1.21", "Requires-Dist: pandas>=1.3",
        "Provides-Extra: parquet", 'Requires-Dist: pyarrow>=15; extra == "parquet"',
        "Description-Content-Type: text/markdown", "", readme]
    return "\n".join(lines)


def _record_line(arcname, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{arcname},sha256={digest},{len(data)}"


def get_requires_for_build_wheel(config_settings=None):
    return []


def _dist_info_files(tag):
    dist_info = f"{NAME}-{VERSION}.dist-info"
    return dist_info, [
        (f"{dist_info}/METADATA", _metadata().encode()),
        (f"{dist_info}/WHEEL", (f"Wheel-Version: 1.0\nGenerator: embedpipe_build\nRoot-Is-Purelib: false\n"
                                f"Tag: {tag}\n").encode()),
        (f"{dist_info}/entry_points.txt", b"[llm]\nembedpipe = llm_embedpipe\n"),
        (f"{dist_info}/top_level.txt", "\n".join(PACKAGES).encode() + b"\n"),
    ]


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    """The metadata alone, without finding or building the library (pip asks for it first)."""
    dist_info, files = _dist_info_files(_tag())
    for arcname, data in files:
        path = Path(metadata_directory) / arcname
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return dist_info


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    lib = _find_library()
    tag = _tag()
    dist_info = f"{NAME}-{VERSION}.dist-info"
    files = []  # (arcname, bytes)
    for pkg in PACKAGES:
        for path in sorted((HERE / pkg).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix in (".py", ".typed"):
                files.append((path.relative_to(HERE).as_posix(), path.read_bytes()))
    files.append(("embedpipe/_lib/libembedpipe.so", lib.read_bytes()))
    files += _dist_info_files(tag)[1]
    record = [_record_line(a, d) for a, d in files] + [f"{dist_info}/RECORD,,"]
    files.append((f"{dist_info}/RECORD", ("\n".join(record) + "\n").encode()))
    name = f"{NAME}-{VERSION}-{tag}.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w", zipfile.ZIP_DEFLATED) as z:
        for arcname, data in files:
            info = zipfile.ZipInfo(arcname, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if arcname.endswith(".so") else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return name


def build_sdist(sdist_directory, config_settings=None):
    """A source archive of python/ alone: installing it needs EMBEDPIPE_LIBRARY (it has no checkout)."""
    import tarfile
    base = f"{NAME}-{VERSION}"
    name = f"{base}.tar.gz"
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz") as t:
        for rel in ["pyproject.toml", "README.md", "_build/embedpipe_build.py"] + [
                p.relative_to(HERE).as_posix() for pkg in PACKAGES for p in sorted((HERE / pkg).rglob("*.py"))]:
            if (HERE / rel).is_file():
                t.add(HERE / rel, arcname=f"{base}/{rel}")
        info = tarfile.TarInfo(f"{base}/PKG-INFO")
        data = _metadata().encode()
        info.size = len(data)
        import io
        t.addfile(info, io.BytesIO(data))
    return name


