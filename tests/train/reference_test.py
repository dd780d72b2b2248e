#!/usr/bin/python3
"""frugal train's validation loss against the float64 numpy reference.

A tiny model is trained for a few steps and exported as F32; its last
validation loss (the training forward pass in f32 over fixed windows of the
validation text) must equal the reference model's mean cross-entropy of the
same windows on the exported GGUF within 1e-4: the training forward, the
export and the architecture frugal serves are one model.
"""
import json
import os
import subprocess
import sys
import tempfile

src = os.environ["FRUGAL_SOURCE_DIR"]
frugal = os.environ["FRUGAL"]
sys.path.insert(0, os.path.join(src, "tests", "reference"))
from frugal_ref import load_model  # noqa: E402

T, B = 16, 2
with tempfile.TemporaryDirectory() as d:
    tok = os.path.join(d, "tok.gguf")
    subprocess.run([frugal, "synth", "--arch", "qwen3moe", "--vocab", "260", "--type", "f32", "-o", tok],
                   check=True, capture_output=True)
    train_txt, val_txt = os.path.join(d, "train.txt"), os.path.join(d, "val.txt")
    with open(train_txt, "w") as f:
        for i in range(400):
            f.write(f"the {i % 13} ships sail at dawn; {i * 7 % 11} return by night.\n")
    val_text = "To be, or not to be, that is the question: whether 'tis nobler.\n"
    with open(val_txt, "w") as f:
        f.write(val_text)
    out, log = os.path.join(d, "m.gguf"), os.path.join(d, "m.jsonl")
    subprocess.run([frugal, "train", "--data", train_txt, "--val-data", val_txt, "--tokenizer", tok,
                    "--embd", "32", "--layers", "2", "--heads", "4", "--heads-kv", "2", "--head-dim", "8",
                    "--experts", "4", "--experts-used", "2", "--ff-exp", "32", "--batch", str(B), "--seq", str(T),
                    "--steps", "20", "--lr", "1e-2", "--eval-every", "20", "--eval-batches", "1", "-t", "1",
                    "--log", log, "-o", out], check=True, capture_output=True)
    val_loss = [json.loads(line) for line in open(log)][-1]["val_loss"]

    ids = subprocess.run([frugal, "tokenize", "-m", tok, "-f", val_txt, "--ids", "--no-bos"], check=True,
                         capture_output=True, text=True).stdout.split()
    ids = [int(x) for x in ids]
    m = load_model(out)
    windows = [ids[w * T: w * T + T + 1] for w in range(B)]
    assert all(len(w) == T + 1 for w in windows)
    ref = sum(m.mean_cross_entropy(w) for w in windows) / B
    print(f"train validation loss {val_loss:.6f}, reference {ref:.6f}")
    assert abs(val_loss - ref) < 1e-4, (val_loss, ref)
print("train reference: ok")
