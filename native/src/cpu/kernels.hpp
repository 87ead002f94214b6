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
void average_pool_nchw(const float *x, int64_t channels, int64_t pixels, float *pooled, int max_threads);
void average_pool_nhwc(const float *x, int64_t channels, int64_t pixels, float *pooled, float *partials,
                       int max_threads);
// The same in parts, for work spread over a caller's pool: channels [first, last) of NCHW; NHWC's chunks
// [first_chunk, last_chunk) into their rows of `partials`, then, once every chunk is in, the rows in order.
// The results are those of the functions above, bit for bit.
void average_pool_nchw_channels(const float *x, int64_t first, int64_t last, int64_t pixels, float *pooled);
void nhwc_pool_partials(const float *x, int64_t channels, int64_t pixels, int64_t first_chunk, int64_t last_chunk,
                        float *partials);
void nhwc_pool_finish(const float *partials, int64_t channels, int64_t pixels, float *pooled);

// A weight layout read as contiguous runs, so that the per-sample kernel is one vectorizable pass:
//   dst[run, lane] = lane_factor[lane_base[run] + lane] * run_factor[factor_index[run] + pair_step * (lane % 2)]
//                    * sum_j kernel[j] * bank_j[run, lane]
// with every bank already in that layout. The per-element factor filter[o] * channel[g, i] * spatial[s]
// splits into the two factors in one of four ways:
// - kOutputChannels: oneDNN's float32 CPU convolutions block the output channel innermost (OIhw16i16o,
//   Ohwi16o, ...): along a run only o varies, run_factor = channel * spatial of the run, lane_factor = filter[o].
// - kOutputChannelPairs: bfloat16 convolutions interleave pairs of input channels innermost, the output
//   channel next (OIhw8i16o2i, ...: the VNNI layout): lane l holds o = o0 + l / 2 and i = i0 + l % 2;
//   lane_factor = filter[o] (stored twice per channel), run_factor = channel * spatial of i0 and of i0 + 1
//   (pair_step apart).
// - kGroups: depthwise layouts block the group innermost (Goihw16g); depthwise layers have no filter
//   attention: run_factor = spatial[s], lane_factor = channel[g].
// - kPlainRows: plain (g)oihw, one run per output channel: run_factor = filter[o], lane_factor =
//   channel * spatial of the row's group. Used, with a reorder after it, when the primitive's layout is
//   none of the above.
struct WeightRuns {
    enum class Lanes { kOutputChannels, kOutputChannelPairs, kGroups, kPlainRows };
    Lanes lanes = Lanes::kOutputChannels;
    int64_t run_length = 0;             // elements per run
    int64_t runs = 0;                   // layout size / run_length (padding included)
    // kOutputChannelPairs: how far the odd lanes' input channel is from the even lanes', both among the run
    // factors and in the plain filter (each [.., in, k * k]): k * k. 0 for the other kinds.
    int32_t pair_step = 0;
    std::vector<int32_t> factor_index;  // per run, into the run factors
    std::vector<int32_t> lane_base;     // per run, into the lane factors
    // Per run, the plain (g)oihw index of its first element; -1 for runs of padding alone.
    std::vector<int64_t> plain_first;
    int32_t groups = 0, out_per_group = 0, in_per_group = 0, kernel_size = 0;  // the layer's shape

    // Empty when the layout's innermost block is neither the output channel, an input-channel pair inside
    // an output-channel block, nor (depthwise) the group.
    static std::optional<WeightRuns> of(const dnnl::memory::desc &md, int32_t groups, int32_t out_per_group,
                                        int32_t in_per_group, int32_t kernel_size);
    static WeightRuns plain(int32_t groups, int32_t out_per_group, int32_t in_per_group, int32_t kernel_size);

    // Sizes of the run and lane factor arrays. Lanes past the last channel of a block read factors past the
    // layer's channels: the arrays are longer, and those entries stay zero (so do the bank entries there).
    int64_t run_factor_count() const;
    int64_t lane_factor_count() const;

    // A sample's attentions (filter [out_planes], channel [in_planes], spatial [k * k]) as the aggregation
    // reads them; writes the factors of the layer's channels only.
    void set_factors(const float *filter, const float *channel, const float *spatial, float *run_factors,
                     float *lane_factors) const;

    // The plain (g)oihw float32 weights in this layout (zeros in the padding); dst has runs * run_length
    // elements.
    void scatter(const float *plain, float *dst) const;
    // The inverse: the plain weights from this layout (every plain element is written).
    void gather(const float *src, float *plain) const;
private:
    static WeightRuns shaped(int32_t groups, int32_t out_per_group, int32_t in_per_group, int32_t kernel_size);
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
// The same, each element rounded to the nearest bfloat16 (ties to even) as it is stored.
void aggregate_kernel(const AggregationInputs &in, const WeightRuns &runs, uint16_t *dst, int max_threads);

// Part `part` of `parts` (runs split evenly) of the same, on the calling thread.
void aggregate_kernel_part(const AggregationInputs &in, const WeightRuns &runs, int64_t part, int64_t parts, float *dst);
void aggregate_kernel_part(const AggregationInputs &in, const WeightRuns &runs, int64_t part, int64_t parts,
                           uint16_t *dst);

// float32 to bfloat16, round to nearest, ties to even; NaN stays NaN.
inline uint16_t to_bfloat16(float value) {
    uint32_t bits;
    __builtin_memcpy(&bits, &value, sizeof bits);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40u);
    bits += 0x7fffu + ((bits >> 16) & 1u);
    return static_cast<uint16_t>(bits >> 16);
}

}  // namespace odconv::cpu
