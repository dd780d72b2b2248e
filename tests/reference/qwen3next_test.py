#!/usr/bin/python3
"""frugal vs the float64 reference: qwen3next and qwen35moe (see reference_check.py)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_check import main_for  # noqa: E402

main_for([
    # Qwen3-Next-like: 4 layers alternating Gated DeltaNet (2 key heads, 4 value
    # heads of 32, convolution of 4, ssm_in/ssm_ba grouped per key head) and
    # gated attention (output gate per head, per-head q/k norm, RoPE on 16 of
    # 32 dimensions), 8 experts top-2 renormalised plus a sigmoid-gated shared
    # expert
    dict(arch="qwen3next", preset="tiny"),
    # Qwen3.5-MoE-like: the split projections (attn_qkv, attn_gate, ssm_beta,
    # ssm_alpha) with value heads tiling the key heads, 3 recurrent layers then
    # gated attention, a next-token-prediction block (checked at load, not run)
    dict(arch="qwen35moe", preset="tiny"),
])
