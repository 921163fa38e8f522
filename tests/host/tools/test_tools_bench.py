"""test_tools_bench.py - `embedpipe bench`: the table names every stage (read,
tokenize, batch, compute, write), the wall time and the throughput; --json is
one valid JSON object whose counts match the input; --keep OUT writes exactly
what `embed` writes; nothing is written without --keep. Timings are printed,
never judged."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_tools_util import *  # noqa: E402,F403

root, model = start("bench")
t_start = time.time()
n_records, bad_every = 600, 59
write_lines("in.ndjson", make_records(n_records, seed=2, bad_every=bad_every))
n_bad = n_records // bad_every
opts = ["-m", model, "--device", "cpu", "--threads", "2", "--shard-rows", "100"]
STAGES = ("read", "tokenize", "batch", "compute", "write")

before = set(os.listdir("."))
p = run(["bench", "in.ndjson"] + opts, check_rc=0)
table = p.stdout.decode()
print(table)
for word in STAGES + ("wall", "records/s", "tokens/s"):
    check(re.search(r"^\s*%s\s" % re.escape(word), table, re.M) is not None if word in STAGES + ("wall",)
          else word in table, f"the table lacks '{word}'")
check(f"{n_records} read" in table and f"{n_bad} rejected" in table, "the table's counts are wrong")
check(set(os.listdir(".")) == before, f"bench without --keep wrote files: {set(os.listdir('.')) - before}")

p = run(["bench", "in.ndjson", "--json"] + opts, check_rc=0)
out = p.stdout.decode()
try:
    j = json.loads(out)
except ValueError as e:
    j = {}
    check(False, f"--json is not valid JSON ({e}): {out!r}")
check(out.count("\n") == 1 and out.endswith("\n"), "--json should print exactly one line")
for key in ("backend", "threads", "records_read", "records_embedded", "records_rejected", "tokens", "wall_s",
            "records_per_s", "tokens_per_s", "stage_busy_s", "output", "texts_tokenized", "process_cpu_s"):
    check(key in j, f"--json lacks '{key}'")
stages = j.get("stage_busy_s", {})
check(sorted(stages) == sorted(STAGES), f"stage_busy_s has {sorted(stages)}")
check(all(isinstance(v, (int, float)) and v >= 0 for v in stages.values()), f"bad stage times {stages}")
check(j.get("records_read") == n_records, f"records_read {j.get('records_read')}, expected {n_records}")
check(j.get("records_rejected") == n_bad, f"records_rejected {j.get('records_rejected')}, expected {n_bad}")
check(j.get("records_embedded") == n_records - n_bad, f"records_embedded {j.get('records_embedded')}")
check(j.get("tokens", 0) > j.get("records_embedded", 0) * 2, "fewer tokens than [CLS]+[SEP] per row")
check(j.get("wall_s", 0) > 0 and j.get("records_per_s", 0) > 0, "wall time / throughput not positive")
check(j.get("texts_tokenized") == n_records - n_bad, f"texts_tokenized {j.get('texts_tokenized')}: one per row")
check(j.get("process_cpu_s", 0) >= j.get("stage_cpu_s", {}).get("tokenize", 1),
      f"the process used less CPU than its workers: {j.get('process_cpu_s')} vs {j.get('stage_cpu_s')}")
check(j.get("output") is None, "output should be null without --keep")
check(j.get("threads") == 2, f"threads {j.get('threads')}")

# --keep OUT: what `embed` writes (and a second bench replaces it rather than resuming).
run(["embed", "in.ndjson", "-o", "embedded", "-q"] + opts, check_rc=0)
for _ in range(2):
    p = run(["bench", "in.ndjson", "--keep", "kept", "--json"] + opts, check_rc=0)
    j = json.loads(p.stdout.decode())
    check(j["output"] == "kept" and j["stage_busy_s"]["write"] > 0, f"--keep: {j}")
    check(j["records_embedded"] == n_records - n_bad, "--keep on a kept folder did not redo the run")
same_folders("embedded", "kept", "bench --keep vs embed")
run(["verify", "kept"], check_rc=0)

# Help explains how to read the breakdown; errors are reported, not tabulated.
h = run(["bench", "--help"], check_rc=0).stdout.decode()
for word in ("overlap", "bottleneck", "SUMMED", "--json", "--keep", "--keep-fields", "--part", "process"):
    check(word in h, f"bench --help does not mention '{word}'")
run(["bench"], check_rc=2)
p = run(["bench", "missing.ndjson"] + opts)
check(p.returncode == 1 and "missing.ndjson" in p.stderr.decode(), f"missing input: exit {p.returncode}")
check(run(["--help"], check_rc=0).stdout.decode().count("bench") >= 1, "embedpipe --help does not list bench")

print(f"test_tools_bench: {time.time() - t_start:.1f} s")
os.chdir("/")
cleanup(root)
finish("test_tools_bench")
