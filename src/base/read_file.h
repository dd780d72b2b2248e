// Reading a whole input file the user named (--data, -f, corpus inputs) with
// errors that say what is wrong: a folder is not silently read as empty text.
#pragma once
#include <string>

namespace frugal {

// The file's bytes; frugal::Error naming `path` when it is missing, a folder
// or unreadable. Works for pipes and devices (/dev/stdin) too.
std::string read_whole_file(const std::string& path);

}  // namespace frugal
