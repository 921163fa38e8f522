"""test_pipeline_exits.py - exit codes that tell the truth about a run.

- a run that embedded nothing (every record rejected, or no records) exits 1, says why and points to
  errors.ndjson, also when the same command is run again on its folder;
- a model file with a NaN or Inf weight is refused at load, naming the tensor;
- a model whose finite weights overflow float32 at run time exits 1 naming the record and shard, and
  writes no shard;
- Ctrl-C (SIGINT) that arrives after the reader has read everything, while the last shard is computed,
  ends a complete run: exit 0, a complete manifest that `verify` accepts, the same bytes as a quiet run;
- SIGTERM stops within about a second instead of computing the rest of the shard in progress, exits 130,
  and the resumed run ends byte-identical to an uninterrupted one.
"""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # pipeline_util.py
from pipeline_util import *  # noqa: E402,F403

exe = cli()
root = workdir("exits")
model = tiny_model(root)
cpu = ["--device", "cpu"]

# ----------------------------------------------------------------------------
# Nothing embedded.
bad = os.path.join(root, "bad.ndjson")
write_lines(bad, ['{"id": "1", "note": "no text"}', "not json", '{"id": "3", "text": null}'])
out = os.path.join(root, "rejected")
for attempt in ("fresh", "again"):
    p = run(["embed", bad, "-m", model, "-o", out] + cpu)
    check(p.returncode == 1, f"all records rejected ({attempt}): exit {p.returncode}, expected 1: {p.stderr}")
    check("nothing was embedded" in p.stderr and "errors.ndjson" in p.stderr,
          f"all records rejected ({attempt}): the message does not say why: {p.stderr}")
check(sum(1 for _ in open(os.path.join(out, "errors.ndjson"))) == 3, "errors.ndjson lists the 3 rejections once")

empty = os.path.join(root, "empty.ndjson")
open(empty, "w").close()
p = run(["embed", empty, "-m", model, "-o", os.path.join(root, "empty")] + cpu)
check(p.returncode == 1, f"empty input: exit {p.returncode}, expected 1: {p.stderr}")
check("nothing" in p.stderr, f"empty input: the message does not say nothing was embedded: {p.stderr}")
p = run(["embed", "-", "-f", "lines", "-m", model, "-o", os.path.join(root, "stdin")] + cpu, input="")
check(p.returncode == 1, f"empty standard input: exit {p.returncode}, expected 1: {p.stderr}")

# One good record among bad ones is a success (the rejections are in errors.ndjson).
mixed = os.path.join(root, "mixed.ndjson")
write_lines(mixed, ['{"id": "1", "note": "no text"}', '{"id": "2", "text": "one good record"}'])
run(["embed", mixed, "-m", model, "-o", os.path.join(root, "mixed"), "-q"] + cpu, check_rc=0)

# ----------------------------------------------------------------------------
# Non-finite weights are refused at load, by name.
good = os.path.join(root, "good.ndjson")
write_lines(good, make_records(200, seed=5))
for name, value, index in (("encoder.layer.1.attention.output.dense.weight", float("nan"), 5),
                           ("embeddings.LayerNorm.bias", float("inf"), 0)):
    m = copy_model(model, os.path.join(root, "model-" + name))
    patch_tensor(m, name, lambda v: v[:index] + [value] + v[index + 1:])
    p = run(["embed", good, "-m", m, "-o", os.path.join(root, "out-" + name)] + cpu)
    check(p.returncode == 1, f"{name} = {value}: exit {p.returncode}, expected 1")
    check(f"'{name}'" in p.stderr and f"index {index}" in p.stderr,
          f"{name} = {value}: the error does not name the tensor and index: {p.stderr}")
    check(not os.path.exists(os.path.join(root, "out-" + name, "shard-00000.npy.zst")), f"{name}: a shard was written")

# Finite weights whose activations overflow float32: the last LayerNorm scales and shifts every value by
# 3e38, so the hidden states hold +-Inf, the pooled mean Inf or NaN, the normalised vector NaN.
m = copy_model(model, os.path.join(root, "model-overflow"))
for name in ("encoder.layer.1.output.LayerNorm.weight", "encoder.layer.1.output.LayerNorm.bias"):
    patch_tensor(m, name, lambda v: [3.0e38] * len(v))
for precision in ("fp32", "fp32-reference"):
    o = os.path.join(root, "overflow-" + precision)
    p = run(["embed", good, "-m", m, "-o", o, "--precision", precision] + cpu)
    check(p.returncode == 1, f"overflowing model ({precision}): exit {p.returncode}, expected 1: {p.stderr}")
    check("non-finite" in p.stderr and "shard 0" in p.stderr and "good.ndjson line" in p.stderr,
          f"overflowing model ({precision}): the error does not name the record and shard: {p.stderr}")
    check(not os.path.exists(os.path.join(o, "shard-00000.npy.zst")), f"overflowing model ({precision}): shard written")
    check(not manifest(o)["complete"], f"overflowing model ({precision}): the manifest says complete")


# ----------------------------------------------------------------------------
# Signals. The runs print their start-up line (model loaded), then work; the signal is timed from it.
def start(args):
    proc = subprocess.Popen([exe] + args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    head = proc.stderr.readline()  # "embedpipe: model (dim 32, ...) on CPU ...": the model is loaded
    return proc, head


# SIGINT once the reader has read everything: the last (only) shard is being computed. The run completes.
inp = os.path.join(root, "one-shard.ndjson")
write_lines(inp, make_records(8000, seed=9))
base = ["embed", inp, "-m", model, "--shard-rows", "100000", "--progress", "plain"] + cpu
ref = os.path.join(root, "sigint-ref")
proc, head = start(base + ["-o", ref])
t0 = time.time()
rest = proc.stderr.read()
proc.wait()
full = time.time() - t0
check(proc.returncode == 0, f"reference run: exit {proc.returncode}: {head}{rest}")
print(f"one-shard run: {full:.2f} s after loading the model")
out = os.path.join(root, "sigint")
proc, head = start(base + ["-o", out])
time.sleep(full * 0.5)
alive = proc.poll() is None
proc.send_signal(signal.SIGINT)
rest = proc.stderr.read()
rc = proc.wait()
check(alive, "the run ended before SIGINT was sent: the test did not test anything")
check(rc == 0, f"SIGINT during the last shard of a complete run: exit {rc}, expected 0: {rest}")
check("resume" not in rest, f"a complete run tells the user to resume: {rest}")
check(manifest(out)["complete"], "SIGINT during the last shard: the manifest is not complete")
run(["verify", out], check_rc=0)
same_folders(ref, out, "SIGINT during the last shard")

# SIGTERM in the middle of a large shard: stop within about a second, not after the rest of the shard.
inp = os.path.join(root, "large.ndjson")
write_lines(inp, make_records(40000, seed=4))
base = ["embed", inp, "-m", model, "--shard-rows", "20000", "-q"] + cpu
ref = os.path.join(root, "sigterm-ref")
t0 = time.time()
run(base + ["-o", ref], check_rc=0)
full = time.time() - t0
print(f"two-shard run: {full:.2f} s")
out = os.path.join(root, "sigterm")
proc = subprocess.Popen([exe] + base + ["-o", out], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
time.sleep(full * 0.55)  # early in the second shard: thousands of its records are still to compute
alive = proc.poll() is None
t_sig = time.time()
proc.send_signal(signal.SIGTERM)
rest = proc.stderr.read()
rc = proc.wait()
stopped_in = time.time() - t_sig
print(f"SIGTERM: stopped in {stopped_in:.2f} s (a shard takes about {full / 2:.1f} s)")
check(alive, "the run ended before SIGTERM was sent: the test did not test anything")
check(rc == 130, f"SIGTERM: exit {rc}, expected 130: {rest}")
check(stopped_in < 2.0, f"SIGTERM: the run took {stopped_in:.2f} s to stop, expected about a second")
check(not manifest(out)["complete"], "SIGTERM: the manifest says complete")
run(base + ["-o", out], check_rc=0)
same_folders(ref, out, "after SIGTERM and resume")
run(["verify", out], check_rc=0)

cleanup(root)
finish("test_pipeline_exits")
