"""test_library_flags.py - library code does not name command-line flags in its messages.

The library is called from the CLI, from C (include/embedpipe.h) and from Python; only the CLI has
flags. A message that tells the user what to change names the setting through ep_setting_name()
(common/setting_names.h), which says "max_record_bytes" to a library caller and "--max-record-bytes"
once the CLI has installed its flags. This check reads every C string literal of the library's
sources (every product folder but host/cli/, comments left out) and fails, naming file and line, on
one that spells a flag: "--word", or "-o" (the output folder) as a word of its own.

Usage: python3 test_library_flags.py SOURCE_DIR (it checks its own scanner first)
"""
import os
import re
import sys

LIBRARY_TOPS = ("include", "common", "tokenizer", "io", "host", "kernels")
FRONT_ENDS = ("host/cli",)  # the programs that own the flags: they may spell them
SOURCE_EXT = (".c", ".h", ".cu", ".cuh", ".cpp")
FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*|-o)(?![\w-])")

# (path, flag, reason): a literal that may spell a flag, and why. Keep it short; each entry is a debt.
ALLOWED = [
]


def literals(text):
    """Yields (line, body) for each string literal of C source text; comments and char literals skipped."""
    i, n, line = 0, len(text), 1
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            line += text.count("\n", i, j)
            i = j
        elif c in "\"'":
            j, start = i + 1, line
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            if c == '"':
                yield start, text[i + 1:j]
            i = j + 1
        else:
            i += 1


def problems(root):
    found = []
    for top in LIBRARY_TOPS:
        for d, _, names in os.walk(os.path.join(root, top)):
            rel = os.path.relpath(d, root).replace(os.sep, "/")
            if any(rel == f or rel.startswith(f + "/") for f in FRONT_ENDS):
                continue
            for name in sorted(names):
                if not name.endswith(SOURCE_EXT):
                    continue
                path = f"{rel}/{name}"
                with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
                    text = f.read()
                for line, body in literals(text):
                    for m in FLAG.finditer(body):
                        if any(path == p and m.group(1) == flag for p, flag, _ in ALLOWED):
                            continue
                        found.append(f"{path}:{line}: the message spells the flag {m.group(1)}: name the setting "
                                     f"with \"%s\" and ep_setting_name() (common/setting_names.h), or add "
                                     f"it to ALLOWED in tests/layout/test_library_flags.py with the reason")
    return found


def self_test():
    """The scanner finds flags in strings and only there."""
    src = ('/* --comment */ // --line "--not"\n'
           'x = "pass --overwrite"; y = \'-\';\n'
           'z = "a \\"--quoted\\" b" "choose another -o folder";\n'
           'w = "x-o --- -1 e-o a--b";\n')
    got = [(ln, m.group(1)) for ln, body in literals(src) for m in FLAG.finditer(body)]
    want = [(2, "--overwrite"), (3, "--quoted"), (3, "-o")]
    if got != want:
        print(f"FAIL self-test: found {got}, expected {want}")
        return 1
    return 0


def main():
    if self_test():
        return 1
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")
    found = problems(root)
    for f in found:
        print("FAIL", f)
    print(f"library string literals checked for command-line flags: "
          f"{'ok' if not found else str(len(found)) + ' problem(s)'}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
