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
import hashlib
import io
import json
import os
import platform
import struct
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


STEPS = {"tokenizers": step_tokenizers, "tokenizer-fixtures": step_tokenizer_fixtures}


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
