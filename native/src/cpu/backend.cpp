// The CPU backend: oneDNN, host memory, linked into libodconv.so and registered while it loads. It turns
// oneDNN's exceptions into odconv::Error at its entry points, so common/ never sees a oneDNN type.
#include <cstdlib>

#include "../common/backends.hpp"
#include "../common/errors.hpp"
#include "cpu_layer.hpp"
#include "onednn_util.hpp"
#include "static_conv.hpp"

namespace odconv::cpu {
namespace {

constexpr int64_t kAlignment = 64;

class CpuBackend final : public DeviceBackend {
public:
    int32_t device_count() override { return 1; }

    std::string describe(int32_t) override { return std::string("CPU (") + cpu_isa() + "), " + backend_description(); }

    std::unique_ptr<Layer> create_layer(const odconv_config_t &config, const odconv_weights_t &weights, int32_t,
                                        uint32_t flags) override {
        return translating_onednn_errors([&] { return cpu::create_layer(config, weights, flags); });
    }

    std::unique_ptr<StaticConvolution> create_static_conv(const odconv_config_t &config, const float *weight,
                                                          const float *bias, int64_t batch, int64_t height,
                                                          int64_t width, int32_t layout, int32_t num_threads, int32_t,
                                                          uint32_t flags) override {
        return translating_onednn_errors([&] {
            return cpu::create_static_conv(config, weight, bias, batch, height, width, layout, num_threads, flags);
        });
    }

    std::optional<std::string> unsupported_reason(int32_t, uint32_t flags) override {
        return translating_onednn_errors([&] { return cpu::unsupported_reason(flags); });
    }

    void *allocate(int32_t, int64_t bytes) override {
        const int64_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
        void *pointer = std::aligned_alloc(kAlignment, static_cast<size_t>(rounded));
        if (pointer == nullptr) fail(ODCONV_STATUS_OUT_OF_MEMORY, "cannot allocate ", bytes, " bytes of host memory");
        return pointer;
    }

    void release(int32_t, void *pointer) override { std::free(pointer); }

    void *allocate_pinned(int64_t) override { no_streams(); }
    void release_pinned(void *) override { no_streams(); }
    std::unique_ptr<Stream> create_stream(int32_t) override { no_streams(); }
    void copy(void *, const void *, int64_t, int32_t, Stream *) override { no_streams(); }

private:
    [[noreturn]] static void no_streams() {
        fail(ODCONV_STATUS_UNSUPPORTED, "CPU layers run on the calling thread and read host memory directly: "
                                        "streams, pinned memory and copies are for CUDA devices");
    }
};

DeviceBackend *open_cpu_backend(uint32_t, char *, int64_t) {
    static CpuBackend backend;
    return &backend;
}

[[maybe_unused]] const bool registered = register_linked_backend(ODCONV_DEVICE_CPU, &open_cpu_backend);

}  // namespace
}  // namespace odconv::cpu

// The two entry points of odconv.h that describe the CPU backend in particular.
extern "C" {

const char *odconv_backend_description(void) {
    try {
        return odconv::cpu::backend_description();
    } catch (...) {  // its one-time formatting could fail to allocate: nothing may cross the C boundary
        return "oneDNN (description unavailable)";
    }
}

const char *odconv_cpu_isa(void) {
    try {
        return odconv::cpu::cpu_isa();
    } catch (...) {
        return "unknown";
    }
}

}  // extern "C"
