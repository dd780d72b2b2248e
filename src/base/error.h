// Errors: every failure the user can cause (bad file, bad flag, bad request)
// is thrown as frugal::Error with a message that says what and where; the CLI
// prints it and exits non-zero. Programming errors use FRUGAL_CHECK.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace frugal {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Concatenates any streamable values into one string.
template <class... Parts>
std::string str_cat(Parts&&... parts) {
  std::ostringstream os;
  (os << ... << std::forward<Parts>(parts));
  return os.str();
}

// Throws frugal::Error with the concatenated message.
template <class... Parts>
[[noreturn]] void fail(Parts&&... parts) {
  throw Error(str_cat(std::forward<Parts>(parts)...));
}

}  // namespace frugal

// Internal invariant; on failure throws with file and line (never aborts, so
// a server keeps running and tests see a clear message).
#define FRUGAL_CHECK(cond)                                                      \
  do {                                                                          \
    if (!(cond)) ::frugal::fail(__FILE__, ":", __LINE__, ": check failed: " #cond); \
  } while (0)
