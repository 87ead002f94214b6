#include "backends.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <string>

#include "../cpu/cpu_layer.hpp"
#include "../cpu/static_conv.hpp"
#include "errors.hpp"

namespace odconv {
namespace {

constexpr int64_t kCpuAlignment = 64;

class CpuBackend final : public DeviceBackend {
public:
    int32_t device_count() override { return 1; }

    std::string describe(int32_t) override {
        return std::string("CPU (") + cpu::cpu_isa() + "), " + cpu::backend_description();
    }

    std::unique_ptr<Layer> create_layer(const odconv_config_t &config, const odconv_weights_t &weights, int32_t,
                                        uint32_t) override {
        return cpu::create_layer(config, weights);
    }

    std::unique_ptr<StaticConvolution> create_static_conv(const odconv_config_t &config, const float *weight,
                                                          const float *bias, int64_t batch, int64_t height,
                                                          int64_t width, int32_t layout, int32_t num_threads, int32_t,
                                                          uint32_t) override {
        return cpu::create_static_conv(config, weight, bias, batch, height, width, layout, num_threads);
    }

    void *allocate(int32_t, int64_t bytes) override {
        const int64_t rounded = (bytes + kCpuAlignment - 1) / kCpuAlignment * kCpuAlignment;
        void *pointer = std::aligned_alloc(kCpuAlignment, static_cast<size_t>(rounded));
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

// The folder libodconv.so was loaded from, found through one of its own symbols.
std::string own_folder() {
    Dl_info info{};
    if (dladdr(reinterpret_cast<void *>(&odconv_version), &info) == 0 || info.dli_fname == nullptr) return ".";
    std::string path = info.dli_fname;
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? "." : path.substr(0, slash);
}

struct CudaLoad {
    DeviceBackend *backend = nullptr;
    std::string error;
};

CudaLoad load_cuda_backend() {
    const char *configured = std::getenv("ODCONV_CUDA_BACKEND");
    const std::string path = configured != nullptr && *configured != '\0'
                                 ? std::string(configured)
                                 : own_folder() + "/libodconv_cuda.so";
    if (access(path.c_str(), F_OK) != 0) {
        return {nullptr, "CUDA backend not available: " + path + " does not exist" +
                             (configured ? " (from ODCONV_CUDA_BACKEND)"
                                         : "; this build has no CUDA backend: build native/ where CMake finds the "
                                           "CUDA toolkit, or point ODCONV_CUDA_BACKEND at libodconv_cuda.so")};
    }
    // cuDNN 9 (seen with 9.19 on an H200) calls through a null pointer in its first std::call_once when the
    // C++ runtime is a private dependency of a library loaded with dlopen(RTLD_LOCAL), the way JVMs and
    // Python's ctypes load libraries; loading libstdc++ globally first avoids it (the Java binding does).
    // The crash would take the host process down, so refuse with the remedy instead.
    // dlopen(NULL) is the global scope alone (RTLD_DEFAULT would also search this library's own group).
    void *global_scope = dlopen(nullptr, RTLD_NOW);
    const bool cpp_runtime_global = global_scope == nullptr || dlsym(global_scope, "__once_proxy") != nullptr;
    if (global_scope != nullptr) dlclose(global_scope);
    if (!cpp_runtime_global) {
        return {nullptr, "CUDA backend not available: libstdc++.so.6 is not in the process's global symbol scope "
                         "(libodconv.so was loaded with dlopen(RTLD_LOCAL)), where cuDNN 9 crashes; load "
                         "libstdc++.so.6 with dlopen(RTLD_NOW | RTLD_GLOBAL) before libodconv.so"};
    }
    void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
        const char *why = dlerror();
        return {nullptr, "CUDA backend not available: cannot load it: " + std::string(why ? why : path)};
    }
    auto open = reinterpret_cast<BackendEntryPoint>(dlsym(handle, kBackendEntryPoint));
    if (open == nullptr) {
        return {nullptr, "CUDA backend not available: " + path + " does not export " + kBackendEntryPoint};
    }
    char error[1024] = {0};
    DeviceBackend *backend = open(kBackendInterfaceVersion, error, sizeof error);
    if (backend == nullptr) {
        error[sizeof error - 1] = '\0';
        return {nullptr, std::string("CUDA backend not available: ") + error};
    }
    return {backend, ""};  // Never unloaded: layers and streams may outlive any caller's interest in it.
}

}  // namespace

DeviceBackend &backend_for(int32_t device_type) {
    static CpuBackend cpu;
    switch (device_type) {
        case ODCONV_DEVICE_CPU: return cpu;
        case ODCONV_DEVICE_CUDA: {
            static std::once_flag once;
            static CudaLoad cuda;
            std::call_once(once, [] { cuda = load_cuda_backend(); });
            if (cuda.backend == nullptr) throw Error(ODCONV_STATUS_DEVICE_UNAVAILABLE, cuda.error);
            return *cuda.backend;
        }
    }
    invalid_argument("device_type = ", device_type, " is not an odconv_device_type (0 = CPU, 1 = CUDA)");
}

DeviceBackend &backend_for_device(int32_t device_type, int32_t device_index) {
    DeviceBackend &backend = backend_for(device_type);
    const int32_t count = backend.device_count();
    if (device_index < 0 || device_index >= count)
        invalid_argument("device_index = ", device_index, " is out of range: ",
                         device_type == ODCONV_DEVICE_CPU ? "the CPU is device 0" : "", count, " device",
                         count == 1 ? "" : "s", " of this type");
    return backend;
}

}  // namespace odconv
