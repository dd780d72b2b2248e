#!/usr/bin/python3
"""frugal vs the float64 reference: qwen3 (see reference_check.py)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_check import main_for  # noqa: E402

main_for([
    dict(arch="qwen3", preset="tiny"),  # per-head q/k norm, head_dim 64 != n_embd / n_head
])
