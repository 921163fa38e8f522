"""check_layers.py - the layering of docs/ARCHITECTURE.md, checked from the sources.

Each product folder may include headers only from itself and from the folders listed
below it in LAYERS (the same table the CMake libraries link by). The build already
refuses most back-edges (a library sees only the headers of what it links); this test
names the file and line of any #include that crosses the table the wrong way, also
where a header would happen to be reachable, and fails when a product folder is not
in the table (a new folder must take its place in it) or a header name is ambiguous.

Usage: python3 check_layers.py SOURCE_DIR
"""
import os
import re
import sys

# folder -> the folders it may use (directly); what those may use follows.
LAYERS = {
    "include": [],
    "common": ["include"],
    "tokenizer": ["common"],
    "io/input": ["common"],
    "io/output": ["common"],
    "host/model": ["common", "tokenizer"],
    "host/backend": ["host/model"],
    "host/cpu": ["host/backend"],
    "host/null": ["host/backend"],
    # the emulation stands in for the CUDA runtime, below the kernels it runs
    "kernels/emu": [],
    "kernels": ["common", "kernels/emu"],
    "host/cuda": ["host/backend", "kernels"],
    "host/device": ["host/cpu", "host/null", "host/cuda"],
    "host/pipeline": ["host/device", "tokenizer", "io/input", "io/output"],
    "host/tools": ["host/device", "tokenizer", "io/input", "io/output"],
    "host/explore": ["host/tools", "host/device", "io/output"],
    "host/api": ["host/pipeline", "host/device", "tokenizer", "io/output"],
    "host/cli": ["host/explore", "host/tools", "host/pipeline", "host/api"],
}
SOURCE_EXT = (".c", ".h", ".cu", ".cuh", ".cpp")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def allowed_from(folder):
    seen, todo = set(), [folder]
    while todo:
        f = todo.pop()
        if f in seen:
            continue
        seen.add(f)
        todo.extend(LAYERS.get(f, []))
    return seen


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")
    owner = {}  # header name -> folder
    files = []
    failures = []
    for top in ("include", "common", "tokenizer", "io", "host", "kernels"):
        for d, _, names in os.walk(os.path.join(root, top)):
            rel = os.path.relpath(d, root)
            for n in names:
                if not n.endswith(SOURCE_EXT):
                    continue
                if rel not in LAYERS:
                    failures.append(f"{rel}/{n}: folder {rel} is not in the layer table of "
                                    f"tests/layout/check_layers.py (and docs/ARCHITECTURE.md): give it its place")
                    continue
                files.append((rel, n))
                if n.endswith((".h", ".cuh")):
                    if n in owner and owner[n] != rel:
                        failures.append(f"header name {n} is in both {owner[n]} and {rel}: includes are by name")
                    owner[n] = rel
    edges = 0
    for rel, n in files:
        ok = allowed_from(rel)
        with open(os.path.join(root, rel, n), encoding="utf-8", errors="replace") as f:
            for lineno, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                name = os.path.basename(m.group(1))
                target = owner.get(name)
                if target is None:
                    continue  # a generated file or a third-party header
                edges += 1
                if target not in ok:
                    failures.append(f"{rel}/{n}:{lineno}: includes {name} from {target}, which {rel} may not use "
                                    f"(it may use: {', '.join(sorted(ok - {rel})) or 'nothing'})")
    for f in failures:
        print("FAIL", f)
    print(f"{len(files)} files, {edges} includes checked against {len(LAYERS)} layers: "
          f"{'ok' if not failures else str(len(failures)) + ' problem(s)'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
