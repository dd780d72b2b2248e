#!/usr/bin/python3
"""frugal vs the float64 reference: llama4 (see reference_check.py)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_check import main_for  # noqa: E402

main_for([
    # Maverick-like: dense and MoE layers interleaved (step 2), 8 experts top-1 with
    # the sigmoid weight on the expert's input, a shared expert, RoPE with
    # rope_freqs factors, attention chunks of 8 positions and an unweighted q/k
    # norm on layers 0-2, layer 3 NoPE over all positions with queries tempered
    # past position 3 (temperature length 4)
    dict(arch="llama4", preset="tiny"),
    # Scout-like: every layer MoE, 16 experts top-1
    dict(arch="llama4", preset="tiny-scout"),
])
