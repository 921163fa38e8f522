#!/usr/bin/env python3
"""convert-f16.py - copy a sentence-transformers model folder with its F32 weights rounded to F16.

embedpipe reads F16 safetensors as they are (the CUDA backend keeps F16 weights on the GPU), and
an F16 all-MiniLM-L6-v2 is 45 MB instead of 90 MB, small enough to travel in the GPU kit
(scripts/gpu-kit.sh). The safetensors format is written by hand (8-byte little-endian header
length, a JSON header of {name: {dtype, shape, data_offsets}}, then the tensor bytes), so only
numpy is needed.

Rounding: numpy's float32 -> float16 conversion, round to nearest, ties to even. A weight that
would overflow F16 (|x| > 65504) is an error, not an infinity. Tensors that are not F32 (e.g. an
I64 position_ids buffer) are copied unchanged. Every other file of the folder (config, vocab,
tokenizer, pooling) is copied byte for byte; README.md is kept for its licence text.

Usage: convert-f16.py SRC_MODEL_DIR DST_MODEL_DIR
"""
import json
import os
import shutil
import struct
import sys

import numpy as np


def read_safetensors(path):
    """@return (metadata or None, list of (name, dtype, shape, bytes)) in file order."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        sys.exit(f"{path}: shorter than a safetensors header; fetch the model again (scripts/fetch-model.sh)")
    (n,) = struct.unpack("<Q", raw[:8])
    if 8 + n > len(raw):
        sys.exit(f"{path}: header length {n} runs past the end of the file; fetch the model again")
    header = json.loads(raw[8:8 + n])
    body = raw[8 + n:]
    meta = header.pop("__metadata__", None)
    tensors = []
    for name, t in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        a, b = t["data_offsets"]
        if not 0 <= a <= b <= len(body):
            sys.exit(f"{path}: tensor {name} has offsets {a}..{b} outside the data ({len(body)} bytes)")
        tensors.append((name, t["dtype"], t["shape"], body[a:b]))
    return meta, tensors


def to_f16(name, dtype, shape, data):
    """@return (dtype, bytes): F32 rounded to F16, anything else unchanged."""
    if dtype != "F32":
        return dtype, data
    x = np.frombuffer(data, dtype="<f4")
    if x.size != int(np.prod(shape, dtype=np.int64)):
        sys.exit(f"tensor {name}: {x.size} values for shape {shape}")
    with np.errstate(over="ignore"):
        h = x.astype("<f2")
    bad = np.isfinite(x) & ~np.isfinite(h)
    if bad.any():
        sys.exit(f"tensor {name}: {int(bad.sum())} values overflow F16 (max |x| {float(np.abs(x).max())}); "
                 "this model cannot be stored in F16")
    return "F16", h.tobytes()


def write_safetensors(path, meta, tensors):
    header, off = {}, 0
    if meta is not None:
        header["__metadata__"] = meta
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(data)]}
        off += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)  # the format pads the header with spaces to 8-byte alignment
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for _, _, _, data in tensors:
            f.write(data)
    os.replace(tmp, path)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[-1])
    src, dst = sys.argv[1], sys.argv[2]
    st = os.path.join(src, "model.safetensors")
    if not os.path.isfile(st):
        sys.exit(f"{st}: not found; run scripts/fetch-model.sh first")
    os.makedirs(dst, exist_ok=True)
    for root, _, files in os.walk(src):
        rel = os.path.relpath(root, src)
        for fn in files:
            if rel == "." and fn == "model.safetensors":
                continue
            os.makedirs(os.path.join(dst, rel), exist_ok=True)
            shutil.copyfile(os.path.join(root, fn), os.path.join(dst, rel, fn))
    meta, tensors = read_safetensors(st)
    out = []
    for name, dtype, shape, data in tensors:
        d, b = to_f16(name, dtype, shape, data)
        out.append((name, d, shape, b))
    write_safetensors(os.path.join(dst, "model.safetensors"), meta, out)
    n16 = sum(1 for t in out if t[1] == "F16")
    size = os.path.getsize(os.path.join(dst, "model.safetensors"))
    print(f"convert-f16.py: {dst}/model.safetensors: {n16} of {len(out)} tensors F16, {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
