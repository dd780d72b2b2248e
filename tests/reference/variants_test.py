#!/usr/bin/python3
"""frugal vs the float64 reference on variants made by editing keys into a
tiny model's file (see reference_check.py): a large norm epsilon (a misplaced
eps shows), partial RoPE on a NeoX-layout model, DeepSeek-V2's group-limited
routing (groups scored by their best expert) with a routed scaling factor,
and V3-style routing without renormalisation."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_check import BOOL, F32, U32, main_for  # noqa: E402

main_for([
    dict(arch="qwen3", preset="tiny", keys=[("attention.layer_norm_rms_epsilon", F32, 0.1)],
         label="qwen3/tiny eps 0.1"),
    dict(arch="qwen3moe", preset="tiny", keys=[("rope.dimension_count", U32, 16)], label="qwen3moe/tiny rope_dim 16"),
    dict(arch="deepseek2", preset="tiny",
         keys=[("expert_group_count", U32, 4), ("expert_group_used_count", U32, 2),
               ("expert_weights_scale", F32, 2.0)],
         label="deepseek2/tiny groups 4/2, scale 2"),
    dict(arch="deepseek2", preset="tiny-v3", keys=[("expert_weights_norm", BOOL, False)],
         label="deepseek2/tiny-v3 unnormalised"),
])
