// The model used when a command is given no -m: the project's bundled
// default model, so that `frugal run -p "..."` works out of the box.
#pragma once
#include <string>

namespace frugal::cli {

// `given` when not empty; otherwise the first that exists of: $FRUGAL_MODEL,
// <frugal's directory>/../models/default.gguf (a build tree inside the
// checkout), <frugal's directory>/models/default.gguf. None -> frugal::Error
// listing the paths tried.
std::string resolve_model_path(const std::string& given);

}  // namespace frugal::cli
