// The part of ONNX Runtime's C ABI that the odconv operator library uses, declared here because no package
// this project can depend on ships ORT's headers.
//
// It follows onnxruntime_c_api.h at ORT_API_VERSION 17 (ONNX Runtime 1.17). That ABI is append-only:
// OrtApi is a table of function pointers whose slots never move, and OrtCustomOp grows at its end, tagged
// by its `version` field. So a table obtained with GetApi(17) from any runtime of 1.17 or later has every
// slot below where it says, and an OrtCustomOp of version 17 is read by those runtimes as written here.
// Slot numbers count the function pointers of struct OrtApi from 0, in declaration order.
//
// Proved against the real runtime by the Java tests (OrtOperatorTest and friends), which run
// libonnxruntime.so from Maven Central with this library registered: every slot below is called there.
#pragma once

#include <cstddef>
#include <cstdint>

// Opaque ORT objects, under ORT's own names; only pointers to them cross the boundary.
struct OrtApi;
struct OrtStatus;
struct OrtSessionOptions;
struct OrtCustomOpDomain;
struct OrtKernelInfo;
struct OrtKernelContext;
struct OrtValue;
struct OrtTensorTypeAndShapeInfo;
struct OrtShapeInferContext;
struct OrtOpAttr;
struct OrtTypeInfo;

namespace odconv::ort {

constexpr uint32_t kApiVersion = 17;

// ONNXTensorElementDataType (the TensorProto data types).
enum TensorElementType : int32_t { kElementUndefined = 0, kElementFloat = 1 };

// OrtErrorCode.
enum ErrorCode : int32_t { kOk = 0, kFail = 1, kInvalidArgument = 2, kRuntimeException = 6, kInvalidGraph = 10 };

// OrtCustomOpInputOutputCharacteristic.
enum InputOutputCharacteristic : int32_t { kRequired = 0, kOptional = 1, kVariadic = 2 };

// OrtMemType: 0 is the execution provider's default memory (host memory for the CPU provider).
enum MemType : int32_t { kMemTypeDefault = 0 };

// OrtOpAttrType.
enum OpAttrType : int32_t { kAttrUndefined = 0, kAttrInt = 1, kAttrInts = 2, kAttrFloat = 3, kAttrFloats = 4,
                            kAttrString = 5, kAttrStrings = 6 };

}  // namespace odconv::ort

struct OrtApiBase {
    const OrtApi *(*GetApi)(uint32_t version) noexcept;  // nullptr when the runtime is older than `version`
    const char *(*GetVersionString)() noexcept;
};

// struct OrtCustomOp as of version 17: every member ORT may read from an operator of that version.
struct OrtCustomOp {
    using TensorElementType = odconv::ort::TensorElementType;
    using InputOutputCharacteristic = odconv::ort::InputOutputCharacteristic;
    using MemType = odconv::ort::MemType;

    uint32_t version;
    void *(*CreateKernel)(const OrtCustomOp *op, const OrtApi *api, const OrtKernelInfo *info);
    const char *(*GetName)(const OrtCustomOp *op);
    const char *(*GetExecutionProviderType)(const OrtCustomOp *op);
    TensorElementType (*GetInputType)(const OrtCustomOp *op, size_t index);
    size_t (*GetInputTypeCount)(const OrtCustomOp *op);
    TensorElementType (*GetOutputType)(const OrtCustomOp *op, size_t index);
    size_t (*GetOutputTypeCount)(const OrtCustomOp *op);
    void (*KernelCompute)(void *kernel, OrtKernelContext *context);
    void (*KernelDestroy)(void *kernel);
    InputOutputCharacteristic (*GetInputCharacteristic)(const OrtCustomOp *op, size_t index);
    InputOutputCharacteristic (*GetOutputCharacteristic)(const OrtCustomOp *op, size_t index);
    MemType (*GetInputMemoryType)(const OrtCustomOp *op, size_t index);
    int (*GetVariadicInputMinArity)(const OrtCustomOp *op);
    int (*GetVariadicInputHomogeneity)(const OrtCustomOp *op);
    int (*GetVariadicOutputMinArity)(const OrtCustomOp *op);
    int (*GetVariadicOutputHomogeneity)(const OrtCustomOp *op);
    // Version 16: creation and compute that report failures as an OrtStatus instead of throwing.
    OrtStatus *(*CreateKernelV2)(const OrtCustomOp *op, const OrtApi *api, const OrtKernelInfo *info, void **kernel);
    OrtStatus *(*KernelComputeV2)(void *kernel, OrtKernelContext *context);
    // Version 17.
    OrtStatus *(*InferOutputShapeFn)(const OrtCustomOp *op, OrtShapeInferContext *context);
    int (*GetStartVersion)(const OrtCustomOp *op);
    int (*GetEndVersion)(const OrtCustomOp *op);
};

namespace odconv::ort {

// One OrtApi function: its slot and its signature.
template <size_t Slot, typename Signature>
struct ApiFunction {
    static constexpr size_t slot = Slot;
    using type = Signature;
};

namespace api {
using CreateStatus = ApiFunction<0, OrtStatus *(*)(ErrorCode code, const char *message)>;
using GetErrorCode = ApiFunction<1, ErrorCode (*)(const OrtStatus *status)>;
using GetErrorMessage = ApiFunction<2, const char *(*)(const OrtStatus *status)>;
using CreateCustomOpDomain = ApiFunction<26, OrtStatus *(*)(const char *domain, OrtCustomOpDomain **out)>;
using CustomOpDomain_Add = ApiFunction<27, OrtStatus *(*)(OrtCustomOpDomain *domain, const OrtCustomOp *op)>;
using AddCustomOpDomain = ApiFunction<28, OrtStatus *(*)(OrtSessionOptions *options, OrtCustomOpDomain *domain)>;
using GetTensorMutableData = ApiFunction<51, OrtStatus *(*)(OrtValue *value, void **out)>;
// *out belongs to type_info; nullptr when it describes no tensor.
using CastTypeInfoToTensorInfo =
    ApiFunction<55, OrtStatus *(*)(const OrtTypeInfo *type_info, const OrtTensorTypeAndShapeInfo **out)>;
using CreateTensorTypeAndShapeInfo = ApiFunction<57, OrtStatus *(*)(OrtTensorTypeAndShapeInfo **out)>;
using SetTensorElementType = ApiFunction<58, OrtStatus *(*)(OrtTensorTypeAndShapeInfo *info, TensorElementType type)>;
using SetDimensions =
    ApiFunction<59, OrtStatus *(*)(OrtTensorTypeAndShapeInfo *info, const int64_t *dims, size_t count)>;
using GetTensorElementType =
    ApiFunction<60, OrtStatus *(*)(const OrtTensorTypeAndShapeInfo *info, TensorElementType *out)>;
using GetDimensionsCount = ApiFunction<61, OrtStatus *(*)(const OrtTensorTypeAndShapeInfo *info, size_t *out)>;
using GetDimensions =
    ApiFunction<62, OrtStatus *(*)(const OrtTensorTypeAndShapeInfo *info, int64_t *dims, size_t count)>;
// *out is owned by the caller (ReleaseTensorTypeAndShapeInfo).
// dim_params[i] receives the symbol of dimension i ("" when it has none); the strings belong to info.
using GetSymbolicDimensions =
    ApiFunction<63, OrtStatus *(*)(const OrtTensorTypeAndShapeInfo *info, const char **dim_params, size_t count)>;
using GetTensorTypeAndShape = ApiFunction<65, OrtStatus *(*)(const OrtValue *value, OrtTensorTypeAndShapeInfo **out)>;
using KernelInfoGetAttribute_float =
    ApiFunction<85, OrtStatus *(*)(const OrtKernelInfo *info, const char *name, float *out)>;
using KernelInfoGetAttribute_int64 =
    ApiFunction<86, OrtStatus *(*)(const OrtKernelInfo *info, const char *name, int64_t *out)>;
// With out == nullptr, *size receives the length including the terminating NUL.
using KernelInfoGetAttribute_string =
    ApiFunction<87, OrtStatus *(*)(const OrtKernelInfo *info, const char *name, char *out, size_t *size)>;
using KernelContext_GetInputCount = ApiFunction<88, OrtStatus *(*)(const OrtKernelContext *context, size_t *out)>;
using KernelContext_GetInput =
    ApiFunction<90, OrtStatus *(*)(const OrtKernelContext *context, size_t index, const OrtValue **out)>;
using KernelContext_GetOutput = ApiFunction<91, OrtStatus *(*)(OrtKernelContext *context, size_t index,
                                                               const int64_t *dims, size_t count, OrtValue **out)>;
using ReleaseStatus = ApiFunction<93, void (*)(OrtStatus *status)>;
using ReleaseTypeInfo = ApiFunction<98, void (*)(OrtTypeInfo *info)>;
using ReleaseTensorTypeAndShapeInfo = ApiFunction<99, void (*)(OrtTensorTypeAndShapeInfo *info)>;
using ReleaseCustomOpDomain = ApiFunction<101, void (*)(OrtCustomOpDomain *domain)>;
// With out == nullptr, *size receives the list's length; fails only for a name the node lacks (ORT checks no type).
using KernelInfoGetAttributeArray_int64 =
    ApiFunction<163, OrtStatus *(*)(const OrtKernelInfo *info, const char *name, int64_t *out, size_t *size)>;
using KernelInfo_GetInputCount = ApiFunction<230, OrtStatus *(*)(const OrtKernelInfo *info, size_t *out)>;
using AddSessionConfigEntry =
    ApiFunction<130, OrtStatus *(*)(OrtSessionOptions *options, const char *key, const char *value)>;
// The type the graph declares for a node input; *type_info is owned by the caller (ReleaseTypeInfo).
using KernelInfo_GetInputTypeInfo =
    ApiFunction<234, OrtStatus *(*)(const OrtKernelInfo *info, size_t index, OrtTypeInfo **type_info)>;
using HasSessionConfigEntry =
    ApiFunction<237, OrtStatus *(*)(const OrtSessionOptions *options, const char *key, int *out)>;
// With value == nullptr, *size receives the length including the terminating NUL.
using GetSessionConfigEntry =
    ApiFunction<238, OrtStatus *(*)(const OrtSessionOptions *options, const char *key, char *value, size_t *size)>;
using KernelInfo_GetNodeName = ApiFunction<244, OrtStatus *(*)(const OrtKernelInfo *info, char *out, size_t *size)>;
// *out is owned by the session and lives as long as it; *is_constant is 0 for inputs that are not initializers.
using KernelInfoGetConstantInput_tensor =
    ApiFunction<249, OrtStatus *(*)(const OrtKernelInfo *info, size_t index, int *is_constant, const OrtValue **out)>;
using ShapeInferContext_GetInputCount = ApiFunction<267, OrtStatus *(*)(const OrtShapeInferContext *context, size_t *out)>;
// *info is owned by the context, not the caller; unknown dimensions read as -1.
using ShapeInferContext_GetInputTypeShape =
    ApiFunction<268, OrtStatus *(*)(const OrtShapeInferContext *context, size_t index, OrtTensorTypeAndShapeInfo **info)>;
// Fails (ORT_INVALID_ARGUMENT) when the node lacks the attribute.
using ShapeInferContext_GetAttribute =
    ApiFunction<269, OrtStatus *(*)(const OrtShapeInferContext *context, const char *name, const OrtOpAttr **attr)>;
using ShapeInferContext_SetOutputTypeShape = ApiFunction<270, OrtStatus *(*)(const OrtShapeInferContext *context,
                                                                             size_t index,
                                                                             const OrtTensorTypeAndShapeInfo *info)>;
using SetSymbolicDimensions =
    ApiFunction<271, OrtStatus *(*)(OrtTensorTypeAndShapeInfo *info, const char **dim_params, size_t count)>;
// Copies the attribute's value into data (len bytes); *out receives the bytes it needs.
using ReadOpAttr = ApiFunction<272, OrtStatus *(*)(const OrtOpAttr *attr, OpAttrType type, void *data, size_t len,
                                                   size_t *out)>;
// Calls fn(usr_data, i) for every i in [0, total) on the session's intra-op pool (num_batch 0: ORT chooses the
// batching) and returns when all have returned.
using KernelContext_ParallelFor =
    ApiFunction<274, OrtStatus *(*)(const OrtKernelContext *context, void (*fn)(void *, size_t), size_t total,
                                    size_t num_batch, void *usr_data)>;
}  // namespace api

// The function in an OrtApi slot: fn<api::GetErrorMessage>(table)(status).
template <typename Function>
typename Function::type fn(const OrtApi *table) {
    // Every OrtApi member is a function pointer, so the struct is laid out as an array of them.
    return reinterpret_cast<const typename Function::type *>(table)[Function::slot];
}

}  // namespace odconv::ort
