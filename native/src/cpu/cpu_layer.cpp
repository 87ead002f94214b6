#include "cpu_layer.hpp"

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"

#include "../common/config.hpp"
#include "../common/errors.hpp"
#include "attention.hpp"
#include "kernels.hpp"
#include "onednn_util.hpp"

namespace odconv::cpu {
namespace {

using dnnl::memory;
using tag = memory::format_tag;

// Everything one forward call writes besides the output, so that concurrent calls never share state.
struct Workspace {
    dnnl::stream stream;
    memory src, dst, weights, plain_weights, conv_scratchpad, reorder_scratchpad;
    std::unordered_map<int, memory> conv_args, reorder_args;
    AttentionVectors attention;
    std::vector<float> pool_partials;   // [threads][in_planes], NHWC pooling
    std::vector<float> mixed_filters;   // [threads][in_per_group * k * k], kernel aggregation
};

// The primitives for one input size, layout and thread count, and a pool of workspaces for them.
class Plan {
public:
    Plan(const odconv_config_t &c, const Attention &attention, const FoldedBatchNorm &bn, const memory &bias,
         const float *bank, int64_t height, int64_t width, int32_t layout, int threads)
        : config_(c), attention_(attention), bn_(bn), bias_(bias), bank_(bank), layout_(layout), threads_(threads) {
        const int64_t out_height = output_extent(c, height, "height");
        const int64_t out_width = output_extent(c, width, "width");
        src_md_ = activation_desc(1, c.in_planes, height, width, layout);
        dst_md_ = activation_desc(1, c.out_planes, out_height, out_width, layout);
        const memory::desc bias_md = bias ? bias.get_desc() : memory::desc();
        conv_pd_ = convolution_pd(c, src_md_, weights_desc(c, tag::any), bias ? &bias_md : nullptr, dst_md_);
        conv_ = dnnl::convolution_forward(conv_pd_);
        weights_md_ = conv_pd_.weights_desc();
        try {
            offsets_ = WeightOffsets::of(weights_md_, c.groups, c.out_planes / c.groups, c.in_planes / c.groups,
                                         c.kernel_size);
        } catch (const Error &) {
            // An opaque layout: aggregate into plain oihw and let oneDNN reorder it each call.
            const memory::desc plain = weights_desc(c, tag::oihw);
            offsets_ = WeightOffsets::of(plain, c.groups, c.out_planes / c.groups, c.in_planes / c.groups,
                                         c.kernel_size);
            dnnl::primitive_attr attr;
            attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
            reorder_pd_ = dnnl::reorder::primitive_desc(cpu_engine(), plain, cpu_engine(), weights_md_, attr);
            reorder_ = dnnl::reorder(reorder_pd_);
        }
        src_stride_ = int64_t(c.in_planes) * height * width;
        dst_stride_ = int64_t(c.out_planes) * out_height * out_width;
        pixels_ = height * width;
    }

    void run(int64_t batch, const float *input, float *output) {
        std::unique_ptr<Workspace> workspace = acquire();
        Workspace &ws = *workspace;
        AttentionVectors &a = ws.attention;
        const AggregationInputs aggregation{bank_, a.kernel.data(), a.filter.data(), bn_.scale.data(),
                                            a.channel.data(), a.spatial.data(), config_.kernel_num,
                                            config_.out_planes, config_.out_planes / config_.groups,
                                            config_.in_planes / config_.groups,
                                            config_.kernel_size * config_.kernel_size};
        float *weights = static_cast<float *>((reorder_ ? ws.plain_weights : ws.weights).get_data_handle());
        for (int64_t n = 0; n < batch; ++n) {
            const float *x = input + n * src_stride_;
            if (layout_ == ODCONV_LAYOUT_NHWC)
                average_pool_nhwc(x, config_.in_planes, pixels_, a.pooled.data(), ws.pool_partials.data(), threads_);
            else
                average_pool_nchw(x, config_.in_planes, pixels_, a.pooled.data());
            attention_.compute(a);
            aggregate_kernel(aggregation, offsets_, weights, ws.mixed_filters.data(), threads_);
            if (reorder_) reorder_.execute(ws.stream, ws.reorder_args);
            ws.src.set_data_handle(const_cast<float *>(x));
            ws.dst.set_data_handle(output + n * dst_stride_);
            conv_.execute(ws.stream, ws.conv_args);
        }
        ws.stream.wait();
        release(std::move(workspace));
    }

private:
    std::unique_ptr<Workspace> acquire() {
        {
            std::lock_guard<std::mutex> lock(idle_mutex_);
            if (!idle_.empty()) {
                auto ws = std::move(idle_.back());
                idle_.pop_back();
                return ws;
            }
        }
        const auto &engine = cpu_engine();
        auto ws = std::make_unique<Workspace>();
        ws->stream = dnnl::stream(engine);
        ws->src = memory(src_md_, engine, DNNL_MEMORY_NONE);
        ws->dst = memory(dst_md_, engine, DNNL_MEMORY_NONE);
        ws->weights = memory(weights_md_, engine);
        // Padding elements of blocked layouts are never written by the aggregation and must read as zero.
        std::memset(ws->weights.get_data_handle(), 0, weights_md_.get_size());
        ws->conv_scratchpad = memory(conv_pd_.scratchpad_desc(), engine);
        ws->conv_args = {{DNNL_ARG_SRC, ws->src},
                         {DNNL_ARG_WEIGHTS, ws->weights},
                         {DNNL_ARG_DST, ws->dst},
                         {DNNL_ARG_SCRATCHPAD, ws->conv_scratchpad}};
        if (bias_) ws->conv_args.emplace(DNNL_ARG_BIAS, bias_);
        if (reorder_) {
            ws->plain_weights = memory(reorder_pd_.src_desc(), engine);
            ws->reorder_scratchpad = memory(reorder_pd_.scratchpad_desc(), engine);
            ws->reorder_args = {{DNNL_ARG_FROM, ws->plain_weights},
                                {DNNL_ARG_TO, ws->weights},
                                {DNNL_ARG_SCRATCHPAD, ws->reorder_scratchpad}};
        }
        ws->attention = attention_.make_vectors();
        ws->pool_partials.assign(size_t(threads_) * config_.in_planes, 0.0f);
        ws->mixed_filters.assign(size_t(threads_) * (config_.in_planes / config_.groups) * config_.kernel_size *
                                     config_.kernel_size,
                                 0.0f);
        return ws;
    }

    void release(std::unique_ptr<Workspace> ws) {
        std::lock_guard<std::mutex> lock(idle_mutex_);
        idle_.push_back(std::move(ws));
    }

    const odconv_config_t config_;
    const Attention &attention_;
    const FoldedBatchNorm &bn_;
    const memory &bias_;
    const float *bank_;
    const int32_t layout_;
    const int threads_;
    memory::desc src_md_, dst_md_, weights_md_;
    dnnl::convolution_forward::primitive_desc conv_pd_;
    dnnl::convolution_forward conv_;
    WeightOffsets offsets_;
    dnnl::reorder::primitive_desc reorder_pd_;
    dnnl::reorder reorder_;
    int64_t src_stride_, dst_stride_, pixels_;
    std::mutex idle_mutex_;
    std::vector<std::unique_ptr<Workspace>> idle_;
};

class CpuLayer final : public Layer {
public:
    CpuLayer(const odconv_config_t &c, const odconv_weights_t &w)
        : config_(c),
          bank_(w.weight),
          attention_(c, w),
          bn_(fold_batch_norm(c, w.bn_weight, w.bn_bias, w.bn_mean, w.bn_var)) {
        if (bn_.present) {
            bias_ = memory({{c.out_planes}, memory::data_type::f32, tag::x}, cpu_engine());
            std::copy(bn_.shift.begin(), bn_.shift.end(), static_cast<float *>(bias_.get_data_handle()));
        }
    }

    void forward(int64_t batch, int64_t height, int64_t width, int32_t layout, const float *input,
                 float *output) override {
        ThreadCountScope threads(num_threads());
        plan(height, width, layout, omp_get_max_threads()).run(batch, input, output);
    }

private:
    // oneDNN sizes its kernels' work split for the thread count at creation, so plans are per count.
    Plan &plan(int64_t height, int64_t width, int32_t layout, int threads) {
        std::lock_guard<std::mutex> lock(plans_mutex_);
        auto &slot = plans_[std::make_tuple(height, width, layout, threads)];
        if (!slot) slot = std::make_unique<Plan>(config_, attention_, bn_, bias_, bank_, height, width, layout, threads);
        return *slot;
    }

    const odconv_config_t config_;
    const float *bank_;
    const Attention attention_;
    const FoldedBatchNorm bn_;
    memory bias_;
    std::mutex plans_mutex_;
    std::map<std::tuple<int64_t, int64_t, int32_t, int>, std::unique_ptr<Plan>> plans_;
};

}  // namespace

std::unique_ptr<Layer> create_layer(const odconv_config_t &config, const odconv_weights_t &weights) {
    return std::make_unique<CpuLayer>(config, weights);
}

const char *backend_description() {
    static const std::string description = [] {
        const dnnl_version_t *v = dnnl_version();
        std::string runtime = v->cpu_runtime == DNNL_RUNTIME_OMP   ? "OpenMP"
                              : v->cpu_runtime == DNNL_RUNTIME_TBB ? "TBB"
                              : v->cpu_runtime == DNNL_RUNTIME_SEQ ? "sequential"
                                                                   : "other";
        return "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
               std::to_string(v->patch) + " (cpu runtime: " + runtime + ")";
    }();
    return description.c_str();
}

const char *cpu_isa() {
    using isa = dnnl::cpu_isa;
    switch (dnnl::get_effective_cpu_isa()) {
        case isa::sse41: return "sse41";
        case isa::avx: return "avx";
        case isa::avx2: return "avx2";
        case isa::avx2_vnni: return "avx2_vnni";
        case isa::avx2_vnni_2: return "avx2_vnni_2";
        case isa::avx512_core: return "avx512_core";
        case isa::avx512_core_vnni: return "avx512_core_vnni";
        case isa::avx512_core_bf16: return "avx512_core_bf16";
        case isa::avx10_1_512: return "avx10_1_512";
        case isa::avx10_1_512_amx: return "avx10_1_512_amx";
        case isa::avx10_1_512_amx_fp16: return "avx10_1_512_amx_fp16";
        default: return "other";
    }
}

}  // namespace odconv::cpu
