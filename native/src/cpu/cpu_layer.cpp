#include "cpu_layer.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"

#include "../common/config.hpp"
#include "attention.hpp"

namespace odconv::cpu {
namespace {

using dnnl::memory;
using tag = memory::format_tag;

const dnnl::engine &cpu_engine() {
    static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
    return engine;
}

// Everything one forward call writes besides the output, so that concurrent calls never share state.
struct Workspace {
    dnnl::stream stream;
    memory src, dst, plain_weights, weights, conv_scratchpad, reorder_scratchpad;
    std::unordered_map<int, memory> reorder_args, conv_args;
    AttentionVectors attention;
};

// The primitives for one input size and thread count, and a pool of workspaces for them.
class Plan {
public:
    Plan(const odconv_config_t &c, const memory &bias, int64_t height, int64_t width, const Attention &attention)
        : attention_(attention), bias_(bias) {
        const auto &engine = cpu_engine();
        const int64_t out_height = output_extent(c, height, "height");
        const int64_t out_width = output_extent(c, width, "width");
        const memory::dims weight_dims =
            c.groups == 1 ? memory::dims{c.out_planes, c.in_planes, c.kernel_size, c.kernel_size}
                          : memory::dims{c.groups, c.out_planes / c.groups, c.in_planes / c.groups,
                                         c.kernel_size, c.kernel_size};
        src_md_ = memory::desc({1, c.in_planes, height, width}, memory::data_type::f32, tag::nchw);
        dst_md_ = memory::desc({1, c.out_planes, out_height, out_width}, memory::data_type::f32, tag::nchw);
        plain_weights_md_ = memory::desc(weight_dims, memory::data_type::f32, c.groups == 1 ? tag::oihw : tag::goihw);
        const memory::desc any_weights(weight_dims, memory::data_type::f32, tag::any);

        dnnl::post_ops post_ops;
        if (c.activation == ODCONV_ACTIVATION_RELU)
            post_ops.append_eltwise(dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
        else if (c.activation == ODCONV_ACTIVATION_SILU)
            post_ops.append_eltwise(dnnl::algorithm::eltwise_swish, 1.0f, 0.0f);
        dnnl::primitive_attr attr;
        attr.set_post_ops(post_ops);
        attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);

        const memory::dims strides{c.stride, c.stride};
        const memory::dims dilates{c.dilation - 1, c.dilation - 1};
        const memory::dims padding{c.padding, c.padding};
        const auto kind = dnnl::prop_kind::forward_inference;
        const auto algorithm = dnnl::algorithm::convolution_direct;
        conv_pd_ = bias ? dnnl::convolution_forward::primitive_desc(engine, kind, algorithm, src_md_, any_weights,
                                                                    bias.get_desc(), dst_md_, strides, dilates,
                                                                    padding, padding, attr)
                        : dnnl::convolution_forward::primitive_desc(engine, kind, algorithm, src_md_, any_weights,
                                                                    dst_md_, strides, dilates, padding, padding,
                                                                    attr);
        conv_ = dnnl::convolution_forward(conv_pd_);
        weights_md_ = conv_pd_.weights_desc();
        if (weights_md_ != plain_weights_md_) {
            dnnl::primitive_attr reorder_attr;
            reorder_attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
            reorder_pd_ = dnnl::reorder::primitive_desc(engine, plain_weights_md_, engine, weights_md_, reorder_attr);
            reorder_ = dnnl::reorder(reorder_pd_);
        }
        src_stride_ = int64_t(c.in_planes) * height * width;
        dst_stride_ = int64_t(c.out_planes) * out_height * out_width;
        spatial_size_ = height * width;
        out_planes_ = c.out_planes;
        in_per_group_ = c.in_planes / c.groups;
        out_per_group_ = c.out_planes / c.groups;
        kernel_area_ = c.kernel_size * c.kernel_size;
        kernel_num_ = c.kernel_num;
    }

    void run(int64_t batch, const float *input, float *output, const float *bank, const float *bn_scale) {
        std::unique_ptr<Workspace> workspace = acquire();
        Workspace &ws = *workspace;
        for (int64_t n = 0; n < batch; ++n) {
            const float *x = input + n * src_stride_;
            attention_.compute(x, spatial_size_, ws.attention);
            aggregate(ws.attention, bank, bn_scale, static_cast<float *>(ws.plain_weights.get_data_handle()));
            if (reorder_) reorder_.execute(ws.stream, ws.reorder_args);
            ws.src.set_data_handle(const_cast<float *>(x));
            ws.dst.set_data_handle(output + n * dst_stride_);
            conv_.execute(ws.stream, ws.conv_args);
        }
        ws.stream.wait();
        release(std::move(workspace));
    }

private:
    // W_n[o][i][s] = bn_scale[o] * filter[o] * channel[group(o) * in_per_group + i] * spatial[s]
    //                * sum_j kernel[j] * bank[j][o][i][s]
    void aggregate(const AttentionVectors &a, const float *bank, const float *bn_scale, float *out) const {
        const int64_t filter_size = int64_t(in_per_group_) * kernel_area_;
        const int64_t bank_stride = int64_t(out_planes_) * filter_size;
#pragma omp parallel for if (bank_stride * kernel_num_ >= (1 << 14)) schedule(static)
        for (int32_t o = 0; o < out_planes_; ++o) {
            const float output_scale = bn_scale[o] * a.filter[o];
            const float *channel = a.channel.data() + int64_t(o / out_per_group_) * in_per_group_;
            for (int32_t i = 0; i < in_per_group_; ++i) {
                const float input_scale = output_scale * channel[i];
                const int64_t offset = o * filter_size + int64_t(i) * kernel_area_;
                float *target = out + offset;
                for (int32_t s = 0; s < kernel_area_; ++s) {
                    float mixed = 0.0f;
                    for (int32_t j = 0; j < kernel_num_; ++j) mixed += a.kernel[j] * bank[j * bank_stride + offset + s];
                    target[s] = mixed * a.spatial[s] * input_scale;
                }
            }
        }
    }

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
        ws->plain_weights = memory(plain_weights_md_, engine);
        if (reorder_) {
            ws->weights = memory(weights_md_, engine);
            ws->reorder_scratchpad = memory(reorder_pd_.scratchpad_desc(), engine);
        }
        ws->conv_scratchpad = memory(conv_pd_.scratchpad_desc(), engine);
        if (reorder_) {
            ws->reorder_args = {{DNNL_ARG_FROM, ws->plain_weights},
                                {DNNL_ARG_TO, ws->weights},
                                {DNNL_ARG_SCRATCHPAD, ws->reorder_scratchpad}};
        }
        ws->conv_args = {{DNNL_ARG_SRC, ws->src},
                         {DNNL_ARG_WEIGHTS, reorder_ ? ws->weights : ws->plain_weights},
                         {DNNL_ARG_DST, ws->dst},
                         {DNNL_ARG_SCRATCHPAD, ws->conv_scratchpad}};
        if (bias_) ws->conv_args.emplace(DNNL_ARG_BIAS, bias_);
        ws->attention = attention_.make_vectors();
        return ws;
    }

    void release(std::unique_ptr<Workspace> ws) {
        std::lock_guard<std::mutex> lock(idle_mutex_);
        idle_.push_back(std::move(ws));
    }

    const Attention &attention_;
    const memory &bias_;
    memory::desc src_md_, dst_md_, plain_weights_md_, weights_md_;
    dnnl::convolution_forward::primitive_desc conv_pd_;
    dnnl::convolution_forward conv_;
    dnnl::reorder::primitive_desc reorder_pd_;
    dnnl::reorder reorder_;
    int64_t src_stride_, dst_stride_, spatial_size_;
    int32_t out_planes_, in_per_group_, out_per_group_, kernel_area_, kernel_num_;
    std::mutex idle_mutex_;
    std::vector<std::unique_ptr<Workspace>> idle_;
};

// Restores the calling thread's OpenMP thread count when a forward with a layer-specific count ends.
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

class CpuLayer final : public Layer {
public:
    CpuLayer(const odconv_config_t &c, const odconv_weights_t &w)
        : config_(c), bank_(w.weight), attention_(c, w), bn_scale_(c.out_planes, 1.0f) {
        if (c.has_batch_norm) {
            std::vector<float> shift(c.out_planes);
            for (int32_t o = 0; o < c.out_planes; ++o) {
                bn_scale_[o] = w.bn_weight[o] / std::sqrt(w.bn_var[o] + c.bn_eps);
                shift[o] = w.bn_bias[o] - w.bn_mean[o] * bn_scale_[o];
            }
            bias_ = memory({{c.out_planes}, memory::data_type::f32, tag::x}, cpu_engine());
            std::copy(shift.begin(), shift.end(), static_cast<float *>(bias_.get_data_handle()));
        }
    }

    void forward(int64_t batch, int64_t height, int64_t width, const float *input, float *output) override {
        ThreadCountScope threads(num_threads());
        plan(height, width, omp_get_max_threads()).run(batch, input, output, bank_, bn_scale_.data());
    }

private:
    // oneDNN sizes its kernels' work split for the thread count at creation, so plans are per count.
    Plan &plan(int64_t height, int64_t width, int threads) {
        std::lock_guard<std::mutex> lock(plans_mutex_);
        auto &slot = plans_[std::make_tuple(height, width, threads)];
        if (!slot) slot = std::make_unique<Plan>(config_, bias_, height, width, attention_);
        return *slot;
    }

    const odconv_config_t config_;
    const float *bank_;
    const Attention attention_;
    std::vector<float> bn_scale_;
    memory bias_;
    std::mutex plans_mutex_;
    std::map<std::tuple<int64_t, int64_t, int>, std::unique_ptr<Plan>> plans_;
};

}  // namespace

std::unique_ptr<Layer> create_layer(const odconv_config_t &config, const odconv_weights_t &weights) {
    return std::make_unique<CpuLayer>(config, weights);
}

const char *backend_description() {
    static const std::string description = [] {
        const dnnl_version_t *v = dnnl_version();
        std::string runtime = v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP"
                              : v->cpu_runtime == DNNL_RUNTIME_TBB ? "TBB"
                              : v->cpu_runtime == DNNL_RUNTIME_SEQ ? "sequential"
                                                                   : "other";
        return "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
               std::to_string(v->patch) + " (cpu runtime: " + runtime + ")";
    }();
    return description.c_str();
}

}  // namespace odconv::cpu
