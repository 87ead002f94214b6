#include "static_conv.hpp"

#include <algorithm>
#include <unordered_map>

#include "oneapi/dnnl/dnnl.hpp"

#include "../common/config.hpp"
#include "onednn_util.hpp"

namespace odconv::cpu {
namespace {

using dnnl::memory;

class OneDnnStaticConv final : public StaticConvolution {
public:
    OneDnnStaticConv(const odconv_config_t &c, const float *weight, const float *bias, int64_t batch, int64_t height,
                     int64_t width, int32_t layout, int32_t num_threads, uint32_t flags)
        : num_threads_(num_threads) {
        ThreadCountScope threads(num_threads_);
        const auto &engine = cpu_engine();
        const memory::desc src_md = activation_desc(batch, c.in_planes, height, width, layout);
        const memory::desc dst_md = activation_desc(batch, c.out_planes, output_extent(c, height, "height"),
                                                    output_extent(c, width, "width"), layout);
        const memory::desc bias_md({c.out_planes}, memory::data_type::f32, memory::format_tag::x);
        // Computing in oneDNN's preferred layout, reordering from and to NCHW, and in the layer's types, as
        // odconv's layers do.
        const memory::data_type type = compute_type(flags);
        const auto pd = convolution_pd(c, compute_desc(src_md, layout, type), weights_desc(c, memory::format_tag::any, type),
                                       bias ? &bias_md : nullptr, compute_desc(dst_md, layout, memory::data_type::f32),
                                       convolution_attr(c));
        conv_ = dnnl::convolution_forward(pd);
        src_bridge_ = LayoutBridge(src_md, pd.src_desc());
        dst_bridge_ = LayoutBridge(pd.dst_desc(), dst_md);
        stream_ = dnnl::stream(engine);

        // The weights are reordered once, at creation: what a static convolution never pays per call.
        memory plain(weights_desc(c, memory::format_tag::oihw, memory::data_type::f32), engine, const_cast<float *>(weight));
        weights_ = memory(pd.weights_desc(), engine);
        dnnl::reorder(plain, weights_).execute(stream_, plain, weights_);
        user_src_ = memory(src_md, engine, DNNL_MEMORY_NONE);
        user_dst_ = memory(dst_md, engine, DNNL_MEMORY_NONE);
        src_ = src_bridge_.needed() ? memory(pd.src_desc(), engine) : user_src_;
        dst_ = dst_bridge_.needed() ? memory(pd.dst_desc(), engine) : user_dst_;
        if (src_bridge_.needed()) src_bridge_args_ = src_bridge_.args(user_src_, src_);
        if (dst_bridge_.needed()) dst_bridge_args_ = dst_bridge_.args(dst_, user_dst_);
        scratchpad_ = memory(pd.scratchpad_desc(), engine);
        args_ = {{DNNL_ARG_SRC, src_}, {DNNL_ARG_WEIGHTS, weights_}, {DNNL_ARG_DST, dst_},
                 {DNNL_ARG_SCRATCHPAD, scratchpad_}};
        if (bias) {
            bias_ = memory(bias_md, engine);
            std::copy(bias, bias + c.out_planes, static_cast<float *>(bias_.get_data_handle()));
            args_.emplace(DNNL_ARG_BIAS, bias_);
        }
        stream_.wait();
    }

    void forward(const float *input, float *output) override {
        translating_onednn_errors([&] {
            ThreadCountScope threads(num_threads_);
            user_src_.set_data_handle(const_cast<float *>(input));
            user_dst_.set_data_handle(output);
            if (src_bridge_.needed()) src_bridge_.reorder().execute(stream_, src_bridge_args_);
            conv_.execute(stream_, args_);
            if (dst_bridge_.needed()) dst_bridge_.reorder().execute(stream_, dst_bridge_args_);
            stream_.wait();
        });
    }

private:
    int32_t num_threads_;
    dnnl::convolution_forward conv_;
    dnnl::stream stream_;
    LayoutBridge src_bridge_, dst_bridge_;
    memory weights_, bias_, src_, dst_, user_src_, user_dst_, scratchpad_;
    std::unordered_map<int, memory> args_, src_bridge_args_, dst_bridge_args_;
};

}  // namespace

std::unique_ptr<StaticConvolution> create_static_conv(const odconv_config_t &config, const float *weight, const float *bias,
                                               int64_t batch, int64_t height, int64_t width, int32_t layout,
                                               int32_t num_threads, uint32_t flags) {
    return std::make_unique<OneDnnStaticConv>(config, weight, bias, batch, height, width, layout, num_threads, flags);
}

}  // namespace odconv::cpu
