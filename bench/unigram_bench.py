#!/usr/bin/env python3
"""unigram_bench.py - Hugging Face tokenizers (its Rust code, one thread) on what bench/unigram-bench.c
times: the Precompiled normalizer alone, the Unigram model alone, and both with Metaspace between.

    TOKENIZERS_PARALLELISM=false RAYON_NUM_THREADS=1 /root/.cache/embedpipe/ref-venv/bin/python \\
        bench/unigram_bench.py TOKENIZER.json[.zst] [--repeat N] [--every K] FILE...

Every K-th line of each FILE is one text (split on '\\n' only, as the C bench). Best of N passes:
  charsmap  a Tokenizer of the Precompiled normalizer and a one-token WordLevel model,
            encode_batch(texts): the normalizer plus a near-free model
  unigram   a Tokenizer of the Unigram model and the Metaspace pre-tokenizer, encode_batch of the
            texts the whole normalizer made beforehand (tokenizers has no cheaper way to run its
            model alone: pre-tokenized input costs more per word); tokenizers also caches the
            words it has seen (up to 10,000), embedpipe does not
  both      the whole tokenizer, encode_batch(texts, add_special_tokens=False)
and the checksum of the unigram pass's ids (h = h * 31 + id, mod 2^64) that the C bench prints.

  --synthetic-vocab N OUT.json  instead writes TOKENIZER with a vocabulary grown to N pieces (the
      most frequent substrings of 2-12 characters of the texts' words, scores = log frequency),
      for timing both at XLM-R's scale (250,002 pieces); then run both benches on OUT.json.
"""
import argparse
import collections
import json
import math
import os
import time

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("RAYON_NUM_THREADS", "1")


def read_json(path):
    data = open(path, "rb").read()
    if path.endswith(".zst"):
        import zstandard
        data = zstandard.ZstdDecompressor().decompress(data, max_output_size=1 << 31)
    return data.decode("utf-8")


def read_texts(files, every):
    texts = []
    for path in files:
        lines = open(path, "rb").read().split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()  # the C bench sees no line after the final newline
        texts += [lines[i].decode("utf-8", errors="replace") for i in range(0, len(lines), every)]
    return texts


def best_of(repeat, fn):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def synthetic_vocab(spec, texts, n, out):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_str(json.dumps(spec))
    counts = collections.Counter()
    for t in texts:
        for w, _ in tok.pre_tokenizer.pre_tokenize_str(tok.normalizer.normalize_str(t)):
            for i in range(len(w)):
                for j in range(i + 2, min(len(w), i + 12) + 1):
                    counts[w[i:j]] += 1
    have = {p for p, _ in spec["model"]["vocab"]}
    total = sum(counts.values())
    extra = [(p, math.log(c / total)) for p, c in counts.most_common() if p not in have][:max(0, n - len(have))]
    vocab = spec["model"]["vocab"]
    spec["model"]["vocab"] = vocab[:-1] + [[p, s] for p, s in extra] + vocab[-1:]  # <mask> stays last
    for added in spec["added_tokens"]:
        if added["content"] == "<mask>":
            added["id"] = len(spec["model"]["vocab"]) - 1
    with open(out, "w") as f:
        json.dump(spec, f)
    print(f"wrote {out}: {len(spec['model']['vocab'])} pieces")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("tokenizer")
    ap.add_argument("files", nargs="+")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--every", type=int, default=1)
    ap.add_argument("--synthetic-vocab", nargs=2, metavar=("N", "OUT"))
    args = ap.parse_args()
    import tokenizers
    from tokenizers import Tokenizer, models, normalizers

    spec = json.loads(read_json(args.tokenizer))
    texts = read_texts(args.files, args.every)
    if args.synthetic_vocab:
        synthetic_vocab(spec, texts, int(args.synthetic_vocab[0]), args.synthetic_vocab[1])
        return
    full = Tokenizer.from_str(json.dumps(spec))
    t0 = time.perf_counter()
    model_only = Tokenizer(models.Unigram([tuple(p) for p in spec["model"]["vocab"]], spec["model"]["unk_id"],
                                          spec["model"].get("byte_fallback", False)))
    load = time.perf_counter() - t0
    pre = [n for n in spec["normalizer"]["normalizers"] if n["type"] == "Precompiled"][0]
    norm_only = Tokenizer(models.WordLevel({"<unk>": 0}, unk_token="<unk>"))
    norm_only.normalizer = normalizers.Precompiled(__import__("base64").b64decode(pre["precompiled_charsmap"]))
    model_only.pre_tokenizer = full.pre_tokenizer
    normalized = [full.normalizer.normalize_str(t) for t in texts]
    n_words = sum(len(full.pre_tokenizer.pre_tokenize_str(t)) for t in normalized)
    n_bytes = sum(len(t.encode()) for t in texts)

    t_norm, _ = best_of(args.repeat, lambda: norm_only.encode_batch(texts, add_special_tokens=False))
    t_uni, enc = best_of(args.repeat, lambda: model_only.encode_batch(normalized, add_special_tokens=False))
    t_both, _ = best_of(args.repeat, lambda: full.encode_batch(texts, add_special_tokens=False))
    checksum, n_ids = 0, 0
    for e in enc:
        for i in e.ids:
            checksum = (checksum * 31 + i) & 0xFFFFFFFFFFFFFFFF
        n_ids += len(e.ids)
    print(f"tokenizers {tokenizers.__version__}, one thread (RAYON_NUM_THREADS={os.environ['RAYON_NUM_THREADS']})")
    print(f"load: Unigram of {len(spec['model']['vocab'])} pieces {1e3 * load:.1f} ms")
    print(f"{len(texts)} texts, {n_bytes / 1e6:.2f} MB; best of {args.repeat} passes:")
    print(f"charsmap: {t_norm:.3f} s = {len(texts) / t_norm:.0f} texts/s, {n_bytes / 1e6 / t_norm:.1f} MB/s")
    print(f"metaspace+unigram: {n_words} words, {n_ids} pieces: {t_uni:.3f} s = {n_words / t_uni:.0f} words/s, "
          f"{n_ids / t_uni:.0f} pieces/s (checksum {checksum:016x})")
    print(f"both: {t_both:.3f} s = {len(texts) / t_both:.0f} texts/s")


if __name__ == "__main__":
    main()
