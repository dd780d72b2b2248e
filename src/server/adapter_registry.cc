#include "server/adapter_registry.h"

#include <algorithm>

namespace frugal::server {

AdapterRegistry::AdapterRegistry(std::vector<ServedAdapter> initial) : adapters_(std::move(initial)) {}

ServedAdapter AdapterRegistry::find(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const ServedAdapter& a : adapters_)
    if (a.name == name) return a;
  return {};
}

std::vector<ServedAdapter> AdapterRegistry::list() const {
  std::lock_guard<std::mutex> lock(mu_);
  return adapters_;
}

bool AdapterRegistry::add(ServedAdapter a) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const ServedAdapter& b : adapters_)
    if (b.name == a.name) return false;
  removed_.erase(a.name);
  adapters_.push_back(std::move(a));
  return true;
}

bool AdapterRegistry::remove(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto it = std::find_if(adapters_.begin(), adapters_.end(), [&](const ServedAdapter& a) { return a.name == name; });
  if (it == adapters_.end()) return false;
  adapters_.erase(it);  // requests that hold it keep it alive until they end
  removed_.insert(name);
  return true;
}

bool AdapterRegistry::empty() const {
  std::lock_guard<std::mutex> lock(mu_);
  return adapters_.empty();
}

bool AdapterRegistry::removed(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  return removed_.count(name) > 0;
}

bool valid_adapter_name(const std::string& name) {
  if (name.empty() || name.size() > 128) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-' || c == ':';
  });
}

std::string unknown_model_message(const std::string& id, const std::string& base, const AdapterRegistry& adapters) {
  std::string names = "'" + base + "'";
  for (const ServedAdapter& a : adapters.list()) names += ", '" + a.name + "'";
  return "the model '" + id + "' does not exist; this server serves " + names;
}

}  // namespace frugal::server
