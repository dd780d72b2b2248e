#!/usr/bin/python3
"""frugal vs the float64 reference: ernie4_5-moe (see reference_check.py)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_check import main_for  # noqa: E402

main_for([
    # ERNIE-4.5-MoE-like: RoPE on the interleaved pairs of each head (4 query
    # heads of 64, 2 key/value heads), no q/k norm, a dense first layer then
    # MoE and dense layers alternating, a softmax router whose exp_probs_b
    # chooses the experts without weighing them, top-2 of 8 renormalised, and
    # two shared experts
    dict(arch="ernie4_5-moe", preset="tiny"),
])
