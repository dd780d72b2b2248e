#!/usr/bin/python3
"""frugal vs the float64 reference: llama (see reference_check.py)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_check import main_for  # noqa: E402

main_for([
    dict(arch="llama", preset="tiny"),  # Mixtral-style MoE, GQA 4/2, separate LM head
    dict(arch="llama", preset="tiny-dense"),
])
