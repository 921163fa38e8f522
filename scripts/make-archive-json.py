#!/usr/bin/env python3
"""make-archive-json.py - a Community Archive archive.json made from a Twitter export's tweets.js,
for benchmarks and output comparisons (../shared/data holds no archive.json of its own).

The shape is the one ../shared/data/README.md describes: one JSON object whose keys (account,
profile, tweets, like, follower, following, community-tweet) each hold an array of wrappers like
{"tweet": {...}}, with the export's per-tweet fields; the stored text has control characters
(newlines included) removed; written minified, on one line, as the archive is.

Usage: make-archive-json.py TWEETS_JS OUT [--repeat N]   (N copies of the tweets, for a longer run)
"""
import argparse
import json
import re

CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tweets_js")
    ap.add_argument("out")
    ap.add_argument("--repeat", type=int, default=1)
    a = ap.parse_args()
    with open(a.tweets_js, encoding="utf-8") as f:
        body = f.read()
    tweets = json.loads(body[body.index("["):].rstrip().rstrip(";"))
    for t in tweets:
        tw = t.get("tweet", {})
        for key in ("full_text", "text"):
            if isinstance(tw.get(key), str):
                tw[key] = CONTROL.sub("", tw[key])
    archive = {
        "account": [{"account": {"username": "example", "accountId": "1"}}],
        "profile": [{"profile": {"description": {"bio": "made by scripts/make-archive-json.py"}}}],
        "tweets": tweets * a.repeat,
        "like": [],
        "follower": [],
        "following": [],
        "community-tweet": [],
    }
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(archive, f, ensure_ascii=False, separators=(",", ":"))


if __name__ == "__main__":
    main()
