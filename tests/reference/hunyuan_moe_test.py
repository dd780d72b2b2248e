#!/usr/bin/python3
"""frugal vs the float64 reference: hunyuan-moe (see reference_check.py)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_check import main_for  # noqa: E402

main_for([
    # Hunyuan-A13B-like: RoPE over whole heads (NeoX pairing), then RMSNorm
    # per query and key head of the rotated heads; a softmax router over all
    # 8 experts whose top-2 is renormalised; an ungated shared expert; the
    # embedding tied to the LM head
    dict(arch="hunyuan-moe", preset="tiny"),
])
