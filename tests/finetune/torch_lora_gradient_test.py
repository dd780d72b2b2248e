#!/usr/bin/python3
"""frugal finetune's adapter gradients against PyTorch's autograd.

The test LoraGradientDump.ForThePyTorchReference (test_finetune) computes the
LoRA trainer's loss of one example and the gradient of every adapter factor
over a frozen tiny synth model (f32), and writes them with the factors. Here
the model is rebuilt in PyTorch (float64) from the GGUF file with
tests/reference/torch_train_ref.py's layers, each adapted matrix replaced by
W + scale * B A with A and B leaves (per expert for the routed experts, or
one pair for all of a layer's experts with --lora-experts shared); the loss is
the mean cross-entropy over the example's target tokens. The loss must agree
to 1e-5 relative and each factor's gradient to TOL in the norm-wise relative
error ||g_frugal - g_torch|| / ||g_torch|| (f32 against f64). Cases: qwen3
(attention and dense FFN), qwen2 (q/k/v biases, a tied LM head), qwen3moe, Mixtral-style llama, qwen2moe (gated
shared expert, q/k/v biases), olmoe (q/k norm over each token's whole q and
k vectors) and glm4moe (GLM-4.5's and GLM-4.5-Air's tiny presets: RoPE on half
of each head, q/k/v biases, a leading dense layer, a sigmoid router whose
selection bias only chooses, renormalised weights times the routed scale, an
ungated shared expert), gpt-oss (attention sinks, a window of 8 on the
even layers over a 12-token example, YaRN, biases on attn_output, the router
and the experts, the clamped gated unit) and llama4 (chunks of 8, a NoPE layer
tempering its queries, an unweighted per-head q/k norm on the RoPE layers,
RoPE frequency divisors, top-1 sigmoid experts weighted on their input, dense
and MoE layers interleaved) and deepseek2 (latent attention over a joint
attn_kv_b (tiny) or a split attn_k_b/attn_v_b with their per-head factors
(tiny-k2), low-rank queries (tiny-v3, tiny-k2), DeepSeek's YaRN, a leading
dense layer, shared experts, softmax or biased sigmoid routers in groups,
the routed scale; the reference attends unabsorbed), minimax-m2 (q/k norm over a token's whole q and k,
RoPE on half of each head, a sigmoid router with a selection bias, renormalised), dots1
(per-head q/k norm, a leading dense layer, a biased sigmoid router times the routed scale,
shared experts) and ernie4_5-moe (RoPE on interleaved pairs, dense and MoE layers
alternating, a softmax router whose selection bias only chooses, renormalised, ungated
shared experts), deepseek4 (tests/finetune/torch_dsv4.py: hyper-connection streams with their Sinkhorn
mixing, low-rank queries, one key/value head, sinks, a window of 8, compressed entries of ratios 4 (the
indexer keeping 3 of up to 5 over the dump's 20 tokens, its choice held fixed) and 8, the grouped output,
sqrt-softplus routing with a hash layer and clamped units; q_a, q_b, kv, output_a and output_b adapted),
qwen3next and qwen35moe (Gated DeltaNet layers, joint or split in-projections,
tests/reference/torch_deltanet.py, beside attention with an output gate per head, a gated shared
expert) and bailingmoe2 (q, k and v as the rows of one attn_qkv adapted whole, per-head q/k norm, a
biased sigmoid router in groups, a shared expert) with their routed
experts and router adapted, a pair per expert and shared. Skipped (exit 0 with a message) where Debian's
python3-torch is absent.
"""
import json
import math
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.environ["FRUGAL_SOURCE_DIR"], "tests", "reference"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_check import Gradients, TOL, finish, rel_error, require_torch  # noqa: E402

torch = require_torch()
from torch_train_ref import loss as train_loss  # noqa: E402
from torch_dsv4 import loss as dsv4_loss  # noqa: E402
import numpy as np  # noqa: E402
from frugal_ref import read_gguf  # noqa: E402
from frugal_ref.model import Config, rope_inv_freq  # noqa: E402
from reference_check import synth  # noqa: E402

TEST = os.path.join(os.environ["FRUGAL_BUILD_DIR"], "test_finetune")
if not os.path.exists(TEST):
    sys.exit(f"{TEST} is missing: build the test_finetune target")
CASES = [("qwen3", "attn,ffn", "each"), ("qwen2", "attn,ffn", "each"), ("qwen3moe", "attn,experts,router", "each"),
         ("qwen3moe", "experts,router", "shared"), ("llama", "attn,experts,router", "each"),
         ("llama", "attn,experts", "shared"), ("qwen2moe", "attn,shared,experts,router", "each"),
         ("qwen2moe", "shared,experts", "shared"), ("olmoe", "attn,experts,router", "each"),
         ("olmoe", "experts", "shared"), ("glm4moe", "attn,ffn,shared,experts,router", "each"),
         ("glm4moe", "shared,experts,router", "shared"), ("glm4moe/tiny-air", "attn,experts,router", "each"),
         ("gpt-oss", "attn,experts,router", "each"), ("gpt-oss", "experts", "shared"),
         ("llama4", "attn,ffn,shared,experts,router", "each"), ("llama4/tiny-scout", "experts,router", "shared"),
         ("deepseek2", "attn,ffn,shared,experts,router", "each"), ("deepseek2/tiny-v3", "attn,experts,router", "each"),
         ("deepseek2/tiny-k2", "attn,shared,experts", "shared"), ("minimax-m2", "attn,experts,router", "each"),
         ("minimax-m2", "experts", "shared"), ("dots1", "attn,ffn,shared,experts,router", "each"),
         ("dots1", "shared,experts", "shared"), ("ernie4_5-moe", "attn,ffn,shared,experts,router", "each"),
         ("ernie4_5-moe", "shared,experts,router", "shared"), ("qwen3next", "attn,shared,experts,router", "each"),
         ("qwen3next", "attn", "each"), ("qwen35moe", "attn,shared,experts,router", "each"),
         ("qwen35moe", "attn,experts", "shared"), ("bailingmoe2", "attn,ffn,shared,experts,router", "each"),
         ("bailingmoe2", "attn,experts", "shared"), ("mistral4", "attn,shared,experts,router", "each"),
         ("hunyuan-moe", "attn,shared,experts,router", "each"), ("deepseek4", "attn,shared,experts,router", "each"),
         ("deepseek4", "attn,experts", "shared")]


def head_of(md, f):
    """The dimensions and switches torch_train_ref's layers read."""
    arch = md["general.architecture"]
    key = lambda k, d=None: md.get(f"{arch}.{k}", d)  # noqa: E731
    if key("rope.scaling.type", "none") not in ("none", "yarn"):
        sys.exit(f"{arch}: the reference has no linear RoPE scaling")
    cfg = Config(md, f.has)
    inv_freq, magnitude = rope_inv_freq(cfg, cfg.rope_dim)  # YaRN's (gpt-oss), else the plain ones
    if f.has("rope_freqs.weight"):  # llama4's frequency divisors
        inv_freq = inv_freq / np.asarray(f.tensor("rope_freqs.weight"), dtype=np.float64)
    llama4 = arch == "llama4"
    H = int(key("attention.head_count"))
    hd = int(key("attention.key_length", int(key("embedding_length")) // H))
    mla = f.has("blk.0.attn_kv_a_mqa.weight")
    hd = int(key("attention.key_length_mla", hd))  # a split file's key_length is the latent's width
    if not mla and int(key("attention.value_length", hd)) != hd:
        sys.exit(f"{arch}: the reference has value heads as wide as key heads")
    groups = int(key("expert_group_count", 0) or 1)
    q_norm = any(n.endswith(".attn_q_norm.weight") for n in f.tensors)  # blk.0 may be a Gated DeltaNet layer
    latent = {}
    if mla:  # deepseek2: the rope part's (cos, sin) pairs at 64 positions, the YaRN-corrected softmax scale
        rd = cfg.rope_dim
        mla_freq, _ = rope_inv_freq(cfg, rd)  # DeepSeek's YaRN keeps cos/sin at unit magnitude
        ang = np.arange(64, dtype=np.float64)[:, None] * mla_freq[None, :]
        scale = 1.0 / math.sqrt(hd)
        if cfg.scaling == "yarn" and cfg.factor > 1:
            scale *= (cfg.attn_factor * (1.0 + cfg.yarn_log_mul * math.log(cfg.factor))) ** 2
        latent = {"nope": hd - rd, "v_dim": int(key("attention.value_length_mla", key("attention.value_length"))),
                  "attn_scale": scale,
                  "rope_cs": np.stack([np.cos(ang), np.sin(ang)], -1).reshape(-1).tolist()}
    hybrid = {}
    if f.has("blk.0.ssm_conv1d.weight"):  # qwen3next, qwen35moe: Gated DeltaNet layers, gated attention
        n_v = int(key("ssm.time_step_rank"))
        hybrid = {"full_attn_interval": int(key("full_attention_interval", 4)), "attn_gate": True,
                  "ssm_nk": int(key("ssm.group_count")), "ssm_nv": n_v, "ssm_dk": int(key("ssm.state_size")),
                  "ssm_dv": int(key("ssm.inner_size")) // n_v}
    return latent | hybrid | {"eps": float(key("attention.layer_norm_rms_epsilon")), "rope_base": float(key("rope.freq_base", 10000.0)),
            "rope_neox": arch not in ("llama", "llama4", "ernie4_5-moe"), "rope_dim": int(key("rope.dimension_count", hd)),
            "qk_norm": ("whole" if arch in ("olmoe", "minimax-m2") else
                        "head_after_rope" if arch == "hunyuan-moe" else "head") if q_norm
            else "head_unweighted" if llama4 and int(key("expert_count", 0)) != 128 else "none",
            # llama4: NoPE layers every 4th tempering their queries, chunks on the others, the
            # routing weight on the expert's input.
            "nope_step": 4 if llama4 else 0, "chunk": int(key("attention.chunk_size", 8192)) if llama4 else 0,
            "temp_scale": float(key("attention.temperature_scale", 0.1)) if llama4 else 0.0,
            "temp_length": int(key("attention.temperature_length", 8192)), "weight_on_input": llama4,
            "head": H, "head_kv": int(key("attention.head_count_kv", H)), "head_dim": hd, "batch": 1,
            "layer": int(key("block_count")) - int(key("nextn_predict_layers", 0)),
            "expert": int(key("expert_count", 0)), "used": int(key("expert_used_count", 0)), "aux": 0.0, "z": 0.0,
            "norm_w": bool(key("expert_weights_norm",
                               arch in ("llama", "qwen3moe", "gpt-oss", "minimax-m2", "ernie4_5-moe", "qwen3next",
                                        "qwen35moe", "hunyuan-moe"))),
            "rope_inv_freq": [float(v) for v in inv_freq], "rope_mag": float(magnitude),
            "swa": int(key("attention.sliding_window", 0)) if arch == "gpt-oss" else 0,
            "w_scale": float(key("expert_weights_scale", 1.0)) or 1.0,
            "sigmoid": int(key("expert_gating_func", 2 if arch in ("glm4moe", "llama4", "minimax-m2", "dots1") else 1)) == 2,
            "groups": groups,
            "groups_used": int(key("expert_group_used_count", 0) or 1) if groups > 1 else 1}


def check(model, targets, experts, tmp):
    dump = os.path.join(tmp, "dump.json")
    env = dict(os.environ, FRUGAL_LORA_DUMP=dump, FRUGAL_LORA_MODEL=model, FRUGAL_LORA_TARGETS=targets,
               FRUGAL_LORA_EXPERTS=experts)
    run = subprocess.run([TEST, "--gtest_filter=LoraGradientDump.*"], env=env, capture_output=True, text=True)
    if run.returncode != 0 or not os.path.exists(dump):
        sys.exit(f"the gradient dump failed: {run.stdout}{run.stderr}")
    with open(dump) as fd:
        d = json.load(fd)
    os.remove(dump)
    f = read_gguf(model)
    dsv4 = f.metadata["general.architecture"] == "deepseek4"
    head = {} if dsv4 else head_of(f.metadata, f)
    W = {n: torch.tensor(f.tensor(n)) for n in f.tensors}
    if "output.weight" not in W:
        W["output.weight"] = W["token_embd.weight"]
    scale = d["scale"]
    leaves = {}
    for fac in d["factors"]:
        name, n_in, n_out, E = fac["target"], fac["n_in"], fac["n_out"], fac["n_expert"]
        a, b = np.array(fac["a"], dtype=np.float64), np.array(fac["b"], dtype=np.float64)
        if E == 0:
            A = torch.tensor(a.reshape(-1, n_in), requires_grad=True)
            B = torch.tensor(b.reshape(n_out, -1), requires_grad=True)
            W[name] = W[name] + scale * B @ A
        elif experts == "shared" and "_exps." in name:  # one pair (written once per expert) for every expert
            A = torch.tensor(a.reshape(E, -1, n_in)[0], requires_grad=True)
            B = torch.tensor(b.reshape(E, n_out, -1)[0], requires_grad=True)
            W[name] = W[name] + scale * (B @ A)[None]
        else:
            A = torch.tensor(a.reshape(E, -1, n_in), requires_grad=True)
            B = torch.tensor(b.reshape(E, n_out, -1), requires_grad=True)
            W[name] = W[name] + scale * B @ A
        leaves[name] = (A, B)
    if f.metadata["general.architecture"] == "bailingmoe2":  # q, k and v: the rows of attn_qkv (adapted whole)
        nq, nk = head["head"] * head["head_dim"], head["head_kv"] * head["head_dim"]
        for il in range(head["layer"]):
            qkv = W.pop(f"blk.{il}.attn_qkv.weight")
            W[f"blk.{il}.attn_q.weight"], W[f"blk.{il}.attn_k.weight"], W[f"blk.{il}.attn_v.weight"] = (
                qkv[:nq], qkv[nq:nq + nk], qkv[nq + nk:])
    tokens = np.array(d["tokens"], dtype=np.int64)
    # Row i predicts token i + 1 where that token is a target (-100: ignored).
    targets_ = np.array([tokens[i + 1] if i + 1 < len(tokens) and d["target"][i + 1] else -100
                         for i in range(len(tokens))], dtype=np.int64)
    if dsv4:
        total = dsv4_loss(f.metadata, f.has, W, tokens, targets_)
    else:
        total = other_loss(head, W, tokens, targets_)
    total.backward()
    return compare(d, total, leaves, experts)


def other_loss(head, W, tokens, targets_):
    head["seq"] = len(tokens)
    # The selection bias (glm4moe's exp_probs_b): it chooses the experts, never weighs them.
    bias = np.zeros((head["layer"], max(1, head["expert"])))
    for il in range(head["layer"]):
        if f"blk.{il}.exp_probs_b.bias" in W:
            bias[il] = W[f"blk.{il}.exp_probs_b.bias"].numpy()
    total, _, _, _ = train_loss(head, W, bias, tokens, targets_)
    return total


def compare(d, total, leaves, experts):
    errors = []
    rel = rel_error(d["loss"], total.item())
    if rel > TOL:
        errors.append(f"loss {d['loss']!r} vs PyTorch {total.item()!r} (rel {rel:.2e})")
    grads = Gradients()
    for g in d["grads"]:
        name, E = g["target"], g["n_expert"]
        A, B = leaves[name]
        for part, leaf, flat in (("lora_a", A, g["a"]), ("lora_b", B, g["b"])):
            ref = leaf.grad.numpy()
            fr = np.array(flat, dtype=np.float64)
            shared = experts == "shared" and E and "_exps." in name  # k_b/v_b: a pair per head, never shared
            fr = fr.reshape((E,) + ref.shape)[0] if shared else fr.reshape(ref.shape)
            grads.check(f"{name}.{part}", fr, ref)
    return errors + grads.errors, rel, grads.worst, len(d["grads"])


failures = []
with tempfile.TemporaryDirectory() as tmp:
    for name, targets, experts in CASES:
        arch, _, preset = name.partition("/")
        errors, rel, worst, n = check(synth(tmp, arch, preset or "tiny", "f32"), targets, experts, tmp)
        case = f"{name} --targets {targets} --lora-experts {experts}"
        print(f"{case}: loss rel {rel:.1e}; {n} matrices, worst gradient {worst[0]} {worst[1]:.1e}")
        failures += [f"{case}: {e}" for e in errors]
finish(failures, "torch_lora_gradient_test: ok")
