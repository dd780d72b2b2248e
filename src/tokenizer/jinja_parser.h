// Lexer and parser of the Jinja subset: text, {{ }}, {% %}, {# #}, whitespace
// control with '-', and the trim_blocks / lstrip_blocks rules that Hugging
// Face applies to chat templates.
#pragma once
#include <string_view>

#include "tokenizer/jinja_ast.h"

namespace frugal::tokenizer::jinja {

// Unsupported syntax or a malformed template -> frugal::Error naming the
// construct and the line.
Body parse_template(std::string_view source);

}  // namespace frugal::tokenizer::jinja
