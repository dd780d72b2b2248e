#!/usr/bin/python3
"""Training-step speed: frugal train beside PyTorch on the same CPU.

Tokens per second of full training steps (forward, backward, gradient
clipping, AdamW) for the same model, batch, sequence length and thread count,
frugal and PyTorch (Debian's python3-torch, f32, eager, the model of
tests/reference/torch_train_ref.py) measured one after the other in one run.
frugal's figure is the tokens_per_second of its second logging window (the
first holds the warm-up); PyTorch's is timed over the same number of steps
after as many warm-up steps. Shapes: the default model's (models/README.md) and
a fine-grained one with 32 experts of width 64, top-8 (the same active FFN
width), and the bundled default model's (n_embd 128, 64 experts of width 32,
top-8, sequences of 256). frugal runs twice: in f32, and with --bf16 (bf16 products, f32 master
weights) where the CPU has AVX512_BF16 ("-" where it has not).
Usage: bench/train_vs_torch.py [--threads 2] [--steps 5] [FRUGAL]
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

SOURCE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(SOURCE, "tests", "reference"))
from torch_train_ref import loss  # noqa: E402

COMMON = dict(embd=256, layer=4, head=8, head_kv=2, head_dim=32, seq=128, batch=16, vocab=2048)
SHAPES = {
    "default (8 experts top-2, width 256)": dict(COMMON, expert=8, used=2, ff=256),
    "fine-grained (32 experts top-8, width 64)": dict(COMMON, expert=32, used=8, ff=64),
    # The bundled default model's shape since 2026-12-07 (scripts/train-default-model).
    "n_embd 128, 64 experts top-8, width 32": dict(COMMON, embd=128, head=4, head_dim=32, expert=64, used=8, ff=32,
                                                 seq=256, batch=32),
}


def frugal_tps(binary, shape, threads, steps, tmp, extra=()):
    text = os.path.join(tmp, "text.txt")
    if not os.path.exists(text):
        with open(text, "w") as f:
            for p in sorted(glob.glob(os.path.join(SOURCE, "docs", "**", "*.md"), recursive=True)):
                f.write(open(p).read())
    log = os.path.join(tmp, "log.jsonl")
    if os.path.exists(log):
        os.remove(log)
    cmd = [binary, "train", "--data", text, "--tokenizer", os.path.join(SOURCE, "models", "fortunes-moe.gguf"),
           "--embd", str(shape["embd"]), "--layers", str(shape["layer"]), "--heads", str(shape["head"]),
           "--heads-kv", str(shape["head_kv"]), "--head-dim", str(shape["head_dim"]),
           "--experts", str(shape["expert"]), "--experts-used", str(shape["used"]), "--ff-exp", str(shape["ff"]),
           "--seq", str(shape["seq"]), "--batch", str(shape["batch"]), "--steps", str(2 * steps),
           "--print-every", str(steps), "-t", str(threads), "--log", log, "-o", os.path.join(tmp, "out.gguf"),
           *extra]
    if subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
        if extra:
            return None  # --bf16 on a CPU without AVX512_BF16
        raise SystemExit(f"train_vs_torch: {' '.join(cmd)} failed")
    recs = [json.loads(line) for line in open(log) if line.strip()]
    return [r for r in recs if "tokens_per_second" in r][-1]["tokens_per_second"]


def torch_tps(shape, threads, steps):
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    D, V, E, Fw = shape["embd"], shape["vocab"], shape["expert"], shape["ff"]
    Q, K = shape["head"] * shape["head_dim"], shape["head_kv"] * shape["head_dim"]
    hd = shape["head_dim"]

    def mat(*s):
        return torch.nn.Parameter(torch.randn(*s) * 0.02)

    def ones(n):
        return torch.nn.Parameter(torch.ones(n))

    W = {"token_embd.weight": mat(V, D), "output_norm.weight": ones(D), "output.weight": mat(V, D)}
    for il in range(shape["layer"]):
        b = f"blk.{il}."
        W.update({b + "attn_norm.weight": ones(D), b + "attn_q.weight": mat(Q, D), b + "attn_k.weight": mat(K, D),
                  b + "attn_v.weight": mat(K, D), b + "attn_q_norm.weight": ones(hd), b + "attn_k_norm.weight": ones(hd),
                  b + "attn_output.weight": mat(D, Q), b + "ffn_norm.weight": ones(D),
                  b + "ffn_gate_inp.weight": mat(E, D), b + "ffn_gate_exps.weight": mat(E, Fw, D),
                  b + "ffn_up_exps.weight": mat(E, Fw, D), b + "ffn_down_exps.weight": mat(E, D, Fw)})
    # The trainer's default model: qwen3moe's per-head q/k norms, NeoX RoPE, a
    # softmax router without groups.
    head = dict(shape, aux=0.01, z=0.001, norm_w=1, eps=1e-6, rope_base=10000.0, rope_neox=1, qk_norm="head",
                sigmoid=0, w_scale=1.0, groups=1, groups_used=1)
    bias = np.zeros((shape["layer"], E), dtype=np.float32)
    opt = torch.optim.AdamW(W.values(), lr=1e-3, weight_decay=0.1)
    rng = np.random.default_rng(1)
    n = shape["batch"] * shape["seq"]

    def step():
        tok = rng.integers(0, V, n).astype(np.int32)
        tgt = rng.integers(0, V, n).astype(np.int32)
        opt.zero_grad(set_to_none=True)
        loss(head, W, bias, tok, tgt)[0].backward()
        torch.nn.utils.clip_grad_norm_(W.values(), 1.0)
        opt.step()

    for _ in range(steps):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * n / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("frugal", nargs="?", default=os.path.join(SOURCE, "build", "frugal"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    a = ap.parse_args()
    print(f"| shape | frugal tok/s | frugal --bf16 tok/s | PyTorch {torch.__version__} tok/s | frugal / PyTorch "
          "| --bf16 / PyTorch |")
    print("|---|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, shape in SHAPES.items():
            f = frugal_tps(a.frugal, shape, a.threads, a.steps, tmp)
            b = frugal_tps(a.frugal, shape, a.threads, a.steps, tmp, ("--bf16",))
            t = torch_tps(shape, a.threads, a.steps)
            bf = ("-", "-") if b is None else (f"{b:,.0f}", f"{b / t:.2f}")
            print(f"| {name} | {f:,.0f} | {bf[0]} | {t:,.0f} | {f / t:.2f} | {bf[1]} |", flush=True)


if __name__ == "__main__":
    main()
