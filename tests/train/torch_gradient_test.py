#!/usr/bin/python3
"""frugal's training gradients against PyTorch's autograd.

train_gradient_dump runs one forward/backward pass of the training model on a
random batch and writes the parameters, the losses and frugal's gradient of
the total loss (cross-entropy + aux + z) for every parameter;
tests/reference/torch_train_ref.py rebuilds the model in PyTorch (float64)
from those parameters. Each loss part must agree to 1e-5 relative, and each
tensor's gradient to 1e-5 in the norm-wise relative error
||g_frugal - g_torch|| / ||g_torch|| (f32 against f64). Cases: dense (one
expert), MoE (qwen3moe, renormalised top-k), a shared expert (qwen2moe layout,
weights not renormalised), a selection bias (auxiliary-loss-free balancing),
aux and z at their defaults (0.01, 0.001), without them, and large; and the
tiny synth model (frugal synth --preset tiny, init=FILE) of every architecture
the trainer continues: qwen3moe, qwen2moe (gated shared expert, q/k/v
biases), olmoe (whole-vector q/k norm), Mixtral-style llama (llama's RoPE
pairing, no q/k norm), deepseek2 as DeepSeek-V2-Lite (latent attention, a
leading dense layer, two ungated shared experts, softmax router, YaRN) and as
DeepSeek-V3 (low-rank queries, sigmoid router with its selection bias in 4
groups of which 2 are used, renormalised and scaled by 2.5) and as Kimi-K2
(attn_kv_b split into attn_k_b and attn_v_b).
Skipped (exit 0 with a message) where Debian's python3-torch is absent.
"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.environ["FRUGAL_SOURCE_DIR"], "tests", "reference"))
from torch_check import Gradients, TOL, finish, rel_error, require_torch  # noqa: E402

require_torch()
from torch_train_ref import gradients  # noqa: E402

DUMP = os.path.join(os.environ["FRUGAL_BUILD_DIR"], "train_gradient_dump")
if not os.path.exists(DUMP):
    sys.exit(f"{DUMP} is missing: build the train_gradient_dump target (part of the default build)")
CASES = {
    "dense": ["expert=1", "used=1", "ff=48"],
    "moe": [],
    "moe_8_top3_gqa4": ["expert=8", "used=3", "head=8", "head_kv=2", "head_dim=4"],
    "moe_no_aux_z": ["aux=0", "z=0"],
    "moe_large_aux_z": ["aux=0.5", "z=0.2"],
    "selection_bias": ["bias=1"],
    "shared_expert": ["shexp=24"],
    "shared_expert_bias": ["shexp=24", "bias=1", "layer=3"],
}

# Continued pre-training of each trainable architecture's synth tiny model.
ARCHS = [("qwen3moe", "tiny"), ("qwen2moe", "tiny"), ("olmoe", "tiny"), ("llama", "tiny"), ("deepseek2", "tiny"),
         ("deepseek2", "tiny-v3"), ("deepseek2", "tiny-k2")]

failures = []
with tempfile.TemporaryDirectory() as tmp:
    for arch, preset in ARCHS:
        model = os.path.join(tmp, arch + preset + ".gguf")
        made = subprocess.run([os.environ["FRUGAL"], "synth", "--arch", arch, "--preset", preset, "--type", "f32",
                               "-o", model], capture_output=True, text=True)
        if made.returncode != 0:
            sys.exit(f"frugal synth --arch {arch} failed: {made.stderr}")
        CASES["synth_" + arch + ("" if preset == "tiny" else "_" + preset[5:])] = ["init=" + model, "seq=6"]
    # The sigmoid router's aux and z gradients where they weigh.
    CASES["synth_deepseek2_v3_large_aux_z"] = CASES["synth_deepseek2_v3"] + ["aux=0.5", "z=0.2"]
    for case, args in CASES.items():
        path = os.path.join(tmp, case + ".bin")
        subprocess.run([DUMP, path] + args, check=True)
        head, pairs, losses = gradients(path)
        for part, (fr, ref) in losses.items():
            err = rel_error(fr, ref)
            if not err <= TOL:
                failures.append(f"{case}: {part} loss {fr!r} vs PyTorch {ref!r} (rel {err:.2e})")
        grads = Gradients()
        for name, (fr, ref) in pairs.items():
            grads.check(name, fr, ref)
        failures += [f"{case}: {e}" for e in grads.errors]
        print(f"{case}: {grads.count} tensors, ce {losses['ce'][0]:.6f}, worst gradient {grads.worst[0]} "
              f"{grads.worst[1]:.2e}")
finish(failures, f"all gradients agree with PyTorch to {TOL}")
