#!/usr/bin/env python3
"""make-reference.py - regenerates every committed fixture under tests/fixtures/.

The fixtures are what Hugging Face's own tools (sentence-transformers, tokenizers)
say for the real all-MiniLM-L6-v2 model; the C tests hold embedpipe against them.

Run it with the reference virtual environment:
    /root/.cache/embedpipe/ref-venv/bin/python scripts/make-reference.py \
        [--model models/all-MiniLM-L6-v2] [--data ../shared/data] [--out tests/fixtures]
Such an environment is made with
    python3 -m venv VENV && VENV/bin/pip install sentence-transformers zstandard numpy
(sentence-transformers brings torch, transformers and tokenizers). No network is
needed at run time: HF_HUB_OFFLINE=1 is set below and the model is read from --model.

Everything written is a deterministic function of the model folder, the shared data
and the library versions recorded in reference-meta.json (the vectors are computed
on one CPU thread so that reruns on one machine are bit-identical).

Fixture formats (all text is UTF-8; ".zst" = one zstd frame, level 19):

  tokens-tweeteval.ndjson.zst
      Every 5th line (line numbers 1, 6, 11, ...) of every tweeteval/*.txt file,
      files in sorted order, one JSON object per line:
        {"file": "tweeteval/<name>.txt", "line": N, "xxh3": "<16 hex>", "ids": [...]}
      line is 1-based; a line is the bytes between two '\\n' (a '\\r' would stay);
      xxh3 = XXH3_64bits of those bytes (seed 0), printed as 16 lowercase hex digits.
      ids = model.tokenizer(texts, truncation=True, max_length=model.max_seq_length)
      (so at most 256 ids: [CLS] + 254 pieces + [SEP]). No tweet text is stored.

  tokens-edge.ndjson
      Hand-written edge cases (below, in EDGE_CASES), one JSON object per line:
        {"name": ..., "text": ..., "hex": "<UTF-8 or raw bytes in hex>",
         "ids": [...], "truncated": bool, "words": [...]}
      hex is authoritative (it carries NUL and invalid UTF-8, which JSON text cannot);
      text is hex decoded with errors='replace' (what the tokenizer was given).
      truncated = the untruncated encoding had more than 256 ids.
      words = what WordPiece is given: the text split at the special tokens
      ([CLS] [SEP] [MASK] [UNK] [PAD], matched before normalising, kept as words),
      each other part normalised and pre-tokenised by the backend tokenizer.

  codepoints.bin.zst
      How HF's normaliser + pre-tokeniser treat every Unicode scalar value c, observed
      on the three-character text "a" c "b" (letters around c show splitting).
      Little-endian binary:
        header: char magic[8] = "EPCODEPT"; u32 version = 1; u32 n_runs;
                u32 left = 'a'; u32 right = 'b'
        n_runs runs, in code point order, covering 0..0x10FFFF except the
        surrogates D800..DFFF:  u32 first; u32 count; u8 class; u8 payload_len;
                                payload_len bytes of UTF-8 payload
      class: 0 KEEP        words ["a" c "b"]
             1 REMOVE      words ["ab"]
             2 SPACE       words ["a", "b"]
             3 ISOLATE     words ["a", c, "b"]
             4 MAP         words ["a" payload "b"]       (count 1)
             5 ISOLATE_MAP words ["a", payload, "b"]     (count 1)
             6 OTHER       payload = all the words joined by ' ' (count 1)

  vectors-tweeteval.rows.ndjson.zst + vectors-tweeteval.f32.npy.zst
      Lines 28, 78, 128, ... (every 50th from 28) of every tweeteval/*.txt file,
      sorted files; disjoint from the tokens fixture (28 mod 5 = 3). Rows:
        {"file": "tweeteval/<name>.txt", "line": N, "xxh3": "<16 hex>", "n_tokens": T}
      n_tokens = the number of ids (with [CLS] and [SEP], truncated at 256).
      npy: float32 array (N, 384), row i = model.encode(texts, batch_size=64,
      normalize_embeddings=True, convert_to_numpy=True)[i] on CPU, saved by numpy.save.

  reference-meta.json
      versions (python, torch, transformers, tokenizers, sentence-transformers, numpy,
      zstandard), the model's safetensors SHA-256, selection rules, and each fixture's
      SHA-256.

Options: --skip-vectors keeps the committed embedding fixture (the slow part).
Extra mode:
  --unicode-tables PATH  compares HF's per-code-point behaviour with libutf8proc's
      Unicode tables and writes the C header of exceptions (tokenizer/hf_unicode_tables.h)
      that make embedpipe's tokenizer match HF exactly; see that header.
"""
import argparse
import ctypes
import ctypes.util
import glob
import hashlib
import io
import json
import os
import platform
import re
import struct
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

MAX_LEN = 256
TOKENS_EVERY, TOKENS_FIRST = 5, 1
VECTORS_EVERY, VECTORS_FIRST = 50, 28


# ---------------------------------------------------------------------------
# hand-written edge cases: (name, bytes or str)

def _edge_cases():
    E = []

    def add(name, text):
        E.append((name, text))

    add("empty", "")
    add("space", " ")
    add("whitespace_only", " \t\n\r  \u00a0\u3000 ")
    add("ascii_sentence", "Hello, World! This is a TEST of the tokenizer.")
    add("mixed_case", "iPhone McDonald's eBay YouTube NASA's LoL")
    add("all_ascii_punct", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
    add("ascii_punct_glued", "a!b\"c#d$e%f&g'h(i)j*k+l,m-n.o/p:q;r<s=t>u?v@w[x\\y]z^a_b`c{d|e}f~g")
    add("ellipsis_dashes", "wait... what?! -- yes \u2014 no \u2013 maybe\u2026")
    add("numbers", "3.14159 1,000,000 -42 +7 1e10 0x1F 2nd 10% 24/7 \u00bd \u00b2 \u00b3 \u2460 \u216b \u0663\u0664")
    add("currency", "$100 \u20ac50 \u00a320 \u00a5300 \u20b9 \u20bf 5\u00a2")
    add("url", "check https://t.co/AbC123xYz?ref=tw&x=1#frag and http://example.com/a_b-c.html")
    add("mentions_hashtags", "@user @User_Name99 #HashTag #100DaysOfCode #\u65e5\u672c @user: RT @user")
    add("html_entities", "Tom &amp; Jerry &lt;3 &gt;&gt; &quot;hi&quot; &#39; &nbsp;")
    add("accents_precomposed", "caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u00c5ngstr\u00f6m \u00dcBER se\u00f1or")
    add("accents_combining", "cafe\u0301 nai\u0308ve A\u030angstro\u0308m n\u0303 e\u0301\u0301\u0301")
    add("combining_alone", "\u0301 \u0308x x\u0308 \u0345")
    add("combining_reorder_kept", "a\U0001D16D\U0001D165b a\U0001D165\U0001D16Db")
    add("combining_reorder_blocked", "a\U0001D16D\u0301\U0001D165b a\U0001D16D\u0F7F\U0001D165b a\U0001D16D\u200d\U0001D165b")
    add("combining_reorder_mixed", "x\U0001D16E\u0316\U0001D16D\u0301\u0334y \u1d165")
    add("emoji", "I love it \U0001F602\U0001F602\U0001F602 so much \U0001F525\U0001F4AF")
    add("emoji_glued", "lol\U0001F602\U0001F602omg\u2764\ufe0f\u2764")
    add("zwj_family", "\U0001F468\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466 family")
    add("skin_tones", "\U0001F44D\U0001F3FD \U0001F44B\U0001F3FF \U0001F9D1\U0001F3FB\u200d\U0001F4BB")
    add("flags", "\U0001F1E9\U0001F1EA \U0001F1FA\U0001F1F8 \U0001F3F4\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F")
    add("keycap_variation", "1\ufe0f\u20e3 #\ufe0f\u20e3 \u263a\ufe0e \u263a\ufe0f \u8fbb\U000E0100")
    add("cjk_chinese", "\u6211\u7231\u5317\u4eac\u5929\u5b89\u95e8\u3002\u4f60\u597d\uff0c\u4e16\u754c\uff01")
    add("cjk_compat_and_ext", "\uf900\uf901\ufa6d \U00020000\U0002a6d6 \U0002b820\U0002b81d\U0002b920 \U0002f800 \u3400")
    add("japanese", "\u3053\u3093\u306b\u3061\u306f\u3001\u4e16\u754c\uff01\u30ab\u30bf\u30ab\u30ca \uff76\uff80\uff76\uff85 \u30ac\u304c\u30d1 \uff76\uff9e")
    add("korean", "\uc548\ub155\ud558\uc138\uc694 \ud55c\uad6d\uc5b4 \u1100\u1161\u11a8 \u3131\u314f")
    add("cyrillic", "\u041f\u0440\u0438\u0432\u0435\u0442, \u041c\u0418\u0420! \u0401\u0436\u0438\u043a \u0439 \u0419")
    add("greek_sigma", "\u039f\u0394\u03a5\u03a3\u03a3\u0395\u03a5\u03a3 \u1f40\u03b4\u03c5\u03c3\u03c3\u03b5\u03cd\u03c2 \u03a3\u03c3\u03c2 \u0390 \u0386\u03b8\u03ae\u03bd\u03b1")
    add("arabic", "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645\u061f \u0627\u0644\u0652\u0639\u064e\u0631\u064e\u0628\u0650\u064a\u064e\u0651\u0629 \u0661\u0662\u0663")
    add("hebrew", "\u05e9\u05c1\u05b8\u05dc\u05d5\u05b9\u05dd \u05e2\u05d5\u05dc\u05dd")
    add("thai", "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e04\u0e23\u0e31\u0e1a \u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22")
    add("devanagari", "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e \u0915\u094d\u0937")
    add("control_chars", "a\x01b\x7fc\x1bd\x08e\x1ff\x0bg\x0ch\x1ci")
    add("nul", "a\x00b \x00 c")
    add("replacement_char", "a\ufffdb \ufffd c")
    add("soft_hyphen", "co\u00adop\u00ad \u00ad")
    add("zero_width", "a\u200bb\u200cc\u200dd\ufeffe\u2060f\u180eg\u200eh\u200fi\u202aj\u202ek")
    add("unicode_spaces",
        "a\u00a0b\u2002c\u2009d\u202fe\u205ff\u3000g\u1680h\u2028i\u2029j\u0085k\u2000l\u200am")
    add("newlines_tabs", "line1\nline2\r\nline3\tcol\u2028end")
    add("word_100_chars", "x" + "a" * 99 + " end")
    add("word_101_chars", "x" + "a" * 100 + " end")
    add("word_100_after_strip", "e\u0301" * 100 + " end")
    add("word_101_after_strip", "e\u0301" * 101 + " end")
    add("word_over_after_nfd", "\uac00" * 40 + " end")
    add("word_100_multibyte", "\u00e9" * 100 + " \u00e9" + "\u00e9" * 100)
    add("long_unmatched_piece", "zzzzzzzzzzzzzzzzzzzzzzzzzzqqqqqqqqqqqxxxxxxxxxxxxx")
    add("unk_part", "abc\u2603def \u2603 \u0378 x\ue000y")
    add("far_over_256", " ".join(["word"] * 400))
    add("over_256_punct", "a." * 300)
    add("exactly_254_pieces", " ".join(["go"] * 254))
    add("exactly_255_pieces", " ".join(["go"] * 255))
    add("long_unk_words", " ".join(["\u2603\u2604"] * 300))
    add("turkish", "\u0130stanbul \u0131s\u0131k I\u011eDIR i\u0307 \u0130\u0130")
    add("german_sharp_s", "Stra\u00dfe STRASSE \u1e9e gro\u00df")
    add("ligatures", "\ufb01nance \ufb02ow \ufb00 \ufb03 \ufb06 \u0133 \u01c4 \u01c5 \u01c6 \u1e9b")
    add("fullwidth", "\uff28\uff25\uff2c\uff2c\uff2f \uff57\uff4f\uff52\uff4c\uff44 \uff11\uff12\uff13\uff01\uff1f")
    add("math_symbols", "\u2211 x\u00b2 \u2264 \u221e \u2260 \u2248 \u2200\u2203 \u222b \u00d7\u00f7 \U0001D400\U0001D401 \U0001D54F \u2102")
    add("negated_relations", "a\u2260b a\u226eb a\u226fb \u2329x\u232a")
    add("letterlike", "\u212a\u212b\u2126 \u2160\u2161 \u24b6\u24d0")
    add("quotes", "\u201csmart\u201d \u2018quotes\u2019 \u00abguillemets\u00bb \u300ccorner\u300d \u201ehigh\u201c")
    add("special_tokens", "[CLS] hello [SEP] [MASK] [UNK] [PAD] end")
    add("special_tokens_glued", "a[MASK]b[CLS][SEP]x [[CLS]] [CLS [cls] [Mask]")
    add("special_tokens_near_marks", "[MASK]\u0301x \u0301[SEP] [MA\u200bSK]")
    add("greek_question_mark", "what\u037e ano\u0387teleia \u1fef")
    add("post_unicode8_punct", "a\u2e43b c\u2e52d \U00011660 e\u061df")
    add("post_unicode8_marks", "a\u1abfb c\u08d3d e\u0898f \u0890 \u08e2 \U000110cd")
    add("category_changes", "a\u166db c\u1734d e\U000111c9f")
    add("new_decomposition", "\U00011938 \U00011935\U00011930")
    add("unicode16_case", "\u1c89 \ua7cb \ua7dc \U00010d50\U00010d65 \U00016ea0")
    add("unassigned_private", "a\u0378b \ue000 \U000F0000 \U0010FFFD z\U000E01F0")
    add("variation_selectors", "a\ufe00b\ufe0fc\U000E0100d")
    add("tag_chars", "x\U000E0041\U000E007Fy")
    add("bidi_marks", "\u202bRTL\u202c \u2066iso\u2069")
    add("halfwidth_kana_voiced", "\uff8a\uff9f\uff8a\uff9e \u30cf\u309a")
    add("hangul_jamo_compat", "\u3131\u3132 \u1100\u1100 \uffa1")
    add("mongolian", "\u182e\u1823\u1829\u182d\u1823\u182f \u180b\u180c\u180d")
    add("ethiopic_armenian_georgian", "\u1230\u120b\u121d \u0540\u0561\u0575 \u10e5\u10d0\u10e0\u10d7\u10e3\u10da\u10d8 \u1c90\u1cbf")
    add("cherokee_case", "\u13a0\u13a1 \uab70\uab71")
    add("deseret", "\U00010400\U00010428")
    add("repeated_letters", "soooooooo gooooood!!!!!!! hahahahahahahahahaha")
    add("hashtag_camel", "#ThrowbackThursday #MAGA2020 #BlackLivesMatter")
    add("tweet_like", "RT @user: OMG \U0001F631\U0001F631 can't believe this!!! https://t.co/xyz #wow &amp; more\u2026")
    add("digits_mixed", "abc123def 123abc 1st 2nd 3rd 4th COVID-19 B2B")
    add("apostrophes", "don't won\u2019t it's l'homme rock'n'roll")
    add("hyphens_underscores", "well-known state_of_the_art e-mail x--y __init__")
    add("only_punct", "?!?!?!...")
    add("only_emoji", "\U0001F600")
    add("only_removed", "\x00\x01\u200b\ufeff\u00ad")
    add("leading_trailing_ws", "   padded text   ")
    add("braille_box", "\u2800\u2801 \u2500\u2502 \u25a0")
    add("ipa", "\u0283\u026a\u014b \u0250\u0254\u0259")
    add("vietnamese", "Ti\u1ebfng Vi\u1ec7t c\u00f3 d\u1ea5u")
    add("polish_czech", "Za\u017c\u00f3\u0142\u0107 g\u0119\u015bl\u0105 ja\u017a\u0144 \u0158\u00ed\u0161e")
    add("nordic", "\u00f8\u00d8 \u00e6\u00c6 \u00fe\u00de \u00f0\u00d0")
    add("invalid_utf8_ff", b"a\xffb c")
    add("invalid_utf8_overlong", b"a\xc0\xafb \xe0\x80\xaf")
    add("invalid_utf8_surrogate", b"a\xed\xa0\x80b")
    add("invalid_utf8_too_big", b"a\xf4\x90\x80\x80b \xf8\x88\x80\x80\x80")
    add("invalid_utf8_truncated", b"caf\xc3 x\xe2\x82a y\xf0\x9f\x98")
    add("invalid_utf8_lone_continuation", b"a\x80\x80b \xbf")
    add("invalid_utf8_at_end", b"end\xe2")
    return E


# ---------------------------------------------------------------------------
# helpers

def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def xxh3_hex(data):
    # XXH3_64bits with seed 0, the same as <xxhash.h>'s XXH3_64bits(). Prefer the
    # xxhash package; fall back to libxxhash through ctypes (installed for the C build).
    try:
        import xxhash
        return "%016x" % xxhash.xxh3_64_intdigest(data)
    except ImportError:
        pass
    lib = _libxxhash()
    return "%016x" % lib.XXH3_64bits(data, len(data))


_XXH = None


def _libxxhash():
    global _XXH
    if _XXH is None:
        name = ctypes.util.find_library("xxhash") or "libxxhash.so.0"
        _XXH = ctypes.CDLL(name)
        _XXH.XXH3_64bits.restype = ctypes.c_uint64
        _XXH.XXH3_64bits.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
    return _XXH


def zstd_bytes(data):
    import zstandard
    # One frame, content size recorded, no threads: identical bytes on every rerun.
    return zstandard.ZstdCompressor(level=19, write_content_size=True, threads=0).compress(data)


def write_file(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    print("wrote %s (%d bytes)" % (path, len(data)), file=sys.stderr)


def read_lines(path):
    data = open(path, "rb").read()
    lines = data.split(b"\n")
    if data.endswith(b"\n"):
        lines.pop()
    return lines


def select_lines(data_dir, every, first):
    """[(relative file, 1-based line, bytes)] for lines first, first+every, ... of each file."""
    files = sorted(glob.glob(os.path.join(data_dir, "tweeteval", "*.txt")))
    if not files:
        sys.exit("no tweeteval/*.txt under %s (is --data right?)" % data_dir)
    out = []
    for path in files:
        rel = "tweeteval/" + os.path.basename(path)
        lines = read_lines(path)
        for n in range(first, len(lines) + 1, every):
            out.append((rel, n, lines[n - 1]))
    return out


def ndjson(objs):
    return "".join(json.dumps(o, ensure_ascii=True, separators=(", ", ": ")) + "\n" for o in objs).encode("ascii")


# ---------------------------------------------------------------------------
# per-code-point behaviour of HF's normaliser + pre-tokeniser

KEEP, REMOVE, SPACE, ISOLATE, MAP, ISOLATE_MAP, OTHER = range(7)


def hf_words_fn(backend):
    norm, pre = backend.normalizer, backend.pre_tokenizer

    def words(text):
        return [w for w, _ in pre.pre_tokenize_str(norm.normalize_str(text))]
    return words


def classify_codepoints(backend):
    """[(cp, class, payload str)] for every scalar value."""
    words = hf_words_fn(backend)
    out = []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        w = words("a" + c + "b")
        if w == ["a" + c + "b"]:
            out.append((cp, KEEP, ""))
        elif w == ["ab"]:
            out.append((cp, REMOVE, ""))
        elif w == ["a", "b"]:
            out.append((cp, SPACE, ""))
        elif w == ["a", c, "b"]:
            out.append((cp, ISOLATE, ""))
        elif len(w) == 1 and w[0].startswith("a") and w[0].endswith("b") and len(w[0]) > 2:
            out.append((cp, MAP, w[0][1:-1]))
        elif len(w) == 3 and w[0] == "a" and w[2] == "b":
            out.append((cp, ISOLATE_MAP, w[1]))
        else:
            out.append((cp, OTHER, " ".join(w)))
    return out


def codepoints_table(classes):
    runs = []
    for cp, cls, payload in classes:
        if (runs and not payload and runs[-1][2] == cls and not runs[-1][3]
                and runs[-1][0] + runs[-1][1] == cp):
            runs[-1][1] += 1
        else:
            runs.append([cp, 1, cls, payload])
    buf = io.BytesIO()
    buf.write(b"EPCODEPT")
    buf.write(struct.pack("<IIII", 1, len(runs), ord("a"), ord("b")))
    for first, count, cls, payload in runs:
        p = payload.encode("utf-8")
        if len(p) > 255:
            sys.exit("code point %04X: payload too long" % first)
        buf.write(struct.pack("<IIBB", first, count, cls, len(p)))
        buf.write(p)
    return buf.getvalue(), len(runs)


# ---------------------------------------------------------------------------
# --unicode-tables: where HF's Unicode data differs from libutf8proc's

_UTF8PROC_CATS = "Cn Lu Ll Lt Lm Lo Mn Mc Me Nd Nl No Pc Pd Ps Pe Pi Pf Po Sm Sc Sk So Zs Zl Zp Cc Cf Cs Co".split()
_ASCII_PUNCT = set(b"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_CJK = [(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F), (0x2B740, 0x2B81F),
        (0x2B920, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)]


class _Utf8proc:
    class Prop(ctypes.Structure):
        _fields_ = [("category", ctypes.c_int16), ("combining_class", ctypes.c_int16)]

    def __init__(self):
        lib = ctypes.CDLL(ctypes.util.find_library("utf8proc") or "libutf8proc.so.2")
        lib.utf8proc_category.restype = ctypes.c_int
        lib.utf8proc_tolower.restype = ctypes.c_int32
        lib.utf8proc_unicode_version.restype = ctypes.c_char_p
        lib.utf8proc_get_property.restype = ctypes.POINTER(self.Prop)
        self.lib = lib
        self.version = lib.utf8proc_unicode_version().decode()
        self._buf = (ctypes.c_int32 * 16)()

    def cat(self, cp):
        return _UTF8PROC_CATS[self.lib.utf8proc_category(cp)]

    def ccc(self, cp):
        return self.lib.utf8proc_get_property(cp).contents.combining_class

    def lower(self, cp):
        return self.lib.utf8proc_tolower(cp)

    def nfd(self, cp):
        last = ctypes.c_int(0)
        n = self.lib.utf8proc_decompose_char(cp, self._buf, 16, 1 << 4, ctypes.byref(last))  # UTF8PROC_DECOMPOSE
        return [self._buf[i] for i in range(n)]

    def nfkd(self, cp):
        last = ctypes.c_int(0)
        buf = (ctypes.c_int32 * 32)()
        n = self.lib.utf8proc_decompose_char(cp, buf, 32, (1 << 4) | (1 << 2), ctypes.byref(last))  # + COMPAT
        return [buf[i] for i in range(n)]


def _emulate(u, cp, over):
    """Words of "a" cp "b" by the rules tokenizer/normalize.c implements, given overrides."""
    def cat(c):
        return over["cat"].get(c, u.cat(c))

    def lower(c):
        if c in over["lower"]:
            return [over["lower"][c]]
        return [0x69, 0x307] if c == 0x130 else [u.lower(c)]

    def nfd(c):
        return [c] if c in over["nodecomp"] else u.nfd(c)

    out = []
    for c in (0x61, cp, 0x62):
        if c == 0 or c == 0xFFFD or (cat(c) in ("Cc", "Cf", "Co", "Cs") and c not in (9, 10, 13)):
            continue
        if cat(c) in ("Zs", "Zl", "Zp") or 9 <= c <= 13 or c == 0x85:
            out.append(0x20)
        elif any(lo <= c <= hi for lo, hi in _CJK):
            out += [0x20, c, 0x20]
        else:
            out.append(c)
    chars = []
    for c in out:
        for d in nfd(c):
            if cat(d) != "Mn":
                chars += lower(d)
    words, cur = [], []
    for c in chars:
        if c == 0x20 or c in _ASCII_PUNCT or cat(c).startswith("P"):
            if cur:
                words.append(cur)
            cur = []
            if c != 0x20:
                words.append([c])
        else:
            cur.append(c)
    if cur:
        words.append(cur)
    return ["".join(map(chr, w)) for w in words]


def _ranges(cps):
    out = []
    for cp in sorted(cps):
        if out and out[-1][1] + 1 == cp:
            out[-1][1] = cp
        else:
            out.append([cp, cp])
    return out


def unicode_tables(backend, path):
    from tokenizers import normalizers
    u = _Utf8proc()
    words = hf_words_fn(backend)
    over = {"cat": {}, "lower": {}, "nodecomp": set()}
    hf = {}
    for cp in range(0x110000):
        if not 0xD800 <= cp <= 0xDFFF:
            hf[cp] = words("a" + chr(cp) + "b")
    # Derive the overrides from each disagreeing code point: what HF did tells which of
    # its tables (categories, decomposition, lowercase) is older or newer than utf8proc's.
    for cp, want in hf.items():
        got = _emulate(u, cp, over)
        if got == want:
            continue
        ucat = u.cat(cp)
        if want == ["a" + chr(cp) + "b"]:
            if u.nfd(cp) != [cp] and ucat not in ("Mn",) and not ucat.startswith("P"):
                over["nodecomp"].add(cp)       # decomposition newer than HF's
            else:
                over["cat"][cp] = "Cn"         # assigned after HF's category tables
        elif want == ["ab"]:
            over["cat"][cp] = "Mn" if ucat.startswith("M") else "Cf"
        elif want == ["a", chr(cp), "b"]:
            over["cat"][cp] = "Po"
        elif len(want) == 1 and len(want[0]) == 3:
            over["lower"][cp] = ord(want[0][1])  # case pair newer than utf8proc's
        got = _emulate(u, cp, over)
        if got != want:
            sys.exit("U+%04X: cannot explain HF's %r (rules give %r)" % (cp, want, got))
    # Canonical combining classes: HF's NFD table is older; a mark it does not know is a
    # starter (class 0) there. Probe: a mark of class 1 after cp, or of class 240 before it,
    # is moved across cp only when HF gives cp a class.
    nfd = normalizers.NFD()
    ccc_zero = []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        k = u.ccc(cp)
        if not k or cp in (0x334, 0x345) or nfd.normalize_str(chr(cp)) != chr(cp):
            continue
        moved1 = nfd.normalize_str("a" + chr(cp) + "\u0334") == "a\u0334" + chr(cp)
        moved2 = nfd.normalize_str("a\u0345" + chr(cp)) == "a" + chr(cp) + "\u0345"
        if (moved1, moved2) == (k > 1, k < 240):
            continue
        if moved1 or moved2:
            sys.exit("U+%04X: HF's combining class differs from utf8proc's %d" % (cp, k))
        ccc_zero.append(cp)

    chain = _chain_tables(u, over)

    cat_groups = {}
    for cp, c in over["cat"].items():
        cat_groups.setdefault(c, []).append(cp)
    lines = []
    lines.append("/* hf_unicode_tables.h - GENERATED by scripts/make-reference.py --unicode-tables; do not edit.")
    lines.append(" *")
    lines.append(" * Where Hugging Face tokenizers %s disagrees with libutf8proc's Unicode %s tables," % (
        _versions()["tokenizers"], u.version))
    lines.append(" * found by comparing every code point. HF's BertNormalizer/BertPreTokenizer use the")
    lines.append(" * unicode_categories crate (Unicode 8.0 categories: control, Mn, punctuation), the")
    lines.append(" * unicode-normalization-alignments crate (Unicode 9.0 NFD and combining classes) and")
    lines.append(" * Rust's std (newer Unicode: whitespace, lowercase). tests/tokenizer/test_tokenizer_codepoints")
    lines.append(" * re-checks every code point, so a new utf8proc that moves these shows up there. */")
    lines.append("#ifndef EP_HF_UNICODE_TABLES_H")
    lines.append("#define EP_HF_UNICODE_TABLES_H")
    lines.append("")
    lines.append("/* Categories HF sees (UTF8PROC_CATEGORY_*), for code points where utf8proc says")
    lines.append(" * otherwise; only categories that matter (control, Mn, punctuation) are listed. */")
    lines.append("static const ep_hf_range ep_hf_category_overrides[] = {")
    rows = []
    for c in sorted(cat_groups):
        for lo, hi in _ranges(cat_groups[c]):
            rows.append((lo, hi, c))
    rows.sort()
    for lo, hi, c in rows:
        lines.append("    {0x%05X, 0x%05X, UTF8PROC_CATEGORY_%s}," % (lo, hi, c.upper()))
    lines.append("};")
    lines.append("")
    lines.append("/* Marks utf8proc gives a combining class but HF's NFD treats as starters (class 0). */")
    lines.append("static const ep_hf_range ep_hf_ccc_zero[] = {")
    for lo, hi in _ranges(ccc_zero):
        lines.append("    {0x%05X, 0x%05X, 0}," % (lo, hi))
    lines.append("};")
    lines.append("")
    lines.append("/* Code points utf8proc decomposes but HF's NFD leaves alone. */")
    lines.append("static const ep_hf_range ep_hf_no_decomposition[] = {")
    for lo, hi in _ranges(over["nodecomp"]):
        lines.append("    {0x%05X, 0x%05X, 0}," % (lo, hi))
    if not over["nodecomp"]:
        lines.append("    {0x110000, 0x110000, 0}, /* none */")
    lines.append("};")
    lines.append("")
    lines.append("/* Lowercase mappings Rust has and utf8proc lacks: lo..hi map to cp + delta. */")
    lines.append("static const ep_hf_range ep_hf_lower_overrides[] = {")
    lrows = []
    for cp in sorted(over["lower"]):
        d = over["lower"][cp] - cp
        if lrows and lrows[-1][1] + 1 == cp and lrows[-1][2] == d:
            lrows[-1][1] = cp
        else:
            lrows.append([cp, cp, d])
    for lo, hi, d in lrows:
        lines.append("    {0x%05X, 0x%05X, %d}," % (lo, hi, d))
    if not lrows:
        lines.append("    {0x110000, 0x110000, 0}, /* none */")
    lines.append("};")
    lines.append("")
    lines += _chain_table_lines(chain)
    lines.append("#endif /* EP_HF_UNICODE_TABLES_H */")
    write_file(path, ("\n".join(lines) + "\n").encode())


# The tokenizer.json chain's parts look at Unicode through other crates than BertNormalizer:
# NFKD / NFKC (unicode-normalization-alignments, Unicode 9.0), StripAccents' is_combining_mark
# (the same crate), and \w of the Whitespace pre-tokenizer and of single_word added tokens
# (the regex crate). tokenizer/hf_unicode.c emulates them from utf8proc; these are its exceptions.
_OTHER_ALPHABETIC_SYMBOLS = [(0x24B6, 0x24E9), (0x1F130, 0x1F149), (0x1F150, 0x1F169), (0x1F170, 0x1F189)]


def _word_rule(u, cp):
    """tokenizer/hf_unicode.c ep_hf_is_word_char, without exceptions."""
    if cp < 128:
        return chr(cp).isalnum() or cp == 0x5F
    cat = u.cat(cp)
    return (cat[0] in "LM" or cat in ("Nd", "Nl", "Pc") or cp in (0x200C, 0x200D)
            or any(lo <= cp <= hi for lo, hi in _OTHER_ALPHABETIC_SYMBOLS))


def _chain_tables(u, over):
    from tokenizers import normalizers, pre_tokenizers
    nfkd, strip_accents, ws = normalizers.NFKD(), normalizers.StripAccents(), pre_tokenizers.Whitespace()
    no_compat, marks, words = [], {}, {}
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        mine = [cp] if cp in over["nodecomp"] else u.nfkd(cp)
        hf = [ord(x) for x in nfkd.normalize_str(c)]
        if mine != hf:
            if hf != [cp]:
                sys.exit("U+%04X: HF's NFKD %r is neither utf8proc's %r nor nothing" % (cp, hf, mine))
            no_compat.append(cp)
        hf_mark = strip_accents.normalize_str(c) == ""
        if hf_mark != u.cat(cp).startswith("M"):
            marks[cp] = int(hf_mark)
        w = [x for x, _ in ws.pre_tokenize_str("a" + c + "b")]
        if w not in (["a" + c + "b"], ["a", c, "b"], ["a", "b"]):
            sys.exit("U+%04X: Whitespace gives %r" % (cp, w))
        if (w == ["a" + c + "b"]) != _word_rule(u, cp):
            words[cp] = int(w == ["a" + c + "b"])
    return {"no_compat": no_compat, "marks": marks, "words": words}


def _value_ranges(d):
    rows = []
    for cp in sorted(d):
        if rows and rows[-1][1] + 1 == cp and rows[-1][2] == d[cp]:
            rows[-1][1] = cp
        else:
            rows.append([cp, cp, d[cp]])
    return rows


def _chain_table_lines(t):
    lines = ["/* The tokenizer.json chain (normalizers.c, pretokenizers.c, added_tokens.c). */", "",
             "/* Code points utf8proc gives a compatibility decomposition that HF's NFKD / NFKC lack. */",
             "static const ep_hf_range ep_hf_no_compat_decomposition[] = {"]
    lines += ["    {0x%05X, 0x%05X, 0}," % (lo, hi) for lo, hi in _ranges(t["no_compat"])]
    lines += ["    {0x110000, 0x110000, 0}, /* none */"] if not t["no_compat"] else []
    lines += ["};", "", "/* Where StripAccents' is_combining_mark (1: a mark) disagrees with utf8proc's M* categories. */",
              "static const ep_hf_range ep_hf_mark_overrides[] = {"]
    lines += ["    {0x%05X, 0x%05X, %d}," % (lo, hi, v) for lo, hi, v in _value_ranges(t["marks"])]
    lines += ["    {0x110000, 0x110000, 0}, /* none */"] if not t["marks"] else []
    lines += ["};", "", "/* Where the regex crate's \\w (1: a word character) disagrees with ep_hf_is_word_char's rule. */",
              "static const ep_hf_range ep_hf_word_overrides[] = {"]
    lines += ["    {0x%05X, 0x%05X, %d}," % (lo, hi, v) for lo, hi, v in _value_ranges(t["words"])]
    lines += ["    {0x110000, 0x110000, 0}, /* none */"] if not t["words"] else []
    lines += ["};", ""]
    return lines


# ---------------------------------------------------------------------------

def _versions():
    import importlib.metadata as md
    v = {"python": platform.python_version()}
    for pkg in ("torch", "transformers", "tokenizers", "sentence-transformers", "numpy", "zstandard"):
        try:
            v[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            v[pkg] = None
    return v


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=os.path.join(root, "models", "all-MiniLM-L6-v2"))
    ap.add_argument("--data", default=os.path.join(root, "..", "shared", "data"))
    ap.add_argument("--out", default=os.path.join(root, "tests", "fixtures"))
    ap.add_argument("--unicode-tables", metavar="PATH",
                    help="write the C header of HF/utf8proc Unicode differences and exit")
    ap.add_argument("--skip-vectors", action="store_true", help="do not recompute the embedding fixture")
    args = ap.parse_args()

    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    if not os.path.exists(os.path.join(args.model, "model.safetensors")):
        sys.exit("no model at %s: run scripts/fetch-model.sh first" % args.model)
    torch.set_num_threads(1)
    model = SentenceTransformer(args.model, device="cpu")
    tok = model.tokenizer
    backend = tok.backend_tokenizer
    max_len = model.max_seq_length
    if max_len != MAX_LEN:
        sys.exit("model max_seq_length is %d, the fixtures assume %d" % (max_len, MAX_LEN))

    if args.unicode_tables:
        unicode_tables(backend, args.unicode_tables)
        return

    os.makedirs(args.out, exist_ok=True)
    files = {}

    def encode(texts):
        return tok(texts, truncation=True, max_length=max_len)["input_ids"]

    # a. real tweets -> ids
    sel = select_lines(args.data, TOKENS_EVERY, TOKENS_FIRST)
    texts = [b.decode("utf-8", errors="replace") for _, _, b in sel]
    ids = encode(texts)
    rows = [{"file": f, "line": n, "xxh3": xxh3_hex(b), "ids": i} for (f, n, b), i in zip(sel, ids)]
    files["tokens-tweeteval.ndjson.zst"] = zstd_bytes(ndjson(rows))
    n_tweets = len(rows)

    # b. edge cases
    words_of = hf_words_fn(backend)
    special = re.compile("(" + "|".join(re.escape(t) for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")) + ")")

    def split_words(text):
        out = []
        for i, part in enumerate(special.split(text)):
            out += [part] if i % 2 else words_of(part)
        return out
    rows = []
    for name, text in _edge_cases():
        raw = text if isinstance(text, bytes) else text.encode("utf-8")
        t = raw.decode("utf-8", errors="replace")
        full = tok(t, truncation=False)["input_ids"]
        words = split_words(t)
        # The words must be what HF's WordPiece really saw: rebuild the ids from them.
        rebuilt = []
        for w in words:
            sid = backend.token_to_id(w) if special.fullmatch(w) else None
            rebuilt += [sid] if sid is not None else [x.id for x in backend.model.tokenize(w)]
        if [tok.cls_token_id] + rebuilt + [tok.sep_token_id] != full:
            sys.exit("edge case %s: words %r do not rebuild HF's ids" % (name, words))
        rows.append({"name": name, "text": t, "hex": raw.hex(), "ids": encode([t])[0],
                     "truncated": len(full) > max_len, "words": words})
    files["tokens-edge.ndjson"] = ndjson(rows)
    n_edge = len(rows)

    # c. every code point
    table, n_runs = codepoints_table(classify_codepoints(backend))
    files["codepoints.bin.zst"] = zstd_bytes(table)

    # d. embeddings
    if not args.skip_vectors:
        sel = select_lines(args.data, VECTORS_EVERY, VECTORS_FIRST)
        texts = [b.decode("utf-8", errors="replace") for _, _, b in sel]
        ids = encode(texts)
        rows = [{"file": f, "line": n, "xxh3": xxh3_hex(b), "n_tokens": len(i)} for (f, n, b), i in zip(sel, ids)]
        vec = model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True,
                           show_progress_bar=False).astype(np.float32)
        buf = io.BytesIO()
        np.save(buf, vec, allow_pickle=False)
        files["vectors-tweeteval.rows.ndjson.zst"] = zstd_bytes(ndjson(rows))
        files["vectors-tweeteval.f32.npy.zst"] = zstd_bytes(buf.getvalue())
        n_vectors = len(rows)

    for name, data in files.items():
        write_file(os.path.join(args.out, name), data)

    meta_path = os.path.join(args.out, "reference-meta.json")
    meta = json.load(open(meta_path)) if os.path.exists(meta_path) else {}
    meta.update({
        "generator": "scripts/make-reference.py",
        "versions": _versions(),
        "model": {"name": os.path.basename(os.path.normpath(args.model)),
                  "safetensors_sha256": sha256_file(os.path.join(args.model, "model.safetensors")),
                  "vocab_sha256": sha256_file(os.path.join(args.model, "vocab.txt")),
                  "max_seq_length": max_len},
        "tokens_tweeteval": {"rule": "lines %d, %d+%d, ... of each sorted tweeteval/*.txt" % (
            TOKENS_FIRST, TOKENS_FIRST, TOKENS_EVERY), "rows": n_tweets},
        "tokens_edge": {"rows": n_edge},
        "codepoints": {"runs": n_runs, "context": "a<cp>b"},
    })
    if not args.skip_vectors:
        meta["vectors_tweeteval"] = {"rule": "lines %d, %d+%d, ... of each sorted tweeteval/*.txt" % (
            VECTORS_FIRST, VECTORS_FIRST, VECTORS_EVERY), "rows": n_vectors, "dim": int(vec.shape[1]),
            "encode": "batch_size=64, normalize_embeddings=True, fp32, CPU, 1 thread"}
    sums = meta.setdefault("sha256", {})
    for name in sorted(os.listdir(args.out)):
        if name != "reference-meta.json" and not name.endswith(".tmp"):
            sums[name] = sha256_file(os.path.join(args.out, name))
    write_file(meta_path, (json.dumps(meta, indent=2, sort_keys=True) + "\n").encode())


if __name__ == "__main__":
    main()
