#!/usr/bin/python3
"""frugal vs the float64 reference with RoPE scaling keys added to a tiny
model's file: YaRN on a NeoX-layout architecture (qwen3moe) and on llama's
interleaved layout, linear scaling on qwen2 (see reference_check.py)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_check import main_for  # noqa: E402

main_for([
    dict(arch="qwen3moe", preset="tiny", rope="yarn"),
    dict(arch="llama", preset="tiny", rope="yarn"),
    dict(arch="qwen2", preset="tiny", rope="linear", types=("f32",)),
])
