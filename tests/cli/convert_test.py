#!/usr/bin/python3
"""frugal convert: a Hugging Face checkpoint that `frugal synth --format hf`
writes converts to the very file `frugal synth` writes for the same seed
(llama dense and Mixtral-style, qwen2, qwen3, qwen2moe, qwen3moe, olmoe,
deepseek2 V2-Lite and V3 style, glm4moe with its next-token-prediction layer,
llama4 Scout style, qwen3next with its zero-centred norms and A_log,
qwen35moe with its stacked experts, value heads grouped by key head and
next-token-prediction block, deepseek4 under DeepSeek-V4's own module
names with its hash table as I32, minimax-m2 with Mixtral's module names and
its selection bias in the MoE block, dots1 with DeepSeek-V3's MoE under
Qwen3's attention, ernie4_5-moe with its dense and MoE layers alternating;
byte for byte: metadata, tokenizer, tensor names, layout and data, at f32,
f16 and q8_0; one safetensors file or shards), BF16 checkpoints convert to
the BF16 tensors synth writes, fp8 block-scaled ones (DeepSeek-V3's) to
synth's weights within fp8's rounding, gpt-oss's MXFP4 experts to synth's
MXFP4 bytes, Llama 4's multimodal checkpoints to synth's tensors (its
RoPE factors computed from rope_scaling), and bad input is a clear error naming the
file and the tensor, with nothing written."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

FRUGAL = os.environ.get("FRUGAL")
sys.path.insert(0, os.path.join(os.environ.get("FRUGAL_SOURCE_DIR", "."), "tests", "reference"))
from frugal_ref import read_gguf  # noqa: E402

failures = []


def run(*args):
    return subprocess.run([FRUGAL, "-q", *map(str, args)], capture_output=True, text=True)


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        failures.append(what)


def must(*args):
    r = run(*args)
    if r.returncode != 0:
        raise SystemExit(f"frugal {' '.join(map(str, args))} exited {r.returncode}: {r.stderr.strip()}")
    return r


def edit_config(d, change=None, **keys):
    """Rewrites d/config.json: keys merged at its top level, then change(cfg)."""
    p = os.path.join(d, "config.json")
    with open(p) as f:
        cfg = json.load(f)
    cfg.update(keys)
    if change:
        change(cfg)
    with open(p, "w") as f:
        json.dump(cfg, f)


def same_file(a, b):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        return fa.read() == fb.read()


def refused(work, src, tag, cases):
    """Each (what, damage, words): a copy of the checkpoint at src damaged so
    is refused with exit 1, an error holding every word, nothing written."""
    for i, (what, damage, words) in enumerate(cases):
        d = os.path.join(work, f"bad-{tag}-{i}")
        shutil.copytree(src, d)
        damage(d)
        out_dir = os.path.join(work, f"bad-{tag}-out-{i}")
        os.mkdir(out_dir)
        r = run("convert", d, "-o", os.path.join(out_dir, "out.gguf"))
        said = r.stderr.strip()
        ok = r.returncode == 1 and said.startswith("error: ") and all(w in said for w in words)
        ok = ok and os.listdir(out_dir) == [] and "Traceback" not in said
        check(ok, f"{what}: exit {r.returncode}, nothing written, says: {said}")


def round_trips(work):
    for arch, preset, shards in [("llama", "tiny", 2), ("llama", "tiny-dense", 1), ("qwen3", "tiny", 3),
                                 ("qwen3moe", "tiny", 2), ("qwen2", "tiny", 1), ("qwen2moe", "tiny", 2),
                                 ("olmoe", "tiny", 1), ("deepseek2", "tiny", 2), ("deepseek2", "tiny-v3", 1),
                                 ("glm4moe", "tiny", 2), ("glm4moe", "tiny-air", 1), ("llama4", "tiny-scout", 2),
                                 ("qwen3next", "tiny", 2), ("qwen35moe", "tiny", 2), ("minimax-m2", "tiny", 2),
                                 ("dots1", "tiny", 2), ("ernie4_5-moe", "tiny", 2), ("deepseek4", "tiny", 2),
                                 ("bailingmoe2", "tiny", 2), ("hunyuan-moe", "tiny", 2)]:
        hf = os.path.join(work, f"hf-{arch}-{preset}")
        must("synth", "--arch", arch, "--preset", preset, "--format", "hf", "--shards", shards, "--seed", 5, "-o", hf)
        for ttype in ["f32", "f16", "q8_0"]:
            direct = os.path.join(work, f"{arch}-{preset}-{ttype}.gguf")
            converted = os.path.join(work, f"c-{arch}-{preset}-{ttype}.gguf")
            must("synth", "--arch", arch, "--preset", preset, "--type", ttype, "--seed", 5, "-o", direct)
            # DeepSeek's kv_b joint here (the presets' own layout but tiny-k2's); split below.
            joint = ["--mla-kv-b", "joint"] if arch == "deepseek2" else []
            must("convert", hf, "--type", ttype, *joint, "-o", converted)
            check(same_file(direct, converted), f"{arch} {preset} ({shards} shard(s)) at {ttype}: convert == synth")
    # DeepSeek's kv_b split as current converters write it: by default for the
    # DeepseekV3ForCausalLM checkpoints (tiny-v3, tiny-k2), asked for DeepSeek-V2's (tiny).
    for preset, asked in [("tiny", ["--mla-kv-b", "split"]), ("tiny-v3", []), ("tiny-k2", [])]:
        hf = os.path.join(work, f"hf-split-{preset}")
        must("synth", "--arch", "deepseek2", "--preset", preset, "--format", "hf", "--seed", 6, "-o", hf)
        direct = os.path.join(work, f"split-{preset}.gguf")
        converted = os.path.join(work, f"c-split-{preset}.gguf")
        must("synth", "--arch", "deepseek2", "--preset", preset, "--mla-kv-b", "split", "--type", "f16", "--seed", 6,
             "-o", direct)
        must("convert", hf, *asked, "-o", converted)
        check(same_file(direct, converted), f"deepseek2 {preset} {' '.join(asked) or '(default)'}: convert == synth, split")


def synth_over_other_shards(work):
    """synth --format hf refuses a folder holding weights it would not
    replace (round_trips' two shards, under one file): read together they
    would be a mix of two checkpoints."""
    hf = os.path.join(work, "hf-llama4-tiny-scout")
    r = run("synth", "--arch", "llama4", "--preset", "tiny-scout", "--format", "hf", "--seed", 4, "-o", hf)
    check(r.returncode == 1 and "-tiny-scout already holds model" in r.stderr and "would not replace" in r.stderr,
          f"synth --format hf over another shard count: exit {r.returncode}, says: {r.stderr.strip()}")


def write_safetensors(path, tensors):
    """tensors: [(name, dtype name, shape, bytes)]."""
    header, data = {}, b""
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little") + text + data)


def to_bf16(hf_src, hf_dst, keep_f32=lambda name, shape: False):
    """A copy of an F32 checkpoint in BF16 (round to nearest even), torch_dtype
    bfloat16; tensors keep_f32(name, shape) chooses stay F32."""
    shutil.copytree(hf_src, hf_dst)
    path = os.path.join(hf_dst, "model.safetensors")
    with open(path, "rb") as f:
        raw = f.read()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    out = []
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b0, b1 = e["data_offsets"]
        if keep_f32(name, e["shape"]) or e["dtype"] != "F32":  # integer tables stay as they are
            out.append((name, e["dtype"], e["shape"], raw[8 + n + b0:8 + n + b1]))
            continue
        u = np.frombuffer(raw, "<u4", (b1 - b0) // 4, 8 + n + b0).astype(np.uint64)
        bf = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype("<u2")
        out.append((name, "BF16", e["shape"], bf.tobytes()))
    write_safetensors(path, out)
    cfg_path = os.path.join(hf_dst, "config.json")
    with open(cfg_path) as f:
        cfg = json.load(f)
    cfg["torch_dtype"] = "bfloat16"  # the F32 vectors above may stay F32 (see mixed_dtypes)
    with open(cfg_path, "w") as f:
        json.dump(cfg, f)


def bf16_checkpoint(work):
    hf = os.path.join(work, "hf-bf16-src")
    must("synth", "--arch", "qwen3moe", "--preset", "tiny", "--format", "hf", "--seed", 9, "-o", hf)
    to_bf16(hf, hf + "-bf16")
    direct = os.path.join(work, "qwen3moe-bf16.gguf")
    converted = os.path.join(work, "c-qwen3moe-bf16.gguf")
    must("synth", "--arch", "qwen3moe", "--preset", "tiny", "--type", "bf16", "--seed", 9, "-o", direct)
    must("convert", hf + "-bf16", "--type", "bf16", "-o", converted)
    a, b = read_gguf(direct), read_gguf(converted)
    # The BF16 tensors are the same rounding in both; norms and routers stay
    # F32 in the GGUF, synth's exact and the checkpoint's rounded to BF16.
    mats = [n for n in a.order if a.tensors[n].type == 30]
    check(len(mats) > 0 and a.order == b.order and all(a.raw(n) == b.raw(n) for n in mats) and a.metadata == b.metadata,
          f"BF16 checkpoint -> bf16 GGUF: {len(mats)} BF16 tensors equal synth's bits")
    kept = [n for n in a.order if a.tensors[n].type == 0]
    err = max(float(np.abs(a.tensor(n) - b.tensor(n)).max() / np.abs(a.tensor(n)).max()) for n in kept)
    check(err < 2 ** -8, f"BF16 checkpoint: {len(kept)} F32 tensors within bf16 rounding ({err:.1e})")


def mixed_dtypes(work):
    """A BF16 checkpoint whose vectors (norms, a router bias) are F32, as
    DeepSeek-V3's e_score_correction_bias is, converts; an F32 matrix in it
    does not."""
    hf = os.path.join(work, "hf-mixed")
    must("synth", "--arch", "deepseek2", "--preset", "tiny-v3", "--format", "hf", "--seed", 3, "-o", hf)
    to_bf16(hf, hf + "-bf16", keep_f32=lambda name, shape: len(shape) == 1)
    r = run("convert", hf + "-bf16", "-o", os.path.join(work, "mixed.gguf"))
    check(r.returncode == 0, f"BF16 checkpoint with F32 vectors converts: {r.stderr.strip()[-200:]}")
    to_bf16(hf, hf + "-bad", keep_f32=lambda name, shape: name == "lm_head.weight")
    r = run("convert", hf + "-bad", "-o", os.path.join(work, "mixed-bad.gguf"))
    check(r.returncode == 1 and "'lm_head.weight' has dtype F32 but config.json says BF16" in r.stderr,
          f"BF16 checkpoint with an F32 matrix: {r.stderr.strip()}")


def nextn_extras(work):
    """GLM-4.5's next-token-prediction layer may carry its own head, norm and
    embedding: copied under llama.cpp's names, and the file still loads."""
    hf = os.path.join(work, "hf-glm-extras")
    must("synth", "--arch", "glm4moe", "--preset", "tiny", "--format", "hf", "--seed", 2, "-o", hf)
    path = os.path.join(hf, "model.safetensors")
    with open(path, "rb") as f:
        raw = f.read()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    tensors = [(name, e["dtype"], e["shape"], raw[8 + n + e["data_offsets"][0]:8 + n + e["data_offsets"][1]])
               for name, e in header.items() if name != "__metadata__"]
    rng = np.random.default_rng(2)
    extras = {"shared_head.norm.weight": (128,), "shared_head.head.weight": (512, 128),
              "embed_tokens.weight": (512, 128)}
    values = {k: rng.standard_normal(shape).astype("<f4") for k, shape in extras.items()}
    tensors += [(f"model.layers.3.{k}", "F32", list(v.shape), v.tobytes()) for k, v in values.items()]
    write_safetensors(path, tensors)
    out = os.path.join(work, "glm-extras.gguf")
    must("convert", hf, "--type", "f32", "-o", out)
    g = read_gguf(out)
    names = {"shared_head.norm.weight": "blk.3.nextn.shared_head_norm.weight",
             "shared_head.head.weight": "blk.3.nextn.shared_head_head.weight",
             "embed_tokens.weight": "blk.3.nextn.embed_tokens.weight"}
    same = all(g.has(names[k]) and np.array_equal(g.tensor(names[k]), v.astype(np.float64)) for k, v in values.items())
    loads = run("logits", "-m", out, "--tokens", "1,2,3", "-o", os.path.join(work, "extras.bin")).returncode == 0
    check(same and loads, "glm4moe next-token-prediction head, norm and embedding copied as nextn.*, file loads")


def read_safetensors(path):
    """[(name, dtype name, shape, bytes)] in file order."""
    with open(path, "rb") as f:
        raw = f.read()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    return [(name, e["dtype"], e["shape"], raw[8 + n + e["data_offsets"][0]:8 + n + e["data_offsets"][1]])
            for name, e in header.items() if name != "__metadata__"]


def fp8_checkpoint(work):
    """DeepSeek-V3's float8_e4m3 projections with a scale per block: the
    converted tensors are the synth weights within fp8's rounding (the
    others exactly), kv_b split from fp8 too; a missing or misshapen scale,
    fp8 without quantization_config or another method are errors."""
    hf = os.path.join(work, "hf-fp8")
    must("synth", "--arch", "deepseek2", "--preset", "tiny-v3", "--format", "hf", "--fp8-block", 32, "--seed", 8,
         "-o", hf)
    for i, split in enumerate([["--mla-kv-b", "joint"], ["--mla-kv-b", "split"]]):
        direct = os.path.join(work, f"fp8-direct{i}.gguf")
        converted = os.path.join(work, f"fp8-converted{i}.gguf")
        must("synth", "--arch", "deepseek2", "--preset", "tiny-v3", "--type", "f32", "--seed", 8, *split, "-o", direct)
        must("convert", hf, "--type", "f32", *split, "-o", converted)
        a, b = read_gguf(direct), read_gguf(converted)
        fp8_names = ["attn_q_a.", "attn_q_b.", "attn_kv_a_mqa.", "attn_kv_b.", "attn_k_b.", "attn_v_b.",
                     "attn_output.", "_exps.", "_shexp.", "ffn_gate.", "ffn_up.", "ffn_down."]
        rounded = [n for n in a.order if any(k in n for k in fp8_names) and "gate_inp" not in n]
        exact = [n for n in a.order if n not in rounded]
        err = max(float(np.abs(a.tensor(n) - b.tensor(n)).max() / np.abs(a.tensor(n)).max()) for n in rounded)
        same = a.order == b.order and all(a.raw(n) == b.raw(n) for n in exact)
        check(same and 0 < err <= 1 / 16, f"fp8 checkpoint {' '.join(split)}: {len(rounded)} tensors"
              f" within fp8 rounding of synth's ({err:.1e}), {len(exact)} others equal")

    shard = os.path.join(hf, "model.safetensors")
    scale = "model.layers.1.mlp.experts.3.up_proj.weight_scale_inv"

    def without_scale(d):
        p = os.path.join(d, "model.safetensors")
        write_safetensors(p, [t for t in read_safetensors(p) if t[0] != scale])

    def misshapen_scale(d):
        p = os.path.join(d, "model.safetensors")
        write_safetensors(p, [(n, dt, [sh[1], sh[0]] if n == scale else sh, raw) for n, dt, sh, raw in read_safetensors(p)])

    def edit_quant(d, quant):
        def change(cfg):
            cfg["quantization_config"] = quant
            if quant is None:
                del cfg["quantization_config"]
        edit_config(d, change)

    assert os.path.exists(shard)
    cases = [("fp8 scale missing", without_scale, ["model.safetensors", "missing", scale]),
             ("fp8 scale of the wrong shape", misshapen_scale, [scale, "shape [4, 2]", "needs [2, 4]"]),
             ("fp8 without quantization_config", lambda d: edit_quant(d, None),
              ["model.safetensors", "has dtype F8_E4M3 but config.json has no quantization_config"]),
             ("another quantization method", lambda d: edit_quant(d, {"quant_method": "awq"}),
              ["config.json", "quant_method 'awq' is not converted"]),
             ("fp8 block size malformed", lambda d: edit_quant(d, {"quant_method": "fp8", "weight_block_size": [0]}),
              ["config.json", "weight_block_size"])]
    refused(work, hf, "fp8", cases)


def deepseek_mtp_layer(work):
    """DeepSeek-V3's multi-token-prediction layer (model.layers.N for N at
    num_hidden_layers, fp8 like the others) is left out, as llama.cpp's
    converter leaves it: the file is synth's, byte for byte."""
    hf = os.path.join(work, "hf-mtp")
    must("synth", "--arch", "deepseek2", "--preset", "tiny-v3", "--format", "hf", "--fp8-block", 32, "--seed", 4,
         "-o", hf)
    path = os.path.join(hf, "model.safetensors")
    tensors = read_safetensors(path)
    extra = [(n.replace("model.layers.2.", "model.layers.3."), dt, sh, raw) for n, dt, sh, raw in tensors
             if n.startswith("model.layers.2.")]
    rng = np.random.default_rng(4)
    eh = rng.standard_normal((128, 256)).astype("<f4")
    extra += [("model.layers.3.eh_proj.weight", "F32", [128, 256], eh.tobytes()),
              ("model.layers.3.enorm.weight", "F32", [128], np.ones(128, "<f4").tobytes())]
    write_safetensors(path, tensors + extra)
    with open(os.path.join(hf, "config.json")) as f:
        cfg = json.load(f)
    cfg["num_nextn_predict_layers"] = 1
    with open(os.path.join(hf, "config.json"), "w") as f:
        json.dump(cfg, f)
    plain = os.path.join(work, "mtp-plain.gguf")
    converted = os.path.join(work, "mtp.gguf")
    hf_plain = hf + "-plain"
    must("synth", "--arch", "deepseek2", "--preset", "tiny-v3", "--format", "hf", "--fp8-block", 32, "--seed", 4,
         "-o", hf_plain)
    must("convert", hf_plain, "-o", plain)
    must("convert", hf, "-o", converted)
    check(same_file(plain, converted), f"deepseek2 V3 with its multi-token-prediction layer ({len(extra)} tensors):"
          " the layer left out, the file as without it")


def gpt_oss(work):
    """gpt-oss's MXFP4 experts (experts.gate_up_proj_blocks/_scales with gate
    and up rows interleaved, down_proj_blocks/_scales, their biases) become
    the GGUF's MXFP4 tensors bit for bit: at mxfp4_moe the file is synth's,
    at f16 the experts are still synth's MXFP4 bytes; bad blocks are errors."""
    hf = os.path.join(work, "hf-oss")
    must("synth", "--arch", "gpt-oss", "--preset", "tiny", "--format", "hf", "--shards", 2, "--seed", 7, "-o", hf)
    direct = os.path.join(work, "oss-direct.gguf")
    converted = os.path.join(work, "oss-converted.gguf")
    must("synth", "--arch", "gpt-oss", "--preset", "tiny", "--type", "mxfp4_moe", "--seed", 7, "-o", direct)
    must("convert", hf, "--type", "mxfp4_moe", "-o", converted)
    check(same_file(direct, converted), "gpt-oss tiny (2 shards) at mxfp4_moe: convert == synth")
    must("convert", hf, "--type", "f16", "-o", converted)
    a, b = read_gguf(direct), read_gguf(converted)
    exps = [n for n in a.order if n.endswith("_exps.weight")]
    check(len(exps) == 12 and all(b.tensors[n].type == 39 and a.raw(n) == b.raw(n) for n in exps),
          f"gpt-oss at f16: the {len(exps)} expert tensors stay MXFP4, synth's bytes")

    # A checkpoint saved unquantised (as fine-tunes are): gate_up_proj
    # [experts, n_embd, 2 n_ff] and down_proj [experts, n_ff, n_embd] in F32,
    # the MXFP4 blocks' values; converts to the MXFP4 file's values decoded.
    sys.path.insert(0, os.path.join(os.environ.get("FRUGAL_SOURCE_DIR", "."), "tests", "reference"))
    from hf_checkpoint import read_checkpoint  # noqa: E402
    plain = hf + "-plain"
    shutil.copytree(hf, plain)
    values = read_checkpoint(hf)
    for f in os.listdir(plain):
        if f.endswith(".safetensors"):
            p = os.path.join(plain, f)
            out = []
            for n, dt, sh, raw in read_safetensors(p):
                if n.endswith("_blocks"):
                    v = values[n[:-len("_blocks")]].astype("<f4")
                    out.append((n[:-len("_blocks")], "F32", list(v.shape), v.tobytes()))
                elif not n.endswith("_scales"):
                    out.append((n, dt, sh, raw))
            write_safetensors(p, out)
    os.remove(os.path.join(plain, "model.safetensors.index.json"))  # names changed: one file per shard is enough
    shards = sorted(f for f in os.listdir(plain) if f.endswith(".safetensors"))
    merged = [t for f in shards for t in read_safetensors(os.path.join(plain, f))]
    for f in shards:
        os.remove(os.path.join(plain, f))
    write_safetensors(os.path.join(plain, "model.safetensors"), merged)
    with open(os.path.join(plain, "config.json")) as f:
        cfg = json.load(f)
    del cfg["quantization_config"]
    with open(os.path.join(plain, "config.json"), "w") as f:
        json.dump(cfg, f)
    from_plain = os.path.join(work, "oss-plain.gguf")
    decoded = os.path.join(work, "oss-decoded.gguf")
    must("convert", plain, "--type", "f32", "-o", from_plain)
    must("quantize", direct, decoded, "f32")
    a, b = read_gguf(decoded), read_gguf(from_plain)
    same = a.order == b.order and all(np.array_equal(a.tensor(n), b.tensor(n)) for n in exps)
    check(same, f"gpt-oss saved unquantised (gate_up_proj transposed): the {len(exps)} expert tensors"
          " are the MXFP4 checkpoint's values")

    def retype(d, name, dtype, shape=None):
        for f in os.listdir(d):
            if f.endswith(".safetensors"):
                p = os.path.join(d, f)
                ts = read_safetensors(p)
                if any(n == name for n, *_ in ts):
                    write_safetensors(p, [(n, dtype if n == name else dt, shape if n == name and shape else sh, raw)
                                          for n, dt, sh, raw in ts])

    def drop(d, name):
        for f in os.listdir(d):
            if f.endswith(".safetensors"):
                p = os.path.join(d, f)
                write_safetensors(p, [t for t in read_safetensors(p) if t[0] != name])
        p = os.path.join(d, "model.safetensors.index.json")
        with open(p) as f:
            index = json.load(f)
        del index["weight_map"][name]
        with open(p, "w") as f:
            json.dump(index, f)

    def layer_types(d):
        p = os.path.join(d, "config.json")
        with open(p) as f:
            cfg = json.load(f)
        cfg["layer_types"] = ["full_attention"] * 4
        with open(p, "w") as f:
            json.dump(cfg, f)

    blocks = "model.layers.2.mlp.experts.gate_up_proj_blocks"
    scales = "model.layers.1.mlp.experts.down_proj_scales"
    cases = [("MXFP4 scales missing", lambda d: drop(d, scales), [scales, "missing"]),
             ("MXFP4 blocks not U8", lambda d: retype(d, blocks, "I8"), [".safetensors", blocks, "dtype I8", "U8"]),
             ("MXFP4 blocks of another shape", lambda d: retype(d, blocks, "U8", [8, 64, 8, 16]),
              [".safetensors", blocks, "shape [8, 64, 8, 16]", "[8, 128, 4, 16]"]),
             ("gpt-oss layer_types other than alternating", layer_types, ["config.json", "layer_types[0]"])]
    refused(work, hf, "oss", cases)


def llama4(work):
    """Llama 4's multimodal checkpoint (text_config, language_model.* names,
    fused transposed experts): Scout style converts to synth's file (in
    round_trips) and runs to the same logits; the interleaved dense and MoE
    layers with rope_scaling convert to synth's tensors but for
    rope_freqs.weight, which is Scout's llama3 factors (1 below the 8192
    wavelength, 16 above); vision tensors are left out; the language model
    saved alone (Llama4ForCausalLM) converts to the same file; keys the file
    cannot express are errors."""
    def synth_both(preset):
        """The preset's checkpoint, synth's f32 file and the checkpoint converted to f32."""
        hf = os.path.join(work, f"hf-llama4-test-{preset}")  # not round_trips' folder
        must("synth", "--arch", "llama4", "--preset", preset, "--format", "hf", "--seed", 4, "-o", hf)
        direct, converted = (os.path.join(work, f"llama4-{preset}-{k}.gguf") for k in ["direct", "converted"])
        must("synth", "--arch", "llama4", "--preset", preset, "--type", "f32", "--seed", 4, "-o", direct)
        must("convert", hf, "--type", "f32", "-o", converted)
        return hf, direct, converted

    hf, direct, converted = synth_both("tiny")
    a, b = read_gguf(direct), read_gguf(converted)
    others = [n for n in a.order if n != "rope_freqs.weight"]
    inv_freq = 500000.0 ** (-np.arange(0, 32, 2) / 32)
    scout = np.where(2 * np.pi / inv_freq > 8192, 16.0, 1.0)
    same = a.order == b.order and a.metadata == b.metadata and all(a.raw(n) == b.raw(n) for n in others)
    check(same and np.array_equal(b.tensor("rope_freqs.weight"), scout),
          f"llama4 tiny (MoE every 2nd layer, rope_scaling): {len(others)} tensors and the metadata synth's,"
          " rope_freqs Scout's")

    _, scout_direct, scout_converted = synth_both("tiny-scout")
    logits = []
    for m in [scout_direct, scout_converted]:
        out = m + ".logits"
        must("logits", "-m", m, "--tokens", "1,5,9,200,3,77,12,8,300,41", "-o", out)
        logits.append(np.fromfile(out, dtype="<f4"))
    check(logits[0].size == 5120 and np.array_equal(logits[0], logits[1]),
          "llama4 tiny-scout: the converted file's logits are synth's")

    # A vision tower's tensors are left out.
    with_vision = hf + "-vision"
    shutil.copytree(hf, with_vision)
    p = os.path.join(with_vision, "model.safetensors")
    patch = np.ones((16, 8), "<f4")
    write_safetensors(p, read_safetensors(p) + [
        ("vision_model.patch_embedding.linear.weight", "F32", [16, 8], patch.tobytes()),
        ("multi_modal_projector.linear_1.weight", "F32", [16, 8], patch.tobytes())])
    vision_converted = os.path.join(work, "llama4-vision.gguf")
    must("convert", with_vision, "--type", "f32", "-o", vision_converted)
    check(same_file(vision_converted, converted), "llama4 with vision tensors: they are left out, the file as without")

    # The language model saved alone (Llama4ForCausalLM): text_config's keys
    # at the top level, the names without language_model.
    text_only = hf + "-text"
    os.mkdir(text_only)
    for f in ["tokenizer.json", "tokenizer_config.json"]:
        shutil.copy(os.path.join(hf, f), text_only)
    with open(os.path.join(hf, "config.json")) as f:
        cfg = json.load(f)
    text = dict(cfg["text_config"], architectures=["Llama4ForCausalLM"], _name_or_path=cfg["_name_or_path"])
    with open(os.path.join(text_only, "config.json"), "w") as f:
        json.dump(text, f)
    write_safetensors(os.path.join(text_only, "model.safetensors"),
                      [(n[len("language_model."):], dt, sh, raw)
                       for n, dt, sh, raw in read_safetensors(os.path.join(hf, "model.safetensors"))])
    text_converted = os.path.join(work, "llama4-text.gguf")
    must("convert", text_only, "--type", "f32", "-o", text_converted)
    check(same_file(text_converted, converted), "llama4 saved as Llama4ForCausalLM: the same file")

    def edit_text(d, **keys):
        def change(cfg):
            cfg["text_config"].update(keys)
            if "drop" in keys:
                del cfg["text_config"]
        edit_config(d, change)

    cases = [("llama4 without text_config", lambda d: edit_text(d, drop=True), ["config.json", "'text_config'"]),
             ("llama4 q/k norm for 8 experts off", lambda d: edit_text(d, use_qk_norm=False),
              ["config.json text_config", "use_qk_norm false with 8 experts"]),
             ("llama4 NoPE layers elsewhere", lambda d: edit_text(d, no_rope_layers=[0, 1, 1, 1]),
              ["config.json text_config", "no_rope_layers [0,1,1,1]"]),
             ("llama4 moe_layers against the step", lambda d: edit_text(d, moe_layers=[0, 2]),
              ["config.json text_config", "moe_layers [0,2]"]),
             ("llama4 fused experts of another shape", lambda d: edit_text(d, intermediate_size=32),
              ["language_model.model.layers.1.feed_forward.experts.", "shape [8, "])]
    refused(work, hf, "llama4", cases)


def qwen3next(work):
    """Qwen3-Next: the checkpoint stores its RMSNorm weights less 1 and
    A_log (round_trips: synth's file byte for byte); its next-token-prediction
    module (mtp.*) is left out, the file as without it; layer_types other
    than every full_attention_interval-th full attention is refused."""
    hf = os.path.join(work, "hf-qwen3next")
    must("synth", "--arch", "qwen3next", "--preset", "tiny", "--format", "hf", "--seed", 6, "-o", hf)
    plain = os.path.join(work, "qwen3next.gguf")
    must("convert", hf, "-o", plain)
    with_mtp = hf + "-mtp"
    shutil.copytree(hf, with_mtp)
    p = os.path.join(with_mtp, "model.safetensors")
    extra = np.ones((128, 256), "<f4")
    write_safetensors(p, read_safetensors(p) + [("mtp.fc.weight", "F32", [128, 256], extra.tobytes()),
                                                ("mtp.norm.weight", "F32", [128], np.ones(128, "<f4").tobytes())])
    converted = os.path.join(work, "qwen3next-mtp.gguf")
    must("convert", with_mtp, "-o", converted)
    check(same_file(plain, converted), "qwen3next with mtp.* tensors: they are left out, the file as without")

    def layer_types(d):
        with open(os.path.join(d, "config.json")) as f:
            cfg = json.load(f)
        cfg["layer_types"] = ["linear_attention"] * 3 + ["full_attention"]
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f)

    refused(work, hf, "qwen3next", [("qwen3next layer_types against the interval", layer_types,
                                     ["config.json: layer_types", "full_attention_interval 2 implies"])])


def qwen35moe(work):
    """Qwen3.5-MoE's multimodal checkpoint (text_config, model.language_model.*
    names, the layers' experts stacked, the next-token-prediction block's
    mtp.* with its experts apart; round_trips: synth's file byte for byte):
    every expert apart, or every one stacked, is the same file; the vision
    tower is left out; the language model saved alone (Qwen3_5MoeForCausalLM,
    model.* names) is the same file; mtp.norm becomes the block's
    shared_head_norm (plus 1, a zero-centred norm); a checkpoint without mtp.*
    converts without the block and runs to the same logits; keys and tensors
    the file cannot express are errors."""
    hf = os.path.join(work, "hf-qwen35moe")
    must("synth", "--arch", "qwen35moe", "--preset", "tiny", "--format", "hf", "--seed", 7, "-o", hf)
    plain = os.path.join(work, "qwen35moe.gguf")
    must("convert", hf, "--type", "f32", "-o", plain)
    tensors = read_safetensors(os.path.join(hf, "model.safetensors"))
    names = [n for n, *_ in tensors]
    check("model.language_model.layers.0.mlp.experts.gate_up_proj" in names and
          "mtp.layers.0.mlp.experts.7.down_proj.weight" in names and "mtp.fc.weight" in names and
          "model.language_model.layers.0.linear_attn.in_proj_qkv.weight" in names and "lm_head.weight" in names,
          "qwen35moe checkpoint: stacked layer experts, mtp.* experts apart, model.language_model.* names")

    def variant(tag, edit, config=None):
        d = f"{hf}-{tag}"
        shutil.copytree(hf, d)
        write_safetensors(os.path.join(d, "model.safetensors"), edit(list(tensors)))
        if config:
            with open(os.path.join(d, "config.json")) as f:
                cfg = json.load(f)
            with open(os.path.join(d, "config.json"), "w") as f:
                json.dump(config(cfg), f)
        out = os.path.join(work, f"qwen35moe-{tag}.gguf")
        r = run("convert", d, "--type", "f32", "-o", out)
        return out if r.returncode == 0 else r.stderr.strip()

    def unstack(ts):
        out = []
        for name, dt, shape, raw in ts:
            if not name.endswith((".experts.gate_up_proj", ".experts.down_proj")):
                out.append((name, dt, shape, raw))
                continue
            a = np.frombuffer(raw, "<f4").reshape(shape)
            base = name.rsplit(".", 1)[0]
            for e in range(shape[0]):
                if name.endswith("gate_up_proj"):
                    half = shape[1] // 2
                    for part, rows in [("gate_proj", a[e, :half]), ("up_proj", a[e, half:])]:
                        out.append((f"{base}.{e}.{part}.weight", dt, list(rows.shape), rows.tobytes()))
                else:
                    out.append((f"{base}.{e}.down_proj.weight", dt, list(a[e].shape), a[e].tobytes()))
        return out

    def stack_mtp(ts):
        keep = [t for t in ts if not t[0].startswith("mtp.layers.0.mlp.experts.")]
        w = {n: np.frombuffer(raw, "<f4").reshape(shape) for n, _, shape, raw in ts}
        e = lambda i, part: w[f"mtp.layers.0.mlp.experts.{i}.{part}.weight"]  # noqa: E731
        gate_up = np.stack([np.concatenate([e(i, "gate_proj"), e(i, "up_proj")]) for i in range(8)])
        down = np.stack([e(i, "down_proj") for i in range(8)])
        return keep + [("mtp.layers.0.mlp.experts.gate_up_proj", "F32", list(gate_up.shape), gate_up.tobytes()),
                       ("mtp.layers.0.mlp.experts.down_proj", "F32", list(down.shape), down.tobytes())]

    out = variant("apart", unstack)
    check(out.endswith(".gguf") and same_file(out, plain), f"qwen35moe with every expert apart: the same file ({out})")
    out = variant("stacked", stack_mtp)
    check(out.endswith(".gguf") and same_file(out, plain), f"qwen35moe with every expert stacked: the same file ({out})")
    patch = np.ones((16, 8), "<f4")
    out = variant("vision", lambda ts: ts + [("model.visual.patch_embed.proj.weight", "F32", [16, 8], patch.tobytes()),
                                             ("model.visual.merger.linear_fc1.weight", "F32", [16, 8], patch.tobytes())])
    check(out.endswith(".gguf") and same_file(out, plain), f"qwen35moe with a vision tower: left out, the same file")

    def text_config(cfg):
        return dict(cfg["text_config"], architectures=["Qwen3_5MoeForCausalLM"], _name_or_path=cfg["_name_or_path"],
                    tie_word_embeddings=cfg["tie_word_embeddings"], torch_dtype=cfg["torch_dtype"])
    out = variant("text", lambda ts: [(n.replace("model.language_model.", "model."), *rest) for n, *rest in ts],
                  text_config)
    check(out.endswith(".gguf") and same_file(out, plain), f"qwen35moe saved as Qwen3_5MoeForCausalLM: the same file")

    norm = np.full(128, 0.25, "<f4")
    out = variant("mtp-norm", lambda ts: ts + [("mtp.norm.weight", "F32", [128], norm.tobytes())])
    g = read_gguf(out) if out.endswith(".gguf") else None
    check(g is not None and np.array_equal(g.tensor("blk.4.nextn.shared_head_norm.weight"), np.full(128, 1.25)),
          "qwen35moe mtp.norm: copied as blk.4.nextn.shared_head_norm.weight, plus 1")

    out = variant("no-mtp", lambda ts: [t for t in ts if not t[0].startswith("mtp.")])
    a = read_gguf(plain)
    b = read_gguf(out) if out.endswith(".gguf") else None
    same = b is not None and b.order == [n for n in a.order if not n.startswith("blk.4.")] and \
        all(a.raw(n) == b.raw(n) for n in b.order) and b.metadata["qwen35moe.block_count"] == 4
    logits = []
    for m in [plain, out]:
        if m.endswith(".gguf"):
            must("logits", "-m", m, "--tokens", "1,5,9,200,3,77,12,8", "-o", m + ".logits")
            logits.append(np.fromfile(m + ".logits", dtype="<f4"))
    check(same and len(logits) == 2 and np.array_equal(logits[0], logits[1]),
          "qwen35moe without mtp.*: the file without blk.4 (4 blocks), the same logits")

    def edit_text(d, **keys):
        edit_config(d, lambda cfg: cfg["text_config"].update(keys))

    def edit_mrope(d, sections):
        edit_config(d, lambda cfg: cfg["text_config"]["rope_parameters"].update(mrope_section=sections))

    refused(work, hf, "qwen35moe", [
        ("qwen35moe two mtp layers", lambda d: edit_text(d, mtp_num_hidden_layers=2),
         ["config.json text_config", "mtp_num_hidden_layers 2"]),
        ("qwen35moe YaRN", lambda d: edit_text(d, rope_parameters={"rope_type": "yarn", "rope_theta": 1e7}),
         ["config.json text_config", "rope_type \"yarn\""]),
        ("qwen35moe layer_types against each other", lambda d: edit_text(
            d, layer_types=["linear_attention", "full_attention", "full_attention", "full_attention"]),
         ["config.json text_config: layer_types", "full_attention_interval 2 implies"]),
        ("qwen35moe stacked experts of another shape", lambda d: edit_text(d, moe_intermediate_size=32),
         ["model.language_model.layers.0.mlp.experts.gate_up_proj", "shape [8, 128, 128]", "[8, 64, 128]"]),
        ("qwen35moe without the output gate", lambda d: edit_text(d, attn_output_gate=False),
         ["config.json text_config", "attn_output_gate false"]),
        ("qwen35moe RoPE sections that do not add up", lambda d: edit_mrope(d, [1, 1, 1, 1, 1]),
         ["config.json text_config", "mrope_section [1,1,1,1,1]", "rotary pairs"])])


def minimax_m2(work):
    """MiniMax-M2 (round_trips: synth's file byte for byte): its float8
    experts (w1/w3/w2, named unlike DeepSeek's) convert within fp8's
    rounding; what its configs may say that the architecture does not
    compute (a softmax router, lightning-attention layers, a shared expert,
    no q/k norm, no selection bias) is refused by key."""
    hf = os.path.join(work, "hf-minimax")
    must("synth", "--arch", "minimax-m2", "--preset", "tiny", "--format", "hf", "--seed", 7, "-o", hf)
    fp8 = os.path.join(work, "hf-minimax-fp8")
    must("synth", "--arch", "minimax-m2", "--preset", "tiny", "--format", "hf", "--seed", 7, "--fp8-block", 32,
         "-o", fp8)
    names = [n for n, *_ in read_safetensors(os.path.join(fp8, "model.safetensors"))]
    check("model.layers.0.block_sparse_moe.experts.0.w1.weight_scale_inv" in names and
          "model.layers.0.block_sparse_moe.e_score_correction_bias" in names,
          "minimax-m2 fp8 checkpoint: experts' w1 with block scales, the selection bias in the MoE block")
    plain, scaled = os.path.join(work, "minimax.gguf"), os.path.join(work, "minimax-fp8.gguf")
    must("convert", hf, "--type", "f32", "-o", plain)
    must("convert", fp8, "--type", "f32", "-o", scaled)
    a, b = read_gguf(plain), read_gguf(scaled)
    fp8_names = ["attn_q.", "attn_k.", "attn_v.", "attn_output.", "_exps."]
    rounded = [n for n in a.order if any(k in n for k in fp8_names)]
    exact = [n for n in a.order if n not in rounded]
    err = max(float(np.abs(a.tensor(n) - b.tensor(n)).max() / np.abs(a.tensor(n)).max()) for n in rounded)
    same = a.order == b.order and all(a.raw(n) == b.raw(n) for n in exact)
    check(same and 0 < err <= 1 / 16, f"minimax-m2 fp8 checkpoint: {len(rounded)} tensors within fp8 rounding of "
          f"the plain checkpoint's ({err:.1e}), {len(exact)} others equal")

    refused(work, hf, "minimax", [
        ("minimax-m2 softmax router", lambda d: edit_config(d, scoring_func="softmax"), ["config.json", "scoring_func"]),
        ("minimax-m2 lightning attention layer", lambda d: edit_config(d, attn_type_list=[0, 1]),
         ["config.json", "attn_type_list[0] is 0"]),
        ("minimax-m2 shared expert", lambda d: edit_config(d, shared_intermediate_size=64),
         ["config.json", "shared_intermediate_size"]),
        ("minimax-m2 without q/k norm", lambda d: edit_config(d, use_qk_norm=False), ["config.json", "use_qk_norm"]),
        ("minimax-m2 without the routing bias", lambda d: edit_config(d, use_routing_bias=False),
         ["config.json", "use_routing_bias"]),
    ])


def dots1(work):
    """dots.llm1 (round_trips: synth's file byte for byte): what its configs
    may say that the architecture does not compute (a softmax router, another
    top-k method, attention biases, MoE layers at a stride) is refused by key."""
    hf = os.path.join(work, "hf-dots1")
    must("synth", "--arch", "dots1", "--preset", "tiny", "--format", "hf", "--seed", 7, "-o", hf)
    refused(work, hf, "dots1", [
        ("dots1 softmax router", lambda d: edit_config(d, scoring_func="softmax"), ["config.json", "scoring_func"]),
        ("dots1 greedy top-k", lambda d: edit_config(d, topk_method="greedy"), ["config.json", "topk_method"]),
        ("dots1 attention biases", lambda d: edit_config(d, attention_bias=True), ["config.json", "attention_bias"]),
        ("dots1 MoE every other layer", lambda d: edit_config(d, moe_layer_freq=2), ["config.json", "moe_layer_freq"]),
    ])


def bailingmoe2(work):
    """Ling 2.0 (round_trips: synth's file byte for byte): its own module
    names, and what its configs may say that the architecture does not
    compute (biases, no q/k norm, a softmax router, no expert bias) refused
    by key."""
    hf = os.path.join(work, "hf-bailing")
    must("synth", "--arch", "bailingmoe2", "--preset", "tiny", "--format", "hf", "--seed", 7, "-o", hf)
    names = [n for n, *_ in read_safetensors(os.path.join(hf, "model.safetensors"))]
    check("model.layers.0.attention.query_key_value.weight" in names and "model.word_embeddings.weight" in names
          and "model.layers.1.mlp.gate.expert_bias" in names,
          "bailingmoe2 checkpoint: query_key_value, word_embeddings, the router's expert_bias")
    refused(work, hf, "bailing", [
        ("bailingmoe2 biases", lambda d: edit_config(d, use_qkv_bias=True), ["config.json", "use_qkv_bias"]),
        ("bailingmoe2 without q/k norm", lambda d: edit_config(d, use_qk_norm=False), ["config.json", "use_qk_norm"]),
        ("bailingmoe2 softmax router", lambda d: edit_config(d, score_function="softmax"),
         ["config.json", "score_function"]),
        ("bailingmoe2 without the expert bias", lambda d: edit_config(d, moe_router_enable_expert_bias=False),
         ["config.json", "moe_router_enable_expert_bias"]),
    ])


def hunyuan_moe(work):
    """Hunyuan-A13B (round_trips: synth's file byte for byte): its per-layer
    MoE keys as lists of one value convert as that value; rope_scaling's
    dynamic alpha raises RoPE's base to base * alpha^(d / (d - 2)) (the
    same file as synth's preset of that base); what its configs may say
    that the architecture does not compute is refused by key."""
    hf = os.path.join(work, "hf-hunyuan")
    must("synth", "--arch", "hunyuan-moe", "--preset", "tiny", "--format", "hf", "--seed", 7, "-o", hf)
    plain = os.path.join(work, "hunyuan.gguf")
    must("convert", hf, "-o", plain)
    lists = os.path.join(work, "hf-hunyuan-lists")
    shutil.copytree(hf, lists)
    edit_config(lists, moe_topk=[2, 2], moe_intermediate_size=[64, 64], num_shared_expert=[1, 1])
    listed = os.path.join(work, "hunyuan-lists.gguf")
    must("convert", lists, "-o", listed)
    check(same_file(plain, listed), "hunyuan-moe per-layer lists of one value read as the value")
    alpha = os.path.join(work, "hf-hunyuan-alpha")
    shutil.copytree(hf, alpha)
    edit_config(alpha, rope_scaling={"type": "dynamic", "alpha": 1000.0, "factor": 1.0, "beta_fast": 32,
                                     "beta_slow": 1, "mscale": 1.0, "mscale_all_dim": 1.0})
    out = os.path.join(work, "hunyuan-alpha.gguf")
    must("convert", alpha, "-o", out)
    md = {m["key"]: m["value"] for m in json.loads(must("inspect", "--json", out).stdout)["metadata"]}
    want = float(np.float32(10000.0 * 1000.0 ** (32 / 30)))
    check(md["hunyuan-moe.rope.freq_base"] == want and "hunyuan-moe.rope.scaling.type" not in md,
          f"hunyuan-moe rope_scaling alpha 1000: freq_base {md['hunyuan-moe.rope.freq_base']} (want {want})")
    refused(work, hf, "hunyuan", [
        ("hunyuan-moe cross-layer attention", lambda d: edit_config(d, use_cla=True), ["config.json", "use_cla"]),
        ("hunyuan-moe top-k by layer", lambda d: edit_config(d, moe_topk=[2, 1]), ["config.json", "moe_topk"]),
        ("hunyuan-moe linear rope_scaling", lambda d: edit_config(d, rope_scaling={"type": "linear", "factor": 2.0}),
         ["config.json", "rope_scaling"]),
        ("hunyuan-moe without q/k norm", lambda d: edit_config(d, use_qk_norm=False), ["config.json", "use_qk_norm"]),
    ])


def ernie4_5_moe(work):
    """ERNIE-4.5-MoE (round_trips: synth's file byte for byte): its
    next-token-prediction modules are left out; what its configs may say
    that the architecture does not compute (biases, MoE layers that stop
    before the last, no correction bias) is refused by key."""
    hf = os.path.join(work, "hf-ernie")
    must("synth", "--arch", "ernie4_5-moe", "--preset", "tiny", "--format", "hf", "--seed", 7, "-o", hf)
    names = [n for n, *_ in read_safetensors(os.path.join(hf, "model.safetensors"))]
    check("model.layers.1.mlp.moe_statics.e_score_correction_bias" in names and
          "model.layers.2.mlp.gate_proj.weight" in names,
          "ernie4_5-moe checkpoint: the selection bias in moe_statics, layer 2 dense")
    # Its published checkpoints carry next-token-prediction modules, which
    # convert leaves out: the same file as without them.
    mtp = os.path.join(work, "hf-ernie-mtp")
    shutil.copytree(hf, mtp)
    path = os.path.join(mtp, "model.safetensors")
    rng = np.random.default_rng(3)
    extras = [("model.mtp_linear_proj.0.weight", (128, 256)), ("model.mtp_emb_norm.0.weight", (128,)),
              ("model.mtp_block.0.input_layernorm.weight", (128,))]
    write_safetensors(path, read_safetensors(path) + [
        (name, "F32", shape, rng.standard_normal(shape).astype("<f4").tobytes()) for name, shape in extras])
    plain, with_mtp = os.path.join(work, "ernie.gguf"), os.path.join(work, "ernie-mtp.gguf")
    must("convert", hf, "-o", plain)
    must("convert", mtp, "-o", with_mtp)
    check(same_file(plain, with_mtp), "ernie4_5-moe next-token-prediction modules (model.mtp_*) left out")
    refused(work, hf, "ernie", [
        ("ernie4_5-moe biases", lambda d: edit_config(d, use_bias=True), ["config.json", "use_bias"]),
        ("ernie4_5-moe MoE layers ending early", lambda d: edit_config(d, moe_layer_end_index=2),
         ["config.json", "moe_layer_end_index 2"]),
        ("ernie4_5-moe without the correction bias", lambda d: edit_config(d, moe_use_aux_free=False),
         ["config.json", "moe_use_aux_free"]),
    ])


def deepseek4(work):
    """DeepSeek-V4 (round_trips: synth's file byte for byte): its
    checkpoints' names (embed, layers.N.attn.*, ffn.*, hc_*), the hash
    layer's tid2eid as I32; in BF16 with the hyper-connections' mixing kept
    F32 as DeepSeek ships it; its next-token-prediction module (mtp.*) left
    out; a missing or misshapen tensor, an expert id out of range, a float
    table and keys the architecture does not compute are refused by name."""
    hf = os.path.join(work, "hf-dsv4")
    must("synth", "--arch", "deepseek4", "--preset", "tiny", "--format", "hf", "--seed", 7, "-o", hf)
    st = os.path.join(hf, "model.safetensors")
    tensors = read_safetensors(st)
    kinds = {n: (dt, sh) for n, dt, sh, _ in tensors}
    check(kinds.get("layers.0.ffn.gate.tid2eid") == ("I32", [512, 2]) and kinds.get("hc_head_fn", ("",))[0] == "F32"
          and "layers.1.attn.indexer.compressor.ape" in kinds and "layers.3.ffn.experts.7.w2.weight" in kinds
          and "layers.1.ffn.gate.bias" in kinds and "layers.0.ffn.gate.bias" not in kinds,
          "deepseek4 checkpoint: DeepSeek-V4's names, tid2eid I32 [vocab, k] in the hash layer, the bias elsewhere")
    bf16 = hf + "-bf16"
    to_bf16(hf, bf16, keep_f32=lambda name, shape: len(shape) == 1 or "hc_" in name or name.endswith(".ape"))
    r = run("convert", bf16, "-o", os.path.join(work, "dsv4-bf16.gguf"))
    check(r.returncode == 0, f"deepseek4 BF16 checkpoint with F32 hyper-connections converts: {r.stderr.strip()[-200:]}")
    mtp = hf + "-mtp"
    shutil.copytree(hf, mtp)
    rng = np.random.default_rng(3)
    extras = [("mtp.0.e_proj.weight", (128, 128)), ("mtp.0.enorm.weight", (128,)), ("mtp.0.hc_head_fn", (4, 512))]
    write_safetensors(os.path.join(mtp, "model.safetensors"), tensors + [
        (name, "F32", shape, rng.standard_normal(shape).astype("<f4").tobytes()) for name, shape in extras])
    plain, with_mtp = os.path.join(work, "dsv4.gguf"), os.path.join(work, "dsv4-mtp.gguf")
    must("convert", hf, "-o", plain)
    must("convert", mtp, "-o", with_mtp)
    check(same_file(plain, with_mtp), "deepseek4 next-token-prediction module (mtp.*) left out")

    def rewrite(d, change):
        p = os.path.join(d, "model.safetensors")
        write_safetensors(p, [t for t in map(change, read_safetensors(p)) if t is not None])

    ape = "layers.1.attn.compressor.ape"
    table = "layers.0.ffn.gate.tid2eid"

    def bad_id(t):
        if t[0] != table:
            return t
        ids = np.frombuffer(t[3], "<i4").copy()
        ids[5] = 8
        return t[0], t[1], t[2], ids.tobytes()

    # As published: projections in fp8 blocks with F8_E8M0 scales named X.scale, experts in FP4 (I8).
    fp8 = hf + "-fp8"
    must("synth", "--arch", "deepseek4", "--preset", "tiny", "--format", "hf", "--seed", 7, "--fp8-block", 32, "-o", fp8)
    kinds = {n: (dt, sh) for n, dt, sh, _ in read_safetensors(os.path.join(fp8, "model.safetensors"))}
    check(kinds.get("layers.1.attn.wq_a.weight", ("",))[0] == "F8_E4M3" and
          kinds.get("layers.1.attn.wq_a.scale") == ("F8_E8M0", [2, 4]) and
          kinds.get("layers.1.ffn.experts.0.w1.weight") == ("I8", [64, 64]) and
          kinds.get("layers.1.ffn.experts.0.w1.scale") == ("F8_E8M0", [64, 4]) and
          kinds.get("layers.1.hc_attn_fn", ("",))[0] == "F32",
          "deepseek4 fp8 checkpoint: fp8 projections with F8_E8M0 X.scale, FP4 experts I8 with a scale per 32")
    plain32, fp8_32 = os.path.join(work, "dsv4-plain32.gguf"), os.path.join(work, "dsv4-fp8.gguf")
    must("convert", hf, "--type", "f32", "-o", plain32)
    must("convert", fp8, "--type", "f32", "-o", fp8_32)
    must("quantize", fp8_32, fp8_32 + ".f32", "f32")  # the MXFP4 experts as values
    a, b, c = read_gguf(plain32), read_gguf(fp8_32), read_gguf(fp8_32 + ".f32")
    experts = [n for n in a.order if "_exps." in n]
    fp8_names = [n for n in a.order if a.tensors[n].type != b.tensors[n].type or not (a.raw(n) == b.raw(n))]
    fp8_names = [n for n in fp8_names if n not in experts]

    def err(names):
        return max(float(np.abs(a.tensor(n) - c.tensor(n)).max() / np.abs(a.tensor(n)).max()) for n in names)

    check(all(b.tensors[n].type == 39 for n in experts) and 0 < err(fp8_names) <= 1 / 16 and
          0 < err(experts) <= 1 / 4 and len(fp8_names) == sum(dt == "F8_E4M3" for dt, _ in kinds.values()),
          f"deepseek4 fp8 checkpoint: {len(experts)} expert tensors MXFP4 (within {err(experts):.1e}), "
          f"{len(fp8_names)} fp8 tensors within fp8 rounding ({err(fp8_names):.1e}), the others equal")
    w1 = "layers.1.ffn.experts.3.w1"
    refused(work, fp8, "dsv4-fp8", [
        ("deepseek4 FP4 scale missing", lambda d: rewrite(d, lambda t: None if t[0] == w1 + ".scale" else t),
         ["model.safetensors", w1 + ".scale", "missing", w1 + ".weight"]),
        ("deepseek4 FP4 expert of the wrong shape",
         lambda d: rewrite(d, lambda t: (t[0], t[1], [32, 128], t[3]) if t[0] == w1 + ".weight" else t),
         ["model.safetensors", w1 + ".weight", "shape [32, 128]", "need [64, 64]"]),
        ("deepseek4 FP4 scale in floats",
         lambda d: rewrite(d, lambda t: (t[0], "F32", [64, 1], t[3]) if t[0] == w1 + ".scale" else t),
         ["model.safetensors", w1 + ".scale", "F8_E8M0 [64, 4]"]),
        ("deepseek4 fp8 scale missing",
         lambda d: rewrite(d, lambda t: None if t[0] == "layers.2.attn.wo_b.scale" else t),
         ["model.safetensors", "layers.2.attn.wo_b.scale", "missing"]),
    ])

    refused(work, hf, "dsv4", [
        ("deepseek4 tensor missing", lambda d: rewrite(d, lambda t: None if t[0] == ape else t),
         [ape, "blk.1.attn_compressor_ape.weight", "missing"]),
        ("deepseek4 tensor of the wrong shape",
         lambda d: rewrite(d, lambda t: (t[0], t[1], t[2][::-1], t[3]) if t[0] == "layers.0.hc_attn_fn" else t),
         ["model.safetensors", "'layers.0.hc_attn_fn' has shape [512, 24]", "[24, 512]"]),
        ("deepseek4 expert id out of range", lambda d: rewrite(d, bad_id),
         ["model.safetensors", table, "expert id 8 of 8 experts"]),
        ("deepseek4 hash table in floats",
         lambda d: rewrite(d, lambda t: (t[0], "F32", t[2], t[3]) if t[0] == table else t),
         ["model.safetensors", table, "dtype F32", "I32 or I64"]),
        ("deepseek4 softmax router", lambda d: edit_config(d, scoring_func="softmax"), ["config.json", "scoring_func"]),
        ("deepseek4 compress_ratios short", lambda d: edit_config(d, compress_ratios=[0, 4]),
         ["config.json", "compress_ratios"]),
        ("deepseek4 two key/value heads", lambda d: edit_config(d, num_key_value_heads=2),
         ["config.json", "num_key_value_heads 2"]),
    ])


def bad_inputs(work):
    src = os.path.join(work, "hf-bad-src")
    must("synth", "--arch", "llama", "--preset", "tiny", "--format", "hf", "--shards", 2, "--seed", 3, "-o", src)
    shard1 = "model-00001-of-00002.safetensors"
    shard2 = "model-00002-of-00002.safetensors"

    def truncate(d, name, size):
        p = os.path.join(d, name)
        with open(p, "r+b") as f:
            f.truncate(size if size >= 0 else os.path.getsize(p) + size)

    def header_len(d, name, n):
        p = os.path.join(d, name)
        with open(p, "r+b") as f:
            f.write(n.to_bytes(8, "little"))

    cases = [
        ("missing shard", lambda d: os.remove(os.path.join(d, shard2)), [shard2, "missing"]),
        ("truncated header", lambda d: truncate(d, shard1, 100), [shard1, "truncated"]),
        ("header length beyond the file", lambda d: header_len(d, shard2, 1 << 40), [shard2, "truncated"]),
        ("truncated data", lambda d: truncate(d, shard2, -16), [shard2, "model.", "outside"]),
        ("shorter than a header length", lambda d: truncate(d, shard1, 5), [shard1, "8-byte"]),
        ("dtype disagrees with config.json", lambda d: edit_config(d, torch_dtype="bfloat16"),
         ["model.", "dtype F32", "BF16"]),
        ("shape disagrees with config.json", lambda d: edit_config(d, intermediate_size=96),
         ["w1.weight", "shape [128, 128]", "[96, 128]"]),
        ("unknown architecture", lambda d: edit_config(d, architectures=["FooForCausalLM"]),
         ["config.json", "unknown architecture 'FooForCausalLM'"]),
        ("unsupported rope_scaling", lambda d: edit_config(d, rope_scaling={"rope_type": "dynamic", "factor": 2.0}),
         ["config.json", "rope_scaling type 'dynamic'"]),
        ("missing tensor", lambda d: edit_config(d, num_hidden_layers=3), ["model.layers.2.", "missing"]),
        ("extra tensor", lambda d: edit_config(d, num_hidden_layers=1), ["model.layers.1.", "not part of"]),
        ("no config.json", lambda d: os.remove(os.path.join(d, "config.json")), ["config.json is missing"]),
        ("no tokenizer.json", lambda d: os.remove(os.path.join(d, "tokenizer.json")), ["tokenizer.json is missing"]),
    ]
    refused(work, src, "input", cases)


def main():
    if not FRUGAL:
        raise SystemExit("set FRUGAL to the frugal binary (ctest does)")
    with tempfile.TemporaryDirectory() as work:
        round_trips(work)
        synth_over_other_shards(work)
        bf16_checkpoint(work)
        mixed_dtypes(work)
        nextn_extras(work)
        fp8_checkpoint(work)
        deepseek_mtp_layer(work)
        gpt_oss(work)
        llama4(work)
        qwen3next(work)
        qwen35moe(work)
        minimax_m2(work)
        dots1(work)
        ernie4_5_moe(work)
        bailingmoe2(work)
        hunyuan_moe(work)
        deepseek4(work)
        bad_inputs(work)
    if failures:
        print(f"{len(failures)} check(s) failed")
        sys.exit(1)
    print("OK")


if __name__ == "__main__":
    main()
