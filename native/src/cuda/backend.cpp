// libodconv_cuda.so's entry point and its DeviceBackend: devices, memory, streams and copies, and the
// factories of CUDA layers and static convolutions. Loaded by libodconv.so on first use of a CUDA device.
#include <dlfcn.h>

#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

#include "../common/device_backend.hpp"
#include "../common/errors.hpp"
#include "cuda_layer.hpp"
#include "cuda_util.hpp"
#include "cudnn_api.hpp"

namespace odconv::cuda {
namespace {

std::string cuda_version(int version) { return std::to_string(version / 1000) + "." + std::to_string(version % 1000 / 10); }

class CudaBackend final : public DeviceBackend {
public:
    CudaBackend(int32_t device_count, const cudnn::Api &api) : device_count_(device_count), api_(api) {}

    int32_t device_count() override { return device_count_; }

    std::string describe(int32_t device_index) override {
        check_device(device_index);
        cudaDeviceProp properties{};
        check_cuda(cudaGetDeviceProperties(&properties, device_index), "cudaGetDeviceProperties");
        int driver = 0, runtime = 0;
        check_cuda(cudaDriverGetVersion(&driver), "cudaDriverGetVersion");
        check_cuda(cudaRuntimeGetVersion(&runtime), "cudaRuntimeGetVersion");
        char memory[32];
        std::snprintf(memory, sizeof memory, "%.1f GiB", static_cast<double>(properties.totalGlobalMem) / (1u << 30));
        return std::string(properties.name) + " (sm_" + std::to_string(properties.major) +
               std::to_string(properties.minor) + ", " + memory + "), CUDA driver " + cuda_version(driver) +
               ", runtime " + cuda_version(runtime) + ", cuDNN " + api_.version_string();
    }

    std::optional<std::string> unsupported_reason(int32_t device_index, uint32_t flags) override {
        if ((flags & ODCONV_FLAG_BFLOAT16) == 0) return std::nullopt;
        // cuDNN's bfloat16 convolutions run on the tensor cores of compute capability 8.0 (Ampere) and later.
        int major = 0, minor = 0;
        check_cuda(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device_index),
                   "cudaDeviceGetAttribute");
        check_cuda(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device_index),
                   "cudaDeviceGetAttribute");
        if (major >= 8) return std::nullopt;
        return "bfloat16 needs a GPU of compute capability 8.0 (Ampere) or later; cuda:" + std::to_string(device_index) +
               " is sm_" + std::to_string(major) + std::to_string(minor);
    }

    std::unique_ptr<Layer> create_layer(const odconv_config_t &config, const odconv_weights_t &weights,
                                        int32_t device_index, uint32_t flags) override {
        check_device(device_index);
        return create_cuda_layer(api_, config, weights, device_index, flags);
    }

    std::unique_ptr<StaticConvolution> create_static_conv(const odconv_config_t &config, const float *weight,
                                                          const float *bias, int64_t batch, int64_t height,
                                                          int64_t width, int32_t layout, int32_t /*num_threads*/,
                                                          int32_t device_index, uint32_t flags) override {
        check_device(device_index);
        return create_cuda_static_conv(api_, config, weight, bias, batch, height, width, layout, device_index, flags);
    }

    void *allocate(int32_t device_index, int64_t bytes) override {
        check_device(device_index);
        use_device(device_index);
        void *pointer = nullptr;
        check_cuda(cudaMalloc(&pointer, static_cast<size_t>(bytes)), "cudaMalloc");
        return pointer;
    }

    void release(int32_t device_index, void *pointer) override {
        check_device(device_index);
        if (pointer == nullptr) return;
        require_device_memory(pointer, device_index, "pointer", "odconv_device_free on this device");
        use_device(device_index);
        check_cuda(cudaFree(pointer), "cudaFree");
    }

    void *allocate_pinned(int64_t bytes) override {
        void *pointer = nullptr;
        // Portable: pinned for every device, not only the current one.
        check_cuda(cudaHostAlloc(&pointer, static_cast<size_t>(bytes), cudaHostAllocPortable), "cudaHostAlloc");
        return pointer;
    }

    void release_pinned(void *pointer) override {
        if (pointer != nullptr) check_cuda(cudaFreeHost(pointer), "cudaFreeHost");
    }

    std::unique_ptr<Stream> create_stream(int32_t device_index) override {
        check_device(device_index);
        return std::make_unique<CudaStream>(device_index);
    }

    void copy(void *dst, const void *src, int64_t bytes, int32_t kind, Stream *stream) override {
        CudaStream *cuda_stream = nullptr;
        if (stream != nullptr) {
            cuda_stream = dynamic_cast<CudaStream *>(stream);
            if (cuda_stream == nullptr) invalid_argument("the stream is not a CUDA stream of this backend");
        }
        int32_t device = -1;
        switch (kind) {
            case ODCONV_COPY_HOST_TO_DEVICE:
                device = device_of(dst);
                if (device < 0) invalid_argument("odconv_copy host to device: dst is host memory, not CUDA device memory");
                require_host_memory(src, "src", "odconv_copy host to device");
                break;
            case ODCONV_COPY_DEVICE_TO_HOST:
                device = device_of(src);
                if (device < 0) invalid_argument("odconv_copy device to host: src is host memory, not CUDA device memory");
                require_host_memory(dst, "dst", "odconv_copy device to host");
                break;
            case ODCONV_COPY_DEVICE_TO_DEVICE:
                device = device_of(dst);
                if (device < 0) invalid_argument("odconv_copy device to device: dst is host memory, not CUDA device memory");
                if (device_of(src) < 0)
                    invalid_argument("odconv_copy device to device: src is host memory, not CUDA device memory");
                break;
            default:
                invalid_argument("kind = ", kind, " is not an odconv_copy_kind (0, 1 or 2)");
        }
        if (bytes == 0) return;
        // Managed memory reports device -1 on some systems: the stream's device, else 0, will do for it.
        if (cuda_stream) device = cuda_stream->device_index();
        use_device(device < 0 ? 0 : device);
        // cudaMemcpyDefault: unified addressing knows each side's device, so peer copies work too.
        if (cuda_stream)
            check_cuda(cudaMemcpyAsync(dst, src, static_cast<size_t>(bytes), cudaMemcpyDefault, cuda_stream->get()),
                       "cudaMemcpyAsync");
        else
            copy_and_wait(dst, src, static_cast<size_t>(bytes), cudaMemcpyDefault);
    }

private:
    void check_device(int32_t device_index) const {
        if (device_index < 0 || device_index >= device_count_)
            invalid_argument("device_index = ", device_index, " is out of range: ",
                             device_count_ == 0 ? std::string("no CUDA device is visible")
                                                : "CUDA devices are 0 to " + std::to_string(device_count_ - 1));
    }

    int32_t device_count_;
    const cudnn::Api &api_;
};

void write_error(const std::string &message, char *error, int64_t capacity) {
    if (error == nullptr || capacity <= 0) return;
    const size_t length = std::min<size_t>(message.size(), static_cast<size_t>(capacity - 1));
    std::memcpy(error, message.data(), length);
    error[length] = '\0';
}

// Opens the backend once: the outcome (backend or reason) is the process's for good.
struct Opened {
    DeviceBackend *backend = nullptr;
    std::string error;
};

Opened open_backend() {
    Opened result;
    // cuDNN 9 (seen with 9.19 on an H200) calls through a null pointer in its first std::call_once when the
    // C++ runtime is a private dependency of a library loaded with dlopen(RTLD_LOCAL), the way JVMs and
    // Python's ctypes load libraries; loading libstdc++ globally first avoids it (the Java binding does).
    // The crash would take the host process down, so refuse with the remedy instead.
    // dlopen(NULL) is the global scope alone (RTLD_DEFAULT would also search this library's own group).
    void *global_scope = dlopen(nullptr, RTLD_NOW);
    const bool cpp_runtime_global = global_scope == nullptr || dlsym(global_scope, "__once_proxy") != nullptr;
    if (global_scope != nullptr) dlclose(global_scope);
    if (!cpp_runtime_global) {
        result.error = "libstdc++.so.6 is not in the process's global symbol scope (libodconv.so was loaded with "
                       "dlopen(RTLD_LOCAL)), where cuDNN 9 crashes; load libstdc++.so.6 with "
                       "dlopen(RTLD_NOW | RTLD_GLOBAL) before libodconv.so";
        return result;
    }
    int count = 0;
    const cudaError_t status = cudaGetDeviceCount(&count);
    if (status == cudaErrorNoDevice) {
        cudaGetLastError();
        count = 0;  // a driver without GPUs: usable, with nothing to use
    } else if (status != cudaSuccess) {
        result.error = std::string("CUDA driver unavailable: cudaGetDeviceCount: ") + cudaGetErrorString(status) + " (" +
                       cudaGetErrorName(status) + ")";
        // The CUDA runtime says "driver version is insufficient" also where there is no driver at all.
        if (status == cudaErrorInsufficientDriver && dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD) == nullptr &&
            dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL) == nullptr) {
            const char *why = dlerror();
            result.error = std::string("no NVIDIA driver: libcuda.so.1 cannot be loaded (") +
                           (why != nullptr ? why : "not found") + ")";
        }
        return result;
    }
    static cudnn::Api api;
    if (!cudnn::load(api, result.error)) return result;
    static CudaBackend backend(count, api);
    result.backend = &backend;
    return result;
}

}  // namespace
}  // namespace odconv::cuda

extern "C" __attribute__((visibility("default"))) odconv::DeviceBackend *odconv_cuda_backend_open(
    uint32_t interface_version, char *error, int64_t capacity) {
    using namespace odconv::cuda;
    if (interface_version != odconv::kBackendInterfaceVersion) {
        write_error("libodconv_cuda.so implements backend interface version " +
                        std::to_string(odconv::kBackendInterfaceVersion) + " but libodconv.so asks for " +
                        std::to_string(interface_version) + ": the two libraries come from different builds",
                    error, capacity);
        return nullptr;
    }
    try {
        static const Opened opened = open_backend();
        if (opened.backend == nullptr) write_error(opened.error, error, capacity);
        return opened.backend;
    } catch (const std::exception &e) {
        write_error(std::string("CUDA backend failed to start: ") + e.what(), error, capacity);
        return nullptr;
    } catch (...) {
        write_error("CUDA backend failed to start: unknown exception", error, capacity);
        return nullptr;
    }
}
