#!/usr/bin/env python3
"""gpu_reference.py - the sentence-transformers side of bench/gpu.sh (needs torch with CUDA).

  - fp32 reference: SentenceTransformer(model) on the GPU in float32, on the sample tweets
  - correctness: min cosine of embedpipe's rows (an `embedpipe export --to ndjson` file, rows
    matched to sample lines by their "line" field) and of sentence-transformers fp16 vs that reference
  - baseline speed: sentence-transformers fp16 `encode` over the benchmark texts, timed end to end
    (tokenisation included, results copied to host as numpy), as a user would run it
Writes one JSON object (--out). Exit 77 when torch, sentence-transformers or a GPU is missing.
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
    a = ap.parse_args()
    try:
        import numpy as np
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as e:
        print(f"gpu_reference.py: {e}: needs numpy, torch and sentence-transformers", file=sys.stderr)
        return 77
    if not torch.cuda.is_available():
        print("gpu_reference.py: torch sees no CUDA device", file=sys.stderr)
        return 77

    sample = open(a.sample, encoding="utf-8").read().split("\n")
    if sample and sample[-1] == "":
        sample.pop()
    ref = SentenceTransformer(a.model, device="cuda").float()
    e32 = ref.encode(sample, batch_size=a.batch_size, convert_to_numpy=True, normalize_embeddings=True)
    st16 = SentenceTransformer(a.model, device="cuda").half()
    e16 = st16.encode(sample, batch_size=a.batch_size, convert_to_numpy=True, normalize_embeddings=True)

    def cos(x, y):
        x, y = x.astype(np.float64), y.astype(np.float64)
        return (x * y).sum(-1) / (np.linalg.norm(x, axis=-1) * np.linalg.norm(y, axis=-1))

    ours, lines = [], []
    for row in open(a.embedpipe_ndjson, encoding="utf-8"):
        r = json.loads(row)
        ours.append(r["vector"])
        lines.append(int(r["line"]) - 1)
    ours = np.asarray(ours, dtype=np.float32)
    min_ours = float(cos(ours, e32[lines]).min())
    min_st16 = float(cos(e16.astype(np.float32), e32).min())

    texts = open(a.bench_texts, encoding="utf-8").read().split("\n")
    if texts and texts[-1] == "":
        texts.pop()
    st16.encode(texts[:2048], batch_size=a.batch_size)  # warm-up: CUDA context, kernels, allocator
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    st16.encode(texts, batch_size=a.batch_size, convert_to_numpy=True)
    torch.cuda.synchronize()
    dt = time.perf_counter() - t0

    out = {
        "rows_compared": len(lines),
        "min_cos_embedpipe_vs_fp32": min_ours,
        "min_cos_st_fp16_vs_fp32": min_st16,
        "st_fp16_texts_per_s": len(texts) / dt,
        "st_fp16_seconds": dt,
        "st_batch_size": a.batch_size,
        "torch": torch.__version__,
    }
    json.dump(out, open(a.out, "w"), indent=1)
    print(json.dumps(out, indent=1))
    ok = min_ours >= 0.999
    if not ok:
        print(f"gpu_reference.py: embedpipe's min cosine {min_ours:.6f} < 0.999", file=sys.stderr)
    return 0 if ok else 1

if __name__ == "__main__":
    sys.exit(main())
