"""suite_llm.py - `embedpipe export --to llm` read by llm itself, and the llm_embedpipe plugin
(test_python_llm). llm runs as its own command from the venv, with a private user folder
(LLM_USER_PATH, set by py_env.py) and EMBEDPIPE_MODEL naming the model for the plugin."""
import hashlib
import json
import os
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

import embedpipe
from conftest import MODEL, cli

LLM = os.path.join(os.path.dirname(sys.executable), "llm")
MODEL_ID = "embedpipe/all-MiniLM-L6-v2"


def llm(*args):
    env = dict(os.environ, EMBEDPIPE_MODEL=MODEL, EMBEDPIPE_DEVICE="cpu", EMBEDPIPE_THREADS="2")
    p = subprocess.run([LLM, *args], capture_output=True, text=True, env=env)
    assert p.returncode == 0, f"llm {' '.join(args)}: exit {p.returncode}\n{p.stdout}\n{p.stderr}"
    return p.stdout


def similar_json(out):
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def same_neighbours(got, want):
    """llm's cosine (rows divided by their norms) against embedpipe's dot product of float16 rows
    that are unit length to float16 rounding: the same scores to 1e-3, the same ids wherever a
    score is that far from every other."""
    assert len(got) == len(want)
    assert np.allclose([g["score"] for g in got], want["score"], atol=1e-3)
    for g, (_, w) in zip(got, want.iterrows()):
        if np.sum(np.isclose(want["score"], w["score"], atol=1e-3)) == 1:
            assert g["id"] == w["id"]


@pytest.fixture(scope="module")
def db(tweets_folder, work):
    path = os.path.join(work, "embeddings.db")
    p = cli("export", tweets_folder, "--to", "llm", "--db", path, "--collection", "tweets")
    assert "100 rows written, 0 unchanged" in p.stderr
    return path


def test_schema_is_llms(db, tweets_folder):
    con = sqlite3.connect(db)
    assert con.execute("SELECT name, model FROM collections").fetchall() == [("tweets", MODEL_ID)]
    names = [r[0] for r in con.execute("SELECT name FROM _sqlite_migrations WHERE migration_set = 'llm.embeddings' "
                                       "ORDER BY id")]
    assert names == ["m001_create_tables", "m002_foreign_key", "m003_add_updated", "m004_store_content_hash",
                     "m005_add_content_blob"]
    f = embedpipe.open(tweets_folder, dtype="float32")
    rows = {r[0]: r[1:] for r in con.execute("SELECT id, embedding, content, content_hash, metadata, updated "
                                             "FROM embeddings")}
    assert set(rows) == set(f.ids)
    for i, row_id in enumerate(f.ids):
        blob, content, content_hash, metadata, updated = rows[row_id]
        assert np.array_equal(np.frombuffer(blob, dtype="<f4"), f.vectors[i])  # llm.encode: little-endian float32
        text = f.frame["text"][i] if "text" in f.frame.columns else None
        want = text if text is not None else "embedpipe-xxh3:" + f.frame["hash"][i]
        assert content == text and content_hash == hashlib.md5(want.encode()).digest()
        assert updated > 0


def test_llm_reads_it(db, tweets_folder):
    """llm's own schema check, count and `llm similar NAME ID` agree with embedpipe's similar."""
    assert "100 embeddings" in llm("collections", "list", "-d", db)
    f = embedpipe.open(tweets_folder)
    target = f.frame.id[5]
    got = similar_json(llm("similar", "tweets", target, "-d", db, "-n", "5"))
    want = f.similar(target, k=5)
    assert len(got) == 5 and target not in [g["id"] for g in got]
    same_neighbours(got, want)


def test_export_again_writes_changed_rows_only(db, tweets_folder):
    p = cli("export", tweets_folder, "--to", "llm", "--db", db, "--collection", "tweets")
    assert "0 rows written, 100 unchanged" in p.stderr
    con = sqlite3.connect(db)
    some = con.execute("SELECT id FROM embeddings ORDER BY id LIMIT 2").fetchall()
    with con:
        con.execute("UPDATE embeddings SET content_hash = x'00', updated = 1 WHERE id = ?", some[0])
        con.execute("DELETE FROM embeddings WHERE id = ?", some[1])
    p = cli("export", tweets_folder, "--to", "llm", "--db", db, "--collection", "tweets")
    assert "2 rows written, 98 unchanged" in p.stderr
    assert con.execute("SELECT count(*), min(updated) > 1 FROM embeddings").fetchone() == (100, 1)


def test_a_collection_of_another_model_is_refused(db, tweets_folder):
    p = cli("export", tweets_folder, "--to", "llm", "--db", db, "--collection", "tweets", "--model-id", "other",
            rc=3)
    assert "holds vectors of model 'embedpipe/all-MiniLM-L6-v2'" in p.stderr
    p = cli("export", tweets_folder, "--to", "llm", "--collection", "tweets", rc=2)
    assert "--db" in p.stderr
    p = cli("export", tweets_folder, "--to", "llm", "--db", db, "--collection", "tweets", "-o", "x.db", rc=2)
    assert "not -o" in p.stderr
    p = cli("export", tweets_folder, "--to", "npy", "--db", db, rc=2)
    assert "go with --to llm" in p.stderr


def test_plugin_registers_the_model():
    assert MODEL_ID in llm("embed-models", "list")


def test_llm_similar_content_embeds_through_the_plugin(db, tweets_folder):
    got = similar_json(llm("similar", "tweets", "-c", "Barack Obama", "-d", db, "-n", "3"))
    f = embedpipe.open(tweets_folder)
    q = embedpipe.Model(MODEL, device="cpu", threads=2).encode("Barack Obama")
    want = f.similar(q, k=3)
    same_neighbours(got, want)


def test_llm_embed_multi_through_the_plugin(work, texts):
    _, strings = texts
    path = os.path.join(work, "few.json")
    with open(path, "w") as fh:
        json.dump([{"id": f"t{i}", "content": s} for i, s in enumerate(strings[:20])], fh)
    db2 = os.path.join(work, "multi.db")
    llm("embed-multi", "few", path, "--format", "json", "-m", MODEL_ID, "-d", db2, "--store")
    con = sqlite3.connect(db2)
    assert con.execute("SELECT model FROM collections WHERE name = 'few'").fetchone() == (MODEL_ID,)
    stored = {r[0]: np.frombuffer(r[1], dtype="<f4") for r in con.execute("SELECT id, embedding FROM embeddings")}
    want = embedpipe.Model(MODEL, device="cpu", threads=2).encode(strings[:20])
    assert len(stored) == 20
    assert max(np.abs(stored[f"t{i}"] - want[i]).max() for i in range(20)) < 1e-6
    top = similar_json(llm("similar", "few", "t0", "-d", db2, "-n", "1"))
    assert top and top[0]["id"] != "t0"
