#!/usr/bin/python3
"""frugal vs the float64 reference: glm4moe (see reference_check.py)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_check import main_for  # noqa: E402

main_for([
    # GLM-4.5-like: q/k/v biases, per-head q/k norm, RoPE on 32 of 64 dimensions
    # (NeoX pairing), 1 dense + 2 MoE layers, sigmoid router with exp_probs_b,
    # renormalised top-2 times 2.5, one shared expert; a next-token-prediction
    # block after the three that run (checked at load, not run)
    dict(arch="glm4moe", preset="tiny"),
    # GLM-4.5-Air-like: no q/k norm, routed scale 1
    dict(arch="glm4moe", preset="tiny-air"),
])
