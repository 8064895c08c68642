#include "libpool/registry.hpp"

#include <algorithm>

namespace libpool {

namespace detail {
std::uint64_t hash_name(std::string_view name) noexcept {
  // FNV-1a, 64 bit: stable across builds and platforms, which std::hash is not.
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : name) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}
}  // namespace detail

void Registry::insert(detail::TaskEntry e) {
  if (e.name.empty()) throw RegistryError("task name must not be empty");
  if (auto it = by_hash_.find(e.hash); it != by_hash_.end()) {
    if (it->second.name == e.name) throw RegistryError("task '" + e.name + "' registered twice");
    throw RegistryError("task names '" + e.name + "' and '" + it->second.name +
                        "' have the same hash; rename one");
  }
  if (auto it = by_fn_.find(e.fn); it != by_fn_.end()) {
    throw RegistryError("function registered as '" + by_hash_.at(it->second).name +
                        "' registered again as '" + e.name + "'");
  }
  by_fn_.emplace(e.fn, e.hash);
  by_hash_.emplace(e.hash, std::move(e));
}

const detail::TaskEntry& Registry::entry_of(detail::ErasedFn fn) const {
  auto it = by_fn_.find(fn);
  if (it == by_fn_.end()) {
    throw RegistryError(
        "function is not registered: call registry.add(\"name\", fn) on every rank first");
  }
  return by_hash_.at(it->second);
}

const detail::TaskEntry* Registry::find(std::uint64_t hash) const noexcept {
  auto it = by_hash_.find(hash);
  return it == by_hash_.end() ? nullptr : &it->second;
}

const detail::TaskEntry* Registry::find(detail::ErasedFn fn) const noexcept {
  auto it = by_fn_.find(fn);
  return it == by_fn_.end() ? nullptr : &by_hash_.at(it->second);
}

std::uint64_t Registry::fingerprint() const noexcept {
  // Sum of mixed hashes: independent of registration order.
  std::uint64_t fp = 0x9e3779b97f4a7c15ull ^ by_hash_.size();
  for (const auto& [h, e] : by_hash_) {
    std::uint64_t x = h;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    fp += x;
  }
  return fp;
}

std::vector<std::string> Registry::names() const {
  std::vector<std::string> out;
  out.reserve(by_hash_.size());
  for (const auto& [h, e] : by_hash_) out.push_back(e.name);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace libpool
