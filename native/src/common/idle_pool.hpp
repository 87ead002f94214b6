#pragma once

#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace odconv {

// Per-call state (scratch memory, library handles) not in use, kept for the next call: concurrent calls
// each take their own, and a steady state allocates nothing. The owner makes a new one when none is idle.
template <typename T>
class IdlePool {
public:
    // An idle object, or null when every one is in use.
    std::unique_ptr<T> take() {
        std::lock_guard<std::mutex> lock(mutex_);
        if (idle_.empty()) return nullptr;
        auto object = std::move(idle_.back());
        idle_.pop_back();
        return object;
    }

    void give(std::unique_ptr<T> object) {
        std::lock_guard<std::mutex> lock(mutex_);
        idle_.push_back(std::move(object));
    }

private:
    std::mutex mutex_;
    std::vector<std::unique_ptr<T>> idle_;
};

}  // namespace odconv
