"""test_slurm_array.py - the Slurm recipe of docs/scale-out.md, run for real on a one-node cluster.

Starts munged, slurmctld and slurmd on this machine (private key, socket, ports, state and spool in a
temporary folder; nothing in /etc is touched), takes `embed.sbatch` and `merge.sbatch` out of
docs/scale-out.md, changes only the site-specific assignments at their top (INPUT, MODEL, OUT, DEVICE:
this machine has no GPU, so the tasks run on the CPU), submits them exactly as the doc says
(`sbatch --parsable embed.sbatch`, then `sbatch --dependency=afterok:$jid merge.sbatch`), waits, and
checks that the merged folder is byte for byte what one `embedpipe embed` process writes, and that each
task tokenised only its own rows (the count its log's summary gives). Every daemon
it started is stopped, whatever happens.

The node pretends to have what the script asks for (32 CPUs, 64 GiB, 4 GPUs as gres backed by empty
files): `SlurmdParameters=config_overrides` lets slurmd trust the configuration over the hardware, so the
`#SBATCH` lines stay as users read them. The model is the tiny random-weight BERT of the other pipeline
tests, and the input 100,000 generated records (every 97th malformed), so that all four parts hold
shards of the default 32,768 rows and errors.ndjson is not empty.

Needs root and Debian's slurm-wlm + munge (scripts/deps.sh installs them where it can); skips (77)
saying which is missing.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pipeline_util import SKIP, check, cli, cleanup, finish, make_records, same_folders, tiny_model, workdir, \
    write_lines  # noqa: E402

NAME = "test_slurm_array"
DAEMONS = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "sinfo")


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(SKIP)


def which_all():
    paths = {}
    for d in DAEMONS:
        p = shutil.which(d) or shutil.which(d, path="/usr/sbin:/sbin:/usr/bin")
        if not p:
            skip(f"{d} not found: install Debian's slurm-wlm and munge (scripts/deps.sh does where it can)")
        paths[d] = p
    return paths


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def doc_script(doc, name):
    """The bash block that follows the line naming `name` in docs/scale-out.md."""
    m = re.search(r"`" + re.escape(name) + r"`[^\n]*\n\n```bash\n(.*?)```", doc, re.S)
    if not m:
        check(False, f"docs/scale-out.md has no ```bash block after `{name}`")
        finish(NAME)
    return m.group(1)


def site(script, values):
    """script with the assignments NAME=... at the start of a line replaced by values; every name must
    be there exactly once, and nothing else changes."""
    for key, value in values.items():
        pattern = re.compile(r"^" + key + r"=\S*", re.M)
        found = pattern.findall(script)
        check(len(found) == 1, f"the script assigns {key} {len(found)} times, expected once")
        script = pattern.sub(lambda _m: f"{key}={value}", script)
    return script


def slurm_conf(tmp, host, ports):
    return f"""ClusterName=embedpipe-test
SlurmctldHost={host}(127.0.0.1)
AuthType=auth/munge
AuthInfo=socket={tmp}/munge/munge.sock
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
SlurmctldPort={ports[0]}
SlurmdPort={ports[1]}
StateSaveLocation={tmp}/state
SlurmdSpoolDir={tmp}/spool
SlurmctldPidFile={tmp}/slurmctld.pid
SlurmdPidFile={tmp}/slurmd.pid
SlurmctldLogFile={tmp}/slurmctld.log
SlurmdLogFile={tmp}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=3600
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
GresTypes=gpu
NodeName={host} NodeAddr=127.0.0.1 CPUs=32 RealMemory=65536 Gres=gpu:4 State=UNKNOWN
PartitionName=test Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


class Cluster:
    """munged + slurmctld + slurmd under tmp; stop() kills what started."""

    def __init__(self, tmp, bins):
        self.tmp, self.bins, self.pidfiles = tmp, bins, []
        self.host = socket.gethostname().split(".")[0]
        for d in ("munge", "state", "spool", "dev"):
            os.makedirs(os.path.join(tmp, d), exist_ok=True)
        os.chmod(os.path.join(tmp, "munge"), 0o700)
        for i in range(4):
            open(os.path.join(tmp, "dev", f"gpu{i}"), "w").close()
        with open(os.path.join(tmp, "slurm.conf"), "w") as f:
            f.write(slurm_conf(tmp, self.host, (free_port(), free_port())))
        with open(os.path.join(tmp, "gres.conf"), "w") as f:
            f.write(f"AutoDetect=off\nNodeName={self.host} Name=gpu File={tmp}/dev/gpu[0-3]\n")
        self.env = dict(os.environ, SLURM_CONF=os.path.join(tmp, "slurm.conf"))

    def start(self):
        m = os.path.join(self.tmp, "munge")
        subprocess.run([self.bins["mungekey"], "-c", "-k", f"{m}/munge.key"], check=True)
        self.pidfiles.append(f"{m}/munged.pid")
        subprocess.run([self.bins["munged"], f"--socket={m}/munge.sock", f"--key-file={m}/munge.key",
                        f"--pid-file={m}/munged.pid", f"--log-file={m}/munged.log", f"--seed-file={m}/seed",
                        "--force"], check=True)
        conf = self.env["SLURM_CONF"]
        self.pidfiles += [f"{self.tmp}/slurmctld.pid", f"{self.tmp}/slurmd.pid"]
        subprocess.run([self.bins["slurmctld"], "-f", conf], check=True, env=self.env)
        subprocess.run([self.bins["slurmd"], "-f", conf], check=True, env=self.env)
        for _ in range(60):
            p = subprocess.run([self.bins["sinfo"], "-h", "-o", "%t"], capture_output=True, text=True, env=self.env)
            if p.stdout.strip() == "idle":
                return True
            time.sleep(0.5)
        print(self.logs(), file=sys.stderr)
        return check(False, f"the node never became idle (sinfo: {p.stdout.strip()!r} {p.stderr.strip()!r})")

    def logs(self):
        out = []
        for name in ("slurmctld.log", "slurmd.log"):
            path = os.path.join(self.tmp, name)
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    out.append(f"--- {name}\n" + "".join(f.readlines()[-15:]))
        return "\n".join(out)

    def stop(self):
        for pidfile in reversed(self.pidfiles):
            try:
                with open(pidfile) as f:
                    pid = int(f.read().strip())
            except (OSError, ValueError):
                continue
            for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 2.0)):
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    break
                end = time.time() + wait
                while time.time() < end:
                    try:
                        os.kill(pid, 0)
                    except ProcessLookupError:
                        break
                    time.sleep(0.1)
                else:
                    continue
                break

    def job_state(self, job):
        """{task: (state, exit)} of a job (array tasks by index), from scontrol."""
        p = subprocess.run(["scontrol", "-o", "show", "job", job], capture_output=True, text=True, env=self.env)
        states = {}
        for line in p.stdout.splitlines():
            fields = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
            states[fields.get("ArrayTaskId", "-")] = (fields.get("JobState"), fields.get("ExitCode"))
        return states


def main():
    embedpipe = cli()
    if os.geteuid() != 0:
        skip("needs root: slurmd and munged run as root in this one-node cluster")
    bins = which_all()
    src = os.environ.get("EP_SOURCE_DIR", ".")
    with open(os.path.join(src, "docs", "scale-out.md"), encoding="utf-8") as f:
        doc = f.read()

    root = workdir("slurm")
    os.chmod(root, 0o700)
    cluster = Cluster(os.path.join(root, "cluster"), bins)
    try:
        model = tiny_model(root)
        data = os.path.join(root, "data")
        os.makedirs(data)
        inp = os.path.join(data, "tweets.ndjson")
        write_lines(inp, make_records(100_000, seed=5, bad_every=97))
        out = os.path.join(root, "embeddings")
        job_dir = os.path.join(root, "job")
        os.makedirs(os.path.join(job_dir, "logs"))
        bin_dir = os.path.join(root, "bin")
        os.makedirs(bin_dir)
        os.symlink(embedpipe, os.path.join(bin_dir, "embedpipe"))

        values = {"INPUT": inp, "MODEL": model, "OUT": out, "DEVICE": "cpu"}
        embed_sh = site(doc_script(doc, "embed.sbatch"), values)
        merge_sh = site(doc_script(doc, "merge.sbatch"), {"OUT": out})
        check("--array=0-3" in embed_sh and "--part auto" in embed_sh, "embed.sbatch is not the array job expected")
        for name, text in (("embed.sbatch", embed_sh), ("merge.sbatch", merge_sh)):
            with open(os.path.join(job_dir, name), "w") as f:
                f.write(text)

        if not cluster.start():
            finish(NAME)
        env = dict(cluster.env, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""))
        # The submission, as docs/scale-out.md writes it.
        p = subprocess.run(["bash", "-c", "set -e; jid=$(sbatch --parsable embed.sbatch); "
                            "sbatch --parsable --dependency=afterok:$jid merge.sbatch; echo $jid"],
                           cwd=job_dir, capture_output=True, text=True, env=env)
        if not check(p.returncode == 0, f"sbatch failed: {p.stderr.strip()}"):
            finish(NAME)
        merge_job, embed_job = p.stdout.split()
        deadline = time.time() + 480
        while time.time() < deadline:
            q = subprocess.run(["squeue", "-h", "-o", "%i %T %R"], capture_output=True, text=True, env=env)
            if not q.stdout.strip():
                break
            time.sleep(1)
        else:
            check(False, f"the jobs did not finish in 8 minutes; squeue: {q.stdout.strip()}")
        embed_states = cluster.job_state(embed_job)
        merge_states = cluster.job_state(merge_job)
        check(sorted(embed_states) == ["0", "1", "2", "3"], f"array tasks seen: {sorted(embed_states)}")
        check(all(s == ("COMPLETED", "0:0") for s in embed_states.values()), f"array tasks: {embed_states}")
        check(list(merge_states.values()) == [("COMPLETED", "0:0")], f"merge job: {merge_states}")
        if failures_so_far():
            logs = os.path.join(job_dir, "logs")
            for name in sorted(os.listdir(logs)):
                with open(os.path.join(logs, name), errors="replace") as f:
                    print(f"--- {name}\n{f.read()[-1500:]}", file=sys.stderr)
            print(cluster.logs(), file=sys.stderr)
            finish(NAME)

        # Each task embedded its own shards, and tokenised only their rows (its log's summary says how many
        # texts; every task still parses every record); the merge is what one process writes.
        for i in range(4):
            part = os.path.join(out, f"part-{i}")
            shards = sorted(n for n in os.listdir(part) if n.endswith(".npy.zst"))
            check(shards == [f"shard-{i:05d}.npy.zst"], f"part {i} holds {shards}, expected shard {i} only")
            with open(os.path.join(part, "manifest.json")) as f:
                rows = json.load(f)["counts"]["embedded"]
            with open(os.path.join(job_dir, "logs", f"embed-{embed_job}_{i}.log"), errors="replace") as f:
                log = f.read()
            check(0 < rows < 50000 and f"{rows} texts tokenised" in log,
                  f"part {i} of {rows} rows: its log does not say it tokenised {rows} texts: {log[-800:]}")
        single = os.path.join(root, "single")
        r = subprocess.run([embedpipe, "embed", inp, "-o", single, "--model", model, "--device", "cpu", "-q"],
                           capture_output=True, text=True)
        check(r.returncode == 0, f"single-process embed: exit {r.returncode}: {r.stderr[-500:]}")
        same_folders(os.path.join(out, "merged"), single, "merged Slurm array vs one process")
    finally:
        cluster.stop()
        cleanup(root)
    finish(NAME)


def failures_so_far():
    from pipeline_util import failures
    return bool(failures)


if __name__ == "__main__":
    main()
