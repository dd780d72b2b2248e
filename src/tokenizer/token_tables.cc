#include "tokenizer/token_tables.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

#include "base/error.h"

namespace frugal::tokenizer {
namespace {

uint64_t mix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDull;
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53ull;
  h ^= h >> 33;
  return h;
}

// Tables stay at most half full, so that a probe ends after a slot or two.
size_t capacity_for(size_t n) {
  size_t c = 16;
  while (c < 2 * n) c *= 2;
  return c;
}

}  // namespace

uint64_t hash_bytes(std::string_view s) {
  // Eight bytes at a time; pieces are short, but a megabyte-long word is
  // looked up whole too, and costs one pass.
  uint64_t h = 0x9E3779B97F4A7C15ull ^ s.size();
  const char* p = s.data();
  size_t n = s.size();
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * 0xFF51AFD7ED558CCDull;
    h ^= h >> 29;
  }
  uint64_t w = 0;
  if (n) std::memcpy(&w, p, n);  // an empty view may have no data pointer
  return mix(h ^ w);
}

void StringIndex::reserve(size_t expected) {
  if (capacity_for(expected) > slots_.size()) {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.assign(capacity_for(expected), Slot{0, -1, 0, 0});
    filter_.assign(slots_.size() / 16, 0);
    for (const Slot& s : old) {
      if (s.id < 0) continue;
      const uint64_t h = hash_bytes(std::string_view(chars_).substr(s.offset, s.length));
      size_t i = size_t(h) & (slots_.size() - 1);
      while (slots_[i].id >= 0) i = (i + 1) & (slots_.size() - 1);
      slots_[i] = s;
      mark(h);
    }
  }
}

void StringIndex::grow() { reserve(std::max<size_t>(count_ + 1, 2 * count_)); }

void StringIndex::add(std::string_view s, int32_t id) {
  if (id < 0) fail("tokenizer: a negative token id in a string index");
  if (chars_.size() + s.size() > std::numeric_limits<uint32_t>::max())
    fail("tokenizer: the vocabulary's text is over 4 GiB");
  if (2 * (count_ + 1) > slots_.size()) grow();
  const uint64_t h = hash_bytes(s);
  const auto check = uint32_t(h >> 32);
  const size_t mask = slots_.size() - 1;
  for (size_t i = size_t(h) & mask;; i = (i + 1) & mask) {
    Slot& slot = slots_[i];
    if (slot.id < 0) {
      slot = {check, id, uint32_t(chars_.size()), uint32_t(s.size())};
      chars_.append(s);
      mark(h);
      ++count_;
      return;
    }
    if (slot.check == check && std::string_view(chars_).substr(slot.offset, slot.length) == s) return;  // first id wins
  }
}

int32_t StringIndex::find(std::string_view s) const {
  if (slots_.empty()) return -1;
  const uint64_t h = hash_bytes(s);
  if (!maybe_has(h)) return -1;
  const auto check = uint32_t(h >> 32);
  const size_t mask = slots_.size() - 1;
  for (size_t i = size_t(h) & mask;; i = (i + 1) & mask) {
    const Slot& slot = slots_[i];
    if (slot.id < 0) return -1;
    if (slot.check == check && slot.length == s.size() &&
        (s.empty() || std::memcmp(chars_.data() + slot.offset, s.data(), s.size()) == 0))
      return slot.id;
  }
}

void PairTable::reserve(size_t expected) {
  if (capacity_for(expected) <= slots_.size()) return;
  std::vector<Slot> old;
  old.swap(slots_);
  slots_.assign(capacity_for(expected), Slot{});
  mask_ = slots_.size() - 1;
  shift_ = 64 - std::countr_zero(slots_.size());
  for (const Slot& s : old) {
    if (s.key == kEmpty) continue;
    size_t i = slot_of(s.key);
    while (slots_[i].key != kEmpty) i = (i + 1) & mask_;
    slots_[i] = s;
  }
}

void PairTable::grow() { reserve(std::max<size_t>(count_ + 1, 2 * count_)); }

void PairTable::insert(int32_t left, int32_t right, PairMerge m) {
  if (left < 0 || right < 0) fail("tokenizer: a negative token id in a pair table");
  if (2 * (count_ + 1) > slots_.size()) grow();
  const uint64_t key = pack(left, right);
  for (size_t i = slot_of(key);; i = (i + 1) & mask_) {
    Slot& s = slots_[i];
    if (s.key == key) return;  // first insertion wins
    if (s.key == kEmpty) {
      s = {key, m};
      ++count_;
      return;
    }
  }
}

}  // namespace frugal::tokenizer
