// ODConv layers and static convolutions on a CUDA device, and the stream type of this backend.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <memory>

#include "../common/device_backend.hpp"
#include "cudnn_api.hpp"

namespace odconv::cuda {

class CudaStream final : public Stream {
public:
    explicit CudaStream(int32_t device_index);
    ~CudaStream() override;  // waits for the stream's work, as odconv_stream_destroy promises
    void synchronize() override;
    cudaStream_t get() const { return stream_; }
    int32_t device_index() const { return device_index_; }

private:
    int32_t device_index_;
    cudaStream_t stream_ = nullptr;
};

std::unique_ptr<Layer> create_cuda_layer(const cudnn::Api &api, const odconv_config_t &config,
                                         const odconv_weights_t &weights, int32_t device_index, uint32_t flags);

std::unique_ptr<StaticConvolution> create_cuda_static_conv(const cudnn::Api &api, const odconv_config_t &config,
                                                           const float *weight, const float *bias, int64_t batch,
                                                           int64_t height, int64_t width, int32_t layout,
                                                           int32_t device_index, uint32_t flags);

}  // namespace odconv::cuda
