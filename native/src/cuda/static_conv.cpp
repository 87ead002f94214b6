// The static convolution on a CUDA device: the speed floor a CUDA layer is measured against. One cuDNN
// call over the whole batch with a fixed filter, then the same epilogue kernel as the layer.
#include <vector>

#include "../common/config.hpp"
#include "convolution.hpp"
#include "cuda_layer.hpp"
#include "cuda_util.hpp"
#include "kernel_math.cuh"
#include "kernels.hpp"

namespace odconv::cuda {
namespace {

class CudaStaticConvolution final : public StaticConvolution {
public:
    CudaStaticConvolution(const cudnn::Api &api, const odconv_config_t &c, const float *weight, const float *bias,
                          int64_t batch, int64_t height, int64_t width, int32_t layout, int32_t device_index,
                          uint32_t flags)
        : device_index_(device_index), activation_(c.activation), layout_(layout), out_channels_(c.out_planes),
          handle_((use_device(device_index), api)) {
        check_cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
        try {
            handle_.bind(stream_);
            const int64_t out_height = output_extent(c, height, "height");
            const int64_t out_width = output_extent(c, width, "width");
            out_pixels_ = out_height * out_width;
            output_elements_ = batch * c.out_planes * out_pixels_;
            convolution_ = std::make_unique<Convolution>(
                api,
                ConvolutionShape{batch, c.in_planes, height, width, c.out_planes, out_height, out_width, c.groups,
                                 c.kernel_size, c.stride, c.padding, c.dilation, layout},
                (flags & ODCONV_FLAG_ALLOW_TF32) != 0);
            // cuDNN reads the filter beside NHWC activations as KRSC: reorder the (small) host copy once.
            const math::FilterGeometry layout_geometry{c.out_planes, c.in_planes / c.groups, c.out_planes / c.groups,
                                                       c.kernel_size, 1, layout};
            std::vector<float> filter(layout_geometry.elements());
            for (int64_t e = 0; e < layout_geometry.elements(); ++e)
                filter[e] = weight[math::bank_offset(layout_geometry, 0, math::filter_index(layout_geometry, e))];
            weight_ = upload(filter);
            if (bias) bias_.upload(bias, c.out_planes);

            // Algorithm choice on scratch tensors of the real shape.
            DeviceBuffer x(sizeof(float) * batch * c.in_planes * height * width), y(sizeof(float) * output_elements_);
            check_cuda(cudaMemsetAsync(x.data(), 0, x.bytes(), stream_), "cudaMemsetAsync");
            convolution_->choose_algorithm(handle_.get(), x.floats(), weight_.floats(), y.floats());
            workspace_.reserve(std::max<size_t>(convolution_->workspace_bytes(), 1));
            check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
        } catch (...) {
            handle_.rebind_quietly(nullptr);  // the handle (a member) outlives the stream destroyed here
            cudaStreamDestroy(stream_);
            throw;
        }
    }

    ~CudaStaticConvolution() override {
        if (cudaSetDevice(device_index_) == cudaSuccess) cudaStreamSynchronize(stream_);
        handle_.rebind_quietly(nullptr);  // the handle (a member) outlives the stream destroyed here
        cudaStreamDestroy(stream_);
    }

    void forward(const float *input, float *output) override {
        use_device(device_index_);
        require_device_memory(input, device_index_, "input", "a CUDA static convolution");
        require_device_memory(output, device_index_, "output", "a CUDA static convolution");
        convolution_->run(handle_.get(), input, weight_.floats(), output, workspace_.data());
        enqueue_epilogue(output, output_elements_, out_channels_, out_pixels_, layout_, bias_.floats(), activation_,
                         stream_);
    }

    void wait() override {
        use_device(device_index_);
        check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
    }

private:
    int32_t device_index_, activation_, layout_, out_channels_;
    int64_t out_pixels_ = 0, output_elements_ = 0;
    cudaStream_t stream_ = nullptr;
    CudnnHandle handle_;
    std::unique_ptr<Convolution> convolution_;
    DeviceBuffer weight_, bias_, workspace_;
};

}  // namespace

std::unique_ptr<StaticConvolution> create_cuda_static_conv(const cudnn::Api &api, const odconv_config_t &config,
                                                           const float *weight, const float *bias, int64_t batch,
                                                           int64_t height, int64_t width, int32_t layout,
                                                           int32_t device_index, uint32_t flags) {
    return std::make_unique<CudaStaticConvolution>(api, config, weight, bias, batch, height, width, layout,
                                                   device_index, flags);
}

}  // namespace odconv::cuda
