// Runs the CUDA backend's per-element mathematics (src/cuda/kernel_math.cuh and the host-side folding of
// src/cuda/parameters.cpp) on the CPU, in the order the kernels apply it, over many random configurations
// in both layouts, and compares with the plain double-precision reference (tests/reference.c). Needs no
// GPU: it checks the aggregated filter's indexing in KCRS and KRSC, the BatchNorm folding, head skipping,
// the softmax with temperature and the epilogue. The convolution stands in for cuDNN and reads the filter
// with cuDNN's own layout definitions, written out independently of kernel_math.cuh.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <random>
#include <vector>

#include "../../src/cuda/kernel_math.cuh"
#include "../../src/cuda/parameters.hpp"

extern "C" {
#include "../reference.h"
}

namespace {

using namespace odconv::cuda;

struct Case {
    odconv_config_t config;
    std::vector<std::vector<float>> buffers;  // owns what weights points to
    odconv_weights_t weights{};
    int64_t batch, height, width;
};

const float *fill(Case &c, std::mt19937 &rng, size_t count, float low, float high) {
    std::uniform_real_distribution<float> value(low, high);
    c.buffers.emplace_back(count);
    for (float &x : c.buffers.back()) x = value(rng);
    return c.buffers.back().data();
}

Case random_case(std::mt19937 &rng) {
    auto pick = [&](int low, int high) { return std::uniform_int_distribution<int>(low, high)(rng); };
    Case c;
    odconv_config_t &k = c.config;
    k.groups = pick(1, 3);
    const bool make_depthwise = pick(0, 4) == 0;
    k.in_planes = make_depthwise ? k.groups : k.groups * pick(1, 4);
    k.out_planes = make_depthwise ? k.groups : k.groups * pick(1, 4);
    // The library's definition: the filter head exists unless in == out == groups.
    const bool depthwise = k.in_planes == k.groups && k.out_planes == k.groups;
    k.kernel_size = pick(1, 4);
    k.stride = pick(1, 3);
    k.padding = pick(0, 2);
    k.dilation = pick(1, 2);
    k.kernel_num = pick(1, 4);
    k.reduction = 0.0625 * pick(1, 16);
    k.min_channel = pick(1, 8);
    k.has_batch_norm = pick(0, 1);
    k.temperature = 0.5f + 0.5f * pick(0, 60);
    k.bn_eps = 1e-3f;
    k.attention_bn_eps = 1e-5f;
    k.activation = pick(0, 2);
    const int receptive = k.dilation * (k.kernel_size - 1) + 1;
    const int minimum = std::max(1, receptive - 2 * k.padding);
    c.batch = pick(1, 3);
    c.height = minimum + pick(0, 6);
    c.width = minimum + pick(0, 6);

    const int a = std::max(static_cast<int>(k.in_planes * k.reduction), k.min_channel);
    const int area = k.kernel_size * k.kernel_size, cg = k.in_planes / k.groups;
    odconv_weights_t &w = c.weights;
    c.buffers.reserve(32);
    w.weight = fill(c, rng, size_t(k.kernel_num) * k.out_planes * cg * area, -1, 1);
    w.attention_fc_weight = fill(c, rng, size_t(a) * k.in_planes, -1, 1);
    w.attention_bn_weight = fill(c, rng, a, 0.5f, 1.5f);
    w.attention_bn_bias = fill(c, rng, a, -0.5f, 0.5f);
    w.attention_bn_mean = fill(c, rng, a, -0.2f, 0.2f);
    w.attention_bn_var = fill(c, rng, a, 0.5f, 1.5f);
    w.channel_fc_weight = fill(c, rng, size_t(k.in_planes) * a, -1, 1);
    w.channel_fc_bias = fill(c, rng, k.in_planes, -0.5f, 0.5f);
    if (!depthwise) {
        w.filter_fc_weight = fill(c, rng, size_t(k.out_planes) * a, -1, 1);
        w.filter_fc_bias = fill(c, rng, k.out_planes, -0.5f, 0.5f);
    }
    if (k.kernel_size > 1) {
        w.spatial_fc_weight = fill(c, rng, size_t(area) * a, -1, 1);
        w.spatial_fc_bias = fill(c, rng, area, -0.5f, 0.5f);
    }
    if (k.kernel_num > 1) {
        w.kernel_fc_weight = fill(c, rng, size_t(k.kernel_num) * a, -1, 1);
        w.kernel_fc_bias = fill(c, rng, k.kernel_num, -0.5f, 0.5f);
    }
    if (k.has_batch_norm) {
        w.bn_weight = fill(c, rng, k.out_planes, 0.5f, 1.5f);
        w.bn_bias = fill(c, rng, k.out_planes, -0.5f, 0.5f);
        w.bn_mean = fill(c, rng, k.out_planes, -0.2f, 0.2f);
        w.bn_var = fill(c, rng, k.out_planes, 0.5f, 1.5f);
    }
    return c;
}

// NCHW <-> NHWC of one [batch][channels][pixels] tensor.
std::vector<float> to_nhwc(const std::vector<float> &x, int64_t batch, int64_t channels, int64_t pixels) {
    std::vector<float> y(x.size());
    for (int64_t n = 0; n < batch; ++n)
        for (int64_t ch = 0; ch < channels; ++ch)
            for (int64_t p = 0; p < pixels; ++p) y[(n * pixels + p) * channels + ch] = x[(n * channels + ch) * pixels + p];
    return y;
}

// The backend's forward in the kernels' order, in `layout`, with a direct convolution for cuDNN's.
std::vector<float> backend_forward(const Case &c, const FoldedParameters &p, int32_t layout,
                                   const std::vector<float> &input, int64_t out_h, int64_t out_w) {
    const odconv_config_t &k = c.config;
    const int64_t pixels = c.height * c.width, out_pixels = out_h * out_w;
    const int32_t cin = k.in_planes, cout = k.out_planes, cg = cin / k.groups, opg = cout / k.groups;
    const int32_t ks = k.kernel_size;
    math::FilterGeometry geometry = p.filter;
    geometry.layout = layout;
    std::vector<float> output(size_t(c.batch) * cout * out_pixels);
    std::vector<float> pooled(cin), hidden(p.width), logits(p.row.length()), attention(p.row.length());
    std::vector<float> filter(geometry.elements());
    for (int64_t n = 0; n < c.batch; ++n) {
        const float *x = input.data() + n * cin * pixels;
        for (int32_t ch = 0; ch < cin; ++ch) {  // (1) global average pool
            float sum = 0;
            for (int64_t q = 0; q < pixels; ++q) sum += layout == math::kNhwc ? x[q * cin + ch] : x[ch * pixels + q];
            pooled[ch] = sum / static_cast<float>(pixels);
        }
        for (int32_t a = 0; a < p.width; ++a) {  // (2) trunk, heads, attention values
            float dot = 0;
            for (int32_t i = 0; i < cin; ++i) dot += p.trunk_weight[size_t(a) * cin + i] * pooled[i];
            hidden[a] = math::trunk_activation(dot, p.trunk_bias[a]);
        }
        for (int32_t r = 0; r < p.row.length(); ++r) {
            float dot = 0;
            for (int32_t a = 0; a < p.width; ++a) dot += p.head_weight[size_t(r) * p.width + a] * hidden[a];
            logits[r] = math::head_logit(dot, p.head_bias[r], k.temperature);
        }
        for (int32_t r = 0; r < p.row.length(); ++r) attention[r] = math::attention_value(p.row, logits.data(), r);
        for (int64_t e = 0; e < geometry.elements(); ++e)  // (3) aggregation
            filter[e] = math::aggregated_weight(geometry, p.row, c.weights.weight, attention.data(),
                                                p.bn_scale.empty() ? nullptr : p.bn_scale.data(), e);
        float *y = output.data() + n * cout * out_pixels;
        for (int32_t o = 0; o < cout; ++o) {  // cuDNN's cross-correlation, filter KCRS or KRSC
            const int32_t group = o / opg;
            for (int64_t oy = 0; oy < out_h; ++oy)
                for (int64_t ox = 0; ox < out_w; ++ox) {
                    float sum = 0;
                    for (int32_t i = 0; i < cg; ++i)
                        for (int32_t r = 0; r < ks; ++r)
                            for (int32_t s = 0; s < ks; ++s) {
                                const int64_t iy = oy * k.stride - k.padding + r * k.dilation;
                                const int64_t ix = ox * k.stride - k.padding + s * k.dilation;
                                if (iy < 0 || iy >= c.height || ix < 0 || ix >= c.width) continue;
                                const int32_t ch = group * cg + i;
                                const float v = layout == math::kNhwc ? x[(iy * c.width + ix) * cin + ch]
                                                                      : x[(int64_t(ch) * c.height + iy) * c.width + ix];
                                const float wt = layout == math::kNhwc ? filter[((int64_t(o) * ks + r) * ks + s) * cg + i]
                                                                       : filter[((int64_t(o) * cg + i) * ks + r) * ks + s];
                                sum += v * wt;
                            }
                    const int64_t q = oy * out_w + ox;
                    if (layout == math::kNhwc) y[q * cout + o] = sum;
                    else y[int64_t(o) * out_pixels + q] = sum;
                }
        }
    }
    for (int64_t e = 0; e < int64_t(output.size()); ++e) {  // (4) epilogue
        const int32_t o = math::channel_of(e, cout, out_pixels, layout);
        output[e] = math::epilogue(output[e], p.bn_shift.empty() ? 0.0f : p.bn_shift[o], k.activation);
    }
    return output;
}

int failures = 0;

void expect(bool condition, const char *what) {
    if (!condition) {
        ++failures;
        std::fprintf(stderr, "FAILED: %s\n", what);
    }
}

void check_index_round_trip() {
    for (int32_t layout : {math::kNchw, math::kNhwc}) {
        const math::FilterGeometry g{6, 3, 2, 3, 2, layout};
        bool ok = true;
        for (int64_t e = 0; e < g.elements(); ++e) ok &= math::filter_offset(g, math::filter_index(g, e)) == e;
        expect(ok, "filter_offset(filter_index(e)) == e");
        // KRSC puts the input channel innermost, KCRS the tap column.
        const math::FilterIndex second = math::filter_index(g, 1);
        expect(layout == math::kNhwc ? second.in == 1 && second.column == 0 : second.column == 1 && second.in == 0,
               "innermost filter dimension of the layout");
    }
}

void check_attention_values() {
    const math::AttentionRow row{2, 3, 4, 3, false, true, true};
    const float logits[] = {0.5f, -1, 9, 9, 9, 0.1f, 0.2f, 0.3f, 0.4f, 1.0f, 2.0f, 3.0f};
    expect(std::fabs(math::attention_value(row, logits, 0) - 1 / (1 + std::exp(-0.5f))) < 1e-7f, "channel sigmoid");
    for (int r = row.filter_offset(); r < row.spatial_offset(); ++r)
        expect(math::attention_value(row, logits, r) == 1.0f, "a skipped filter head reads 1");
    float total = 0;
    for (int r = row.kernel_offset(); r < row.length(); ++r) total += math::attention_value(row, logits, r);
    expect(std::fabs(total - 1) < 1e-6f, "the kernel softmax sums to 1");
    const double e1 = std::exp(1.0), e2 = std::exp(2.0), e3 = std::exp(3.0);
    expect(std::fabs(math::attention_value(row, logits, row.kernel_offset() + 2) - e3 / (e1 + e2 + e3)) < 1e-6,
           "kernel softmax value");
    expect(math::epilogue(-1.0f, 0.5f, math::kRelu) == 0.0f, "relu epilogue");
    expect(std::fabs(math::epilogue(1.0f, 0.5f, math::kSilu) - 1.5f / (1 + std::exp(-1.5f))) < 1e-6f, "silu epilogue");
    expect(math::channel_of(7, 3, 4, math::kNchw) == 1 && math::channel_of(7, 3, 4, math::kNhwc) == 1 &&
               math::channel_of(5, 3, 4, math::kNhwc) == 2 && math::channel_of(13, 3, 4, math::kNchw) == 0,
           "channel_of");
}

}  // namespace

int main(int argc, char **argv) {
    check_index_round_trip();
    check_attention_values();
    const int cases = argc > 1 ? std::atoi(argv[1]) : 400;
    std::mt19937 rng(20240611);
    double worst = 0;
    for (int index = 0; index < cases; ++index) {
        const Case c = random_case(rng);
        const odconv_config_t &k = c.config;
        const FoldedParameters p = fold_parameters(k, c.weights);
        const int64_t receptive = int64_t(k.dilation) * (k.kernel_size - 1) + 1;
        const int64_t out_h = (c.height + 2 * k.padding - receptive) / k.stride + 1;
        const int64_t out_w = (c.width + 2 * k.padding - receptive) / k.stride + 1;
        std::vector<float> input(size_t(c.batch) * k.in_planes * c.height * c.width);
        std::uniform_real_distribution<float> value(-2, 2);
        for (float &x : input) x = value(rng);
        std::vector<double> expected(size_t(c.batch) * k.out_planes * out_h * out_w);
        reference_forward(&k, &c.weights, c.batch, c.height, c.width, input.data(), expected.data());
        double max_expected = 1;
        for (double e : expected) max_expected = std::max(max_expected, std::fabs(e));
        for (int32_t layout : {math::kNchw, math::kNhwc}) {
            const std::vector<float> x =
                layout == math::kNhwc ? to_nhwc(input, c.batch, k.in_planes, c.height * c.width) : input;
            const std::vector<float> y = backend_forward(c, p, layout, x, out_h, out_w);
            const int64_t out_pixels = out_h * out_w;
            double error = 0;
            for (int64_t n = 0; n < c.batch; ++n)
                for (int64_t o = 0; o < k.out_planes; ++o)
                    for (int64_t q = 0; q < out_pixels; ++q) {
                        const int64_t at = layout == math::kNhwc ? (n * out_pixels + q) * k.out_planes + o
                                                                 : (n * k.out_planes + o) * out_pixels + q;
                        const double want = expected[(n * k.out_planes + o) * out_pixels + q];
                        error = std::max(error, std::fabs(y[at] - want));
                    }
            worst = std::max(worst, error / max_expected);
            if (error > 1e-4 * max_expected) {
                ++failures;
                std::fprintf(stderr,
                             "FAILED case %d layout %s: max error %.3g (tolerance %.3g): in %d out %d k %d stride %d "
                             "pad %d dilation %d groups %d kernel_num %d bn %d act %d batch %lld %lldx%lld\n",
                             index, layout == math::kNhwc ? "NHWC" : "NCHW", error, 1e-4 * max_expected, k.in_planes,
                             k.out_planes, k.kernel_size, k.stride, k.padding, k.dilation, k.groups, k.kernel_num,
                             k.has_batch_norm, k.activation, (long long)c.batch, (long long)c.height,
                             (long long)c.width);
            }
        }
    }
    std::printf("%d random configurations x 2 layouts, worst relative error %.3g, %d failures\n", cases, worst,
                failures);
    return failures == 0 ? 0 : 1;
}
