// CUDA runtime plumbing shared by the backend: error translation, owned device buffers, and the checks
// that memory handed in by the caller is of the kind and device a call needs.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <utility>

namespace odconv::cuda {

// Throws odconv::Error for anything but cudaSuccess: "CUDA: <call>: <text> (<name>)", with
// ODCONV_STATUS_OUT_OF_MEMORY for cudaErrorMemoryAllocation and ODCONV_STATUS_BACKEND_ERROR otherwise.
void check_cuda(cudaError_t error, const char *call);

// Makes device_index current on the calling thread (the CUDA runtime's current device is per thread).
void use_device(int32_t device_index);

// Copies and returns when the copy is complete, whatever the kind of memory on each side.
void copy_and_wait(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind);

// A cudaMalloc'd buffer that only grows. Growing frees the old memory, so the caller must know that no
// queued work still uses it.
class DeviceBuffer {
public:
    DeviceBuffer() = default;
    explicit DeviceBuffer(size_t bytes) { reserve(bytes); }
    ~DeviceBuffer();
    DeviceBuffer(DeviceBuffer &&other) noexcept
        : data_(std::exchange(other.data_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}
    DeviceBuffer &operator=(DeviceBuffer &&other) noexcept {
        std::swap(data_, other.data_);
        std::swap(bytes_, other.bytes_);
        return *this;
    }
    DeviceBuffer(const DeviceBuffer &) = delete;
    DeviceBuffer &operator=(const DeviceBuffer &) = delete;

    void reserve(size_t bytes);
    // Uploads count floats from host memory (pageable is fine: cudaMemcpy waits for the copy).
    void upload(const float *host, size_t count);
    float *floats() const { return static_cast<float *>(data_); }
    void *data() const { return data_; }
    size_t bytes() const { return bytes_; }

private:
    void *data_ = nullptr;
    size_t bytes_ = 0;
};

// A device buffer holding a copy of host floats; empty (null) for an empty vector.
template <typename Vector>
DeviceBuffer upload(const Vector &host) {
    DeviceBuffer buffer;
    if (!host.empty()) buffer.upload(host.data(), host.size());
    return buffer;
}

// Throws ODCONV_STATUS_INVALID_ARGUMENT unless pointer is device (or managed) memory usable on
// device_index. `what` names the argument ("input"), `needed_by` the caller ("a CUDA layer").
void require_device_memory(const void *pointer, int32_t device_index, const char *what, const char *needed_by);

// Throws ODCONV_STATUS_INVALID_ARGUMENT unless pointer is host memory (pageable or pinned).
void require_host_memory(const void *pointer, const char *what, const char *needed_by);

// The CUDA device whose memory this is, or -1 for host memory.
int32_t device_of(const void *pointer);

// cuDNN's descriptors take int: throws ODCONV_STATUS_UNSUPPORTED when a size does not fit.
int to_int(int64_t value, const char *what);

}  // namespace odconv::cuda
