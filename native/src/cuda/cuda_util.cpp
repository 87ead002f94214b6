#include "cuda_util.hpp"

#include <climits>

#include "../common/errors.hpp"

namespace odconv::cuda {

void check_cuda(cudaError_t error, const char *call) {
    if (error == cudaSuccess) return;
    const odconv_status status =
        error == cudaErrorMemoryAllocation ? ODCONV_STATUS_OUT_OF_MEMORY : ODCONV_STATUS_BACKEND_ERROR;
    fail(status, "CUDA: ", call, ": ", cudaGetErrorString(error), " (", cudaGetErrorName(error), ")");
}

void use_device(int32_t device_index) { check_cuda(cudaSetDevice(device_index), "cudaSetDevice"); }

DeviceBuffer::~DeviceBuffer() {
    if (data_) cudaFree(data_);  // nothing to report to from a destructor
}

void DeviceBuffer::reserve(size_t bytes) {
    if (bytes <= bytes_) return;
    if (data_) {
        check_cuda(cudaFree(data_), "cudaFree");
        data_ = nullptr;
        bytes_ = 0;
    }
    check_cuda(cudaMalloc(&data_, bytes), "cudaMalloc");
    bytes_ = bytes;
}

void DeviceBuffer::upload(const float *host, size_t count) {
    reserve(count * sizeof(float));
    copy_and_wait(data_, host, count * sizeof(float), cudaMemcpyHostToDevice);
}

void copy_and_wait(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind) {
    // cudaMemcpy alone is not enough: from pageable memory it may return once the data is staged, and
    // device to device it does not wait at all; our streams are non-blocking, so nothing else orders
    // later work after it. Waiting for the legacy stream it ran on makes the copy complete.
    check_cuda(cudaMemcpyAsync(dst, src, bytes, kind, cudaStreamLegacy), "cudaMemcpyAsync");
    check_cuda(cudaStreamSynchronize(cudaStreamLegacy), "cudaStreamSynchronize (copy)");
}

namespace {

// cudaPointerGetAttributes fails on pointers it cannot classify (older drivers, freed memory); such a
// pointer is no device memory of ours, and the error it leaves must not surface in a later call.
cudaPointerAttributes attributes_of(const void *pointer) {
    cudaPointerAttributes attributes{};
    if (cudaPointerGetAttributes(&attributes, pointer) != cudaSuccess) {
        cudaGetLastError();
        attributes.type = cudaMemoryTypeUnregistered;
        attributes.device = -1;
    }
    return attributes;
}

bool is_device_type(cudaMemoryType type) { return type == cudaMemoryTypeDevice || type == cudaMemoryTypeManaged; }

}  // namespace

int32_t device_of(const void *pointer) {
    const cudaPointerAttributes a = attributes_of(pointer);
    return is_device_type(a.type) ? a.device : -1;
}

void require_device_memory(const void *pointer, int32_t device_index, const char *what, const char *needed_by) {
    const cudaPointerAttributes a = attributes_of(pointer);
    if (a.type == cudaMemoryTypeManaged) return;  // usable from every device
    if (a.type != cudaMemoryTypeDevice)
        invalid_argument(what, " is host memory; ", needed_by, " needs memory of CUDA device ", device_index,
                         " (odconv_device_alloc + odconv_copy)");
    if (a.device != device_index)
        invalid_argument(what, " is memory of CUDA device ", a.device, "; ", needed_by, " needs memory of CUDA device ",
                         device_index);
}

void require_host_memory(const void *pointer, const char *what, const char *needed_by) {
    const cudaPointerAttributes a = attributes_of(pointer);
    if (is_device_type(a.type))
        invalid_argument(what, " is memory of CUDA device ", a.device, "; ", needed_by, " needs host memory");
}

int to_int(int64_t value, const char *what) {
    if (value < 0 || value > INT_MAX)
        fail(ODCONV_STATUS_UNSUPPORTED, what, " = ", value, " exceeds cuDNN's limit of ", INT_MAX);
    return static_cast<int>(value);
}

}  // namespace odconv::cuda
