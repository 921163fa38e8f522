"""python_query.py - what one query costs through the Python package (docs/python.md).

    PYTHONPATH=... python bench/python_query.py MODEL_DIR [--threads N] [--rounds R]

Loads the model once (timed), then embeds one short query R times and a batch of 256 real-looking
texts a few times, and prints the median of each with the machine's CPU name. Run it with the
package installed (`pip install ./python`) or PYTHONPATH=python and EMBEDPIPE_LIBRARY set.
Nothing here is a test: timing never decides pass or fail."""
import argparse
import platform
import statistics
import time

import embedpipe


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
    ap.add_argument("model")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=50)
    a = ap.parse_args()
    t0 = time.perf_counter()
    model = embedpipe.Model(a.model, device="cpu", threads=a.threads)
    load = time.perf_counter() - t0
    query = "bike commuting in the rain"
    model.encode(query)  # first call: page in the weights
    one = []
    for _ in range(a.rounds):
        t = time.perf_counter()
        model.encode(query)
        one.append(time.perf_counter() - t)
    texts = [f"tweet number {i}: " + "the quick brown fox jumps over the lazy dog " * (1 + i % 6) for i in range(256)]
    batch = []
    for _ in range(3):
        t = time.perf_counter()
        model.encode(texts)
        batch.append(time.perf_counter() - t)
    print(f"machine: {cpu_name()}, {model.device}")
    print(f"Model() load: {load * 1e3:.0f} ms")
    print(f"encode(one query): median {statistics.median(one) * 1e3:.2f} ms over {a.rounds} calls")
    print(f"encode(256 texts): median {statistics.median(batch) * 1e3:.0f} ms "
          f"({256 / statistics.median(batch):.0f} texts/s)")


if __name__ == "__main__":
    main()
