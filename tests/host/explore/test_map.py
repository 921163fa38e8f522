"""test_map.py - `embedpipe map` through the command line, and its page in a real headless browser.

On 2,000 real tweets (../shared/data/tweeteval, skipped when absent) plus 60 planted near-copies of three
tweets, embedded with a tiny random model (the layout does not care which model made the rows):
- map (UMAP) computes and keeps the neighbour table, writes map-xy.npy.zst (rows, 2) listed in derived.json
  with its settings; verify accepts the folder; a second run with the same settings reuses the layout;
- the layout is byte-identical for -t 1 and -t 2 (same seed), and differs for another seed; so is the one from
  the spectral start (--init spectral), whose outcome derived.json keeps beside the settings;
- the planted copies of each tweet land together, apart from the other two groups;
- --method pca writes a layout too; embed --overwrite removes map-xy.npy.zst;
- the PNG is a valid image whose pixels show the points in several cluster colours and labels;
- the HTML page is one file with no network reference; in Debian's chromium (when installed; the
  browser checks are skipped with a message otherwise) the page draws every point, hovering a row
  shows its tweet, the search box marks exactly the rows whose text matches, a click marks the row's
  neighbours; screenshots show coloured points, and after a search, the matches over grey.
Until embed keeps texts, the test puts the tweets it embedded into the page's data (the same JSON
list embed's kept text gives) to check hover and search; a page without them says "no text kept".
"""
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # pipeline_util.py
from pipeline_util import *  # noqa: E402,F403

cli()
data = os.environ.get("EP_SHARED_DATA", "")
if not os.path.isdir(os.path.join(data, "tweeteval")):
    print(f"SKIP: {data}/tweeteval not found; the shared tweet data is not beside this checkout")
    sys.exit(SKIP)
root = workdir("map")
model = tiny_model(root, hidden=64, heads=2)
base = ["-m", model, "--device", "cpu", "-q", "-t", "2"]

texts, seen = [], set()
for name in sorted(os.listdir(os.path.join(data, "tweeteval"))):
    if not name.endswith("_text.txt"):
        continue
    with open(os.path.join(data, "tweeteval", name), encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.strip() and line not in seen and len(texts) < 2000:
                seen.add(line)
                texts.append(line)
# three planted groups: 20 near-copies each of one tweet (a word appended), far from each other
planted = {}
for g, src in enumerate((10, 500, 1500)):
    for j in range(20):
        planted[len(texts)] = g
        texts.append(f"{texts[src]} {['again', 'too', 'yes', 'so', 'now'][j % 5]}{'!' * (j // 5)}")
n = len(texts)
inp = os.path.join(root, "tweets.ndjson")
write_lines(inp, [json.dumps({"id": f"t{i}", "text": t}, ensure_ascii=False) for i, t in enumerate(texts)])
out = os.path.join(root, "out")
run(["embed", inp, "-o", out] + base, check_rc=0)


def npy_zst(path):
    """A derived .npy.zst as (shape, dtype char, raw values), with the standard library only."""
    try:
        import zstandard
        with open(path, "rb") as f:
            raw = zstandard.ZstdDecompressor().stream_reader(f).read()
    except ImportError:
        raw = subprocess.run(["zstd", "-dc", path], stdout=subprocess.PIPE, check=True).stdout
    hlen = struct.unpack("<H", raw[8:10])[0]
    header = raw[10:10 + hlen].decode()
    shape = tuple(int(v) for v in re.search(r"'shape': \(([^)]*)\)", header).group(1).split(",") if v.strip())
    kind = re.search(r"'descr': '<(\w)4'", header).group(1)
    vals = struct.unpack(f"<{len(raw[10 + hlen:]) // 4}{kind}", raw[10 + hlen:])
    return shape, kind, vals


def derived():
    with open(os.path.join(out, "derived.json"), encoding="utf-8") as f:
        return json.load(f)


def read_png(path):
    """(width, height, rows of (r, g, b) tuples) of an 8-bit RGB or RGBA PNG: our own and chromium's."""
    with open(path, "rb") as f:
        blob = f.read()
    check(blob[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG")
    pos, idat, w = 8, b"", 0
    while pos < len(blob):
        length, kind = struct.unpack(">I4s", blob[pos:pos + 8])
        body = blob[pos + 8:pos + 8 + length]
        check(zlib.crc32(kind + body) == struct.unpack(">I", blob[pos + 8 + length:pos + 12 + length])[0],
              f"{path}: bad CRC in {kind}")
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            check(depth == 8 and ctype in (2, 6), f"{path}: depth {depth} colour type {ctype}")
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw, stride, prev, rows = zlib.decompress(idat), w * bpp, bytearray(w * bpp), []
    for y in range(h):
        ft, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if ft == 1:
                line[i] = (line[i] + a) & 255
            elif ft == 2:
                line[i] = (line[i] + b) & 255
            elif ft == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif ft == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append([tuple(line[x * bpp:x * bpp + 3]) for x in range(w)])
        prev = line
    return w, h, rows


def colour_counts(rows, x0=0, x1=None):
    """{(r, g, b): pixels} over columns [x0, x1) with colours quantised to 32 levels."""
    counts = {}
    for row in rows:
        for p in row[x0:x1]:
            q = (p[0] >> 3, p[1] >> 3, p[2] >> 3)
            counts[q] = counts.get(q, 0) + 1
    return counts


def saturated(q):
    return max(q) - min(q) >= 6  # a cluster colour, not white, grey or black (levels of 8 units)


# --- UMAP: neighbours computed and kept, layout listed with its settings, verify, reuse
p = run(["map", out, "-t", "1"], check_rc=0)
check("computing the exact 14 nearest neighbours" in p.stderr, "map says it computes the neighbours: " + p.stderr)
d = derived()
names = {f["name"]: f for f in d["files"]}
check("map-xy.npy.zst" in names and names["map-xy.npy.zst"]["by"] == "map", f"derived.json: {d}")
check("related-rows.npy.zst" in names, "map keeps the neighbour table it computed")
check(d["settings"]["map"]["method"] == "umap" and d["settings"]["map"]["neighbours"] == 15 and
      d["settings"]["map"]["epochs"] == 500, f"settings: {d['settings']}")
check(run(["verify", out]).returncode == 0, "verify refuses a folder with map-xy.npy.zst")
shape, kind, xy1 = npy_zst(os.path.join(out, "map-xy.npy.zst"))
check(shape == (n, 2) and kind == "f", f"map-xy shape {shape} kind {kind}")
check(all(v == v and abs(v) < 1e6 for v in xy1), "map-xy holds NaN or huge values")
first = open(os.path.join(out, "map-xy.npy.zst"), "rb").read()
p = run(["map", out, "-t", "2"], check_rc=0)
check("reusing" in p.stderr, "a second map with the same settings reuses the layout: " + p.stderr)

# --- thread count: a copy of the folder laid out on 2 threads gives the same bytes
copy = os.path.join(root, "copy")
shutil.copytree(out, copy)
os.remove(os.path.join(copy, "map-xy.npy.zst"))  # not reusable any more: computed again
p = run(["map", copy, "-t", "2"], check_rc=0)
check("using the kept neighbour table" in p.stderr, "map uses the kept related table: " + p.stderr)
check(open(os.path.join(copy, "map-xy.npy.zst"), "rb").read() == first, "-t 1 and -t 2 give different layouts")
run(["map", copy, "-t", "2", "--seed", "2"], check_rc=0)
check(npy_zst(os.path.join(copy, "map-xy.npy.zst"))[2] != xy1, "--seed 2 gives the same layout as seed 1")

# --- the spectral start: recorded with its outcome, the same bytes on 1 and 2 threads, reused despite the outcome
spec = os.path.join(root, "spectral")
shutil.copytree(copy, spec)
p = run(["map", spec, "-t", "1", "--init", "spectral"], check_rc=0)
check("spectral start" in p.stderr, "map says how the spectral start went: " + p.stderr)
with open(os.path.join(spec, "derived.json"), encoding="utf-8") as f:
    s = json.load(f)["settings"]["map"]
check(s["init"] == "spectral" and s["start"]["spectral_rows"] + s["start"]["pca_rows"] == n and
      s["start"]["components"] >= 1, f"spectral settings: {s}")
first_spectral = open(os.path.join(spec, "map-xy.npy.zst"), "rb").read()
check(first_spectral != first, "--init spectral gives the PCA start's layout")
check("reusing" in run(["map", spec, "--init", "spectral"], check_rc=0).stderr, "a spectral layout is not reused")
os.remove(os.path.join(spec, "map-xy.npy.zst"))
run(["map", spec, "-t", "2", "--init", "spectral"], check_rc=0)
check(open(os.path.join(spec, "map-xy.npy.zst"), "rb").read() == first_spectral,
      "--init spectral: -t 1 and -t 2 give different layouts")
run(["map", spec, "--init", "random"], check_rc=2)

# --- the planted groups stay together and apart
groups = [[i for i, g in planted.items() if g == k] for k in range(3)]
centre = [(sum(xy1[2 * i] for i in grp) / len(grp), sum(xy1[2 * i + 1] for i in grp) / len(grp)) for grp in groups]
radius = max(((xy1[2 * i] - centre[k][0]) ** 2 + (xy1[2 * i + 1] - centre[k][1]) ** 2) ** 0.5
             for k, grp in enumerate(groups) for i in grp)
gap = min(((centre[a][0] - centre[b][0]) ** 2 + (centre[a][1] - centre[b][1]) ** 2) ** 0.5
          for a in range(3) for b in range(a + 1, 3))
check(gap > 2 * radius, f"planted groups overlap: gap {gap:.3f}, radius {radius:.3f}")

# --- PCA
run(["map", copy, "--method", "pca"], check_rc=0)
shape, _, _ = npy_zst(os.path.join(copy, "map-xy.npy.zst"))
with open(os.path.join(copy, "derived.json"), encoding="utf-8") as f:
    check(shape == (n, 2) and json.load(f)["settings"]["map"]["method"] == "pca", f"pca shape {shape}")
run(["map", copy, "--method", "tsne"], check_rc=2)

# --- pictures: cluster first, then the page and the PNG
run(["cluster", out, "-k", "6", "-t", "2"], check_rc=0)
html, png = os.path.join(root, "map.html"), os.path.join(root, "map.png")
p = run(["map", out, "--html", html, "--png", png, "--png-size", "800x500"], check_rc=0)
check("reusing" in p.stderr, "map --html reuses the layout: " + p.stderr)
check(run(["verify", out]).returncode == 0, "verify after cluster + map")
w, h, rows = read_png(png)
check((w, h) == (800, 500), f"PNG size {w}x{h}")
counts = colour_counts(rows, 0, w - 300)
hues = [q for q, c in counts.items() if saturated(q) and c >= 20]
check(len(hues) >= 4, f"PNG shows {len(hues)} cluster colours")
check(sum(c for q, c in counts.items() if saturated(q)) > 2000, "PNG shows few coloured pixels")
page = open(html, encoding="utf-8").read()
check(not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", page), "the page refers to the network")
check(page.count("<script") == 2 and "window.EP_DATA" in page, "the page's data and script are inline")

# --- overwrite removes the layout with the rows it described
run(["embed", inp, "-o", copy, "--overwrite"] + base, check_rc=0)
check(not os.path.exists(os.path.join(copy, "map-xy.npy.zst")), "embed --overwrite leaves map-xy.npy.zst")

# --- the page in a real browser
chromium = shutil.which("chromium") or shutil.which("chromium-browser")
if not chromium:
    print("SKIP (browser checks only): chromium is not installed; `apt-get install chromium` "
          "(scripts/test.sh does) to open the page in a headless browser")
    finish("test_map")

if '"texts":null' in page:
    # embed kept no text: give the page the tweets as embed's kept text would
    page = page.replace('"texts":null', '"texts":' + json.dumps([t[:200] + ("\u2026" if len(t) > 200 else "")
                                                                 for t in texts], ensure_ascii=True), 1)
    check(page.count('"texts":[') == 1, "could not put the texts into the page")
else:
    print("note: the page carries the kept texts itself")
page_t = os.path.join(root, "map-texts.html")
with open(page_t, "w", encoding="utf-8") as f:
    f.write(page)
profile = os.path.join(root, "chromium-profile")


def browse(path, fragment, *extra):
    args = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
            f"--user-data-dir={profile}", "--window-size=1280,800", "--virtual-time-budget=4000", *extra,
            "file://" + path + fragment]
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=90)


row, word = 10, "love"
matches = sum(1 for t in texts if word in t[:200].lower())
check(matches > 5, f"only {matches} tweets with '{word}'")
p = browse(page_t, f"#test=hover:{row};search:{word};click:{row}", "--dump-dom")
m = re.search(r'<pre id="state">(.*?)</pre>', p.stdout, re.S)
check(m is not None, "the page wrote no state: " + p.stderr[-1500:])
if m:
    import html as html_lib
    states = json.loads(html_lib.unescape(m.group(1)))
    hover, search, click = states
    check(hover["drawn"] == n and hover["pixels"] > 2000, f"points drawn {hover['drawn']} of {n}, "
          f"{hover['pixels']} pixels")
    check(hover["labels"] >= 3, f"{hover['labels']} cluster labels on the map")
    check(hover["hover"] is not None and hover["hoverRow"] >= 0 and
          texts[hover["hoverRow"]][:60] in hover["hover"], f"hover shows {hover['hover']!r}")
    # row 10 has 20 planted near-copies (rows 2000..2019) drawn at nearly its point: one of them may be on top
    # (which one depends on the vectors' last bits: auto is bf16 on some CPUs)
    same_spot = lambda r: r == row or xy1[2 * r] == xy1[2 * row] or planted.get(r) == 0  # noqa: E731
    check(same_spot(hover["hoverRow"]), f"hover row {hover['hoverRow']}")
    check(search["marked"] == matches, f"search '{word}' marks {search['marked']} rows, {matches} match")
    sel = click["selected"]
    nb = npy_zst(os.path.join(out, "related-rows.npy.zst"))[2][sel * 14:sel * 14 + 10]
    check(same_spot(sel) and click["marked"] == 1 + len(set(nb) - {sel}),
          f"click marks {click['marked']} rows, selected {click['selected']}")
# without texts the page says so
p = browse(html, f"#test=hover:{row}", "--dump-dom")
m = re.search(r'<pre id="state">(.*?)</pre>', p.stdout, re.S)
if '"texts":null' in open(html, encoding="utf-8").read():
    check(m is not None and "no text kept" in m.group(1), "a page without texts does not say so")

# screenshots: coloured points; after a search, the matches in colour over grey
shots = {}
for tag, fragment in (("plain", ""), ("search", f"#test=search:{word}")):
    shot = os.path.join(root, f"shot-{tag}.png")
    browse(page_t, fragment, f"--screenshot={shot}")
    check(os.path.exists(shot), f"chromium wrote no screenshot {shot}")
    if os.path.exists(shot):
        sw, sh, srows = read_png(shot)
        shots[tag] = colour_counts(srows[50:], 0, sw - 270)
if len(shots) == 2:
    coloured = {k: sum(c for q, c in v.items() if saturated(q)) for k, v in shots.items()}
    grey = shots["search"].get((27, 27, 27), 0)  # #dcdcdc: the rows that do not match
    check(coloured["plain"] > 3000, f"the screenshot shows {coloured['plain']} coloured pixels")
    check(grey > 1000 and 0 < coloured["search"] < coloured["plain"],
          f"after the search: {grey} grey pixels, {coloured['search']} coloured (before {coloured['plain']})")
print(f"page, PNG and screenshots in {root}")
finish("test_map")
