#!/usr/bin/python3
"""frugal vs the float64 reference: deepseek4 (see reference_check.py)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_check import main_for  # noqa: E402

main_for([
    # DeepSeek-V4-like: 4 hyper-connection streams (Sinkhorn mixing), one
    # shared key/value head of 64 with RoPE on its last 16, sinks, window 8 in
    # every layer, layers compressing by 0 / 4 (overlapping blocks, the
    # lightning indexer keeping the top 3) / 8 / 4, YaRN on the compressing
    # layers, grouped output, 8 experts top-2 by sqrt(softplus) with the
    # selection bias (layer 0 by the token's hash table) + 1 shared expert,
    # the SwiGLU clamped at 1.5; a 48-token prompt so that the indexer chooses
    # among up to 12 entries
    dict(arch="deepseek4", preset="tiny", prompt_len=48),
])
