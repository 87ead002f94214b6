// The CUDA kernels of an ODConv forward besides cuDNN's convolution, as host functions that enqueue
// them on a stream. The per-element mathematics is in kernel_math.cuh.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernel_math.cuh"

namespace odconv::cuda {

// pooled[n][c] = mean of channel c of sample n over `pixels` pixels, input in `layout`.
void enqueue_average_pool(const float *input, int64_t batch, int32_t channels, int64_t pixels, int32_t layout,
                          float *pooled, cudaStream_t stream);

// The attention branch's device parameters (see FoldedParameters).
struct AttentionWeights {
    const float *trunk_weight, *trunk_bias, *head_weight, *head_bias;
    int32_t in_planes, width;
    float temperature;
    math::AttentionRow row;
};

// From pooled [batch][in_planes]: hidden [batch][width], logits and attention [batch][row.length()].
void enqueue_attention(const AttentionWeights &weights, const float *pooled, int64_t batch, float *hidden,
                       float *logits, float *attention, cudaStream_t stream);

// filters[n] = sample n's aggregated filter in geometry.layout (math::aggregated_weight).
void enqueue_aggregation(const math::FilterGeometry &geometry, const math::AttentionRow &row, const float *bank,
                         const float *attention, const float *bn_scale, int64_t batch, float *filters,
                         cudaStream_t stream);
// The same, each element rounded to bfloat16 (to nearest, ties to even) as it is stored: filters holds the
// bfloat16 bit patterns.
void enqueue_aggregation(const math::FilterGeometry &geometry, const math::AttentionRow &row, const float *bank,
                         const float *attention, const float *bn_scale, int64_t batch, uint16_t *filters,
                         cudaStream_t stream);

// out[i] = in[i] rounded to bfloat16 (to nearest, ties to even), for `elements` values.
void enqueue_to_bfloat16(const float *in, int64_t elements, uint16_t *out, cudaStream_t stream);

// output[i] = activate(output[i] + bias[channel]) in place; bias may be null (0). A no-op for identity
// without bias.
void enqueue_epilogue(float *output, int64_t elements, int32_t channels, int64_t pixels, int32_t layout,
                      const float *bias, int32_t activation, cudaStream_t stream);
// output[i] = activate(convolved[i] + bias[channel]), convolved in bfloat16, output in float32 (never a no-op).
void enqueue_epilogue(const uint16_t *convolved, float *output, int64_t elements, int32_t channels, int64_t pixels,
                      int32_t layout, const float *bias, int32_t activation, cudaStream_t stream);

}  // namespace odconv::cuda
