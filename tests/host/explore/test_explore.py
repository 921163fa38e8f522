"""test_explore.py - related, similar, duplicates and cluster through the command line.

On 3,000 real tweets (../shared/data/tweeteval, skipped when absent) with planted copies, embedded with
a tiny random model (the commands do not care which model made the rows; the run takes seconds):
- related -k 10 equals a brute-force float32 computation (numpy, when there) with ties broken by row;
- similar --id leaves the tweet itself out and lists its copies first; --row and a text query work;
- duplicates finds the planted copies, near (--threshold) and exact (--exact);
- cluster gives the same files twice, one label per row, a report that says whether words are shown;
- verify checks the derived files (a changed one is refused, an unlisted one is foreign), a second
  related replaces them, embed --overwrite removes them;
- similar and search work from another folder after the input was deleted.
"""
import io
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # pipeline_util.py
from pipeline_util import *  # noqa: E402,F403

cli()
data = os.environ.get("EP_SHARED_DATA", "")
if not os.path.isdir(os.path.join(data, "tweeteval")):
    print(f"SKIP: {data}/tweeteval not found; the shared tweet data is not beside this checkout")
    sys.exit(SKIP)
root = workdir("explore")
model = tiny_model(root, hidden=128, heads=4)  # 128 wide: --memory 1 makes 3 blocks of 1024 rows
base = ["-m", model, "--device", "cpu", "-q", "-t", "2"]

# 3,000 real tweets (distinct texts) with ids, then three copies of tweet 100 and two of tweet 200
texts = []
seen = set()
for name in sorted(os.listdir(os.path.join(data, "tweeteval"))):
    if not name.endswith("_text.txt"):
        continue
    with open(os.path.join(data, "tweeteval", name), encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.strip() and line not in seen and len(texts) < 3000:
                seen.add(line)
                texts.append(line)
records = [{"id": f"t{i}", "text": t} for i, t in enumerate(texts)]
records += [{"id": f"copy100-{j}", "text": texts[100]} for j in range(3)]
records += [{"id": f"copy200-{j}", "text": texts[200]} for j in range(2)]
inp = os.path.join(root, "tweets.ndjson")
write_lines(inp, [json.dumps(r, ensure_ascii=False) for r in records])
out = os.path.join(root, "out")
run(["embed", inp, "-o", out] + base, check_rc=0)
n = len(records)
copies100 = list(range(3000, 3003))
copies200 = [3003, 3004]


def npy_zst(path):
    raw = zstd_decompress(path)
    return raw


try:
    import numpy as np
    import zstandard
except ImportError:
    np = None
    print("note: numpy or zstandard missing: the brute-force comparison is skipped")


def load(path):
    with open(path, "rb") as f:
        return np.load(io.BytesIO(zstandard.ZstdDecompressor().stream_reader(f).read()))


# --- related equals brute force
run(["related", out, "-k", "10", "-t", "2", "--memory", "1"], check_rc=0)
check(run(["verify", out]).returncode == 0, "verify refuses a folder with related's files")
if np is not None:
    m = manifest(out)
    x = np.concatenate([load(os.path.join(out, s["file"])) for s in m["shards"]]).astype(np.float32)
    rows = load(os.path.join(out, "related-rows.npy.zst"))
    scores = load(os.path.join(out, "related-scores.npy.zst"))
    check(rows.shape == (n, 10) and rows.dtype == np.int32 and scores.dtype == np.float32,
          f"related shapes {rows.shape} {rows.dtype} {scores.dtype}")
    s = x @ x.T
    np.fill_diagonal(s, -np.inf)
    bad = 0
    for i in range(n):
        order = sorted(range(n), key=lambda j: (-s[i, j], j))[:11] if i < 50 else None
        brute = np.lexsort((np.arange(n), -s[i]))[:11]
        if order is not None:
            check(list(brute) == order, f"numpy lexsort disagrees with sorted() on row {i}")
        want, got = list(brute[:10]), [int(r) for r in rows[i]]
        if got != want:
            # only a float rounding tie may swap two neighbours: the scores must agree to 1e-5
            ok = np.allclose(scores[i], s[i, brute[:10]], atol=1e-5) and all(
                abs(s[i, g] - s[i, w]) < 1e-5 for g, w in zip(got, want))
            bad += not ok
        check(np.allclose(scores[i], s[i, rows[i]], atol=1e-5), f"row {i}: scores are not the rows' cosines")
        check(i not in got, f"row {i} is its own neighbour")
    check(bad == 0, f"{bad} rows differ from the brute-force answer beyond rounding ties")
    # ties by row: the copies of tweet 100 list each other in row order, score 1
    check([int(r) for r in rows[100][:3]] == copies100, f"row 100's first neighbours {rows[100][:3]}")

# --- bf16 candidates re-scored in float32: exact scores, nearly every neighbour (when the CPU has bf16)
    p = run(["related", out, "-k", "10", "-t", "2", "--precision", "bf16"], check_rc=0)
    if "float32 used" not in p.stderr:
        rows16 = load(os.path.join(out, "related-rows.npy.zst"))
        scores16 = load(os.path.join(out, "related-scores.npy.zst"))
        recall = np.mean([len(set(rows16[i]) & set(rows[i])) / 10 for i in range(n)])
        check(recall >= 0.99, f"bf16 recall@10 {recall}")
        check(np.allclose(scores16, s[np.arange(n)[:, None], rows16], atol=1e-5), "bf16 scores are not exact")
    else:
        print("note: " + p.stderr.strip())

# --- a second related replaces the files, derived.json follows; a changed file is refused
run(["related", out, "-k", "5", "-t", "2"], check_rc=0)
check(json.load(open(os.path.join(out, "derived.json")))["settings"]["related"]["k"] == 5, "k not recorded")
# --device: cpu is recorded; a bad name is a usage error; cuda without a usable device (or without
# CUDA compiled in) fails naming why and writes nothing (the CUDA path itself: test_cuda_neighbours)
run(["related", out, "-k", "5", "-t", "2", "--device", "cpu"], check_rc=0)
rel = json.load(open(os.path.join(out, "derived.json")))["settings"]["related"]
check(rel.get("device") == "cpu" and rel.get("precision") == "fp32", f"device not recorded: {rel}")
p = run(["related", out, "--device", "tpu"])
check(p.returncode == 2 and "device tpu" in p.stderr, f"--device tpu: {p.returncode} {p.stderr}")
p = run(["related", out, "--device", "cuda", "--precision", "bf16"])
check(p.returncode == 2 and "bf16" in p.stderr, f"--device cuda --precision bf16: {p.returncode} {p.stderr}")
if not os.path.exists("/dev/nvidia0"):
    before = open(os.path.join(out, "related-rows.npy.zst"), "rb").read()
    p = run(["related", out, "--device", "cuda"])
    check(p.returncode != 0 and ("CUDA" in p.stderr or "cuda" in p.stderr), f"--device cuda without a GPU: {p.returncode} {p.stderr}")
    check(open(os.path.join(out, "related-rows.npy.zst"), "rb").read() == before, "a failed --device cuda changed the files")
check(run(["verify", out]).returncode == 0, "verify refuses the second related's files")
path = os.path.join(out, "related-scores.npy.zst")
good = open(path, "rb").read()
with open(path, "wb") as f:
    f.write(good[:-1] + bytes([good[-1] ^ 1]))
p = run(["verify", out])
check(p.returncode == 3 and "related-scores.npy.zst" in p.stderr, f"a changed related file: {p.returncode} {p.stderr}")
with open(path, "wb") as f:
    f.write(good)
with open(os.path.join(out, "cluster-labels.npy.zst"), "wb") as f:
    f.write(b"not ours")
p = run(["verify", out])
check(p.returncode == 3 and "cluster-labels.npy.zst" in p.stderr, f"an unlisted derived name: {p.stderr}")
os.unlink(os.path.join(out, "cluster-labels.npy.zst"))

# --- similar --id: itself left out, its copies first (score 1, by row)
p = run(["similar", out, "--id", "t100", "-k", "5", "--json"], check_rc=0)
res = json.loads(p.stdout)["results"]
check([r["row"] for r in res[:3]] == copies100, f"similar --id t100: {[r['row'] for r in res]}")
check(100 not in [r["row"] for r in res], "similar --id lists the tweet itself")
check(all(abs(r["score"] - 1) < 1e-3 for r in res[:3]), "copies do not score 1")
check(res[0]["id"] == "copy100-0", f"first id {res[0]['id']}")
check(res[0].get("text") in (None, texts[100]), "a wrong text for the copy")
p = run(["similar", out, "--id", "copy200-1", "-k", "2", "--json"], check_rc=0)
check([r["row"] for r in json.loads(p.stdout)["results"]] == [200, 3003], f"similar --id copy200-1: {p.stdout}")
p = run(["similar", out, "--row", "5", "-k", "3"], check_rc=0)
check("row 5" in p.stdout and p.stdout.count("\n") >= 4, f"similar --row: {p.stdout}")
p = run(["similar", out, "--id", "nope"])
check(p.returncode == 2 and "nope" in p.stderr, f"an unknown id: {p.returncode} {p.stderr}")
p = run(["similar", out, texts[7], "-m", model, "-k", "1", "--json"], check_rc=0)
check(json.loads(p.stdout)["results"][0]["row"] == 7, f"a tweet's own text does not find it: {p.stdout}")

# --- duplicates: the planted copies, near and exact
p = run(["duplicates", out, "--threshold", "0.95", "--exact", "--json"], check_rc=0)
d = json.loads(p.stdout)
near_sets = [set(g["rows"]) for g in d["groups"]]
check(any({100, *copies100} <= g for g in near_sets), "near-duplicates miss tweet 100's copies")
check(any({200, *copies200} <= g for g in near_sets), "near-duplicates miss tweet 200's copies")
exact_sets = [set(g["rows"]) for g in d["exact_groups"]]
check(exact_sets == [{100, *copies100}, {200, *copies200}], f"exact groups {exact_sets}")
check(d["exact_groups"][0]["example"]["id"] == "t100", f"example {d['exact_groups'][0]['example']}")
p = run(["duplicates", out, "--exact"], check_rc=0)
check("exact duplicates (same text hash): 2 groups, 7 rows" in p.stdout, f"duplicates text: {p.stdout[-600:]}")

# --- cluster: deterministic, one label per row, a report
p1 = run(["cluster", out, "-k", "4", "--seed", "7", "-t", "2"], check_rc=0)
first = {k: v for k, v in folder_digest(out).items() if k.startswith("cluster-")}
run(["cluster", out, "-k", "4", "--seed", "7", "-t", "2"], check_rc=0)
second = {k: v for k, v in folder_digest(out).items() if k.startswith("cluster-")}
check(first == second and len(first) == 4, f"cluster is not deterministic: {first} vs {second}")
report = json.load(open(os.path.join(out, "cluster-report.json")))
check(report["k"] == 4 and sum(c["size"] for c in report["clusters"]) == n, "report sizes do not add up")
check([c["size"] for c in report["clusters"]] == sorted((c["size"] for c in report["clusters"]), reverse=True),
      "clusters not largest first")
if report["texts"]:
    check(any(c["words"] for c in report["clusters"]), "texts kept but no words")
else:
    check("no words" in p1.stdout, f"the summary does not say why there are no words: {p1.stdout[:300]}")
# the rows nearest each centroid come with their texts (kept, or read again from the unchanged input)
near = [r for c in report["clusters"] for r in c["nearest"]]
check(len(near) == 12 and all(r.get("text") == records[r["row"]]["text"] for r in near),
      f"nearest rows without their texts: {near[:2]}")
if np is not None:
    labels = load(os.path.join(out, "cluster-labels.npy.zst"))
    check(labels.shape == (n,) and labels.min() >= 0 and labels.max() < 4, "cluster labels")
    check(labels[100] == labels[3000] == labels[3001], "copies in different clusters")
check(run(["verify", out]).returncode == 0, "verify refuses related + cluster files")
names = set(os.listdir(out))
check({"derived.json", "related-rows.npy.zst", "cluster-report.json"} <= names, f"files: {names}")

# --- the loader docs/output-format.md shows, run as written (in the folder that holds out/)
if np is not None:
    import re
    src = os.environ.get("EP_SOURCE_DIR", ".")
    doc = open(os.path.join(src, "docs", "output-format.md"), encoding="utf-8").read()
    at = doc.find("## What `related` and `cluster` keep")
    m = re.compile(r"```python\n(.*?)```", re.S).search(doc, at)
    check(at >= 0 and m is not None, "docs/output-format.md: no loader for the derived files")
    if m:
        here = os.getcwd()
        os.chdir(root)
        env = {}
        exec(m.group(1), env)
        os.chdir(here)
        check(env["neighbours"].shape == (n, 5) and env["scores"].dtype == np.float32, "the doc's related loader")
        check(env["labels"].shape == (n,) and env["centroids"].shape[0] == 4 and env["report"]["k"] == 4,
              "the doc's cluster loader")

# --- search / similar from another folder, input deleted
os.unlink(inp)
p = run(["similar", out, "--row", "100", "-k", "2", "--json"], cwd="/", check_rc=0)
check([r["row"] for r in json.loads(p.stdout)["results"]] == copies100[:2], f"similar from /: {p.stdout}")
p = run(["search", out, "good morning", "-m", model, "-k", "2"], cwd="/", check_rc=0)
check("row" in p.stdout, f"search from / without input: {p.stdout}")

# --- embed --overwrite removes what describes the replaced rows
write_lines(inp, [json.dumps(r) for r in records[:50]])
run(["embed", inp, "-o", out, "--overwrite"] + base, check_rc=0)
left = [x for x in os.listdir(out) if x.startswith(("related", "cluster", "derived"))]
check(left == [], f"--overwrite left {left}")
check(run(["verify", out]).returncode == 0, "verify after --overwrite")

cleanup(root)
finish("test_explore")
