"""What the two PyTorch gradient tests share (tests/train/torch_gradient_test.py
for frugal train's parameters, tests/finetune/torch_lora_gradient_test.py for
frugal finetune's adapters; both rebuild the loss with torch_train_ref): PyTorch
or a skip, the norm-wise relative error that judges a gradient, the worst one
of a case, and the end of a run."""
import sys

import numpy as np

TOL = 1e-5  # loss parts and gradients, f32 frugal against PyTorch in float64


def require_torch():
    """PyTorch, or exit 0 with a SKIP line where Debian's python3-torch is absent."""
    try:
        import torch
    except ModuleNotFoundError as e:
        if e.name != "torch":
            raise
        print("SKIP: PyTorch is absent (Debian: apt-get install python3-torch; scripts/install-test-peers)")
        sys.exit(0)
    return torch


def rel_error(got, want):
    """|got - want| / |want| of a scalar (|got| where want is 0)."""
    return abs(got - want) / abs(want) if want != 0 else abs(got)


class Gradients:
    """Norm-wise relative errors ||g - g_torch|| / ||g_torch|| of one case's
    gradients: the worst, and every one above TOL as a failure line."""

    def __init__(self):
        self.worst = ("", 0.0)
        self.errors = []
        self.count = 0

    def check(self, name, got, want):
        got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
        norm = np.linalg.norm(want)
        err = np.linalg.norm(got - want) / norm if norm > 0 else np.linalg.norm(got)
        self.count += 1
        if err > self.worst[1]:
            self.worst = (name, err)
        if not err <= TOL:
            self.errors.append(f"{name}: gradient norm-wise relative error {err:.2e} (|g| {norm:.3e})")


def finish(failures, ok_line):
    """Prints the failures and exits 1, or prints ok_line."""
    if failures:
        print("\n".join(failures))
        sys.exit(1)
    print(ok_line)
