#!/usr/bin/python3
"""A small task dataset made from text on the machine: who said it, in JSON.

`make`: reads the English fortune files of Debian's `fortunes` and
`fortunes-min` packages (the text the bundled default model was trained on)
and keeps the short entries that end in an attribution line
("\t\t-- Mark Twain"). Each becomes a chat example:

  user:      <the quote on one line>\n-- <author>\n\nWho said it? Answer in JSON.
  assistant: {"author": "<author>"}

so the task is to follow an answer format the base model has never seen and
copy the name into it. Authors are split by a hash of the name: those of the
test set never appear in training, so a model that scores there has learnt
the format and the copy, not the names. Writes OUT/train.jsonl and
OUT/test.jsonl (frugal finetune's chat format), and OUT/train.txt (the
training conversations rendered in ChatML, one after another, for
`frugal train --init`).

`score`: the greedy answers of a model served by `frugal serve` (its URL, and
an adapter's name as the request's model, or none for the base) against the test set: exact match
of the whole answer, and how many answers are valid JSON of the right shape.
"""
import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import urllib.request

QUESTION = "Who said it? Answer in JSON."
NAME = re.compile(r"^[A-Z][A-Za-z.' -]{2,28}[a-z.]$")  # a plain name: no titles, quotes or commas
MAX_QUOTE = 150  # characters: with the template and the answer, within the model's 128-token context


def fortune_files():
    listed = subprocess.run(["dpkg", "-L", "fortunes", "fortunes-min"], capture_output=True, text=True,
                            check=True).stdout.split()
    return sorted({f for f in listed if re.fullmatch(r"/usr/share/games/fortunes/[^/.]+", f)})


def attributed(path):
    """(quote, author) of each entry whose last line is a plain-name attribution."""
    with open(path, encoding="utf-8", errors="replace") as fd:
        entries = fd.read().split("\n%\n")
    for e in entries:
        lines = [l for l in e.strip("\n").split("\n") if l.strip()]
        if len(lines) < 2:
            continue
        m = re.fullmatch(r"\s*--\s*(.+?)\s*", lines[-1])
        if not m or not NAME.match(m.group(1)):
            continue
        quote = " ".join(l.strip() for l in lines[:-1])
        if len(quote) <= MAX_QUOTE and "--" not in quote:
            yield quote, m.group(1)


def example(quote, author):
    return {"messages": [{"role": "user", "content": f"{quote}\n-- {author}\n\n{QUESTION}"},
                         {"role": "assistant", "content": json.dumps({"author": author})}]}


def chatml(ex):
    return "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in ex["messages"])


def make(args):
    seen, train, test = set(), [], []
    for path in fortune_files():
        if not os.path.isfile(path):
            continue
        for quote, author in attributed(path):
            if (quote, author) in seen:
                continue
            seen.add((quote, author))
            held_out = int(hashlib.sha256(author.encode()).hexdigest(), 16) % 10 == 0
            (test if held_out else train).append(example(quote, author))
    train = train[:args.train]
    test = test[:args.test]
    for name, rows in (("train.jsonl", train), ("test.jsonl", test)):
        with open(f"{args.out}/{name}", "w") as fd:
            fd.writelines(json.dumps(r) + "\n" for r in rows)
    with open(f"{args.out}/train.txt", "w") as fd:
        fd.writelines(chatml(r) for r in train)
    print(f"quote_task: {len(train)} training and {len(test)} test examples "
          f"({len({r['messages'][1]['content'] for r in test})} test authors, none in training)")


def score(args):
    rows = [json.loads(l) for l in open(args.test)]
    exact = valid = 0
    shown = []
    for r in rows:
        want = r["messages"][1]["content"]
        body = {"messages": [r["messages"][0]], "temperature": 0, "max_tokens": 24}
        if args.model:  # an adapter's name; none: the base model
            body["model"] = args.model
        req = urllib.request.Request(args.url + "/v1/chat/completions", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
        got = json.load(urllib.request.urlopen(req))["choices"][0]["message"]["content"].strip()
        exact += got == want
        try:
            valid += isinstance(json.loads(got), dict) and list(json.loads(got)) == ["author"]
        except ValueError:
            pass
        if len(shown) < args.show:
            shown.append(f"  want {want}\n  got  {got!r}")
    print("\n".join(shown))
    print(f"{args.label}: exact match {exact}/{len(rows)} ({100.0 * exact / len(rows):.1f}%), "
          f"valid JSON answers {valid}/{len(rows)} ({100.0 * valid / len(rows):.1f}%)")


p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
sub = p.add_subparsers(dest="cmd", required=True)
m = sub.add_parser("make")
m.add_argument("out")
m.add_argument("--train", type=int, default=2000)
m.add_argument("--test", type=int, default=200)
s = sub.add_parser("score")
s.add_argument("test")
s.add_argument("--url", default="http://127.0.0.1:8090")
s.add_argument("--model", default="", help="the served adapter's name (default: the base model)")
s.add_argument("--label", default="model")
s.add_argument("--show", type=int, default=0)
a = p.parse_args()
sys.exit(make(a) if a.cmd == "make" else score(a))
