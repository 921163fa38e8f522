"""test_pipeline_precision.py - --precision auto (the default) and what records it.

- `embedpipe info --json` parses, lists every CPU kernel table, and says what auto
  picks: bf16 (amx kernels) exactly when the CPU has AMX, else fp32 on the widest
  fp32 table; EMBEDPIPE_CPU_ISA=avx2 / generic make that fp32 on avx2 / generic;
  the text form names every table.
- A default run records in manifest.json the precision actually used and the kernels,
  as info said; --precision bf16 without AMX exits 1 saying why (AMX) and what runs.
- Resuming a folder (finished or not) with another explicit precision is refused
  (exit 3), and so is auto resolving to another (naming the --precision to give); a
  plain resume (auto again) on the same machine works. Merging parts of two
  precisions is refused.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # pipeline_util.py
from pipeline_util import *  # noqa: E402,F403

root = workdir("precision")
model = tiny_model(root)
inp = os.path.join(root, "input.ndjson")
write_lines(inp, make_records(300, seed=5))
base = ["embed", inp, "-m", model, "--device", "cpu", "--threads", "2", "-q"]

# --- info
p = run(["info", "--json", "-m", model], check_rc=0)
info = json.loads(p.stdout)
names = [t["name"] for t in info["tables"]]
check(names == ["amx", "avx512-bf16", "avx512", "avx2", "generic"], f"tables {names}")
has_amx = info["cpu"]["instructions"]["amx_bf16"]
auto = info["auto"]["cpu"]
want_prec = "bf16" if has_amx else "fp32"
check(auto["precision"] == want_prec, f"auto picks {auto}, expected {want_prec}")
offered = [t["name"] for t in info["tables"] if t["offered"]]
check(auto["kernels"] in offered, f"auto runs {auto['kernels']}, not an offered table ({offered})")
check(not any(t["offered"] for t in info["tables"] if t["name"] == "avx512-bf16"), "avx512-bf16 is offered")
text = run(["info", "-m", model], check_rc=0).stdout
for n in names + ["--precision auto"]:
    check(n in text, f"info does not name {n}: {text}")
for isa, kernels in (("avx2", "avx2"), ("generic", "generic")):
    capped = json.loads(run(["info", "--json"], check_rc=0, env={"EMBEDPIPE_CPU_ISA": isa}).stdout)
    if capped["cpu"]["capped_by"] != isa:  # a CPU below the cap: nothing to test
        continue
    got = capped["auto"]["cpu"]
    check(got["precision"] == "fp32" and got["kernels"] == kernels, f"EMBEDPIPE_CPU_ISA={isa}: auto picks {got}")

# --- the manifest records what ran
out = os.path.join(root, "auto")
run(base + ["-o", out], check_rc=0)
m = manifest(out)
check(m.get("compute", {}).get("precision") == want_prec, f"manifest compute {m.get('compute')}")
check(m.get("compute", {}).get("kernels") == auto["kernels"], f"manifest compute {m.get('compute')}")
ref = os.path.join(root, "ref")
run(base + ["-o", ref, "--precision", "fp32-reference"], check_rc=0)
check(manifest(ref)["compute"] == {"precision": "fp32-reference", "kernels": "openblas"},
      f"fp32-reference manifest compute {manifest(ref).get('compute')}")

if not has_amx:
    p = run(base + ["-o", os.path.join(root, "bf16"), "--precision", "bf16"], check_rc=1)
    check("AMX" in p.stderr and "fp32" in p.stderr, f"bf16 without AMX: {p.stderr}")


# --- resuming: an unfinished folder (its manifest marked so) continues only in its precision
def unfinish(d):
    path = os.path.join(d, "manifest.json")
    with open(path, encoding="utf-8") as f:
        j = json.load(f)
    j["complete"] = False
    with open(path, "w", encoding="utf-8") as f:
        json.dump(j, f)


p = run(base + ["-o", out, "--precision", "fp32-reference"], check_rc=3)  # finished: nothing would be redone
check("precision" in p.stderr and want_prec in p.stderr, f"a finished folder, another precision: {p.stderr}")
unfinish(out)
p = run(base + ["-o", out, "--precision", "fp32-reference"], check_rc=3)
check("precision" in p.stderr and want_prec in p.stderr, f"resume with another precision: {p.stderr}")
unfinish(ref)  # fp32-reference's folder resumed with auto: refused once auto is resolved
p = run(base + ["-o", ref], check_rc=3)
check("--precision fp32-reference" in p.stderr, f"resume in auto of an fp32-reference folder: {p.stderr}")
run(base + ["-o", out], check_rc=0)  # auto resolves the same way here
check(manifest(out)["complete"] and manifest(out)["compute"]["precision"] == want_prec, "plain resume")
run(["verify", out], check_rc=0)

# --- merging parts of two precisions
parts = []
for i, prec in ((0, "auto"), (1, "fp32-reference")):
    d = os.path.join(root, f"part{i}")
    run(base + ["-o", d, "--part", f"{i}/2", "--precision", prec], check_rc=0)
    parts.append(d)
p = run(["merge"] + parts + ["-o", os.path.join(root, "merged")])
check(p.returncode == 3 and "precision" in p.stderr, f"merge of two precisions: exit {p.returncode}: {p.stderr}")

cleanup(root)
finish("test_pipeline_precision")
