// The loops odconv runs itself besides oneDNN's convolution: the attention's global average pool and the
// per-sample kernel aggregation. Their inner loops are compiled for AVX-512, AVX2 and baseline x86-64 and
// picked at load time, since the library must run on any x86-64 CPU.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"

namespace odconv::cpu {

// pooled[c] = mean of channel c over the height * width pixels of one sample.
// NHWC sums fixed chunks of kNhwcPoolChunkPixels pixels, spread over threads, each into its own row of
// `partials` ([nhwc_pool_chunks(pixels)][channels]), then the rows in order.
constexpr int64_t kNhwcPoolChunkPixels = 256;
int64_t nhwc_pool_chunks(int64_t pixels);
void average_pool_nchw(const float *x, int64_t channels, int64_t pixels, float *pooled);
void average_pool_nhwc(const float *x, int64_t channels, int64_t pixels, float *pooled, float *partials,
                       int max_threads);

// A weight layout read as contiguous runs, so that the per-sample kernel is one vectorizable pass:
//   dst[run, lane] = lane_factor[lane_base[run] + lane] * run_factor[factor_index[run]]
//                    * sum_j kernel[j] * bank_j[run, lane]
// with every bank already in that layout. The per-element factor filter[o] * channel[g, i] * spatial[s]
// splits into the two factors in one of three ways:
// - kOutputChannels: oneDNN's CPU convolutions block the output channel innermost (OIhw16i16o, Ohwi16o,
//   ...): along a run only o varies, run_factor = channel * spatial of the run, lane_factor = filter[o].
// - kGroups: depthwise layouts block the group innermost (Goihw16g); depthwise layers have no filter
//   attention: run_factor = spatial[s], lane_factor = channel[g].
// - kPlainRows: plain (g)oihw, one run per output channel: run_factor = filter[o], lane_factor =
//   channel * spatial of the row's group. Used, with a reorder after it, when the primitive's layout is
//   neither of the above.
struct WeightRuns {
    enum class Lanes { kOutputChannels, kGroups, kPlainRows };
    Lanes lanes = Lanes::kOutputChannels;
    int64_t run_length = 0;             // elements per run
    int64_t runs = 0;                   // layout size / run_length (padding included)
    std::vector<int32_t> factor_index;  // per run, into the run factors
    std::vector<int32_t> lane_base;     // per run, into the lane factors

    // Empty when the layout's innermost block is neither the output channel nor (depthwise) the group.
    static std::optional<WeightRuns> of(const dnnl::memory::desc &md, int32_t groups, int32_t out_per_group,
                                        int32_t in_per_group, int32_t kernel_size);
    static WeightRuns plain(int32_t groups, int32_t out_per_group, int32_t in_per_group, int32_t kernel_size);
};

// What the aggregation multiplies per sample.
struct AggregationInputs {
    const float *const *banks;  // kernel_num banks, each in the primitive's layout
    const float *kernel;        // [kernel_num] kernel attention
    const float *run_factors;   // indexed by WeightRuns::factor_index
    const float *lane_factors;  // indexed by WeightRuns::lane_base + lane
    int32_t kernel_num;
};

void aggregate_kernel(const AggregationInputs &in, const WeightRuns &runs, float *dst, int max_threads);

}  // namespace odconv::cpu
