#!/usr/bin/python3
"""frugal vs the float64 reference: minimax-m2 (see reference_check.py)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_check import main_for  # noqa: E402

main_for([
    # MiniMax-M2-like: RMSNorm over the whole q (4 heads of 64) and whole k
    # (2 heads) vectors, RoPE on 32 of 64 dimensions (NeoX pairing), a
    # sigmoid router whose exp_probs_b chooses the experts without weighing
    # them, top-4 of 16 renormalised, no shared expert
    dict(arch="minimax-m2", preset="tiny"),
])
