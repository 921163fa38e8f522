#!/usr/bin/env python3
"""make-test-models.py - the test models of the families embedpipe runs after MiniLM, and what
Hugging Face's own tools say about them.

No real multilingual weights can be downloaded here, so the tests are built from parts whose
behaviour Hugging Face defines:

  step "tokenizers"
      Trains SentencePiece Unigram tokenizers on the real tweets of ../shared/data/tweeteval
      (many languages, emoji) and converts them to tokenizer.json with transformers' own
      XLMRobertaConverter, so that they have what a real XLM-R tokenizer has: the Precompiled
      charsmap normalizer (SentencePiece's nmt_nfkc), Strip + Replace, the Metaspace
      pre-tokenizer, a Unigram model with <unk> at id 3, the <s> $A </s> template and the
      special tokens <s> <pad> </s> <unk> <mask> (<mask> with lstrip, as in xlm-roberta-base).
        unigram-xlmr          4,000 pieces, no byte fallback (unknown characters -> <unk>)
        unigram-bytefallback  4,000 pieces + 256 <0xXX> byte pieces, byte_fallback on
      Written as tests/fixtures/models/<name>.tokenizer.json.zst (one zstd frame, level 19:
      the charsmap is ~240 KB of base64) with <name>.meta.json (versions, the training text's
      SHA-256, the tokenizer.json's SHA-256).

  step "model-fixtures"
      Writes the model families of FAMILIES with scripts/make-tiny-model.py (seeded random
      weights: BERT with Dense modules, BERT with CLS pooling and prompts, max pooling with a
      saved truncate_dim, all six pooling modes at once with include_prompt false, XLM-R with the
      unigram-xlmr tokenizer above), loads each with sentence-transformers (fp32, CPU, one thread)
      and records what it gives for real tweets (lines of ../shared/data/tweeteval, named by file,
      line and XXH3, never copied), one "view" per way of calling encode (a prompt name, a prompt
      text, a truncate_dim):
        <family>.rows.ndjson.zst       {"file", "line", "xxh3", "n_tokens"[, "ids"]} per tweet
                                       (ids: the Hugging Face token ids, XLM-R only, so the encoder
                                       can be tested on ids whatever tokenizer embedpipe has)
        <family>.<view>.f32.npy.zst    float32 (rows, dim), normalize_embeddings=True
        <family>.meta.json             the make-tiny-model.py arguments (the C tests regenerate the
                                       folder with them), the SHA-256 of every weights file (a
                                       generator drift fails the tests), the views, versions

Run it with the reference virtual environment (see make-reference.py), which needs
sentencepiece and protobuf besides sentence-transformers:
    /root/.cache/embedpipe/ref-venv/bin/python scripts/make-test-models.py \
        [--data ../shared/data] [--out tests/fixtures/models] [--only STEP]
No network is used (HF_HUB_OFFLINE=1). SentencePiece is trained on one thread with a fixed
seed so that reruns with the same versions give the same pieces.
"""
import argparse
import glob
import importlib.util
import hashlib
import io
import json
import os
import platform
import subprocess
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UNIGRAM_PIECES = 4000


def sha256_bytes(b):
    return hashlib.sha256(b).hexdigest()


def tweeteval_lines(data):
    """Every line of every tweeteval/*.txt file, sorted files, as text (the training corpus)."""
    files = sorted(glob.glob(os.path.join(data, "tweeteval", "*.txt")))
    if not files:
        sys.exit(f"make-test-models: no tweeteval/*.txt under {data} (pass --data ../shared/data)")
    lines = []
    for path in files:
        with open(path, "rb") as f:
            for raw in f.read().split(b"\n"):
                text = raw.decode("utf-8", errors="replace").strip()
                if text:
                    lines.append(text)
    return lines


def train_sentencepiece(lines, byte_fallback, workdir):
    """A Unigram SentencePiece model (nmt_nfkc normalisation, like XLM-R's) trained on lines.
    @return the path of the .model file."""
    import sentencepiece as spm

    corpus = os.path.join(workdir, "corpus.txt")
    with open(corpus, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    prefix = os.path.join(workdir, "unigram-bf" if byte_fallback else "unigram")
    # SentencePiece's default special pieces, as in XLM-R's own sentencepiece.bpe.model: <unk>=0
    # <s>=1 </s>=2 and no <pad>. The converter replaces these three with fairseq's <s> <pad> </s>
    # <unk> (so every other piece moves up by one, as in xlm-roberta-base) and appends <mask>.
    # character_coverage < 1 leaves rare characters unknown, which is what exercises <unk> and
    # byte fallback.
    spm.SentencePieceTrainer.train(
        input=corpus, model_prefix=prefix, model_type="unigram", vocab_size=UNIGRAM_PIECES,
        character_coverage=0.9995, byte_fallback=byte_fallback, normalization_rule_name="nmt_nfkc",
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, num_threads=1, seed_sentencepiece_size=200000,
        shuffle_input_sentence=False, input_sentence_size=0, minloglevel=2)
    return prefix + ".model"


class _SlowTokenizerShim:
    """What XLMRobertaConverter reads from a slow XLMRobertaTokenizer: the .model file and the ids
    of <s> and </s> (0 and 2 in XLM-R's layout)."""

    def __init__(self, vocab_file):
        self.vocab_file = vocab_file
        self.add_prefix_space = True

    def convert_tokens_to_ids(self, token):
        return {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}[token]


def convert_to_tokenizer_json(model_file, byte_fallback):
    """tokenizer.json text of the SentencePiece model, as transformers converts XLM-R's."""
    from tokenizers import AddedToken
    from transformers.convert_slow_tokenizer import XLMRobertaConverter

    class Converter(XLMRobertaConverter):
        handle_byte_fallback = byte_fallback

    tok = Converter(_SlowTokenizerShim(model_file)).converted()
    tok.add_special_tokens([
        AddedToken("<s>", special=True, normalized=False),
        AddedToken("<pad>", special=True, normalized=False),
        AddedToken("</s>", special=True, normalized=False),
        AddedToken("<unk>", special=True, normalized=False),
        AddedToken("<mask>", special=True, normalized=False, lstrip=True),
    ])
    return tok.to_str(pretty=True)


def versions():
    import sentencepiece
    import tokenizers
    import transformers
    return {"python": platform.python_version(), "sentencepiece": sentencepiece.__version__,
            "tokenizers": tokenizers.__version__, "transformers": transformers.__version__}


def step_tokenizers(args):
    import zstandard

    lines = tweeteval_lines(args.data)
    corpus_sha = sha256_bytes("\n".join(lines).encode("utf-8"))
    os.makedirs(args.out, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        for name, byte_fallback in (("unigram-xlmr", False), ("unigram-bytefallback", True)):
            model_file = train_sentencepiece(lines, byte_fallback, work)
            text = convert_to_tokenizer_json(model_file, byte_fallback).encode("utf-8")
            packed = zstandard.ZstdCompressor(level=19).compress(text)
            with open(os.path.join(args.out, name + ".tokenizer.json.zst"), "wb") as f:
                f.write(packed)
            meta = {"name": name, "pieces": UNIGRAM_PIECES, "byte_fallback": byte_fallback,
                    "training_text": "every non-empty stripped line of tweeteval/*.txt, sorted files",
                    "training_lines": len(lines), "training_text_sha256": corpus_sha,
                    "tokenizer_json_sha256": sha256_bytes(text), "versions": versions()}
            with open(os.path.join(args.out, name + ".meta.json"), "w") as f:
                json.dump(meta, f, indent=2, sort_keys=True)
                f.write("\n")
            print(f"make-test-models: {name}: {len(text)} bytes of tokenizer.json "
                  f"({len(packed)} compressed)")


# ---------------------------------------------------------------------------
# step "model-fixtures"

TINY = ["--hidden", "64", "--heads", "2", "--layers", "2", "--intermediate", "128"]  # CUDA kernels: hidden % 64
FAMILIES = [
    {"name": "bert-dense", "every": 400, "first": 7,
     "args": TINY + ["--seed", "11", "--dense", "96:tanh", "--dense", "48:identity", "--no-normalize"],
     "views": {"default": {}}},
    {"name": "bert-cls-prompts", "every": 400, "first": 11,
     "args": TINY + ["--seed", "12", "--pooling", "cls", "--prompt", "query=query: ", "--prompt",
                     "passage=passage: ", "--default-prompt", "passage"],
     "views": {"default": {}, "query": {"prompt_name": "query"}, "noprompt": {"prompt": ""},
               "dim24": {"truncate_dim": 24}}},
    {"name": "bert-max", "every": 400, "first": 13,
     "args": TINY + ["--seed", "13", "--pooling", "max", "--truncate-dim", "40"],
     "views": {"default": {}, "dim64": {"truncate_dim": 64}}},
    {"name": "bert-multi", "every": 1000, "first": 17,
     "args": TINY + ["--seed", "14", "--pooling", "lasttoken,mean,max,cls,weightedmean,mean_sqrt_len_tokens",
                     "--no-include-prompt", "--prompt", "tweet=Represent this tweet: ", "--default-prompt", "tweet"],
     "views": {"default": {}}},
    {"name": "xlmr", "every": 400, "first": 19, "ids": True,
     "args": TINY + ["--seed", "15", "--model-type", "xlm-roberta", "--tokenizer-json",
                     "tests/fixtures/models/unigram-xlmr.tokenizer.json.zst", "--max-position", "66",
                     "--max-seq-length", "64"],
     "views": {"default": {}}},
]


def _reference_helpers():
    """make-reference.py's helpers (line selection, XXH3, NDJSON, zstd), loaded from its file."""
    spec = importlib.util.spec_from_file_location("make_reference", os.path.join(ROOT, "scripts", "make-reference.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def weights_sha256(folder):
    """{relative path: SHA-256} of every model.safetensors in the folder (the encoder's, each Dense's)."""
    out = {}
    for path in sorted(glob.glob(os.path.join(folder, "**", "model.safetensors"), recursive=True)):
        with open(path, "rb") as f:
            out[os.path.relpath(path, folder)] = sha256_bytes(f.read())
    return out


def encode_view(model, texts, view):
    """sentence-transformers' vectors for one view, and the prompt it applied."""
    prompt = model._resolve_prompt(view.get("prompt"), view.get("prompt_name"))
    vec = model.encode(texts, prompt_name=view.get("prompt_name"), prompt=view.get("prompt"),
                       truncate_dim=view.get("truncate_dim"), batch_size=64, normalize_embeddings=True,
                       convert_to_numpy=True, show_progress_bar=False)
    return vec, prompt or ""


def make_family(fam, args, ref, work):
    import numpy as np
    from sentence_transformers import SentenceTransformer

    folder = os.path.join(work, fam["name"])
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "make-tiny-model.py"), "--out", folder]
                   + fam["args"], check=True, cwd=ROOT)
    model = SentenceTransformer(folder, device="cpu")
    sel = ref.select_lines(args.data, fam["every"], fam["first"])
    texts = [b.decode("utf-8", errors="replace") for _, _, b in sel]
    out, views = {}, {}
    for name, view in fam["views"].items():
        vec, prompt = encode_view(model, texts, view)
        buf = io.BytesIO()
        np.save(buf, vec.astype(np.float32), allow_pickle=False)
        out["%s.%s.f32.npy.zst" % (fam["name"], name)] = ref.zstd_bytes(buf.getvalue())
        views[name] = dict(view, prompt_text=prompt, dim=int(vec.shape[1]))
    default_prompt = views["default"]["prompt_text"]
    ids = model.tokenizer([default_prompt + t for t in texts], truncation=True,
                          max_length=model.max_seq_length)["input_ids"]
    rows = []
    for (f, n, b), i in zip(sel, ids):
        row = {"file": f, "line": n, "xxh3": ref.xxh3_hex(b), "n_tokens": len(i)}
        if fam.get("ids"):
            row["ids"] = i
        rows.append(row)
    out[fam["name"] + ".rows.ndjson.zst"] = ref.zstd_bytes(ref.ndjson(rows))
    meta = {"family": fam["name"], "make_tiny_model_args": fam["args"], "weights_sha256": weights_sha256(folder),
            "rows": len(rows), "rule": "lines %d, %d+%d, ... of each sorted tweeteval/*.txt" % (
                fam["first"], fam["first"], fam["every"]),
            "max_seq_length": model.max_seq_length, "views": views,
            "encode": "batch_size=64, normalize_embeddings=True, fp32, CPU, 1 thread",
            "ids": "prompt + text of the default view, Hugging Face tokenizer" if fam.get("ids") else None,
            "versions": ref._versions()}
    out[fam["name"] + ".meta.json"] = (json.dumps(meta, indent=2, sort_keys=True) + "\n").encode()
    return out


def step_model_fixtures(args):
    import torch

    torch.set_num_threads(1)
    ref = _reference_helpers()
    os.makedirs(args.out, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        for fam in FAMILIES:
            files = make_family(fam, args, ref, work)
            for name, data in files.items():
                with open(os.path.join(args.out, name), "wb") as f:
                    f.write(data)
            print(f"make-test-models: {fam['name']}: " + ", ".join(f"{n} ({len(d)} bytes)" for n, d in files.items()))


STEPS = {"tokenizers": step_tokenizers, "model-fixtures": step_model_fixtures}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data"))
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures", "models"))
    ap.add_argument("--only", choices=sorted(STEPS), action="append",
                    help="run only this step (repeatable); default: every step in order")
    args = ap.parse_args()
    for name in (args.only or list(STEPS)):
        STEPS[name](args)


if __name__ == "__main__":
    main()
