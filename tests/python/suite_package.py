"""suite_package.py - the embedpipe package as `pip install ./python` installed it (test_python_package)."""
import os
import subprocess

import numpy as np
import pytest

import embedpipe
from conftest import BASE, DATA, MODEL, cli, ids_lines, shard_bits, unzstd
from embedpipe.folder import frame_from_records, top_k


def test_library_is_the_bundled_copy():
    import embedpipe._lib as L
    assert "EMBEDPIPE_LIBRARY" not in os.environ
    assert L._BUNDLED.is_file(), "pip install ./python did not bundle libembedpipe.so"
    assert embedpipe.version() == "0.1.0"


def test_encode_equals_the_command_line_bit_for_bit(texts, model, work):
    path, strings = texts
    out = os.path.join(work, "txt")
    cli("embed", path, "-o", out, *BASE)
    stored = shard_bits(out)
    assert stored.shape == (len(strings), 384)
    vectors = model.encode(strings)
    assert vectors.dtype == np.float32 and vectors.shape == (len(strings), 384)
    # the CLI stores the float16 cast of the very float32 rows the library computes
    assert np.array_equal(vectors.astype(np.float16).view(np.uint16), stored)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_prompt_text_and_dim_equal_the_command_line(texts, work):
    """Model(prompt_text=..., dim=...) gives embed --prompt-text ... --dim ...'s rows bit for bit."""
    path, strings = texts
    out = os.path.join(work, "txt-prompt-dim")
    cli("embed", path, "-o", out, *BASE, "--prompt-text", "query: ", "--dim", "128")
    stored = shard_bits(out)
    m = embedpipe.Model(MODEL, device="cpu", precision="fp32", threads=2, prompt_text="query: ", dim=128)
    vectors = m.encode(strings)
    assert m.dim == 128 and vectors.shape == (len(strings), 128)
    assert np.array_equal(vectors.astype(np.float16).view(np.uint16), stored)
    m.close()


def test_encode_forms(model, texts):
    _, strings = texts
    rows = model.encode(strings[:40])
    one = model.encode(strings[3])
    assert one.shape == (384,)
    assert np.abs(one - rows[3]).max() < 1e-6  # alone, another batch: last bits only
    chunked = model.encode(strings[:40], batch_size=7)
    assert np.abs(chunked - rows).max() < 1e-6
    assert model.encode([]).shape == (0, 384)
    with pytest.raises(TypeError):
        model.encode(["ok", 3])


def test_encode_matches_sentence_transformers_reference(model):
    """The committed sentence-transformers rows (scripts/make-reference.py): lines 28, 78, ... of the
    sorted tweeteval files; the first 200 of them."""
    import io
    import json
    fixtures = os.path.join(os.environ["EP_SOURCE_DIR"], "tests", "fixtures")
    rows = [json.loads(x) for x in unzstd(os.path.join(fixtures, "vectors-tweeteval.rows.ndjson.zst")).splitlines()]
    ref = np.load(io.BytesIO(unzstd(os.path.join(fixtures, "vectors-tweeteval.f32.npy.zst"))))
    rows, ref = rows[:200], ref[:200]
    cache = {}
    strings = []
    for r in rows:
        if r["file"] not in cache:
            cache[r["file"]] = open(os.path.join(DATA, r["file"]), "rb").read().split(b"\n")
        strings.append(cache[r["file"]][r["line"] - 1].decode("utf-8", "replace"))
    cos = np.sum(model.encode(strings) * ref, axis=1)
    assert cos.min() >= 0.99999, f"min cosine {cos.min()}"


def test_bad_model_folder_is_an_error(work):
    with pytest.raises(embedpipe.Error) as e:
        embedpipe.Model(os.path.join(work, "no-such-model"), device="cpu")
    assert "no-such-model" in str(e.value) and e.value.code != 0


def test_open_vectors_frame(tweets_folder):
    f = embedpipe.open(tweets_folder)
    assert (len(f), f.dim, f.model, f.complete) == (100, 384, "all-MiniLM-L6-v2", True)
    bits = shard_bits(tweets_folder)
    assert f.vectors.dtype == np.float16 and np.array_equal(f.vectors.view(np.uint16), bits)
    assert not f.memory_mapped
    f32 = embedpipe.open(tweets_folder, dtype="float32").vectors
    assert f32.dtype == np.float32 and np.array_equal(f32, bits.view(np.float16).astype(np.float32))
    lines = ids_lines(tweets_folder)
    df = f.frame
    assert list(df.columns[:6]) == ["id", "file", "line", "tokens", "truncated", "hash"]
    assert list(df["id"]) == [x["id"] for x in lines] and all(isinstance(i, str) for i in df["id"])
    assert any(int(i) > 2**53 for i in df["id"])  # ids that float64 would have changed
    assert list(df["line"]) == [x["line"] for x in lines] and list(df["hash"]) == [x["hash"] for x in lines]
    assert f.ids == list(df["id"])


def test_open_memory_maps_the_npy_export(tweets_folder, work):
    import shutil
    copy = os.path.join(work, "flat-npy")
    shutil.copytree(tweets_folder, copy)
    cli("export", copy, "--to", "npy", "-q")
    f = embedpipe.open(copy)
    assert np.array_equal(f.vectors.view(np.uint16), shard_bits(copy))
    assert f.memory_mapped and isinstance(f.vectors, np.memmap)
    assert not embedpipe.open(copy, mmap=False).memory_mapped


def test_open_a_merged_folder(texts, work):
    path, strings = texts
    whole = os.path.join(work, "whole")
    cli("embed", path, "-o", whole, "--shard-rows", "64", *BASE)
    parts = []
    for i in (0, 1):
        parts.append(os.path.join(work, f"part{i}"))
        cli("embed", path, "-o", parts[-1], "--shard-rows", "64", "--part", f"{i}/2", *BASE)
    merged = os.path.join(work, "merged")
    cli("merge", *parts, "-o", merged, "-q")
    m, w = embedpipe.open(merged), embedpipe.open(whole)
    assert m.complete and len(m) == len(strings)
    assert np.array_equal(m.vectors.view(np.uint16), w.vectors.view(np.uint16))
    assert m.frame[["line", "hash"]].equals(w.frame[["line", "hash"]])
    part = embedpipe.open(parts[0])
    assert not part.complete and 0 < len(part) < len(strings)


def test_similar(tweets_folder, model):
    f = embedpipe.open(tweets_folder)
    v = f.vectors.astype(np.float32)
    q = model.encode("Barack Obama")
    got = f.similar(q, k=5)
    brute = np.argsort(-(v @ (q / np.linalg.norm(q))), kind="stable")[:5]
    assert list(got["row"]) == list(brute)
    assert np.all(np.diff(got["score"]) <= 0) and list(got.columns[:3]) == ["row", "score", "id"]
    by_id = f.similar(f.frame.id[7], k=3)
    assert 7 not in list(by_id["row"])
    assert list(by_id["row"]) == list(f.similar(7, k=3)["row"])
    assert len(f.similar(0, k=1000)) == 99
    with pytest.raises(KeyError):
        f.similar("no such id")


def test_top_k_ties_and_order():
    vecs = np.array([[1, 0], [0, 1], [1, 0], [0.6, 0.8]], dtype=np.float16)
    rows, scores = top_k(vecs, np.array([2.0, 0.0]), 3)
    assert list(rows) == [0, 2, 3] and np.allclose(scores, [1, 1, 0.6], atol=1e-3)


def test_frame_takes_every_key_of_the_ids_lines():
    """Kept text and --keep fields are further keys of each ids line: each becomes a column."""
    df = frame_from_records([
        {"id": "2029905358261502168", "file": 0, "line": 1, "tokens": 5, "truncated": False, "hash": "00" * 8,
         "text": "hello", "created_at": "2024-01-01", "user.screen_name": "a"},
        {"id": "", "file": 0, "line": 2, "tokens": 4, "truncated": False, "hash": "11" * 8, "text": "bye"},
    ])
    assert list(df.columns) == ["id", "file", "line", "tokens", "truncated", "hash", "text", "created_at",
                                "user.screen_name"]
    assert df["id"][0] == "2029905358261502168" and df["id"][1] == ""
    assert df["text"][1] == "bye" and df["created_at"].isna()[1]


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_to_parquet(tweets_folder, work, dtype):
    import pyarrow as pa
    import pyarrow.parquet as pq
    f = embedpipe.open(tweets_folder)
    path = os.path.join(work, f"flat-{dtype}.parquet")
    f.to_parquet(path, dtype=dtype)
    t = pq.read_table(path)
    # the text is kept by default: it travels as a column (the kept fields would too)
    assert t.column_names == ["id", "text", "vector"] and t.num_rows == 100
    assert t.column("text").to_pylist() == f.frame["text"].tolist()
    assert t.schema.field("vector").type == pa.list_(pa.float32() if dtype == "float32" else pa.float16(), 384)
    assert t.column("id").to_pylist() == f.ids
    back = np.asarray(t.column("vector").combine_chunks().flatten().to_numpy(zero_copy_only=False)).reshape(100, 384)
    want = f.read(0, 100, dtype)
    assert back.dtype == np.dtype(dtype) and np.array_equal(back.view(np.uint8), want.view(np.uint8))
    if dtype == "float32":
        import duckdb
        rows = duckdb.sql(f"SELECT id, vector FROM read_parquet('{path}')").fetchall()
        assert [r[0] for r in rows] == f.ids
        assert np.array_equal(np.array([r[1] for r in rows], dtype=np.float32), want)


def test_damaged_folder_is_an_error(tweets_folder, work):
    import shutil
    bad = os.path.join(work, "flat-bad")
    shutil.copytree(tweets_folder, bad)
    shard = os.path.join(bad, "shard-00001.npy.zst")
    data = bytearray(open(shard, "rb").read())
    data[-5] ^= 0xFF
    open(shard, "wb").write(bytes(data))
    f = embedpipe.open(bad)
    with pytest.raises(embedpipe.Error) as e:
        f.vectors
    assert "shard-00001.npy.zst" in str(e.value) and e.value.code == 7  # EP_ERR_MISMATCH
    with pytest.raises(embedpipe.Error):
        embedpipe.open(os.path.join(work, "no-such-folder"))


def test_the_three_lines_of_the_docs(tweets_folder, work):
    """docs/python.md's first python block (what README.md also shows), taken from the document at run
    time and run as written in a fresh interpreter, in a folder where `out` is a real run."""
    import re
    doc = open(os.path.join(os.environ["EP_SOURCE_DIR"], "docs", "python.md"), encoding="utf-8").read()
    code = re.search(r"```python\n(.*?)```", doc, re.S).group(1)
    assert 'embedpipe.open("out")' in code
    here = os.path.join(work, "docs-snippet")
    os.makedirs(here, exist_ok=True)
    if not os.path.exists(os.path.join(here, "out")):
        os.symlink(tweets_folder, os.path.join(here, "out"))
    code += "print(out.vectors.shape, len(out.frame), out.similar(out.frame.id[0], k=2).id.tolist())\n"
    p = subprocess.run([os.sys.executable, "-c", code], capture_output=True, text=True, cwd=here)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("(100, 384) 100 [")
