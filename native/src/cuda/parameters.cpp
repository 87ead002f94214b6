#include "parameters.hpp"

#include <algorithm>
#include <cmath>

#include "../common/config.hpp"

namespace odconv::cuda {

FoldedParameters fold_parameters(const odconv_config_t &c, const odconv_weights_t &w) {
    FoldedParameters p;
    const int32_t width = attention_channels(c);
    const int32_t kernel_area = c.kernel_size * c.kernel_size;
    p.width = width;
    p.row = math::AttentionRow{c.in_planes, c.out_planes, kernel_area, c.kernel_num,
                               has_filter_head(c), has_spatial_head(c), has_kernel_head(c)};
    p.filter = math::FilterGeometry{c.out_planes, c.in_planes / c.groups, c.out_planes / c.groups,
                                    c.kernel_size, c.kernel_num, math::kNchw};

    // Eval-mode BatchNorm is x * scale + shift; folding it into the 1x1 conv before it, in float exactly
    // as the CPU backend does, changes nothing but rounding.
    p.trunk_weight.resize(size_t(width) * c.in_planes);
    p.trunk_bias.resize(width);
    for (int32_t a = 0; a < width; ++a) {
        const float scale = w.attention_bn_weight[a] / std::sqrt(w.attention_bn_var[a] + c.attention_bn_eps);
        for (int32_t i = 0; i < c.in_planes; ++i)
            p.trunk_weight[size_t(a) * c.in_planes + i] = w.attention_fc_weight[size_t(a) * c.in_planes + i] * scale;
        p.trunk_bias[a] = w.attention_bn_bias[a] - w.attention_bn_mean[a] * scale;
    }

    p.head_weight.assign(size_t(p.row.length()) * width, 0.0f);
    p.head_bias.assign(p.row.length(), 0.0f);
    auto stack = [&](int32_t first_row, int32_t count, const float *weight, const float *bias) {
        if (weight == nullptr) return;  // a skipped head: its entries read 1 (math::attention_value)
        std::copy(weight, weight + size_t(count) * width, p.head_weight.begin() + size_t(first_row) * width);
        std::copy(bias, bias + count, p.head_bias.begin() + first_row);
    };
    stack(p.row.channel_offset(), c.in_planes, w.channel_fc_weight, w.channel_fc_bias);
    stack(p.row.filter_offset(), c.out_planes, w.filter_fc_weight, w.filter_fc_bias);
    stack(p.row.spatial_offset(), kernel_area, w.spatial_fc_weight, w.spatial_fc_bias);
    stack(p.row.kernel_offset(), c.kernel_num, w.kernel_fc_weight, w.kernel_fc_bias);

    if (c.has_batch_norm) {
        p.bn_scale.resize(c.out_planes);
        p.bn_shift.resize(c.out_planes);
        for (int32_t o = 0; o < c.out_planes; ++o) {
            p.bn_scale[o] = w.bn_weight[o] / std::sqrt(w.bn_var[o] + c.bn_eps);
            p.bn_shift[o] = w.bn_bias[o] - w.bn_mean[o] * p.bn_scale[o];
        }
    }
    return p;
}

}  // namespace odconv::cuda
