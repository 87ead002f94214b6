#include "attention.hpp"

#include <algorithm>
#include <cmath>

#include "../common/config.hpp"

namespace odconv::cpu {
namespace {

float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

float dot(const float *a, const float *b, int32_t n) {
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int32_t i = 0; i < n; ++i) sum += a[i] * b[i];
    return sum;
}

}  // namespace

Attention::Attention(const odconv_config_t &c, const odconv_weights_t &w)
    : in_planes_(c.in_planes),
      out_planes_(c.out_planes),
      kernel_area_(c.kernel_size * c.kernel_size),
      kernel_num_(c.kernel_num),
      width_(attention_channels(c)),
      filter_head_(has_filter_head(c)),
      spatial_head_(has_spatial_head(c)),
      kernel_head_(has_kernel_head(c)),
      temperature_(c.temperature) {
    // Eval-mode BatchNorm is x * scale + shift, exactly as PyTorch evaluates it, so folding it into
    // the 1x1 conv before it changes nothing but rounding.
    trunk_weight_.resize(size_t(width_) * in_planes_);
    trunk_bias_.resize(width_);
    for (int32_t a = 0; a < width_; ++a) {
        const float scale = w.attention_bn_weight[a] / std::sqrt(w.attention_bn_var[a] + c.attention_bn_eps);
        for (int32_t i = 0; i < in_planes_; ++i)
            trunk_weight_[size_t(a) * in_planes_ + i] = w.attention_fc_weight[size_t(a) * in_planes_ + i] * scale;
        trunk_bias_[a] = w.attention_bn_bias[a] - w.attention_bn_mean[a] * scale;
    }

    filter_row_ = in_planes_;
    spatial_row_ = filter_row_ + (filter_head_ ? out_planes_ : 0);
    kernel_row_ = spatial_row_ + (spatial_head_ ? kernel_area_ : 0);
    rows_ = kernel_row_ + (kernel_head_ ? kernel_num_ : 0);
    head_weight_.resize(size_t(rows_) * width_);
    head_bias_.resize(rows_);
    auto stack = [&](int32_t first_row, int32_t count, const float *weight, const float *bias) {
        std::copy(weight, weight + size_t(count) * width_, head_weight_.begin() + size_t(first_row) * width_);
        std::copy(bias, bias + count, head_bias_.begin() + first_row);
    };
    stack(0, in_planes_, w.channel_fc_weight, w.channel_fc_bias);
    if (filter_head_) stack(filter_row_, out_planes_, w.filter_fc_weight, w.filter_fc_bias);
    if (spatial_head_) stack(spatial_row_, kernel_area_, w.spatial_fc_weight, w.spatial_fc_bias);
    if (kernel_head_) stack(kernel_row_, kernel_num_, w.kernel_fc_weight, w.kernel_fc_bias);
}

AttentionVectors Attention::make_vectors() const {
    AttentionVectors v;
    v.channel.assign(in_planes_, 1.0f);
    v.filter.assign(out_planes_, 1.0f);
    v.spatial.assign(kernel_area_, 1.0f);
    v.kernel.assign(kernel_num_, 1.0f);
    v.pooled.assign(in_planes_, 0.0f);
    v.hidden.assign(width_, 0.0f);
    v.logits.assign(rows_, 0.0f);
    return v;
}

void Attention::compute(AttentionVectors &v) const {
    const float *pooled = v.pooled.data();
    float *hidden = v.hidden.data();
    for (int32_t a = 0; a < width_; ++a) {
        const float sum = dot(trunk_weight_.data() + size_t(a) * in_planes_, pooled, in_planes_);
        hidden[a] = std::max(sum + trunk_bias_[a], 0.0f);
    }

    float *logits = v.logits.data();
    for (int32_t r = 0; r < rows_; ++r) {
        const float sum = dot(head_weight_.data() + size_t(r) * width_, hidden, width_);
        logits[r] = (sum + head_bias_[r]) / temperature_;
    }

    for (int32_t i = 0; i < in_planes_; ++i) v.channel[i] = sigmoid(logits[i]);
    if (filter_head_)
        for (int32_t o = 0; o < out_planes_; ++o) v.filter[o] = sigmoid(logits[filter_row_ + o]);
    if (spatial_head_)
        for (int32_t s = 0; s < kernel_area_; ++s) v.spatial[s] = sigmoid(logits[spatial_row_ + s]);
    if (kernel_head_) {
        const float *kernel_logits = logits + kernel_row_;
        const float max_logit = *std::max_element(kernel_logits, kernel_logits + kernel_num_);
        float total = 0.0f;
        for (int32_t j = 0; j < kernel_num_; ++j) total += v.kernel[j] = std::exp(kernel_logits[j] - max_logit);
        for (int32_t j = 0; j < kernel_num_; ++j) v.kernel[j] /= total;
    }
}

}  // namespace odconv::cpu
