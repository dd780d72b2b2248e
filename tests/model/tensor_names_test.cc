// Every tensor a model of any preset holds is in the table of tensor names,
// under the name, block and role the table gives it, and a synth file holds
// exactly those names.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>

#include "gguf/reader.h"
#include "gguf/tensor_names.h"
#include "model/config.h"
#include "model/presets.h"
#include "model/synth.h"

namespace frugal::model {
namespace {

TEST(TensorNames, EveryPresetsTensorsAreTheTablesWithTheirRoles) {
  for (const Preset& p : all_presets()) {
    for (const TensorSpec& spec : expected_tensors(p.config)) {
      SCOPED_TRACE(p.arch + " " + p.name + " " + spec.name);
      const auto ref = gguf::parse_tensor_name(spec.name);
      ASSERT_TRUE(ref.has_value());
      EXPECT_EQ(ref->id, spec.id);
      EXPECT_EQ(ref->block, spec.layer);
      EXPECT_EQ(gguf::tensor_role(ref->id), spec.role);
    }
  }
}

TEST(TensorNames, SynthWritesTheTablesNamesForEveryTinyPreset) {
  const std::string path = testing::TempDir() + "/tensor_names_" + std::to_string(::getpid()) + ".gguf";
  for (const Preset& p : all_presets()) {
    if (!p.name.starts_with("tiny")) continue;
    SCOPED_TRACE(p.arch + " " + p.name);
    write_synth_model(p.config, gguf::Metadata{}, {.type = "q8_0", .seed = 1, .progress_label = ""}, path);
    const gguf::Reader r = gguf::Reader::open(path);
    const std::vector<TensorSpec> specs = expected_tensors(p.config);
    ASSERT_EQ(r.tensors().size(), specs.size());
    for (size_t i = 0; i < specs.size(); ++i) {
      const auto ref = gguf::parse_tensor_name(r.tensors()[i].name);
      ASSERT_TRUE(ref.has_value()) << r.tensors()[i].name;
      EXPECT_EQ(ref->id, specs[i].id) << r.tensors()[i].name;
      EXPECT_EQ(gguf::tensor_role(ref->id), specs[i].role) << r.tensors()[i].name;
    }
  }
  std::remove(path.c_str());
}

}  // namespace
}  // namespace frugal::model
