#include "config.hpp"

#include <cmath>

#include "errors.hpp"

namespace odconv {
namespace {

// Far above any real layer, low enough that every product of two sizes fits in int64.
constexpr int32_t kMaxSize = 1 << 20;

void require_range(const char *field, int64_t value, int64_t min) {
    if (value < min || value > kMaxSize)
        invalid_argument("config.", field, " = ", value, " is out of range [", min, ", ", kMaxSize, "]");
}

void require_positive_finite(const char *field, double value) {
    if (!(std::isfinite(value) && value > 0)) invalid_argument("config.", field, " = ", value, " must be finite and > 0");
}

}  // namespace

void validate_config(const odconv_config_t &c) {
    require_range("in_planes", c.in_planes, 1);
    require_range("out_planes", c.out_planes, 1);
    require_range("kernel_size", c.kernel_size, 1);
    require_range("stride", c.stride, 1);
    require_range("padding", c.padding, 0);
    require_range("dilation", c.dilation, 1);
    require_range("groups", c.groups, 1);
    require_range("kernel_num", c.kernel_num, 1);
    require_range("min_channel", c.min_channel, 1);
    if (c.in_planes % c.groups != 0)
        invalid_argument("config.groups = ", c.groups, " does not divide in_planes = ", c.in_planes);
    if (c.out_planes % c.groups != 0)
        invalid_argument("config.groups = ", c.groups, " does not divide out_planes = ", c.out_planes);
    require_positive_finite("reduction", c.reduction);
    if (c.reduction * c.in_planes > kMaxSize)
        invalid_argument("config.reduction = ", c.reduction, " makes the attention width exceed ", kMaxSize);
    require_positive_finite("temperature", c.temperature);
    require_positive_finite("attention_bn_eps", c.attention_bn_eps);
    if (c.has_batch_norm != 0 && c.has_batch_norm != 1)
        invalid_argument("config.has_batch_norm = ", c.has_batch_norm, " must be 0 or 1");
    if (c.has_batch_norm) require_positive_finite("bn_eps", c.bn_eps);
    if (c.activation != ODCONV_ACTIVATION_IDENTITY && c.activation != ODCONV_ACTIVATION_RELU &&
        c.activation != ODCONV_ACTIVATION_SILU)
        invalid_argument("config.activation = ", c.activation, " is not an odconv_activation (0, 1 or 2)");
    checked_mul(checked_mul(int64_t(c.kernel_num) * c.out_planes, c.in_planes / c.groups, "weight"),
                int64_t(c.kernel_size) * c.kernel_size, "weight");
}

int32_t attention_channels(const odconv_config_t &c) {
    const auto reduced = static_cast<int32_t>(static_cast<double>(c.in_planes) * c.reduction);
    return reduced > c.min_channel ? reduced : c.min_channel;
}

void validate_weights(const odconv_config_t &c, const odconv_weights_t &w) {
    auto require = [](const char *name, const float *pointer, bool needed, const char *why) {
        if (needed && pointer == nullptr) invalid_argument("weights.", name, " is NULL but required");
        if (!needed && pointer != nullptr) invalid_argument("weights.", name, " must be NULL: ", why);
    };
    const char *always = "";
    require("weight", w.weight, true, always);
    require("attention_fc_weight", w.attention_fc_weight, true, always);
    require("attention_bn_weight", w.attention_bn_weight, true, always);
    require("attention_bn_bias", w.attention_bn_bias, true, always);
    require("attention_bn_mean", w.attention_bn_mean, true, always);
    require("attention_bn_var", w.attention_bn_var, true, always);
    require("channel_fc_weight", w.channel_fc_weight, true, always);
    require("channel_fc_bias", w.channel_fc_bias, true, always);
    const char *depthwise = "a depthwise layer (in_planes == out_planes == groups) has no filter head";
    require("filter_fc_weight", w.filter_fc_weight, has_filter_head(c), depthwise);
    require("filter_fc_bias", w.filter_fc_bias, has_filter_head(c), depthwise);
    const char *pointwise = "kernel_size 1 has no spatial head";
    require("spatial_fc_weight", w.spatial_fc_weight, has_spatial_head(c), pointwise);
    require("spatial_fc_bias", w.spatial_fc_bias, has_spatial_head(c), pointwise);
    const char *single = "kernel_num 1 has no kernel head";
    require("kernel_fc_weight", w.kernel_fc_weight, has_kernel_head(c), single);
    require("kernel_fc_bias", w.kernel_fc_bias, has_kernel_head(c), single);
    const char *no_bn = "has_batch_norm is 0";
    require("bn_weight", w.bn_weight, c.has_batch_norm != 0, no_bn);
    require("bn_bias", w.bn_bias, c.has_batch_norm != 0, no_bn);
    require("bn_mean", w.bn_mean, c.has_batch_norm != 0, no_bn);
    require("bn_var", w.bn_var, c.has_batch_norm != 0, no_bn);
}

int64_t output_extent(const odconv_config_t &c, int64_t input_extent, const char *axis) {
    if (input_extent < 1 || input_extent > kMaxElements)
        invalid_argument(axis, " = ", input_extent, " is out of range [1, ", kMaxElements, "]");
    const int64_t receptive = int64_t(c.dilation) * (c.kernel_size - 1) + 1;
    const int64_t padded = input_extent + 2 * int64_t(c.padding);
    if (padded < receptive)
        invalid_argument("input ", axis, " = ", input_extent, " is too small: with padding ", c.padding,
                         " it must be at least ", receptive - 2 * int64_t(c.padding), " for kernel_size ",
                         c.kernel_size, " and dilation ", c.dilation);
    return (padded - receptive) / c.stride + 1;
}

int64_t checked_mul(int64_t a, int64_t b, const char *what) {
    if (a < 0 || b < 0 || (b != 0 && a > kMaxElements / b))
        invalid_argument(what, ": size ", a, " x ", b, " exceeds the limit of ", kMaxElements, " elements");
    return a * b;
}

}  // namespace odconv
