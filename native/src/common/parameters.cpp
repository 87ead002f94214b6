#include "parameters.hpp"

#include <initializer_list>

#include "config.hpp"

namespace odconv {
namespace {

ParameterShape dims_of(std::initializer_list<int64_t> dims) {
    ParameterShape s;
    for (int64_t d : dims) s.dims[s.rank++] = d;
    return s;
}

ParameterShape absent() { return {}; }

int64_t width(const odconv_config_t &c) { return attention_channels(c); }
int64_t area(const odconv_config_t &c) { return int64_t(c.kernel_size) * c.kernel_size; }

constexpr const char *kDepthwise = "a depthwise layer (in_planes == out_planes == groups) has no filter head";
constexpr const char *kPointwise = "kernel_size 1 has no spatial head";
constexpr const char *kSingleKernel = "kernel_num 1 has no kernel head";
constexpr const char *kNoBatchNorm = "has_batch_norm is 0";

}  // namespace

#define ODCONV_PARAMETER(field, absent_because, ...) \
    ParameterInfo{#field, offsetof(odconv_weights_t, field), [](const odconv_config_t &c) { return __VA_ARGS__; }, \
                  absent_because}

const ParameterInfo kParameters[] = {
    ODCONV_PARAMETER(weight, nullptr,
                     dims_of({c.kernel_num, c.out_planes, c.in_planes / c.groups, c.kernel_size, c.kernel_size})),
    ODCONV_PARAMETER(attention_fc_weight, nullptr, dims_of({width(c), c.in_planes, 1, 1})),
    ODCONV_PARAMETER(attention_bn_weight, nullptr, dims_of({width(c)})),
    ODCONV_PARAMETER(attention_bn_bias, nullptr, dims_of({width(c)})),
    ODCONV_PARAMETER(attention_bn_mean, nullptr, dims_of({width(c)})),
    ODCONV_PARAMETER(attention_bn_var, nullptr, dims_of({width(c)})),
    ODCONV_PARAMETER(channel_fc_weight, nullptr, dims_of({c.in_planes, width(c), 1, 1})),
    ODCONV_PARAMETER(channel_fc_bias, nullptr, dims_of({c.in_planes})),
    ODCONV_PARAMETER(filter_fc_weight, kDepthwise,
                     has_filter_head(c) ? dims_of({c.out_planes, width(c), 1, 1}) : absent()),
    ODCONV_PARAMETER(filter_fc_bias, kDepthwise, has_filter_head(c) ? dims_of({c.out_planes}) : absent()),
    ODCONV_PARAMETER(spatial_fc_weight, kPointwise,
                     has_spatial_head(c) ? dims_of({area(c), width(c), 1, 1}) : absent()),
    ODCONV_PARAMETER(spatial_fc_bias, kPointwise, has_spatial_head(c) ? dims_of({area(c)}) : absent()),
    ODCONV_PARAMETER(kernel_fc_weight, kSingleKernel,
                     has_kernel_head(c) ? dims_of({c.kernel_num, width(c), 1, 1}) : absent()),
    ODCONV_PARAMETER(kernel_fc_bias, kSingleKernel, has_kernel_head(c) ? dims_of({c.kernel_num}) : absent()),
    ODCONV_PARAMETER(bn_weight, kNoBatchNorm, c.has_batch_norm ? dims_of({c.out_planes}) : absent()),
    ODCONV_PARAMETER(bn_bias, kNoBatchNorm, c.has_batch_norm ? dims_of({c.out_planes}) : absent()),
    ODCONV_PARAMETER(bn_mean, kNoBatchNorm, c.has_batch_norm ? dims_of({c.out_planes}) : absent()),
    ODCONV_PARAMETER(bn_var, kNoBatchNorm, c.has_batch_norm ? dims_of({c.out_planes}) : absent()),
};

#undef ODCONV_PARAMETER

const int32_t kParameterCount = static_cast<int32_t>(sizeof(kParameters) / sizeof(kParameters[0]));

// Every field of the struct has an entry: adding a field without one fails the build.
static_assert(sizeof(kParameters) / sizeof(kParameters[0]) == sizeof(odconv_weights_t) / sizeof(const float *),
              "kParameters must list every odconv_weights_t field");

}  // namespace odconv
