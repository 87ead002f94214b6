#include "onednn_util.hpp"

#include <cmath>
#include <cstdlib>
#include <string>

#include "../common/config.hpp"

namespace odconv::cpu {

void throw_as_odconv_error(const dnnl::error &e) {
    throw Error(e.status == dnnl_out_of_memory ? ODCONV_STATUS_OUT_OF_MEMORY : ODCONV_STATUS_BACKEND_ERROR,
                std::string("oneDNN: ") + e.what() + " (dnnl_status " + std::to_string(int(e.status)) + ")");
}

using dnnl::memory;
using tag = memory::format_tag;

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

const dnnl::engine &cpu_engine() {
    static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
    return engine;
}

memory::desc activation_desc(int64_t batch, int64_t channels, int64_t height, int64_t width, int32_t layout) {
    return memory::desc({batch, channels, height, width}, memory::data_type::f32,
                        layout == ODCONV_LAYOUT_NHWC ? tag::nhwc : tag::nchw);
}

memory::desc compute_desc(const memory::desc &user, int32_t layout, memory::data_type type) {
    return memory::desc(user.get_dims(), type, layout == ODCONV_LAYOUT_NHWC ? tag::nhwc : tag::any);
}

memory::data_type compute_type(uint32_t flags) {
    return (flags & ODCONV_FLAG_BFLOAT16) != 0 ? memory::data_type::bf16 : memory::data_type::f32;
}

std::optional<std::string> unsupported_reason(uint32_t flags) {
    if ((flags & ODCONV_FLAG_BFLOAT16) == 0) return std::nullopt;
    // oneDNN's ISA values are bit sets, each holding the bits of the sets it extends. oneDNN also runs
    // bfloat16 on plain AVX-512 by emulating the instructions, slower than float32: refused, not offered.
    const auto isa = static_cast<uint32_t>(dnnl::get_effective_cpu_isa());
    const auto has = [isa](dnnl::cpu_isa wanted) { return (isa & uint32_t(wanted)) == uint32_t(wanted); };
    if (has(dnnl::cpu_isa::avx512_core_bf16) || has(dnnl::cpu_isa::avx2_vnni_2)) return std::nullopt;
    return std::string("bfloat16 needs a CPU with AVX512-BF16 (AMD Zen 4 and later, Intel Cooper Lake and later), "
                       "AMX-BF16 or AVX-NE-CONVERT; oneDNN finds ") + cpu_isa() + " here" +
           (std::getenv("ONEDNN_MAX_CPU_ISA") ? std::string(" (ONEDNN_MAX_CPU_ISA=") + std::getenv("ONEDNN_MAX_CPU_ISA") + ")"
                                               : std::string());
}

LayoutBridge::LayoutBridge(const memory::desc &from, const memory::desc &to) : from_(from), to_(to) {
    if (from == to) return;
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    pd_ = dnnl::reorder::primitive_desc(cpu_engine(), from, cpu_engine(), to, attr);
    reorder_ = dnnl::reorder(pd_);
}

std::unordered_map<int, memory> LayoutBridge::args(const memory &from, const memory &to) const {
    return {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}, {DNNL_ARG_SCRATCHPAD, memory(pd_.scratchpad_desc(), cpu_engine())}};
}

memory::desc weights_desc(const odconv_config_t &c, tag format, memory::data_type type) {
    const memory::dims dims = c.groups == 1 ? memory::dims{c.out_planes, c.in_planes, c.kernel_size, c.kernel_size}
                                            : memory::dims{c.groups, c.out_planes / c.groups, c.in_planes / c.groups,
                                                           c.kernel_size, c.kernel_size};
    if (format == tag::oihw && c.groups != 1) format = tag::goihw;
    return memory::desc(dims, type, format);
}

dnnl::primitive_attr convolution_attr(const odconv_config_t &c) {
    dnnl::post_ops post_ops;
    if (c.activation == ODCONV_ACTIVATION_RELU)
        post_ops.append_eltwise(dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
    else if (c.activation == ODCONV_ACTIVATION_SILU)
        post_ops.append_eltwise(dnnl::algorithm::eltwise_swish, 1.0f, 0.0f);
    dnnl::primitive_attr attr;
    attr.set_post_ops(post_ops);
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    return attr;
}

dnnl::convolution_forward::primitive_desc convolution_pd(const odconv_config_t &c, const memory::desc &src,
                                                         const memory::desc &weights, const memory::desc *bias,
                                                         const memory::desc &dst, const dnnl::primitive_attr &attr) {
    return convolution_pd(c, src, weights, bias, dst, attr, c.padding, c.padding);
}

dnnl::convolution_forward::primitive_desc convolution_pd(const odconv_config_t &c, const memory::desc &src,
                                                         const memory::desc &weights, const memory::desc *bias,
                                                         const memory::desc &dst, const dnnl::primitive_attr &attr,
                                                         int64_t padding_top, int64_t padding_bottom) {
    const memory::dims strides{c.stride, c.stride};
    // Dilation means nothing to a 1x1 kernel; oneDNN 3.13's brgemm convolution crashes on some such
    // shapes (k 1, stride 2, padding 3, dilation 2, width 1), so it never sees one.
    const memory::dim dilation = c.kernel_size == 1 ? 0 : c.dilation - 1;
    const memory::dims dilates{dilation, dilation};
    const memory::dims padding_l{padding_top, c.padding}, padding_r{padding_bottom, c.padding};
    const auto kind = dnnl::prop_kind::forward_inference;
    const auto algorithm = dnnl::algorithm::convolution_direct;
    const auto &engine = cpu_engine();
    auto pd = bias ? dnnl::convolution_forward::primitive_desc(engine, kind, algorithm, src, weights, *bias, dst,
                                                               strides, dilates, padding_l, padding_r, attr)
                   : dnnl::convolution_forward::primitive_desc(engine, kind, algorithm, src, weights, dst, strides,
                                                               dilates, padding_l, padding_r, attr);
    // oneDNN 3.13's brgemm convolutions crash (read out of bounds) on some shapes whose padding is as wide as
    // the dilated kernel, so that whole output rows see only padding (found by RandomConfigurationTest,
    // e.g. k 2, stride 2, padding 3, dilation 2 on a width-1 input). Real networks never pad that much, so
    // such shapes take the next implementation oneDNN offers: slower, correct.
    const int64_t extent = (c.kernel_size - 1) * (dilation + 1) + 1;
    if (c.padding >= extent) {
        while (std::string(pd.impl_info_str()).find("brg") != std::string::npos && pd.next_impl()) {
        }
    }
    return pd;
}

FoldedBatchNorm fold_batch_norm(const odconv_config_t &c, const float *weight, const float *bias, const float *mean,
                                const float *var) {
    FoldedBatchNorm bn;
    bn.scale.assign(c.out_planes, 1.0f);
    bn.shift.assign(c.out_planes, 0.0f);
    bn.present = c.has_batch_norm != 0;
    if (bn.present) {
        for (int32_t o = 0; o < c.out_planes; ++o) {
            bn.scale[o] = weight[o] / std::sqrt(var[o] + c.bn_eps);
            bn.shift[o] = bias[o] - mean[o] * bn.scale[o];
        }
    }
    return bn;
}

}  // namespace odconv::cpu
