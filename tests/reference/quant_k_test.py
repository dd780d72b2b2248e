#!/usr/bin/python3
"""frugal vs the float64 reference on k-quant files (Q4_K, and the q4_k_m
recipe's mix of Q4_K, Q5_K, Q6_K and Q8_0): rows of 256 (the k-quant block), so the
tiny presets are widened to n_embd 256 (see reference_check.py)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_check import main_for  # noqa: E402

wide = ["--embd", "256", "--ff", "256", "--ff-exp", "256"]
main_for([
    dict(arch="llama", preset="tiny", types=("q4_k",), synth_args=wide),
    dict(arch="qwen3", preset="tiny", types=("q4_k", "q4_k_m"), synth_args=["--embd", "256", "--ff", "256"]),
    dict(arch="qwen3moe", preset="tiny", types=("q4_k_m",), synth_args=wide + ["--heads", "8", "--heads-kv", "4"]),
    dict(arch="deepseek2", preset="tiny-v3", types=("q4_k",), synth_args=wide),
])
