#include "kernels.hpp"

#include <algorithm>

#include "cuda_util.hpp"

namespace odconv::cuda {
namespace {

constexpr int kWarp = 32;
constexpr int kThreads = 256;
constexpr int kWarpsPerBlock = kThreads / kWarp;
// Grid-stride kernels stop growing the grid here: enough blocks to fill any current GPU several times.
constexpr int64_t kMaxBlocks = 1 << 16;
// Pixels one pooling block sums before adding its partial sum to the result.
constexpr int64_t kPixelsPerPoolBlock = 4096;

__device__ float warp_sum(float value) {
    for (int offset = kWarp / 2; offset > 0; offset /= 2) value += __shfl_down_sync(0xffffffffu, value, offset);
    return value;
}

unsigned blocks_for(int64_t work, int64_t per_block) {
    return static_cast<unsigned>(std::max<int64_t>(1, std::min(kMaxBlocks, (work + per_block - 1) / per_block)));
}

void check_launch(const char *kernel) { check_cuda(cudaGetLastError(), kernel); }

// Grids put the unbounded dimension (planes, samples) in x, which allows 2^31 - 1 blocks, and pixel
// chunks in y (65535 chunks of kPixelsPerPoolBlock pixels are far beyond any image).
// NCHW: block (n * C + c, chunk) sums one chunk of one channel plane, contiguous reads.
// With one chunk per plane (images up to kPixelsPerPoolBlock pixels) a block writes its mean directly;
// otherwise chunks add into a zeroed result.
__device__ void store_mean(float *target, float mean, bool accumulate) {
    if (accumulate)
        atomicAdd(target, mean);
    else
        *target = mean;
}

__global__ void average_pool_nchw(const float *input, int64_t pixels, float inverse_pixels, bool accumulate,
                                  float *pooled) {
    const int64_t plane = blockIdx.x;
    const int64_t first = int64_t(blockIdx.y) * kPixelsPerPoolBlock;
    const int64_t last = min(pixels, first + kPixelsPerPoolBlock);
    const float *x = input + plane * pixels;
    float sum = 0.0f;
    for (int64_t p = first + threadIdx.x; p < last; p += blockDim.x) sum += x[p];
    __shared__ float partial[kWarpsPerBlock];
    sum = warp_sum(sum);
    if (threadIdx.x % kWarp == 0) partial[threadIdx.x / kWarp] = sum;
    __syncthreads();
    if (threadIdx.x < kWarp) {
        sum = threadIdx.x < kWarpsPerBlock ? partial[threadIdx.x] : 0.0f;
        sum = warp_sum(sum);
        if (threadIdx.x == 0) store_mean(pooled + plane, sum * inverse_pixels, accumulate);
    }
}

// NHWC: block (n * channel blocks + channel block, chunk); the 32 lanes of a row read 32 neighbouring channels of one pixel
// (coalesced), the 8 rows of the block take every 8th pixel of the chunk.
__global__ void average_pool_nhwc(const float *input, int32_t channels, int64_t pixels, float inverse_pixels,
                                  bool accumulate, float *pooled) {
    const int32_t channel_blocks = (channels + kWarp - 1) / kWarp;
    const int32_t c = static_cast<int32_t>(blockIdx.x % channel_blocks) * kWarp + threadIdx.x;
    const int64_t n = blockIdx.x / channel_blocks;
    const int64_t first = int64_t(blockIdx.y) * kPixelsPerPoolBlock;
    const int64_t last = min(pixels, first + kPixelsPerPoolBlock);
    float sum = 0.0f;
    if (c < channels) {
        const float *x = input + n * pixels * channels + c;
        for (int64_t p = first + threadIdx.y; p < last; p += blockDim.y) sum += x[p * channels];
    }
    __shared__ float partial[kWarpsPerBlock][kWarp + 1];
    partial[threadIdx.y][threadIdx.x] = sum;
    __syncthreads();
    if (threadIdx.y == 0 && c < channels) {
        for (int row = 1; row < kWarpsPerBlock; ++row) sum += partial[row][threadIdx.x];
        store_mean(pooled + n * channels + c, sum * inverse_pixels, accumulate);
    }
}

// One warp per output: out[n][r] = f(dot(matrix[r], vectors[n])), lanes striding over the dot product.
// Trunk (f = BatchNorm-folded ReLU) and heads (f = divide by the temperature) differ only in f.
template <typename Finish>
__global__ void warp_per_row_product(const float *matrix, const float *vectors, int32_t length, int32_t rows,
                                     int64_t batch, float *out, Finish finish) {
    const int64_t warp = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / kWarp;
    const int lane = threadIdx.x % kWarp;
    const int64_t stride = int64_t(gridDim.x) * blockDim.x / kWarp;
    for (int64_t item = warp; item < batch * rows; item += stride) {
        const int64_t n = item / rows;
        const int32_t r = static_cast<int32_t>(item % rows);
        const float *w = matrix + int64_t(r) * length;
        const float *v = vectors + n * length;
        float sum = 0.0f;
        for (int32_t i = lane; i < length; i += kWarp) sum += w[i] * v[i];
        sum = warp_sum(sum);
        if (lane == 0) out[item] = finish(sum, r);
    }
}

struct TrunkFinish {
    const float *bias;
    __device__ float operator()(float dot, int32_t r) const { return math::trunk_activation(dot, bias[r]); }
};

struct HeadFinish {
    const float *bias;
    float temperature;
    __device__ float operator()(float dot, int32_t r) const { return math::head_logit(dot, bias[r], temperature); }
};

__global__ void attention_values(math::AttentionRow row, const float *logits, int64_t batch, float *attention) {
    const int64_t length = row.length();
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < batch * length;
         i += int64_t(gridDim.x) * blockDim.x) {
        const int64_t n = i / length;
        attention[i] = math::attention_value(row, logits + n * length, static_cast<int32_t>(i % length));
    }
}

__global__ void aggregate(math::FilterGeometry geometry, math::AttentionRow row, const float *bank,
                          const float *attention, const float *bn_scale, int64_t batch, float *filters) {
    const int64_t elements = geometry.elements();
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < batch * elements;
         i += int64_t(gridDim.x) * blockDim.x) {
        const int64_t n = i / elements;
        filters[i] = math::aggregated_weight(geometry, row, bank, attention + n * row.length(), bn_scale, i % elements);
    }
}

__global__ void epilogue(float *output, int64_t elements, int32_t channels, int64_t pixels, int32_t layout,
                         const float *bias, int32_t activation) {
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < elements;
         i += int64_t(gridDim.x) * blockDim.x) {
        const float b = bias ? bias[math::channel_of(i, channels, pixels, layout)] : 0.0f;
        output[i] = math::epilogue(output[i], b, activation);
    }
}

}  // namespace

void enqueue_average_pool(const float *input, int64_t batch, int32_t channels, int64_t pixels, int32_t layout,
                          float *pooled, cudaStream_t stream) {
    const float inverse = 1.0f / static_cast<float>(pixels);
    const unsigned chunks = static_cast<unsigned>((pixels + kPixelsPerPoolBlock - 1) / kPixelsPerPoolBlock);
    const bool accumulate = chunks > 1;
    if (accumulate)
        check_cuda(cudaMemsetAsync(pooled, 0, sizeof(float) * batch * channels, stream), "cudaMemsetAsync (pool)");
    if (layout == math::kNhwc) {
        const dim3 grid(static_cast<unsigned>(batch * ((channels + kWarp - 1) / kWarp)), chunks);
        average_pool_nhwc<<<grid, dim3(kWarp, kWarpsPerBlock), 0, stream>>>(input, channels, pixels, inverse, accumulate,
                                                                            pooled);
    } else {
        const dim3 grid(static_cast<unsigned>(batch * channels), chunks);
        average_pool_nchw<<<grid, kThreads, 0, stream>>>(input, pixels, inverse, accumulate, pooled);
    }
    check_launch("average_pool kernel launch");
}

void enqueue_attention(const AttentionWeights &w, const float *pooled, int64_t batch, float *hidden, float *logits,
                       float *attention, cudaStream_t stream) {
    const int32_t length = w.row.length();
    warp_per_row_product<<<blocks_for(batch * w.width, kWarpsPerBlock), kThreads, 0, stream>>>(
        w.trunk_weight, pooled, w.in_planes, w.width, batch, hidden, TrunkFinish{w.trunk_bias});
    check_launch("attention trunk kernel launch");
    warp_per_row_product<<<blocks_for(batch * length, kWarpsPerBlock), kThreads, 0, stream>>>(
        w.head_weight, hidden, w.width, length, batch, logits, HeadFinish{w.head_bias, w.temperature});
    check_launch("attention heads kernel launch");
    attention_values<<<blocks_for(batch * length, kThreads), kThreads, 0, stream>>>(w.row, logits, batch, attention);
    check_launch("attention values kernel launch");
}

void enqueue_aggregation(const math::FilterGeometry &geometry, const math::AttentionRow &row, const float *bank,
                         const float *attention, const float *bn_scale, int64_t batch, float *filters,
                         cudaStream_t stream) {
    aggregate<<<blocks_for(batch * geometry.elements(), kThreads), kThreads, 0, stream>>>(geometry, row, bank, attention,
                                                                                          bn_scale, batch, filters);
    check_launch("aggregation kernel launch");
}

void enqueue_epilogue(float *output, int64_t elements, int32_t channels, int64_t pixels, int32_t layout,
                      const float *bias, int32_t activation, cudaStream_t stream) {
    if (bias == nullptr && activation == math::kIdentity) return;
    epilogue<<<blocks_for(elements, kThreads), kThreads, 0, stream>>>(output, elements, channels, pixels, layout, bias,
                                                                       activation);
    check_launch("epilogue kernel launch");
}

}  // namespace odconv::cuda
