#include "kernels.hpp"

#include <cuda_bf16.h>

#include <algorithm>

#include "cuda_util.hpp"

namespace odconv::cuda {
namespace {

constexpr int kWarp = 32;
constexpr int kThreads = 256;
constexpr int kWarpsPerBlock = kThreads / kWarp;
// One attention block per sample: more warps share out its rows (a batch of one has one block).
constexpr int kAttentionThreads = 512;
// Grid-stride kernels stop growing the grid here: enough blocks to fill any current GPU several times.
constexpr int64_t kMaxBlocks = 1 << 16;
// Attention heads at most this wide compute a logit row per thread: a block then keeps hundreds of
// independent loads in flight, where a warp per row waits on one short row after another (measured on an
// H200: the S4 attention, 1024 rows 32 wide, dominated the layer's overhead). Wider rows keep a warp each,
// whose lanes read them coalesced.
constexpr int32_t kRowPerThreadWidth = 64;
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

// The whole attention of one sample in one block, so that a small batch costs one launch, not three:
//   1. hidden[a] = ReLU(BatchNorm-folded dot(trunk_weight[a], pooled)), one warp per row a;
//   2. logits[r] = dot(head_weight[r], hidden) / temperature for every head row r, one thread per row for
//      narrow attentions (kRowPerThreadWidth), else one warp per row;
//   3. attention[i] from the logits (sigmoid, softmax over the kernels, 1 for a skipped head).
// Rows that go a warp each are shared out per warp, so every lane of a warp reaches the full-mask shuffles
// together; hidden and logits live in global scratch (any width fits), which __syncthreads makes visible to
// the whole block.
__global__ void attention_per_sample(AttentionWeights w, const float *pooled, float *hidden, float *logits,
                                     float *attention) {
    const int64_t n = blockIdx.x;
    const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp, warps = blockDim.x / kWarp;
    const int32_t length = w.row.length();
    const float *x = pooled + n * w.in_planes;
    float *h = hidden + n * w.width;
    float *z = logits + n * length;
    for (int32_t a = warp; a < w.width; a += warps) {
        const float *row = w.trunk_weight + int64_t(a) * w.in_planes;
        float dot = 0.0f;
        for (int32_t i = lane; i < w.in_planes; i += kWarp) dot += row[i] * x[i];
        dot = warp_sum(dot);
        if (lane == 0) h[a] = math::trunk_activation(dot, w.trunk_bias[a]);
    }
    __syncthreads();
    if (w.width <= kRowPerThreadWidth) {  // uniform across the block: no lane skips a shuffle below
        for (int32_t r = threadIdx.x; r < length; r += blockDim.x) {
            const float *row = w.head_weight + int64_t(r) * w.width;
            float dot = 0.0f;
#pragma unroll 8
            for (int32_t i = 0; i < w.width; ++i) dot += row[i] * h[i];
            z[r] = math::head_logit(dot, w.head_bias[r], w.temperature);
        }
    } else {
        for (int32_t r = warp; r < length; r += warps) {
            const float *row = w.head_weight + int64_t(r) * w.width;
            float dot = 0.0f;
            for (int32_t i = lane; i < w.width; i += kWarp) dot += row[i] * h[i];
            dot = warp_sum(dot);
            if (lane == 0) z[r] = math::head_logit(dot, w.head_bias[r], w.temperature);
        }
    }
    __syncthreads();
    for (int32_t i = threadIdx.x; i < length; i += blockDim.x)
        attention[n * length + i] = math::attention_value(w.row, z, i);
}

// A float as stored in a tensor of Element: itself, or rounded to bfloat16.
__device__ inline float stored(float value, float *) { return value; }
__device__ inline __nv_bfloat16 stored(float value, __nv_bfloat16 *) { return __float2bfloat16_rn(value); }
__device__ inline float loaded(float value) { return value; }
__device__ inline float loaded(__nv_bfloat16 value) { return __bfloat162float(value); }

template <typename Element>
__global__ void aggregate(math::FilterGeometry geometry, math::AttentionRow row, const float *bank,
                          const float *attention, const float *bn_scale, int64_t batch, Element *filters) {
    const int64_t elements = geometry.elements();
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < batch * elements;
         i += int64_t(gridDim.x) * blockDim.x) {
        const int64_t n = i / elements;
        filters[i] = stored(math::aggregated_weight(geometry, row, bank, attention + n * row.length(), bn_scale,
                                                    i % elements), filters);
    }
}

__global__ void round_to_bfloat16(const float *in, int64_t elements, __nv_bfloat16 *out) {
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < elements; i += int64_t(gridDim.x) * blockDim.x)
        out[i] = __float2bfloat16_rn(in[i]);
}

// output[i] = activate(convolved[i] + bias); convolved may be output itself (float32, in place).
template <typename Element>
__global__ void epilogue(const Element *convolved, float *output, int64_t elements, int32_t channels, int64_t pixels,
                         int32_t layout, const float *bias, int32_t activation) {
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < elements;
         i += int64_t(gridDim.x) * blockDim.x) {
        const float b = bias ? bias[math::channel_of(i, channels, pixels, layout)] : 0.0f;
        output[i] = math::epilogue(loaded(convolved[i]), b, activation);
    }
}

__nv_bfloat16 *as_bfloat16(uint16_t *bits) { return reinterpret_cast<__nv_bfloat16 *>(bits); }
const __nv_bfloat16 *as_bfloat16(const uint16_t *bits) { return reinterpret_cast<const __nv_bfloat16 *>(bits); }

template <typename Element>
void launch_aggregation(const math::FilterGeometry &geometry, const math::AttentionRow &row, const float *bank,
                        const float *attention, const float *bn_scale, int64_t batch, Element *filters,
                        cudaStream_t stream) {
    aggregate<<<blocks_for(batch * geometry.elements(), kThreads), kThreads, 0, stream>>>(geometry, row, bank, attention,
                                                                                          bn_scale, batch, filters);
    check_launch("aggregation kernel launch");
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
    attention_per_sample<<<static_cast<unsigned>(batch), kAttentionThreads, 0, stream>>>(w, pooled, hidden, logits,
                                                                                       attention);
    check_launch("attention kernel launch");
}

void enqueue_aggregation(const math::FilterGeometry &geometry, const math::AttentionRow &row, const float *bank,
                         const float *attention, const float *bn_scale, int64_t batch, float *filters,
                         cudaStream_t stream) {
    launch_aggregation(geometry, row, bank, attention, bn_scale, batch, filters, stream);
}

void enqueue_aggregation(const math::FilterGeometry &geometry, const math::AttentionRow &row, const float *bank,
                         const float *attention, const float *bn_scale, int64_t batch, uint16_t *filters,
                         cudaStream_t stream) {
    launch_aggregation(geometry, row, bank, attention, bn_scale, batch, as_bfloat16(filters), stream);
}

void enqueue_to_bfloat16(const float *in, int64_t elements, uint16_t *out, cudaStream_t stream) {
    round_to_bfloat16<<<blocks_for(elements, kThreads), kThreads, 0, stream>>>(in, elements, as_bfloat16(out));
    check_launch("bfloat16 rounding kernel launch");
}

void enqueue_epilogue(float *output, int64_t elements, int32_t channels, int64_t pixels, int32_t layout,
                      const float *bias, int32_t activation, cudaStream_t stream) {
    if (bias == nullptr && activation == math::kIdentity) return;
    epilogue<<<blocks_for(elements, kThreads), kThreads, 0, stream>>>(static_cast<const float *>(output), output, elements,
                                                                       channels, pixels, layout, bias, activation);
    check_launch("epilogue kernel launch");
}

void enqueue_epilogue(const uint16_t *convolved, float *output, int64_t elements, int32_t channels, int64_t pixels,
                      int32_t layout, const float *bias, int32_t activation, cudaStream_t stream) {
    epilogue<<<blocks_for(elements, kThreads), kThreads, 0, stream>>>(as_bfloat16(convolved), output, elements,
                                                                       channels, pixels, layout, bias, activation);
    check_launch("epilogue kernel launch");
}

}  // namespace odconv::cuda
