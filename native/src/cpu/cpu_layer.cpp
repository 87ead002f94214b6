#include "cpu_layer.hpp"

#include <algorithm>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include <omp.h>

#include "oneapi/dnnl/dnnl.hpp"

#include "../common/config.hpp"
#include "../common/idle_pool.hpp"
#include "../common/lru_cache.hpp"
#include "../common/parameters.hpp"
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
    // The caller's tensors; src and dst are these same memories unless the convolution computes in another
    // layout (see LayoutBridge).
    memory user_src, user_dst;
    std::unordered_map<int, memory> src_bridge_args, dst_bridge_args;
    AttentionVectors attention;
    std::vector<float> pool_partials;  // [nhwc_pool_chunks(pixels)][in_planes], NHWC pooling
    std::vector<float> run_factors, lane_factors;
};

// The static parts of a layer that every plan reads: attention, folded BatchNorm, the layer's copy of the bank.
struct LayerParameters {
    odconv_config_t config;
    // [kernel_num, out, in / groups, k, k], copied at creation: once the layer exists it reads none of the
    // caller's buffers, so a model file may be unmapped, or changed, under it.
    std::vector<float> bank;
    Attention attention;
    FoldedBatchNorm bn;
    memory bias;        // [out] BatchNorm shift, the convolution's bias (empty without BatchNorm)
    memory::data_type compute_type;  // of the convolution's input and weights (see ODCONV_FLAG_BFLOAT16)
};

// The primitives for one input size, layout and thread count, the bank in the primitive's weight layout,
// and a pool of workspaces.
//
// Per sample, the kernel is sum_j kernel[j] * (bn_scale * bank_j), scaled by the filter attention per
// output channel and by the channel and spatial attentions per input channel and tap; the BatchNorm scale
// is folded into the stored bank once. The BatchNorm shift is the convolution's bias and the activation its
// post-op: the primitive is the one a static convolution of this shape uses.
class Plan {
public:
    Plan(const LayerParameters &p, int64_t height, int64_t width, int32_t layout, int threads)
        : p_(p), layout_(layout), threads_(threads) {
        const odconv_config_t &c = p.config;
        const auto &engine = cpu_engine();
        const int64_t out_height = output_extent(c, height, "height");
        const int64_t out_width = output_extent(c, width, "width");
        src_md_ = activation_desc(1, c.in_planes, height, width, layout);
        dst_md_ = activation_desc(1, c.out_planes, out_height, out_width, layout);

        dnnl::post_ops post_ops;
        append_activation(post_ops, c);
        dnnl::primitive_attr attr;
        attr.set_post_ops(post_ops);
        attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
        const memory::desc bias_md({c.out_planes}, memory::data_type::f32, tag::x);
        // In bfloat16 only the input and the weights are: oneDNN accumulates in float32 and writes float32.
        conv_pd_ = convolution_pd(c, compute_desc(src_md_, layout, p.compute_type),
                                  weights_desc(c, tag::any, p.compute_type), p.bn.present ? &bias_md : nullptr,
                                  compute_desc(dst_md_, layout, memory::data_type::f32), attr);
        conv_ = dnnl::convolution_forward(conv_pd_);
        src_bridge_ = LayoutBridge(src_md_, conv_pd_.src_desc());
        dst_bridge_ = LayoutBridge(conv_pd_.dst_desc(), dst_md_);
        weights_md_ = conv_pd_.weights_desc();

        const int32_t groups = c.groups, out_per_group = c.out_planes / c.groups, in_per_group = c.in_planes / c.groups;
        const memory::desc plain_md = weights_desc(c, tag::oihw, memory::data_type::f32);
        std::optional<WeightRuns> runs = WeightRuns::of(weights_md_, groups, out_per_group, in_per_group, c.kernel_size);
        if (!runs) {  // aggregate in plain layout, then let oneDNN reorder each call
            runs = WeightRuns::plain(groups, out_per_group, in_per_group, c.kernel_size);
            dnnl::primitive_attr reorder_attr;
            reorder_attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
            reorder_pd_ = dnnl::reorder::primitive_desc(engine, plain_md, engine, weights_md_, reorder_attr);
            reorder_ = dnnl::reorder(reorder_pd_);
        }
        runs_ = std::move(*runs);

        // The bank, BatchNorm scale folded in, in float32 in the layout the aggregation writes (whatever type it
        // writes), so that only the aggregated kernel is ever rounded.
        const int64_t filter_size = int64_t(in_per_group) * c.kernel_size * c.kernel_size;
        const memory::desc bank_md({runs_.runs * runs_.run_length}, memory::data_type::f32, tag::x);
        std::vector<float> scaled(size_t(c.out_planes) * filter_size);
        for (int32_t j = 0; j < c.kernel_num; ++j) {
            const float *bank = p.bank.data() + int64_t(j) * c.out_planes * filter_size;
            for (int32_t o = 0; o < c.out_planes; ++o)
                for (int64_t t = 0; t < filter_size; ++t)
                    scaled[o * filter_size + t] = bank[o * filter_size + t] * p.bn.scale[o];
            memory target(bank_md, engine);
            runs_.scatter(scaled.data(), static_cast<float *>(target.get_data_handle()));
            banks_.push_back(target);
        }
        for (const memory &bank : banks_) bank_pointers_.push_back(static_cast<const float *>(bank.get_data_handle()));

        src_stride_ = int64_t(c.in_planes) * height * width;
        dst_stride_ = int64_t(c.out_planes) * out_height * out_width;
        pixels_ = height * width;
    }

    // The samples one after another, each using every thread of the plan.
    void run(int64_t batch, const float *input, float *output) {
        std::unique_ptr<Workspace> workspace = acquire();
        for (int64_t n = 0; n < batch; ++n) run_sample(*workspace, n, input, output);
        workspace->stream.wait();
        release(std::move(workspace));
    }

    // The samples spread over `team` threads, each running whole samples alone: how a static convolution
    // of the batch splits its work, and faster than splitting every sample when there are enough samples
    // to go round. For a single-thread plan: inside the parallel region oneDNN runs each primitive on its
    // calling thread.
    void run_samples_in_parallel(int64_t batch, const float *input, float *output, int team) {
        std::exception_ptr failure;
        std::mutex failure_mutex;
#pragma omp parallel num_threads(team)
        {
            try {
                std::unique_ptr<Workspace> workspace = acquire();
                for (int64_t n = omp_get_thread_num(); n < batch; n += omp_get_num_threads())
                    run_sample(*workspace, n, input, output);
                workspace->stream.wait();
                release(std::move(workspace));
            } catch (...) {  // nothing may leave an OpenMP region: rethrown below
                std::lock_guard<std::mutex> lock(failure_mutex);
                if (!failure) failure = std::current_exception();
            }
        }
        if (failure) std::rethrow_exception(failure);
    }

private:
    void run_sample(Workspace &ws, int64_t n, const float *input, float *output) {
        const odconv_config_t &c = p_.config;
        AttentionVectors &a = ws.attention;
        const AggregationInputs aggregation{bank_pointers_.data(), a.kernel.data(), ws.run_factors.data(),
                                            ws.lane_factors.data(), c.kernel_num};
        const float *x = input + n * src_stride_;
        if (layout_ == ODCONV_LAYOUT_NHWC)
            average_pool_nhwc(x, c.in_planes, pixels_, a.pooled.data(), ws.pool_partials.data(), threads_);
        else
            average_pool_nchw(x, c.in_planes, pixels_, a.pooled.data());
        p_.attention.compute(a);
        runs_.set_factors(a.filter.data(), a.channel.data(), a.spatial.data(), ws.run_factors.data(),
                          ws.lane_factors.data());
        if (reorder_ || p_.compute_type == memory::data_type::f32)
            aggregate_kernel(aggregation, runs_, static_cast<float *>((reorder_ ? ws.plain_weights : ws.weights).get_data_handle()),
                             threads_);
        else
            aggregate_kernel(aggregation, runs_, static_cast<uint16_t *>(ws.weights.get_data_handle()), threads_);
        if (reorder_) reorder_.execute(ws.stream, ws.reorder_args);
        ws.user_src.set_data_handle(const_cast<float *>(x));
        ws.user_dst.set_data_handle(output + n * dst_stride_);
        if (src_bridge_.needed()) src_bridge_.reorder().execute(ws.stream, ws.src_bridge_args);
        conv_.execute(ws.stream, ws.conv_args);
        if (dst_bridge_.needed()) dst_bridge_.reorder().execute(ws.stream, ws.dst_bridge_args);
    }

    std::unique_ptr<Workspace> acquire() {
        if (auto idle = idle_.take()) return idle;
        const odconv_config_t &c = p_.config;
        const auto &engine = cpu_engine();
        auto ws = std::make_unique<Workspace>();
        ws->stream = dnnl::stream(engine);
        ws->user_src = memory(src_md_, engine, DNNL_MEMORY_NONE);
        ws->user_dst = memory(dst_md_, engine, DNNL_MEMORY_NONE);
        ws->src = src_bridge_.needed() ? memory(conv_pd_.src_desc(), engine) : ws->user_src;
        ws->dst = dst_bridge_.needed() ? memory(conv_pd_.dst_desc(), engine) : ws->user_dst;
        if (src_bridge_.needed()) ws->src_bridge_args = src_bridge_.args(ws->user_src, ws->src);
        if (dst_bridge_.needed()) ws->dst_bridge_args = dst_bridge_.args(ws->dst, ws->user_dst);
        ws->weights = memory(weights_md_, engine);
        // Padding elements of blocked layouts read as zero; the aggregation writes zeros there too.
        std::memset(ws->weights.get_data_handle(), 0, weights_md_.get_size());
        ws->conv_scratchpad = memory(conv_pd_.scratchpad_desc(), engine);
        ws->conv_args = {{DNNL_ARG_SRC, ws->src},
                         {DNNL_ARG_WEIGHTS, ws->weights},
                         {DNNL_ARG_DST, ws->dst},
                         {DNNL_ARG_SCRATCHPAD, ws->conv_scratchpad}};
        if (p_.bn.present) ws->conv_args.emplace(DNNL_ARG_BIAS, p_.bias);
        if (reorder_) {
            ws->plain_weights = memory(reorder_pd_.src_desc(), engine);
            ws->reorder_scratchpad = memory(reorder_pd_.scratchpad_desc(), engine);
            ws->reorder_args = {{DNNL_ARG_FROM, ws->plain_weights},
                                {DNNL_ARG_TO, ws->weights},
                                {DNNL_ARG_SCRATCHPAD, ws->reorder_scratchpad}};
        }
        ws->attention = p_.attention.make_vectors();
        ws->pool_partials.assign(size_t(nhwc_pool_chunks(pixels_)) * c.in_planes, 0.0f);
        ws->run_factors.assign(runs_.run_factor_count(), 0.0f);
        ws->lane_factors.assign(runs_.lane_factor_count(), 0.0f);
        return ws;
    }

    void release(std::unique_ptr<Workspace> ws) { idle_.give(std::move(ws)); }

    const LayerParameters &p_;
    const int32_t layout_;
    const int threads_;
    memory::desc src_md_, dst_md_, weights_md_;
    dnnl::convolution_forward::primitive_desc conv_pd_;
    dnnl::convolution_forward conv_;
    LayoutBridge src_bridge_, dst_bridge_;
    WeightRuns runs_;
    std::vector<memory> banks_;
    std::vector<const float *> bank_pointers_;
    dnnl::reorder::primitive_desc reorder_pd_;
    dnnl::reorder reorder_;
    int64_t src_stride_, dst_stride_, pixels_;
    IdlePool<Workspace> idle_;
};

// Elements of the kernel bank (odconv_weights_t.weight), as the parameter table shapes it.
int64_t bank_size(const odconv_config_t &c) {
    for (int32_t i = 0; i < kParameterCount; ++i)
        if (std::strcmp(kParameters[i].name, "weight") == 0) return kParameters[i].shape(c).element_count();
    return 0;  // unreachable: every layer has a weight
}

class CpuLayer final : public Layer {
public:
    CpuLayer(const odconv_config_t &c, const odconv_weights_t &w, uint32_t flags)
        : p_{c, std::vector<float>(w.weight, w.weight + bank_size(c)), Attention(c, w),
             fold_batch_norm(c, w.bn_weight, w.bn_bias, w.bn_mean, w.bn_var), memory(), compute_type(flags)} {
        if (p_.bn.present) {
            p_.bias = memory({{c.out_planes}, memory::data_type::f32, tag::x}, cpu_engine());
            std::copy(p_.bn.shift.begin(), p_.bn.shift.end(), static_cast<float *>(p_.bias.get_data_handle()));
        }
    }

    void forward(int64_t batch, int64_t height, int64_t width, int32_t layout, const float *input,
                 float *output) override {
        translating_onednn_errors([&] {
            ThreadCountScope threads(num_threads());
            const int team = omp_get_max_threads();
            if (samples_in_parallel(batch, team))
                plan(height, width, layout, 1)->run_samples_in_parallel(batch, input, output, team);
            else
                plan(height, width, layout, team)->run(batch, input, output);
        });
    }

private:
    // Whole samples per thread when every thread gets about the same number of them (at most 25% idle time);
    // otherwise each sample is split over all threads.
    static bool samples_in_parallel(int64_t batch, int team) {
        if (team < 2 || batch < team) return false;
        const int64_t rounds = (batch + team - 1) / team;
        return rounds * team * 4 <= batch * 5;
    }

    using PlanKey = std::tuple<int64_t, int64_t, int32_t, int>;
    static constexpr size_t kMaxPlans = 16;

    // oneDNN sizes its kernels' work split for the thread count at creation, so plans are per count.
    std::shared_ptr<Plan> plan(int64_t height, int64_t width, int32_t layout, int threads) {
        std::lock_guard<std::mutex> lock(plans_mutex_);
        return plans_.get_or_make(std::make_tuple(height, width, layout, threads),
                                  [&] { return std::make_shared<Plan>(p_, height, width, layout, threads); });
    }

    LayerParameters p_;
    std::mutex plans_mutex_;
    // shared_ptr: a forward keeps its plan even if it is evicted meanwhile
    LruCache<PlanKey, std::shared_ptr<Plan>> plans_{kMaxPlans};
};

}  // namespace

std::unique_ptr<Layer> create_layer(const odconv_config_t &config, const odconv_weights_t &weights, uint32_t flags) {
    return std::make_unique<CpuLayer>(config, weights, flags);
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

}  // namespace odconv::cpu
