"""conftest.py - what the pytest suites of the Python package share: the CLI, the model, the real
tweets, and output folders made once per session by the real command line."""
import io
import json
import os
import subprocess

import numpy as np
import pytest
import zstandard

CLI = os.environ.get("EP_CLI", "")
MODEL = os.environ.get("EP_MODEL_DIR", "")
DATA = os.environ.get("EP_SHARED_DATA", "")
# fp32 explicitly: the default (auto) is bf16 on an AMX machine, and these tests hold the rows to
# sentence-transformers fp32 at 0.99999 (the library fixture below says the same)
BASE = ["-m", MODEL, "--device", "cpu", "--precision", "fp32", "--threads", "2", "-q"]
N_LINES = 300  # real tweets from tweeteval: enough for many batches, seconds to embed


def cli(*args, rc=0):
    """Runs embedpipe; checks its exit status; returns the CompletedProcess (text)."""
    p = subprocess.run([CLI, *args], capture_output=True, text=True)
    assert p.returncode == rc, f"embedpipe {' '.join(args)}: exit {p.returncode}\n{p.stderr}"
    return p


def unzstd(path):
    with open(path, "rb") as f:
        return zstandard.ZstdDecompressor().stream_reader(f).read()


def shard_bits(folder):
    """All rows of a folder as float16 bits, decoded here with numpy + zstandard, not by embedpipe."""
    m = json.load(open(os.path.join(folder, "manifest.json")))
    parts = [np.load(io.BytesIO(unzstd(os.path.join(folder, s["file"])))) for s in m["shards"]]
    return np.concatenate(parts).view(np.uint16)


def ids_lines(folder):
    m = json.load(open(os.path.join(folder, "manifest.json")))
    return [json.loads(line) for s in m["shards"] for line in unzstd(os.path.join(folder, s["ids_file"])).splitlines()]


@pytest.fixture(scope="session")
def work():
    return os.environ.get("EP_TEST_WORK") or os.getcwd()


@pytest.fixture(scope="session")
def texts(work):
    """N_LINES real tweets as a .txt input (one per line) and the same texts as str."""
    raw = open(os.path.join(DATA, "tweeteval", "emotion-test_text.txt"), "rb").read().split(b"\n")[:N_LINES]
    path = os.path.join(work, "tweets.txt")
    with open(path, "wb") as f:
        f.write(b"\n".join(raw) + b"\n")
    return path, [line.decode("utf-8") for line in raw]


@pytest.fixture(scope="session")
def tweets_folder(work):
    """The 100 tweets of twarc/flat.jsonl (ids beyond 2^53) embedded in shards of 32 rows."""
    out = os.path.join(work, "flat")
    cli("embed", os.path.join(DATA, "twarc", "flat.jsonl"), "-o", out, "--shard-rows", "32", *BASE)
    return out


@pytest.fixture(scope="session")
def model():
    import embedpipe
    return embedpipe.Model(MODEL, device="cpu", precision="fp32", threads=2)
