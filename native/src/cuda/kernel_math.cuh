// The per-element mathematics of the CUDA backend, as inline functions that nvcc compiles into the
// kernels and g++ compiles into native/tests/cuda/kernel_math_test.cpp, so that the indexing, folding,
// head skipping and softmax the GPU runs are checked on any machine against native/tests/reference.c.
#pragma once

#include <math.h>
#include <stdint.h>

#ifndef __CUDACC__
#ifndef __host__
#define __host__
#endif
#ifndef __device__
#define __device__
#endif
#endif

namespace odconv::cuda::math {

// odconv_layout values, without pulling odconv.h into device code.
constexpr int32_t kNchw = 0;
constexpr int32_t kNhwc = 1;

// odconv_activation values.
constexpr int32_t kIdentity = 0;
constexpr int32_t kRelu = 1;
constexpr int32_t kSilu = 2;

__host__ __device__ inline float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

__host__ __device__ inline float activate(float x, int32_t activation) {
    if (activation == kRelu) return x > 0.0f ? x : 0.0f;
    if (activation == kSilu) return x * sigmoid(x);
    return x;
}

// What the epilogue writes: BatchNorm shift (the folded bias, 0 without BatchNorm), then the activation.
__host__ __device__ inline float epilogue(float convolved, float bias, int32_t activation) {
    return activate(convolved + bias, activation);
}

// The channel of element `index` of an activation tensor with `channels` channels of `pixels` pixels.
__host__ __device__ inline int32_t channel_of(int64_t index, int32_t channels, int64_t pixels, int32_t layout) {
    return layout == kNhwc ? static_cast<int32_t>(index % channels) : static_cast<int32_t>((index / pixels) % channels);
}

// The attention trunk's output for one hidden unit: ReLU of the BatchNorm-folded 1x1 conv.
__host__ __device__ inline float trunk_activation(float dot, float folded_bias) {
    const float x = dot + folded_bias;
    return x > 0.0f ? x : 0.0f;
}

// Every attention logit is divided by the temperature, as PyTorch's heads do.
__host__ __device__ inline float head_logit(float dot, float bias, float temperature) {
    return (dot + bias) / temperature;
}

// One sample's attention row: channel [in_planes], filter [out_planes], spatial [k * k], kernel
// [kernel_num], in that order, at full length even when a head is skipped (skipped heads read 1).
struct AttentionRow {
    int32_t in_planes, out_planes, kernel_area, kernel_num;
    bool has_filter, has_spatial, has_kernel;

    __host__ __device__ int32_t channel_offset() const { return 0; }
    __host__ __device__ int32_t filter_offset() const { return in_planes; }
    __host__ __device__ int32_t spatial_offset() const { return in_planes + out_planes; }
    __host__ __device__ int32_t kernel_offset() const { return in_planes + out_planes + kernel_area; }
    __host__ __device__ int32_t length() const { return kernel_offset() + kernel_num; }
};

// The attention value at `index` of a row from that row's logits (already divided by the temperature):
// sigmoid for the channel, filter and spatial heads, softmax over kernel_num for the kernel head, 1 for
// a skipped head. Each kernel entry recomputes the softmax's max and sum over the few kernel logits, so
// that every entry is one independent thread.
__host__ __device__ inline float attention_value(const AttentionRow &row, const float *logits, int32_t index) {
    if (index < row.filter_offset()) return sigmoid(logits[index]);
    if (index < row.spatial_offset()) return row.has_filter ? sigmoid(logits[index]) : 1.0f;
    if (index < row.kernel_offset()) return row.has_spatial ? sigmoid(logits[index]) : 1.0f;
    if (!row.has_kernel) return 1.0f;
    const float *kernel_logits = logits + row.kernel_offset();
    float max_logit = kernel_logits[0];
    for (int32_t j = 1; j < row.kernel_num; ++j) max_logit = fmaxf(max_logit, kernel_logits[j]);
    float total = 0.0f;
    for (int32_t j = 0; j < row.kernel_num; ++j) total += expf(kernel_logits[j] - max_logit);
    return expf(logits[index] - max_logit) / total;
}

// The shape of one sample's convolution filter, and the memory order cuDNN reads it in: KCRS
// ([out][in / groups][k][k]) beside NCHW activations, KRSC ([out][k][k][in / groups]) beside NHWC.
struct FilterGeometry {
    int32_t out_planes, in_per_group, out_per_group, kernel_size, kernel_num, layout;

    __host__ __device__ int64_t elements() const {
        return int64_t(out_planes) * in_per_group * kernel_size * kernel_size;
    }
};

struct FilterIndex {
    int32_t out, in, row, column;  // output channel, input channel within the group, tap row, tap column
};

// Which filter element sits at `offset` of a filter in the geometry's layout.
__host__ __device__ inline FilterIndex filter_index(const FilterGeometry &g, int64_t offset) {
    const int32_t k = g.kernel_size;
    FilterIndex i;
    if (g.layout == kNhwc) {
        i.in = static_cast<int32_t>(offset % g.in_per_group);
        offset /= g.in_per_group;
        i.column = static_cast<int32_t>(offset % k);
        offset /= k;
        i.row = static_cast<int32_t>(offset % k);
        i.out = static_cast<int32_t>(offset / k);
    } else {
        i.column = static_cast<int32_t>(offset % k);
        offset /= k;
        i.row = static_cast<int32_t>(offset % k);
        offset /= k;
        i.in = static_cast<int32_t>(offset % g.in_per_group);
        i.out = static_cast<int32_t>(offset / g.in_per_group);
    }
    return i;
}

// The inverse of filter_index: where a filter element sits in the geometry's layout.
__host__ __device__ inline int64_t filter_offset(const FilterGeometry &g, const FilterIndex &i) {
    const int64_t k = g.kernel_size;
    if (g.layout == kNhwc) return ((int64_t(i.out) * k + i.row) * k + i.column) * g.in_per_group + i.in;
    return ((int64_t(i.out) * g.in_per_group + i.in) * k + i.row) * k + i.column;
}

// Where a filter element of static kernel m sits in the bank, PyTorch's [kernel_num][out][in / groups][k][k].
__host__ __device__ inline int64_t bank_offset(const FilterGeometry &g, int32_t m, const FilterIndex &i) {
    const int64_t k = g.kernel_size;
    return (((int64_t(m) * g.out_planes + i.out) * g.in_per_group + i.in) * k + i.row) * k + i.column;
}

// Element `offset` (in the geometry's layout) of one sample's aggregated filter:
//   channel[g * Cg + ci] * filter[o] * spatial[r * k + c] * bn_scale[o] * sum_m kernel[m] * bank[m, o, ci, r, c]
// attention is the sample's row (see AttentionRow); bn_scale is null without BatchNorm.
__host__ __device__ inline float aggregated_weight(const FilterGeometry &g, const AttentionRow &row, const float *bank,
                                                   const float *attention, const float *bn_scale, int64_t offset) {
    const FilterIndex i = filter_index(g, offset);
    const float *kernel = attention + row.kernel_offset();
    float mixed = 0.0f;
    for (int32_t m = 0; m < g.kernel_num; ++m) mixed += kernel[m] * bank[bank_offset(g, m, i)];
    const int32_t group = i.out / g.out_per_group;
    const float scale = attention[row.channel_offset() + group * g.in_per_group + i.in] *
                        attention[row.filter_offset() + i.out] *
                        attention[row.spatial_offset() + i.row * g.kernel_size + i.column];
    return mixed * scale * (bn_scale ? bn_scale[i.out] : 1.0f);
}

}  // namespace odconv::cuda::math
