"""test_pipeline_resume.py - a run killed with SIGKILL at random moments, many
times, then resumed by the same command, ends byte-identical to an
uninterrupted run: no row lost, none duplicated, errors.ndjson and the
manifest included. Also: SIGINT finishes the current shard and exits 130, a
second signal exits at once; both leave a resumable folder. A resumed run
tokenises only the rows past the resume point."""
import json
import os
import random
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # pipeline_util.py
from pipeline_util import *  # noqa: E402,F403

exe = cli()
root = workdir("resume")
model = tiny_model(root)
inp = os.path.join(root, "input.ndjson")
write_lines(inp, make_records(150000, seed=3, bad_every=997))
base = ["embed", inp, "-m", model, "--device", "cpu", "--shard-rows", "1500", "-q"]

ref = os.path.join(root, "ref")
t0 = time.time()
run(base + ["-o", ref], check_rc=0)
full = time.time() - t0
print(f"uninterrupted run: {full:.2f} s")

# SIGKILL at random moments until a run finishes by itself.
out = os.path.join(root, "killed")
rnd = random.Random(11)
kills = 0
finished = False
# Each life is long enough to finish a few shards (100 in all), short enough to die mid-run many times;
# it scales with the measured run, so a faster backend or a loaded machine does not change the test.
# Lives lengthen a little after each kill (start-up and skipping the done records grow as the run
# advances), so the loop always ends, after many kills on a fast machine and a few on a slow one.
life = max(0.05, full / 25)
for attempt in range(400):
    life *= 1.08
    p = subprocess.Popen([exe] + base + ["-o", out], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(rnd.uniform(0.02, 2 * life))
    if p.poll() is None:
        p.kill()
        p.wait()
        kills += 1
        continue
    err = p.stderr.read().decode()
    check(p.returncode == 0, f"run after {kills} kills exited {p.returncode}: {err}")
    finished = True
    break
print(f"{kills} SIGKILLs before a run completed")
check(finished, "no run completed")
check(kills >= 5, f"only {kills} kills happened mid-run; the test did not test resuming")
same_folders(ref, out, "after SIGKILLs")
run(["verify", out], check_rc=0)

# SIGINT: finish the current shard, exit 130, resumable.
out2 = os.path.join(root, "interrupted")
p = subprocess.Popen([exe] + base + ["-o", out2], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
time.sleep(full * 0.3)
p.send_signal(signal.SIGINT)
rc = p.wait()
err = p.stderr.read().decode()
if rc == 0:
    print("note: the run finished before SIGINT arrived")
else:
    check(rc == 130, f"SIGINT: exit {rc}, expected 130: {err}")
    man = open(os.path.join(out2, "manifest.json")).read()
    check('"complete":\tfalse' in man, "an interrupted run's manifest says complete")
    # The resumed run tokenises only the rows past the resume point (every record is still parsed, to
    # number the rows): the count it reports is the rows it adds, not the input's.
    before = json.load(open(os.path.join(out2, "manifest.json")))["counts"]["embedded"]
    p = run([a for a in base if a != "-q"] + ["-o", out2], check_rc=0)
    after = json.load(open(os.path.join(out2, "manifest.json")))["counts"]["embedded"]
    check(0 < before < after and f"{after - before} texts tokenised" in p.stderr,
          f"resumed after {before} of {after} rows, said: {p.stderr}")
run(base + ["-o", out2], check_rc=0)
same_folders(ref, out2, "after SIGINT and resume")

# Two signals: exit at once, still resumable.
out3 = os.path.join(root, "twice")
p = subprocess.Popen([exe] + base + ["-o", out3], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
time.sleep(full * 0.3)
p.send_signal(signal.SIGTERM)
time.sleep(0.05)
p.send_signal(signal.SIGTERM)
rc = p.wait()
check(rc in (0, 130), f"two SIGTERMs: exit {rc}, expected 130")
run(base + ["-o", out3], check_rc=0)
same_folders(ref, out3, "after two SIGTERMs and resume")

# The same command on a complete folder does nothing; another job is refused.
p = run(base + ["-o", ref], check_rc=0)
check("nothing to do" in p.stderr or p.stderr == "", "a complete folder was not recognised")
p = run(["embed", inp, "-m", model, "--device", "cpu", "--shard-rows", "1000", "-o", ref], check_rc=3)
check("--shard-rows" in p.stderr, f"the refusal does not name the option: {p.stderr}")
p = run(["embed", inp, "-m", model, "--device", "cpu", "--shard-rows", "1000", "-o", ref, "--overwrite", "-q"],
        check_rc=0)
cleanup(root)
finish("test_pipeline_resume")
