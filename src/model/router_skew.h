// Expert popularity for benchmark models (`frugal synth --router-skew S`).
//
// Random routers spread tokens almost evenly over the experts; trained ones
// do not, and how much a batch of tokens shares experts decides what batched
// decoding costs. A skewed synth model gives expert e of a layer a share of
// the top-k choices close to Zipf's law, (rank of e + 1)^-S, with a ranking
// of its own per layer. It does so inside the standard tensors, so that
// every GGUF reader runs the same file: the token embeddings carry a
// constant in dimension 0 (as trained models carry "massive activations"),
// which survives the RMSNorm before each router as about sqrt(n_embd / 2),
// and each router row's weight on that dimension turns it into the bias its
// expert needs. The biases are calibrated by simulation against router
// logits of the synth scale (Gaussian, variance 1 - x0^2 / n_embd). The
// residual stream keeps the constant through the layers: on a 16-layer,
// 64-expert top-8 model at S = 1 the most popular quarter of the experts got
// 57-70% of each layer's choices against the law's 68%.
#pragma once
#include <cstdint>
#include <vector>

#include "model/config.h"

namespace frugal::model {

// The value each token embedding holds in dimension 0: as much energy as
// all the other dimensions of an embedding row together.
float skew_embedding_value(const ModelConfig& cfg, float embedding_std);

// Dimension 0 after the RMSNorm (norm weight 1 there) while the residual
// stream is the embedding: c / rms = sqrt(n^2 / (2n - 1)).
double skew_normed_value(const ModelConfig& cfg);

// The share of top-k choices each expert should get (sums to k, none above
// 0.98): k * (rank + 1)^-s / sum, capped and the excess spread over the rest.
std::vector<double> skew_targets(const std::vector<int>& rank, int64_t k, double s);

// Each expert's rank (0 = most popular) in that layer: a permutation from the seed.
std::vector<int> skew_ranking(int64_t n_expert, uint64_t seed, int layer);

// The router-logit bias of each expert of a layer, calibrated so that top-k
// selection over logits bias + N(0, sigma^2) meets skew_targets. s <= 0: zeros.
std::vector<float> router_skew_biases(const ModelConfig& cfg, double s, uint64_t seed, int layer);

}  // namespace frugal::model
