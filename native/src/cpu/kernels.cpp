#include "kernels.hpp"

#include <omp.h>

#include <algorithm>
#include <cstring>

#include "../common/errors.hpp"

#define ODCONV_MULTIVERSION __attribute__((target_clones("avx512f", "avx2", "default")))

namespace odconv::cpu {
namespace {

// Below this many elements a loop runs on the calling thread alone: forking would cost more.
constexpr int64_t kParallelThreshold = 1 << 14;

ODCONV_MULTIVERSION float sum(const float *x, int64_t n) {
    // Four independent accumulators so that the adds pipeline instead of waiting on each other.
    float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
#pragma omp simd reduction(+ : s0, s1, s2, s3)
        for (int64_t j = 0; j < 16; ++j) {
            s0 += x[i + j];
            s1 += x[i + 16 + j];
            s2 += x[i + 32 + j];
            s3 += x[i + 48 + j];
        }
    }
    for (; i < n; ++i) s0 += x[i];
    return (s0 + s1) + (s2 + s3);
}

ODCONV_MULTIVERSION void accumulate_rows(const float *x, int64_t rows, int64_t channels, float *acc) {
    for (int64_t r = 0; r < rows; ++r) {
        const float *row = x + r * channels;
#pragma omp simd
        for (int64_t c = 0; c < channels; ++c) acc[c] += row[c];
    }
}

// One output channel: mixes the bank, scales, and scatters into the primitive's layout.
ODCONV_MULTIVERSION void aggregate_filter(const AggregationInputs &in, const WeightOffsets &offsets, int32_t o,
                                          float *dst, float *mixed) {
    const int64_t filter_size = int64_t(in.in_per_group) * in.kernel_area;
    const int64_t bank_stride = int64_t(in.out_planes) * filter_size;
    const float *w = in.bank + o * filter_size;
    const float k0 = in.kernel[0];
#pragma omp simd
    for (int64_t t = 0; t < filter_size; ++t) mixed[t] = k0 * w[t];
    for (int32_t j = 1; j < in.kernel_num; ++j) {
        const float kj = in.kernel[j];
        const float *wj = w + j * bank_stride;
#pragma omp simd
        for (int64_t t = 0; t < filter_size; ++t) mixed[t] += kj * wj[t];
    }
    const int32_t group = o / in.out_per_group;
    const float output_scale = in.bn_scale[o] * in.filter[o];
    const float *channel = in.channel + int64_t(group) * in.in_per_group;
    const int64_t base = offsets.group[group] + offsets.out[o % in.out_per_group];
    const int64_t *spatial_offsets = offsets.spatial.data();
    for (int32_t i = 0; i < in.in_per_group; ++i) {
        const float scale = output_scale * channel[i];
        float *target = dst + base + offsets.in[i];
        const float *source = mixed + int64_t(i) * in.kernel_area;
        for (int32_t s = 0; s < in.kernel_area; ++s) target[spatial_offsets[s]] = source[s] * in.spatial[s] * scale;
    }
}

}  // namespace

void average_pool_nchw(const float *x, int64_t channels, int64_t pixels, float *pooled) {
    const float inverse = 1.0f / static_cast<float>(pixels);
#pragma omp parallel for if (channels * pixels >= kParallelThreshold) schedule(static)
    for (int64_t c = 0; c < channels; ++c) pooled[c] = sum(x + c * pixels, pixels) * inverse;
}

void average_pool_nhwc(const float *x, int64_t channels, int64_t pixels, float *pooled, float *partials,
                       int max_threads) {
    const float inverse = 1.0f / static_cast<float>(pixels);
    int used = 1;
#pragma omp parallel if (channels * pixels >= kParallelThreshold) num_threads(max_threads)
    {
        const int threads = omp_get_num_threads(), thread = omp_get_thread_num();
        const int64_t first = pixels * thread / threads, last = pixels * (thread + 1) / threads;
        float *acc = partials + int64_t(thread) * channels;
        std::fill(acc, acc + channels, 0.0f);
        accumulate_rows(x + first * channels, last - first, channels, acc);
        if (thread == 0) used = threads;
    }
    for (int64_t c = 0; c < channels; ++c) {
        float total = 0.0f;
        for (int t = 0; t < used; ++t) total += partials[int64_t(t) * channels + c];
        pooled[c] = total * inverse;
    }
}

WeightOffsets WeightOffsets::of(const dnnl::memory::desc &md, int32_t groups, int32_t out_per_group,
                                int32_t in_per_group, int32_t kernel_size) {
    if (md.get_format_kind() != dnnl::memory::format_kind::blocked)
        fail(ODCONV_STATUS_INTERNAL_ERROR, "weights layout is not a blocked layout");
    const auto strides = md.get_strides();
    const auto blocks = md.get_inner_blks();
    const auto block_dims = md.get_inner_idxs();
    const int nblocks = md.get_inner_nblks();
    // Offset contribution of index `index` along dimension `dim`.
    auto dim_offset = [&](int dim, int64_t index) {
        int64_t block_size = 1;
        for (int k = 0; k < nblocks; ++k)
            if (block_dims[k] == dim) block_size *= blocks[k];
        int64_t offset = (index / block_size) * strides[dim];
        int64_t remainder = index % block_size, inner_stride = 1;
        for (int k = nblocks - 1; k >= 0; --k) {  // the last inner block is the fastest-varying
            if (block_dims[k] == dim) {
                offset += (remainder % blocks[k]) * inner_stride;
                remainder /= blocks[k];
            }
            inner_stride *= blocks[k];
        }
        return offset;
    };
    const int first = groups > 1 ? 1 : 0;  // goihw puts the group first
    WeightOffsets o;
    o.group.assign(groups, 0);
    if (groups > 1)
        for (int32_t g = 0; g < groups; ++g) o.group[g] = dim_offset(0, g);
    for (int32_t i = 0; i < out_per_group; ++i) o.out.push_back(dim_offset(first, i));
    for (int32_t i = 0; i < in_per_group; ++i) o.in.push_back(dim_offset(first + 1, i));
    for (int32_t kh = 0; kh < kernel_size; ++kh)
        for (int32_t kw = 0; kw < kernel_size; ++kw)
            o.spatial.push_back(dim_offset(first + 2, kh) + dim_offset(first + 3, kw));
    return o;
}

void aggregate_kernel(const AggregationInputs &in, const WeightOffsets &offsets, float *dst, float *mixed,
                      int max_threads) {
    const int64_t filter_size = int64_t(in.in_per_group) * in.kernel_area;
    const bool parallel = filter_size * in.out_planes * in.kernel_num >= kParallelThreshold;
#pragma omp parallel if (parallel) num_threads(max_threads)
    {
        float *scratch = mixed + int64_t(omp_get_thread_num()) * filter_size;
#pragma omp for schedule(static)
        for (int32_t o = 0; o < in.out_planes; ++o) aggregate_filter(in, offsets, o, dst, scratch);
    }
}

}  // namespace odconv::cpu
