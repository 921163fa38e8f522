#!/usr/bin/env python3
"""compare_cpu.py - the Python half of bench/compare-cpu.sh (run it through that script).

Subcommands:
  prepare      write the benchmark texts (NDJSON with id and text; a one-text file for
               start-up; a lines file for the tokenizer benchmarks) from the shared data
  models       export the ONNX models the peers run (fp32, and sentence-transformers'
               dynamic int8 quantisation) into a cache folder outside the repository
  embed        embed the texts with one peer system and save the float32 vectors (.npy)
  llama        embed the texts with llama.cpp's llama-embedding (a GGUF model) and save the vectors
  embedpipe    read embedpipe's float16 shards back into one float32 .npy in input order
  accuracy     minimum / mean cosine of one .npy against the reference .npy
  hf-tokenize  Hugging Face tokenizers (Rust), one thread: texts/s and the id checksum
               that bench/tokenizer-bench prints, so identical ids can be checked
  table        turn the measurements (JSON lines) into the Markdown table
"""
import argparse
import glob
import io
import json
import os
import statistics
import sys
import time

T_START = time.perf_counter()


def cmd_prepare(a):
    files = sorted(glob.glob(os.path.join(a.data, "tweeteval", "*.txt")))
    if not files:
        sys.exit(f"no tweeteval/*.txt under {a.data}")
    lines = []
    for f in files:
        with open(f, "rb") as fh:
            for i, raw in enumerate(fh.read().split(b"\n")):
                text = raw.decode("utf-8", errors="replace")
                if text.strip():
                    lines.append((f"tweeteval/{os.path.basename(f)}:{i + 1}", text))
    step = max(1, len(lines) // a.tweeteval)
    picked = lines[::step][: a.tweeteval]
    tweets = []
    tjs = os.path.join(a.data, "twitter-export", "tweets.js")
    if a.tweets_js > 0 and os.path.exists(tjs):
        raw = open(tjs, encoding="utf-8").read()
        doc = json.loads(raw[raw.index("["):])
        for t in doc:
            tw = t.get("tweet", t)
            text = tw.get("full_text") or tw.get("text") or ""
            if text.strip() and len(tweets) < a.tweets_js:
                tweets.append((f"tweets.js:{tw.get('id_str', len(tweets))}", text))
    rows = picked + tweets
    with open(a.out, "w", encoding="utf-8") as f:
        for rid, text in rows:
            f.write(json.dumps({"id": rid, "text": text}, ensure_ascii=False) + "\n")
    with open(a.one, "w", encoding="utf-8") as f:
        f.write(json.dumps({"id": rows[0][0], "text": rows[0][1]}, ensure_ascii=False) + "\n")
    with open(a.lines, "w", encoding="utf-8") as f:  # newlines inside tweets become spaces
        for _, text in rows:
            f.write(text.replace("\r", " ").replace("\n", " ") + "\n")
    from tokenizers import Tokenizer

    tk = Tokenizer.from_file(os.path.join(a.model, "tokenizer.json"))
    tk.no_padding()
    tk.enable_truncation(256)
    n_tokens = sum(len(e.ids) for e in tk.encode_batch([t for _, t in rows]))
    json.dump({"texts": len(rows), "tweeteval": len(picked), "tweets_js": len(tweets), "tokens": n_tokens},
              open(a.meta, "w"))
    print(f"{len(rows)} texts ({len(picked)} tweeteval lines, {len(tweets)} tweets.js tweets), {n_tokens} tokens")


def load_texts(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(l)["text"] for l in f if l.strip()]


def int8_config():
    flags = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
    if "avx512_vnni" in flags:
        return "avx512_vnni"
    if "avx512f" in flags:
        return "avx512"
    if "avx2" in flags:
        return "avx2"
    return "arm64"


def cmd_models(a):
    import shutil

    from sentence_transformers import SentenceTransformer, export_dynamic_quantized_onnx_model

    dst = a.cache
    if not os.path.exists(os.path.join(dst, "onnx", "model.onnx")):
        if os.path.exists(dst):
            shutil.rmtree(dst)
        shutil.copytree(a.model, dst, ignore=shutil.ignore_patterns("onnx", "*.onnx"))
        m = SentenceTransformer(dst, backend="onnx", device="cpu", model_kwargs={"provider": "CPUExecutionProvider"})
        m.save_pretrained(dst)
    cfg = int8_config()
    q = os.path.join(dst, "onnx", f"model_qint8_{cfg}.onnx")
    if not os.path.exists(q):
        m = SentenceTransformer(dst, backend="onnx", device="cpu",
                                model_kwargs={"provider": "CPUExecutionProvider", "file_name": "onnx/model.onnx"})
        export_dynamic_quantized_onnx_model(m, cfg, dst)
    json.dump({"fp32": "onnx/model.onnx", "int8": f"onnx/model_qint8_{cfg}.onnx", "int8_config": cfg},
              open(os.path.join(dst, "bench-models.json"), "w"))
    print(f"ONNX models in {dst}: onnx/model.onnx, onnx/model_qint8_{cfg}.onnx")


def cmd_embed(a):
    import numpy as np

    texts = load_texts(a.texts)
    if a.system == "st":
        import torch

        torch.set_num_threads(a.threads)
        torch.set_num_interop_threads(1)
        from sentence_transformers import SentenceTransformer

        m = SentenceTransformer(a.model, device="cpu")
    else:
        import onnxruntime as ort
        from sentence_transformers import SentenceTransformer

        so = ort.SessionOptions()
        so.intra_op_num_threads = a.threads
        so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        m = SentenceTransformer(a.model, backend="onnx", device="cpu",
                                model_kwargs={"provider": "CPUExecutionProvider", "file_name": a.onnx_file,
                                              "session_options": so})
    t0 = time.perf_counter()
    v = m.encode(texts, batch_size=a.batch_size, normalize_embeddings=True, convert_to_numpy=True,
                 show_progress_bar=False)
    t1 = time.perf_counter()
    if a.out:
        np.save(a.out, v.astype(np.float32))
    print(json.dumps({"texts": len(texts), "encode_s": t1 - t0, "ready_s": t0 - T_START}))


def cmd_llama(a):
    """llama.cpp's llama-embedding on the same texts: one text per line (a newline inside a
    tweet becomes a space, which WordPiece treats alike), mean pooling, L2 normalisation."""
    import subprocess

    import numpy as np

    texts = load_texts(a.texts)
    lines = a.out + ".txt"
    with open(lines, "w", encoding="utf-8") as f:
        for t in texts:
            f.write(t.replace("\r", " ").replace("\n", " ") + "\n")
    cmd = [a.bin, "-m", a.model, "-f", lines, "--pooling", "mean", "--embd-normalize", "2",
           "--embd-output-format", "array", "--no-escape", "-t", str(a.threads), "-tb", str(a.threads),
           "-c", str(a.batch_tokens), "-b", str(a.batch_tokens), "-ub", str(a.batch_tokens)]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        sys.exit(f"llama-embedding failed ({r.returncode}): {r.stderr.decode()[-2000:]}")
    out = r.stdout.decode()
    v = np.array(json.loads(out[out.index("["): out.rindex("]") + 1]), dtype=np.float32)
    if v.shape[0] != len(texts):
        sys.exit(f"llama-embedding returned {v.shape[0]} vectors for {len(texts)} texts")
    np.save(a.out, v)
    os.remove(lines)


def cmd_embedpipe(a):
    import numpy as np
    import zstandard

    man = json.load(open(os.path.join(a.dir, "manifest.json")))
    parts = []
    for s in man["shards"]:
        name = s["file"] if isinstance(s, dict) else s
        raw = zstandard.ZstdDecompressor().decompress(open(os.path.join(a.dir, name), "rb").read(),
                                                      max_output_size=1 << 31)
        parts.append(np.load(io.BytesIO(raw)).astype(np.float32))
    np.save(a.out, np.concatenate(parts))


def cmd_accuracy(a):
    import numpy as np

    x, r = np.load(a.got), np.load(a.ref)
    if x.shape != r.shape:
        print(json.dumps({"error": f"shape {x.shape} vs reference {r.shape}"}))
        return
    cos = (x * r).sum(1) / (np.linalg.norm(x, axis=1) * np.linalg.norm(r, axis=1) + 1e-30)
    print(json.dumps({"min_cos": float(cos.min()), "mean_cos": float(cos.mean())}))


def cmd_hf_tokenize(a):
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    os.environ["RAYON_NUM_THREADS"] = "1"
    from tokenizers import Tokenizer

    tk = Tokenizer.from_file(os.path.join(a.model, "tokenizer.json"))
    tk.no_padding()
    tk.enable_truncation(256)
    with open(a.lines, "rb") as f:
        texts = [l.decode("utf-8", errors="replace") for l in f.read().split(b"\n")[:-1]]
    best = 1e30
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        enc = tk.encode_batch(texts)  # Rust loop; RAYON_NUM_THREADS=1 keeps it on one thread
        best = min(best, time.perf_counter() - t0)
    s = 0
    mask = (1 << 64) - 1
    for e in enc:
        for i in e.ids:
            s = (s * 31 + i) & mask
    print(json.dumps({"texts": len(texts), "best_s": best, "texts_per_s": len(texts) / best,
                      "checksum": f"{s:016x}"}))


def cmd_table(a):
    rows = [json.loads(l) for l in open(a.results) if l.strip()]
    meta = json.load(open(a.meta))
    out = []
    w = out.append
    base = next((r for r in rows if r["system"].startswith("embedpipe fp32") and "reference" not in r["system"]),
                rows[0] if rows else None)
    w("| system | precision | texts/s | tokens/s | vs embedpipe fp32 | peak RSS | start-up | min cosine | "
      "mean cosine |")
    w("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        tps = meta["texts"] / r["encode_s"]
        ratio = (base["encode_s"] / r["encode_s"]) if base else float("nan")
        acc = r.get("accuracy", {})
        w(f"| {r['system']} | {r['precision']} | {tps:,.0f} | {meta['tokens'] / r['encode_s']:,.0f} | "
          f"{ratio:.2f}x | {r['rss_mb']:.0f} MB | {r['startup_s']:.2f} s | "
          f"{acc.get('min_cos', float('nan')):.6f} | {acc.get('mean_cos', float('nan')):.6f} |")
    print("\n".join(out))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("prepare")
    s.add_argument("--data", required=True)
    s.add_argument("--model", required=True)
    s.add_argument("--tweeteval", type=int, default=20000)
    s.add_argument("--tweets-js", type=int, default=100000, help="at most this many tweets.js tweets")
    s.add_argument("--out", required=True)
    s.add_argument("--one", required=True)
    s.add_argument("--lines", required=True)
    s.add_argument("--meta", required=True)
    s = sub.add_parser("models")
    s.add_argument("--model", required=True)
    s.add_argument("--cache", required=True)
    s = sub.add_parser("embed")
    s.add_argument("--system", choices=["st", "ort"], required=True)
    s.add_argument("--model", required=True)
    s.add_argument("--onnx-file", default="onnx/model.onnx")
    s.add_argument("--texts", required=True)
    s.add_argument("--threads", type=int, default=2)
    s.add_argument("--batch-size", type=int, default=32)
    s.add_argument("--out")
    s = sub.add_parser("llama")
    s.add_argument("--bin", required=True)
    s.add_argument("--model", required=True)
    s.add_argument("--texts", required=True)
    s.add_argument("--threads", type=int, default=2)
    s.add_argument("--batch-tokens", type=int, default=2048, help="llama.cpp n_batch = n_ubatch (its default 2048; of 512-4096 the fastest here)")
    s.add_argument("--out", required=True)
    s = sub.add_parser("embedpipe")
    s.add_argument("--dir", required=True)
    s.add_argument("--out", required=True)
    s = sub.add_parser("accuracy")
    s.add_argument("--got", required=True)
    s.add_argument("--ref", required=True)
    s = sub.add_parser("hf-tokenize")
    s.add_argument("--model", required=True)
    s.add_argument("--lines", required=True)
    s.add_argument("--repeat", type=int, default=3)
    s = sub.add_parser("table")
    s.add_argument("--results", required=True)
    s.add_argument("--meta", required=True)
    a = p.parse_args()
    globals()["cmd_" + a.cmd.replace("-", "_")](a)


if __name__ == "__main__":
    main()
