// One cuDNN convolution: its descriptors, and the forward algorithm chosen for them by running cuDNN's
// accurate candidates on real buffers. Float32 (FMA math, or TF32 tensor cores when allowed), or bfloat16
// input, filter and output with float32 accumulation on tensor cores (ODCONV_FLAG_BFLOAT16). Immutable once
// chosen, so any number of threads may run it at once, each with its own handle and workspace.
#pragma once

#include <cstdint>
#include <functional>

#include "cudnn_api.hpp"

namespace odconv::cuda {

struct ConvolutionShape {
    int64_t batch, in_channels, height, width;  // the input tensor
    int64_t out_channels, out_height, out_width;
    int64_t groups, kernel_size, stride, padding, dilation;
    int32_t layout;  // odconv_layout of input and output; filters are KCRS (NCHW) or KRSC (NHWC)
};

// Above this, a faster algorithm is not worth the memory (and may not exist on a small GPU).
constexpr size_t kMaxWorkspaceBytes = size_t(256) << 20;

class Convolution {
public:
    // flags: odconv_layer_create's (ODCONV_FLAG_ALLOW_TF32, ODCONV_FLAG_BFLOAT16).
    Convolution(const cudnn::Api &api, const ConvolutionShape &shape, uint32_t flags);
    ~Convolution();
    Convolution(const Convolution &) = delete;
    Convolution &operator=(const Convolution &) = delete;

    // Chooses the fastest algorithm among those that match PyTorch's FP32 results within 1e-4 (not FFT
    // or non-fused Winograd) and need at most kMaxWorkspaceBytes; runs them on x, w, y (y is overwritten)
    // on the handle's stream, and waits. Tensors hold elements of element_bytes() each.
    void choose_algorithm(cudnn::Handle handle, const void *x, const void *w, void *y);

    size_t workspace_bytes() const { return workspace_bytes_; }
    // 4 (float32) or 2 (bfloat16): the size of x's, w's and y's elements.
    size_t element_bytes() const { return bfloat16_ ? 2 : 4; }

    // Enqueues y = conv(x, w) on the handle's stream; workspace holds workspace_bytes().
    void run(cudnn::Handle handle, const void *x, const void *w, void *y, void *workspace) const;

private:
    void release() noexcept;
    // The math type the descriptor carries until choose_algorithm sets the one it timed.
    cudnn::MathType descriptor_math() const;

    const cudnn::Api &api_;
    bool allow_tf32_, bfloat16_;
    cudnn::TensorDescriptor x_desc_ = nullptr, y_desc_ = nullptr;
    cudnn::FilterDescriptor w_desc_ = nullptr;
    cudnn::ConvolutionDescriptor conv_desc_ = nullptr;
    cudnn::ConvolutionFwdAlgo algo_ = cudnn::FWD_ALGO_IMPLICIT_GEMM;
    size_t workspace_bytes_ = 0;
    bool chosen_ = false;
};

// A cuDNN handle owned for its life.
class CudnnHandle {
public:
    explicit CudnnHandle(const cudnn::Api &api) : api_(api) { cudnn::check(api, api.cudnnCreate(&handle_), "cudnnCreate"); }
    ~CudnnHandle() { api_.cudnnDestroy(handle_); }
    CudnnHandle(const CudnnHandle &) = delete;
    CudnnHandle &operator=(const CudnnHandle &) = delete;
    cudnn::Handle get() const { return handle_; }
    void bind(cudaStream_t stream) const { cudnn::check(api_, api_.cudnnSetStream(handle_, stream), "cudnnSetStream"); }
    // For cleanup paths (destructors, after a failure): a stream about to be destroyed must not stay bound,
    // and there is nobody to report a failure to.
    void rebind_quietly(cudaStream_t stream) const noexcept { api_.cudnnSetStream(handle_, stream); }

private:
    const cudnn::Api &api_;
    cudnn::Handle handle_ = nullptr;
};

// Mean milliseconds of `runs` runs of body on stream, after one warm-up run.
float time_on_stream(cudaStream_t stream, int runs, const std::function<void()> &body);

}  // namespace odconv::cuda
