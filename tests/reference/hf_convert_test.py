#!/usr/bin/python3
"""frugal on a converted Hugging Face checkpoint vs a float64 numpy forward
that reads the checkpoint under its Hugging Face names (hf_checkpoint.py):
the same logits at every position, for llama (Mixtral-style MoE and dense,
whose q/k rows convert permutes), qwen2, qwen3, qwen2moe, qwen3moe and olmoe."""
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hf_checkpoint import hf_logits  # noqa: E402

FRUGAL = os.environ.get("FRUGAL")
TOL = 1e-4  # max|delta| / max|ref|, f32 weights (frugal computes in f32)
CASES = [("llama", "tiny"), ("llama", "tiny-dense"), ("qwen2", "tiny"), ("qwen3", "tiny"), ("qwen2moe", "tiny"),
         ("qwen3moe", "tiny"), ("olmoe", "tiny")]


def frugal(*args):
    r = subprocess.run([FRUGAL, "-q", *map(str, args)], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"frugal {' '.join(map(str, args))} exited {r.returncode}: {r.stderr.strip()}")
    return r.stdout


def main():
    if not FRUGAL:
        raise SystemExit("set FRUGAL to the frugal binary (ctest does)")
    seed = int.from_bytes(os.urandom(4), "little") if "FRUGAL_REF_SEED" not in os.environ else int(
        os.environ["FRUGAL_REF_SEED"])
    rng = np.random.default_rng(seed)
    failed = 0
    with tempfile.TemporaryDirectory() as work:
        for arch, preset in CASES:
            hf = os.path.join(work, f"{arch}-{preset}")
            gguf = hf + ".gguf"
            frugal("synth", "--arch", arch, "--preset", preset, "--format", "hf", "--seed", seed, "-o", hf)
            frugal("convert", hf, "--type", "f32", "-o", gguf)
            tokens = [int(t) for t in rng.integers(0, 512, 16)]
            out = os.path.join(work, "logits.bin")
            frugal("logits", "-m", gguf, "--tokens", ",".join(map(str, tokens)), "-o", out, "--mode", "batch",
                   "-t", 2, "--kv-type", "f32")
            got = np.fromfile(out, dtype="<f4").astype(np.float64).reshape(len(tokens), -1)
            ref = hf_logits(hf, tokens)
            err = float(np.abs(got - ref).max() / np.abs(ref).max())
            ok = err <= TOL
            failed += not ok
            print(f"{'ok  ' if ok else 'FAIL'} {arch} {preset}: logits rel err {err:.2e} (seed {seed})", flush=True)
    if failed:
        print(f"{failed} case(s) failed; replay with FRUGAL_REF_SEED={seed}")
        sys.exit(1)
    print("OK")


if __name__ == "__main__":
    main()
