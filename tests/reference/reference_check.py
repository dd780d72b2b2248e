#!/usr/bin/python3
"""Checks frugal against the float64 numpy reference (frugal_ref) on tiny
synthetic models: logits at every position of a random prompt, greedy
continuations, and quantised files against both the f32 reference and the
reference run on the same dequantised weights.

The *_test.py files beside this one call check_model() for their
architecture; run by hand to check one case:

    FRUGAL=build/frugal /usr/bin/python3 tests/reference/reference_check.py \
        --arch qwen3moe [--preset tiny] [--types f32,q8_0] [--seed S] [--rope yarn]

A failure prints the seed; FRUGAL_REF_SEED=S replays it.
"""
import argparse
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
except ImportError:
    raise SystemExit("the reference tests need numpy in " + sys.executable +
                     " (Debian: apt-get install python3-numpy, listed in scripts/bootstrap)")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from frugal_ref import load_model, read_gguf, routing_changes, stable_prefix, write_gguf  # noqa: E402
from frugal_ref import gguf as gguf_format  # noqa: E402
from frugal_ref.model import ACT_BLOCK, BF16_TYPE, HYBRID_ARCHS  # noqa: E402

FRUGAL = os.environ.get("FRUGAL")
PROMPT_LEN = 32
GREEDY_PROMPT = 8
GREEDY_LEN = 32
EXACT_TOL = 1e-4                     # frugal vs the reference on the same weights
# Logits of a quantised file vs the f32 reference (max|delta| / max|ref|, over
# the positions before the first routing change). Measured on the tiny models
# over 12 seeds with frugal's int8 activation encoding: q8_0 1.2-1.9e-2 (2.2e-2
# for the unnormalised V3 variant), q4_k 1.25-1.6e-1: weight and activation
# rounding through 2-3 layers of random weights, not an error of frugal (its
# logits on the same weights match the reference to ~1e-7).
# KV caches that round keys and values (f32 weights, measured on the tiny
# models: f16 1.1-6.4e-4, q8_0 2.5e-3-1.3e-2 (qwen2's biased keys)).
# (bound, routing margin the compared positions keep).
KV_TOL = {"f16": (2e-3, 1e-3), "q8_0": (3e-2, 1e-2)}
QUANT_TOL = {"f16": 5e-3, "q8_0": 3e-2, "q4_k": 0.25, "q4_k_m": 0.25, "mxfp4": 0.5}


class CheckFailed(Exception):
    pass


def fresh_seed():
    s = os.environ.get("FRUGAL_REF_SEED")
    return int(s) if s else int.from_bytes(os.urandom(4), "little")


def frugal(*args):
    if not FRUGAL:
        raise SystemExit("set FRUGAL to the frugal binary")
    r = subprocess.run([FRUGAL, "-q", *map(str, args)], capture_output=True, text=True)
    if r.returncode != 0:
        raise CheckFailed(f"frugal {' '.join(map(str, args))} exited {r.returncode}: {r.stderr.strip()}")
    return r.stdout


def frugal_run_available():
    """Whether this frugal has `run` with --prompt-ids (the greedy check needs it)."""
    r = subprocess.run([FRUGAL, "run", "--help"], capture_output=True, text=True)
    return r.returncode == 0 and "--prompt-ids" in r.stdout + r.stderr


def synth(workdir, arch, preset, ttype, synth_args=(), seed=0):
    path = os.path.join(workdir, f"{arch}-{preset}-{ttype}-{seed}.gguf")
    if not os.path.exists(path):
        frugal("synth", "--arch", arch, "--preset", preset, "--type", ttype, "--seed", seed, "-o", path, *synth_args)
    return path


S, F32, U32, BOOL = gguf_format.STRING, gguf_format.FLOAT32, gguf_format.UINT32, gguf_format.BOOL
ROPE_KEYS = {
    "linear": [("rope.scaling.type", S, "linear"), ("rope.scaling.factor", F32, 4.0)],
    "yarn": [("rope.scaling.type", S, "yarn"), ("rope.scaling.factor", F32, 4.0),
             ("rope.scaling.original_context_length", U32, 16), ("rope.scaling.yarn_beta_fast", F32, 32.0),
             ("rope.scaling.yarn_beta_slow", F32, 1.0)],
}


def with_keys(src_path, keys, tag):
    """A copy of a model file with <arch>.KEY values added or replaced:
    keys is a list of (KEY, GGUF value type, value)."""
    src = read_gguf(src_path)
    arch = src.metadata["general.architecture"]
    out = src_path[:-5] + f"-{tag}.gguf"
    write_gguf(out, src, [(f"{arch}.{k}", t, v) for k, t, v in keys])
    return out


def frugal_logits(workdir, path, tokens, mode="batch", kv_type="f32"):
    out = os.path.join(workdir, "logits.bin")
    frugal("logits", "-m", path, "--tokens", ",".join(map(str, tokens)), "-o", out, "--mode", mode, "-t", 2,
           "--kv-type", kv_type)
    return np.fromfile(out, dtype="<f4").astype(np.float64).reshape(len(tokens), -1)


def rel_err(got, ref):
    return float(np.abs(got - ref).max() / np.abs(ref).max())


# Router scores closer than this to another choice are a routing near tie
# for float32 (frugal) against float64 (the reference). glm4moe tiny's
# sigmoid router: 4 of 40 random seeds gave a greedy continuation that
# parted from the reference's after a position within 1e-6 of a tie.
ROUTE_TIE = 1e-5


def check_greedy(path, ref_model, prompt, margin=EXACT_TOL):
    """frugal run's greedy continuation (f32 KV cache, no BOS added) must be
    the reference's argmax at every step. The reference scores frugal's own
    sequence in one pass; a step where the two best logits are within
    margin * max|logit| (float32 noise) is a near tie that may go either way
    and is counted, not failed. frugal may stop early only on the end-of-sequence token.
    A mismatch past the first position within ROUTE_TIE of a routing tie
    ends the check there, counted as a near tie.
    Returns (steps checked, near ties)."""
    out = frugal("run", "-m", path, "--prompt-ids", ",".join(map(str, prompt)), "--no-bos", "--print-ids",
                 "--temp", 0, "-n", GREEDY_LEN, "-t", 2, "--kv-type", "f32")
    got = [int(t) for t in out.split()]
    eos = ref_model.file.metadata.get("tokenizer.ggml.eos_token_id")
    if not got or len(got) > GREEDY_LEN or (len(got) < GREEDY_LEN and got[-1] != eos):
        raise CheckFailed(f"frugal run printed {len(got)} ids, expected {GREEDY_LEN} (or fewer ending in EOS {eos}): "
                          f"{out!r}")
    lg = ref_model.logits(prompt + got)[len(prompt) - 1:-1]  # row i predicts got[i]
    # From the first position whose routing is within float32 noise of
    # another choice on, frugal may send a token to other experts than the
    # reference does: its logits there, and every later position's, may
    # part from the reference's by far more than rounding (a sigmoid router
    # of 8 experts did, once in many runs); the steps before are checked.
    n_stable = stable_prefix(ref_model, ROUTE_TIE) - (len(prompt) - 1)
    scale = np.abs(lg).max()
    ties = 0
    for step, (row, tok) in enumerate(zip(lg, got)):
        best = int(np.argmax(row))
        if tok == best:
            continue
        if row[best] - row[tok] <= margin * scale:
            ties += 1
            continue
        if step >= n_stable:
            return step, ties + 1
        raise CheckFailed(f"greedy step {step}: frugal chose {tok}, the reference {best} "
                          f"(logits {row[tok]:.6f} vs {row[best]:.6f}); frugal's ids {got}")
    return len(got), ties


def quant_tolerance(ttype, ref):
    """The bound on a quantised file's logits vs the f32 reference. A tied
    embedding table that is quantised enters the logits twice (as the input
    rows and as the LM head): measured q8_0 error up to 3.8e-2 and q4_k up to
    3.6e-1 on qwen2 tiny, so such models get twice the bound."""
    tol = QUANT_TOL[ttype]
    if ref.cfg.tied and ref.file.tensors["token_embd.weight"].type != 0:
        tol *= 2
    if ref.cfg.arch in HYBRID_ARCHS:
        # A recurrent state carries every position's rounding forward: the
        # reference itself on q8_0 weights differs from its f32 logits by up
        # to 4.3e-2 (qwen3next tiny, 26 seeds; frugal matches it to 2e-7), and
        # qwen35moe tiny's to 7.8e-2 at one seed (59492157) where 20 others
        # gave 1.2-3.0e-2 (frugal again within 2e-7 of the reference).
        tol *= 4
    if ref.cfg.arch == "hunyuan-moe":
        # Its tied table (above) and its q/k norms of the rotated heads: the
        # tiny preset's q8_0 logits part from the f32 reference by 1.7e-2 to
        # 7.8e-2 over 65 seeds (frugal within 8e-7 of the reference run on the
        # same weights at each), against qwen2's tied 2.7-3.8e-2.
        tol *= 1.5
    return tol


def check_model(arch, preset="tiny", types=("f32", "q8_0"), synth_args=(), rope=None, keys=(), seed=None,
                label=None, prompt_len=PROMPT_LEN):
    """Runs every check for one architecture/preset; prints one line per type
    with the measured errors and raises CheckFailed past a tolerance.
    synth_args: extra `frugal synth` flags; rope: "linear" or "yarn" scaling
    keys added to the file; keys: other (KEY, type, value) keys to add;
    prompt_len: tokens of the main prompt."""
    seed = fresh_seed() if seed is None else seed
    rng = np.random.default_rng(seed)
    keys = list(keys) + (ROPE_KEYS[rope] if rope else [])
    label = label or f"{arch}/{preset}" + (f"+{rope}" if rope else "") + "".join(f" {a}" for a in synth_args)
    has_run = frugal_run_available()
    with tempfile.TemporaryDirectory() as workdir:
        weights_seed = int(rng.integers(0, 1 << 31))

        def model_file(ttype):
            p = synth(workdir, arch, preset, ttype, synth_args, weights_seed)
            return with_keys(p, keys, "keys") if keys else p

        f32_path = model_file("f32")
        f32_ref = load_model(f32_path)
        tokens = rng.integers(0, f32_ref.n_vocab, prompt_len).tolist()
        f32_logits = f32_ref.logits(tokens)
        for ttype in types:
            path = f32_path if ttype == "f32" else model_file(ttype)
            # The same weights, with frugal's activation encoding for integer
            # and bf16 products (a no-op for f32/f16 weights).
            ref = f32_ref if ttype == "f32" else load_model(path, act_rounding=True)
            line = f"{label} {ttype}: seed {seed}: vs reference on the same weights: "
            if encodes_activations(ref):
                line += check_encoded(workdir, path, ref, tokens, rng)
            else:
                line += check_exact(workdir, path, ref, tokens)
            if ttype != "f32":
                line += "; " + check_quantised(workdir, path, ref, f32_ref, ttype, tokens, f32_logits, rng)
            if not has_run:
                line += "; greedy: not checked (this frugal has no `run --prompt-ids`)"
            elif encodes_activations(ref):
                # A rounding-boundary jump near a routing tie sends a token to other
                # experts and the continuations part; check_encoded covers these types.
                line += "; greedy: float weights only"
            else:
                prompt = rng.integers(0, ref.n_vocab, GREEDY_PROMPT).tolist()
                try:
                    steps, ties = check_greedy(path, ref, prompt)
                except CheckFailed as e:
                    raise CheckFailed(f"{label} {ttype}: seed {seed}: {e}") from e
                line += f"; greedy {steps} tokens agree" + (f" ({ties} near ties)" if ties else "")
            print(line, flush=True)


def encodes_activations(ref):
    return any(t.type in ACT_BLOCK or t.type == BF16_TYPE for t in ref.file.tensors.values())


def check_exact(workdir, path, ref, tokens):
    """Float weights: every position of batch, incremental and chunked runs
    within EXACT_TOL, and the mean cross-entropy."""
    ref_logits = ref.logits(tokens)
    got = {mode: frugal_logits(workdir, path, tokens, mode) for mode in ("batch", "incremental", "chunked")}
    errs = {mode: rel_err(g, ref_logits) for mode, g in got.items()}
    line = f"batch {errs['batch']:.2e}, incremental {errs['incremental']:.2e}, chunked {errs['chunked']:.2e}"
    if max(errs.values()) >= EXACT_TOL:
        raise CheckFailed(f"{line}: above {EXACT_TOL}")
    ce_ref = ref.mean_cross_entropy(tokens)
    ce_got = mean_cross_entropy(got["batch"], tokens)
    line += f"; cross-entropy {ce_ref:.4f} (frugal {ce_got:.4f})"
    if abs(ce_got - ce_ref) >= EXACT_TOL * max(1.0, abs(ce_ref)):
        raise CheckFailed(f"{line}: cross-entropy differs")
    return line + "; " + check_kv_types(workdir, path, ref, tokens, ref_logits)


def check_kv_types(workdir, path, ref, tokens, ref_logits):
    """The f16 and q8_0 KV caches round keys and values; over the positions
    whose routing is more than a margin from another choice in every layer
    (1e-3 for f16, 1e-2 for q8_0, in router score units, so that the rounding
    cannot move a token to other experts), the logits stay within KV_TOL of
    the reference."""
    ref.logits(tokens)
    parts = []
    for kv, (tol, margin) in KV_TOL.items():
        n = stable_prefix(ref, margin)
        if n == 0:
            parts.append(f"{kv} not checked (the first token's routing is within {margin:g} of a tie)")
            continue
        try:
            got = frugal_logits(workdir, path, tokens[:n], kv_type=kv)
        except CheckFailed as e:
            if "KV cache needs" not in str(e):
                raise
            parts.append(f"{kv} refused (rows not a multiple of its block)")
            continue
        err = rel_err(got, ref_logits[:n])
        parts.append(f"{kv} {err:.1e} over {n} positions")
        if err >= tol:
            raise CheckFailed(f"--kv-type {kv}: {err:.2e} over {n} positions, above {tol}")
    return "kv caches: " + ", ".join(parts)


def check_encoded(workdir, path, ref, tokens, rng):
    """Weights whose products encode the activations (int8 per block, bf16):
    frugal and the reference round the same activations, but where a value
    lies within float32 noise of a rounding boundary the two round it apart,
    and every later position that attends to it moves by up to ~1e-2 (a
    discontinuity, not an error of either side; the reference shows the same
    jumps under 1e-7 perturbations of its own activations). So a prompt must
    agree within EXACT_TOL at every position; a prompt that hits a boundary
    is replaced by a fresh, shorter one (32, 16, 16, then 8 tokens up to 4
    times), and the number of boundary positions met is reported."""
    met = []
    for attempt, n in enumerate((len(tokens), 16, 16, 8, 8, 8, 8)):
        if attempt:
            tokens = rng.integers(0, ref.n_vocab, n).tolist()
        ref_logits = ref.logits(tokens)
        got = {mode: frugal_logits(workdir, path, tokens, mode) for mode in ("batch", "incremental")}
        scale = np.abs(ref_logits).max()
        per_pos = {m: np.abs(g - ref_logits).max(-1) / scale for m, g in got.items()}
        worst = max(e.max() for e in per_pos.values())
        if worst < EXACT_TOL:
            line = f"batch {per_pos['batch'].max():.2e}, incremental {per_pos['incremental'].max():.2e} over {n} positions"
            if met:
                line += f" (after {len(met)} prompt(s) with rounding-boundary jumps at " + \
                        ", ".join(f"{k}/{m} positions up to {w:.1e}" for k, m, w in met) + ")"
            ce_ref = ref.mean_cross_entropy(tokens)
            ce_got = mean_cross_entropy(got["batch"], tokens)
            if abs(ce_got - ce_ref) >= EXACT_TOL * max(1.0, abs(ce_ref)):
                raise CheckFailed(f"{line}: cross-entropy {ce_got} vs {ce_ref}")
            return line + f"; cross-entropy {ce_ref:.4f} (frugal {ce_got:.4f})"
        met.append((int(max((e >= EXACT_TOL).sum() for e in per_pos.values())), n, worst))
    raise CheckFailed("no prompt agreed within %g at every position: %s" % (EXACT_TOL, met))


def check_quantised(workdir, path, ref, f32_ref, ttype, tokens, f32_logits, rng):
    """frugal's logits on the quantised file vs the f32 reference, over the
    positions before the first token that the quantised model routes to
    other experts than the f32 model (past it the two models legitimately
    compute different functions) and before any rounding-boundary jump of
    frugal's. A prompt whose first positions already route differently is
    replaced by a fresh one (up to 4 prompts)."""
    tol = quant_tolerance(ttype, ref)
    best = None
    for attempt in range(4):
        if attempt:
            tokens = rng.integers(0, f32_ref.n_vocab, len(tokens)).tolist()
            f32_logits = f32_ref.logits(tokens)
        ref.logits(tokens)
        f32_ref.logits(tokens)
        changed = routing_changes(f32_ref, ref)
        n = int(np.argmax(changed)) if changed.any() else len(tokens)
        if best is None or n > best[0]:
            best = (n, tokens, f32_logits)
        if n >= len(tokens) // 2:
            break
    n_same, tokens, f32_logits = best
    if n_same == 0:
        return "vs f32 reference: not checked (every prompt tried routes its first token differently)"
    got = frugal_logits(workdir, path, tokens[:n_same])
    # Also stop at a rounding-boundary jump of frugal's own (see check_encoded):
    # near a routing tie it can route differently from both references.
    ref_logits = ref.logits(tokens[:n_same])
    jump = np.abs(got - ref_logits).max(-1) / np.abs(ref_logits).max() > 1e-3
    if jump.any():
        n_same = int(np.argmax(jump))
        if n_same == 0:
            return "vs f32 reference: not checked (a rounding-boundary jump at the first position)"
        got = got[:n_same]
    qerr = rel_err(got, f32_logits[:n_same])
    msg = f"vs f32 reference {qerr:.2e} over {n_same} positions (bound {tol:g})"
    if qerr >= tol:
        raise CheckFailed(f"{ttype}: {msg}: above the bound")
    return msg


def mean_cross_entropy(logits, tokens):
    lg = logits[:-1]
    m = lg.max(-1, keepdims=True)
    logz = (m + np.log(np.exp(lg - m).sum(-1, keepdims=True)))[:, 0]
    return float(np.mean(logz - lg[np.arange(len(lg)), np.asarray(tokens[1:])]))


def main_for(cases, check=None):
    """Entry point of a *_test.py: cases is a list of kwargs of check (default check_model)."""
    if not FRUGAL or not os.access(FRUGAL, os.X_OK):
        raise SystemExit("set FRUGAL to the frugal binary (ctest does)")
    failed = 0
    for case in cases:
        try:
            (check or check_model)(**case)
        except CheckFailed as e:
            failed += 1
            print("FAIL:", e, flush=True)
    if failed:
        print(f"{failed} case(s) failed; replay with FRUGAL_REF_SEED=<seed>")
        sys.exit(1)
    print("OK")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", required=True)
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--types", default="f32,q8_0")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--rope", choices=["linear", "yarn"])
    ap.add_argument("synth_args", nargs="*", help="extra frugal synth flags (after --)")
    a = ap.parse_args()
    main_for([dict(arch=a.arch, preset=a.preset, types=a.types.split(","), synth_args=a.synth_args,
                   rope=a.rope, seed=a.seed)])


if __name__ == "__main__":
    main()
