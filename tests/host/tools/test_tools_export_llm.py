"""test_tools_export_llm.py - `embedpipe export OUT --to llm --db FILE --collection NAME`, read back with
Python's own sqlite3 (llm itself reads it in tests/python/test_python_llm, which needs PyPI):

llm's tables and its five migrations recorded as applied; one row per record with the id, the vector as
little-endian float32 equal to the float16 shards (through `export --to ndjson`), content = the kept
text and content_hash = llm's MD5 of it (a --no-text folder: content NULL, content_hash =
MD5("embedpipe-xxh3:" + the ids file's hash)), updated; a record without
an id keyed "path:line"; a second export writing nothing, a third only the rows changed behind its back;
a damaged shard refused with the database left as it was (one transaction); a collection of another
model and a database of an older llm refused (exit 3); usage errors (exit 2). Skips (77) when this build
has no SQLite (export --to llm says so)."""
import hashlib
import json
import os
import sqlite3
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_tools_util import *  # noqa: E402,F403

root, model = start("export-llm")
write_lines("in.ndjson", make_records(300, seed=4, bad_every=41))
with open("plain.txt", "w") as f:
    f.write("first line\nsecond line\n\nfourth line\n")
base = ["-m", model, "--device", "cpu", "--threads", "2", "--shard-rows", "50", "-q"]
run(["embed", "in.ndjson", "-o", "out"] + base, check_rc=0)
m = manifest("out")
rows, dim = m["counts"]["embedded"], m["model"]["dim"]

p = run(["export", "out", "--to", "llm", "--db", "e.db", "--collection", "c1"])
if p.returncode == 2 and b"without SQLite" in p.stderr:
    print("SKIP: this embedpipe was built without SQLite (install libsqlite3-dev and reconfigure)")
    sys.exit(SKIP)
check(p.returncode == 0, f"export --to llm: exit {p.returncode}: {p.stderr}")
check(f"{rows} rows written, 0 unchanged".encode() in p.stderr, f"summary: {p.stderr}")

con = sqlite3.connect("e.db")
tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
check({"_sqlite_migrations", "collections", "embeddings"} <= tables, f"tables {tables}")
migrations = [r[0] for r in con.execute("SELECT name FROM _sqlite_migrations WHERE migration_set = "
                                        "'llm.embeddings' ORDER BY id")]
check(migrations == ["m001_create_tables", "m002_foreign_key", "m003_add_updated", "m004_store_content_hash",
                     "m005_add_content_blob"], f"migrations {migrations}")
cols = [r[1] for r in con.execute("PRAGMA table_info(embeddings)")]
check(cols == ["collection_id", "id", "embedding", "content", "content_blob", "content_hash", "metadata",
               "updated"], f"embeddings columns {cols}")
model_id = "embedpipe/" + m["model"]["name"]
check(con.execute("SELECT name, model FROM collections").fetchall() == [("c1", model_id)], "collections row")

# The rows against the ndjson export (float16 values printed exactly) and the ids files.
run(["export", "out", "--to", "ndjson", "-o", "v.ndjson", "-q"], check_rc=0)
want = [json.loads(x) for x in open("v.ndjson", encoding="utf-8")]
def ids_lines(folder):
    """The ids lines of folder's shards, or None without zstandard."""
    out = []
    for sh in manifest(folder)["shards"]:
        raw = zstd_decompress(os.path.join(folder, sh["ids_file"]))
        if raw is None:
            return None
        out += [json.loads(x) for x in raw.decode().splitlines()]
    return out


def check_rows(db, collection, lines, text_kept):
    con_ = sqlite3.connect(db)
    got_ = {r[0]: r[1:] for r in con_.execute(
        "SELECT e.id, e.embedding, e.content, e.content_hash, e.metadata, e.updated FROM embeddings e "
        "JOIN collections c ON c.id = e.collection_id WHERE c.name = ?", (collection,))}
    check(len(got_) == rows == len(want), f"{collection}: {len(got_)} rows in the database, {rows} in the folder")
    for i, w in enumerate(want):
        g = got_.get(w["id"])
        if not check(g is not None, f"{collection} row {i}: id {w['id']} missing"):
            break
        blob, content, content_hash, metadata, updated = g
        check(blob == struct.pack(f"<{dim}f", *w["vector"]), f"row {i}: embedding is not the float16 row as <f4")
        check(metadata is None and updated > 0, f"{collection} row {i}: metadata/updated {g[3:]}")
        if lines is None:
            continue
        if text_kept:
            check(content == lines[i]["text"], f"{collection} row {i}: content {content!r}")
            check(content_hash == hashlib.md5(lines[i]["text"].encode()).digest(), f"{collection} row {i}: content_hash")
        else:
            check(content is None, f"{collection} row {i}: content {content!r} from a --no-text folder")
            check(content_hash == hashlib.md5(f"embedpipe-xxh3:{lines[i]['hash']}".encode()).digest(),
                  f"{collection} row {i}: content_hash")
    con_.close()


check_rows("e.db", "c1", ids_lines("out"), True)
run(["embed", "in.ndjson", "-o", "out-nt", "--no-text"] + base, check_rc=0)
run(["export", "out-nt", "--to", "llm", "--db", "nt.db", "--collection", "c1"], check_rc=0)
check_rows("nt.db", "c1", ids_lines("out-nt"), False)

# Again: nothing to write. Then two rows changed behind its back: those two are written.
p = run(["export", "out", "--to", "llm", "--db", "e.db", "--collection", "c1"], check_rc=0)
check(f"0 rows written, {rows} unchanged".encode() in p.stderr, f"second export: {p.stderr}")
two = [r[0] for r in con.execute("SELECT id FROM embeddings ORDER BY id LIMIT 2")]
with con:
    con.execute("UPDATE embeddings SET content_hash = x'00', updated = 1 WHERE id = ?", (two[0],))
    con.execute("DELETE FROM embeddings WHERE id = ?", (two[1],))
p = run(["export", "out", "--to", "llm", "--db", "e.db", "--collection", "c1"], check_rc=0)
check(f"2 rows written, {rows - 2} unchanged".encode() in p.stderr, f"third export: {p.stderr}")
check(con.execute("SELECT count(*), min(updated) > 1 FROM embeddings").fetchone() == (rows, 1), "after the third")

# A second collection in the same database; records without ids are keyed path:line.
run(["embed", "plain.txt", "-o", "plain"] + base, check_rc=0)
run(["export", "plain", "--to", "llm", "--db", "e.db", "--collection", "plain", "-q"], check_rc=0)
ids = sorted(r[0] for r in con.execute("SELECT e.id FROM embeddings e JOIN collections c ON c.id = "
                                       "e.collection_id WHERE c.name = 'plain'"))
n_plain = manifest("plain")["counts"]["embedded"]
check(len(ids) == n_plain and all(i.startswith("plain.txt:") for i in ids), f"ids without ids: {ids}")

# A damaged shard: refused naming it, and the database is as it was (one transaction).
os.makedirs("bad")
for name in os.listdir("out"):
    if not name.startswith("vectors."):
        with open(os.path.join("out", name), "rb") as a, open(os.path.join("bad", name), "wb") as b:
            b.write(a.read())
victim = os.path.join("bad", m["shards"][3]["file"])
raw = bytearray(open(victim, "rb").read())
raw[len(raw) // 2] ^= 0x10
open(victim, "wb").write(bytes(raw))
before = con.execute("SELECT count(*) FROM embeddings").fetchone()[0]
p = run(["export", "bad", "--to", "llm", "--db", "e.db", "--collection", "fresh"], check_rc=3)
check(m["shards"][3]["file"].encode() in p.stderr, f"the error does not name the damaged shard: {p.stderr}")
check(con.execute("SELECT count(*) FROM embeddings").fetchone()[0] == before, "a failed export changed rows")
check(con.execute("SELECT count(*) FROM collections WHERE name = 'fresh'").fetchone()[0] == 0,
      "a failed export left its collection")

# Refusals: another model's collection, an older llm's database; usage.
p = run(["export", "out", "--to", "llm", "--db", "e.db", "--collection", "c1", "--model-id", "other"], check_rc=3)
check(b"holds vectors of model" in p.stderr, f"another model: {p.stderr}")
old = sqlite3.connect("old.db")
with old:
    old.execute("CREATE TABLE embeddings (collection_id INTEGER, id TEXT, embedding BLOB, content TEXT, "
                "metadata TEXT)")
old.close()
p = run(["export", "out", "--to", "llm", "--db", "old.db", "--collection", "c1"], check_rc=3)
check(b"older llm" in p.stderr, f"an older llm's database: {p.stderr}")
run(["export", "out", "--to", "llm", "--collection", "c1"], check_rc=2)
run(["export", "out", "--to", "llm", "--db", "x.db"], check_rc=2)
run(["export", "out", "--to", "llm", "--db", "x.db", "--collection", "c", "-o", "y"], check_rc=2)
run(["export", "out", "--to", "npy", "--db", "x.db"], check_rc=2)
check(not os.path.exists("x.db"), "a usage error created the database")

con.close()
os.chdir("/")
cleanup(root)
finish("test_tools_export_llm")
