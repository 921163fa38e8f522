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

  step "unigram-fixtures"
      What tokenizers says about those two tokenizers' parts, for tokenizer/precompiled_charsmap.c
      and tokenizer/unigram.c (formats in the C tests that read them, tests/tokenizer/):
        unigram-charsmap-codepoints.bin.zst  the Precompiled normalizer alone on every Unicode
            scalar value c in context ("a" c "b", c U+0301 "b") and a small probe map of our own
            on "A" c "b" (whether c joins the grapheme cluster before it)
        unigram-tweets.bin.zst  for every 5th tweeteval line and every tweets.js tweet of
            ../shared/data: the 32-bit XXH3 of the Precompiled output, of the words (whole
            normalizer + Metaspace) and of each model's ids (model.tokenize on each word); the
            data files' SHA-256 (no tweet text is stored)
        unigram-edge.json  hand-picked Unigram vocabularies and words (ties, unknowns, byte
            fallback, duplicates, no unk_id) and charsmap texts, with tokenizers' answers
        unigram-fixtures.meta.json  versions, counts, the fixtures' SHA-256
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
  step "tokenizer-fixtures"
      What tokenizers (Tokenizer.from_str, truncation at 256, no padding) gives for several
      tokenizer.json pipelines: all-MiniLM-L6-v2's own file (models/all-MiniLM-L6-v2, or
      $EP_MODEL_DIR), variants of it (cased; BertNormalizer without clean_text; NFKC + Lowercase +
      WhitespaceSplit + Punctuation with added tokens; NFD + StripAccents + Whitespace), Metaspace
      pipelines over the Unigram pieces (with Nmt, Prepend, Replace, every Punctuation behaviour),
      and the two Unigram tokenizers above as they are.
      Written to tests/fixtures/tokjson/: pipelines.json (each pipeline as its base file, the
      top-level keys replaced and the base's SHA-256, so that the C test rebuilds the same
      tokenizer.json; versions), tweets.bin.zst (for every 5th tweeteval line and every full_text
      of twitter-export/tweets.js: file, line or array index and XXH3 of the text, never the text;
      per pipeline the number of ids and a 32-bit hash of them) and codepoints.bin.zst (the ids of
      "a" c "b" for every scalar value c, as runs of code points with equal ids).
      Formats: tests/tokenizer/tokjson_fixture.h.

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
import struct
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
# step "unigram-fixtures": what tokenizers' Precompiled normalizer and Unigram model give, for the
# C units tokenizer/precompiled_charsmap.c and tokenizer/unigram.c (tests/tokenizer/test_charsmap_*,
# test_unigram_*).

UNIGRAM_TWEETS_EVERY = 5          # lines 1, 6, 11, ... of every tweeteval/*.txt, and every tweets.js tweet
UNIGRAM_MODELS = ("unigram-xlmr", "unigram-bytefallback")
_UNIGRAM_XXH = []


def _unigram_xxh3_32(data):
    """The low 32 bits of XXH3_64bits(data, seed 0), as <xxhash.h> computes it in the C tests."""
    try:
        import xxhash
        return xxhash.xxh3_64_intdigest(data) & 0xFFFFFFFF
    except ImportError:
        pass
    if not _UNIGRAM_XXH:
        import ctypes
        import ctypes.util
        lib = ctypes.CDLL(ctypes.util.find_library("xxhash") or "libxxhash.so.0")
        lib.XXH3_64bits.restype = ctypes.c_uint64
        lib.XXH3_64bits.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
        _UNIGRAM_XXH.append(lib)
    return _UNIGRAM_XXH[0].XXH3_64bits(data, len(data)) & 0xFFFFFFFF


def _unigram_probe_blob(entries):
    """A SentencePiece precompiled charsmap (darts-clone double array + strings) holding entries
    [(key bytes, value bytes)], the last value left without its NUL (the blob's end ends it).
    Every node gets a block of 256 units of its own: simple, and still a valid double array."""
    strings, offset = b"", {}
    for i, (key, value) in enumerate(entries):
        offset[key] = len(strings)
        strings += value + (b"" if i == len(entries) - 1 else b"\0")
    root = {}
    for key, _ in entries:
        node = root
        for c in key:
            node = node.setdefault(c, {})
        node[None] = offset[key]
    units, queue = [0] * 256, [(0, root)]
    while queue:
        pos, node = queue.pop(0)
        base = len(units)
        units.extend([0] * 256)
        units[pos] |= (pos ^ base) << 10           # offset to the children, < 2^21 here
        if None in node:
            units[base] = (1 << 31) | node[None]    # the value unit (label 0)
        for c in sorted(k for k in node if k is not None):
            units[base ^ c] = c | ((1 << 8) if None in node[c] else 0)
            queue.append((base ^ c, node[c]))
    return struct.pack("<I", 4 * len(units)) + struct.pack("<%dI" % len(units), *units) + strings


# The probe map: "A" heads clusters (so a character that joins it vanishes), "A" U+0301 under it
# (tokenizers takes the shortest key that prefixes a cluster, not the longest as SentencePiece
# does), a two-character key, an empty value, a key longer than a cluster can be, and a value that
# ends the blob.
_UNIGRAM_PROBE = [("A", "X"), ("A\u0301", "[A-acute]"), ("e\u0301", "E"), ("B", ""), ("zz", "Z"),
                  ("\u00e9", "[e-acute]"), ("\u0915\u094d", "K"), ("Q", "end")]


def _unigram_codepoints(pre, probe):
    """Runs for every scalar value c of: A = pre("a" c "b"), B = pre(c U+0301 "b"), P = probe("A" c "b").
    @return the fixture bytes (format in tests/tokenizer/test_charsmap_codepoints.c)."""
    runs = []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        a, b, p = pre.normalize_str("a" + c + "b"), pre.normalize_str(c + "\u0301b"), probe.normalize_str("A" + c + "b")
        flags = (a == "a" + c + "b") | (b == c + "\u0301b") << 1 | (p == "Xb") << 2 | (p == "X" + c + "b") << 3
        payload = b"".join(struct.pack("<H", len(x)) + x for x, bit in
                           ((a.encode(), 1), (b.encode(), 2), (p.encode(), 12)) if not flags & bit)
        last = runs[-1] if runs else None
        if last and not payload and not last[3] and last[2] == flags and last[0] + last[1] == cp:
            last[1] += 1
        else:
            runs.append([cp, 1, flags, payload])
    out = io.BytesIO()
    probe_blob = _unigram_probe_blob([(k.encode(), v.encode()) for k, v in _UNIGRAM_PROBE])
    out.write(b"EPCHARCP" + struct.pack("<III", 1, len(runs), len(probe_blob)) + probe_blob)
    for first, count, flags, payload in runs:
        out.write(struct.pack("<IIB", first, count, flags) + payload)
    return out.getvalue(), len(runs)


def _unigram_texts(data):
    """The tweets: [(source, number, text)] and the sources [(name, SHA-256 of the file)]."""
    sources, texts = [], []
    for path in sorted(glob.glob(os.path.join(data, "tweeteval", "*.txt"))):
        raw = open(path, "rb").read()
        sources.append(("tweeteval/" + os.path.basename(path), sha256_bytes(raw)))
        lines = raw.split(b"\n")
        for i in range(0, len(lines), UNIGRAM_TWEETS_EVERY):
            if lines[i]:
                texts.append((len(sources) - 1, i + 1, lines[i].decode("utf-8")))
    raw = open(os.path.join(data, "twitter-export", "tweets.js"), "rb").read()
    sources.append(("twitter-export/tweets.js", sha256_bytes(raw)))
    for i, t in enumerate(json.loads(raw[raw.index(b"["):].decode("utf-8"))):
        texts.append((len(sources) - 1, i + 1, t["tweet"]["full_text"]))
    return texts, sources


def _unigram_tweets(data, toks, pre):
    """Per tweet: the hashes of the Precompiled output, of the words (full normalizer + Metaspace)
    and of each model's ids. @return the fixture bytes (format in test_unigram_tweets.c)."""
    texts, sources = _unigram_texts(data)
    out = io.BytesIO()
    out.write(b"EPUNITWT" + struct.pack("<III", 1, len(sources), len(texts)))
    for name, digest in sources:
        out.write(struct.pack("<H", len(name)) + name.encode() + bytes.fromhex(digest))
    first = toks[0]
    n_words = n_ids = 0
    for src, number, text in texts:
        words = [w for w, _ in first.pre_tokenizer.pre_tokenize_str(first.normalizer.normalize_str(text))]
        hashes = [_unigram_xxh3_32(pre.normalize_str(text).encode()),
                  _unigram_xxh3_32(b"\0".join(w.encode() for w in words))]
        for tok in toks:
            ids = [t.id for w in words for t in tok.model.tokenize(w)]
            hashes.append(_unigram_xxh3_32(struct.pack("<%dI" % len(ids), *ids)))
            n_ids += len(ids)
        n_words += len(words)
        out.write(struct.pack("<BI4I", src, number, *hashes))
    return out.getvalue(), len(texts), n_words, n_ids


# Hand-picked Unigram cases: inputs typed here, ids from tokenizers.models.Unigram.
_UNIGRAM_EDGE_MODELS = [
    ("tokenizers' doc example", [("<unk>", 0.0), ("a", 0.0), ("b", 0.0), ("c", 0.0), ("d", 0.0), ("cd", 1.0),
                                 ("ab", 2.0), ("abc", 5.0), ("abcd", 10.0)], 0, False,
     ["abcdacdxx", "abcd", "xxabxx", "x", "dcba", "", "<unk>x<unk>", "a<unk>b"]),
    ("ties: the first path found stays", [("<unk>", -5.0), ("a", -0.5), ("b", -0.5), ("ab", -1.0), ("ba", -1.0),
                                         ("x", -0.1), ("y", -0.2), ("xy", -0.30000000000000004), ("z", -0.3),
                                         ("yz", -0.2), ("xyz", -0.6)], 0, False,
     ["ab", "ba", "aba", "bab", "abab", "xy", "xyz", "yz", "zxy"]),
    ("unknown characters fuse; unk_id not 0", [("a", -1.0), ("b", -1.5), ("<unk>", 0.0), ("\u00e9t\u00e9", -2.0),
                                               ("t", -1.0)], 2, False,
     ["a\u00e9b", "\u00e9\u00e9", "\u00e9t\u00e9", "\u00e9t", "ta\u20ac\U0001F600b", "\U0001F600<unk>\u00e9",
      "\u0915\u094d\u0937"]),
    ("byte fallback", [("<unk>", 0.0)] + [("<0x%02X>" % b, 0.0) for b in range(256) if b not in (0x82, 0x9F)]
     + [("a", -1.0), ("\u00e9", -3.0), ("ab", -1.5)], 0, True,
     ["a\u00e9b", "\u20ac", "\u00e7a", "\U0001F600", "\u20ac\u00e7", "a<unk>b", "\u00e7<unk>", "<0x41>"]),
    ("a fused run that is itself a piece (positive scores)", [("<unk>", 30.0), ("xy", 30.0), ("q", 31.0)], 0, False,
     ["xy", "xyq", "qxyq", "xyz", "x"]),
    ("duplicate pieces: the later id and score; an empty piece", [("<unk>", -1.0), ("a", -1.0), ("b", -2.0),
                                                                  ("a", -9.0), ("", -50.0), ("ab", -8.0)], 0, False,
     ["a", "ab", "ba", "c"]),
    ("no unk_id", [("a", -1.0), ("b", -1.0), ("ab", -1.5)], None, False, ["ab", "ba", "abc", "c"]),
    ("a word past the stack buffer", [("<unk>", -20.0), ("ab", -1.0), ("a", -2.0), ("b", -2.0), ("\u00e9", -3.0)],
     0, True, ["ab" * 300 + "\u00e9" * 100 + "x" * 50 + "a", "b" * 513, "x" * 700]),
]

# Texts for the charsmap, under the real map and the probe map (clusters and their limits).
_UNIGRAM_EDGE_TEXTS = [
    "x\r\ny", "\n\r", "\r\r\n\n", "e\u0301", "E\u0301", "\ufb01\u0301", "\ufb01\u0301\u0301", "A\u0301b", "AAB",
    "A\U0001F3FB", "A\u200d\u00a9", "\u00a9\u200d\u00a9", "\U0001F468\u200d\U0001F469\u200d\U0001F467",
    "\U0001F1E9\U0001F1EA\U0001F1EB", "\u0915\u094d\u0937", "\u0915\u094d", "\u1100\u1161\u11a8", "\u0600a",
    "\u0600A", "a\u0000b", "zz", "Qz", "Q", "\u00e9e\u0301", "\uff21\u0301", "\u2581a  b", "\u00b5\u0301",
    "\u3000x\u00a0y\u2009z", "\u2126\u212b", "\U0001D400\u0301", "A\u0308\u0301", "\u1e9b\u0323",
    "\U000E0041A", "A\U000E0041", "A\u0308\u0304", "a\u0308\u0304", "A\u0301", "A\u0301\u0301",
]


def _unigram_edge(pre, probe):
    from tokenizers import models
    cases = []
    for name, vocab, unk_id, byte_fallback, words in _UNIGRAM_EDGE_MODELS:
        model = models.Unigram(vocab, unk_id, byte_fallback)
        results = []
        for w in words:
            try:
                results.append({"word_hex": w.encode().hex(), "ids": [t.id for t in model.tokenize(w)]})
            except Exception as e:  # tokenizers refuses an unknown character without unk_id
                results.append({"word_hex": w.encode().hex(), "error": str(e)})
        cases.append({"name": name, "vocab": [[p, s] for p, s in vocab], "unk_id": unk_id,
                      "byte_fallback": byte_fallback, "words": results})
    texts = [{"text_hex": t.encode().hex(), "real_hex": pre.normalize_str(t).encode().hex(),
              "probe_hex": probe.normalize_str(t).encode().hex()} for t in _UNIGRAM_EDGE_TEXTS]
    return {"unigram": cases, "charsmap": texts}


def _unigram_zstd(data):
    """One zstd frame, level 19, content size recorded, no threads: the same bytes on every rerun."""
    import zstandard
    return zstandard.ZstdCompressor(level=19, write_content_size=True, threads=0).compress(data)


def _unigram_load(path):
    import zstandard
    from tokenizers import Tokenizer
    with open(path, "rb") as f:
        text = zstandard.ZstdDecompressor().decompress(f.read(), max_output_size=1 << 30).decode("utf-8")
    return Tokenizer.from_str(text), json.loads(text)


def step_unigram_fixtures(args):
    """unigram-charsmap-codepoints.bin.zst, unigram-tweets.bin.zst, unigram-edge.json and
    unigram-fixtures.meta.json, from the two committed Unigram tokenizers (step "tokenizers")."""
    import base64
    from tokenizers import normalizers
    loaded = [_unigram_load(os.path.join(args.out, n + ".tokenizer.json.zst")) for n in UNIGRAM_MODELS]
    toks = [tok for tok, _ in loaded]
    spec = [js["normalizer"] for _, js in loaded]
    if spec[0] != spec[1] or loaded[0][1]["pre_tokenizer"] != loaded[1][1]["pre_tokenizer"]:
        sys.exit("make-test-models: the two Unigram tokenizers normalise differently; the fixtures assume one map")
    charsmap = [n for n in spec[0]["normalizers"] if n["type"] == "Precompiled"][0]["precompiled_charsmap"]
    pre = normalizers.Precompiled(base64.b64decode(charsmap))
    probe = normalizers.Precompiled(_unigram_probe_blob([(k.encode(), v.encode()) for k, v in _UNIGRAM_PROBE]))
    made = {}
    cp_bytes, n_runs = _unigram_codepoints(pre, probe)
    made["unigram-charsmap-codepoints.bin.zst"] = _unigram_zstd(cp_bytes)
    tw_bytes, n_tweets, n_words, n_ids = _unigram_tweets(args.data, toks, pre)
    made["unigram-tweets.bin.zst"] = _unigram_zstd(tw_bytes)
    made["unigram-edge.json"] = (json.dumps(_unigram_edge(pre, probe), indent=1, sort_keys=True) + "\n").encode()
    for name, data in made.items():
        with open(os.path.join(args.out, name), "wb") as f:
            f.write(data)
    meta = {"versions": versions(), "code_point_runs": n_runs, "tweets": n_tweets, "words": n_words,
            "ids_both_models": n_ids,
            "tweets_selection": f"lines 1, 1+{UNIGRAM_TWEETS_EVERY}, ... of every tweeteval/*.txt (sorted, non-empty) "
                                "and every tweet of twitter-export/tweets.js (full_text)",
            "sha256": {name: sha256_bytes(data) for name, data in made.items()}}
    with open(os.path.join(args.out, "unigram-fixtures.meta.json"), "w") as f:
        json.dump(meta, f, indent=2, sort_keys=True)
        f.write("\n")
    print(f"make-test-models: unigram fixtures: {n_runs} code point runs, {n_tweets} tweets, {n_words} words, "
          f"{n_ids} ids; " + ", ".join(f"{k} {len(v)} bytes" for k, v in made.items()))


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
# step "tokenizer-fixtures": what tokenizers gives for tokenizer.json pipelines on real tweets
# and on every code point (tests/tokenizer/test_tokjson_*.c read these).

TOKJSON_MAX_LEN = 256      # max_length of the truncation, as tests/tokenizer/test_tokenizer_conformance
TOKJSON_EVERY = 5          # tweeteval lines 1, 6, 11, ... (as make-reference.py's tokens fixture)
TOKJSON_MAGIC_ROWS = b"EPTOKJR1"
TOKJSON_MAGIC_CODEPOINTS = b"EPTOKJC1"


def _tokjson_reference_helpers():
    """make-reference.py's line selection, XXH3 and zstd framing, so both fixtures agree."""
    import importlib.util
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


# ---------------------------------------------------------------------------
# step "tokenizer-fixtures"


def _tokjson_pipelines(minilm):
    """The pipelines: a base tokenizer.json, top-level keys replaced ("set"), optionally its model
    replaced by a WordPiece over the base's Unigram pieces ("model_from_pieces", so that Metaspace
    pipelines can be checked before Unigram itself is), and added tokens appended ("add_tokens",
    added with tokenizers' own add_tokens so that their ids are the ones it assigns)."""
    bert_proc = {"type": "BertProcessing", "sep": ["[SEP]", minilm.token_to_id("[SEP]")],
                 "cls": ["[CLS]", minilm.token_to_id("[CLS]")]}
    xlmr_wordpiece = {"unk_token": "<unk>", "continuing_subword_prefix": "", "max_input_chars_per_word": 100}

    def tok(content, **flags):
        d = {"content": content, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
             "special": False}
        d.update(flags)
        return d
    return [
        # all-MiniLM-L6-v2's own file: BertNormalizer + BertPreTokenizer + WordPiece + [CLS] $A [SEP].
        {"name": "minilm", "base": "minilm"},
        # The cased variant (bert-base-cased style): still the fast WordPiece path.
        {"name": "bert-cased", "base": "minilm",
         "set": {"normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                                "strip_accents": False, "lowercase": False}}},
        # BertNormalizer without clean_text or CJK spacing, accents stripped but case kept, and
        # punctuation removed after BertPreTokenizer: the general chain with BERT's parts, and
        # BertProcessing.
        {"name": "bert-general", "base": "minilm",
         "set": {"normalizer": {"type": "BertNormalizer", "clean_text": False, "handle_chinese_chars": False,
                                "strip_accents": True, "lowercase": False},
                 "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                     {"type": "BertPreTokenizer"}, {"type": "Punctuation", "behavior": "Removed"}]},
                 "post_processor": bert_proc}},
        # NFKC + Lowercase, WhitespaceSplit + Punctuation, and added tokens found in tweets with
        # every matching flag: normalized, single_word, lstrip, rstrip.
        {"name": "nfkc-lower-punct", "base": "minilm",
         "set": {"normalizer": {"type": "Sequence", "normalizers": [{"type": "NFKC"}, {"type": "Lowercase"}]},
                 "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                     {"type": "WhitespaceSplit"}, {"type": "Punctuation", "behavior": "Isolated"}]}},
         "add_tokens": [tok("@user", normalized=True, rstrip=True), tok("&amp;", lstrip=True, rstrip=True),
                        tok("rt", normalized=True, single_word=True), tok("http", single_word=True),
                        tok("\u2764\ufe0f", lstrip=True)]},
        # NFD + StripAccents + Lowercase + Strip, the Whitespace pre-tokenizer, contiguous punctuation.
        {"name": "nfd-whitespace", "base": "minilm",
         "set": {"normalizer": {"type": "Sequence", "normalizers": [
                     {"type": "NFD"}, {"type": "StripAccents"}, {"type": "Lowercase"},
                     {"type": "Strip", "strip_left": True, "strip_right": True}]},
                 "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                     {"type": "Whitespace"}, {"type": "Punctuation", "behavior": "Contiguous"}]}}},
        # XLM-R's chain without its Precompiled charsmap (NFKC in its place) and Metaspace, on a
        # WordPiece over the Unigram pieces, with RobertaProcessing.
        {"name": "metaspace-always", "base": "unigram-xlmr", "model_from_pieces": xlmr_wordpiece,
         "set": {"normalizer": {"type": "Sequence", "normalizers": [
                     {"type": "NFKC"}, {"type": "Strip", "strip_left": False, "strip_right": True},
                     {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": "\u2581"}]},
                 "post_processor": {"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0],
                                    "trim_offsets": True, "add_prefix_space": True}},
         "add_tokens": [tok("#", lstrip=True), tok("!!", rstrip=True, normalized=True)]},
        # Metaspace prepending on the first split only, after punctuation merged with the next
        # word, NFC, a trimming regex; two specials after the sequence.
        {"name": "metaspace-first", "base": "unigram-xlmr", "model_from_pieces": xlmr_wordpiece,
         "set": {"normalizer": {"type": "Sequence", "normalizers": [
                     {"type": "NFC"}, {"type": "Replace", "pattern": {"Regex": "\\A +| +\\z"}, "content": ""},
                     {"type": "Lowercase"}]},
                 "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                     {"type": "Punctuation", "behavior": "MergedWithNext"},
                     {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": True}]},
                 "post_processor": {"type": "TemplateProcessing",
                                    "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                               {"Sequence": {"id": "A", "type_id": 0}},
                                               {"SpecialToken": {"id": "</s>", "type_id": 0}},
                                               {"SpecialToken": {"id": "</s>", "type_id": 0}}],
                                    "pair": [{"Sequence": {"id": "A", "type_id": 0}},
                                             {"Sequence": {"id": "B", "type_id": 1}}],
                                    "special_tokens": {"<s>": {"id": "<s>", "ids": [0], "tokens": ["<s>"]},
                                                       "</s>": {"id": "</s>", "ids": [2], "tokens": ["</s>"]}}}}},
        # Metaspace that never prepends, over spaces made visible by Replace (String), the
        # leading one removed by a "\A" regex; NFKD.
        {"name": "metaspace-never", "base": "unigram-xlmr", "model_from_pieces": xlmr_wordpiece,
         "set": {"normalizer": {"type": "Sequence", "normalizers": [
                     {"type": "NFKD"}, {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"},
                     {"type": "Replace", "pattern": {"Regex": "\\A\u2581"}, "content": ""}]},
                 "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "never",
                                   "split": True}}},
        # Nmt, Prepend, punctuation merged with the word before, Metaspace without splitting.
        {"name": "metaspace-nosplit", "base": "unigram-xlmr", "model_from_pieces": xlmr_wordpiece,
         "set": {"normalizer": {"type": "Sequence", "normalizers": [
                     {"type": "Nmt"}, {"type": "NFKC"}, {"type": "Prepend", "prepend": "\u2581"},
                     {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
                 "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                     {"type": "Punctuation", "behavior": "MergedWithPrevious"},
                     {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "never", "split": False}]}}},
        # The two Unigram tokenizers of the "tokenizers" step, as they are (Precompiled + Unigram).
        {"name": "unigram-xlmr", "base": "unigram-xlmr"},
        {"name": "unigram-bytefallback", "base": "unigram-bytefallback"},
    ]


def _tokjson_build(spec, bases):
    """@return (tokenizer.json text, the spec as the C test replays it) for one pipeline."""
    from tokenizers import AddedToken, Tokenizer

    d = json.loads(bases[spec["base"]])
    d.update(spec.get("set", {}))
    if "model_from_pieces" in spec:
        vocab = {piece: i for i, (piece, _) in enumerate(d["model"]["vocab"])}
        d["model"] = dict(type="WordPiece", vocab=vocab, **spec["model_from_pieces"])
    replay = {k: v for k, v in spec.items() if k != "add_tokens"}
    if spec.get("add_tokens"):
        tk = Tokenizer.from_str(json.dumps(d))
        tk.add_tokens([AddedToken(t["content"], single_word=t["single_word"], lstrip=t["lstrip"], rstrip=t["rstrip"],
                                  normalized=t["normalized"], special=t["special"]) for t in spec["add_tokens"]])
        d["added_tokens"] = json.loads(tk.to_str())["added_tokens"]
        replay.setdefault("set", {})
        replay["set"] = dict(replay["set"], added_tokens=d["added_tokens"])
    return json.dumps(d, ensure_ascii=False), replay


def _tokjson_varint(out, v):
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)


def _tokjson_ids_hash(ref, ids):
    """The low 32 bits of XXH3_64 over the ids as little-endian uint32s: 23,000 tweets x 10
    pipelines of full ids would be 4 MB of fixture (ids hardly compress); a hash per row catches
    any difference (the C test prints its own ids and words for a row that differs)."""
    return int(ref.xxh3_hex(struct.pack("<%dI" % len(ids), *ids)), 16) & 0xFFFFFFFF


def _tokjson_texts(data, ref):
    """[(source, line-or-index, bytes)]: every 5th tweeteval line and every full_text of tweets.js."""
    rows = ref.select_lines(data, TOKJSON_EVERY, 1)
    path = os.path.join(data, "twitter-export", "tweets.js")
    with open(path, "rb") as f:
        raw = f.read()
    tweets = json.loads(raw[raw.index(b"["):].decode("utf-8"))
    for i, t in enumerate(tweets):
        rows.append(("twitter-export/tweets.js", i, t["tweet"]["full_text"].encode("utf-8")))
    return rows


def step_tokenizer_fixtures(args):
    from tokenizers import Tokenizer

    ref = _tokjson_reference_helpers()
    out_dir = os.path.join(ROOT, "tests", "fixtures", "tokjson")
    os.makedirs(out_dir, exist_ok=True)
    model_dir = os.environ.get("EP_MODEL_DIR", os.path.join(ROOT, "models", "all-MiniLM-L6-v2"))
    bases, base_sha = {}, {}
    with open(os.path.join(model_dir, "tokenizer.json"), "rb") as f:
        bases["minilm"] = f.read().decode("utf-8")
    import zstandard
    for name in ("unigram-xlmr", "unigram-bytefallback"):
        with open(os.path.join(args.out, name + ".tokenizer.json.zst"), "rb") as f:
            bases[name] = zstandard.ZstdDecompressor().decompress(f.read()).decode("utf-8")
    for name, text in bases.items():
        base_sha[name] = sha256_bytes(text.encode("utf-8"))

    texts = _tokjson_texts(args.data, ref)
    sources = sorted({s for s, _, _ in texts})
    decoded = [b.decode("utf-8", errors="replace") for _, _, b in texts]
    cps = [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF]
    cp_texts = ["a" + chr(cp) + "b" for cp in cps]

    specs, rows_sections, cp_sections = [], [], []
    for spec in _tokjson_pipelines(Tokenizer.from_str(bases["minilm"])):
        text, replay = _tokjson_build(spec, bases)
        tk = Tokenizer.from_str(text)
        tk.no_padding()
        tk.enable_truncation(TOKJSON_MAX_LEN)
        replay["base_sha256"] = base_sha[spec["base"]]
        replay["tokenizer_json_sha256"] = sha256_bytes(text.encode("utf-8"))
        specs.append(replay)
        sec = bytearray()
        for enc in tk.encode_batch(decoded):
            _tokjson_varint(sec, len(enc.ids))
            sec += struct.pack("<I", _tokjson_ids_hash(ref, enc.ids))
        rows_sections.append(bytes(sec))
        # Code points: runs of consecutive code points whose texts get the same ids.
        tk.no_truncation()
        runs = []
        for cp, enc in zip(cps, tk.encode_batch(cp_texts)):
            ids = tuple(enc.ids)
            if runs and runs[-1][2] == ids and runs[-1][0] + runs[-1][1] == cp:
                runs[-1][1] += 1
            else:
                runs.append([cp, 1, ids])
        sec = bytearray()
        _tokjson_varint(sec, len(runs))
        for first, count, ids in runs:
            for v in (first, count, len(ids)) + ids:
                _tokjson_varint(sec, v)
        cp_sections.append(bytes(sec))
        print(f"make-test-models: tokenizer-fixtures: {spec['name']}: {len(runs)} code point runs")

    def header(magic):
        b = bytearray(magic)
        b += struct.pack("<I", len(specs))
        for s in specs:
            n = s["name"].encode("utf-8")
            b += struct.pack("<H", len(n)) + n
        return b

    rows = header(TOKJSON_MAGIC_ROWS)
    rows += struct.pack("<I", len(sources))
    for s in sources:
        b = s.encode("utf-8")
        rows += struct.pack("<H", len(b)) + b
    rows += struct.pack("<I", len(texts))
    for src, where, b in texts:
        rows += struct.pack("<HIQ", sources.index(src), where, int(ref.xxh3_hex(b), 16))
    for sec in rows_sections:
        rows += struct.pack("<I", len(sec)) + sec
    cpf = header(TOKJSON_MAGIC_CODEPOINTS)
    cpf += struct.pack("<II", ord("a"), ord("b"))
    for sec in cp_sections:
        cpf += struct.pack("<I", len(sec)) + sec

    ref.write_file(os.path.join(out_dir, "tweets.bin.zst"), ref.zstd_bytes(bytes(rows)))
    ref.write_file(os.path.join(out_dir, "codepoints.bin.zst"), ref.zstd_bytes(bytes(cpf)))
    meta = {"generator": "scripts/make-test-models.py --only tokenizer-fixtures", "max_length": TOKJSON_MAX_LEN,
            "rows": len(texts), "sources": sources, "code_points": len(cps), "versions": versions(),
            "pipelines": specs}
    with open(os.path.join(out_dir, "pipelines.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=1, ensure_ascii=False, sort_keys=True)
        f.write("\n")


STEPS = {"tokenizers": step_tokenizers, "unigram-fixtures": step_unigram_fixtures,
         "tokenizer-fixtures": step_tokenizer_fixtures, "model-fixtures": step_model_fixtures}


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
