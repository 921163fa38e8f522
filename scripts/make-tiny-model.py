#!/usr/bin/env python3
"""make-tiny-model.py - write a tiny BERT sentence-transformers model with seeded random weights.

The folder has exactly the layout of a real sentence-transformers model such as
all-MiniLM-L6-v2, so every loader, tokenizer and backend test can run without
downloading anything, and sentence-transformers itself can load it as a reference:

    config.json  model.safetensors  vocab.txt  tokenizer_config.json
    special_tokens_map.json  sentence_bert_config.json  modules.json  1_Pooling/config.json

Only the Python standard library is used (struct, json, random).

Determinism: the weights depend only on --seed and the shapes, never on --dtype.
Each value is drawn as a double, rounded to float32, and for --dtype F16/BF16
that float32 is rounded (to nearest, ties to even) to the smaller type; so a
F16 or BF16 model holds exactly the rounded values of the F32 model with the
same seed and shapes.

Usage:
    python3 scripts/make-tiny-model.py --out DIR [--hidden 32] [--layers 2] [--heads 2]
        [--intermediate 64] [--dtype F32|F16|BF16] [--pooling mean|cls] [--vocab VOCAB_TXT]
        [--seed 0] [--max-position 128] [--max-seq-length 64] [--type-vocab 2]
        [--no-normalize] [--cased] [--prefix bert.] [--ln-names weight|gamma]
"""
import argparse
import json
import math
import os
import random
import string
import struct
import sys

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = [
    "the", "a", "an", "and", "or", "of", "to", "in", "is", "it", "for", "on", "with", "this", "that",
    "hello", "world", "good", "day", "new", "time", "today", "love", "people", "think", "know",
    "model", "text", "tweet", "embed", "token", "vector", "search", "un", "re", "over",
    "##s", "##ing", "##ed", "##er", "##ly", "##ding", "##izer", "##able", "##tion", "##est",
]


def synthetic_vocab():
    """[PAD] [UNK] [CLS] [SEP] [MASK], printable ASCII, ## continuations, a few words."""
    vocab = list(SPECIALS)
    vocab += [chr(c) for c in range(33, 127)]
    vocab += ["##" + c for c in string.ascii_lowercase + string.digits]
    vocab += WORDS
    seen, out = set(), []
    for tok in vocab:
        if tok not in seen:
            seen.add(tok)
            out.append(tok)
    return out


def f32_round(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def encode(values, dtype):
    """Little-endian bytes of float32-rounded values in dtype (ties-to-even rounding)."""
    if dtype == "F32":
        return struct.pack("<%df" % len(values), *values)
    if dtype == "F16":
        # values are already float32, so this is a single rounding float32 -> binary16
        return struct.pack("<%de" % len(values), *values)
    if dtype == "BF16":
        bits = struct.unpack("<%dI" % len(values), struct.pack("<%df" % len(values), *values))
        out = [((b + 0x7FFF + ((b >> 16) & 1)) >> 16) & 0xFFFF for b in bits]
        return struct.pack("<%dH" % len(out), *out)
    raise ValueError(dtype)


def tensor_plan(a, vocab_size):
    """(name, shape, kind) for every tensor, in generation order."""
    H, I, P, T = a.hidden, a.intermediate, a.max_position, a.type_vocab
    g, b = ("gamma", "beta") if a.ln_names == "gamma" else ("weight", "bias")
    plan = [
        ("embeddings.word_embeddings.weight", [vocab_size, H], "emb"),
        ("embeddings.position_embeddings.weight", [P, H], "emb"),
        ("embeddings.token_type_embeddings.weight", [T, H], "emb"),
        ("embeddings.LayerNorm." + g, [H], "ln_gamma"),
        ("embeddings.LayerNorm." + b, [H], "ln_beta"),
    ]
    for l in range(a.layers):
        p = "encoder.layer.%d." % l
        for m in ("query", "key", "value"):
            plan += [(p + "attention.self.%s.weight" % m, [H, H], "linear"),
                     (p + "attention.self.%s.bias" % m, [H], "bias")]
        plan += [
            (p + "attention.output.dense.weight", [H, H], "linear"),
            (p + "attention.output.dense.bias", [H], "bias"),
            (p + "attention.output.LayerNorm." + g, [H], "ln_gamma"),
            (p + "attention.output.LayerNorm." + b, [H], "ln_beta"),
            (p + "intermediate.dense.weight", [I, H], "linear"),
            (p + "intermediate.dense.bias", [I], "bias"),
            (p + "output.dense.weight", [H, I], "linear"),
            (p + "output.dense.bias", [H], "bias"),
            (p + "output.LayerNorm." + g, [H], "ln_gamma"),
            (p + "output.LayerNorm." + b, [H], "ln_beta"),
        ]
    # Real checkpoints carry these too; loaders must ignore them.
    plan += [("pooler.dense.weight", [H, H], "linear"), ("pooler.dense.bias", [H], "bias")]
    return plan


def draw(rng, shape, kind):
    n = 1
    for d in shape:
        n *= d
    if kind == "linear":  # fan-in scaling keeps activations O(1) through the layers
        s = 1.0 / math.sqrt(shape[1])
        vals = [rng.gauss(0.0, s) for _ in range(n)]
    elif kind == "emb":
        vals = [rng.gauss(0.0, 0.5) for _ in range(n)]
    elif kind == "ln_gamma":
        vals = [1.0 + rng.gauss(0.0, 0.1) for _ in range(n)]
    else:  # bias, ln_beta
        vals = [rng.gauss(0.0, 0.1) for _ in range(n)]
    return [f32_round(v) for v in vals]


def write_safetensors(path, tensors, metadata):
    """tensors: list of (name, dtype, shape, bytes); written sorted by name like the reference writer."""
    header = {"__metadata__": metadata}
    offset = 0
    blobs = []
    for name, dtype, shape, blob in sorted(tensors, key=lambda t: t[0]):
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * (-len(hjson) % 8)  # the reference writer pads the header to 8 bytes
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for blob in blobs:
            f.write(blob)


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="output folder (created)")
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=2, help="head size = hidden / heads")
    ap.add_argument("--intermediate", type=int, default=64)
    ap.add_argument("--dtype", choices=["F32", "F16", "BF16"], default="F32")
    ap.add_argument("--pooling", choices=["mean", "cls"], default="mean")
    ap.add_argument("--vocab", help="copy this vocab.txt (e.g. the real model's) instead of a synthetic one")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-position", type=int, default=128, help="max_position_embeddings")
    ap.add_argument("--max-seq-length", type=int, default=64, help="sentence_bert_config max_seq_length")
    ap.add_argument("--type-vocab", type=int, default=2, help="type_vocab_size")
    ap.add_argument("--no-normalize", action="store_true", help="leave out the Normalize module")
    ap.add_argument("--cased", action="store_true", help="do_lower_case false")
    ap.add_argument("--prefix", default="", help='tensor name prefix, e.g. "bert." as in BertForMaskedLM files')
    ap.add_argument("--ln-names", choices=["weight", "gamma"], default="weight",
                    help="LayerNorm parameter names: weight/bias, or the old gamma/beta")
    a = ap.parse_args()

    if a.hidden <= 0 or a.heads <= 0 or a.hidden % a.heads:
        sys.exit("make-tiny-model: --hidden must be a positive multiple of --heads")
    if a.max_seq_length > a.max_position:
        sys.exit("make-tiny-model: --max-seq-length must not exceed --max-position")

    if a.vocab:
        with open(a.vocab, encoding="utf-8") as f:
            vocab_text = f.read()
        vocab_size = vocab_text.count("\n") + (0 if vocab_text.endswith("\n") or not vocab_text else 1)
    else:
        toks = synthetic_vocab()
        vocab_text = "\n".join(toks) + "\n"
        vocab_size = len(toks)

    os.makedirs(os.path.join(a.out, "1_Pooling"), exist_ok=True)
    rng = random.Random(a.seed)
    tensors = []
    for name, shape, kind in tensor_plan(a, vocab_size):
        vals = draw(rng, shape, kind)
        tensors.append((a.prefix + name, a.dtype, shape, encode(vals, a.dtype)))
    pos_ids = struct.pack("<%dq" % a.max_position, *range(a.max_position))
    tensors.append((a.prefix + "embeddings.position_ids", "I64", [1, a.max_position], pos_ids))
    write_safetensors(os.path.join(a.out, "model.safetensors"), tensors, {"format": "pt"})

    torch_dtype = {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[a.dtype]
    write_json(os.path.join(a.out, "config.json"), {
        "architectures": ["BertModel"],
        "attention_probs_dropout_prob": 0.1,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": a.hidden,
        "initializer_range": 0.02,
        "intermediate_size": a.intermediate,
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": a.max_position,
        "model_type": "bert",
        "num_attention_heads": a.heads,
        "num_hidden_layers": a.layers,
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "torch_dtype": torch_dtype,
        "type_vocab_size": a.type_vocab,
        "vocab_size": vocab_size,
    })
    with open(os.path.join(a.out, "vocab.txt"), "w", encoding="utf-8", newline="") as f:
        f.write(vocab_text)
    write_json(os.path.join(a.out, "tokenizer_config.json"), {
        "do_lower_case": not a.cased,
        "unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
        "mask_token": "[MASK]", "tokenize_chinese_chars": True, "strip_accents": None,
        "tokenizer_class": "BertTokenizer", "model_max_length": a.max_position,
    })
    write_json(os.path.join(a.out, "special_tokens_map.json"), {
        "unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
        "mask_token": "[MASK]",
    })
    write_json(os.path.join(a.out, "sentence_bert_config.json"),
               {"max_seq_length": a.max_seq_length, "do_lower_case": False})
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]
    if not a.no_normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
    write_json(os.path.join(a.out, "modules.json"), modules)
    write_json(os.path.join(a.out, "1_Pooling", "config.json"), {
        "word_embedding_dimension": a.hidden,
        "pooling_mode_cls_token": a.pooling == "cls",
        "pooling_mode_mean_tokens": a.pooling == "mean",
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
    })


if __name__ == "__main__":
    main()
