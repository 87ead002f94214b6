// The backend interface behind odconv_layer_t. The C entry points validate arguments that do not
// depend on the backend, then call into one of these.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "errors.hpp"
#include "odconv.h"

namespace odconv {

class Stream;

class Layer {
public:
    virtual ~Layer() = default;
    // Tensors are float32 in `layout`, memory of the layer's device; the caller has validated the shape,
    // layout and pointers. Returns when the output is written.
    virtual void forward(int64_t batch, int64_t height, int64_t width, int32_t layout, const float *input,
                         float *output) = 0;
    // Enqueues the forward on a stream of the layer's device (GPU backends only).
    virtual void forward_async(Stream &stream, int64_t batch, int64_t height, int64_t width, int32_t layout,
                               const float *input, float *output) {
        fail(ODCONV_STATUS_UNSUPPORTED, "odconv_layer_forward_async needs a CUDA layer; a CPU layer runs on the "
                                        "calling thread (use odconv_layer_forward)");
    }

    // forward with the work split into tasks run by the caller's pool (CPU backends only).
    virtual void forward_on_pool(const odconv_thread_pool_t &pool, int64_t batch, int64_t height, int64_t width,
                                 int32_t layout, const float *input, float *output) {
        fail(ODCONV_STATUS_UNSUPPORTED, "odconv_layer_forward_on_pool needs a CPU layer; a CUDA layer runs on its "
                                        "GPU (use odconv_layer_forward)");
    }

    void set_num_threads(int32_t n) { num_threads_.store(n, std::memory_order_relaxed); }
    int32_t num_threads() const { return num_threads_.load(std::memory_order_relaxed); }

private:
    std::atomic<int32_t> num_threads_{0};
};

}  // namespace odconv

struct odconv_layer {
    odconv_config_t config;
    int32_t device_type = ODCONV_DEVICE_CPU;
    int32_t device_index = 0;
    std::unique_ptr<odconv::Layer> impl;
};
