"""test_install.py - an installed embedpipe finds its model.

`cmake --install BUILD --prefix TMP` into a temporary prefix, then the installed binary is run from an
unrelated folder with a clean environment (HOME, XDG_DATA_HOME pointing at temporary folders, no
EMBEDPIPE_MODEL):
- with no model anywhere, it fails and the message lists every place it looked, EMBEDPIPE_MODEL and
  scripts/fetch-model.sh;
- the installed fetch-model.sh --user copies a model (here the tiny one, from a fake Hugging Face cache:
  no network) into ${XDG_DATA_HOME}/embedpipe/models/all-MiniLM-L6-v2, and the binary then embeds with it;
- ~/.local/share is the data folder when XDG_DATA_HOME is unset; the installed fetch-model.sh without
  arguments fills PREFIX/share/embedpipe/models, which the binary also finds; EMBEDPIPE_MODEL wins.
Usage: test_install.py CMAKE BUILD_DIR"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # pipeline_util.py
from pipeline_util import *  # noqa: E402,F403

cmake, build = sys.argv[1], sys.argv[2]
root = workdir("install")
prefix = os.path.join(root, "prefix")
r = subprocess.run([cmake, "--install", build, "--prefix", prefix], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                   text=True)
if not check(r.returncode == 0, f"cmake --install failed: {r.stdout}"):
    finish("test_install")
exe = os.path.join(prefix, "bin", "embedpipe")
fetch = os.path.join(prefix, "share", "embedpipe", "scripts", "fetch-model.sh")
check(os.access(exe, os.X_OK), "no executable bin/embedpipe")
check(os.access(fetch, os.X_OK), "no executable share/embedpipe/scripts/fetch-model.sh")
check(os.path.exists(os.path.join(prefix, "share", "doc", "embedpipe", "README.md")), "no README installed")

tiny = tiny_model(root)
work = os.path.join(root, "work")  # an unrelated folder: no models/ in it
os.makedirs(work)
write_lines(os.path.join(work, "in.ndjson"), make_records(20, seed=2))
home, data = os.path.join(root, "home"), os.path.join(root, "data")
os.makedirs(home)
env = {k: v for k, v in os.environ.items() if k not in ("EMBEDPIPE_MODEL", "XDG_DATA_HOME", "HF_HOME")}
env.update(HOME=home, XDG_DATA_HOME=data)


def embed(out, env_=None, args=()):
    return subprocess.run([exe, "embed", "in.ndjson", "-o", out, "--device", "cpu", "-q"] + list(args), cwd=work,
                          env=env_ or env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def used_model(out):
    return manifest(os.path.join(work, out))["model"]


name = "all-MiniLM-L6-v2"
user_dir = os.path.join(data, "embedpipe", "models", name)
p = embed("none")
check(p.returncode == 1, f"no model anywhere: exit {p.returncode}, expected 1: {p.stderr}")
for want in (user_dir, "models/" + name, os.path.join(prefix, "share", "embedpipe", "models", name),
             "EMBEDPIPE_MODEL", "fetch-model.sh"):
    check(want in p.stderr, f"no model anywhere: the message does not name {want}: {p.stderr}")
check(not os.path.exists(os.path.join(work, "none", "manifest.json")), "a run without a model wrote a manifest")

# fetch-model.sh --user, from a Hugging Face cache holding the (tiny) model.
snap = os.path.join(root, "hf", "hub", "models--sentence-transformers--" + name, "snapshots", "0123abc")
os.makedirs(os.path.dirname(snap))
os.symlink(tiny, snap)
r = subprocess.run([fetch, "--user"], env=dict(env, HF_HOME=os.path.join(root, "hf")), cwd=work,
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
check(r.returncode == 0 and os.path.exists(os.path.join(user_dir, "model.safetensors")),
      f"fetch-model.sh --user did not fill {user_dir}: {r.stdout}")
p = embed("user")
check(p.returncode == 0, f"model in XDG_DATA_HOME: exit {p.returncode}: {p.stderr}")
if p.returncode == 0:
    check(used_model("user")["dim"] == 32, "the run did not use the tiny model of XDG_DATA_HOME")

# Without XDG_DATA_HOME the data folder is ~/.local/share (a link to the tiny model this time).
env_home = {k: v for k, v in env.items() if k != "XDG_DATA_HOME"}
home_dir = os.path.join(home, ".local", "share", "embedpipe", "models", name)
os.makedirs(os.path.dirname(home_dir))
os.symlink(tiny, home_dir)
p = embed("home", env_home)
check(p.returncode == 0, f"model in ~/.local/share: exit {p.returncode}: {p.stderr}")

# The installed fetch-model.sh without arguments fills PREFIX/share/embedpipe/models.
os.unlink(home_dir)
r = subprocess.run([fetch], env=dict(env_home, HF_HOME=os.path.join(root, "hf")), cwd=work,
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
check(r.returncode == 0, f"installed fetch-model.sh: {r.stdout}")
p = embed("prefix", env_home)
check(p.returncode == 0, f"model in PREFIX/share/embedpipe/models: exit {p.returncode}: {p.stderr}")

# EMBEDPIPE_MODEL comes first, and a wrong one is reported, not silently replaced by another model.
p = embed("env", dict(env, EMBEDPIPE_MODEL=os.path.join(root, "missing")))
check(p.returncode != 0 and os.path.join(root, "missing") in p.stderr,
      f"a wrong EMBEDPIPE_MODEL was not reported: {p.returncode} {p.stderr}")

cleanup(root)
finish("test_install")
