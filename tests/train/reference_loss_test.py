#!/usr/bin/python3
"""frugal train's forward pass against the float64 numpy reference.

A short `frugal train` run evaluates its validation loss after the last step
(with the parameters it then exports) and logs it. The validation windows are
fixed: window w holds tokens [w*T, w*T + T] of the validation text (T = --seq),
batch after batch (--batch x --eval-batches windows, each once here). The
reference (tests/reference/frugal_ref, written independently from the model
definitions) computes the mean cross-entropy of the same windows from the
exported f32 GGUF; the two must agree to 1e-4 relative. Run for an MoE model
(top-2 of 4 experts, GQA), the dense baseline (one expert), a model with a
shared expert (written in the qwen2moe layout), one trained with
--bias-balance (its selection bias exported as blk.N.exp_probs_b.bias), and
new models made in the olmoe and Mixtral-style llama layouts (--arch).
"""
import json
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
except ImportError:
    raise SystemExit("this test needs numpy in " + sys.executable + " (Debian: apt-get install python3-numpy)")

SOURCE = os.environ["FRUGAL_SOURCE_DIR"]
FRUGAL = os.environ["FRUGAL"]
sys.path.insert(0, os.path.join(SOURCE, "tests", "reference"))
from frugal_ref import load_model  # noqa: E402

SEQ, BATCH, EVAL_BATCHES = 32, 2, 2
REL_TOL = 1e-4


def run(*args):
    p = subprocess.run([FRUGAL, *args], capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"FAIL: frugal {' '.join(args)} exited {p.returncode}:\n{p.stderr}")
    return p.stdout


def sentences(seed, n):
    rng = np.random.default_rng(seed)
    subjects = ["the cat", "a dog", "my friend", "the king", "our ship", "no one"]
    verbs = ["sees", "likes", "finds", "eats", "follows", "forgets"]
    objects = ["the moon.", "a red apple.", "the old road.", "some bread.", "the sea.", "a song."]
    return "".join(f"{subjects[rng.integers(6)]} {verbs[rng.integers(6)]} {objects[rng.integers(6)]}\n"
                   for _ in range(n))


def check(d, name, model_flags):
    tok = os.path.join(d, "tok.gguf")
    train_txt, val_txt = os.path.join(d, "train.txt"), os.path.join(d, "val.txt")
    out, log = os.path.join(d, name + ".gguf"), os.path.join(d, name + ".jsonl")
    run("train", "--data", train_txt, "--val-data", val_txt, "--tokenizer", tok, *model_flags,
        "--steps", "25", "--batch", str(BATCH), "--seq", str(SEQ), "--eval-batches", str(EVAL_BATCHES),
        "--eval-every", "25", "--lr", "1e-2", "--warmup", "3", "--seed", "11", "-t", "1",
        "--log", log, "--type", "f32", "-o", out)
    records = [json.loads(line) for line in open(log)]
    val_loss = records[-1]["val_loss"]
    assert records[-1]["step"] == 25 and val_loss is not None, records[-1]

    ids = [int(x) for x in run("tokenize", "-m", tok, "-f", val_txt, "--ids", "--no-bos", "--no-special").split()]
    n_windows = BATCH * EVAL_BATCHES
    assert len(ids) > n_windows * SEQ + 1, "validation text too short"
    ref = load_model(out)
    ref_loss = np.mean([ref.mean_cross_entropy(ids[w * SEQ: w * SEQ + SEQ + 1]) for w in range(n_windows)])
    rel = abs(ref_loss - val_loss) / abs(ref_loss)
    print(f"{name}: training forward {val_loss:.8f}, reference {ref_loss:.8f}, relative difference {rel:.2e}")
    if not rel < REL_TOL:
        raise SystemExit(f"FAIL: {name}: the training forward's loss differs from the reference by {rel:.2e}")
    # Trained a little: the loss is well below uniform (log of the vocabulary), so
    # the comparison is on a model whose routing has left its random start.
    assert val_loss < np.log(ref.n_vocab) - 1.0, val_loss


def main():
    with tempfile.TemporaryDirectory() as d:
        run("synth", "--arch", "qwen3moe", "--type", "f32", "-o", os.path.join(d, "tok.gguf"))
        with open(os.path.join(d, "train.txt"), "w") as f:
            f.write(sentences(1, 600))
        with open(os.path.join(d, "val.txt"), "w") as f:
            f.write(sentences(2, 60))
        small = ["--embd", "32", "--layers", "2", "--heads", "4", "--heads-kv", "2", "--head-dim", "8"]
        check(d, "moe", small + ["--experts", "4", "--experts-used", "2", "--ff-exp", "32"])
        check(d, "dense", small + ["--experts", "1", "--experts-used", "1", "--ff-exp", "64"])
        check(d, "shared", small + ["--experts", "4", "--experts-used", "2", "--ff-exp", "32", "--shared-ff", "48"])
        # Auxiliary-loss-free balancing: the file carries the selection bias
        # (exp_probs_b), which the reference applies as DeepSeek-V3 does; a large
        # rate so the bias overrides router choices within 25 steps.
        check(d, "bias-balanced", small + ["--experts", "4", "--experts-used", "2", "--ff-exp", "32",
                                           "--aux-coef", "0", "--bias-balance", "--bias-rate", "0.05"])
        # New models in the other layouts (--arch; "shared" above is qwen2moe's):
        # the reference reads each file by its own architecture's rules.
        moe = small + ["--experts", "4", "--experts-used", "2", "--ff-exp", "32"]
        check(d, "arch-olmoe", moe + ["--arch", "olmoe"])
        check(d, "arch-llama", moe + ["--arch", "llama"])
    print("ok")


if __name__ == "__main__":
    main()
