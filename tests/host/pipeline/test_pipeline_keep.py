"""test_pipeline_keep.py - the text and chosen fields that travel with the vectors (--keep, --no-text)
and the opt-in text preparation for tweets (--clean), end to end through the real binary on a tiny
random model:

- the kept text is exactly the text embedded, for every input format, on the real data
  (../shared/data: tweets.js, an archive.json made of its tweets, API v2 flat and page NDJSON, lines);
- --keep: dotted paths as columns (a missing field is null, numbers keep every digit), the
  "default" columns per format (author from account.js / archive.json's account / includes.users),
  and the usage errors;
- --no-text: no text column, run.text false;
- --clean: each step on planted tweets, a retweet skipped, a text cleaned to nothing rejected, the
  vector of a cleaned text is the vector of that text embedded raw, the default leaves texts as found,
  and a resume with other --clean is another job;
- round trips: --reuse, --part + merge and export --to ndjson carry text and fields; verify catches
  an edited text even with the manifest's checksum fixed up; search prints the stored text with the
  inputs deleted and from another working folder.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pipeline_util import check, cli, finish, manifest, run, tiny_model, workdir, write_lines  # noqa: E402

NAME = "test_pipeline_keep"
cli()
root = workdir("keep")
os.chdir(root)
model = tiny_model(root)
DATA = os.environ.get("EP_SHARED_DATA", "")
HAVE_DATA = os.path.isdir(os.path.join(DATA, "twarc"))
if not HAVE_DATA:
    print(f"note: {DATA} not found; the real-data checks are skipped (the planted ones still run)")


def unzstd(path):
    try:
        import zstandard
        with open(path, "rb") as f:
            return zstandard.ZstdDecompressor().stream_reader(f).read()
    except ImportError:
        return subprocess.run(["zstd", "-dc", path], check=True, stdout=subprocess.PIPE).stdout


def rows(out):
    """Every ids line of the folder, in row order, as dicts (and the raw lines)."""
    m = manifest(out)
    got, raw = [], []
    for s in m["shards"]:
        for line in unzstd(os.path.join(out, s["ids_file"])).decode("utf-8").splitlines():
            raw.append(line)
            got.append(json.loads(line))
    return got, raw


def embed(inputs, out, *extra, rc=0):
    p = run(["embed", *inputs, "-o", out, "-m", model, "-q", "-t", "2", *extra], check_rc=rc)
    return p


def vectors(out):
    """Row vectors as lists of float16 bit patterns (bytes per row), in row order."""
    import struct
    m = manifest(out)
    res = []
    for s in m["shards"]:
        data = unzstd(os.path.join(out, s["file"]))
        hlen = struct.unpack("<H", data[8:10])[0]
        body = data[10 + hlen:]
        width = m["model"]["dim"] * 2
        res += [body[i:i + width] for i in range(0, len(body), width)]
    return res


# ---------------------------------------------------------------------------
# The kept text is the embedded text, per format, on real data.

def export_tweets(path):
    with open(path, encoding="utf-8") as f:
        s = f.read()
    return json.loads(s[s.index("["):])


if HAVE_DATA:
    tweets_js = os.path.join(DATA, "twitter-export", "tweets.js")
    flat = os.path.join(DATA, "twarc", "flat.jsonl")
    page = os.path.join(DATA, "twarc", "kpop.jsonl")
    lines_file = os.path.join(DATA, "tweeteval", "stance-climate-val_text.txt")
    export = export_tweets(tweets_js)
    # archive.json: the export's first 300 tweets under the Community Archive's keys, account first.
    with open("archive.json", "w", encoding="utf-8") as f:
        json.dump({"account": [{"account": {"username": "archive_owner", "accountId": "42"}}],
                   "tweets": export[:300], "like": []}, f, ensure_ascii=False, indent=1)
    flat_recs = [json.loads(x) for x in open(flat, encoding="utf-8")]
    page_doc = json.loads(open(page, encoding="utf-8").readline())
    with open(lines_file, encoding="utf-8", newline="") as f:
        line_texts = [x[:-1] if x.endswith("\n") else x for x in f]
    line_texts = [x[:-1] if x.endswith("\r") else x for x in line_texts]
    cases = [
        ("tweets-js", tweets_js, [t["tweet"]["full_text"] for t in export]),
        ("archive-json", "archive.json", [t["tweet"]["full_text"] for t in export[:300]]),
        ("ndjson (API v2 flat)", flat, [r["text"] for r in flat_recs]),
        ("ndjson (API v2 page)", page, [t["text"] for t in page_doc["data"]]),
        ("lines", lines_file, line_texts),
    ]
    for n, (what, path, want) in enumerate(cases):
        out = f"text-{n}"
        embed([path], out)
        got, _ = rows(out)
        texts = [r.get("text") for r in got]
        check(len(texts) == len(want), f"{what}: {len(texts)} rows, {len(want)} records in the file")
        bad = [i for i, (a, b) in enumerate(zip(texts, want)) if a != b]
        check(not bad, f"{what}: {len(bad)} stored texts differ from the file's, first row {bad[:1]}: "
                       f"{texts[bad[0]]!r} vs {want[bad[0]]!r}" if bad else "")
        check(manifest(out)["run"]["text"] is True and manifest(out)["run"]["keep"] == "",
              f"{what}: run.text true and run.keep empty by default")

    # -----------------------------------------------------------------------
    # --keep: the default columns per format, explicit paths, missing = null.
    embed([flat], "keep-flat", "--keep", "default,public_metrics.like_count,author.username,no.such.field")
    got, _ = rows("keep-flat")
    for r, rec in zip(got, flat_recs):
        refs = {x["type"] for x in rec.get("referenced_tweets", [])}
        want = {"created_at": rec["created_at"], "author": rec["author"]["username"],
                "url": f"https://twitter.com/{rec['author']['username']}/status/{rec['id']}",
                "lang": rec["lang"], "is_reply": "replied_to" in refs,
                "is_retweet": "retweeted" in refs or rec["text"].startswith("RT @"),
                "public_metrics.like_count": rec["public_metrics"]["like_count"],
                "author.username": rec["author"]["username"], "no.such.field": None}
        diff = {k: (r.get(k, "<absent>"), v) for k, v in want.items() if r.get(k, "<absent>") != v}
        if not check(not diff, f"--keep on flat.jsonl id {rec['id']}: {diff}"):
            break
    check(list(got[0].keys())[:7] == ["id", "file", "line", "tokens", "truncated", "hash", "text"],
          f"the row's own columns come first, then the kept ones: {list(got[0].keys())}")
    check(manifest("keep-flat")["run"]["keep"] == "default,public_metrics.like_count,author.username,no.such.field",
          "run.keep records the list")

    embed([page], "keep-page", "--keep", "default")
    got, _ = rows("keep-page")
    users = {u["id"]: u["username"] for u in page_doc["includes"]["users"]}
    authors_ok = all(r["author"] == users.get(t["author_id"]) for r, t in zip(got, page_doc["data"]))
    check(authors_ok and len(got) == len(page_doc["data"]),
          "an API v2 page: author is the username from includes.users by author_id")

    # tweets.js with its account.js beside it (a copy in the work folder: the export's own layout).
    os.makedirs("export/data", exist_ok=True)
    shutil.copy(tweets_js, "export/data/tweets.js")
    with open("export/data/account.js", "w") as f:
        f.write('window.YTD.account.part0 = [ { "account" : { "username" : "export_owner", '
                '"accountId" : "7" } } ]')
    embed(["export/data/tweets.js"], "keep-js", "--keep", "default,tweet.favorite_count,tweet.nope")
    got, _ = rows("keep-js")
    for r, t in zip(got, export):
        t = t["tweet"]
        want = {"created_at": t["created_at"], "author": "export_owner",
                "url": f"https://twitter.com/export_owner/status/{t['id_str']}", "lang": t["lang"],
                "is_reply": bool(t.get("in_reply_to_status_id_str")),
                "is_retweet": t["full_text"].startswith("RT @"),
                "tweet.favorite_count": t["favorite_count"], "tweet.nope": None}
        diff = {k: (r.get(k), v) for k, v in want.items() if r.get(k, "<absent>") != v}
        if not check(not diff, f"--keep default on tweets.js id {t['id_str']}: {diff}"):
            break
    check(sum(r["is_retweet"] for r in got) > 0 and sum(r["is_reply"] for r in got) > 0,
          "the export holds retweets and replies, and they are flagged")
    # Without account.js the author is unknown: null, and the URL still leads to the tweet.
    embed([tweets_js], "keep-js-noacct", "--keep", "default")
    got, _ = rows("keep-js-noacct")
    check(got[0]["author"] is None and got[0]["url"] == f"https://twitter.com/i/web/status/{export[0]['tweet']['id_str']}",
          f"tweets.js without account.js: author null, /i/web/status/ URL: {got[0]['author']!r} {got[0]['url']!r}")

    embed(["archive.json"], "keep-archive", "--keep", "default")
    got, _ = rows("keep-archive")
    check(len(got) == 300 and all(r["author"] == "archive_owner" for r in got),
          "archive.json: author from its account section")

    check(embed([lines_file], "keep-lines2", "--keep", "default,lang", rc=2).returncode == 2,
          "--keep default,lang: lang twice is a usage error")
    embed([lines_file], "keep-lines3", "--keep", "lang,user.name")
    got, _ = rows("keep-lines3")
    check(all(r["lang"] is None and r["user.name"] is None for r in got), "lines have no fields: every kept column null")

# ---------------------------------------------------------------------------
# Planted: exact digits, usage errors, --no-text.

big = "1234567890123456789"
write_lines("digits.jsonl", ['{"id": %s, "text": "big numbers", "n": {"big": %s, "small": 1.5}, "flag": true}' % (big, big),
                             '{"id": 2, "text": "no n here"}'])
embed(["digits.jsonl"], "digits", "--keep", "n.big,n.small,n,flag")
got, raw = rows("digits")
check(f'"n.big": {big}' in raw[0], f"a kept 19-digit number keeps its digits in the ids line: {raw[0]}")
check(got[1]["n.big"] is None and got[1]["n"] is None and got[1]["flag"] is None, "missing fields are null")
check(got[0]["n"] == {"big": int(big), "small": 1.5} and got[0]["flag"] is True, f"objects and booleans: {got[0]}")
p = run(["export", "digits", "--to", "ndjson", "-o", "digits.ndjson"], check_rc=0)
with open("digits.ndjson", encoding="utf-8") as f:
    ex = f.read().splitlines()
check(len(ex) == 2 and f'"n.big":{big}' in ex[0].replace(" ", "") and json.loads(ex[0])["text"] == "big numbers",
      f"export --to ndjson carries text and the exact digits through the checked reader: {ex[0][:200]}")

for bad, what in [("id", "a reserved column"), ("text", "a reserved column"), ("a..b", "an empty step"),
                  ("x,x", "a column twice"), ("vector", "the export's vector column")]:
    p = embed(["digits.jsonl"], "bad-keep", "--keep", bad, rc=2)
    check("--keep" in p.stderr and not os.path.exists("bad-keep/manifest.json"),
          f"--keep {bad} ({what}) is a usage error that names --keep before anything is written: {p.stderr.strip()}")
p = embed(["digits.jsonl"], "bad-clean", "--clean", "html,emoji", rc=2)
check("--clean" in p.stderr and "emoji" in p.stderr, f"--clean emoji: usage error naming the step: {p.stderr.strip()}")

embed(["digits.jsonl"], "notext", "--no-text")
got, _ = rows("notext")
check(all("text" not in r for r in got) and manifest("notext")["run"]["text"] is False,
      "--no-text: no text column, run.text false")
check(run(["verify", "notext"]).returncode == 0, "verify passes a --no-text folder")
# Resuming a folder with other kept columns is another job: refused, nothing changed.
p = embed(["digits.jsonl"], "notext", rc=3)
check("text" in p.stderr, f"the same folder without --no-text is a different run (exit 3): {p.stderr.strip()}")

# ---------------------------------------------------------------------------
# --clean on planted tweets.

planted = [
    ("fish &amp; chips &gt; salad", "fish & chips > salad", "html"),
    ("@alice @bob_2 thanks for the bike", "thanks for the bike", "mentions"),
    ("look at this https://t.co/AbC123xyz", "look at this", "links"),
    ("a link https://t.co/AbC123 in the middle", "a link in the middle", "links"),
    ("hi @carol, see you", "hi @carol, see you", "a mention inside the sentence stays"),
    ("RT @dave: the retweeted text", None, "retweets"),
    ("@erin https://t.co/Zz9", "", "only a mention and a link: rejected"),
    ("&#233;t&#xE9; &quot;ok&quot; &unknown;", "été \"ok\" &unknown;", "numeric and unknown entities"),
]
write_lines("planted.jsonl", [json.dumps({"id": str(i), "text": t}) for i, (t, _, _) in enumerate(planted)])
embed(["planted.jsonl"], "raw")
p = run(["embed", "planted.jsonl", "-o", "clean", "-m", model, "-t", "2", "--clean", "all", "--progress", "none"],
        check_rc=0)
check("1 retweet skipped (--clean retweets)" in p.stderr, f"the summary counts the skipped retweet: {p.stderr[-500:]}")
raw_rows, _ = rows("raw")
clean_rows, _ = rows("clean")
check([r["text"] for r in raw_rows] == [t for t, _, _ in planted], "without --clean every text is stored as found")
by_id = {r["id"]: r["text"] for r in clean_rows}
for i, (t, want, what) in enumerate(planted):
    if want:
        check(by_id.get(str(i)) == want, f"--clean all, {what}: {by_id.get(str(i))!r}, expected {want!r}")
    else:
        check(str(i) not in by_id, f"--clean all, {what}: the record is not a row")
with open("clean/errors.ndjson", encoding="utf-8") as f:
    errs = [json.loads(x) for x in f]
check(len(errs) == 1 and errs[0]["id"] == "6" and "--clean" in errs[0]["reason"],
      f"a text --clean leaves empty is a rejection that says so: {errs}")
check(manifest("clean")["run"]["clean"] == "html,links,mentions,retweets", "run.clean records the steps")
embed(["planted.jsonl"], "clean-html", "--clean", "html")
check(rows("clean-html")[0][0]["text"] == "fish & chips > salad" and rows("clean-html")[0][1]["text"] == planted[1][0],
      "--clean html unescapes and leaves mentions alone")
# The vector of a cleaned text is the vector of that text embedded raw: cleaning changes the input, nothing else.
write_lines("cleaned.jsonl", [json.dumps({"id": str(i), "text": w}) for i, (_, w, _) in enumerate(planted) if w])
embed(["cleaned.jsonl"], "cleaned-raw")
check(vectors("clean") == vectors("cleaned-raw"), "--clean all gives the vectors of the cleaned texts embedded raw")
check(vectors("raw")[4] == vectors("clean")[4], "a text --clean leaves unchanged keeps its vector")
check(vectors("raw")[0] != vectors("clean")[0], "an unescaped text has another vector than the raw one")
p = embed(["planted.jsonl"], "raw", "--clean", "html", rc=3)
check("--clean" in p.stderr, f"resuming with another --clean is another job (exit 3): {p.stderr.strip()}")

# ---------------------------------------------------------------------------
# Round trips: --reuse, --part + merge, export; verify; search without the inputs.

recs = [json.dumps({"id": str(i), "text": f"tweet number {i} about bikes &amp; rain",
                    "user": {"screen_name": f"u{i % 7}"}, "lang": "en", "created_at": f"2024-01-{i % 28 + 1:02d}"})
        for i in range(120)]
write_lines("rt.jsonl", recs)
keep = ["--keep", "default,user.screen_name", "--shard-rows", "25"]
embed(["rt.jsonl"], "full", *keep)
full_rows, full_raw = rows("full")
check(full_rows[5]["author"] == "u5" and full_rows[5]["user.screen_name"] == "u5", "author from user.screen_name")
embed(["rt.jsonl"], "reused", *keep, "--reuse", "full")
check(rows("reused")[1] == full_raw, "--reuse: every ids line (text, kept fields) as in the folder it reused")
embed(["rt.jsonl"], "reused-clean", *keep, "--clean", "html", "--reuse", "full")
rc_rows, _ = rows("reused-clean")
check(rc_rows[0]["text"] == "tweet number 0 about bikes & rain" and vectors("reused-clean")[0] != vectors("full")[0],
      "--reuse with --clean: the cleaned text's hash differs, so the row is computed again, not copied")
embed(["rt.jsonl"], "reused-other-keep", "--keep", "lang", "--shard-rows", "25", "--reuse", "full")
rk_rows, _ = rows("reused-other-keep")
check(vectors("reused-other-keep") == vectors("full") and [list(r)[7:] for r in rk_rows[:1]] == [["lang"]] and
      rk_rows[3]["text"] == full_rows[3]["text"],
      "--reuse into a run with other --keep copies the vectors and stores this run's columns")
for part in ("0/2", "1/2"):
    embed(["rt.jsonl"], "part" + part[0], *keep, "--part", part)
run(["merge", "part0", "part1", "-o", "merged"], check_rc=0)
check(rows("merged")[1] == full_raw, "merge of --part 0/2 and 1/2: the ids lines of the whole run")
check(run(["verify", "merged"]).returncode == 0, "verify passes the merged folder")
embed(["rt.jsonl"], "part1-other", "--keep", "default", "--shard-rows", "25", "--part", "1/2")
p = run(["merge", "part0", "part1-other", "-o", "merged2"], check_rc=3)
check("--keep" in p.stderr, f"merging parts with other --keep is refused (exit 3): {p.stderr.strip()}")
run(["export", "full", "--to", "ndjson", "-o", "full.ndjson"], check_rc=0)
with open("full.ndjson", encoding="utf-8") as f:
    ex = [json.loads(x) for x in f]
check(len(ex) == 120 and all(e["text"] == r["text"] and e["author"] == r["author"] and e["url"] == r["url"]
                             for e, r in zip(ex, full_rows)), "export --to ndjson: text and kept columns of every row")

# verify catches an edited text, even with the manifest's checksum of the ids file fixed up to match.
shutil.copytree("full", "edited")
m = manifest("edited")
ids_path = os.path.join("edited", m["shards"][0]["ids_file"])
content = unzstd(ids_path).replace(b"tweet number 3 about", b"tweet number 3 ABOUT", 1)
try:
    import zstandard
    blob = zstandard.ZstdCompressor(write_checksum=True).compress(content)
except ImportError:
    blob = subprocess.run(["zstd", "-c", "--check"], input=content, check=True, stdout=subprocess.PIPE).stdout
with open(ids_path, "wb") as f:
    f.write(blob)
p = run(["verify", "edited"])
check(p.returncode == 3 and m["shards"][0]["ids_file"] in p.stderr, f"verify names the edited ids file: {p.stderr.strip()}")
m["shards"][0]["ids_sha256"] = hashlib.sha256(blob).hexdigest()
with open("edited/manifest.json", "w") as f:
    json.dump(m, f)
p = run(["verify", "edited"])
check(p.returncode == 3 and "line 4" in p.stderr and "not the text embedded" in p.stderr,
      f"verify catches the edited text by its hash with the checksum fixed up: rc {p.returncode} {p.stderr.strip()}")

# search: the stored text, with the input gone, from another working folder.
os.makedirs("gone", exist_ok=True)
shutil.copy("rt.jsonl", "gone/in.jsonl")
embed(["gone/in.jsonl"], "searchme")
os.remove("gone/in.jsonl")
p = subprocess.run([cli(), "search", os.path.join(root, "searchme"), "tweet number 17 about bikes", "-m", model, "-k", "120"],
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/")
check(p.returncode == 0 and "tweet number 17 about bikes &amp; rain" in p.stdout and "cannot be read" not in p.stderr,
      f"search prints the stored text with the input deleted, from /: rc {p.returncode} {p.stderr.strip()[:300]}")
embed(["rt.jsonl"], "searchme-notext-clean", "--no-text", "--clean", "html")
p = subprocess.run([cli(), "search", os.path.join(root, "searchme-notext-clean"), "tweet number 17 about bikes", "-m",
                    model, "-k", "120"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/")
check(p.returncode == 0 and "tweet number 17 about bikes & rain" in p.stdout and "not shown" not in p.stderr,
      f"search of a --no-text --clean folder reads the inputs again, cleaned, so the hashes match: {p.stderr[-300:]}")
embed(["rt.jsonl"], "searchme-notext", "--no-text")
os.rename("rt.jsonl", "rt.moved")
p = subprocess.run([cli(), "search", os.path.join(root, "searchme-notext"), "tweet", "-m", model, "-k", "2"],
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/")
check(p.returncode == 0 and "tweet number" not in p.stdout,
      "a --no-text folder whose input is gone prints rows without text (the old way)")

shutil.rmtree(root, ignore_errors=True)
finish(NAME)
