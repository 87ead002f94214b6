// The static convolution on a CUDA device: the speed floor a CUDA layer is measured against. One cuDNN
// call over the whole batch with a fixed filter, then the same epilogue kernel as the layer; in bfloat16 (the
// floor of bfloat16 layers) with the layer's rounding of the input before it and a bfloat16 filter.
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
          bfloat16_((flags & ODCONV_FLAG_BFLOAT16) != 0), handle_((use_device(device_index), api)) {
        check_cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
        try {
            handle_.bind(stream_);
            const int64_t out_height = output_extent(c, height, "height");
            const int64_t out_width = output_extent(c, width, "width");
            out_pixels_ = out_height * out_width;
            output_elements_ = batch * c.out_planes * out_pixels_;
            input_elements_ = batch * c.in_planes * height * width;
            convolution_ = std::make_unique<Convolution>(
                api,
                ConvolutionShape{batch, c.in_planes, height, width, c.out_planes, out_height, out_width, c.groups,
                                 c.kernel_size, c.stride, c.padding, c.dilation, layout},
                flags);
            // cuDNN reads the filter beside NHWC activations as KRSC: reorder the (small) host copy once.
            const math::FilterGeometry layout_geometry{c.out_planes, c.in_planes / c.groups, c.out_planes / c.groups,
                                                       c.kernel_size, 1, layout};
            std::vector<float> filter(layout_geometry.elements());
            for (int64_t e = 0; e < layout_geometry.elements(); ++e)
                filter[e] = weight[math::bank_offset(layout_geometry, 0, math::filter_index(layout_geometry, e))];
            weight_ = upload(filter);
            if (bfloat16_) {  // rounded once, on the device, as a layer rounds its filters
                DeviceBuffer rounded(sizeof(uint16_t) * filter.size());
                enqueue_to_bfloat16(weight_.floats(), int64_t(filter.size()), static_cast<uint16_t *>(rounded.data()),
                                    stream_);
                check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
                weight_ = std::move(rounded);
                bfloat16_input_.reserve(sizeof(uint16_t) * input_elements_);
                bfloat16_output_.reserve(sizeof(uint16_t) * output_elements_);
            }
            if (bias) bias_.upload(bias, c.out_planes);

            // Algorithm choice on scratch tensors of the real shape.
            const size_t element_bytes = convolution_->element_bytes();
            DeviceBuffer x(element_bytes * input_elements_), y(element_bytes * output_elements_);
            check_cuda(cudaMemsetAsync(x.data(), 0, x.bytes(), stream_), "cudaMemsetAsync");
            convolution_->choose_algorithm(handle_.get(), x.data(), weight_.data(), y.data());
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
        if (bfloat16_) {
            auto *x = static_cast<uint16_t *>(bfloat16_input_.data());
            auto *y = static_cast<uint16_t *>(bfloat16_output_.data());
            enqueue_to_bfloat16(input, input_elements_, x, stream_);
            convolution_->run(handle_.get(), x, weight_.data(), y, workspace_.data());
            enqueue_epilogue(y, output, output_elements_, out_channels_, out_pixels_, layout_, bias_.floats(), activation_,
                             stream_);
            return;
        }
        convolution_->run(handle_.get(), input, weight_.data(), output, workspace_.data());
        enqueue_epilogue(output, output_elements_, out_channels_, out_pixels_, layout_, bias_.floats(), activation_,
                         stream_);
    }

    void wait() override {
        use_device(device_index_);
        check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
    }

private:
    int32_t device_index_, activation_, layout_, out_channels_;
    bool bfloat16_;
    int64_t out_pixels_ = 0, output_elements_ = 0, input_elements_ = 0;
    cudaStream_t stream_ = nullptr;
    CudnnHandle handle_;
    std::unique_ptr<Convolution> convolution_;
    DeviceBuffer weight_, bias_, workspace_;
    DeviceBuffer bfloat16_input_, bfloat16_output_;  // bfloat16: the convolution's input and output
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
