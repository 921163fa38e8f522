"""test_pipeline_reuse.py - a nightly re-run with --reuse PREVIOUS computes only
new and changed records, reports reused / new / changed / gone, and writes
exactly what a full re-run writes."""
import os
import random
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # pipeline_util.py
from pipeline_util import *  # noqa: E402,F403

root = workdir("reuse")
model = tiny_model(root)
v1 = make_records(6000, seed=5, bad_every=500)
rnd = random.Random(9)
v2 = []
changed = removed = 0
for line in v1:
    r = rnd.random()
    if r < 0.05:
        removed += 1
        continue
    if r < 0.12 and '"text": "' in line and line.endswith('"}'):
        line = line[:-2] + ' (edited)"}'
        changed += 1
    v2.append(line)
added = 300
v2 += [l.replace('"id": "', '"id": "new-') for l in make_records(added, seed=77)]
write_lines(os.path.join(root, "day1.ndjson"), v1)
write_lines(os.path.join(root, "day2.ndjson"), v2)
# Both days under the same name, as a nightly dump would be: the outputs then describe the same input path.
day = os.path.join(root, "dump.ndjson")
base = ["-m", model, "--device", "cpu", "--shard-rows", "700"]

os.symlink(os.path.join(root, "day1.ndjson"), day)
run(["embed", day, "-o", os.path.join(root, "out1"), "-q"] + base, check_rc=0)
os.remove(day)
os.symlink(os.path.join(root, "day2.ndjson"), day)
full = os.path.join(root, "full2")
run(["embed", day, "-o", full, "-q"] + base, check_rc=0)
inc = os.path.join(root, "inc2")
p = run(["embed", day, "-o", inc, "--reuse", os.path.join(root, "out1")] + base, check_rc=0)
same_folders(full, inc, "--reuse against a full re-run")
m = re.search(r"(\d+) reused, (\d+) new, (\d+) changed, (\d+) gone", p.stderr)
check(m is not None, f"no reuse summary in: {p.stderr}")
if m:
    reused, new, chg, gone = map(int, m.groups())
    print(f"reused {reused}, new {new}, changed {chg}, gone {gone} (edited {changed}, removed {removed}, added {added})")
    check(new == added, f"new {new} != {added}")
    check(chg == changed, f"changed {chg} != {changed}")
    check(gone >= removed - 20 and gone <= removed, f"gone {gone} vs {removed} removed (bad lines have no row)")
    check(reused > 4500, f"only {reused} reused")
# A previous output of another model cannot be reused.
other = tiny_model(os.path.join(root, "other"), hidden=48, heads=3)
p = run(["embed", day, "-o", os.path.join(root, "x"), "--reuse", os.path.join(root, "out1"), "-m", other,
         "--device", "cpu"])
check(p.returncode != 0 and "reuse" in p.stderr, f"reuse across models was not refused: {p.returncode} {p.stderr}")
cleanup(root)
finish("test_pipeline_reuse")
