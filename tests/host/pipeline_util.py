"""pipeline_util.py - shared helpers for the end-to-end tests of tests/host/pipeline/, cli/ and tools/
(each puts this folder on sys.path).

The tests run the real embedpipe binary ($EP_CLI) on a tiny BERT with random
weights written by scripts/make-tiny-model.py (the real safetensors folder
layout, just small) and generated inputs, so they are fast enough for CI.
"""
import hashlib
import json
import os
import random
import shutil
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
        print("SKIP: EP_CLI is not set (run through ctest)")
        sys.exit(SKIP)
    return path


def workdir(name):
    d = tempfile.mkdtemp(prefix=f"ep-{name}-")
    return d


def tiny_model(root, hidden=32, layers=2, heads=2, max_seq_length=64, seed=7):
    """A tiny random model in root/model, with the real vocab when EP_MODEL_DIR has one."""
    src = os.environ.get("EP_SOURCE_DIR", ".")
    out = os.path.join(root, "model")
    args = [sys.executable, os.path.join(src, "scripts", "make-tiny-model.py"), "--out", out,
            "--hidden", str(hidden), "--layers", str(layers), "--heads", str(heads),
            "--intermediate", str(2 * hidden), "--max-seq-length", str(max_seq_length), "--seed", str(seed)]
    vocab = os.path.join(os.environ.get("EP_MODEL_DIR", ""), "vocab.txt")
    if os.path.exists(vocab):
        args += ["--vocab", vocab]
    else:
        print("note: no real vocab.txt at EP_MODEL_DIR; using the tiny model's synthetic vocab")
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    return out


WORDS = ("the a of to and in is it for on with this that was are be at by not you have from or one "
         "bike rain coffee bread garden city train model vector search tweet archive night job "
         "embedding kernel shard resume crash résumé café naïve straße 東京 москва 🚲 🌧️ ☕").split()


def make_records(n, seed=1, bad_every=0, first_id=0):
    """n NDJSON lines {"id", "text"} with ids first_id...; every bad_every-th line is malformed in one of
    four ways (not JSON, no text field, null text, numeric text)."""
    rnd = random.Random(seed)
    lines = []
    for i in range(first_id, first_id + n):
        if bad_every and i % bad_every == bad_every - 1:
            kind = (i // bad_every) % 4
            if kind == 0:
                lines.append('{"id": "%d", "text": "unterminated' % i)
            elif kind == 1:
                lines.append(json.dumps({"id": str(i), "note": "no text field"}))
            elif kind == 2:
                lines.append(json.dumps({"id": str(i), "text": None}))
            else:
                lines.append(json.dumps({"id": str(i), "text": 12345}))
            continue
        words = [rnd.choice(WORDS) for _ in range(rnd.randint(1, 40))]
        lines.append(json.dumps({"id": str(i), "text": " ".join(words)}, ensure_ascii=False))
    return lines


def write_lines(path, lines):
    with open(path, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(line + "\n")


def run(args, check_rc=None, env=None, text=True, **kw):
    """Runs embedpipe ARGS; env adds to the environment."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    p = subprocess.run([cli()] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env, text=text,
                       **kw)
    if check_rc is not None and p.returncode != check_rc:
        print(p.stdout[-2000:], p.stderr[-2000:], file=sys.stderr)
        check(False, f"embedpipe {' '.join(args)}: exit {p.returncode}, expected {check_rc}")
    return p


def manifest(d):
    with open(os.path.join(d, "manifest.json"), encoding="utf-8") as f:
        return json.load(f)


def folder_digest(d, skip=()):
    """{name: sha256} of every file in d but the lock file (it names the last writer's pid, not output)."""
    out = {}
    for name in sorted(os.listdir(d)):
        if name in skip or name == ".embedpipe.lock":
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
    return check(False, f"{what}: folders differ: only in first {only_a}, only in second {only_b}, differ {differ}")


def cleanup(d):
    shutil.rmtree(d, ignore_errors=True)


def patch_tensor(model_dir, name, values):
    """Rewrites the F32 tensor name of model_dir/model.safetensors in place: values(list of floats) ->
    list of floats of the same length. The header and every other tensor stay as they are."""
    import struct
    path = os.path.join(model_dir, "model.safetensors")
    with open(path, "r+b") as f:
        (hlen,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(hlen))
        t = header[name]
        if t["dtype"] != "F32":
            raise ValueError(f"{name}: patch_tensor handles F32 only, not {t['dtype']}")
        begin, end = t["data_offsets"]
        f.seek(8 + hlen + begin)
        old = list(struct.unpack("<%df" % ((end - begin) // 4), f.read(end - begin)))
        new = values(old)
        if len(new) != len(old):
            raise ValueError(f"{name}: {len(new)} values for a tensor of {len(old)}")
        f.seek(8 + hlen + begin)
        f.write(struct.pack("<%df" % len(new), *new))


def copy_model(src, dst):
    """A copy of a model folder (to patch without touching the original)."""
    shutil.copytree(src, dst)
    return dst
