// Data-parallel training's gradient sum overlapped with the backward pass:
// as the pass finishes a part of the gradient array (the head, then each
// layer from the last to the first), that part joins the bucket being
// filled; a bucket of bucket_bytes or more starts its sum over the ranks at
// once (GradientSum::start_sum) while the pass computes the layers below,
// and the sums under way are moved on between layers (progress). finish()
// adds what is left (the token embedding), starts its sum and waits for
// them all, before the clipping reads the gradients.
//
// A bucket is a run of tensors adjacent in the flat array (a layer's tensors
// are adjacent, and the layers are laid out first to last, so the pass's
// order grows a bucket downwards). Since each value's sum over the ranks
// does not depend on how the array was cut, every bucket size gives the
// bits of one sum of the whole array; bucket_bytes 0 is that one sum, after
// the pass.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "train/data_parallel.h"
#include "train/train_model.h"

namespace frugal::train {

class GradientBuckets {
 public:
  GradientBuckets(const ParamLayout& layout, GradientSum& sum, size_t bucket_bytes);

  // A backward pass into grads begins; its gradients are final part by part.
  void begin(float* grads);
  // The backward pass has finished this layer's gradients
  // (Transformer::kHeadGradients: the head's).
  void layer_done(int64_t layer);
  // The pass has ended: sums the rest and waits until every sum has landed.
  void finish();

 private:
  void add_tensor(const ParamTensor& t);
  void start_bucket();

  const ParamLayout& layout_;
  GradientSum& sum_;
  size_t bucket_values_;  // 0: one sum of the whole array at finish()
  size_t output_norm_, output_;  // offsets of the head's tensors
  float* grads_ = nullptr;
  std::vector<bool> started_;     // per tensor of the layout: its sum has started (or it is in the bucket)
  size_t lo_ = 0, hi_ = 0;        // the bucket being filled: [lo_, hi_) of the array
  GradientSum::SumHandle last_ = -1;
};

}  // namespace frugal::train
