"""test_pipeline_memory.py - 1,000,000 generated records stream through the
real pipeline (tiny random model) under a fixed peak-RSS ceiling, and peak
memory stays flat: the million-record run needs little more than a
100,000-record run."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # pipeline_util.py
from pipeline_util import *  # noqa: E402,F403

CEILING_MB = 384  # today ~240 MB, mostly the fast kernels' packed weights and per-thread scratch

exe = cli()
root = workdir("memory")
model = tiny_model(root, hidden=32, layers=1, heads=1, max_seq_length=32)


def generate(path, n):
    words = "a b c the of to and bike rain coffee bread city train tweet night".split()
    with open(path, "w") as f:
        for i in range(n):
            f.write('{"id": "%d", "text": "%s %s %s %d"}\n' % (i, words[i % 14], words[(i * 7) % 14],
                                                             words[(i * 3) % 14], i))


def peak_rss_mb(inp, out):
    p = subprocess.Popen([exe, "embed", inp, "-o", out, "-m", model, "--device", "cpu", "--progress", "plain"],
                         stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    err = p.stderr.read().decode()
    check(os.waitstatus_to_exitcode(status) == 0, f"embed failed: {err[-2000:]}")
    return usage.ru_maxrss / 1024.0, err


small, big = os.path.join(root, "small.ndjson"), os.path.join(root, "big.ndjson")
generate(small, 100_000)
generate(big, 1_000_000)
rss_small, _ = peak_rss_mb(small, os.path.join(root, "out-small"))
rss_big, err = peak_rss_mb(big, os.path.join(root, "out-big"))
print(f"peak RSS: 100,000 records {rss_small:.0f} MB, 1,000,000 records {rss_big:.0f} MB (ceiling {CEILING_MB} MB)")
check(rss_big < CEILING_MB, f"peak RSS {rss_big:.0f} MB over the {CEILING_MB} MB ceiling")
check(rss_big < rss_small * 1.5 + 16, f"memory grows with the input: {rss_small:.0f} -> {rss_big:.0f} MB")
check("1000000 embedded" in err, "the million-record run did not embed every record")
check(err.count("records/s") >= 2, "no periodic progress lines on a non-terminal")
run(["verify", os.path.join(root, "out-big")], check_rc=0)
cleanup(root)
finish("test_pipeline_memory")
