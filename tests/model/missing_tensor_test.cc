// A file that lacks one tensor its architecture needs is refused at load
// with a frugal::Error naming that tensor, for the tensors that only the
// newer families have (Gated DeltaNet, split latent attention, GLM-4.5's
// next-token-prediction block and selection bias): a loader that skipped
// the check would read past a table of tensors and crash instead.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "model/forward_test_model.h"
#include "model/model.h"
#include "model/presets.h"

namespace frugal::model {
namespace {

using testing::error_of;
using testing::TempModel;
using testing::write_test_model;

struct MissingCase {
  const char* arch;
  const char* preset;
  const char* tensor;  // left out of the file
};

constexpr MissingCase kCases[] = {
    {.arch = "qwen3next", .preset = "tiny", .tensor = "blk.0.ssm_conv1d.weight"},
    {.arch = "qwen3next", .preset = "tiny", .tensor = "blk.2.ssm_in.weight"},
    {.arch = "qwen35moe", .preset = "tiny", .tensor = "blk.0.attn_qkv.weight"},
    {.arch = "deepseek2", .preset = "tiny-k2", .tensor = "blk.1.attn_k_b.weight"},
    {.arch = "glm4moe", .preset = "tiny", .tensor = "blk.3.nextn.eh_proj.weight"},
    {.arch = "glm4moe", .preset = "tiny", .tensor = "blk.1.exp_probs_b.bias"},
};

TEST(MissingTensor, FileWithoutARequiredTensorIsAnErrorNamingIt) {
  for (const MissingCase& t : kCases) {
    SCOPED_TRACE(std::string(t.arch) + " " + t.preset + " without " + t.tensor);
    const ModelConfig& c = find_preset(t.arch, t.preset).config;
    // The tensor must be one the configuration expects, else leaving it out
    // would test nothing.
    const std::vector<TensorSpec> specs = expected_tensors(c);
    ASSERT_TRUE(std::any_of(specs.begin(), specs.end(), [&](const TensorSpec& s) { return s.name == t.tensor; }));

    // The whole file loads: the error below comes from the one tensor.
    TempModel whole(std::string("missing_whole_") + t.arch);
    write_test_model(c, whole.path);
    EXPECT_EQ(error_of([&] { Model::load(whole.path); }), "");

    TempModel f(std::string("missing_") + t.arch);
    write_test_model(c, f.path, TensorType::F32, 1, [&](const TensorSpec& s, std::vector<float>&, std::vector<uint64_t>& shape) {
      if (s.name == t.tensor) shape.clear();
    });
    const std::string msg = error_of([&] { Model::load(f.path); });
    EXPECT_NE(msg.find("tensor '" + std::string(t.tensor) + "' is missing"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace frugal::model
