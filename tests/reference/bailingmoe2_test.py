#!/usr/bin/python3
"""frugal vs the float64 reference: bailingmoe2 (see reference_check.py)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_check import main_for  # noqa: E402

main_for([
    # Ling 2.0-like: q, k and v as the rows of one attn_qkv, RMSNorm per
    # query and key head, RoPE on half of each head (NeoX pairing), a dense
    # first layer, then a sigmoid router whose exp_probs_b chooses the experts
    # among the best 2 of 4 groups (a group scored by its two best), the
    # top-2 of 8 renormalised and scaled by 2.5, and one shared expert
    dict(arch="bailingmoe2", preset="tiny"),
])
