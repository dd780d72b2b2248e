#!/usr/bin/env python3
"""same_curve.py REF.jsonl RUN.jsonl...: each run's metrics log (frugal train
--log) has REF's steps, and at every step the training loss, the validation
loss and the gradient norm within 1e-6 relative of REF's (a data-parallel
run against one process: the same sums in another order). Exits non-zero
naming the first step and value that differ."""
import json
import sys


def curve(path):
    with open(path) as f:
        return {r["step"]: r for r in map(json.loads, f)}


ref = curve(sys.argv[1])
for path in sys.argv[2:]:
    run = curve(path)
    if sorted(run) != sorted(ref):
        sys.exit(f"{path}: steps {sorted(run)}, want {sorted(ref)}")
    for step, r in ref.items():
        for key in ("train_loss", "val_loss", "grad_norm"):
            a, b = r[key], run[step][key]
            if a is None:
                if b is not None:
                    sys.exit(f"{path}: step {step} {key} {b}, want none")
                continue
            if abs(a - b) > 1e-6 * abs(a):
                sys.exit(f"{path}: step {step} {key} {b}, want {a}")
