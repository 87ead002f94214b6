// The interface between libodconv.so and a device backend in its own shared library (CUDA:
// libodconv_cuda.so). Both sides are built from this source tree by the same toolchain, so the
// interface is C++; odconv::Error thrown inside a backend reaches guard() in api.cpp unchanged.
// The backend library exports one C symbol, kBackendEntryPoint, of type BackendEntryPoint.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "layer.hpp"
#include "odconv.h"

namespace odconv {

// Bumped whenever anything in this file or layer.hpp changes shape.
constexpr uint32_t kBackendInterfaceVersion = 3;

class Stream {
public:
    virtual ~Stream() = default;
    virtual void synchronize() = 0;
};

class StaticConvolution {
public:
    virtual ~StaticConvolution() = default;
    // The creation shape and layout; memory of the backend's device.
    virtual void forward(const float *input, float *output) = 0;
    // Blocks until the GPU has finished (a no-op on CPUs); called inside each timed benchmark run.
    virtual void wait() {}
};

class DeviceBackend {
public:
    virtual ~DeviceBackend() = default;

    virtual int32_t device_count() = 0;
    virtual std::string describe(int32_t device_index) = 0;

    // Why layers and static convolutions with these (valid) flags cannot run on the device; empty when they
    // can. create_layer and create_static_conv refuse them with the same reason.
    virtual std::optional<std::string> unsupported_reason(int32_t device_index, uint32_t flags) = 0;

    // weights are host memory, borrowed for the call only (uploaded); config was validated.
    virtual std::unique_ptr<Layer> create_layer(const odconv_config_t &config, const odconv_weights_t &weights,
                                                int32_t device_index, uint32_t flags) = 0;
    // weight [out, in / groups, k, k] and bias [out] (or NULL) are host memory, copied; shape validated.
    // num_threads: for CPUs (0: the calling thread's OpenMP setting); GPUs ignore it.
    virtual std::unique_ptr<StaticConvolution> create_static_conv(const odconv_config_t &config, const float *weight,
                                                                  const float *bias, int64_t batch, int64_t height,
                                                                  int64_t width, int32_t layout, int32_t num_threads,
                                                                  int32_t device_index, uint32_t flags) = 0;

    virtual void *allocate(int32_t device_index, int64_t bytes) = 0;
    virtual void release(int32_t device_index, void *pointer) = 0;
    virtual void *allocate_pinned(int64_t bytes) = 0;
    virtual void release_pinned(void *pointer) = 0;

    virtual std::unique_ptr<Stream> create_stream(int32_t device_index) = 0;
    // Checks that each side is memory of the kind the direction says; stream may be null (synchronous).
    virtual void copy(void *dst, const void *src, int64_t bytes, int32_t kind, Stream *stream) = 0;
};

// Returns the process-wide backend, or null with `error` (capacity bytes, NUL-terminated) saying why it
// cannot run (no driver, no cuDNN...). Called once; the backend lives until the process exits.
using BackendEntryPoint = DeviceBackend *(*)(uint32_t interface_version, char *error, int64_t capacity);
constexpr const char *kBackendEntryPoint = "odconv_cuda_backend_open";

}  // namespace odconv
