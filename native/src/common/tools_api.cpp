// The C entry points of odconv_tools.h: timing inside the library, the static convolution odconv is measured
// against, and the ABI's description of its own structs.
#include "odconv_tools.h"

#include <chrono>
#include <cstddef>
#include <cstring>
#include <memory>
#include <vector>

#include "arguments.hpp"
#include "backends.hpp"
#include "config.hpp"
#include "layer.hpp"
#include "parameters.hpp"

namespace odconv {
namespace {

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
}  // namespace odconv

using odconv::guard;
using odconv::require_non_null;

struct odconv_static_conv {
    std::unique_ptr<odconv::StaticConvolution> impl;
};

extern "C" {

odconv_status odconv_layer_benchmark(odconv_layer_t layer, int64_t batch, int64_t height, int64_t width,
                                     odconv_layout layout, const float *input, float *output, int32_t iterations,
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
                                        int64_t width, odconv_layout layout, int32_t num_threads,
                                        odconv_device_type device_type, int32_t device_index, uint32_t flags) {
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
        auto &backend = odconv::backend_for_flags(device_type, device_index, flags);
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
