// A Jinja template of the subset chat templates use, parsed once and rendered
// with a JSON context (messages, tools, bos_token, add_generation_prompt...).
// Rendering follows Hugging Face's chat-template conventions: trim_blocks and
// lstrip_blocks on, booleans print as true/false, undefined prints as nothing.
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace frugal::tokenizer::jinja {

struct Stmt;

class Template {
 public:
  // Parses; a syntax error or an unsupported construct -> frugal::Error.
  explicit Template(std::string_view source);
  ~Template();
  Template(Template&&) noexcept;
  Template& operator=(Template&&) noexcept;

  // Renders; a runtime error (unknown filter, raise_exception, bad operand)
  // -> frugal::Error with the template line.
  std::string render(const nlohmann::ordered_json& context) const;

 private:
  struct Parsed;
  std::unique_ptr<Parsed> parsed_;
};

}  // namespace frugal::tokenizer::jinja
