#!/usr/bin/env python3
"""int8_sensitivity.py - which int8 choices cost all-MiniLM-L6-v2 accuracy: a simulation.

    /root/.cache/embedpipe/ref-venv/bin/python bench/int8_sensitivity.py [--texts N] [CONFIG...]

Runs sentence-transformers (PyTorch, float64 inside the replaced layers, one thread) on the
tweets of tests/fixtures/vectors-tweeteval.* with the encoder's linear layers replaced by int8
simulations, and prints the minimum and mean cosine against the fixture's sentence-transformers
fp32 vectors (the bar of issue 16: >= 0.995 and >= 0.999). It decided the design of
host/cpu/cpu_int8.h (docs/PERFORMANCE.md, "int8"); the C kernels themselves are measured by
test_cpu_int8_conformance.

A CONFIG is comma-separated key=value (default: the list below, all of them):
  w=0|1          weights per output channel, symmetric int8 [1]; 0 keeps them float
  a=none|sym|asym  activations per token: symmetric int8, or unsigned [0, 255] over the row's
                 range with a zero point [asym]
  keep=LAYERS    layers left in float, '+'-separated: qkv, attn_out, ffn_in, ffn_out
  P=N,T=X        up to N values per row whose distance from the row's mean exceeds X times the
                 row's standard deviation are kept exact (outliers) [0]
Needs HF_HUB_OFFLINE model files in models/all-MiniLM-L6-v2 and ../shared/data (the tweets).
"""
import argparse
import io
import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import numpy as np  # noqa: E402
import torch  # noqa: E402
import zstandard  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT = ["a=sym", "a=sym,keep=ffn_out", "a=asym", "a=asym,keep=ffn_out", "a=asym,keep=ffn_out+attn_out",
           "a=asym,keep=qkv", "a=asym,keep=ffn_in", "a=none", "w=0", "P=4,T=6", "P=8,T=4"]


def unzstd(path):
    return zstandard.ZstdDecompressor().decompress(open(path, "rb").read())


def quant_weights(w):
    s = w.abs().amax(1, keepdim=True).clamp_min(1e-30) / 127
    return torch.round(w / s).clamp(-127, 127) * s


def quant_rows(x, mode, P, T):
    if mode == "none":
        return x
    mask = None
    rest = x
    if P > 0:
        mean = x.mean(-1, keepdim=True)
        dev = (x - mean).abs()
        top = torch.topk(dev, P, dim=-1)
        mask = torch.zeros_like(x, dtype=torch.bool)
        mask.scatter_(-1, top.indices, top.values > T * (x - mean).pow(2).mean(-1, keepdim=True).sqrt())
        rest = torch.where(mask, mean.expand_as(x), x)
    if mode == "sym":
        s = rest.abs().amax(-1, keepdim=True).clamp_min(1e-30) / 127
        q = torch.round(rest / s).clamp(-127, 127) * s
    else:
        lo = rest.amin(-1, keepdim=True).clamp_max(0)
        hi = rest.amax(-1, keepdim=True).clamp_min(0)
        s = ((hi - lo) / 255).clamp_min(1e-30)
        z = torch.round(-lo / s)
        q = ((torch.round(rest / s) + z).clamp(0, 255) - z) * s
    return torch.where(mask, x, q) if mask is not None else q


class Int8Linear(torch.nn.Module):
    def __init__(self, lin, cfg):
        super().__init__()
        self.lin, self.cfg = lin, cfg
        w = lin.weight.data.double()
        self.w = quant_weights(w) if cfg["w"] else w

    def forward(self, x):
        x = quant_rows(x.double(), self.cfg["a"], self.cfg["P"], self.cfg["T"])
        return (x @ self.w.T + self.lin.bias.double()).float()


def parse(text):
    cfg = {"w": 1, "a": "asym", "keep": set(), "P": 0, "T": 6.0}
    for part in filter(None, text.split(",")):
        k, v = part.split("=", 1)
        cfg[k] = set(v.split("+")) if k == "keep" else v if k == "a" else float(v) if k == "T" else int(v)
    return cfg


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--texts", type=int, default=0, help="first N tweets of the fixture (default: all)")
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data"))
    ap.add_argument("configs", nargs="*")
    args = ap.parse_args()
    torch.set_num_threads(1)
    fx = os.path.join(ROOT, "tests", "fixtures")
    rows = [json.loads(line) for line in unzstd(os.path.join(fx, "vectors-tweeteval.rows.ndjson.zst")).splitlines()]
    ref = np.load(io.BytesIO(unzstd(os.path.join(fx, "vectors-tweeteval.f32.npy.zst"))))
    files, texts = {}, []
    for r in rows:
        if r["file"] not in files:
            files[r["file"]] = open(os.path.join(args.data, r["file"]), "rb").read().split(b"\n")
        texts.append(files[r["file"]][r["line"] - 1].decode("utf-8"))
    n = args.texts or len(texts)
    texts, ref = texts[:n], ref[:n]
    model = SentenceTransformer(os.path.join(ROOT, "models", "all-MiniLM-L6-v2"), device="cpu")
    layers = []
    for layer in model[0].auto_model.encoder.layer:
        for parent, attr, name in [(layer.attention.self, "query", "qkv"), (layer.attention.self, "key", "qkv"),
                                   (layer.attention.self, "value", "qkv"), (layer.attention.output, "dense", "attn_out"),
                                   (layer.intermediate, "dense", "ffn_in"), (layer.output, "dense", "ffn_out")]:
            layers.append((parent, attr, name, getattr(parent, attr)))
    print(f"{n} tweets of the fixture, cosine against sentence-transformers fp32:")
    for text in args.configs or DEFAULT:
        cfg = parse(text)
        for parent, attr, name, lin in layers:
            setattr(parent, attr, lin if name in cfg["keep"] else Int8Linear(lin, cfg))
        v = model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
        c = (v * ref).sum(1) / np.linalg.norm(v, axis=1) / np.linalg.norm(ref, axis=1)
        print(f"  {text:32s} min {c.min():.6f}  mean {c.mean():.6f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
