// The model used when a command is given no -m: the project's bundled
// default model, so that `frugal run -p "..."` works out of the box.
// Shared by run, chat and serve.
#pragma once
#include <string>

namespace frugal::cli {

// `given` when not empty. Otherwise $FRUGAL_MODEL when set (a missing file
// there is an error: the user asked for that file, not another one), else the
// first that exists of <frugal's directory>/../models/default.gguf (a build
// tree inside the checkout, or an install prefix) and
// <source checkout>/models/default.gguf (FRUGAL_SOURCE_DIR, fixed at build
// time). None -> frugal::Error listing the paths tried.
std::string resolve_model_path(const std::string& given);

}  // namespace frugal::cli
