// The page GET / serves: a chat with the model in the browser, streamed
// through POST /v1/chat/completions. Self-contained (no external scripts
// or styles): the server may run where nothing else can be reached.
#pragma once
#include <string>

namespace frugal::server {

const std::string& chat_page_html();

}  // namespace frugal::server
