#include "convolution.hpp"

#include <algorithm>
#include <vector>

#include "../common/errors.hpp"
#include "cuda_util.hpp"

namespace odconv::cuda {
namespace {

bool is_accurate(cudnn::ConvolutionFwdAlgo algo) {
    switch (algo) {
        case cudnn::FWD_ALGO_IMPLICIT_GEMM:
        case cudnn::FWD_ALGO_IMPLICIT_PRECOMP_GEMM:
        case cudnn::FWD_ALGO_GEMM:
        case cudnn::FWD_ALGO_DIRECT:
        case cudnn::FWD_ALGO_WINOGRAD:
            return true;
        default:  // FFT, FFT_TILING and WINOGRAD_NONFUSED lose FP32 accuracy beyond 1e-4
            return false;
    }
}

}  // namespace

Convolution::Convolution(const cudnn::Api &api, const ConvolutionShape &s, uint32_t flags)
    : api_(api), allow_tf32_((flags & ODCONV_FLAG_ALLOW_TF32) != 0), bfloat16_((flags & ODCONV_FLAG_BFLOAT16) != 0) {
    const auto format = s.layout == ODCONV_LAYOUT_NHWC ? cudnn::TENSOR_NHWC : cudnn::TENSOR_NCHW;
    // bfloat16: input, filter and output in bfloat16, products accumulated in float32 (the compute type).
    const auto data = bfloat16_ ? cudnn::DATA_BFLOAT16 : cudnn::DATA_FLOAT;
    const int in_per_group = to_int(s.in_channels / s.groups, "input channels per group");
    try {
        cudnn::check(api_, api_.cudnnCreateTensorDescriptor(&x_desc_), "cudnnCreateTensorDescriptor");
        cudnn::check(api_, api_.cudnnCreateTensorDescriptor(&y_desc_), "cudnnCreateTensorDescriptor");
        cudnn::check(api_, api_.cudnnCreateFilterDescriptor(&w_desc_), "cudnnCreateFilterDescriptor");
        cudnn::check(api_, api_.cudnnCreateConvolutionDescriptor(&conv_desc_), "cudnnCreateConvolutionDescriptor");
        cudnn::check(api_,
                     api_.cudnnSetTensor4dDescriptor(x_desc_, format, data, to_int(s.batch, "batch"),
                                                     to_int(s.in_channels, "input channels"),
                                                     to_int(s.height, "height"), to_int(s.width, "width")),
                     "cudnnSetTensor4dDescriptor (input)");
        cudnn::check(api_,
                     api_.cudnnSetFilter4dDescriptor(w_desc_, data, format,
                                                     to_int(s.out_channels, "output channels"), in_per_group,
                                                     to_int(s.kernel_size, "kernel_size"),
                                                     to_int(s.kernel_size, "kernel_size")),
                     "cudnnSetFilter4dDescriptor");
        const int padding = to_int(s.padding, "padding"), stride = to_int(s.stride, "stride");
        const int dilation = to_int(s.dilation, "dilation");
        cudnn::check(api_,
                     api_.cudnnSetConvolution2dDescriptor(conv_desc_, padding, padding, stride, stride, dilation,
                                                          dilation, cudnn::CROSS_CORRELATION, cudnn::DATA_FLOAT),
                     "cudnnSetConvolution2dDescriptor");
        cudnn::check(api_, api_.cudnnSetConvolutionGroupCount(conv_desc_, to_int(s.groups, "groups")),
                     "cudnnSetConvolutionGroupCount");
        cudnn::check(api_, api_.cudnnSetConvolutionMathType(conv_desc_, descriptor_math()),
                     "cudnnSetConvolutionMathType");
        int n = 0, c = 0, h = 0, w = 0;
        cudnn::check(api_, api_.cudnnGetConvolution2dForwardOutputDim(conv_desc_, x_desc_, w_desc_, &n, &c, &h, &w),
                     "cudnnGetConvolution2dForwardOutputDim");
        if (n != s.batch || c != s.out_channels || h != s.out_height || w != s.out_width)
            fail(ODCONV_STATUS_INTERNAL_ERROR, "cuDNN computes output ", n, "x", c, "x", h, "x", w, " where odconv expects ",
                 s.batch, "x", s.out_channels, "x", s.out_height, "x", s.out_width);
        cudnn::check(api_, api_.cudnnSetTensor4dDescriptor(y_desc_, format, data, n, c, h, w),
                     "cudnnSetTensor4dDescriptor (output)");
    } catch (...) {
        release();  // the destructor does not run for a constructor that throws
        throw;
    }
}

Convolution::~Convolution() { release(); }

void Convolution::release() noexcept {
    if (conv_desc_) api_.cudnnDestroyConvolutionDescriptor(conv_desc_);
    if (w_desc_) api_.cudnnDestroyFilterDescriptor(w_desc_);
    if (y_desc_) api_.cudnnDestroyTensorDescriptor(y_desc_);
    if (x_desc_) api_.cudnnDestroyTensorDescriptor(x_desc_);
    conv_desc_ = nullptr;
    w_desc_ = nullptr;
    y_desc_ = x_desc_ = nullptr;
}

cudnn::MathType Convolution::descriptor_math() const {
    // FMA math keeps FP32 exact to PyTorch with TF32 off; DEFAULT lets cuDNN use TF32 tensor cores, as PyTorch
    // does with allow_tf32; bfloat16 asks for tensor cores outright, as frameworks do for it on compute
    // capability 8.0 and later (the only GPUs odconv computes bfloat16 on).
    if (bfloat16_) return cudnn::TENSOR_OP_MATH;
    return allow_tf32_ ? cudnn::DEFAULT_MATH : cudnn::FMA_MATH;
}

void Convolution::choose_algorithm(cudnn::Handle handle, const void *x, const void *w, void *y) {
    // The largest workspace any accurate candidate needs within the cap, so FindEx can try them all. cuDNN
    // sizes an algorithm for the descriptor's math type, while Find also times the others it may use (tensor
    // cores beside FMA): with tensor cores allowed, both are asked, so that no candidate is dropped for want
    // of workspace it could have had.
    const bool tensor_cores = allow_tf32_ || bfloat16_;
    std::vector<cudnn::MathType> maths{descriptor_math()};
    if (tensor_cores) maths.push_back(bfloat16_ ? cudnn::DEFAULT_MATH : cudnn::TENSOR_OP_MATH);
    size_t workspace = 0;
    for (const cudnn::MathType math : maths) {
        cudnn::check(api_, api_.cudnnSetConvolutionMathType(conv_desc_, math), "cudnnSetConvolutionMathType");
        for (int a = 0; a < cudnn::FWD_ALGO_COUNT; ++a) {
            const auto algo = static_cast<cudnn::ConvolutionFwdAlgo>(a);
            size_t bytes = 0;
            if (!is_accurate(algo) ||
                api_.cudnnGetConvolutionForwardWorkspaceSize(handle, x_desc_, w_desc_, conv_desc_, y_desc_, algo,
                                                             &bytes) != cudnn::STATUS_SUCCESS)
                continue;  // not supported for this shape
            if (bytes <= kMaxWorkspaceBytes) workspace = std::max(workspace, bytes);
        }
    }
    cudnn::check(api_, api_.cudnnSetConvolutionMathType(conv_desc_, descriptor_math()), "cudnnSetConvolutionMathType");
    DeviceBuffer scratch(std::max<size_t>(workspace, 1));
    int max_count = 0;
    cudnn::check(api_, api_.cudnnGetConvolutionForwardAlgorithmMaxCount(handle, &max_count),
                 "cudnnGetConvolutionForwardAlgorithmMaxCount");
    std::vector<cudnn::ConvolutionFwdAlgoPerf> results(std::max(max_count, 1));
    int returned = 0;
    cudnn::check(api_,
                 api_.cudnnFindConvolutionForwardAlgorithmEx(handle, x_desc_, x, w_desc_, w, conv_desc_, y_desc_, y,
                                                             static_cast<int>(results.size()), &returned,
                                                             results.data(), scratch.data(), workspace),
                 "cudnnFindConvolutionForwardAlgorithmEx");
    // Results come fastest first.
    for (int i = 0; i < returned; ++i) {
        const cudnn::ConvolutionFwdAlgoPerf &r = results[i];
        // Find reports the math each result ran with. Float32 without TF32: only FMA results qualify; with
        // TF32 or in bfloat16, never ALLOW_CONVERSION, which may compute in float16.
        const bool tensor_cores = allow_tf32_ || bfloat16_;
        const bool qualifies = tensor_cores ? r.mathType != cudnn::TENSOR_OP_MATH_ALLOW_CONVERSION
                                            : r.mathType == cudnn::FMA_MATH;
        if (r.status == cudnn::STATUS_SUCCESS && is_accurate(r.algo) && r.memory <= workspace && qualifies) {
            if (tensor_cores)  // run what was timed (as PyTorch does after cudnnFind)
                cudnn::check(api_, api_.cudnnSetConvolutionMathType(conv_desc_, r.mathType),
                             "cudnnSetConvolutionMathType");
            algo_ = r.algo;
            workspace_bytes_ = r.memory;
            chosen_ = true;
            return;
        }
    }
    fail(ODCONV_STATUS_UNSUPPORTED, "cuDNN ", api_.version_string(), " offers no accurate ",
         bfloat16_ ? "bfloat16" : "FP32", " forward algorithm (implicit GEMM, GEMM, direct or Winograd) within ",
         kMaxWorkspaceBytes >> 20, " MiB of workspace for this convolution");
}

void Convolution::run(cudnn::Handle handle, const void *x, const void *w, void *y, void *workspace) const {
    if (!chosen_) fail(ODCONV_STATUS_INTERNAL_ERROR, "Convolution::run before choose_algorithm");
    const float one = 1.0f, zero = 0.0f;
    cudnn::check(api_,
                 api_.cudnnConvolutionForward(handle, &one, x_desc_, x, w_desc_, w, conv_desc_, algo_, workspace,
                                              workspace_bytes_, &zero, y_desc_, y),
                 "cudnnConvolutionForward");
}

float time_on_stream(cudaStream_t stream, int runs, const std::function<void()> &body) {
    cudaEvent_t start = nullptr, stop = nullptr;
    check_cuda(cudaEventCreate(&start), "cudaEventCreate");
    try {
        check_cuda(cudaEventCreate(&stop), "cudaEventCreate");
        body();  // warm-up: first-run costs (module loading, caches) must not decide
        check_cuda(cudaEventRecord(start, stream), "cudaEventRecord");
        for (int i = 0; i < runs; ++i) body();
        check_cuda(cudaEventRecord(stop, stream), "cudaEventRecord");
        check_cuda(cudaEventSynchronize(stop), "cudaEventSynchronize");
        float milliseconds = 0;
        check_cuda(cudaEventElapsedTime(&milliseconds, start, stop), "cudaEventElapsedTime");
        cudaEventDestroy(start);
        cudaEventDestroy(stop);
        return milliseconds / runs;
    } catch (...) {
        cudaEventDestroy(start);
        if (stop) cudaEventDestroy(stop);
        throw;
    }
}

}  // namespace odconv::cuda
