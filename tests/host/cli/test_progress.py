"""test_progress.py - progress on stderr: redrawn in place on a terminal (a pty here), one JSON
object per line with --progress json, nothing with -q."""
import json
import os
import pty
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # pipeline_util.py
from pipeline_util import *  # noqa: E402,F403

exe = cli()
root = workdir("progress")
model = tiny_model(root)
inp = os.path.join(root, "in.ndjson")
write_lines(inp, make_records(40000, seed=12))
base = ["embed", inp, "-m", model, "--device", "cpu", "--overwrite"]

# A terminal: lines are redrawn with a carriage return and an erase-line.
master, slave = pty.openpty()
p = subprocess.Popen([exe] + base + ["-o", os.path.join(root, "tty")], stdin=slave, stdout=slave, stderr=slave)
os.close(slave)
out = b""
while True:
    try:
        chunk = os.read(master, 65536)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
p.wait()
text = out.decode(errors="replace")
check(p.returncode == 0, f"embed on a terminal exited {p.returncode}: {text[-500:]}")
check("\r\x1b[K" in text, "no in-place redraw on a terminal")
check("40000 embedded" in text, "the final progress line does not show every row")

# --progress json: every progress line is an object; the last one says done.
p = run(base + ["-o", os.path.join(root, "json"), "--progress", "json"], check_rc=0)
objs = []
for line in p.stderr.splitlines():
    if line.startswith("{"):
        objs.append(json.loads(line))
check(objs and objs[-1]["done"] is True and objs[-1]["rows"] == 40000, f"json progress: {objs[-1:]}")
check(all({"records_per_s", "tokens_per_s", "eta_s", "elapsed_s"} <= set(o) for o in objs), "json keys missing")

# -q: nothing at all on stderr.
p = run(base + ["-o", os.path.join(root, "quiet"), "-q"], check_rc=0)
check(p.stderr == "", f"-q printed: {p.stderr[:200]}")
cleanup(root)
finish("test_progress")
