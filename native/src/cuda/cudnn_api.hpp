// The part of cuDNN 9's legacy convolution API this backend calls, declared here because cuDNN is loaded
// at run time (dlopen) and its headers need not exist where libodconv_cuda.so is built. Every enum value,
// function type and struct layout below must match cudnn_graph.h / cudnn_ops.h / cudnn_cnn.h of cuDNN 9;
// native/tests/cuda/cudnn_api_check.cpp proves it with static_asserts wherever the real headers exist.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <string>

// The opaque structs carry cuDNN's own tags, so that our handle types are cuDNN's handle types.
struct cudnnContext;
struct cudnnTensorStruct;
struct cudnnFilterStruct;
struct cudnnConvolutionStruct;

namespace odconv::cuda::cudnn {

using Handle = cudnnContext *;
using TensorDescriptor = cudnnTensorStruct *;
using FilterDescriptor = cudnnFilterStruct *;
using ConvolutionDescriptor = cudnnConvolutionStruct *;

// cudnnStatus_t: only the values this code names.
enum Status { STATUS_SUCCESS = 0, STATUS_NOT_SUPPORTED = 3000 };

// cudnnDataType_t
enum DataType { DATA_FLOAT = 0, DATA_BFLOAT16 = 9 };

// cudnnTensorFormat_t; for filters NCHW means KCRS and NHWC means KRSC.
enum TensorFormat { TENSOR_NCHW = 0, TENSOR_NHWC = 1 };

// cudnnConvolutionMode_t: PyTorch's convolution is cross-correlation.
enum ConvolutionMode { CONVOLUTION = 0, CROSS_CORRELATION = 1 };

// cudnnMathType_t
enum MathType { DEFAULT_MATH = 0, TENSOR_OP_MATH = 1, TENSOR_OP_MATH_ALLOW_CONVERSION = 2, FMA_MATH = 3 };

// cudnnDeterminism_t
enum Determinism { NON_DETERMINISTIC = 0, DETERMINISTIC = 1 };

// cudnnConvolutionFwdAlgo_t
enum ConvolutionFwdAlgo {
    FWD_ALGO_IMPLICIT_GEMM = 0,
    FWD_ALGO_IMPLICIT_PRECOMP_GEMM = 1,
    FWD_ALGO_GEMM = 2,
    FWD_ALGO_DIRECT = 3,
    FWD_ALGO_FFT = 4,
    FWD_ALGO_FFT_TILING = 5,
    FWD_ALGO_WINOGRAD = 6,
    FWD_ALGO_WINOGRAD_NONFUSED = 7,
    FWD_ALGO_COUNT = 8
};

// cudnnConvolutionFwdAlgoPerf_t (cudnnConvolutionFwdAlgoPerfStruct)
struct ConvolutionFwdAlgoPerf {
    ConvolutionFwdAlgo algo;
    Status status;
    float time;
    size_t memory;
    Determinism determinism;
    MathType mathType;
    int reserved[3];
};

// One function-pointer type per entry point, named after it.
using GetVersion = size_t (*)(void);
using GetErrorString = const char *(*)(Status);
using Create = Status (*)(Handle *);
using Destroy = Status (*)(Handle);
using SetStream = Status (*)(Handle, cudaStream_t);
using CreateTensorDescriptor = Status (*)(TensorDescriptor *);
using SetTensor4dDescriptor = Status (*)(TensorDescriptor, TensorFormat, DataType, int, int, int, int);
using DestroyTensorDescriptor = Status (*)(TensorDescriptor);
using CreateFilterDescriptor = Status (*)(FilterDescriptor *);
using SetFilter4dDescriptor = Status (*)(FilterDescriptor, DataType, TensorFormat, int, int, int, int);
using DestroyFilterDescriptor = Status (*)(FilterDescriptor);
using CreateConvolutionDescriptor = Status (*)(ConvolutionDescriptor *);
using SetConvolution2dDescriptor = Status (*)(ConvolutionDescriptor, int, int, int, int, int, int, ConvolutionMode,
                                              DataType);
using SetConvolutionGroupCount = Status (*)(ConvolutionDescriptor, int);
using SetConvolutionMathType = Status (*)(ConvolutionDescriptor, MathType);
using DestroyConvolutionDescriptor = Status (*)(ConvolutionDescriptor);
using GetConvolution2dForwardOutputDim = Status (*)(ConvolutionDescriptor, TensorDescriptor, FilterDescriptor, int *,
                                                    int *, int *, int *);
using GetConvolutionForwardAlgorithmMaxCount = Status (*)(Handle, int *);
using FindConvolutionForwardAlgorithmEx = Status (*)(Handle, TensorDescriptor, const void *, FilterDescriptor,
                                                     const void *, ConvolutionDescriptor, TensorDescriptor, void *,
                                                     int, int *, ConvolutionFwdAlgoPerf *, void *, size_t);
using GetConvolutionForwardWorkspaceSize = Status (*)(Handle, TensorDescriptor, FilterDescriptor, ConvolutionDescriptor,
                                                      TensorDescriptor, ConvolutionFwdAlgo, size_t *);
using ConvolutionForward = Status (*)(Handle, const void *, TensorDescriptor, const void *, FilterDescriptor,
                                      const void *, ConvolutionDescriptor, ConvolutionFwdAlgo, void *, size_t,
                                      const void *, TensorDescriptor, void *);

// The X-macro list of every entry point: (member, symbol). cudnn_api_check.cpp walks the same list.
#define ODCONV_CUDNN_FUNCTIONS(X)                                                   \
    X(GetVersion, cudnnGetVersion)                                                  \
    X(GetErrorString, cudnnGetErrorString)                                          \
    X(Create, cudnnCreate)                                                          \
    X(Destroy, cudnnDestroy)                                                        \
    X(SetStream, cudnnSetStream)                                                    \
    X(CreateTensorDescriptor, cudnnCreateTensorDescriptor)                          \
    X(SetTensor4dDescriptor, cudnnSetTensor4dDescriptor)                            \
    X(DestroyTensorDescriptor, cudnnDestroyTensorDescriptor)                        \
    X(CreateFilterDescriptor, cudnnCreateFilterDescriptor)                          \
    X(SetFilter4dDescriptor, cudnnSetFilter4dDescriptor)                            \
    X(DestroyFilterDescriptor, cudnnDestroyFilterDescriptor)                        \
    X(CreateConvolutionDescriptor, cudnnCreateConvolutionDescriptor)                \
    X(SetConvolution2dDescriptor, cudnnSetConvolution2dDescriptor)                  \
    X(SetConvolutionGroupCount, cudnnSetConvolutionGroupCount)                      \
    X(SetConvolutionMathType, cudnnSetConvolutionMathType)                          \
    X(DestroyConvolutionDescriptor, cudnnDestroyConvolutionDescriptor)              \
    X(GetConvolution2dForwardOutputDim, cudnnGetConvolution2dForwardOutputDim)      \
    X(GetConvolutionForwardAlgorithmMaxCount, cudnnGetConvolutionForwardAlgorithmMaxCount) \
    X(FindConvolutionForwardAlgorithmEx, cudnnFindConvolutionForwardAlgorithmEx)    \
    X(GetConvolutionForwardWorkspaceSize, cudnnGetConvolutionForwardWorkspaceSize)  \
    X(ConvolutionForward, cudnnConvolutionForward)

// The loaded library: one pointer per entry point, all non-null once load() succeeded.
struct Api {
#define ODCONV_CUDNN_MEMBER(type, symbol) type symbol = nullptr;
    ODCONV_CUDNN_FUNCTIONS(ODCONV_CUDNN_MEMBER)
#undef ODCONV_CUDNN_MEMBER
    size_t version = 0;  // cudnnGetVersion(): major * 10000 + minor * 100 + patch since cuDNN 9

    std::string version_string() const;
};

// Loads cuDNN from $ODCONV_CUDNN_LIBRARY, else "libcudnn.so.9". Returns false with `error` saying which
// path was tried and why it failed (dlerror(), a missing symbol, or a cuDNN older than 9).
bool load(Api &api, std::string &error);

// Throws odconv::Error(ODCONV_STATUS_BACKEND_ERROR) naming the call and cuDNN's text for the status,
// unless it is success.
void check(const Api &api, Status status, const char *call);

}  // namespace odconv::cuda::cudnn
