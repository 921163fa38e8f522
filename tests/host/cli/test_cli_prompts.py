#!/usr/bin/env python3
"""test_cli_prompts.py - prompts, --dim and the heads of the families after MiniLM through the command line
and the manifest, on tiny models written by scripts/make-tiny-model.py:

  - embed puts the model's default prompt before every text, --prompt NAME and --prompt-text TEXT choose
    another ('' = none), the manifest records it (model.prompt, model.prompt_name), an unknown name is a
    usage error listing the model's prompts;
  - --dim N keeps the first N values and normalises (model.dim and model.truncate_dim N); a model's saved
    truncate_dim applies without it; a width past the model's is a usage error;
  - the prompt and the width are the job's: resume, --reuse and merge refuse another (exit 3, naming it);
  - similar embeds a query with the model's "query" prompt when it has one, else with the run's prompt;
  - a model without a Normalize module still gets L2-normalised rows, and its manifest says so
    (model.normalize_module false); several pooling modes are recorded joined by "+".
Needs numpy and zstandard for the vector checks (skipped without).
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pipeline_util import *  # noqa: E402,F403

try:
    import numpy as np
    import zstandard
except ImportError:
    np = None

TEXTS = ["bike commuting in the rain", "the best coffee in the city", "a train at night", "résumé of the job",
         "bread and garden", "search the archive", "東京 москва 🚲", "one more tweet about the model"]


def make_model(root, name, *args):
    out = os.path.join(root, name)
    src = os.environ.get("EP_SOURCE_DIR", ".")
    subprocess.run([sys.executable, os.path.join(src, "scripts", "make-tiny-model.py"), "--out", out, "--seed", "5",
                    "--hidden", "32", "--heads", "2", "--layers", "2", "--intermediate", "64"] + list(args),
                   check=True, stdout=subprocess.DEVNULL)
    return out


def vectors(d):
    """The rows of every shard of d, float32."""
    rows = []
    for name in sorted(os.listdir(d)):
        if name.endswith(".npy.zst") and name.startswith("shard-"):
            with open(os.path.join(d, name), "rb") as f:
                raw = zstandard.ZstdDecompressor().stream_reader(f).read()
            import io
            rows.append(np.load(io.BytesIO(raw)).astype(np.float32))
    return np.concatenate(rows)


def embed(model, inp, out, *extra, rc=0):
    return run(["embed", inp, "-o", out, "-m", model, "--format", "lines", "--device", "cpu", "-q"] + list(extra),
               check_rc=rc)


def test_prompts(root, inp):
    model = make_model(root, "prompts", "--pooling", "cls", "--prompt", "query=query: ", "--prompt",
                       "passage=passage: ", "--default-prompt", "passage")
    a, b, c, d = (os.path.join(root, x) for x in ("a", "b", "c", "d"))
    embed(model, inp, a)
    m = manifest(a)["model"]
    check(m.get("prompt") == "passage: " and m.get("prompt_name") == "passage", f"default prompt recorded: {m}")
    embed(model, inp, b, "--prompt-text", "passage: ")
    m = manifest(b)["model"]
    check(m.get("prompt") == "passage: " and "prompt_name" not in m, f"prompt text recorded: {m}")
    same_folders(a, b, "the default prompt and the same prompt as text", skip=("manifest.json",))
    embed(model, inp, c, "--prompt", "query")
    embed(model, inp, d, "--prompt-text", "")
    check("prompt" not in manifest(d)["model"], "an empty prompt is recorded as none")
    p = embed(model, inp, os.path.join(root, "e"), "--prompt", "summary", rc=2)
    check('"summary"' in p.stderr and '"passage"' in p.stderr, f"unknown prompt named with the model's: {p.stderr}")
    p = embed(model, inp, os.path.join(root, "e"), "--prompt", "query", "--prompt-text", "x", rc=2)
    check("not both" in p.stderr, f"both given: {p.stderr}")
    if np is not None:
        va, vc, vd = vectors(a), vectors(c), vectors(d)
        check(np.abs(va - vc).max() > 1e-3 and np.abs(va - vd).max() > 1e-3, "the prompts change the vectors")
    # the prompt is the job's: resume, --reuse and merge refuse another
    p = embed(model, inp, a, "--prompt", "query", rc=3)
    check("the prompt" in p.stderr and '"passage: "' in p.stderr and '"query: "' in p.stderr, p.stderr)
    embed(model, inp, a)  # the same job: complete, left alone
    p = embed(model, inp, os.path.join(root, "r"), "--prompt", "query", "--reuse", a, rc=3)
    check("the prompt" in p.stderr, f"--reuse with another prompt: {p.stderr}")
    p0, p1 = os.path.join(root, "p0"), os.path.join(root, "p1")
    embed(model, inp, p0, "--part", "0/2", "--shard-rows", "2")
    embed(model, inp, p1, "--part", "1/2", "--shard-rows", "2", "--prompt", "query")
    p = run(["merge", p0, p1, "-o", os.path.join(root, "merged")], check_rc=3)
    check("the prompt" in p.stderr, f"merge of parts with two prompts: {p.stderr}")
    return model, a, c


def test_similar(root, model, passages, queries):
    """similar embeds the query with the model's query prompt: the text's own row (a passage) scores what
    the same text with the query prompt scores against it, and --prompt passage finds it at 1."""
    p = run(["similar", passages, TEXTS[0], "-m", model, "--json", "-k", "8"], check_rc=0)
    own = [h for h in json.loads(p.stdout)["results"] if h["row"] == 0]
    p = run(["similar", passages, TEXTS[0], "-m", model, "--json", "-k", "8", "--prompt", "passage"], check_rc=0)
    same = [h for h in json.loads(p.stdout)["results"] if h["row"] == 0]
    check(own and same and same[0]["score"] > 0.999, f"with the run's prompt the text finds itself: {same}")
    if np is not None and own:
        want = float(vectors(queries)[0] @ vectors(passages)[0])
        check(abs(own[0]["score"] - want) < 2e-3, f"query prompt: score {own[0]['score']}, expected {want:.4f}")
        check(own[0]["score"] < 0.999, f"the query prompt was not used: {own}")


def test_no_query_prompt(root, inp):
    """A model with a default prompt and no query prompt: the query gets the run's prompt."""
    model = make_model(root, "tweet", "--prompt", "tweet=Represent this tweet: ", "--default-prompt", "tweet",
                       "--pooling", "mean,weightedmean,lasttoken", "--no-include-prompt")
    out = os.path.join(root, "tweet-out")
    embed(model, inp, out)
    m = manifest(out)["model"]
    check(m["pooling"] == "mean+weightedmean+lasttoken" and m["dim"] == 96, f"multi-mode manifest: {m}")
    p = run(["similar", out, TEXTS[2], "-m", model, "--json", "-k", "3"], check_rc=0)
    top = json.loads(p.stdout)["results"][0]
    check(top["row"] == 2 and top["score"] > 0.999, f"the run's prompt for the query: {top}")


def test_dim(root, inp):
    model = make_model(root, "matryoshka", "--pooling", "max", "--truncate-dim", "24")
    full, cut, cut2 = (os.path.join(root, x) for x in ("full", "cut", "cut2"))
    embed(model, inp, cut)
    m = manifest(cut)["model"]
    check(m["dim"] == 24 and m.get("truncate_dim") == 24, f"the model's truncate_dim: {m}")
    embed(model, inp, full, "--dim", "32")
    m = manifest(full)["model"]
    check(m["dim"] == 32 and "truncate_dim" not in m, f"--dim as wide as the model: {m}")
    embed(model, inp, cut2, "--dim", "16")
    check(manifest(cut2)["model"]["dim"] == 16, "--dim 16")
    p = embed(model, inp, os.path.join(root, "wide"), "--dim", "33", rc=2)
    check("--dim 33" in p.stderr and "1 to 32" in p.stderr, f"--dim past the model: {p.stderr}")
    p = embed(model, inp, cut2, "--dim", "8", rc=3)
    check("--dim" in p.stderr and "16 vs 8" in p.stderr, f"resume with another --dim: {p.stderr}")
    if np is not None:
        vf, v16 = vectors(full), vectors(cut2)
        check(v16.shape == (len(TEXTS), 16), f"shape {v16.shape}")
        check(np.allclose(np.linalg.norm(v16, axis=1), 1, atol=2e-3), "truncated rows are unit rows")
        want = vf[:, :16] / np.linalg.norm(vf[:, :16], axis=1, keepdims=True)
        check(np.abs(want - v16).max() < 2e-3, f"the first 16 values, normalised: {np.abs(want - v16).max()}")
    null = os.path.join(root, "null")
    run(["embed", inp, "-o", null, "-m", model, "--format", "lines", "--device", "null", "-q", "--dim", "16"],
        check_rc=0)
    check(manifest(null)["model"]["dim"] == 16, "--device null writes rows of the truncated width")
    run(["verify", null], check_rc=0)
    p = run(["similar", cut2, TEXTS[1], "-m", model, "--json", "-k", "1"], check_rc=0)
    top = json.loads(p.stdout)["results"][0]
    check(top["row"] == 1 and top["score"] > 0.999, f"similar on a truncated folder: {top}")


def test_no_normalize(root, inp):
    model = make_model(root, "dense", "--dense", "24:tanh", "--no-normalize")
    out = os.path.join(root, "dense-out")
    embed(model, inp, out)
    m = manifest(out)["model"]
    check(m["normalized"] is True and m.get("normalize_module") is False and m["dim"] == 24
          and len(m.get("dense_sha256", "")) == 64, f"a Dense model without Normalize: {m}")
    if np is not None:
        check(np.allclose(np.linalg.norm(vectors(out), axis=1), 1, atol=2e-3), "normalised anyway")


def main():
    cli()
    root = workdir("prompts")
    inp = os.path.join(root, "in.txt")
    write_lines(inp, TEXTS)
    model, passages, queries = test_prompts(root, inp)
    test_similar(root, model, passages, queries)
    test_no_query_prompt(root, inp)
    test_dim(root, inp)
    test_no_normalize(root, inp)
    if not failures:
        cleanup(root)
    finish("test_cli_prompts")


if __name__ == "__main__":
    main()
