#!/usr/bin/python3
"""frugal vs the float64 reference: dots1 (see reference_check.py)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_check import main_for  # noqa: E402

main_for([
    # dots.llm1-like: RMSNorm per query and key head (4 query heads of 64, 2
    # key/value heads), RoPE over whole heads (NeoX pairing), a dense first
    # layer, then a sigmoid router whose exp_probs_b chooses the experts
    # without weighing them, top-2 of 8 renormalised and scaled by 2.5, and
    # two shared experts
    dict(arch="dots1", preset="tiny"),
])
