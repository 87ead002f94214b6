// The backend interface behind odconv_layer_t. The C entry points validate arguments that do not
// depend on the backend, then call into one of these.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "odconv.h"

namespace odconv {

class Layer {
public:
    virtual ~Layer() = default;
    // Tensors are float32 in `layout`; the caller has validated the shape, layout and pointers.
    virtual void forward(int64_t batch, int64_t height, int64_t width, int32_t layout, const float *input,
                         float *output) = 0;

    void set_num_threads(int32_t n) { num_threads_.store(n, std::memory_order_relaxed); }
    int32_t num_threads() const { return num_threads_.load(std::memory_order_relaxed); }

private:
    std::atomic<int32_t> num_threads_{0};
};

}  // namespace odconv

struct odconv_layer {
    odconv_config_t config;
    std::unique_ptr<odconv::Layer> impl;
};
