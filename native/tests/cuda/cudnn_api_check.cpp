// The drift guard of src/cuda/cudnn_api.hpp: compiled (never run) wherever CMake finds cuDNN's real
// cudnn.h, it fails to compile if any enum value, function type or struct layout we declared by hand
// differs from cuDNN's own header.
#include <cudnn.h>

#include <cstddef>
#include <type_traits>

#include "../../src/cuda/cudnn_api.hpp"

namespace cudnn = odconv::cuda::cudnn;

#if CUDNN_MAJOR < 9
#error "odconv's CUDA backend declares cuDNN 9's API; this cudnn.h is older"
#endif

// Our types spelled as cuDNN's: each of our enums maps to cuDNN's enum, pointers and const follow, and
// everything else (ints, handles with cuDNN's own struct tags, cudaStream_t) is already cuDNN's type.
template <typename T> struct Real { using type = T; };
template <> struct Real<cudnn::Status> { using type = cudnnStatus_t; };
template <> struct Real<cudnn::DataType> { using type = cudnnDataType_t; };
template <> struct Real<cudnn::TensorFormat> { using type = cudnnTensorFormat_t; };
template <> struct Real<cudnn::ConvolutionMode> { using type = cudnnConvolutionMode_t; };
template <> struct Real<cudnn::MathType> { using type = cudnnMathType_t; };
template <> struct Real<cudnn::Determinism> { using type = cudnnDeterminism_t; };
template <> struct Real<cudnn::ConvolutionFwdAlgo> { using type = cudnnConvolutionFwdAlgo_t; };
template <> struct Real<cudnn::ConvolutionFwdAlgoPerf> { using type = cudnnConvolutionFwdAlgoPerf_t; };
template <typename T> struct Real<T *> { using type = typename Real<T>::type *; };
template <typename T> struct Real<const T> { using type = const typename Real<T>::type; };
template <typename R, typename... Args> struct Real<R (*)(Args...)> {
    using type = typename Real<R>::type (*)(typename Real<Args>::type...);
};

static_assert(std::is_same<cudnn::Handle, cudnnHandle_t>::value, "cudnnHandle_t");
static_assert(std::is_same<cudnn::TensorDescriptor, cudnnTensorDescriptor_t>::value, "cudnnTensorDescriptor_t");
static_assert(std::is_same<cudnn::FilterDescriptor, cudnnFilterDescriptor_t>::value, "cudnnFilterDescriptor_t");
static_assert(std::is_same<cudnn::ConvolutionDescriptor, cudnnConvolutionDescriptor_t>::value,
              "cudnnConvolutionDescriptor_t");

#define ODCONV_CHECK_FUNCTION(alias, symbol)                                                      \
    static_assert(std::is_same<Real<cudnn::alias>::type, decltype(&::symbol)>::value,             \
                  "cudnn_api.hpp: the type of " #symbol " differs from cuDNN's declaration");
ODCONV_CUDNN_FUNCTIONS(ODCONV_CHECK_FUNCTION)
#undef ODCONV_CHECK_FUNCTION

#define ODCONV_CHECK_ENUM(ours, theirs) \
    static_assert(static_cast<long>(cudnn::ours) == static_cast<long>(theirs), "cudnn_api.hpp: value of " #theirs);
ODCONV_CHECK_ENUM(STATUS_SUCCESS, CUDNN_STATUS_SUCCESS)
ODCONV_CHECK_ENUM(STATUS_NOT_SUPPORTED, CUDNN_STATUS_NOT_SUPPORTED)
ODCONV_CHECK_ENUM(DATA_FLOAT, CUDNN_DATA_FLOAT)
ODCONV_CHECK_ENUM(DATA_BFLOAT16, CUDNN_DATA_BFLOAT16)
ODCONV_CHECK_ENUM(TENSOR_NCHW, CUDNN_TENSOR_NCHW)
ODCONV_CHECK_ENUM(TENSOR_NHWC, CUDNN_TENSOR_NHWC)
ODCONV_CHECK_ENUM(CONVOLUTION, CUDNN_CONVOLUTION)
ODCONV_CHECK_ENUM(CROSS_CORRELATION, CUDNN_CROSS_CORRELATION)
ODCONV_CHECK_ENUM(DEFAULT_MATH, CUDNN_DEFAULT_MATH)
ODCONV_CHECK_ENUM(TENSOR_OP_MATH, CUDNN_TENSOR_OP_MATH)
ODCONV_CHECK_ENUM(TENSOR_OP_MATH_ALLOW_CONVERSION, CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION)
ODCONV_CHECK_ENUM(FMA_MATH, CUDNN_FMA_MATH)
ODCONV_CHECK_ENUM(NON_DETERMINISTIC, CUDNN_NON_DETERMINISTIC)
ODCONV_CHECK_ENUM(DETERMINISTIC, CUDNN_DETERMINISTIC)
ODCONV_CHECK_ENUM(FWD_ALGO_IMPLICIT_GEMM, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM)
ODCONV_CHECK_ENUM(FWD_ALGO_IMPLICIT_PRECOMP_GEMM, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM)
ODCONV_CHECK_ENUM(FWD_ALGO_GEMM, CUDNN_CONVOLUTION_FWD_ALGO_GEMM)
ODCONV_CHECK_ENUM(FWD_ALGO_DIRECT, CUDNN_CONVOLUTION_FWD_ALGO_DIRECT)
ODCONV_CHECK_ENUM(FWD_ALGO_FFT, CUDNN_CONVOLUTION_FWD_ALGO_FFT)
ODCONV_CHECK_ENUM(FWD_ALGO_FFT_TILING, CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING)
ODCONV_CHECK_ENUM(FWD_ALGO_WINOGRAD, CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD)
ODCONV_CHECK_ENUM(FWD_ALGO_WINOGRAD_NONFUSED, CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED)
ODCONV_CHECK_ENUM(FWD_ALGO_COUNT, CUDNN_CONVOLUTION_FWD_ALGO_COUNT)
#undef ODCONV_CHECK_ENUM

// Enums are passed by value through the function pointers: same size means same calling convention.
static_assert(sizeof(cudnn::Status) == sizeof(cudnnStatus_t), "cudnnStatus_t size");
static_assert(sizeof(cudnn::DataType) == sizeof(cudnnDataType_t), "cudnnDataType_t size");
static_assert(sizeof(cudnn::TensorFormat) == sizeof(cudnnTensorFormat_t), "cudnnTensorFormat_t size");
static_assert(sizeof(cudnn::ConvolutionMode) == sizeof(cudnnConvolutionMode_t), "cudnnConvolutionMode_t size");
static_assert(sizeof(cudnn::MathType) == sizeof(cudnnMathType_t), "cudnnMathType_t size");
static_assert(sizeof(cudnn::ConvolutionFwdAlgo) == sizeof(cudnnConvolutionFwdAlgo_t), "cudnnConvolutionFwdAlgo_t size");

using Perf = cudnn::ConvolutionFwdAlgoPerf;
static_assert(sizeof(Perf) == sizeof(cudnnConvolutionFwdAlgoPerf_t), "cudnnConvolutionFwdAlgoPerf_t size");
static_assert(alignof(Perf) == alignof(cudnnConvolutionFwdAlgoPerf_t), "cudnnConvolutionFwdAlgoPerf_t alignment");
#define ODCONV_CHECK_FIELD(field)                                                                  \
    static_assert(offsetof(Perf, field) == offsetof(cudnnConvolutionFwdAlgoPerf_t, field) &&        \
                      sizeof(Perf::field) == sizeof(cudnnConvolutionFwdAlgoPerf_t::field),          \
                  "cudnnConvolutionFwdAlgoPerf_t::" #field);
ODCONV_CHECK_FIELD(algo)
ODCONV_CHECK_FIELD(status)
ODCONV_CHECK_FIELD(time)
ODCONV_CHECK_FIELD(memory)
ODCONV_CHECK_FIELD(determinism)
ODCONV_CHECK_FIELD(mathType)
ODCONV_CHECK_FIELD(reserved)
#undef ODCONV_CHECK_FIELD
