#!/usr/bin/env python3
"""make-tiny-model.py - write a tiny BERT-family sentence-transformers model with seeded random weights.

The folder has exactly the layout of a real sentence-transformers model such as
all-MiniLM-L6-v2, so every loader, tokenizer and backend test can run without
downloading anything, and sentence-transformers itself can load it as a reference:

    config.json  model.safetensors  vocab.txt  tokenizer_config.json
    special_tokens_map.json  sentence_bert_config.json  modules.json  1_Pooling/config.json
    [N_Dense/{config.json,model.safetensors}]  [config_sentence_transformers.json]

The families embedpipe runs after MiniLM can be written too:
  - XLM-RoBERTa (--model-type xlm-roberta, or roberta): positions after the padding index
    (pad_token_id 1), one token type, LayerNorm eps 1e-5, and the vocabulary of a tokenizer.json
    (--tokenizer-json, a .zst one is decompressed) instead of vocab.txt;
  - Dense modules after pooling (--dense OUT:ACTIVATION, repeatable), as LaBSE and distiluse have;
  - every pooling mode, several concatenated (--pooling lasttoken,mean,max), and include_prompt false;
  - prompts and a default prompt (--prompt NAME=TEXT, --default-prompt NAME) and truncate_dim, in
    config_sentence_transformers.json.

Only the Python standard library is used (struct, json, random); a .zst tokenizer.json is read
with the zstd command.

Determinism: the weights depend only on --seed and the shapes, never on --dtype.
Each value is drawn as a double, rounded to float32, and for --dtype F16/BF16
that float32 is rounded (to nearest, ties to even) to the smaller type; so a
F16 or BF16 model holds exactly the rounded values of the F32 model with the
same seed and shapes. The Dense weights are drawn after the encoder's (so a model
with Dense modules has the encoder of the same model without them) and are F32, as
sentence-transformers saves them.

Usage:
    python3 scripts/make-tiny-model.py --out DIR [--hidden 32] [--layers 2] [--heads 2]
        [--intermediate 64] [--dtype F32|F16|BF16] [--pooling MODE[,MODE...]] [--legacy-pooling]
        [--no-include-prompt] [--vocab VOCAB_TXT | --tokenizer-json TOKENIZER_JSON[.zst]]
        [--model-type bert|xlm-roberta|roberta] [--seed 0] [--max-position 128]
        [--max-seq-length 64] [--type-vocab 2] [--no-normalize] [--cased] [--prefix bert.]
        [--ln-names weight|gamma] [--dense OUT:tanh|identity|relu|gelu|sigmoid|silu[:nobias] ...]
        [--prompt NAME=TEXT ...] [--default-prompt NAME] [--truncate-dim N]
"""
import argparse
import json
import math
import os
import random
import string
import struct
import subprocess
import sys

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
POOLING_MODES = ["cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken"]  # legacy flag order
LEGACY_FLAGS = {"cls": "pooling_mode_cls_token", "max": "pooling_mode_max_tokens",
                "mean": "pooling_mode_mean_tokens", "mean_sqrt_len_tokens": "pooling_mode_mean_sqrt_len_tokens",
                "weightedmean": "pooling_mode_weightedmean_tokens", "lasttoken": "pooling_mode_lasttoken"}
ACTIVATIONS = {"tanh": "torch.nn.modules.activation.Tanh", "identity": "torch.nn.modules.linear.Identity",
               "relu": "torch.nn.modules.activation.ReLU", "gelu": "torch.nn.modules.activation.GELU",
               "sigmoid": "torch.nn.modules.activation.Sigmoid", "silu": "torch.nn.modules.activation.SiLU"}
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


def read_tokenizer_json(path):
    """(text, vocab_size) of a tokenizer.json (a .zst one through the zstd command): the vocabulary
    size is one past the largest id of its model and its added tokens."""
    if path.endswith(".zst"):
        raw = subprocess.run(["zstd", "-dcq", path], check=True, stdout=subprocess.PIPE).stdout
    else:
        with open(path, "rb") as f:
            raw = f.read()
    tok = json.loads(raw.decode("utf-8"))
    vocab = tok["model"]["vocab"]
    ids = list(range(len(vocab))) if isinstance(vocab, list) else list(vocab.values())
    ids += [t["id"] for t in tok.get("added_tokens", [])]
    return raw.decode("utf-8"), max(ids) + 1


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="output folder (created)")
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=2, help="head size = hidden / heads")
    ap.add_argument("--intermediate", type=int, default=64)
    ap.add_argument("--dtype", choices=["F32", "F16", "BF16"], default="F32")
    ap.add_argument("--pooling", default="mean",
                    help="a pooling mode, or several joined by commas (concatenated in that order)")
    ap.add_argument("--legacy-pooling", action="store_true",
                    help="write several modes as the old pooling_mode_* flags (concatenated in their fixed order)")
    ap.add_argument("--no-include-prompt", action="store_true", help="include_prompt false in 1_Pooling")
    ap.add_argument("--vocab", help="copy this vocab.txt (e.g. the real model's) instead of a synthetic one")
    ap.add_argument("--tokenizer-json", help="use this tokenizer.json (.zst: decompressed) instead of vocab.txt")
    ap.add_argument("--model-type", choices=["bert", "xlm-roberta", "roberta"], default="bert")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-position", type=int, default=128, help="max_position_embeddings")
    ap.add_argument("--max-seq-length", type=int, default=64, help="sentence_bert_config max_seq_length")
    ap.add_argument("--type-vocab", type=int, help="type_vocab_size (2 for bert, 1 for the RoBERTa family)")
    ap.add_argument("--no-normalize", action="store_true", help="leave out the Normalize module")
    ap.add_argument("--cased", action="store_true", help="do_lower_case false")
    ap.add_argument("--prefix", default="", help='tensor name prefix, e.g. "bert." as in BertForMaskedLM files')
    ap.add_argument("--ln-names", choices=["weight", "gamma"], default="weight",
                    help="LayerNorm parameter names: weight/bias, or the old gamma/beta")
    ap.add_argument("--dense", action="append", default=[],
                    help="a Dense module after pooling: OUT:ACTIVATION[:nobias] (repeatable, in order)")
    ap.add_argument("--prompt", action="append", default=[], help="a prompt NAME=TEXT (repeatable)")
    ap.add_argument("--default-prompt", help="default_prompt_name")
    ap.add_argument("--truncate-dim", type=int, help="truncate_dim in config_sentence_transformers.json")
    a = ap.parse_args()
    roberta = a.model_type != "bert"
    if a.type_vocab is None:
        a.type_vocab = 1 if roberta else 2
    a.pooling = a.pooling.split(",")
    if any(m not in POOLING_MODES for m in a.pooling):
        sys.exit("make-tiny-model: --pooling modes are " + ", ".join(POOLING_MODES))
    if a.hidden <= 0 or a.heads <= 0 or a.hidden % a.heads:
        sys.exit("make-tiny-model: --hidden must be a positive multiple of --heads")
    if a.max_seq_length > a.max_position - (2 if roberta else 0):
        sys.exit("make-tiny-model: --max-seq-length must fit in --max-position (less 2 for the RoBERTa family)")
    if a.vocab and a.tokenizer_json:
        sys.exit("make-tiny-model: give --vocab or --tokenizer-json, not both")
    return a


def write_encoder(a, rng, vocab_size):
    tensors = []
    for name, shape, kind in tensor_plan(a, vocab_size):
        vals = draw(rng, shape, kind)
        tensors.append((a.prefix + name, a.dtype, shape, encode(vals, a.dtype)))
    pos_ids = struct.pack("<%dq" % a.max_position, *range(a.max_position))
    tensors.append((a.prefix + "embeddings.position_ids", "I64", [1, a.max_position], pos_ids))
    write_safetensors(os.path.join(a.out, "model.safetensors"), tensors, {"format": "pt"})


def write_config(a, vocab_size):
    roberta = a.model_type != "bert"
    torch_dtype = {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[a.dtype]
    config = {
        "architectures": ["XLMRobertaModel" if a.model_type == "xlm-roberta" else
                          "RobertaModel" if roberta else "BertModel"],
        "attention_probs_dropout_prob": 0.1,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": a.hidden,
        "initializer_range": 0.02,
        "intermediate_size": a.intermediate,
        "layer_norm_eps": 1e-05 if roberta else 1e-12,
        "max_position_embeddings": a.max_position,
        "model_type": a.model_type,
        "num_attention_heads": a.heads,
        "num_hidden_layers": a.layers,
        "pad_token_id": 1 if roberta else 0,
        "position_embedding_type": "absolute",
        "torch_dtype": torch_dtype,
        "type_vocab_size": a.type_vocab,
        "vocab_size": vocab_size,
    }
    if roberta:
        config.update({"bos_token_id": 0, "eos_token_id": 2})
    write_json(os.path.join(a.out, "config.json"), config)


def write_tokenizer_files(a, vocab_text, tokenizer_json):
    if tokenizer_json is not None:  # XLM-R's: tokenizer.json, no vocab.txt
        with open(os.path.join(a.out, "tokenizer.json"), "w", encoding="utf-8", newline="") as f:
            f.write(tokenizer_json)
        specials = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
                    "pad_token": "<pad>", "cls_token": "<s>", "mask_token": "<mask>"}
        write_json(os.path.join(a.out, "tokenizer_config.json"), dict(
            specials, tokenizer_class="XLMRobertaTokenizer", model_max_length=a.max_position - 2))
        write_json(os.path.join(a.out, "special_tokens_map.json"), specials)
        return
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


def write_pooling(a):
    pooling = {"word_embedding_dimension": a.hidden}
    if len(a.pooling) == 1 or a.legacy_pooling:
        # the four flags every sentence-transformers 2 config has (in the order it wrote them), then the later two
        for mode in ["cls", "mean", "max", "mean_sqrt_len_tokens", "weightedmean", "lasttoken"]:
            if mode in ("cls", "max", "mean", "mean_sqrt_len_tokens") or mode in a.pooling:
                pooling[LEGACY_FLAGS[mode]] = mode in a.pooling
    else:
        pooling["pooling_mode"] = a.pooling
    if a.no_include_prompt:
        pooling["include_prompt"] = False
    write_json(os.path.join(a.out, "1_Pooling", "config.json"), pooling)


def write_dense(a, rng, index, spec, in_features):
    """One Dense module (sentence-transformers' layout); @return (its folder name, out_features)."""
    parts = spec.split(":")
    if len(parts) not in (2, 3) or parts[1] not in ACTIVATIONS or parts[2:] not in ([], ["nobias"]):
        sys.exit("make-tiny-model: --dense OUT:" + "|".join(ACTIVATIONS) + "[:nobias]")
    out_features, bias = int(parts[0]), parts[2:] != ["nobias"]
    name = "%d_Dense" % index
    os.makedirs(os.path.join(a.out, name), exist_ok=True)
    tensors = [("linear.weight", "F32", [out_features, in_features],
                encode(draw(rng, [out_features, in_features], "linear"), "F32"))]
    if bias:
        tensors.append(("linear.bias", "F32", [out_features], encode(draw(rng, [out_features], "bias"), "F32")))
    write_safetensors(os.path.join(a.out, name, "model.safetensors"), tensors, {"format": "pt"})
    write_json(os.path.join(a.out, name, "config.json"), {
        "in_features": in_features, "out_features": out_features, "bias": bias,
        "activation_function": ACTIVATIONS[parts[1]]})
    return name, out_features


def write_modules(a, rng):
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]
    width = a.hidden * len(a.pooling)
    for spec in a.dense:
        name, width = write_dense(a, rng, len(modules), spec, width)
        modules.append({"idx": len(modules), "name": str(len(modules)), "path": name,
                        "type": "sentence_transformers.models.Dense"})
    if not a.no_normalize:
        modules.append({"idx": len(modules), "name": str(len(modules)), "path": "%d_Normalize" % len(modules),
                        "type": "sentence_transformers.models.Normalize"})
    write_json(os.path.join(a.out, "modules.json"), modules)


def write_st_config(a):
    """config_sentence_transformers.json, only when there are prompts or a truncate_dim to say."""
    if not (a.prompt or a.default_prompt or a.truncate_dim):
        return
    prompts = {}
    for p in a.prompt:
        name, sep, text = p.partition("=")
        if not sep:
            sys.exit("make-tiny-model: --prompt NAME=TEXT")
        prompts[name] = text
    config = {"prompts": prompts, "default_prompt_name": a.default_prompt, "similarity_fn_name": "cosine"}
    if a.truncate_dim:
        config["truncate_dim"] = a.truncate_dim
    write_json(os.path.join(a.out, "config_sentence_transformers.json"), config)


def main():
    a = parse_args()
    tokenizer_json = None
    if a.tokenizer_json:
        tokenizer_json, vocab_size = read_tokenizer_json(a.tokenizer_json)
        vocab_text = None
    elif a.vocab:
        with open(a.vocab, encoding="utf-8") as f:
            vocab_text = f.read()
        vocab_size = vocab_text.count("\n") + (0 if vocab_text.endswith("\n") or not vocab_text else 1)
    else:
        toks = synthetic_vocab()
        vocab_text = "\n".join(toks) + "\n"
        vocab_size = len(toks)

    os.makedirs(os.path.join(a.out, "1_Pooling"), exist_ok=True)
    rng = random.Random(a.seed)
    write_encoder(a, rng, vocab_size)
    write_config(a, vocab_size)
    write_tokenizer_files(a, vocab_text, tokenizer_json)
    write_json(os.path.join(a.out, "sentence_bert_config.json"),
               {"max_seq_length": a.max_seq_length, "do_lower_case": False})
    write_pooling(a)
    write_modules(a, rng)
    write_st_config(a)


if __name__ == "__main__":
    main()
