#!/usr/bin/python3
"""The reference's own GGUF reader and dequantisation, checked against frugal:
- metadata, tensor names, shapes, types and offsets as `frugal inspect --json`
  reads them;
- every tensor of a file that `frugal synth` quantised to each type, dequantised
  by frugal_ref, is within the type's error bound of the same seed's f32
  values (a wrong block layout gives errors of order 1);
- write_gguf's copy of a file with a key added reads the same in frugal and
  gives bit-identical logits.
Quantised types frugal cannot write yet are reported and skipped.
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_check import FRUGAL, CheckFailed, frugal, frugal_logits, fresh_seed  # noqa: E402
from frugal_ref import read_gguf, write_gguf  # noqa: E402
from frugal_ref import dequant, gguf as gguf_format  # noqa: E402

import numpy as np  # noqa: E402

# Relative RMS error bound per type (measured on synth weights: f16 2.1e-4,
# bf16 1.7e-3, q8_0 5.2e-3, q4_0 8.3e-2; q6_k and q4_k: expected ~1e-2 and ~5e-2).
RMS_BOUND = {"f16": 1e-3, "bf16": 5e-3, "q8_0": 1e-2, "q4_0": 0.12, "q6_k": 3e-2, "q4_k": 0.1, "mxfp4": 0.13}


def check_inspect(path, f):
    info = json.loads(subprocess.run([FRUGAL, "inspect", "--json", path], capture_output=True, text=True,
                                     check=True).stdout)
    if info["version"] != f.version or info["alignment"] != f.alignment or info["data_offset"] != f.data_start:
        raise CheckFailed(f"{path}: header differs from frugal inspect")
    for kv in info["metadata"]:
        mine = f.metadata[kv["key"]]
        if isinstance(mine, list) or kv["type"] == "array":
            continue
        if isinstance(mine, float):
            ok = np.isclose(mine, kv["value"], rtol=1e-7)
        else:
            ok = mine == kv["value"]
        if not ok:
            raise CheckFailed(f"{path}: key {kv['key']}: reference reads {mine!r}, frugal {kv['value']!r}")
    if len(info["metadata"]) != len(f.metadata):
        raise CheckFailed(f"{path}: {len(f.metadata)} keys, frugal inspect lists {len(info['metadata'])}")
    if [t["name"] for t in info["tensors"]] != f.order:
        raise CheckFailed(f"{path}: tensor order differs")
    for t in info["tensors"]:
        mine = f.tensors[t["name"]]
        if list(t["shape"]) != mine.dims or t["offset"] != mine.offset or t["type"] != dequant.NAMES.get(mine.type):
            raise CheckFailed(f"{path}: tensor {t['name']} differs: {t} vs dims {mine.dims} type {mine.type}")


def main():
    seed = fresh_seed()
    print("seed", seed)
    failed = 0
    with tempfile.TemporaryDirectory() as d:
        for arch, preset, extra in [("qwen3moe", "tiny", []), ("deepseek2", "tiny-v3", []),
                                    ("llama", "tiny", ["--embd", "256", "--ff", "256"]), ("gpt-oss", "tiny", [])]:
            f32_path = os.path.join(d, f"{arch}-f32.gguf")
            frugal("synth", "--arch", arch, "--preset", preset, "--type", "f32", "--seed", seed, "-o", f32_path, *extra)
            f32 = read_gguf(f32_path)
            check_inspect(f32_path, f32)
            for ttype in RMS_BOUND:
                path = os.path.join(d, f"{arch}-{ttype}.gguf")
                try:
                    frugal("synth", "--arch", arch, "--preset", preset, "--type", ttype, "--seed", seed, "-o", path,
                           *extra)
                except CheckFailed as e:
                    if "cannot be quantised yet" in str(e):
                        print(f"{arch} {ttype}: skipped: frugal cannot write {ttype} yet")
                        continue
                    raise
                q = read_gguf(path)
                check_inspect(path, q)
                worst = {}
                for name in f32.order:
                    t = q.tensors[name]
                    tname = dequant.NAMES[t.type]
                    if tname == "f32":
                        continue
                    a, b = f32.tensor(name), q.tensor(name)
                    err = float(np.sqrt(np.mean((a - b) ** 2) / np.mean(a * a)))
                    if err >= RMS_BOUND[tname]:
                        print(f"FAIL: {arch} {ttype}: {name} ({tname}) relative RMS error {err:.2e} "
                              f"above {RMS_BOUND[tname]}")
                        failed += 1
                    worst[tname] = max(worst.get(tname, 0.0), err)
                print(f"{arch} {ttype}: worst relative RMS error per stored type: " +
                      ", ".join(f"{k} {v:.2e}" for k, v in sorted(worst.items())))
        # The writer: a copy with one more key reads the same and computes the same.
        src_path = os.path.join(d, "qwen3moe-q8_0.gguf")
        copy_path = os.path.join(d, "copy.gguf")
        src = read_gguf(src_path)
        write_gguf(copy_path, src, [("reference.note", gguf_format.STRING, "copied")])
        copy = read_gguf(copy_path)
        check_inspect(copy_path, copy)
        if copy.metadata["reference.note"] != "copied" or any(src.raw(n) != copy.raw(n) for n in src.order):
            raise CheckFailed("write_gguf: the copy differs")
        tokens = list(np.random.default_rng(seed).integers(0, 512, 16))
        if not np.array_equal(frugal_logits(d, src_path, tokens), frugal_logits(d, copy_path, tokens)):
            raise CheckFailed("write_gguf: frugal computes different logits on the copy")
        print("write_gguf: copy with an added key reads and computes the same")
    if failed:
        sys.exit(1)
    print("OK")


if __name__ == "__main__":
    main()
