#include "train/gradient_buckets.h"

#include "gguf/tensor_names.h"
#include "train/transformer.h"

namespace frugal::train {

GradientBuckets::GradientBuckets(const ParamLayout& layout, GradientSum& sum, size_t bucket_bytes)
    : layout_(layout),
      sum_(sum),
      bucket_values_(bucket_bytes / sizeof(float)),
      output_norm_(layout.find(gguf::tensor_name(gguf::TensorId::kOutputNorm)).offset),
      output_(layout.find(gguf::tensor_name(gguf::TensorId::kOutput)).offset) {
  // A size under one value still means buckets (of one tensor each), not
  // the one sum that 0 asks for.
  if (bucket_bytes > 0 && bucket_values_ == 0) bucket_values_ = 1;
}

void GradientBuckets::begin(float* grads) {
  grads_ = grads;
  started_.assign(layout_.tensors().size(), false);
  lo_ = hi_ = 0;
}

void GradientBuckets::layer_done(int64_t layer) {
  if (bucket_values_ == 0) return;
  // The head is the output norm and the output (the pass's first part);
  // any other tensor outside the layers waits for finish(). The layout's
  // order is kept backwards: a layer's tensors then join a bucket that
  // grows downwards.
  const auto& ts = layout_.tensors();
  for (size_t i = ts.size(); i-- > 0;) {
    const ParamTensor& t = ts[i];
    const bool in_part = layer == Transformer::kHeadGradients ? t.offset == output_norm_ || t.offset == output_
                                                              : t.layer == layer;
    if (in_part && !started_[i]) {
      started_[i] = true;
      add_tensor(t);
    }
  }
  sum_.progress();
}

void GradientBuckets::add_tensor(const ParamTensor& t) {
  const size_t b = t.offset, e = t.offset + t.size;
  if (hi_ == lo_) {
    lo_ = b, hi_ = e;
  } else if (e == lo_) {
    lo_ = b;
  } else if (b == hi_) {
    hi_ = e;
  } else {
    start_bucket();
    lo_ = b, hi_ = e;
  }
  if (hi_ - lo_ >= bucket_values_) start_bucket();
}

void GradientBuckets::start_bucket() {
  if (hi_ == lo_) return;
  last_ = sum_.start_sum(grads_ + lo_, hi_ - lo_);
  lo_ = hi_ = 0;
}

void GradientBuckets::finish() {
  if (bucket_values_ == 0) {
    last_ = sum_.start_sum(grads_, layout_.n_params());
  } else {
    const auto& ts = layout_.tensors();
    for (size_t i = ts.size(); i-- > 0;) {
      if (started_[i]) continue;
      started_[i] = true;
      add_tensor(ts[i]);
    }
    start_bucket();
  }
  sum_.wait_sums(last_);
}

}  // namespace frugal::train
