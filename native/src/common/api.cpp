// The C entry points: argument checks that do not depend on the backend, exception-to-status
// translation, the thread-local error message and the ABI self-description.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"

#include "../cpu/cpu_layer.hpp"
#include "backends.hpp"
#include "config.hpp"
#include "errors.hpp"
#include "layer.hpp"
#include "parameters.hpp"

namespace odconv {
namespace {

thread_local std::string last_error;

template <typename T>
void require_non_null(const T *pointer, const char *name) {
    if (pointer == nullptr) invalid_argument(name, " is NULL");
}

void require_layout(int32_t layout) {
    if (layout != ODCONV_LAYOUT_NCHW && layout != ODCONV_LAYOUT_NHWC)
        invalid_argument("layout = ", layout, " is not an odconv_layout (0 = NCHW, 1 = NHWC)");
}

struct ElementCounts {
    int64_t input, output;
};

// An input shape for the configuration: batch in range, a non-empty output, sizes inside the limits.
ElementCounts validate_shape(const odconv_config_t &c, int64_t batch, int64_t height, int64_t width) {
    if (batch < 1 || batch > kMaxElements) invalid_argument("batch = ", batch, " is out of range [1, ", kMaxElements, "]");
    const int64_t out_h = output_extent(c, height, "height");
    const int64_t out_w = output_extent(c, width, "width");
    return {checked_mul(checked_mul(batch, c.in_planes, "input"), checked_mul(height, width, "input"), "input"),
            checked_mul(checked_mul(batch, c.out_planes, "output"), checked_mul(out_h, out_w, "output"), "output")};
}

// Checks a forward's arguments against the configuration; returns nothing, throws on the first problem.
void validate_forward(const odconv_config_t &c, int64_t batch, int64_t height, int64_t width, int32_t layout,
                      const float *input, const float *output) {
    require_non_null(input, "input");
    require_non_null(output, "output");
    require_layout(layout);
    const auto [in_elements, out_elements] = validate_shape(c, batch, height, width);
    const auto *in_begin = reinterpret_cast<const char *>(input);
    const auto *out_begin = reinterpret_cast<const char *>(output);
    if (in_begin < out_begin + out_elements * int64_t(sizeof(float)) &&
        out_begin < in_begin + in_elements * int64_t(sizeof(float)))
        invalid_argument("input and output overlap");
}

void require_flags(uint32_t flags) {
    if ((flags & ~uint32_t(ODCONV_FLAG_ALLOW_TF32)) != 0)
        invalid_argument("flags = ", flags, " has bits other than ODCONV_FLAG_ALLOW_TF32 (1)");
}

void require_allocation_size(int64_t bytes) {
    constexpr int64_t kMaxBytes = kMaxElements * int64_t(sizeof(float));
    if (bytes < 1 || bytes > kMaxBytes) invalid_argument("bytes = ", bytes, " is out of range [1, ", kMaxBytes, "]");
}

void require_copy_kind(int32_t kind) {
    if (kind != ODCONV_COPY_HOST_TO_DEVICE && kind != ODCONV_COPY_DEVICE_TO_HOST && kind != ODCONV_COPY_DEVICE_TO_DEVICE)
        invalid_argument("kind = ", kind,
                         " is not an odconv_copy_kind (0 = host to device, 1 = device to host, 2 = device to device)");
}

void validate_benchmark(int32_t iterations, const double *milliseconds) {
    if (iterations < 1) invalid_argument("iterations = ", iterations, " must be >= 1");
    require_non_null(milliseconds, "milliseconds");
}

// Runs body `iterations` times, writing each run's wall time in milliseconds.
template <typename Body>
void time_each(int32_t iterations, double *milliseconds, Body &&body) {
    using clock = std::chrono::steady_clock;
    for (int32_t i = 0; i < iterations; ++i) {
        const auto start = clock::now();
        body();
        milliseconds[i] = std::chrono::duration<double, std::milli>(clock::now() - start).count();
    }
}

}  // namespace

void set_last_error(const std::string &message) noexcept {
    try {
        last_error = message;
    } catch (...) {
        last_error.clear();  // Out of memory while reporting: an empty message beats none.
    }
}

odconv_status status_from_current_exception() noexcept {
    try {
        throw;
    } catch (const Error &e) {
        set_last_error(e.what());
        return e.status();
    } catch (const dnnl::error &e) {
        set_last_error(std::string("oneDNN: ") + e.what() + " (dnnl_status " + std::to_string(int(e.status)) + ")");
        return e.status == dnnl_out_of_memory ? ODCONV_STATUS_OUT_OF_MEMORY : ODCONV_STATUS_BACKEND_ERROR;
    } catch (const std::bad_alloc &) {
        set_last_error("out of memory");
        return ODCONV_STATUS_OUT_OF_MEMORY;
    } catch (const std::exception &e) {
        set_last_error(std::string("internal error: ") + e.what());
        return ODCONV_STATUS_INTERNAL_ERROR;
    } catch (...) {
        set_last_error("internal error: unknown exception");
        return ODCONV_STATUS_INTERNAL_ERROR;
    }
}

}  // namespace odconv

using odconv::guard;
using odconv::invalid_argument;
using odconv::require_non_null;

struct odconv_static_conv {
    std::unique_ptr<odconv::StaticConvolution> impl;
};

struct odconv_stream {
    int32_t device_type;
    int32_t device_index;
    std::unique_ptr<odconv::Stream> impl;
};

extern "C" {

uint32_t odconv_version(void) {
    return ODCONV_VERSION_MAJOR * 10000 + ODCONV_VERSION_MINOR * 100 + ODCONV_VERSION_PATCH;
}

const char *odconv_backend_description(void) { return odconv::cpu::backend_description(); }

const char *odconv_cpu_isa(void) {
    try {
        return odconv::cpu::cpu_isa();
    } catch (...) {
        return "unknown";
    }
}

const char *odconv_status_string(odconv_status status) {
    switch (status) {
        case ODCONV_STATUS_SUCCESS: return "success";
        case ODCONV_STATUS_INVALID_ARGUMENT: return "invalid argument";
        case ODCONV_STATUS_OUT_OF_MEMORY: return "out of memory";
        case ODCONV_STATUS_UNSUPPORTED: return "unsupported";
        case ODCONV_STATUS_BACKEND_ERROR: return "backend error";
        case ODCONV_STATUS_INTERNAL_ERROR: return "internal error";
        case ODCONV_STATUS_DEVICE_UNAVAILABLE: return "device unavailable";
    }
    return "unknown status";
}

const char *odconv_last_error_message(void) { return odconv::last_error.c_str(); }

odconv_status odconv_config_validate(const odconv_config_t *config) {
    return guard([&] {
        require_non_null(config, "config");
        odconv::validate_config(*config);
    });
}

odconv_status odconv_config_attention_channels(const odconv_config_t *config, int32_t *attention_channels) {
    return guard([&] {
        require_non_null(config, "config");
        require_non_null(attention_channels, "attention_channels");
        odconv::validate_config(*config);
        *attention_channels = odconv::attention_channels(*config);
    });
}

odconv_status odconv_layer_create(odconv_layer_t *layer, const odconv_config_t *config,
                                  const odconv_weights_t *weights) {
    return odconv_layer_create_on_device(layer, config, weights, ODCONV_DEVICE_CPU, 0, 0);
}

odconv_status odconv_layer_create_on_device(odconv_layer_t *layer, const odconv_config_t *config,
                                            const odconv_weights_t *weights, int32_t device_type,
                                            int32_t device_index, uint32_t flags) {
    if (layer != nullptr) *layer = nullptr;
    return guard([&] {
        require_non_null(layer, "layer");
        require_non_null(config, "config");
        require_non_null(weights, "weights");
        odconv::require_flags(flags);
        odconv::validate_config(*config);
        odconv::validate_weights(*config, *weights);
        auto &backend = odconv::backend_for_device(device_type, device_index);
        auto created = std::make_unique<odconv_layer>();
        created->config = *config;
        created->device_type = device_type;
        created->device_index = device_index;
        created->impl = backend.create_layer(*config, *weights, device_index, flags);
        *layer = created.release();
    });
}

odconv_status odconv_layer_device(odconv_layer_t layer, int32_t *device_type, int32_t *device_index) {
    return guard([&] {
        require_non_null(layer, "layer");
        require_non_null(device_type, "device_type");
        require_non_null(device_index, "device_index");
        *device_type = layer->device_type;
        *device_index = layer->device_index;
    });
}

odconv_status odconv_layer_destroy(odconv_layer_t layer) {
    return guard([&] { delete layer; });
}

odconv_status odconv_layer_set_num_threads(odconv_layer_t layer, int32_t num_threads) {
    return guard([&] {
        require_non_null(layer, "layer");
        odconv::check_thread_count(num_threads);
        layer->impl->set_num_threads(num_threads);
    });
}

odconv_status odconv_layer_output_shape(odconv_layer_t layer, int64_t height, int64_t width, int64_t *out_height,
                                        int64_t *out_width) {
    return guard([&] {
        require_non_null(layer, "layer");
        require_non_null(out_height, "out_height");
        require_non_null(out_width, "out_width");
        const int64_t h = odconv::output_extent(layer->config, height, "height");
        const int64_t w = odconv::output_extent(layer->config, width, "width");
        *out_height = h;
        *out_width = w;
    });
}

odconv_status odconv_layer_forward(odconv_layer_t layer, int64_t batch, int64_t height, int64_t width,
                                   int32_t layout, const float *input, float *output) {
    return guard([&] {
        require_non_null(layer, "layer");
        odconv::validate_forward(layer->config, batch, height, width, layout, input, output);
        layer->impl->forward(batch, height, width, layout, input, output);
    });
}

odconv_status odconv_layer_forward_async(odconv_layer_t layer, odconv_stream_t stream, int64_t batch, int64_t height,
                                         int64_t width, int32_t layout, const float *input, float *output) {
    return guard([&] {
        require_non_null(layer, "layer");
        require_non_null(stream, "stream");
        if (stream->device_type != layer->device_type || stream->device_index != layer->device_index)
            invalid_argument("the stream belongs to device (type ", stream->device_type, ", index ",
                             stream->device_index, "), the layer to device (type ", layer->device_type, ", index ",
                             layer->device_index, ")");
        odconv::validate_forward(layer->config, batch, height, width, layout, input, output);
        layer->impl->forward_async(*stream->impl, batch, height, width, layout, input, output);
    });
}

odconv_status odconv_layer_benchmark(odconv_layer_t layer, int64_t batch, int64_t height, int64_t width,
                                     int32_t layout, const float *input, float *output, int32_t iterations,
                                     double *milliseconds) {
    return guard([&] {
        require_non_null(layer, "layer");
        odconv::validate_forward(layer->config, batch, height, width, layout, input, output);
        odconv::validate_benchmark(iterations, milliseconds);
        odconv::time_each(iterations, milliseconds,
                          [&] { layer->impl->forward(batch, height, width, layout, input, output); });
    });
}

odconv_status odconv_static_conv_create(odconv_static_conv_t *conv, const odconv_config_t *config,
                                        const float *weight, const float *bias, int64_t batch, int64_t height,
                                        int64_t width, int32_t layout, int32_t num_threads) {
    return odconv_static_conv_create_on_device(conv, config, weight, bias, batch, height, width, layout, num_threads,
                                               ODCONV_DEVICE_CPU, 0, 0);
}

odconv_status odconv_static_conv_create_on_device(odconv_static_conv_t *conv, const odconv_config_t *config,
                                                  const float *weight, const float *bias, int64_t batch,
                                                  int64_t height, int64_t width, int32_t layout, int32_t num_threads,
                                                  int32_t device_type, int32_t device_index, uint32_t flags) {
    if (conv != nullptr) *conv = nullptr;
    return guard([&] {
        require_non_null(conv, "conv");
        require_non_null(config, "config");
        require_non_null(weight, "weight");
        odconv::require_flags(flags);
        odconv::validate_config(*config);
        odconv::require_layout(layout);
        odconv::validate_shape(*config, batch, height, width);
        odconv::check_thread_count(num_threads);
        auto &backend = odconv::backend_for_device(device_type, device_index);
        auto created = std::make_unique<odconv_static_conv>();
        created->impl = backend.create_static_conv(*config, weight, bias, batch, height, width, layout, num_threads,
                                                   device_index, flags);
        *conv = created.release();
    });
}

odconv_status odconv_static_conv_destroy(odconv_static_conv_t conv) {
    return guard([&] { delete conv; });
}

odconv_status odconv_static_conv_forward(odconv_static_conv_t conv, const float *input, float *output) {
    return guard([&] {
        require_non_null(conv, "conv");
        require_non_null(input, "input");
        require_non_null(output, "output");
        try {
            conv->impl->forward(input, output);
        } catch (...) {
            try {
                conv->impl->wait();  // the tensors are borrowed for the call: queued work must not outlive it
            } catch (...) {
            }
            throw;
        }
        conv->impl->wait();  // output written when the call returns, as documented (a no-op on CPUs)
    });
}

odconv_status odconv_static_conv_benchmark(odconv_static_conv_t conv, const float *input, float *output,
                                           int32_t iterations, double *milliseconds) {
    return guard([&] {
        require_non_null(conv, "conv");
        require_non_null(input, "input");
        require_non_null(output, "output");
        odconv::validate_benchmark(iterations, milliseconds);
        odconv::time_each(iterations, milliseconds, [&] {
            conv->impl->forward(input, output);
            conv->impl->wait();
        });
    });
}

odconv_status odconv_device_count(int32_t device_type, int32_t *count) {
    return guard([&] {
        require_non_null(count, "count");
        *count = odconv::backend_for(device_type).device_count();
    });
}

odconv_status odconv_device_describe(int32_t device_type, int32_t device_index, char *buffer, int64_t capacity) {
    return guard([&] {
        require_non_null(buffer, "buffer");
        if (capacity < 1) invalid_argument("capacity = ", capacity, " must be >= 1");
        const std::string text = odconv::backend_for_device(device_type, device_index).describe(device_index);
        const size_t length = std::min(text.size(), static_cast<size_t>(capacity - 1));
        std::memcpy(buffer, text.data(), length);
        buffer[length] = '\0';
    });
}

odconv_status odconv_device_alloc(int32_t device_type, int32_t device_index, int64_t bytes, void **pointer) {
    if (pointer != nullptr) *pointer = nullptr;
    return guard([&] {
        require_non_null(pointer, "pointer");
        odconv::require_allocation_size(bytes);
        *pointer = odconv::backend_for_device(device_type, device_index).allocate(device_index, bytes);
    });
}

odconv_status odconv_device_free(int32_t device_type, int32_t device_index, void *pointer) {
    return guard([&] {
        if (pointer == nullptr) return;
        odconv::backend_for_device(device_type, device_index).release(device_index, pointer);
    });
}

odconv_status odconv_host_alloc_pinned(int64_t bytes, void **pointer) {
    if (pointer != nullptr) *pointer = nullptr;
    return guard([&] {
        require_non_null(pointer, "pointer");
        odconv::require_allocation_size(bytes);
        *pointer = odconv::backend_for(ODCONV_DEVICE_CUDA).allocate_pinned(bytes);
    });
}

odconv_status odconv_host_free_pinned(void *pointer) {
    return guard([&] {
        if (pointer == nullptr) return;
        odconv::backend_for(ODCONV_DEVICE_CUDA).release_pinned(pointer);
    });
}

odconv_status odconv_stream_create(odconv_stream_t *stream, int32_t device_type, int32_t device_index) {
    if (stream != nullptr) *stream = nullptr;
    return guard([&] {
        require_non_null(stream, "stream");
        auto &backend = odconv::backend_for_device(device_type, device_index);
        auto created = std::make_unique<odconv_stream>();
        created->device_type = device_type;
        created->device_index = device_index;
        created->impl = backend.create_stream(device_index);
        *stream = created.release();
    });
}

odconv_status odconv_stream_destroy(odconv_stream_t stream) {
    return guard([&] {
        // Deleted even when the wait reports an error from the stream's work; the error is still returned.
        std::unique_ptr<odconv_stream> owned(stream);
        if (owned) owned->impl->synchronize();
    });
}

odconv_status odconv_stream_synchronize(odconv_stream_t stream) {
    return guard([&] {
        require_non_null(stream, "stream");
        stream->impl->synchronize();
    });
}

odconv_status odconv_copy(void *dst, const void *src, int64_t bytes, int32_t kind, odconv_stream_t stream) {
    return guard([&] {
        require_non_null(dst, "dst");
        require_non_null(src, "src");
        odconv::require_copy_kind(kind);
        if (bytes < 0) invalid_argument("bytes = ", bytes, " must be >= 0");
        const auto *src_begin = static_cast<const char *>(src);
        const auto *dst_begin = static_cast<const char *>(dst);
        if (kind == ODCONV_COPY_DEVICE_TO_DEVICE && src_begin < dst_begin + bytes && dst_begin < src_begin + bytes)
            invalid_argument("src and dst overlap");
        auto &backend = odconv::backend_for(stream != nullptr ? stream->device_type : int32_t(ODCONV_DEVICE_CUDA));
        if (bytes == 0) return;
        backend.copy(dst, src, bytes, kind, stream != nullptr ? stream->impl.get() : nullptr);
    });
}

}  // extern "C"

// ABI self-description: one table per public struct, in declaration order.
namespace {

struct FieldInfo {
    const char *name;
    int64_t offset;
};

#define ODCONV_FIELD(type, field) FieldInfo{#field, static_cast<int64_t>(offsetof(type, field))}

const FieldInfo kConfigFields[] = {
    ODCONV_FIELD(odconv_config_t, in_planes),      ODCONV_FIELD(odconv_config_t, out_planes),
    ODCONV_FIELD(odconv_config_t, kernel_size),    ODCONV_FIELD(odconv_config_t, stride),
    ODCONV_FIELD(odconv_config_t, padding),        ODCONV_FIELD(odconv_config_t, dilation),
    ODCONV_FIELD(odconv_config_t, groups),         ODCONV_FIELD(odconv_config_t, kernel_num),
    ODCONV_FIELD(odconv_config_t, reduction),      ODCONV_FIELD(odconv_config_t, min_channel),
    ODCONV_FIELD(odconv_config_t, has_batch_norm), ODCONV_FIELD(odconv_config_t, temperature),
    ODCONV_FIELD(odconv_config_t, bn_eps),         ODCONV_FIELD(odconv_config_t, attention_bn_eps),
    ODCONV_FIELD(odconv_config_t, activation),
};

// odconv_weights_t's fields come from the parameter table, which lists each of them once.
const FieldInfo *weights_fields() {
    static const auto fields = [] {
        std::vector<FieldInfo> list;
        for (int32_t i = 0; i < odconv::kParameterCount; ++i)
            list.push_back(FieldInfo{odconv::kParameters[i].name, static_cast<int64_t>(odconv::kParameters[i].offset)});
        return list;
    }();
    return fields.data();
}

#undef ODCONV_FIELD

struct StructInfo {
    const char *name;
    int64_t size;
    const FieldInfo *fields;
    int32_t field_count;
};

const StructInfo kStructs[] = {
    {"odconv_config_t", sizeof(odconv_config_t), kConfigFields,
     static_cast<int32_t>(sizeof(kConfigFields) / sizeof(FieldInfo))},
};

const StructInfo *find_struct(const char *name) {
    if (name == nullptr) return nullptr;
    static const StructInfo weights{"odconv_weights_t", sizeof(odconv_weights_t), weights_fields(), odconv::kParameterCount};
    if (std::strcmp(name, weights.name) == 0) return &weights;
    for (const auto &s : kStructs)
        if (std::strcmp(s.name, name) == 0) return &s;
    return nullptr;
}

}  // namespace

extern "C" {

int64_t odconv_abi_struct_size(const char *struct_name) {
    const StructInfo *s = find_struct(struct_name);
    return s ? s->size : -1;
}

int32_t odconv_abi_field_count(const char *struct_name) {
    const StructInfo *s = find_struct(struct_name);
    return s ? s->field_count : -1;
}

const char *odconv_abi_field_name(const char *struct_name, int32_t index) {
    const StructInfo *s = find_struct(struct_name);
    return s && index >= 0 && index < s->field_count ? s->fields[index].name : nullptr;
}

int64_t odconv_abi_field_offset(const char *struct_name, const char *field_name) {
    const StructInfo *s = find_struct(struct_name);
    if (s == nullptr || field_name == nullptr) return -1;
    for (int32_t i = 0; i < s->field_count; ++i)
        if (std::strcmp(s->fields[i].name, field_name) == 0) return s->fields[i].offset;
    return -1;
}

}  // extern "C"
