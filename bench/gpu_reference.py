#!/usr/bin/env python3
"""gpu_reference.py - the sentence-transformers side of bench/gpu.sh (needs torch with CUDA).

  - fp32 reference: SentenceTransformer(model) on the GPU in float32, on the sample tweets
  - correctness: min cosine of embedpipe's rows (an `embedpipe export --to ndjson` file, rows
    matched to sample lines by their "line" field) and of sentence-transformers fp16 vs that reference
  - baseline speed: sentence-transformers fp16 `encode` over the benchmark texts, timed end to end
    (tokenisation included, results copied to host as numpy), as a user would run it
Writes one JSON object (--out). Exit 77 when torch, sentence-transformers or a GPU is missing.

bench/gpu.sh --emulate, on a machine without torch, passes --fp32-ndjson: the rows of embedpipe's
own fp32-reference CPU backend stand in for the fp32 reference, so that the comparison and the JSON
still run (numpy only); the fp16 and speed fields are then null. --device cpu runs
sentence-transformers on the CPU (emulated dry runs where torch is there but no GPU).
"""
import argparse
import json
import sys
import time

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--sample", required=True, help="text file, one tweet per line")
    ap.add_argument("--embedpipe-ndjson", required=True)
    ap.add_argument("--bench-texts", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--st-texts", type=int, default=0, help="time the fp16 baseline on the first N texts [all]")
    ap.add_argument("--device", default="cuda", help="torch device for sentence-transformers [cuda]")
    ap.add_argument("--fp32-ndjson", help="embedpipe fp32-reference rows to use instead of sentence-transformers")
    a = ap.parse_args()
    import numpy as np
    if a.fp32_ndjson:
        return compare_only(a, np)
    try:
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as e:
        print(f"gpu_reference.py: {e}: needs numpy, torch and sentence-transformers", file=sys.stderr)
        return 77
    if a.device.startswith("cuda") and not torch.cuda.is_available():
        print("gpu_reference.py: torch sees no CUDA device", file=sys.stderr)
        return 77
    sync = torch.cuda.synchronize if a.device.startswith("cuda") else (lambda: None)

    sample = open(a.sample, encoding="utf-8").read().split("\n")
    if sample and sample[-1] == "":
        sample.pop()
    ref = SentenceTransformer(a.model, device=a.device).float()
    e32 = ref.encode(sample, batch_size=a.batch_size, convert_to_numpy=True, normalize_embeddings=True)
    st16 = SentenceTransformer(a.model, device=a.device).half()
    e16 = st16.encode(sample, batch_size=a.batch_size, convert_to_numpy=True, normalize_embeddings=True)

    ours, lines = read_rows(a.embedpipe_ndjson, np)
    min_ours = float(cos(ours, e32[lines], np).min())
    min_st16 = float(cos(e16.astype(np.float32), e32, np).min())

    texts = open(a.bench_texts, encoding="utf-8").read().split("\n")
    if texts and texts[-1] == "":
        texts.pop()
    if a.st_texts:
        texts = texts[: a.st_texts]
    st16.encode(texts[:2048], batch_size=a.batch_size)  # warm-up: CUDA context, kernels, allocator
    sync()
    t0 = time.perf_counter()
    st16.encode(texts, batch_size=a.batch_size, convert_to_numpy=True)
    sync()
    dt = time.perf_counter() - t0

    out = {
        "rows_compared": len(lines),
        "min_cos_embedpipe_vs_fp32": min_ours,
        "min_cos_st_fp16_vs_fp32": min_st16,
        "reference": f"sentence-transformers fp32 ({a.device})",
        "st_fp16_texts": len(texts),
        "st_fp16_texts_per_s": len(texts) / dt,
        "st_fp16_seconds": dt,
        "st_batch_size": a.batch_size,
        "torch": torch.__version__,
    }
    return finish(a, out)


def cos(x, y, np):
    x, y = x.astype(np.float64), y.astype(np.float64)
    return (x * y).sum(-1) / (np.linalg.norm(x, axis=-1) * np.linalg.norm(y, axis=-1))


def read_rows(path, np):
    """@return (rows as float32 [n, d], 0-based sample line of each row) from an export --to ndjson file."""
    vecs, lines = [], []
    for row in open(path, encoding="utf-8"):
        r = json.loads(row)
        vecs.append(r["vector"])
        lines.append(int(r["line"]) - 1)
    if not vecs:
        sys.exit(f"gpu_reference.py: {path} holds no rows")
    return np.asarray(vecs, dtype=np.float32), lines


def compare_only(a, np):
    """embedpipe's rows against embedpipe's fp32-reference rows (no torch): the emulated dry run."""
    ours, lines = read_rows(a.embedpipe_ndjson, np)
    ref, ref_lines = read_rows(a.fp32_ndjson, np)
    by_line = {ln: i for i, ln in enumerate(ref_lines)}
    missing = [ln for ln in lines if ln not in by_line]
    if missing:
        sys.exit(f"gpu_reference.py: {len(missing)} rows of {a.embedpipe_ndjson} are not in {a.fp32_ndjson}")
    out = {
        "rows_compared": len(lines),
        "min_cos_embedpipe_vs_fp32": float(cos(ours, ref[[by_line[ln] for ln in lines]], np).min()),
        "min_cos_st_fp16_vs_fp32": None,
        "reference": "embedpipe --precision fp32-reference (CPU; no torch here)",
        "st_fp16_texts": None,
        "st_fp16_texts_per_s": None,
        "st_fp16_seconds": None,
        "st_batch_size": None,
        "torch": None,
    }
    return finish(a, out)


def finish(a, out):
    json.dump(out, open(a.out, "w"), indent=1)
    print(json.dumps(out, indent=1))
    ok = out["min_cos_embedpipe_vs_fp32"] >= 0.999
    if not ok:
        print(f"gpu_reference.py: embedpipe's min cosine {out['min_cos_embedpipe_vs_fp32']:.6f} < 0.999", file=sys.stderr)
    return 0 if ok else 1

if __name__ == "__main__":
    sys.exit(main())
