#!/usr/bin/python3
"""frugal on a converted Hugging Face checkpoint vs a float64 numpy forward
that reads the checkpoint under its Hugging Face names (hf_checkpoint.py):
the same logits at every position, for llama (Mixtral-style MoE and dense,
whose q/k rows convert permutes), qwen2, qwen3, qwen2moe, qwen3moe, olmoe and
deepseek2 (V2-Lite, V3 and Kimi-K2 style, with YaRN; kv_b joint and split;
V3 and K2 with fp8 block-scaled projections), glm4moe (GLM-4.5 and -Air style),
gpt-oss (its MXFP4 experts decoded from the checkpoint's blocks here),
llama4 (Scout style and with dense layers between the MoE ones), qwen3next,
qwen35moe (its value heads grouped by key head in the checkpoint, tiled in
the file), minimax-m2 (plain and with fp8 block-scaled projections), dots1, ernie4_5-moe, bailingmoe2, hunyuan-moe,
deepseek4 (DeepSeek-V4's names, through frugal_ref.deepseek4's arithmetic; plain, and with
fp8 projections under E8M0 scales and FP4 experts as its published checkpoints),
and the rope_scaling types convert carries (llama3, linear, yarn, Hunyuan's dynamic alpha)."""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hf_checkpoint import hf_logits  # noqa: E402

FRUGAL = os.environ.get("FRUGAL")
TOL = 1e-4  # max|delta| / max|ref|, f32 weights (frugal computes in f32)
CASES = [("llama", "tiny", None), ("llama", "tiny-dense", None), ("qwen2", "tiny", None), ("qwen3", "tiny", None),
         ("qwen2moe", "tiny", None), ("qwen3moe", "tiny", None), ("olmoe", "tiny", None),
         ("deepseek2", "tiny", None), ("deepseek2", "tiny-v3", None), ("deepseek2", "tiny-k2", None),
         ("glm4moe", "tiny", None), ("glm4moe", "tiny-air", None), ("gpt-oss", "tiny", None),
         # Llama 4: Scout style, and MoE every 2nd layer with Scout's rope_scaling (llama3, high == low).
         ("llama4", "tiny-scout", None), ("llama4", "tiny", None),
         # Qwen3-Next: Gated DeltaNet and gated attention layers, norms stored less 1, A_log.
         ("qwen3next", "tiny", None),
         # Qwen3.5-MoE: the DeltaNet's projections apart, value heads grouped by key head, experts stacked.
         ("qwen35moe", "tiny", None),
         # MiniMax-M2: Mixtral's module names, whole-vector q/k norm, rotary_dim, the bias in the MoE block.
         ("minimax-m2", "tiny", None),
         # dots.llm1: per-head q/k norm, DeepSeek-V3's MoE with two shared experts and a routed scale.
         ("dots1", "tiny", None),
         # ERNIE-4.5-MoE: interleaved RoPE, dense and MoE layers alternating, the bias in moe_statics.
         ("ernie4_5-moe", "tiny", None),
         # Ling 2.0: one query_key_value matrix, its own module names, DeepSeek-V3's MoE in groups.
         ("bailingmoe2", "tiny", None),
         # Hunyuan-A13B: q/k norms after RoPE, the router as gate.wg, the shared FFN as shared_mlp, tied.
         ("hunyuan-moe", "tiny", None),
         # DeepSeek-V4: its own module names, hyper-connections, compressors, the indexer, a hash layer.
         ("deepseek4", "tiny", None),
         # rope_scaling, with an original context shorter than the prompt so that it matters:
         # Llama 3.1's (convert writes rope_freqs.weight), linear, YaRN.
         ("llama", "tiny-dense", {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                  "high_freq_factor": 4.0, "original_max_position_embeddings": 16}),
         ("llama", "tiny", {"type": "linear", "factor": 4.0}),
         ("qwen3", "tiny", {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 8}),
         # Hunyuan's dynamic alpha: RoPE's base times alpha^(d / (d - 2)).
         ("hunyuan-moe", "tiny", {"type": "dynamic", "alpha": 1000.0, "factor": 1.0}),
         # DeepSeek-V3's float8_e4m3 projections with a scale per block (32x32
         # here so that the tiny matrices hold several), kv_b joint and split.
         ("deepseek2", "tiny-v3", None, "--fp8-block", 32), ("deepseek2", "tiny-k2", None, "--fp8-block", 32),
         # MiniMax-M2's published weights are float8_e4m3 in 128x128 blocks too.
         ("minimax-m2", "tiny", None, "--fp8-block", 32),
         # DeepSeek-V4's: fp8 projections with power-of-two F8_E8M0 scales (X.scale), FP4 experts.
         ("deepseek4", "tiny", None, "--fp8-block", 32)]


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
        for i, (arch, preset, rope_scaling, *synth_args) in enumerate(CASES):
            hf = os.path.join(work, f"{arch}-{preset}-{i}")
            gguf = hf + ".gguf"
            frugal("synth", "--arch", arch, "--preset", preset, "--format", "hf", "--seed", seed, *synth_args, "-o", hf)
            if rope_scaling:
                with open(os.path.join(hf, "config.json")) as f:
                    cfg = json.load(f)
                cfg["rope_scaling"] = rope_scaling
                with open(os.path.join(hf, "config.json"), "w") as f:
                    json.dump(cfg, f)
            split = ["--mla-kv-b", "split"] if preset == "tiny-k2" else []  # attn_k_b/attn_v_b
            frugal("convert", hf, "--type", "f32", *split, "-o", gguf)
            if arch == "gpt-oss" or (arch == "deepseek4" and synth_args):
                # MXFP4 (and DeepSeek-V4's FP4) experts stay MXFP4: decoded to f32 so that only the layout is compared
                frugal("quantize", gguf, gguf + ".f32", "f32")
                gguf += ".f32"
            tokens = [int(t) for t in rng.integers(0, 512, 32)]
            out = os.path.join(work, "logits.bin")
            frugal("logits", "-m", gguf, "--tokens", ",".join(map(str, tokens)), "-o", out, "--mode", "batch",
                   "-t", 2, "--kv-type", "f32")
            got = np.fromfile(out, dtype="<f4").astype(np.float64).reshape(len(tokens), -1)
            ref = hf_logits(hf, tokens)
            err = float(np.abs(got - ref).max() / np.abs(ref).max())
            ok = err <= TOL
            what = ""
            if rope_scaling:  # the scaling must change the logits well beyond the tolerance
                plain = hf_logits(hf, tokens, {"rope_scaling": None})
                effect = float(np.abs(plain - ref).max() / np.abs(ref).max())
                ok = ok and effect > 100 * TOL
                what = (f" rope_scaling {rope_scaling.get('rope_type', rope_scaling.get('type'))}"
                        f" (which changes the logits by {effect:.2e})")
            failed += not ok
            what += " " + " ".join(map(str, synth_args)) if synth_args else ""
            print(f"{'ok  ' if ok else 'FAIL'} {arch} {preset}{what}: logits rel err {err:.2e} (seed {seed})", flush=True)
    if failed:
        print(f"{failed} case(s) failed; replay with FRUGAL_REF_SEED={seed}")
        sys.exit(1)
    print("OK")


if __name__ == "__main__":
    main()
