// libFuzzer target for the safetensors reader (convert/safetensors.h): any
// byte string either parses or throws frugal::Error. On success every
// tensor's first and last byte is touched and every readable tensor is read
// as f32, so ASan catches a range the reader let through that is not inside
// the input. FRUGAL_FUZZ_WRITE_SEEDS=DIR writes small valid files (made by
// the project's writer) instead (see fuzz_seeds.h).
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "base/error.h"
#include "convert/safetensors.h"
#include "fuzz_seeds.h"

namespace {

using frugal::convert::StDtype;
using frugal::convert::StWriteTensor;

volatile float g_sink;

StWriteTensor filled(std::string name, StDtype dtype, std::vector<int64_t> shape, uint8_t byte) {
  return {.name = std::move(name), .dtype = dtype, .shape = std::move(shape),
          .produce = [byte](std::span<uint8_t> out) { std::memset(out.data(), byte, out.size()); }};
}

void write_seeds(const std::string& dir) {
  frugal::convert::write_safetensors(
      dir + "/model.safetensors",
      {filled("model.embed_tokens.weight", StDtype::kF32, {8, 4}, 0x3c),
       filled("model.layers.0.self_attn.q_proj.weight", StDtype::kBF16, {4, 4}, 0x3f),
       filled("model.norm.weight", StDtype::kF16, {4}, 0x3c),
       filled("empty", StDtype::kF32, {0, 3}, 0)});
  frugal::convert::write_safetensors(dir + "/scalar.safetensors", {filled("s", StDtype::kF32, {}, 1)});
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  frugal::fuzz::write_seeds_if_asked(write_seeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto f = frugal::convert::SafetensorsFile::parse(data, size, "fuzz");
    float h = 0;
    std::vector<float> row;
    for (const auto& t : f.tensors()) {
      if (t.n_bytes > 0) h += float(t.data[0] + t.data[t.n_bytes - 1]);
      if (t.dtype == StDtype::kOther || t.n_elements() > 4096) continue;
      row.resize(size_t(t.n_elements()));
      t.read_f32(0, row);
      for (float v : row) h += v;
    }
    g_sink = h;
  } catch (const frugal::Error&) {
  }
  return 0;
}
