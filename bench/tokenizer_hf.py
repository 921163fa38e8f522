"""tokenizer_hf.py - Hugging Face tokenizers' single-thread throughput on the texts bench/tokenizer-bench
reads, with the same checksum of the ids, so that the two lines can be set side by side.

    TOKENIZERS_PARALLELISM=false RAYON_NUM_THREADS=1 /root/.cache/embedpipe/ref-venv/bin/python \
        bench/tokenizer_hf.py TOKENIZER.json [--repeat N] [--every K] FILE...

Every K-th line of each FILE (split on b"\\n" only, decoded with errors="replace") is one text; the
texts are encoded with Tokenizer.encode_batch (truncation at 256, no padding) N times and the best pass
is printed as texts/s, MB/s and ns/text, then texts per CPU-second (the process's CPU time, all threads),
with the machine's CPU name. Nothing here is a test."""
import argparse
import os
import platform
import time

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("RAYON_NUM_THREADS", "1")


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("tokenizer")
    ap.add_argument("files", nargs="+")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--every", type=int, default=1)
    a = ap.parse_args()
    from tokenizers import Tokenizer

    tk = Tokenizer.from_file(a.tokenizer)
    tk.no_padding()
    tk.enable_truncation(256)
    texts, total = [], 0
    for path in a.files:
        lines = open(path, "rb").read().split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()  # the C bench sees no text after the last newline
        for i, raw in enumerate(lines):
            if i % a.every == 0:
                texts.append(raw.decode("utf-8", errors="replace"))
                total += len(raw)
    best, best_cpu, encs = 1e30, 1e30, None
    for _ in range(a.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        encs = tk.encode_batch(texts)
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    checksum, n_ids = 0, 0
    for e in encs:
        for i in e.ids:
            checksum = (checksum * 31 + i) & 0xFFFFFFFFFFFFFFFF
        n_ids += len(e.ids)
    print("%d texts, %.2f MB, %d ids: best of %d passes %.3f s = %.0f texts/s, %.1f MB/s, %.0f ns/text; "
          "%.0f texts per CPU-second (checksum %016x) [tokenizers, one thread, %s]"
          % (len(texts), total / 1e6, n_ids, a.repeat, best, len(texts) / best, total / 1e6 / best,
             1e9 * best / len(texts), len(texts) / best_cpu, checksum, cpu_name()))


if __name__ == "__main__":
    main()
