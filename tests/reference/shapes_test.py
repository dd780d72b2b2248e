#!/usr/bin/python3
"""frugal vs the float64 reference on shapes the tiny presets do not have,
made with synth flags (see reference_check.py): 150-token prompts (past
frugal's 64-position attention blocks), GQA groups of 4, sizes that are not
multiples of SIMD widths or quantisation blocks, 16 experts top-4."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_check import main_for  # noqa: E402

main_for([
    # Float weights: exact at every position of the long prompt.
    dict(arch="llama", preset="tiny", types=("f32", "f16"), prompt_len=150, label="llama/tiny 150 tokens"),
    dict(arch="deepseek2", preset="tiny-v3", types=("f32", "f16"), prompt_len=150, label="deepseek2/tiny-v3 150 tokens"),
    dict(arch="llama", preset="tiny", synth_args=["--heads", "8", "--heads-kv", "2"]),
    # Row lengths of 80 and 40 (q8_0 falls back per tensor), 5 heads, vocabulary 300.
    dict(arch="qwen3moe", preset="tiny", synth_args=["--embd", "80", "--heads", "5", "--heads-kv", "5", "--ff-exp", "40",
                                                    "--vocab", "300"]),
    dict(arch="deepseek2", preset="tiny-v3", synth_args=["--experts", "16", "--experts-used", "4"]),
])
