#!/usr/bin/python3
"""frugal vs the float64 reference: deepseek2 (see reference_check.py)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_check import main_for  # noqa: E402

main_for([
    # V2-Lite-like: q without LoRA, YaRN (factor 4), softmax router, 2 shared experts, 1 dense layer
    dict(arch="deepseek2", preset="tiny"),
    # V3-like: q LoRA, sigmoid router with exp_probs_b, 4 groups use 2, renormalised, scale 2.5
    dict(arch="deepseek2", preset="tiny-v3"),
    # Kimi-K2-like, kv_b split into attn_k_b/attn_v_b as current converters write it
    dict(arch="deepseek2", preset="tiny-k2"),
    # V2-Lite-like with the split layout
    dict(arch="deepseek2", preset="tiny", synth_args=("--mla-kv-b", "split")),
])
