// Pieces shared by the oneDNN primitives of this backend.
#pragma once

#include <omp.h>

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"

#include "../common/errors.hpp"
#include "odconv.h"

namespace odconv::cpu {

// oneDNN's exception as odconv::Error: OUT_OF_MEMORY or BACKEND_ERROR, with oneDNN's text and status.
[[noreturn]] void throw_as_odconv_error(const dnnl::error &e);

// Runs body, turning oneDNN's exceptions into odconv::Error: the backend's entry points run through this.
template <typename Body>
auto translating_onednn_errors(Body &&body) -> decltype(body()) {
    try {
        return body();
    } catch (const dnnl::error &e) {
        throw_as_odconv_error(e);
    }
}

const dnnl::engine &cpu_engine();

// oneDNN's effective instruction set on this CPU, e.g. "avx512_core".
const char *cpu_isa();

// (1, channels, height, width) activations in the given odconv_layout.
dnnl::memory::desc activation_desc(int64_t batch, int64_t channels, int64_t height, int64_t width, int32_t layout);

// The activation layout the convolution computes in, with elements of `type`: the caller's for NHWC, and for
// NCHW whichever layout oneDNN prefers (format `any`: blocked or channels-last), since its NCHW convolutions
// run several times slower than those for most shapes (a depthwise 128-channel 20x20 layer: 0.65 ms against
// 0.05 ms).
dnnl::memory::desc compute_desc(const dnnl::memory::desc &user, int32_t layout, dnnl::memory::data_type type);

// The type of a convolution's input and weights for odconv flags: bfloat16 with ODCONV_FLAG_BFLOAT16.
dnnl::memory::data_type compute_type(uint32_t flags);

// Why this CPU cannot run layers or convolutions created with `flags` (bfloat16 without the instructions for
// it, or oneDNN limited below them by ONEDNN_MAX_CPU_ISA); empty when it can.
std::optional<std::string> unsupported_reason(uint32_t flags);


// Moves activations between the caller's layout and the one a convolution computes in, where they differ.
class LayoutBridge {
public:
    LayoutBridge() = default;
    LayoutBridge(const dnnl::memory::desc &from, const dnnl::memory::desc &to);

    bool needed() const { return bool(reorder_); }
    const dnnl::reorder &reorder() const { return reorder_; }
    const dnnl::memory::desc &from_desc() const { return from_; }
    const dnnl::memory::desc &to_desc() const { return to_; }
    // The reorder's arguments from `from` to `to`, with a scratchpad of its own.
    std::unordered_map<int, dnnl::memory> args(const dnnl::memory &from, const dnnl::memory &to) const;

private:
    dnnl::memory::desc from_, to_;
    dnnl::reorder::primitive_desc pd_;
    dnnl::reorder reorder_;
};

// Weights of a convolution with this configuration: oihw, or goihw when grouped, in `tag`.
dnnl::memory::desc weights_desc(const odconv_config_t &config, dnnl::memory::format_tag tag,
                                dnnl::memory::data_type type);

// The attributes of every odconv convolution, layers and the static floor alike: the configuration's
// activation as a post-op (none for identity), and a scratchpad of the caller's.
dnnl::primitive_attr convolution_attr(const odconv_config_t &config);

// A forward-inference direct convolution of this configuration's geometry.
dnnl::convolution_forward::primitive_desc convolution_pd(const odconv_config_t &config, const dnnl::memory::desc &src,
                                                         const dnnl::memory::desc &weights,
                                                         const dnnl::memory::desc *bias, const dnnl::memory::desc &dst,
                                                         const dnnl::primitive_attr &attr);
// The same over a band of rows: the input rows the band reads, with `padding_top` and `padding_bottom` rows of
// zeros above and below them instead of the layer's padding (which still applies left and right).
dnnl::convolution_forward::primitive_desc convolution_pd(const odconv_config_t &config, const dnnl::memory::desc &src,
                                                         const dnnl::memory::desc &weights,
                                                         const dnnl::memory::desc *bias, const dnnl::memory::desc &dst,
                                                         const dnnl::primitive_attr &attr, int64_t padding_top,
                                                         int64_t padding_bottom);

// Eval-mode BatchNorm as y = x * scale + shift; identity when the layer has none.
struct FoldedBatchNorm {
    std::vector<float> scale, shift;
    bool present = false;
};
FoldedBatchNorm fold_batch_norm(const odconv_config_t &config, const float *weight, const float *bias,
                                const float *mean, const float *var);

// Sets the calling thread's OpenMP thread count for a scope when requested (> 0), then restores it.
class ThreadCountScope {
public:
    explicit ThreadCountScope(int32_t requested) : previous_(omp_get_max_threads()), changed_(requested > 0) {
        if (changed_) omp_set_num_threads(requested);
    }
    ~ThreadCountScope() {
        if (changed_) omp_set_num_threads(previous_);
    }
    ThreadCountScope(const ThreadCountScope &) = delete;
    ThreadCountScope &operator=(const ThreadCountScope &) = delete;

private:
    int previous_;
    bool changed_;
};

}  // namespace odconv::cpu
