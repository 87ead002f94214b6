// The attention branch of ODConv on the CPU after the global average pool: the trunk (1x1 conv,
// BatchNorm, ReLU) and the four heads. Its parameters are folded once at layer creation; per sample it yields
// the four attention vectors, with skipped heads reported as all-ones.
#pragma once

#include <cstdint>
#include <vector>

#include "odconv.h"

namespace odconv::cpu {

// Per-sample results; every vector has its full length even when its head is skipped.
struct AttentionVectors {
    std::vector<float> channel;  // [in_planes]
    std::vector<float> filter;   // [out_planes]
    std::vector<float> spatial;  // [k * k]
    std::vector<float> kernel;   // [kernel_num]
    // Intermediate buffers, kept here so that steady-state calls do not allocate.
    std::vector<float> pooled;   // [in_planes], the caller's pool result
    std::vector<float> hidden;   // [attention width]
    std::vector<float> logits;   // [head rows]
};

class Attention {
public:
    Attention(const odconv_config_t &config, const odconv_weights_t &weights);

    AttentionVectors make_vectors() const;

    // From v.pooled (the sample's per-channel means), fills the four attention vectors of v.
    void compute(AttentionVectors &v) const;

private:
    int32_t in_planes_, out_planes_, kernel_area_, kernel_num_, width_;
    bool filter_head_, spatial_head_, kernel_head_;
    float temperature_;
    // The trunk's 1x1 conv with its BatchNorm folded in: [width][in_planes] and [width].
    std::vector<float> trunk_weight_, trunk_bias_;
    // The heads stacked row-wise (channel, filter, spatial, kernel; skipped ones absent): [rows][width].
    std::vector<float> head_weight_, head_bias_;
    int32_t filter_row_, spatial_row_, kernel_row_, rows_;
};

}  // namespace odconv::cpu
