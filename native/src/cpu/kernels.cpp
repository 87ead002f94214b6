#include "kernels.hpp"

#include <omp.h>

#include <algorithm>

#define ODCONV_MULTIVERSION __attribute__((target_clones("avx512f", "avx2", "default")))

namespace odconv::cpu {
namespace {

// Below this many elements a loop runs on the calling thread alone: forking would cost more.
constexpr int64_t kParallelThreshold = 1 << 14;

// 16 floats, one AVX-512 register (two AVX2 or four SSE registers in the other clones); alignment 4, so
// loads through it need no alignment.
typedef float v16 __attribute__((vector_size(64), aligned(4)));
// 8 floats, one AVX2 register, for loops whose lengths are multiples of 8.
typedef float v8 __attribute__((vector_size(32), aligned(4)));

inline float horizontal_sum(v16 v) {
    float total = 0.0f;
    for (int i = 0; i < 16; ++i) total += v[i];
    return total;
}

ODCONV_MULTIVERSION float sum(const float *x, int64_t n) {
    // Four independent accumulators so that the adds pipeline instead of waiting on each other.
    v16 s0 = {}, s1 = {}, s2 = {}, s3 = {};
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        s0 += *reinterpret_cast<const v16 *>(x + i);
        s1 += *reinterpret_cast<const v16 *>(x + i + 16);
        s2 += *reinterpret_cast<const v16 *>(x + i + 32);
        s3 += *reinterpret_cast<const v16 *>(x + i + 48);
    }
    float tail = 0.0f;
    for (; i < n; ++i) tail += x[i];
    return horizontal_sum((s0 + s1) + (s2 + s3)) + tail;
}

// acc[c] += sum over rows of x[r][c], for rows of `channels` floats. Blocks of 64 channels are summed in
// registers, two rows at a time so that the adds of neighbouring rows overlap.
ODCONV_MULTIVERSION void accumulate_rows(const float *x, int64_t rows, int64_t channels, float *acc) {
    int64_t c0 = 0;
    for (; c0 + 64 <= channels; c0 += 64) {
        v16 a0 = {}, a1 = {}, a2 = {}, a3 = {}, b0 = {}, b1 = {}, b2 = {}, b3 = {};
        int64_t r = 0;
        for (; r + 2 <= rows; r += 2) {
            const float *p = x + r * channels + c0, *q = p + channels;
            a0 += *reinterpret_cast<const v16 *>(p);
            a1 += *reinterpret_cast<const v16 *>(p + 16);
            a2 += *reinterpret_cast<const v16 *>(p + 32);
            a3 += *reinterpret_cast<const v16 *>(p + 48);
            b0 += *reinterpret_cast<const v16 *>(q);
            b1 += *reinterpret_cast<const v16 *>(q + 16);
            b2 += *reinterpret_cast<const v16 *>(q + 32);
            b3 += *reinterpret_cast<const v16 *>(q + 48);
        }
        if (r < rows) {
            const float *p = x + r * channels + c0;
            a0 += *reinterpret_cast<const v16 *>(p);
            a1 += *reinterpret_cast<const v16 *>(p + 16);
            a2 += *reinterpret_cast<const v16 *>(p + 32);
            a3 += *reinterpret_cast<const v16 *>(p + 48);
        }
        const v16 total[4] = {a0 + b0, a1 + b1, a2 + b2, a3 + b3};
        for (int k = 0; k < 4; ++k)
            for (int l = 0; l < 16; ++l) acc[c0 + 16 * k + l] += total[k][l];
    }
    if (c0 == channels) return;
    for (int64_t r = 0; r < rows; ++r) {
        const float *row = x + r * channels;
#pragma omp simd
        for (int64_t c = c0; c < channels; ++c) acc[c] += row[c];
    }
}

// Lanes [first, first + count) of run r of the aggregated kernel, in float32; first is even.
__attribute__((always_inline)) inline void aggregate_lanes(const AggregationInputs &in, const WeightRuns &runs,
                                                           int64_t r, int64_t first, int64_t count, float *out) {
    const int64_t begin = r * runs.run_length + first;
    const float *lanes = in.lane_factors + runs.lane_base[r] + first;
    const float even = in.run_factors[runs.factor_index[r]];
    const float odd = runs.pair_step != 0 ? in.run_factors[runs.factor_index[r] + runs.pair_step] : even;
    const float k0 = in.kernel[0];
    const float *b0 = in.banks[0] + begin;
#pragma omp simd
    for (int64_t l = 0; l < count; ++l) out[l] = k0 * b0[l];
    for (int32_t j = 1; j < in.kernel_num; ++j) {
        const float kj = in.kernel[j];
        const float *bj = in.banks[j] + begin;
#pragma omp simd
        for (int64_t l = 0; l < count; ++l) out[l] += kj * bj[l];
    }
    if (runs.pair_step == 0) {
#pragma omp simd
        for (int64_t l = 0; l < count; ++l) out[l] *= even * lanes[l];
    } else {
#pragma omp simd
        for (int64_t l = 0; l < count; ++l) out[l] *= ((l & 1) ? odd : even) * lanes[l];
    }
}

// Runs [first, last) of the aggregated kernel.
ODCONV_MULTIVERSION void aggregate_runs(const AggregationInputs &in, const WeightRuns &runs, int64_t first,
                                        int64_t last, float *dst) {
    if (runs.pair_step == 0 && runs.run_length % 8 == 0) {
        // float32 layouts: one factor per run and runs of whole 8-lane vectors, each vector summed over the
        // banks in registers and stored once. The general loop below makes a pass over the run per bank: on
        // 16-lane runs of 4 banks it took twice as long (half of a 128x64x3x3 kernel on one thread: 38-41
        // against 18-20 µs; 1x1 256 to 128: 16-18 against 8-10).
        const int64_t length = runs.run_length;
        const int32_t kernel_num = in.kernel_num;
        for (int64_t r = first; r < last; ++r) {
            const int64_t begin = r * length;
            const float *lanes = in.lane_factors + runs.lane_base[r];
            const float run_factor = in.run_factors[runs.factor_index[r]];
            float *out = dst + begin;
            for (int64_t l = 0; l < length; l += 8) {
                v8 acc = in.kernel[0] * *reinterpret_cast<const v8 *>(in.banks[0] + begin + l);
                for (int32_t j = 1; j < kernel_num; ++j)
                    acc += in.kernel[j] * *reinterpret_cast<const v8 *>(in.banks[j] + begin + l);
                *reinterpret_cast<v8 *>(out + l) = acc * (run_factor * *reinterpret_cast<const v8 *>(lanes + l));
            }
        }
        return;
    }
    for (int64_t r = first; r < last; ++r) aggregate_lanes(in, runs, r, 0, runs.run_length, dst + r * runs.run_length);
}

// The same in bfloat16: each run in chunks aggregated in float32, rounded as they are stored.
ODCONV_MULTIVERSION void aggregate_runs(const AggregationInputs &in, const WeightRuns &runs, int64_t first,
                                        int64_t last, uint16_t *dst) {
    constexpr int64_t kChunk = 64;
    alignas(64) float chunk[kChunk];
    for (int64_t r = first; r < last; ++r) {
        for (int64_t l0 = 0; l0 < runs.run_length; l0 += kChunk) {
            const int64_t count = std::min(kChunk, runs.run_length - l0);
            aggregate_lanes(in, runs, r, l0, count, chunk);
            uint16_t *out = dst + r * runs.run_length + l0;
#pragma omp simd
            for (int64_t l = 0; l < count; ++l) out[l] = to_bfloat16(chunk[l]);
        }
    }
}

template <typename Element>
void aggregate_in_parallel(const AggregationInputs &in, const WeightRuns &runs, Element *dst, int max_threads) {
    const bool parallel = runs.runs * runs.run_length * in.kernel_num >= kParallelThreshold;
#pragma omp parallel if (parallel) num_threads(max_threads)
    {
        const int threads = omp_get_num_threads(), thread = omp_get_thread_num();
        aggregate_runs(in, runs, runs.runs * thread / threads, runs.runs * (thread + 1) / threads, dst);
    }
}

}  // namespace

void average_pool_nchw(const float *x, int64_t channels, int64_t pixels, float *pooled, int max_threads) {
#pragma omp parallel for if (channels * pixels >= kParallelThreshold) num_threads(max_threads) schedule(static)
    for (int64_t c = 0; c < channels; ++c) average_pool_nchw_channels(x, c, c + 1, pixels, pooled);
}

void average_pool_nchw_channels(const float *x, int64_t first, int64_t last, int64_t pixels, float *pooled) {
    const float inverse = 1.0f / static_cast<float>(pixels);
    for (int64_t c = first; c < last; ++c) pooled[c] = sum(x + c * pixels, pixels) * inverse;
}

int64_t nhwc_pool_chunks(int64_t pixels) { return (pixels + kNhwcPoolChunkPixels - 1) / kNhwcPoolChunkPixels; }

void nhwc_pool_partials(const float *x, int64_t channels, int64_t pixels, int64_t first_chunk, int64_t last_chunk,
                        float *partials) {
    for (int64_t chunk = first_chunk; chunk < last_chunk; ++chunk) {
        const int64_t first = chunk * kNhwcPoolChunkPixels, last = std::min(pixels, first + kNhwcPoolChunkPixels);
        float *acc = partials + chunk * channels;
        std::fill(acc, acc + channels, 0.0f);
        accumulate_rows(x + first * channels, last - first, channels, acc);
    }
}

void nhwc_pool_finish(const float *partials, int64_t channels, int64_t pixels, float *pooled) {
    const float inverse = 1.0f / static_cast<float>(pixels);
    const int64_t chunks = nhwc_pool_chunks(pixels);
    for (int64_t c = 0; c < channels; ++c) {
        float total = 0.0f;
        for (int64_t chunk = 0; chunk < chunks; ++chunk) total += partials[chunk * channels + c];
        pooled[c] = total * inverse;
    }
}

void average_pool_nhwc(const float *x, int64_t channels, int64_t pixels, float *pooled, float *partials,
                       int max_threads) {
    const int64_t chunks = nhwc_pool_chunks(pixels);
    // Fixed chunks, summed in a fixed order: the mean does not depend on how many threads ran, so neither
    // does any output bit (a sample's result is the same in any batch, with any thread count).
#pragma omp parallel for if (channels * pixels >= kParallelThreshold) num_threads(max_threads) schedule(static)
    for (int64_t chunk = 0; chunk < chunks; ++chunk) nhwc_pool_partials(x, channels, pixels, chunk, chunk + 1, partials);
    nhwc_pool_finish(partials, channels, pixels, pooled);
}

WeightRuns WeightRuns::shaped(int32_t groups, int32_t out_per_group, int32_t in_per_group, int32_t kernel_size) {
    WeightRuns w;
    w.groups = groups;
    w.out_per_group = out_per_group;
    w.in_per_group = in_per_group;
    w.kernel_size = kernel_size;
    return w;
}

std::optional<WeightRuns> WeightRuns::of(const dnnl::memory::desc &md, int32_t groups, int32_t out_per_group,
                                         int32_t in_per_group, int32_t kernel_size) {
    if (md.get_format_kind() != dnnl::memory::format_kind::blocked) return std::nullopt;
    const int nblocks = md.get_inner_nblks();
    if (nblocks == 0) return std::nullopt;
    const auto strides = md.get_strides();
    const auto blocks = md.get_inner_blks();
    const auto block_dims = md.get_inner_idxs();
    const bool grouped = groups > 1;
    const int group_dim = 0, out_dim = grouped ? 1 : 0, in_dim = out_dim + 1;
    const int innermost = static_cast<int>(block_dims[nblocks - 1]);
    const bool depthwise = grouped && out_per_group == 1 && in_per_group == 1;

    WeightRuns w = shaped(groups, out_per_group, in_per_group, kernel_size);
    if (depthwise && innermost == group_dim) {
        w.lanes = Lanes::kGroups;
        w.run_length = blocks[nblocks - 1];
    } else if (innermost == out_dim) {
        w.lanes = Lanes::kOutputChannels;
        w.run_length = blocks[nblocks - 1];
    } else if (innermost == in_dim && blocks[nblocks - 1] == 2 && nblocks >= 2 && block_dims[nblocks - 2] == out_dim) {
        w.lanes = Lanes::kOutputChannelPairs;
        w.run_length = 2 * blocks[nblocks - 2];
    } else {
        return std::nullopt;
    }
    const bool pairs = w.lanes == Lanes::kOutputChannelPairs;
    const int64_t lanes_per_run = pairs ? w.run_length / 2 : w.run_length;

    // Offset contribution of `index` along `dim` (blocked layouts place each dimension independently).
    auto dim_offset = [&](int dim, int64_t index) {
        int64_t block_size = 1;
        for (int k = 0; k < nblocks; ++k)
            if (block_dims[k] == dim) block_size *= blocks[k];
        int64_t offset = (index / block_size) * strides[dim];
        int64_t remainder = index % block_size, inner_stride = 1;
        for (int k = nblocks - 1; k >= 0; --k) {  // the last inner block varies fastest
            if (block_dims[k] == dim) {
                offset += (remainder % blocks[k]) * inner_stride;
                remainder /= blocks[k];
            }
            inner_stride *= blocks[k];
        }
        return offset;
    };

    const int64_t elements = static_cast<int64_t>(md.get_size() / dnnl::memory::data_type_size(md.get_data_type()));
    if (elements % w.run_length != 0) return std::nullopt;
    w.runs = elements / w.run_length;
    w.factor_index.assign(w.runs, 0);  // runs made of padding alone multiply zeros: any factor will do
    w.lane_base.assign(w.runs, 0);
    w.plain_first.assign(w.runs, -1);
    const int kernel_area = kernel_size * kernel_size;
    const int64_t filter_size = int64_t(in_per_group) * kernel_area;
    w.pair_step = pairs ? kernel_area : 0;
    // Visit the first lane of every run: the element whose lane index is a multiple of the block (and, for
    // pairs, whose input channel is even).
    for (int32_t g = 0; g < groups; ++g) {
        for (int32_t o = 0; o < out_per_group; ++o) {
            const int32_t lane_index = w.lanes == Lanes::kGroups ? g : o;
            if (lane_index % lanes_per_run != 0) continue;
            for (int32_t i = 0; i < in_per_group; i += pairs ? 2 : 1) {
                for (int32_t kh = 0; kh < kernel_size; ++kh) {
                    for (int32_t kw = 0; kw < kernel_size; ++kw) {
                        int64_t offset = dim_offset(out_dim, o) + dim_offset(in_dim, i) + dim_offset(in_dim + 1, kh) +
                                         dim_offset(in_dim + 2, kw);
                        if (grouped) offset += dim_offset(group_dim, g);
                        if (offset % w.run_length != 0) return std::nullopt;
                        const int64_t run = offset / w.run_length;
                        const int32_t s = kh * kernel_size + kw;
                        w.plain_first[run] = (int64_t(g) * out_per_group + o) * filter_size + int64_t(i) * kernel_area + s;
                        switch (w.lanes) {
                            case Lanes::kGroups:
                                w.factor_index[run] = s;
                                w.lane_base[run] = g;
                                break;
                            case Lanes::kOutputChannels:
                                w.factor_index[run] = (g * in_per_group + i) * kernel_area + s;
                                w.lane_base[run] = g * out_per_group + o;
                                break;
                            case Lanes::kOutputChannelPairs:
                                w.factor_index[run] = (g * in_per_group + i) * kernel_area + s;
                                w.lane_base[run] = 2 * (g * out_per_group + o);
                                break;
                            case Lanes::kPlainRows: break;  // not a blocked layout
                        }
                    }
                }
            }
        }
    }
    return w;
}

WeightRuns WeightRuns::plain(int32_t groups, int32_t out_per_group, int32_t in_per_group, int32_t kernel_size) {
    WeightRuns w = shaped(groups, out_per_group, in_per_group, kernel_size);
    w.lanes = Lanes::kPlainRows;
    w.run_length = int64_t(in_per_group) * kernel_size * kernel_size;
    w.runs = int64_t(groups) * out_per_group;
    w.factor_index.resize(w.runs);
    w.lane_base.resize(w.runs);
    w.plain_first.resize(w.runs);
    for (int64_t r = 0; r < w.runs; ++r) {
        w.factor_index[r] = static_cast<int32_t>(r);  // the output channel
        w.lane_base[r] = static_cast<int32_t>((r / out_per_group) * w.run_length);
        w.plain_first[r] = r * w.run_length;
    }
    return w;
}

int64_t WeightRuns::run_factor_count() const {
    const int64_t area = int64_t(kernel_size) * kernel_size, channel_spatial = int64_t(groups) * in_per_group * area;
    switch (lanes) {
        case Lanes::kOutputChannels: return channel_spatial;
        case Lanes::kOutputChannelPairs: return channel_spatial + area;  // the last pair's odd lanes read one on
        case Lanes::kGroups: return area;
        case Lanes::kPlainRows: return int64_t(groups) * out_per_group;
    }
    return 0;
}

int64_t WeightRuns::lane_factor_count() const {
    const int64_t out_planes = int64_t(groups) * out_per_group;
    switch (lanes) {
        case Lanes::kOutputChannels: return out_planes + run_length;
        case Lanes::kOutputChannelPairs: return 2 * out_planes + run_length;
        case Lanes::kGroups: return groups + run_length;
        case Lanes::kPlainRows: return int64_t(groups) * in_per_group * kernel_size * kernel_size;
    }
    return 0;
}

void WeightRuns::set_factors(const float *filter, const float *channel, const float *spatial, float *run_factors,
                             float *lane_factors) const {
    const int32_t in_planes = groups * in_per_group, out_planes = groups * out_per_group;
    const int32_t area = kernel_size * kernel_size;
    auto channel_spatial = [&](float *out) {
        for (int32_t ch = 0; ch < in_planes; ++ch)
            for (int32_t s = 0; s < area; ++s) out[ch * area + s] = channel[ch] * spatial[s];
    };
    switch (lanes) {
        case Lanes::kOutputChannels:
            channel_spatial(run_factors);
            std::copy(filter, filter + out_planes, lane_factors);
            break;
        case Lanes::kOutputChannelPairs:
            channel_spatial(run_factors);
            for (int32_t o = 0; o < out_planes; ++o) lane_factors[2 * o] = lane_factors[2 * o + 1] = filter[o];
            break;
        case Lanes::kGroups:
            std::copy(spatial, spatial + area, run_factors);
            std::copy(channel, channel + in_planes, lane_factors);
            break;
        case Lanes::kPlainRows:
            std::copy(filter, filter + out_planes, run_factors);
            channel_spatial(lane_factors);
            break;
    }
}

namespace {

// Calls visit(index in the layout, plain (g)oihw index) for every element of the layout that holds a weight. Lanes
// past the last channel (or group) of a padded block hold none, nor do the odd lanes of a pair whose first input
// channel is the group's last, nor runs of padding alone.
template <typename Visit>
void each_weight(const WeightRuns &w, Visit &&visit) {
    const int64_t filter_size = int64_t(w.in_per_group) * w.kernel_size * w.kernel_size;
    for (int64_t r = 0; r < w.runs; ++r) {
        const int64_t at = r * w.run_length, first = w.plain_first[r];
        if (first < 0) continue;
        switch (w.lanes) {
            case WeightRuns::Lanes::kPlainRows:
                for (int64_t l = 0; l < w.run_length; ++l) visit(at + l, first + l);
                break;
            case WeightRuns::Lanes::kGroups: {
                const int64_t group_size = int64_t(w.out_per_group) * filter_size, g = first / group_size;
                for (int64_t l = 0; l < w.run_length && g + l < w.groups; ++l) visit(at + l, first + l * group_size);
                break;
            }
            case WeightRuns::Lanes::kOutputChannels: {
                const int64_t o = (first / filter_size) % w.out_per_group;
                for (int64_t l = 0; l < w.run_length && o + l < w.out_per_group; ++l) visit(at + l, first + l * filter_size);
                break;
            }
            case WeightRuns::Lanes::kOutputChannelPairs: {
                const int64_t o = (first / filter_size) % w.out_per_group;
                const bool second_exists = (first % filter_size) / w.pair_step + 1 < w.in_per_group;
                for (int64_t l = 0; 2 * l < w.run_length && o + l < w.out_per_group; ++l) {
                    visit(at + 2 * l, first + l * filter_size);
                    if (second_exists) visit(at + 2 * l + 1, first + l * filter_size + w.pair_step);
                }
                break;
            }
        }
    }
}

}  // namespace

void WeightRuns::scatter(const float *plain, float *dst) const {
    std::fill(dst, dst + runs * run_length, 0.0f);
    each_weight(*this, [&](int64_t at, int64_t index) { dst[at] = plain[index]; });
}

void WeightRuns::gather(const float *src, float *plain) const {
    each_weight(*this, [&](int64_t at, int64_t index) { plain[index] = src[at]; });
}

void aggregate_kernel(const AggregationInputs &in, const WeightRuns &runs, float *dst, int max_threads) {
    aggregate_in_parallel(in, runs, dst, max_threads);
}

void aggregate_kernel(const AggregationInputs &in, const WeightRuns &runs, uint16_t *dst, int max_threads) {
    aggregate_in_parallel(in, runs, dst, max_threads);
}

void aggregate_kernel_part(const AggregationInputs &in, const WeightRuns &runs, int64_t part, int64_t parts, float *dst) {
    aggregate_runs(in, runs, runs.runs * part / parts, runs.runs * (part + 1) / parts, dst);
}

void aggregate_kernel_part(const AggregationInputs &in, const WeightRuns &runs, int64_t part, int64_t parts,
                           uint16_t *dst) {
    aggregate_runs(in, runs, runs.runs * part / parts, runs.runs * (part + 1) / parts, dst);
}

}  // namespace odconv::cpu
