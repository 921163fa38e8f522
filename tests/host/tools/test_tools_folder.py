"""test_tools_folder.py - one writer per output folder, and a folder that holds
only what the run wrote.

- Two runs into one folder: the second is refused at once (exit 5) with a
  message naming the first one's pid, while the first runs on, finishes and
  verifies. A merge and an export into a folder an embed holds are refused the
  same way; inspect, verify and an export elsewhere only read and still work.
  The first run reads standard input that the test keeps open, so it is
  certainly still running when the others start.
- A symbolic link planted as errors.ndjson or manifest.json, pointing outside
  the folder, is refused by resume and the file outside is left as it was.
- Resume and --overwrite remove only the exact names embedpipe writes: a user's
  shard-notes.txt and a shard-00000.npy.zst.bak copy survive (and verify names
  them as not the run's); --overwrite removes an earlier export's vectors.npy.
- verify reports a stale export and an errors.ndjson with a line the manifest
  does not count (a second run appending)."""
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_tools_util import *  # noqa: E402,F403

exe = cli()
root = workdir("folder")
os.chdir(root)
model = tiny_model(root)
BASE = ["-m", model, "--device", "cpu", "--threads", "2", "--shard-rows", "37", "-q"]
BUSY = 5


def embed(inp, out, extra=(), rc=0):
    return run(["embed", inp, "-o", out] + BASE + list(extra), check_rc=rc)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def mark_unfinished(d):
    """Makes d's manifest that of an interrupted run, so the next embed resumes it."""
    path = os.path.join(d, "manifest.json")
    text = read(path).decode()
    check('"complete":\ttrue' in text, "test bug: the manifest is not complete")
    with open(path, "w") as f:
        f.write(text.replace('"complete":\ttrue', '"complete":\tfalse'))


write_lines("in.ndjson", make_records(200, seed=5, bad_every=17))
write_lines("small.ndjson", make_records(50, seed=6))

# --- two writers -------------------------------------------------------------
for i in range(2):
    embed("in.ndjson", f"part{i}", ["--part", f"{i}/2"])
first = subprocess.Popen([exe, "embed", "-", "-o", "busy"] + BASE, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
lines = make_records(120, seed=8, bad_every=13)
first.stdin.write(("\n".join(lines[:60]) + "\n").encode())
first.stdin.flush()
lock = os.path.join("busy", ".embedpipe.lock")
deadline = time.time() + 60
while time.time() < deadline and not (os.path.exists(lock) and f"pid {first.pid} ".encode() in read(lock)):
    time.sleep(0.05)
check(f"pid {first.pid} ".encode() in read(lock) if os.path.exists(lock) else False,
      "the first run did not write its pid into busy/.embedpipe.lock")
t0 = time.time()
p = embed("in.ndjson", "busy", rc=BUSY)
waited = time.time() - t0
check(first.poll() is None, "the first run ended before the second was refused: the test proved nothing")
check(waited < 10, f"the second run took {waited:.1f} s to be refused: it waited for the lock")
err = p.stderr.decode()
check(f"pid {first.pid}" in err and "embed -" in err and "started" in err,
      f"the refusal does not name the first run (pid, command, start time): {err}")
check("wait for it" in err, f"the refusal does not say what to do: {err}")
p = run(["merge", "part0", "part1", "-o", "busy", "-q"], check_rc=BUSY)
check(f"pid {first.pid}" in p.stderr.decode(), f"merge refusal lacks the pid: {p.stderr.decode()}")
p = run(["export", "busy", "--to", "npy", "-q"], check_rc=BUSY)
check(f"pid {first.pid}" in p.stderr.decode(), f"export refusal lacks the pid: {p.stderr.decode()}")
check(not os.path.exists("busy/vectors.npy"), "a refused export left busy/vectors.npy")
# Readers need no lock and are not confused by the lock file.
run(["inspect", "busy"], check_rc=0)
run(["verify", "busy"], check_rc=0)
run(["export", "busy", "--to", "npy", "-o", "elsewhere.npy", "-q"], check_rc=0)
out, err = first.communicate(input=("\n".join(lines[60:]) + "\n").encode(), timeout=120)
check(first.returncode == 0, f"the first run exited {first.returncode}: {err.decode()[-500:]}")
run(["verify", "busy"], check_rc=0)
m = manifest("busy")
check(m["complete"] and m["counts"]["read"] == 120, f"the first run's folder holds {m['counts']}")
errors = read("busy/errors.ndjson").decode().splitlines()
check(len(errors) == m["counts"]["rejected"], f"errors.ndjson has {len(errors)} lines, rejected {m['counts']}")
# The lock is released at exit: the next writer gets it.
embed("in.ndjson", "busy", ["--overwrite"])
run(["verify", "busy"], check_rc=0)
# A lock held by another process (here: this test) refuses every writer, naming what it wrote.
import fcntl  # noqa: E402
with open("busy/.embedpipe.lock", "a+") as held:  # a+: created when missing
    fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
    held.truncate(0)
    held.write(f"pid {os.getpid()} on testhost\nstarted now\ncommand: the test\n")
    held.flush()
    for args in (["embed", "in.ndjson", "-o", "busy"] + BASE,
                 ["embed", "in.ndjson", "-o", "busy", "--overwrite"] + BASE,
                 ["merge", "part0", "part1", "-o", "busy", "--overwrite"],
                 ["export", "busy", "--to", "ndjson"]):
        p = run(args, check_rc=BUSY)
        check(f"pid {os.getpid()} on testhost" in p.stderr.decode(), f"{args[0]}: refusal lacks the holder")
run(["verify", "busy"], check_rc=0)

# --- links are refused, never followed ----------------------------------------
embed("in.ndjson", "linked")
shutil.copy("linked/errors.ndjson", "outside-errors.ndjson")
with open("outside-errors.ndjson", "a") as f:
    f.write('{"not": "embedpipe\'s"}\n')  # resume would cut this off if it followed the link
before = read("outside-errors.ndjson")
os.remove("linked/errors.ndjson")
os.symlink(os.path.abspath("outside-errors.ndjson"), "linked/errors.ndjson")
mark_unfinished("linked")
p = embed("in.ndjson", "linked", rc=3)
check("symbolic link" in p.stderr.decode(), f"linked errors.ndjson: {p.stderr.decode()}")
check(read("outside-errors.ndjson") == before, "resume wrote through the linked errors.ndjson")
os.remove("linked/errors.ndjson")
shutil.copy("outside-errors.ndjson", "linked/errors.ndjson")
shutil.move("linked/manifest.json", "outside-manifest.json")
os.symlink(os.path.abspath("outside-manifest.json"), "linked/manifest.json")
before = read("outside-manifest.json")
p = embed("in.ndjson", "linked", rc=3)
check("symbolic link" in p.stderr.decode(), f"linked manifest.json: {p.stderr.decode()}")
check(read("outside-manifest.json") == before and os.path.islink("linked/manifest.json"),
      "resume replaced or followed the linked manifest.json")
# --overwrite removes the links themselves, not what they point to.
embed("in.ndjson", "linked", ["--overwrite"])
check(read("outside-manifest.json") == before, "--overwrite changed the file a link pointed to")
run(["verify", "linked"], check_rc=0)

# --- only embedpipe's own names are removed ----------------------------------
embed("in.ndjson", "mine")
keep = {"shard-notes.txt": b"my notes\n", "shard-00000.npy.zst.bak": read("mine/shard-00000.npy.zst")}
for name, data in keep.items():
    with open(os.path.join("mine", name), "wb") as f:
        f.write(data)
mark_unfinished("mine")
embed("in.ndjson", "mine")  # resume
for name, data in keep.items():
    check(os.path.exists(os.path.join("mine", name)) and read(os.path.join("mine", name)) == data,
          f"resume removed or changed the user's {name}")
embed("small.ndjson", "mine", ["--overwrite"])
for name, data in keep.items():
    check(os.path.exists(os.path.join("mine", name)) and read(os.path.join("mine", name)) == data,
          f"--overwrite removed or changed the user's {name}")
p = run(["verify", "mine"], check_rc=3)
check("shard-notes.txt" in p.stderr.decode() and "shard-00000.npy.zst.bak" in p.stderr.decode(),
      f"verify does not name the files the run did not write: {p.stderr.decode()}")
for name in keep:
    os.remove(os.path.join("mine", name))
run(["verify", "mine"], check_rc=0)

# --- --overwrite removes an earlier export; verify reports a stale one --------
embed("in.ndjson", "exp")
run(["export", "exp", "--to", "npy", "-q"], check_rc=0)
run(["export", "exp", "--to", "ndjson", "-q"], check_rc=0)
run(["verify", "exp"], check_rc=0)  # an export that matches the run belongs to it
shutil.copy("exp/vectors.npy", "stale.npy")
embed("small.ndjson", "exp", ["--overwrite"])
check(not os.path.exists("exp/vectors.npy") and not os.path.exists("exp/vectors.ndjson"),
      "--overwrite left the replaced run's export beside the new run")
run(["verify", "exp"], check_rc=0)
shutil.copy("stale.npy", "exp/vectors.npy")
p = run(["verify", "exp"], check_rc=3)
check("vectors.npy" in p.stderr.decode() and "stale" in p.stderr.decode(), f"stale export: {p.stderr.decode()}")
os.remove("exp/vectors.npy")
# A fresh run does not start beside an export of an unknown run.
os.makedirs("fresh")
shutil.copy("stale.npy", "fresh/vectors.npy")
embed("small.ndjson", "fresh", rc=3)

# --- errors.ndjson against the manifest ---------------------------------------
with open("linked/errors.ndjson", "a") as f:
    f.write(read("linked/errors.ndjson").decode().splitlines()[0] + "\n")  # a line appended twice
p = run(["verify", "linked"], check_rc=3)
check("errors.ndjson" in p.stderr.decode(), f"verify missed a duplicated errors.ndjson line: {p.stderr.decode()}")

cleanup(root)
finish("test_tools_folder")
