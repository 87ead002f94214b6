// The small derived tensors of a CUDA layer, computed on the host at creation and uploaded once: the
// attention trunk with its BatchNorm folded in, the heads stacked into one matrix in attention-row order,
// and the trailing BatchNorm as scale (folded into each aggregated filter) and shift (the epilogue's bias).
// The big weight bank is not here: it is uploaded straight from the caller's buffer.
#pragma once

#include <cstdint>
#include <vector>

#include "kernel_math.cuh"
#include "odconv.h"

namespace odconv::cuda {

struct FoldedParameters {
    int32_t width = 0;                   // attention width A
    math::AttentionRow row{};            // layout of one sample's attention row
    math::FilterGeometry filter{};       // NCHW geometry; forwards set the layout they use
    std::vector<float> trunk_weight;     // [A][in_planes], attention BatchNorm scale folded in
    std::vector<float> trunk_bias;       // [A], attention BatchNorm shift
    std::vector<float> head_weight;      // [row.length()][A]; rows of skipped heads are zero (never read)
    std::vector<float> head_bias;        // [row.length()]
    std::vector<float> bn_scale;         // [out_planes], empty without BatchNorm
    std::vector<float> bn_shift;         // [out_planes], empty without BatchNorm
};

// config and weights were validated by the caller.
FoldedParameters fold_parameters(const odconv_config_t &config, const odconv_weights_t &weights);

}  // namespace odconv::cuda
