// A bounded map that drops its least recently used entry when full: the per-layer caches of plans keyed by
// input shape, so that a service fed images of ever-new sizes does not grow without bound. Not thread-safe:
// its owner locks around it.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <utility>

namespace odconv {

template <typename Key, typename Value>
class LruCache {
public:
    explicit LruCache(size_t capacity) : capacity_(capacity) {}

    // The value for key, made by make() on a miss, after the least recently used entry makes room. When make()
    // throws, nothing is added.
    template <typename Make>
    Value &get_or_make(const Key &key, Make &&make) {
        auto found = entries_.find(key);
        if (found == entries_.end()) {
            if (entries_.size() >= capacity_) {
                entries_.erase(std::min_element(entries_.begin(), entries_.end(), [](const auto &a, const auto &b) {
                    return a.second.last_used < b.second.last_used;
                }));
            }
            found = entries_.emplace(key, Entry{make(), 0}).first;
        }
        found->second.last_used = ++clock_;
        return found->second.value;
    }

private:
    struct Entry {
        Value value;
        uint64_t last_used;
    };
    size_t capacity_;
    std::map<Key, Entry> entries_;
    uint64_t clock_ = 0;
};

}  // namespace odconv
