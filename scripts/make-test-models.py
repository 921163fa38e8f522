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

Run it with the reference virtual environment (see make-reference.py), which needs
sentencepiece and protobuf besides sentence-transformers:
    /root/.cache/embedpipe/ref-venv/bin/python scripts/make-test-models.py \
        [--data ../shared/data] [--out tests/fixtures/models] [--only STEP]
No network is used (HF_HUB_OFFLINE=1). SentencePiece is trained on one thread with a fixed
seed so that reruns with the same versions give the same pieces.
"""
import argparse
import glob
import hashlib
import io
import json
import os
import platform
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


STEPS = {"tokenizers": step_tokenizers}


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
