// The default model with another chat template, in a temporary file: the
// server then renders and reads tool calls the way that template's family does.
#pragma once
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>

#include "gguf/reader.h"
#include "gguf/writer.h"
#include "server/server_fixture.h"

namespace frugal::server::testing {

struct TemplatedModel {
  std::string path;
  explicit TemplatedModel(const std::string& chat_template) {
    static std::atomic<int> count{0};
    path = (std::filesystem::temp_directory_path() /
            ("frugal_tools_" + std::to_string(::getpid()) + "_" + std::to_string(count++) + ".gguf")).string();
    const gguf::Reader in = gguf::Reader::open(default_model_path());
    gguf::Writer w(in.alignment());
    for (const auto& [key, value] : in.metadata().entries()) w.set(key, value);
    w.set("tokenizer.chat_template", gguf::Value::make_string(chat_template));
    for (const gguf::TensorInfo& t : in.tensors()) w.add_tensor_data(t.name, t.type, t.shape, t.data);
    w.write(path);
  }
  ~TemplatedModel() { std::filesystem::remove(path); }
  TemplatedModel(const TemplatedModel&) = delete;
  TemplatedModel& operator=(const TemplatedModel&) = delete;
};

}  // namespace frugal::server::testing
