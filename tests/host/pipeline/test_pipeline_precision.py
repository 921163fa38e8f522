"""test_pipeline_precision.py - --precision auto (the default) and what records it.

- `embedpipe info --json` parses, lists every CPU kernel table, and says what auto
  picks: bf16 exactly where a bf16 table is offered (amx on AMX; avx512-bf16 only without
  AMX, where measured to pay), else fp32 on the widest fp32 table, never int8 (its
  minimum cosine is under auto's 0.999); whether int8 is offered and why;
  EMBEDPIPE_CPU_ISA=avx2 / generic make auto fp32 on avx2 / generic; the text form names
  every table and says whether int8 is offered.
- A default run records in manifest.json the precision actually used and the kernels,
  as info said; --precision bf16 where no bf16 table is offered exits 1 saying why (AMX)
  and what runs; --precision int8 runs and records int8 where offered, else exits 1
  saying why.
- Resuming a folder (finished or not) with another explicit precision is refused
  (exit 3), and so is auto resolving to another (naming the --precision to give), an
  int8 folder included (its manifest says int8: run here, or written so where int8 is
  not offered); a plain resume (auto again) on the same machine works. Merging parts of
  two precisions is refused, int8 with another included.
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
check(names == ["amx", "avx512-vnni", "avx512-bf16", "avx512", "avx2", "generic"], f"tables {names}")
has_amx = info["cpu"]["instructions"]["amx_bf16"]
auto = info["auto"]["cpu"]
offered = [t["name"] for t in info["tables"] if t["offered"]]
bf16_offered = any(t["offered"] for t in info["tables"] if t["precision"] == "bf16")
want_prec = "bf16" if bf16_offered else "fp32"
check(auto["precision"] == want_prec, f"auto picks {auto}, expected {want_prec}")
check(auto["kernels"] in offered, f"auto runs {auto['kernels']}, not an offered table ({offered})")
if has_amx:
    check("avx512-bf16" not in offered and "avx512-vnni" not in offered, f"AMX, yet offered: {offered}")
int8 = info["int8"]
check(int8["offered"] == ("avx512-vnni" in offered) and int8["why"], f"int8 {int8}, offered {offered}")
text = run(["info", "-m", model], check_rc=0).stdout
for n in names + ["--precision auto", "--precision int8: " + ("offered" if int8["offered"] else "not offered")]:
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

if not bf16_offered:
    p = run(base + ["-o", os.path.join(root, "bf16"), "--precision", "bf16"], check_rc=1)
    check("AMX" in p.stderr and "fp32" in p.stderr, f"bf16 without AMX: {p.stderr}")
i8 = os.path.join(root, "int8")
if int8["offered"]:
    run(base + ["-o", i8, "--precision", "int8"], check_rc=0)
    check(manifest(i8)["compute"] == {"precision": "int8", "kernels": "avx512-vnni"},
          f"int8 manifest compute {manifest(i8).get('compute')}")
else:
    p = run(base + ["-o", i8, "--precision", "int8"], check_rc=1)
    check("int8" in p.stderr and int8["why"][:40] in p.stderr, f"int8 not offered: {p.stderr}")
    # a folder an int8 run wrote where int8 is offered (its manifest says so), for the checks below
    run(base + ["-o", i8], check_rc=0)
    with open(os.path.join(i8, "manifest.json"), encoding="utf-8") as f:
        j = json.load(f)
    j["compute"] = {"precision": "int8", "kernels": "avx512-vnni"}
    with open(os.path.join(i8, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(j, f)


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
unfinish(i8)  # an int8 folder resumed in auto (never int8): refused, naming --precision int8; in fp32: refused
p = run(base + ["-o", i8], check_rc=3)
check("--precision int8" in p.stderr, f"resume of an int8 folder in auto: {p.stderr}")
p = run(base + ["-o", i8, "--precision", "fp32"], check_rc=3)
check("precision" in p.stderr and '"int8"' in p.stderr, f"resume of an int8 folder in fp32: {p.stderr}")

# --- merging parts of two precisions
parts = []
for i, prec in ((0, "auto"), (1, "fp32-reference")):
    d = os.path.join(root, f"part{i}")
    run(base + ["-o", d, "--part", f"{i}/2", "--precision", prec], check_rc=0)
    parts.append(d)
p = run(["merge"] + parts + ["-o", os.path.join(root, "merged")])
check(p.returncode == 3 and "precision" in p.stderr, f"merge of two precisions: exit {p.returncode}: {p.stderr}")
# a part computed in int8 with one in auto
with open(os.path.join(parts[1], "manifest.json"), encoding="utf-8") as f:
    j = json.load(f)
j["compute"] = {"precision": "int8", "kernels": "avx512-vnni"}
with open(os.path.join(parts[1], "manifest.json"), "w", encoding="utf-8") as f:
    json.dump(j, f)
p = run(["merge"] + parts + ["-o", os.path.join(root, "merged-int8")])
check(p.returncode == 3 and "int8" in p.stderr, f"merge of an int8 part: exit {p.returncode}: {p.stderr}")

cleanup(root)
finish("test_pipeline_precision")
