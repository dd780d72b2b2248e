// The LoRA adapters a server holds beside its base model, by name. Requests
// look an adapter up and keep a shared reference to it for as long as their
// jobs live, so removing one (DELETE /lora-adapters/{name}) while requests
// that use it still decode only stops new requests from finding it: its
// memory goes when the last of them ends.
#pragma once
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "model/lora.h"

namespace frugal::server {

struct ServedAdapter {
  std::string name, path;
  std::shared_ptr<const model::LoraAdapter> lora;
};

class AdapterRegistry {
 public:
  explicit AdapterRegistry(std::vector<ServedAdapter> initial = {});

  // The adapter of that name; an empty entry (lora null) when none.
  ServedAdapter find(const std::string& name) const;
  // Every adapter, in the order they were added.
  std::vector<ServedAdapter> list() const;
  // False when the name is taken (nothing changes then).
  bool add(ServedAdapter a);
  // False when no adapter has that name.
  bool remove(const std::string& name);
  bool empty() const;
  // Whether an adapter of that name was served and removed (and not added
  // again): a request for it is refused even when no adapter is left, rather
  // than answered by the base.
  bool removed(const std::string& name) const;

 private:
  mutable std::mutex mu_;
  std::vector<ServedAdapter> adapters_;
  std::set<std::string> removed_;
};

// Adapter names travel in URL paths (/v1/models/{id}, /lora-adapters/{name})
// unencoded: letters, digits and . _ - : only, 1 to 128 of them.
bool valid_adapter_name(const std::string& name);

// "the model 'ID' does not exist; this server serves 'BASE', 'A', ...": the
// answer to a request for a model the server does not serve.
std::string unknown_model_message(const std::string& id, const std::string& base, const AdapterRegistry& adapters);

}  // namespace frugal::server
