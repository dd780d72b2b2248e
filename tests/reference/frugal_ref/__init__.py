"""A float64 numpy reference of the models frugal serves.

Written from the model definitions (the papers and the Hugging Face modelling
semantics of Llama/Mixtral, Qwen2/Qwen3, Qwen2-MoE, Qwen3-MoE, OLMoE and
DeepSeek-V2/V3) and the GGUF file format, independently of frugal's C++ code,
so that the two can check each other.

    from frugal_ref import load_model
    m = load_model("model.gguf")
    logits = m.logits([256, 72, 101])          # (n_tokens, n_vocab) float64
    loss = m.mean_cross_entropy([256, 72, 101])
"""
from .gguf import GGUFFile, read_gguf, write_gguf
from .model import ReferenceModel, load_model, greedy_continuation, routing_changes, stable_prefix

__all__ = ["GGUFFile", "read_gguf", "write_gguf", "ReferenceModel", "load_model", "greedy_continuation", "routing_changes",
           "stable_prefix"]
