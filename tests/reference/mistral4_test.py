#!/usr/bin/python3
"""frugal vs the float64 reference: mistral4 (see reference_check.py)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_check import main_for  # noqa: E402

main_for([
    # Mistral Small 4-like: DeepSeek-V2's latent attention (low-rank
    # queries, kv_b split into attn_k_b and attn_v_b, the YaRN magnitude in
    # the softmax scale), a softmax router choosing the top-2 of 8 experts,
    # renormalised, and a shared expert in every layer
    dict(arch="mistral4", preset="tiny"),
])
