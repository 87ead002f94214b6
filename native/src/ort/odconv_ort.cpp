// ODConv2d as an ONNX Runtime custom operator (odconv_ort.h): node attributes and constant initializers in,
// one odconv layer per node, one odconv forward per compute.
#include "odconv_ort.h"

#include <climits>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "../common/config.hpp"
#include "../common/parameters.hpp"
#include "odconv.h"
#include "ort_abi.hpp"

namespace odconv::ort {
namespace {

// A failure to report to ONNX Runtime as an OrtStatus; never leaves this file as an exception.
struct OrtError {
    ErrorCode code;
    std::string message;
};

template <typename... Parts>
[[noreturn]] void fail(ErrorCode code, Parts &&...parts) {
    std::ostringstream message;
    (message << ... << parts);
    throw OrtError{code, message.str()};
}

// Turns a status returned by ORT into an OrtError carrying `context` and ORT's message.
void check(const OrtApi *api, OrtStatus *status, const std::string &context) {
    if (status == nullptr) return;
    const std::string message = fn<api::GetErrorMessage>(api)(status);
    const ErrorCode code = fn<api::GetErrorCode>(api)(status);
    fn<api::ReleaseStatus>(api)(status);
    fail(code, context, ": ", message);
}

// Runs body; anything it throws becomes an OrtStatus for ONNX Runtime (nullptr on success).
template <typename Body>
OrtStatus *guard(const OrtApi *api, Body &&body) noexcept {
    try {
        body();
        return nullptr;
    } catch (const OrtError &e) {
        return fn<api::CreateStatus>(api)(e.code, e.message.c_str());
    } catch (const std::bad_alloc &) {
        return fn<api::CreateStatus>(api)(kFail, "odconv ODConv2d: out of memory");
    } catch (const std::exception &e) {
        return fn<api::CreateStatus>(api)(kFail, (std::string("odconv ODConv2d: ") + e.what()).c_str());
    } catch (...) {
        return fn<api::CreateStatus>(api)(kFail, "odconv ODConv2d: unknown error");
    }
}

// Releases a status ORT returned; true when there was none, that is, when the call succeeded.
bool succeeded(const OrtApi *api, OrtStatus *status) {
    if (status == nullptr) return true;
    fn<api::ReleaseStatus>(api)(status);
    return false;
}

// A string ORT hands out in two calls, both `call(buffer, &size)`: the first (buffer nullptr) for the size with its
// terminating NUL, the second to copy it. Nothing when either fails.
template <typename Call>
std::optional<std::string> read_string(const OrtApi *api, Call call) {
    size_t size = 0;
    if (!succeeded(api, call(nullptr, &size)) || size == 0) return std::nullopt;
    std::string value(size, '\0');
    if (!succeeded(api, call(value.data(), &size))) return std::nullopt;
    value.resize(std::strlen(value.c_str()));
    return value;
}

std::string shape_string(const int64_t *dims, size_t rank) {
    std::string s = "[";
    for (size_t i = 0; i < rank; ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
    return s + "]";
}

struct TensorShape {
    TensorElementType type = kElementUndefined;
    std::vector<int64_t> dims;

    std::string str() const { return shape_string(dims.data(), dims.size()); }
};

// Type and shape of a tensor description (borrowed).
TensorShape read_shape(const OrtApi *api, const OrtTensorTypeAndShapeInfo *info, const std::string &context) {
    TensorShape shape;
    size_t rank = 0;
    check(api, fn<api::GetTensorElementType>(api)(info, &shape.type), context);
    check(api, fn<api::GetDimensionsCount>(api)(info, &rank), context);
    shape.dims.resize(rank);
    check(api, fn<api::GetDimensions>(api)(info, shape.dims.data(), rank), context);
    return shape;
}

TensorShape value_shape(const OrtApi *api, const OrtValue *value, const std::string &context) {
    OrtTensorTypeAndShapeInfo *info = nullptr;
    check(api, fn<api::GetTensorTypeAndShape>(api)(value, &info), context);
    std::unique_ptr<OrtTensorTypeAndShapeInfo, void (*)(OrtTensorTypeAndShapeInfo *)> owned(
        info, fn<api::ReleaseTensorTypeAndShapeInfo>(api));
    return read_shape(api, info, context);
}

// The attributes of a node, read through one of ORT's two attribute interfaces (kernel creation or shape
// inference), so that both interpret them by the same rules.
class Attributes {
public:
    virtual ~Attributes() = default;
    virtual std::optional<int64_t> integer(const char *name) const = 0;
    virtual std::optional<float> real(const char *name) const = 0;
    virtual std::optional<std::string> text(const char *name) const = 0;
    // Whether the node has the attribute at all, of any type (a list too): a value the readers above refuse is
    // then one of another type, never "not given".
    virtual bool present(const char *name) const = 0;
};

class KernelInfoAttributes final : public Attributes {
public:
    KernelInfoAttributes(const OrtApi *api, const OrtKernelInfo *info) : api_(api), info_(info) {}

    // ORT reports a missing attribute as a failed status; any failure here means "not given or not of
    // this type", and read_config says which was expected.
    std::optional<int64_t> integer(const char *name) const override {
        int64_t value = 0;
        return succeeded(fn<api::KernelInfoGetAttribute_int64>(api_)(info_, name, &value)) ? std::optional(value)
                                                                                           : std::nullopt;
    }
    std::optional<float> real(const char *name) const override {
        float value = 0;
        return succeeded(fn<api::KernelInfoGetAttribute_float>(api_)(info_, name, &value)) ? std::optional(value)
                                                                                           : std::nullopt;
    }
    std::optional<std::string> text(const char *name) const override {
        return read_string(api_, [&](char *out, size_t *size) {
            return fn<api::KernelInfoGetAttribute_string>(api_)(info_, name, out, size);
        });
    }
    bool present(const char *name) const override {
        size_t size = 0;  // ORT's list reads check the name, not the type
        return succeeded(fn<api::KernelInfoGetAttributeArray_int64>(api_)(info_, name, nullptr, &size));
    }

private:
    bool succeeded(OrtStatus *status) const { return odconv::ort::succeeded(api_, status); }
    const OrtApi *api_;
    const OrtKernelInfo *info_;
};

class ShapeInferenceAttributes final : public Attributes {
public:
    ShapeInferenceAttributes(const OrtApi *api, const OrtShapeInferContext *context) : api_(api), context_(context) {}

    std::optional<int64_t> integer(const char *name) const override {
        int64_t value = 0;
        return read(name, kAttrInt, &value, sizeof value) ? std::optional(value) : std::nullopt;
    }
    std::optional<float> real(const char *name) const override {
        float value = 0;
        return read(name, kAttrFloat, &value, sizeof value) ? std::optional(value) : std::nullopt;
    }
    std::optional<std::string> text(const char *name) const override {
        const OrtOpAttr *attr = attribute(name);
        size_t size = 0;
        if (attr == nullptr) return std::nullopt;
        released(fn<api::ReadOpAttr>(api_)(attr, kAttrString, nullptr, 0, &size));  // "buffer too small": size is set
        std::string value(size, '\0');
        if (!released(fn<api::ReadOpAttr>(api_)(attr, kAttrString, value.data(), size, &size))) return std::nullopt;
        value.resize(std::strlen(value.c_str()));
        return value;
    }
    bool present(const char *name) const override { return attribute(name) != nullptr; }

private:
    const OrtOpAttr *attribute(const char *name) const {
        const OrtOpAttr *attr = nullptr;
        return released(fn<api::ShapeInferContext_GetAttribute>(api_)(context_, name, &attr)) ? attr : nullptr;
    }
    bool read(const char *name, OpAttrType type, void *data, size_t len) const {
        const OrtOpAttr *attr = attribute(name);
        size_t written = 0;
        return attr != nullptr && released(fn<api::ReadOpAttr>(api_)(attr, type, data, len, &written));
    }
    bool released(OrtStatus *status) const { return succeeded(api_, status); }
    const OrtApi *api_;
    const OrtShapeInferContext *context_;
};

// odconv_activation by the names the exporter and the odconv model file use.
int32_t activation_named(const std::string &name, const std::string &node) {
    if (name == "identity") return ODCONV_ACTIVATION_IDENTITY;
    if (name == "relu") return ODCONV_ACTIVATION_RELU;
    if (name == "silu") return ODCONV_ACTIVATION_SILU;
    fail(kInvalidArgument, node, ": attribute activation = \"", name, "\" is not one of \"identity\", \"relu\", \"silu\"");
}

// A string attribute, `fallback` when the node lacks it; one of another type is an error, as in read_config.
std::string text_attribute(const Attributes &attributes, const char *name, const char *fallback,
                           const std::string &node) {
    std::optional<std::string> value = attributes.text(name);
    if (!value && attributes.present(name)) fail(kInvalidArgument, node, ": attribute ", name, " must be of type string");
    return value.value_or(fallback);
}

// The node's `layout` attribute: how X and Y hold their elements.
int32_t read_layout(const Attributes &attributes, const std::string &node) {
    const std::string name = text_attribute(attributes, "layout", "NCHW", node);
    if (name == "NCHW") return ODCONV_LAYOUT_NCHW;
    if (name == "NHWC") return ODCONV_LAYOUT_NHWC;
    fail(kInvalidArgument, node, ": attribute layout = \"", name, "\" is not one of \"NCHW\", \"NHWC\"");
}

// Where a layout keeps the channels, height and width of a rank-4 tensor.
struct Axes {
    int channels, height, width;
};
Axes axes_of(int32_t layout) { return layout == ODCONV_LAYOUT_NHWC ? Axes{3, 1, 2} : Axes{1, 2, 3}; }

// Y's dimensions for X's (known ones).
std::vector<int64_t> output_dims(const odconv_config_t &c, int32_t layout, const std::vector<int64_t> &x) {
    const Axes a = axes_of(layout);
    std::vector<int64_t> y(4);
    y[0] = x[0];
    y[a.channels] = c.out_planes;
    y[a.height] = output_extent(c, x[a.height], "height");
    y[a.width] = output_extent(c, x[a.width], "width");
    return y;
}

// The layer configuration a node's attributes describe; `node` prefixes every message. An attribute of
// another type than its field's is an error, never read as absent (a temperature written as the int 2 would
// otherwise silently become the default 1).
odconv_config_t read_config(const Attributes &attributes, const std::string &node) {
    auto require_type = [&](const char *name, const char *type, bool present_as_other_type) {
        if (present_as_other_type) fail(kInvalidArgument, node, ": attribute ", name, " must be of type ", type);
    };
    auto int32 = [&](const char *name, std::optional<int64_t> fallback) -> int32_t {
        std::optional<int64_t> value = attributes.integer(name);
        if (!value) {
            require_type(name, "int", attributes.present(name));
            if (!fallback) fail(kInvalidArgument, node, ": required int attribute '", name, "' is missing");
            value = fallback;
        }
        if (*value < INT32_MIN || *value > INT32_MAX)
            fail(kInvalidArgument, node, ": attribute ", name, " = ", *value, " is out of range");
        return static_cast<int32_t>(*value);
    };
    auto real = [&](const char *name, float fallback) {
        std::optional<float> value = attributes.real(name);
        if (!value) require_type(name, "float", attributes.present(name));
        return value.value_or(fallback);
    };

    odconv_config_t c{};
    c.in_planes = int32("in_planes", std::nullopt);
    c.out_planes = int32("out_planes", std::nullopt);
    c.kernel_size = int32("kernel_size", std::nullopt);
    c.stride = int32("stride", 1);
    c.padding = int32("padding", 0);
    c.dilation = int32("dilation", 1);
    c.groups = int32("groups", 1);
    c.kernel_num = int32("kernel_num", 1);
    const int32_t width = int32("attention_channels", std::nullopt);
    if (width < 1) fail(kInvalidArgument, node, ": attribute attention_channels = ", width, " must be >= 1");
    // The width itself, expressed as the (reduction, min_channel) pair the configuration holds:
    // int(in_planes * (width + 0.5) / in_planes) == width, and min_channel 1 never raises it.
    c.reduction = c.in_planes > 0 ? (width + 0.5) / c.in_planes : 0.0;
    c.min_channel = 1;
    c.has_batch_norm = int32("batch_norm", 0);
    c.temperature = real("temperature", 1.0f);
    c.bn_eps = real("bn_eps", 1e-5f);
    c.attention_bn_eps = real("attention_bn_eps", 1e-5f);
    c.activation = activation_named(text_attribute(attributes, "activation", "identity", node), node);
    if (odconv_config_validate(&c) != ODCONV_STATUS_SUCCESS) {
        std::string message = odconv_last_error_message();
        if (message.rfind("config.", 0) == 0) message = "attribute " + message.substr(7);
        fail(kInvalidArgument, node, ": ", message);
    }
    return c;
}

std::string node_label(const OrtApi *api, const OrtKernelInfo *info) {
    const std::optional<std::string> name = read_string(
        api, [&](char *out, size_t *size) { return fn<api::KernelInfo_GetNodeName>(api)(info, out, size); });
    return std::string(ODCONV_ORT_OP_TYPE " node '") + name.value_or("") + "'";
}

// What makes an X of these dimensions (-1: unknown, passes) unfit for the configuration, as the end of a
// sentence that names the tensor and its shape; nothing when it fits. Running, creating the kernel and shape
// inference all judge X by this.
std::optional<std::string> input_problem(const odconv_config_t &c, int32_t layout, const std::vector<int64_t> &dims) {
    const Axes a = axes_of(layout);
    const std::string channels = std::to_string(c.in_planes);
    if (dims.size() != 4)
        return ", expected rank 4 " + (layout == ODCONV_LAYOUT_NHWC ? "[N, H, W, " + channels + "]" : "[N, " + channels + ", H, W]");
    if (dims[a.channels] >= 0 && dims[a.channels] != c.in_planes) return ", expected " + channels + " channels";
    for (const int axis : {a.height, a.width}) {
        if (dims[axis] < 0) continue;
        try {
            output_extent(c, dims[axis], axis == a.height ? "height" : "width");
        } catch (const std::exception &e) {
            return std::string(": ") + e.what();
        }
    }
    return std::nullopt;
}

// One node: an odconv layer made from the node's constant initializers (copied when the kernel is created).
class Kernel {
public:
    Kernel(const OrtApi *api, const OrtKernelInfo *info, int32_t num_threads) : api_(api), node_(node_label(api, info)) {
        KernelInfoAttributes attributes(api, info);
        config_ = read_config(attributes, node_);
        layout_ = read_layout(attributes, node_);

        check_declared_input(info);
        size_t inputs = 0;
        check(api, fn<api::KernelInfo_GetInputCount>(api)(info, &inputs), node_);
        odconv_weights_t weights{};
        std::vector<const ParameterInfo *> expected;
        for (int32_t i = 0; i < kParameterCount; ++i)
            if (kParameters[i].shape(config_).rank > 0) expected.push_back(&kParameters[i]);
        if (inputs != expected.size() + 1) {
            std::string names;
            for (const ParameterInfo *p : expected) names += std::string(names.empty() ? "" : ", ") + p->name;
            fail(kInvalidGraph, node_, ": has ", inputs, " inputs, expected ", expected.size() + 1,
                 " for its attributes: X, then ", names);
        }
        for (size_t k = 0; k < expected.size(); ++k) {
            const ParameterInfo &p = *expected[k];
            const size_t index = k + 1;
            const std::string where = node_ + ": input " + std::to_string(index) + " (" + p.name + ")";
            int is_constant = 0;
            const OrtValue *value = nullptr;
            check(api, fn<api::KernelInfoGetConstantInput_tensor>(api)(info, index, &is_constant, &value), where);
            if (!is_constant || value == nullptr)
                fail(kInvalidGraph, where, " must be a constant initializer (odconv reads the parameters once, "
                                           "when the session is created)");
            const TensorShape actual = value_shape(api, value, where);
            const ParameterShape wanted = p.shape(config_);
            if (actual.type != kElementFloat) fail(kInvalidGraph, where, " must be float32");
            if (actual.dims.size() != size_t(wanted.rank) ||
                !std::equal(actual.dims.begin(), actual.dims.end(), wanted.dims))
                fail(kInvalidGraph, where, " has shape ", actual.str(), ", expected ",
                     shape_string(wanted.dims, wanted.rank), " for the node's attributes");
            void *data = nullptr;
            // The session owns its initializers, read-only here, and outlives this kernel.
            check(api, fn<api::GetTensorMutableData>(api)(const_cast<OrtValue *>(value), &data), where);
            p.in(weights) = static_cast<const float *>(data);
        }
        if (odconv_layer_create(&layer_, &config_, &weights, ODCONV_DEVICE_CPU, 0, 0) != ODCONV_STATUS_SUCCESS)
            fail(kInvalidArgument, node_, ": ", odconv_last_error_message());
        // Tasks per step: the session's intra-op thread count as odconv.num_threads states it, else one per
        // processor (ONNX Runtime's own default is one thread per core).
        tasks_ = num_threads > 0 ? num_threads : allowed_processors();
    }

    ~Kernel() { odconv_layer_destroy(layer_); }
    Kernel(const Kernel &) = delete;
    Kernel &operator=(const Kernel &) = delete;

    void compute(OrtKernelContext *context) const {
        const OrtValue *input = nullptr;
        check(api_, fn<api::KernelContext_GetInput>(api_)(context, 0, &input), node_ + ": input 0 (X)");
        if (input == nullptr) fail(kInvalidArgument, node_, ": input 0 (X) is missing");
        const TensorShape x = value_shape(api_, input, node_ + ": input 0 (X)");
        if (const auto problem = input_problem(config_, layout_, x.dims))
            fail(kInvalidArgument, node_, ": input 0 (X) has shape ", x.str(), *problem);
        const Axes a = axes_of(layout_);
        const int64_t batch = x.dims[0], height = x.dims[a.height], width = x.dims[a.width];
        const std::vector<int64_t> out_dims = output_dims(config_, layout_, x.dims);
        OrtValue *output = nullptr;
        check(api_, fn<api::KernelContext_GetOutput>(api_)(context, 0, out_dims.data(), 4, &output), node_ + ": output 0");
        if (output == nullptr) fail(kRuntimeException, node_, ": ONNX Runtime gave no tensor for output 0 (Y)");
        if (batch == 0) return;  // an empty batch has an empty output, nothing to compute

        void *in_data = nullptr, *out_data = nullptr;
        check(api_, fn<api::GetTensorMutableData>(api_)(const_cast<OrtValue *>(input), &in_data), node_);
        check(api_, fn<api::GetTensorMutableData>(api_)(output, &out_data), node_);
        // odconv's work runs as tasks on the session's own intra-op pool: a second pool of odconv's would
        // compete with ORT's threads for the same cores (docs/onnx-runtime.md, Threads).
        IntraOpPool intra_op{api_, context, {}};
        // odconv bounds a pool's task count by the calling thread's processors, which may be fewer than those of
        // the thread that created the session.
        const odconv_thread_pool_t pool{parallel_for, &intra_op, std::min(tasks_, max_threads())};
        if (odconv_layer_forward_on_pool(layer_, &pool, batch, height, width, odconv_layout(layout_),
                                         static_cast<const float *>(in_data),
                                         static_cast<float *>(out_data)) != ODCONV_STATUS_SUCCESS)
            fail(kRuntimeException, node_, ": ", odconv_last_error_message());
        if (!intra_op.failure.empty()) fail(kRuntimeException, node_, ": ", intra_op.failure);
    }

    const OrtApi *api() const { return api_; }

private:
    struct IntraOpPool {
        const OrtApi *api;
        OrtKernelContext *context;
        std::string failure;  // what ORT said when it could not run the tasks
    };

    // odconv_thread_pool_t.parallel_for on ORT's pool. Should ORT refuse to run the tasks, compute() reports
    // what it said (the output is then not written).
    static void parallel_for(void *pool_context, odconv_task_fn task, void *task_context, size_t count) {
        IntraOpPool &pool = *static_cast<IntraOpPool *>(pool_context);
        OrtStatus *status = fn<api::KernelContext_ParallelFor>(pool.api)(pool.context, task, count, 0, task_context);
        if (status == nullptr) return;
        if (pool.failure.empty())
            pool.failure = std::string("ONNX Runtime's KernelContext_ParallelFor: ") + fn<api::GetErrorMessage>(pool.api)(status);
        fn<api::ReleaseStatus>(pool.api)(status);
    }

    // The shape the graph declares for X, where it declares one: a wrong rank, channel count or a size too
    // small for the kernel fails the session's creation rather than its first run.
    void check_declared_input(const OrtKernelInfo *info) const {
        const std::string where = node_ + ": input 0 (X)";
        OrtTypeInfo *type = nullptr;
        check(api_, fn<api::KernelInfo_GetInputTypeInfo>(api_)(info, 0, &type), where);
        std::unique_ptr<OrtTypeInfo, void (*)(OrtTypeInfo *)> owned(type, fn<api::ReleaseTypeInfo>(api_));
        const OrtTensorTypeAndShapeInfo *tensor = nullptr;
        check(api_, fn<api::CastTypeInfoToTensorInfo>(api_)(type, &tensor), where);
        if (tensor == nullptr) return;
        const TensorShape x = read_shape(api_, tensor, where);
        if (x.dims.empty()) return;  // no declared shape
        if (const auto problem = input_problem(config_, layout_, x.dims))
            fail(kInvalidGraph, where, " is declared with shape ", x.str(), *problem);
    }

    const OrtApi *api_;
    std::string node_;
    odconv_config_t config_{};
    int32_t layout_ = ODCONV_LAYOUT_NCHW;
    odconv_layer_t layer_ = nullptr;
    int32_t tasks_ = 1;
};

// The operator: one per registered thread count (they differ in nothing else), alive for the process.
struct Operator : OrtCustomOp {
    const OrtApi *api;
    int32_t num_threads;
};

const Operator &self(const OrtCustomOp *op) { return *static_cast<const Operator *>(op); }

constexpr size_t kInputCount = 1 + sizeof(odconv_weights_t) / sizeof(const float *);
// X and the parameters every layer has are required; the rest depend on the configuration.
size_t required_inputs() {
    size_t count = 1;
    for (int32_t i = 0; i < kParameterCount && kParameters[i].absent_because == nullptr; ++i) ++count;
    return count;
}

// Output shape from input shape and attributes, so that ORT plans memory and downstream shapes statically.
// ONNX Runtime (1.17 to 1.29 at least) ignores the status this returns and never releases it, so it returns
// none: whatever it cannot work out stays unknown, and the kernel's own checks report a bad input.
OrtStatus *infer_output_shape(const OrtCustomOp *op, OrtShapeInferContext *context) {
    const OrtApi *api = self(op).api;
    try {
        const std::string node = ODCONV_ORT_OP_TYPE " node";
        const ShapeInferenceAttributes attributes(api, context);
        const odconv_config_t c = read_config(attributes, node);
        const int32_t layout = read_layout(attributes, node);
        const Axes a = axes_of(layout);
        OrtTensorTypeAndShapeInfo *info = nullptr;
        check(api, fn<api::ShapeInferContext_GetInputTypeShape>(api)(context, 0, &info), node);
        const TensorShape x = read_shape(api, info, node);
        if (input_problem(c, layout, x.dims)) return nullptr;
        std::vector<const char *> symbols(x.dims.size(), nullptr);
        check(api, fn<api::GetSymbolicDimensions>(api)(info, symbols.data(), symbols.size()), node);
        // Only a fully known shape, or one whose batch alone is a named symbol (carried over), is worth
        // stating: an output height of a symbolic input height has no symbol of its own.
        const bool named_batch = x.dims[0] < 0 && symbols[0] != nullptr && symbols[0][0] != '\0';
        if ((x.dims[0] < 0 && !named_batch) || x.dims[a.height] < 0 || x.dims[a.width] < 0) return nullptr;
        const std::vector<int64_t> out = output_dims(c, layout, x.dims);
        OrtTensorTypeAndShapeInfo *result = nullptr;
        check(api, fn<api::CreateTensorTypeAndShapeInfo>(api)(&result), node);
        std::unique_ptr<OrtTensorTypeAndShapeInfo, void (*)(OrtTensorTypeAndShapeInfo *)> owned(
            result, fn<api::ReleaseTensorTypeAndShapeInfo>(api));
        check(api, fn<api::SetTensorElementType>(api)(result, kElementFloat), node);
        check(api, fn<api::SetDimensions>(api)(result, out.data(), 4), node);
        if (named_batch) {
            const char *out_symbols[4] = {symbols[0], "", "", ""};
            check(api, fn<api::SetSymbolicDimensions>(api)(result, out_symbols, 4), node);
        }
        check(api, fn<api::ShapeInferContext_SetOutputTypeShape>(api)(context, 0, result), node);
    } catch (...) {
        // Left unknown; see above.
    }
    return nullptr;
}

Operator make_operator(const OrtApi *api, int32_t num_threads) {
    Operator op{};
    op.version = kApiVersion;
    op.api = api;
    op.num_threads = num_threads;
    op.CreateKernel = [](const OrtCustomOp *, const OrtApi *, const OrtKernelInfo *) -> void * { return nullptr; };
    op.GetName = [](const OrtCustomOp *) { return ODCONV_ORT_OP_TYPE; };
    op.GetExecutionProviderType = [](const OrtCustomOp *) { return "CPUExecutionProvider"; };
    op.GetInputType = [](const OrtCustomOp *, size_t) { return kElementFloat; };
    op.GetInputTypeCount = [](const OrtCustomOp *) { return kInputCount; };
    op.GetOutputType = [](const OrtCustomOp *, size_t) { return kElementFloat; };
    op.GetOutputTypeCount = [](const OrtCustomOp *) { return size_t(1); };
    op.KernelCompute = [](void *, OrtKernelContext *) {};  // never called: ORT uses KernelComputeV2
    op.KernelDestroy = [](void *kernel) { delete static_cast<Kernel *>(kernel); };
    op.GetInputCharacteristic = [](const OrtCustomOp *, size_t index) {
        return index < required_inputs() ? kRequired : kOptional;
    };
    op.GetOutputCharacteristic = [](const OrtCustomOp *, size_t) { return kRequired; };
    op.GetInputMemoryType = [](const OrtCustomOp *, size_t) { return kMemTypeDefault; };
    op.GetVariadicInputMinArity = [](const OrtCustomOp *) { return 1; };
    op.GetVariadicInputHomogeneity = [](const OrtCustomOp *) { return 1; };
    op.GetVariadicOutputMinArity = [](const OrtCustomOp *) { return 1; };
    op.GetVariadicOutputHomogeneity = [](const OrtCustomOp *) { return 1; };
    op.CreateKernelV2 = [](const OrtCustomOp *op, const OrtApi *api, const OrtKernelInfo *info, void **kernel) {
        *kernel = nullptr;
        return guard(api, [&] { *kernel = new Kernel(api, info, self(op).num_threads); });
    };
    op.KernelComputeV2 = [](void *kernel, OrtKernelContext *context) {
        const Kernel &k = *static_cast<const Kernel *>(kernel);
        return guard(k.api(), [&] { k.compute(context); });
    };
    op.InferOutputShapeFn = infer_output_shape;
    op.GetStartVersion = [](const OrtCustomOp *) { return 1; };
    op.GetEndVersion = [](const OrtCustomOp *) { return INT_MAX; };
    return op;
}

// ORT keeps pointers to the operator and its domain in every session built from the options, and this
// library cannot be unloaded (linked with -z nodelete), so both live as long as the process. One of each per
// thread count keeps that bounded however many sessions register it.
struct Registration {
    Operator op;
    OrtCustomOpDomain *domain;
};

OrtCustomOpDomain *domain_for(const OrtApi *api, int32_t num_threads) {
    static std::mutex mutex;
    static std::map<std::pair<const OrtApi *, int32_t>, std::unique_ptr<Registration>> registrations;
    std::lock_guard<std::mutex> lock(mutex);
    auto &slot = registrations[{api, num_threads}];
    if (!slot) {
        auto registration = std::make_unique<Registration>();
        registration->op = make_operator(api, num_threads);
        check(api, fn<api::CreateCustomOpDomain>(api)(ODCONV_ORT_DOMAIN, &registration->domain),
              "odconv: creating domain " ODCONV_ORT_DOMAIN);
        OrtStatus *added = fn<api::CustomOpDomain_Add>(api)(registration->domain, &registration->op);
        if (added != nullptr) fn<api::ReleaseCustomOpDomain>(api)(registration->domain);
        check(api, added, "odconv: adding " ODCONV_ORT_OP_TYPE " to domain " ODCONV_ORT_DOMAIN);
        slot = std::move(registration);
    }
    return slot->domain;
}

// Marks session options that hold the org.odconv domain.
constexpr const char *kRegisteredKey = "odconv.registered";

// The "odconv.num_threads" session configuration entry, or 0 (one task per processor) when the options lack it.
int32_t configured_threads(const OrtApi *api, const OrtSessionOptions *options) {
    const std::string context = "odconv: session configuration entry " ODCONV_ORT_NUM_THREADS_KEY;
    int present = 0;
    check(api, fn<api::HasSessionConfigEntry>(api)(options, ODCONV_ORT_NUM_THREADS_KEY, &present), context);
    if (!present) return 0;
    const std::string value = read_string(api, [&](char *out, size_t *size) {
                                  return fn<api::GetSessionConfigEntry>(api)(options, ODCONV_ORT_NUM_THREADS_KEY, out, size);
                              }).value_or("");
    char *end = nullptr;
    const long threads = std::strtol(value.c_str(), &end, 10);
    const int32_t limit = max_threads();  // odconv_layer_set_num_threads's, so a session fails here, not per node
    if (value.empty() || *end != '\0' || threads < 0 || threads > limit) {
        fail(kInvalidArgument, context, " = \"", value, "\" is not a thread count in [0, ", limit,
             "] (0: one per processor; at most ", kThreadsPerProcessor, " per processor this process may run on)");
    }
    return static_cast<int32_t>(threads);
}

}  // namespace
}  // namespace odconv::ort

extern "C" OrtStatus *RegisterCustomOps(OrtSessionOptions *options, const OrtApiBase *api_base) {
    using namespace odconv::ort;
    if (api_base == nullptr || options == nullptr) return nullptr;  // nothing to report through: no API table
    const OrtApi *api = api_base->GetApi(kApiVersion);
    if (api == nullptr) {
        // No table to create a status with: the newest API any runtime offers can still report the error.
        static const std::string message = std::string("odconv: libodconv_ort.so needs ONNX Runtime 1.17 or newer "
                                                       "(ORT API version 17); this runtime is ") +
                                           api_base->GetVersionString();
        for (uint32_t version = kApiVersion - 1; version >= 1; --version)
            if (const OrtApi *older = api_base->GetApi(version)) return fn<api::CreateStatus>(older)(kFail, message.c_str());
        return nullptr;
    }
    return guard(api, [&] {
        // A second registration would add the domain twice, which ONNX Runtime reports only when a session is
        // created, as "Domain already set in registry": say so here, where the mistake is made.
        int registered = 0;
        check(api, fn<api::HasSessionConfigEntry>(api)(options, kRegisteredKey, &registered), "odconv");
        if (registered)
            fail(kInvalidArgument, "odconv: the " ODCONV_ORT_DOMAIN " domain is already registered with these session"
                                   " options; register it once per options");
        OrtCustomOpDomain *domain = domain_for(api, configured_threads(api, options));
        check(api, fn<api::AddCustomOpDomain>(api)(options, domain), "odconv: registering domain " ODCONV_ORT_DOMAIN);
        check(api, fn<api::AddSessionConfigEntry>(api)(options, kRegisteredKey, "1"), "odconv");
    });
}
