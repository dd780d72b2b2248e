#!/usr/bin/python3
"""A DeepSeek file whose kv_b is split into attn_k_b / attn_v_b (as current
converters write DeepSeek-V3/R1 and Kimi-K2) computes what the joint attn_kv_b
file of the same weights computes: `frugal synth --mla-kv-b split` draws the
same values as the joint file of that seed, laid out split. frugal's logits on
the split file (whole prompt, token by token, in chunks) must equal the float64
reference on the joint file within 1e-4, and the reference reads both layouts
the same (within float64 rounding)."""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_check import (EXACT_TOL, CheckFailed, fresh_seed, frugal_logits, main_for,  # noqa: E402
                             rel_err, synth)
from frugal_ref import load_model  # noqa: E402

import numpy as np  # noqa: E402


def check(preset, seed=None):
    seed = fresh_seed() if seed is None else seed
    rng = np.random.default_rng(seed)
    weights_seed = int(rng.integers(0, 1 << 31))
    with tempfile.TemporaryDirectory() as workdir:
        joint = synth(workdir, "deepseek2", preset, "f32", ("--mla-kv-b", "joint"), weights_seed)
        split = synth(workdir, "deepseek2", preset, "f32", ("--mla-kv-b", "split"), weights_seed)
        ref_joint = load_model(joint)
        tokens = rng.integers(0, ref_joint.n_vocab, 24).tolist()
        want = ref_joint.logits(tokens)
        layouts = rel_err(load_model(split).logits(tokens), want)
        if layouts >= 1e-12:
            raise CheckFailed(f"{preset}, seed {seed}: the reference reads the split file differently: {layouts:.2e}")
        errs = {mode: rel_err(frugal_logits(workdir, split, tokens, mode), want)
                for mode in ("batch", "incremental", "chunked")}
        line = f"deepseek2/{preset} split vs joint, seed {seed}: reference {layouts:.1e}; frugal " + \
               ", ".join(f"{m} {e:.2e}" for m, e in errs.items())
        if max(errs.values()) >= EXACT_TOL:
            raise CheckFailed(f"{line}: above {EXACT_TOL}")
        print(line, flush=True)


if __name__ == "__main__":
    main_for([dict(preset="tiny"), dict(preset="tiny-v3")], check=check)
