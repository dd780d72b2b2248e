#!/usr/bin/python3
"""A LoRA adapter (llama.cpp's GGUF adapter format) applied by frugal to the attention
projections, the dense FFN, the shared and the routed experts of llama (dense and
Mixtral-style), qwen3moe, qwen2moe (shared expert with its sigmoid gate), glm4moe
(GLM-4.5's and GLM-4.5-Air's tiny presets: a leading dense layer, an ungated shared
expert, the sigmoid router with its selection bias), gpt-oss (experts with biases
and the clamped gated unit, attention sinks, a window on the even layers) and llama4
(top-1 sigmoid experts weighted on their input, dense and MoE layers interleaved) and
deepseek2 (latent attention's q or q_a/q_b, kv_a_mqa, output, and kv_b or a split file's
per-head k_b/v_b, 3-D factors as the experts'; DeepSeek-V2-Lite's, V3's and Kimi-K2's tiny presets),
minimax-m2 (whole-vector q/k norm, partial RoPE, the biased sigmoid router), dots1 (per-head q/k norm,
a leading dense layer, shared experts) and ernie4_5-moe (interleaved RoPE, dense and MoE layers
alternating, ungated shared experts) gives
the logits of the float64 reference whose weights have the adapter merged in
(W + scale * B @ A, scale = lora_scale * alpha / rank); `frugal lora-merge`
writes a model whose logits (and `frugal run`'s greedy ids) are the
adapter-applied run's."""
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_check import EXACT_TOL, frugal, frugal_logits, rel_err, synth  # noqa: E402
from frugal_ref import load_model  # noqa: E402
from frugal_ref import gguf as gguf_format  # noqa: E402

RANK, ALPHA, LORA_SCALE = 4, 8.0, 0.5
TARGETS = ("attn_q", "attn_k", "attn_v", "attn_qkv", "attn_output", "attn_q_a", "attn_q_b", "attn_kv_a_mqa", "attn_kv_b", "attn_k_b",
           "attn_v_b", "ffn_gate", "ffn_up", "ffn_down", "ffn_gate_shexp",
           "ffn_up_shexp", "ffn_down_shexp", "ffn_gate_exps", "ffn_up_exps", "ffn_down_exps")


def _string(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def write_adapter(path, arch, factors):
    """factors: {tensor name: float32 array ([n_expert,] rows, row length)}."""
    md = [("general.architecture", gguf_format.STRING, arch), ("general.type", gguf_format.STRING, "adapter"),
          ("adapter.type", gguf_format.STRING, "lora"), ("adapter.lora.alpha", gguf_format.FLOAT32, ALPHA)]
    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(factors), len(md)))
    for key, vtype, value in md:
        out += _string(key) + struct.pack("<I", vtype)
        out += _string(value) if vtype == gguf_format.STRING else struct.pack("<f", value)
    offset, blobs = 0, []
    for name, a in factors.items():
        out += _string(name) + struct.pack("<I", a.ndim) + b"".join(struct.pack("<Q", n) for n in reversed(a.shape))
        out += struct.pack("<IQ", 0, offset)  # f32
        blob = a.astype("<f4").tobytes()
        blobs.append(blob)
        offset += (len(blob) + 31) // 32 * 32
    out += b"\0" * (-len(out) % 32)
    for blob in blobs:
        out += blob + b"\0" * (-len(blob) % 32)
    with open(path, "wb") as f:
        f.write(out)


def main():
    rng = np.random.default_rng(3)
    tokens = [int(t) for t in rng.integers(0, 256, 24)]
    with tempfile.TemporaryDirectory() as work:
        for arch, preset in (("llama", "tiny-dense"), ("llama", "tiny"), ("qwen3moe", "tiny"),
                              ("qwen2moe", "tiny"), ("glm4moe", "tiny"), ("glm4moe", "tiny-air"),
                              ("gpt-oss", "tiny"), ("llama4", "tiny"), ("deepseek2", "tiny"),
                              ("deepseek2", "tiny-v3"), ("deepseek2", "tiny-k2"), ("minimax-m2", "tiny"),
                              ("dots1", "tiny"), ("ernie4_5-moe", "tiny"), ("bailingmoe2", "tiny"),
                              ("mistral4", "tiny"), ("hunyuan-moe", "tiny")):
            base = synth(work, arch, preset, "f32")
            ref = load_model(base)
            factors = {}
            scale = LORA_SCALE * ALPHA / RANK
            for il in range(ref.cfg.n_layer):
                for t in TARGETS:
                    name = f"blk.{il}.{t}.weight"
                    if not ref.has(name):
                        continue
                    w = ref.file.tensor(name)  # GGUF row order; expert stacks (n_expert, n_out, n_in)
                    lead = w.shape[:-2]
                    a = rng.normal(0, 0.3, lead + (RANK, w.shape[-1])).astype(np.float32)
                    b = rng.normal(0, 0.3, lead + (w.shape[-2], RANK)).astype(np.float32)
                    factors[name + ".lora_a"], factors[name + ".lora_b"] = a, b
                    merged = w + scale * (b.astype(np.float64) @ a.astype(np.float64))
                    if arch == "llama" and t in ("attn_q", "attn_k"):
                        merged = ref._unpermute(merged)
                    ref._cache[name] = merged
            adapter = os.path.join(work, f"{arch}-{preset}-adapter.gguf")
            write_adapter(adapter, arch, factors)
            want = ref.logits(tokens)
            plain = frugal_logits(work, base, tokens)
            out = os.path.join(work, "applied.bin")
            frugal("logits", "-m", base, "--tokens", ",".join(map(str, tokens)), "-o", out, "-t", 2,
                   "--kv-type", "f32", "--lora", adapter, "--lora-scale", LORA_SCALE)
            got = np.fromfile(out, dtype="<f4").astype(np.float64).reshape(len(tokens), -1)
            err = rel_err(got, want)
            moved = rel_err(plain, want)
            print(f"{arch}/{preset}: adapter applied vs float64 merged reference {err:.2e} "
                  f"(base without adapter {moved:.2e})")
            if not err < EXACT_TOL or not moved > 100 * EXACT_TOL:
                raise SystemExit(f"{arch}/{preset}: LoRA logits off: {err:.2e} (adapter moved them {moved:.2e})")
            merged_path = os.path.join(work, f"{arch}-{preset}-merged.gguf")
            frugal("lora-merge", "-m", base, "--lora", adapter, "--lora-scale", LORA_SCALE, "-o", merged_path)
            err_merged = rel_err(frugal_logits(work, merged_path, tokens), got)
            print(f"{arch}/{preset}: lora-merge's model vs the adapter applied {err_merged:.2e}")
            if not err_merged < EXACT_TOL:
                raise SystemExit(f"{arch}/{preset}: merged model's logits off by {err_merged:.2e}")
            greedy = ("--prompt-ids", ",".join(map(str, tokens[:6])), "--print-ids", "--temp", 0, "-n", 12,
                      "--kv-type", "f32", "-t", 2)
            applied_ids = frugal("run", "-m", base, "--lora", adapter, "--lora-scale", LORA_SCALE, *greedy)
            merged_ids = frugal("run", "-m", merged_path, *greedy)
            if applied_ids.split() != merged_ids.split():
                raise SystemExit(f"{arch}/{preset}: run --lora gave {applied_ids.strip()}, the merged model "
                                 f"{merged_ids.strip()}")
        bad = subprocess.run([os.environ["FRUGAL"], "run", "-m", base, "--lora", base, "-p", "x"],
                             capture_output=True, text=True)
        if bad.returncode == 0 or "not an adapter" not in bad.stderr:
            raise SystemExit(f"run --lora with a model file: exit {bad.returncode}, {bad.stderr!r}")


main()
