// The loops odconv runs itself besides oneDNN's convolution: the attention's global average pool and the
// per-sample kernel aggregation. Their inner loops are compiled for AVX-512, AVX2 and baseline x86-64 and
// picked at load time, since the library must run on any x86-64 CPU.
#pragma once

#include <cstdint>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"

namespace odconv::cpu {

// pooled[c] = mean of channel c over the height * width pixels of one sample.
// NHWC splits pixels across threads, each summing into its own row of `partials` ([threads][channels]).
void average_pool_nchw(const float *x, int64_t channels, int64_t pixels, float *pooled);
void average_pool_nhwc(const float *x, int64_t channels, int64_t pixels, float *pooled, float *partials,
                       int max_threads);

// Where element (g, o, i, kh, kw) of a convolution's weights lives in a oneDNN blocked layout: the sum of
// one entry per dimension (blocked layouts place each dimension independently).
struct WeightOffsets {
    std::vector<int64_t> group;    // [groups] (one 0 when ungrouped)
    std::vector<int64_t> out;      // [out_planes / groups], the index within the group
    std::vector<int64_t> in;       // [in_planes / groups]
    std::vector<int64_t> spatial;  // [k * k], kh * k + kw

    // Throws when md is not a plain or blocked layout (then the caller reorders instead).
    static WeightOffsets of(const dnnl::memory::desc &md, int32_t groups, int32_t out_per_group,
                            int32_t in_per_group, int32_t kernel_size);
};

// Everything the aggregation reads for one sample.
struct AggregationInputs {
    const float *bank;        // [kernel_num, out, in / groups, k, k]
    const float *kernel;      // [kernel_num] kernel attention
    const float *filter;      // [out] filter attention
    const float *bn_scale;    // [out] folded BatchNorm scale
    const float *channel;     // [in] channel attention
    const float *spatial;     // [k * k] spatial attention
    int32_t kernel_num, out_planes, out_per_group, in_per_group, kernel_area;
};

// dst[offsets(o, i, s)] = bn_scale[o] * filter[o] * channel[group(o), i] * spatial[s]
//                         * sum_j kernel[j] * bank[j][o][i][s]
// mixed: scratch of [max_threads][in_per_group * kernel_area] floats.
void aggregate_kernel(const AggregationInputs &in, const WeightOffsets &offsets, float *dst, float *mixed,
                      int max_threads);

}  // namespace odconv::cpu
