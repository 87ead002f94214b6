#include "cpu_layer.hpp"

#include <algorithm>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
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

// Elements of the kernel bank (odconv_weights_t.weight), as the parameter table shapes it.
int64_t bank_size(const odconv_config_t &c) {
    for (int32_t i = 0; i < kParameterCount; ++i)
        if (std::strcmp(kParameters[i].name, "weight") == 0) return kParameters[i].shape(c).element_count();
    return 0;  // unreachable: every layer has a weight
}

// The bank (or the part of it for some output channels) in the order an aggregation reads it, BatchNorm scale
// folded in: one float32 copy of it per kernel, as large as the part of the layer's bank it covers.
struct BankSet {
    std::vector<memory> banks;            // one per kernel of the bank
    std::vector<const float *> pointers;  // their data
};

// A layer's kernel bank, as the plans' aggregations read it: one set per aggregation layout and output channels,
// shared by every plan that aggregates in that layout (plans are per input size, layout and thread count; a set
// per plan made a layer hold up to dozens of copies of its bank when it ran at many input sizes). The layer's
// copy of the bank, made at creation, lasts until the first set of the whole bank is laid out; that set then
// stays for the layer's life and the other layouts are laid out from it, so a layer whose plans share a layout
// holds its bank once. Other sets live while a plan uses them.
class BankSets {
public:
    // bank: [kernel_num, out, in / groups, k, k], copied.
    BankSets(const odconv_config_t &c, const float *bank)
        : config_(c), copied_(bank, bank + bank_size(c)) {}

    // The set for the aggregation `runs` of kernels in `layout`, for output channels [out_first, out_first +
    // out_count) (runs of that part's shape); bn_scale: [out_planes], folded in.
    std::shared_ptr<const BankSet> get(const memory::desc &layout, const WeightRuns &runs, int32_t out_first,
                                       int32_t out_count, const std::vector<float> &bn_scale) {
        std::lock_guard<std::mutex> lock(mutex_);
        entries_.erase(std::remove_if(entries_.begin(), entries_.end(), [](const Entry &e) { return e.set.expired(); }),
                       entries_.end());
        for (const Entry &e : entries_)
            if (e.out_first == out_first && e.out_count == out_count && e.layout == layout)
                if (auto set = e.set.lock()) return set;

        auto set = std::make_shared<BankSet>();
        const memory::desc bank_md({runs.runs * runs.run_length}, memory::data_type::f32, tag::x);
        std::vector<float> plain(size_t(out_count) * filter_size(config_));
        for (int32_t j = 0; j < config_.kernel_num; ++j) {
            scaled_plain(j, out_first, out_count, bn_scale, plain.data());
            memory target(bank_md, cpu_engine());
            runs.scatter(plain.data(), static_cast<float *>(target.get_data_handle()));
            set->banks.push_back(target);
            set->pointers.push_back(static_cast<const float *>(target.get_data_handle()));
        }
        if (!whole_ && out_first == 0 && out_count == config_.out_planes) {
            whole_ = set;
            whole_runs_ = runs;
            std::vector<float>().swap(copied_);
        }
        entries_.push_back({layout, out_first, out_count, set});
        return set;
    }

private:
    static int64_t filter_size(const odconv_config_t &c) {
        return int64_t(c.in_planes / c.groups) * c.kernel_size * c.kernel_size;
    }

    // Kernel j's filters for output channels [out_first, out_first + out_count), BatchNorm scale folded in, plain.
    void scaled_plain(int32_t j, int32_t out_first, int32_t out_count, const std::vector<float> &bn_scale,
                      float *dst) const {
        const int64_t size = filter_size(config_);
        if (whole_) {  // already scaled
            std::vector<float> whole(size_t(config_.out_planes) * size);
            whole_runs_->gather(whole_->pointers[j], whole.data());
            std::copy(whole.begin() + out_first * size, whole.begin() + (out_first + out_count) * size, dst);
            return;
        }
        const float *bank = copied_.data() + (int64_t(j) * config_.out_planes + out_first) * size;
        for (int32_t o = 0; o < out_count; ++o)
            for (int64_t t = 0; t < size; ++t) dst[o * size + t] = bank[o * size + t] * bn_scale[out_first + o];
    }

    struct Entry {
        memory::desc layout;  // the kernel's layout the set's order follows
        int32_t out_first, out_count;
        std::weak_ptr<const BankSet> set;
    };
    const odconv_config_t config_;
    std::vector<float> copied_;             // until whole_ exists
    std::shared_ptr<const BankSet> whole_;  // the first set of the whole bank, once laid out
    std::optional<WeightRuns> whole_runs_;  // its order
    std::mutex mutex_;
    std::vector<Entry> entries_;
};

// The static parts of a layer that every plan reads: attention, folded BatchNorm, the bank.
struct LayerParameters {
    odconv_config_t config;
    // Copied at creation (as the attention and BatchNorm are): once the layer exists it reads none of the
    // caller's buffers, so a model file may be unmapped, or changed, under it.
    mutable BankSets bank;  // internally synchronized
    Attention attention;
    FoldedBatchNorm bn;
    memory bias;        // [out] BatchNorm shift, the convolution's bias (empty without BatchNorm)
    memory::data_type compute_type;  // of the convolution's input and weights (see ODCONV_FLAG_BFLOAT16)
};

// What one forward call writes to build a sample's kernel: the attention, the aggregation's factors, the
// kernel itself.
struct KernelWorkspace {
    AttentionVectors attention;
    std::vector<float> run_factors, lane_factors;
    memory weights, plain_weights, reorder_scratchpad;
    std::unordered_map<int, memory> reorder_args;
};

// The per-sample kernel in one convolution's weight layout, or the part of it for output channels
// [out_first, out_first + out_count) (a layer without groups only).
//
// Per sample, the kernel is sum_j kernel[j] * (bn_scale * bank_j), scaled by the filter attention per
// output channel and by the channel and spatial attentions per input channel and tap; the BatchNorm scale
// is folded into the stored bank once. The aggregation writes the primitive's layout in one pass where
// WeightRuns can walk it; otherwise it writes plain weights and a oneDNN reorder moves them.
class KernelAggregation {
public:
    KernelAggregation(const LayerParameters &p, const memory::desc &weights_md, int32_t out_first = 0,
                      int32_t out_count = -1)
        : p_(p), weights_md_(weights_md), out_first_(out_first) {
        odconv_config_t c = p.config;
        if (out_count >= 0) c.out_planes = out_count;  // the part's own shape
        const auto &engine = cpu_engine();
        const int32_t groups = c.groups, out_per_group = c.out_planes / c.groups, in_per_group = c.in_planes / c.groups;
        std::optional<WeightRuns> runs = WeightRuns::of(weights_md_, groups, out_per_group, in_per_group, c.kernel_size);
        if (!runs) {  // aggregate in plain layout, then let oneDNN reorder each call
            runs = WeightRuns::plain(groups, out_per_group, in_per_group, c.kernel_size);
            dnnl::primitive_attr reorder_attr;
            reorder_attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
            reorder_pd_ = dnnl::reorder::primitive_desc(
                engine, weights_desc(c, tag::oihw, memory::data_type::f32), engine, weights_md_, reorder_attr);
            reorder_ = dnnl::reorder(reorder_pd_);
        }
        runs_ = std::move(*runs);

        // The bank, BatchNorm scale folded in, in float32 in the layout the aggregation writes (whatever type it
        // writes), so that only the aggregated kernel is ever rounded; shared with the plans that aggregate alike.
        const memory::desc aggregated_md = reorder_ ? reorder_pd_.src_desc() : weights_md_;
        bank_set_ = p.bank.get(aggregated_md, runs_, out_first, c.out_planes, p.bn.scale);
    }

    KernelWorkspace make_workspace() const {
        const auto &engine = cpu_engine();
        KernelWorkspace k;
        k.attention = p_.attention.make_vectors();
        k.run_factors.assign(runs_.run_factor_count(), 0.0f);
        k.lane_factors.assign(runs_.lane_factor_count(), 0.0f);
        k.weights = memory(weights_md_, engine);
        // Padding elements of blocked layouts read as zero; the aggregation writes zeros there too.
        std::memset(k.weights.get_data_handle(), 0, weights_md_.get_size());
        if (reorder_) {
            k.plain_weights = memory(reorder_pd_.src_desc(), engine);
            k.reorder_scratchpad = memory(reorder_pd_.scratchpad_desc(), engine);
            k.reorder_args = {{DNNL_ARG_FROM, k.plain_weights},
                              {DNNL_ARG_TO, k.weights},
                              {DNNL_ARG_SCRATCHPAD, k.reorder_scratchpad}};
        }
        return k;
    }

    // The attention of the sample whose means are in k.attention.pooled, and the aggregation's factors.
    void attend(KernelWorkspace &k) const {
        p_.attention.compute(k.attention);
        set_factors(k, k.attention);
    }

    // The aggregation's factors from a sample's attention, computed by another part's attend, and its kernel
    // attention.
    void set_factors(KernelWorkspace &k, const AttentionVectors &a) const {
        runs_.set_factors(a.filter.data() + out_first_, a.channel.data(), a.spatial.data(), k.run_factors.data(),
                          k.lane_factors.data());
        if (&k.attention != &a) std::copy(a.kernel.begin(), a.kernel.end(), k.attention.kernel.begin());
    }

    // The whole kernel on an OpenMP team of up to `threads`, then the reorder if any.
    void aggregate(KernelWorkspace &k, dnnl::stream &stream, int threads) const {
        if (aggregates_bfloat16())
            aggregate_kernel(inputs(k), runs_, static_cast<uint16_t *>(k.weights.get_data_handle()), threads);
        else
            aggregate_kernel(inputs(k), runs_, static_cast<float *>(target(k).get_data_handle()), threads);
        finish(k, stream);
    }

    // Part `part` of `parts` on the calling thread; once every part is written, finish.
    void aggregate_part(KernelWorkspace &k, int64_t part, int64_t parts) const {
        if (aggregates_bfloat16())
            aggregate_kernel_part(inputs(k), runs_, part, parts, static_cast<uint16_t *>(k.weights.get_data_handle()));
        else
            aggregate_kernel_part(inputs(k), runs_, part, parts, static_cast<float *>(target(k).get_data_handle()));
    }

    void finish(KernelWorkspace &k, dnnl::stream &stream) const {
        if (reorder_) reorder_.execute(stream, k.reorder_args);
    }

private:
    bool aggregates_bfloat16() const { return !reorder_ && p_.compute_type != memory::data_type::f32; }
    const memory &target(const KernelWorkspace &k) const { return reorder_ ? k.plain_weights : k.weights; }
    AggregationInputs inputs(const KernelWorkspace &k) const {
        return {bank_set_->pointers.data(), k.attention.kernel.data(), k.run_factors.data(), k.lane_factors.data(),
                p_.config.kernel_num};
    }

    const LayerParameters &p_;
    memory::desc weights_md_;
    int32_t out_first_;
    WeightRuns runs_;
    std::shared_ptr<const BankSet> bank_set_;
    dnnl::reorder::primitive_desc reorder_pd_;
    dnnl::reorder reorder_;
};

// Runs body(i) for every i in [0, count) as tasks of the caller's pool, each on one thread; rethrows the
// first failure once every task has returned (nothing may leave a task: the pool is C).
template <typename Body>
void run_tasks(const odconv_thread_pool_t &pool, size_t count, Body &&body) {
    struct Context {
        Body *body;
        std::mutex mutex;
        std::exception_ptr failure;
    } context{&body, {}, {}};
    const odconv_task_fn task = [](void *opaque, size_t index) {
        Context &c = *static_cast<Context *>(opaque);
        try {
            ThreadCountScope one(1);  // oneDNN runs a primitive on its calling thread alone
            (*c.body)(index);
        } catch (...) {
            std::lock_guard<std::mutex> lock(c.mutex);
            if (!c.failure) c.failure = std::current_exception();
        }
    };
    pool.parallel_for(pool.pool_context, task, &context, count);
    if (context.failure) std::rethrow_exception(context.failure);
}

// A convolution's memories and arguments for one workspace of a plan: input and output the plan's own buffers
// where it gives them, else views a run points at the tensors; the weights are the kernel the workspace's
// aggregation writes; the bias (empty without BatchNorm) is the layer's, or the part of it for the
// convolution's channels.
struct BoundConvolution {
    dnnl::stream stream;
    memory src, dst, scratchpad;
    std::unordered_map<int, memory> args;

    static BoundConvolution of(const dnnl::convolution_forward::primitive_desc &pd, const memory &weights,
                               const memory &bias, memory src = memory(), memory dst = memory()) {
        const auto &engine = cpu_engine();
        BoundConvolution bound;
        bound.stream = dnnl::stream(engine);
        bound.src = src ? src : memory(pd.src_desc(), engine, DNNL_MEMORY_NONE);
        bound.dst = dst ? dst : memory(pd.dst_desc(), engine, DNNL_MEMORY_NONE);
        bound.scratchpad = memory(pd.scratchpad_desc(), engine);
        bound.args = {{DNNL_ARG_SRC, bound.src},
                      {DNNL_ARG_WEIGHTS, weights},
                      {DNNL_ARG_DST, bound.dst},
                      {DNNL_ARG_SCRATCHPAD, bound.scratchpad}};
        if (bias) bound.args.emplace(DNNL_ARG_BIAS, bias);
        return bound;
    }
};

// Everything one forward call of a Plan writes besides the output, so that concurrent calls never share state.
struct Workspace {
    // Its src and dst are user_src and user_dst unless the convolution computes in another layout (see
    // LayoutBridge).
    BoundConvolution conv;
    // The caller's tensors.
    memory user_src, user_dst;
    std::unordered_map<int, memory> src_bridge_args, dst_bridge_args;
    KernelWorkspace kernel;
    std::vector<float> pool_partials;  // [nhwc_pool_chunks(pixels)][in_planes], NHWC pooling
};

// The primitives for one input size, layout and thread count, the kernel aggregation for them, and a pool of
// workspaces. The BatchNorm shift is the convolution's bias and the activation its post-op: the primitive is
// the one a static convolution of this shape uses.
class Plan {
public:
    Plan(const LayerParameters &p, int64_t height, int64_t width, int32_t layout, int threads)
        : p_(p), layout_(layout), threads_(threads) {
        ThreadCountScope scope(threads);  // oneDNN sizes the primitives for the count the plan is keyed by
        const odconv_config_t &c = p.config;
        const int64_t out_height = output_extent(c, height, "height");
        const int64_t out_width = output_extent(c, width, "width");
        src_md_ = activation_desc(1, c.in_planes, height, width, layout);
        dst_md_ = activation_desc(1, c.out_planes, out_height, out_width, layout);
        const memory::desc bias_md({c.out_planes}, memory::data_type::f32, tag::x);
        // In bfloat16 only the input and the weights are: oneDNN accumulates in float32 and writes float32.
        conv_pd_ = convolution_pd(c, compute_desc(src_md_, layout, p.compute_type),
                                  weights_desc(c, tag::any, p.compute_type), p.bn.present ? &bias_md : nullptr,
                                  compute_desc(dst_md_, layout, memory::data_type::f32), convolution_attr(c));
        conv_ = dnnl::convolution_forward(conv_pd_);
        src_bridge_ = LayoutBridge(src_md_, conv_pd_.src_desc());
        dst_bridge_ = LayoutBridge(conv_pd_.dst_desc(), dst_md_);
        kernel_.emplace(p, conv_pd_.weights_desc());
        src_stride_ = int64_t(c.in_planes) * height * width;
        dst_stride_ = int64_t(c.out_planes) * out_height * out_width;
        pixels_ = height * width;
    }

    // The samples one after another, each using every thread of the plan.
    void run(int64_t batch, const float *input, float *output) {
        std::unique_ptr<Workspace> workspace = acquire();
        for (int64_t n = 0; n < batch; ++n) run_sample(*workspace, n, input, output);
        workspace->conv.stream.wait();
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
                workspace->conv.stream.wait();
                release(std::move(workspace));
            } catch (...) {  // nothing may leave an OpenMP region: rethrown below
                std::lock_guard<std::mutex> lock(failure_mutex);
                if (!failure) failure = std::current_exception();
            }
        }
        if (failure) std::rethrow_exception(failure);
    }

    // The same with each sample a task of the caller's pool (a single-thread plan).
    void run_samples_on(const odconv_thread_pool_t &pool, int64_t batch, const float *input, float *output) {
        run_tasks(pool, size_t(batch), [&](size_t n) {
            std::unique_ptr<Workspace> workspace = acquire();
            run_sample(*workspace, int64_t(n), input, output);
            workspace->conv.stream.wait();
            release(std::move(workspace));
        });
    }

private:
    void run_sample(Workspace &ws, int64_t n, const float *input, float *output) {
        const odconv_config_t &c = p_.config;
        const float *x = input + n * src_stride_;
        float *pooled = ws.kernel.attention.pooled.data();
        if (layout_ == ODCONV_LAYOUT_NHWC)
            average_pool_nhwc(x, c.in_planes, pixels_, pooled, ws.pool_partials.data(), threads_);
        else
            average_pool_nchw(x, c.in_planes, pixels_, pooled, threads_);
        kernel_->attend(ws.kernel);
        kernel_->aggregate(ws.kernel, ws.conv.stream, threads_);
        ws.user_src.set_data_handle(const_cast<float *>(x));
        ws.user_dst.set_data_handle(output + n * dst_stride_);
        if (src_bridge_.needed()) src_bridge_.reorder().execute(ws.conv.stream, ws.src_bridge_args);
        conv_.execute(ws.conv.stream, ws.conv.args);
        if (dst_bridge_.needed()) dst_bridge_.reorder().execute(ws.conv.stream, ws.dst_bridge_args);
    }

    std::unique_ptr<Workspace> acquire() {
        if (auto idle = idle_.take()) return idle;
        const auto &engine = cpu_engine();
        auto ws = std::make_unique<Workspace>();
        ws->user_src = memory(src_md_, engine, DNNL_MEMORY_NONE);
        ws->user_dst = memory(dst_md_, engine, DNNL_MEMORY_NONE);
        ws->kernel = kernel_->make_workspace();
        ws->conv = BoundConvolution::of(conv_pd_, ws->kernel.weights, p_.bias,
                                        src_bridge_.needed() ? memory(conv_pd_.src_desc(), engine) : ws->user_src,
                                        dst_bridge_.needed() ? memory(conv_pd_.dst_desc(), engine) : ws->user_dst);
        if (src_bridge_.needed()) ws->src_bridge_args = src_bridge_.args(ws->user_src, ws->conv.src);
        if (dst_bridge_.needed()) ws->dst_bridge_args = dst_bridge_.args(ws->conv.dst, ws->user_dst);
        ws->pool_partials.assign(size_t(nhwc_pool_chunks(pixels_)) * p_.config.in_planes, 0.0f);
        return ws;
    }

    void release(std::unique_ptr<Workspace> ws) { idle_.give(std::move(ws)); }

    const LayerParameters &p_;
    const int32_t layout_;
    const int threads_;
    memory::desc src_md_, dst_md_;
    dnnl::convolution_forward::primitive_desc conv_pd_;
    dnnl::convolution_forward conv_;
    LayoutBridge src_bridge_, dst_bridge_;
    std::optional<KernelAggregation> kernel_;
    int64_t src_stride_, dst_stride_, pixels_;
    IdlePool<Workspace> idle_;
};

// Buffers for the activations a BandedPlan keeps in the convolution's layout, shared by every layer's plans and
// handed out most recently returned first: a runtime runs one node after another, so each node's buffers are
// memory the node before it has just used, still in cache, rather than memory last touched a whole inference
// ago (on the 2-core development machine, writing 800 kB into memory out of cache took 4x as long).
class ScratchBuffers {
public:
    struct AlignedDelete {
        void operator()(char *p) const { ::operator delete[](p, std::align_val_t(kAlignment)); }
    };
    struct Lease {
        std::unique_ptr<char[], AlignedDelete> buffer;
        size_t bytes = 0;
    };

    static ScratchBuffers &shared() {
        static ScratchBuffers *buffers = new ScratchBuffers;  // never destroyed: plans may outlive static destructors
        return *buffers;
    }

    Lease take(size_t bytes) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            for (size_t i = idle_.size(); i-- > 0;) {
                if (idle_[i].bytes >= bytes) {
                    Lease lease = std::move(idle_[i]);
                    idle_.erase(idle_.begin() + std::ptrdiff_t(i));
                    return lease;
                }
            }
        }
        // Aligned as oneDNN aligns its own buffers.
        const size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
        return Lease{std::unique_ptr<char[], AlignedDelete>(
                         static_cast<char *>(::operator new[](rounded, std::align_val_t(kAlignment)))),
                     rounded};
    }

    void give(Lease lease) {
        std::lock_guard<std::mutex> lock(mutex_);
        idle_.push_back(std::move(lease));
        if (idle_.size() > kMaxIdle) idle_.erase(idle_.begin());  // the least recently used
    }

private:
    static constexpr size_t kMaxIdle = 8;
    static constexpr size_t kAlignment = 64;
    std::mutex mutex_;
    std::vector<Lease> idle_;
};

// A move's memories and arguments. The memories see the whole tensors through the move's views (the views carry
// the offsets); a plan's run points them at the tensors.
struct BoundMove {
    memory from, to;
    std::unordered_map<int, memory> args;

    static BoundMove of(const LayoutBridge &move) {
        BoundMove bound;
        if (!move.needed()) return bound;
        bound.from = memory(move.from_desc(), cpu_engine(), DNNL_MEMORY_NONE);
        bound.to = memory(move.to_desc(), cpu_engine(), DNNL_MEMORY_NONE);
        bound.args = move.args(bound.from, bound.to);
        return bound;
    }
};

// oneDNN's reference (non-JIT) implementations, many times slower than its kernels.
bool is_reference(const dnnl::convolution_forward::primitive_desc &pd) {
    return std::string(pd.impl_info_str()).rfind("ref", 0) == 0;
}

// A forward split into tasks of a caller's pool (odconv_layer_forward_on_pool), for batches too small to give
// every thread whole samples: per sample, three rounds of `bands` tasks, each task on one thread:
//   1. pool a share of the input's channels (NCHW) or pixels (NHWC), and move a band of its rows into the
//      convolution's layout;
//   then, on the calling thread, the attention;
//   2. aggregate a share of the kernel;
//   3. convolve a band of output rows, with a single-threaded primitive of the band's own (the layer's
//      padding above and below only where the band meets the tensor's edge), and move them into the caller's
//      layout.
// The convolution computes in NHWC, where a band of rows is one contiguous stretch of memory. Pooling and
// aggregation give the same bits as Plan's; the bands' convolutions agree with the whole one to float32
// rounding.
class BandedPlan {
public:
    BandedPlan(const LayerParameters &p, int64_t height, int64_t width, int32_t layout, int bands)
        : p_(p), layout_(layout), height_(height), width_(width) {
        const odconv_config_t &c = p.config;
        out_height_ = output_extent(c, height, "height");
        out_width_ = output_extent(c, width, "width");
        const memory::desc user_src = activation_desc(1, c.in_planes, height, width, layout);
        const memory::desc user_dst = activation_desc(1, c.out_planes, out_height_, out_width_, layout);
        const memory::desc compute_src = compute_desc(user_src, ODCONV_LAYOUT_NHWC, p.compute_type);
        const memory::desc compute_dst = compute_desc(user_dst, ODCONV_LAYOUT_NHWC, memory::data_type::f32);
        move_src_ = user_src != compute_src;
        move_dst_ = user_dst != compute_dst;
        src_row_bytes_ = width * c.in_planes * int64_t(memory::data_type_size(p.compute_type));
        dst_row_bytes_ = out_width_ * c.out_planes * int64_t(sizeof(float));
        src_stride_ = int64_t(c.in_planes) * height * width;
        dst_stride_ = int64_t(c.out_planes) * out_height_ * out_width_;

        const memory::desc bias_md({c.out_planes}, memory::data_type::f32, tag::x);
        const memory::desc *bias = p.bn.present ? &bias_md : nullptr;
        const dnnl::primitive_attr attr = convolution_attr(c);
        const memory::desc any_weights = weights_desc(c, tag::any, p.compute_type);
        const auto whole = convolution_pd(c, compute_src, any_weights, bias, compute_dst, attr);
        const int64_t extent = int64_t(c.kernel_size - 1) * c.dilation + 1;
        bands = int(std::min<int64_t>(bands, out_height_));
        for (int b = 0; b < bands; ++b) {
            Band band;
            band.out_first = out_height_ * b / bands;
            band.out_last = out_height_ * (b + 1) / bands;
            int64_t in_first = band.out_first * c.stride - c.padding;
            int64_t in_last = (band.out_last - 1) * c.stride - c.padding + extent;
            const int64_t top = std::max<int64_t>(0, -in_first), bottom = std::max<int64_t>(0, in_last - height);
            in_first = std::max<int64_t>(0, in_first);
            in_last = std::min(height, in_last);
            if (in_last <= in_first) {  // a band of padding alone: one band, the whole convolution, instead
                bands_.clear();
                break;
            }
            band.in_first = in_first;
            band.pd = convolution_pd(
                c, memory::desc({1, c.in_planes, in_last - in_first, width}, p.compute_type, tag::nhwc), any_weights,
                bias,
                memory::desc({1, c.out_planes, band.out_last - band.out_first, out_width_}, memory::data_type::f32,
                             tag::nhwc),
                attr, top, bottom);
            // Every band reads the one aggregated kernel, so all must want it in the same layout; and a band
            // must not run slower code than the whole convolution would (oneDNN's reference kernels).
            const bool same_weights = bands_.empty() || band.pd.weights_desc() == bands_.front().pd.weights_desc();
            if (!same_weights || (is_reference(band.pd) && !is_reference(whole))) {
                bands_.clear();
                break;
            }
            bands_.push_back(std::move(band));
        }
        if (bands_.empty()) {
            Band band;
            band.out_first = 0;
            band.out_last = out_height_;
            band.in_first = 0;
            band.pd = whole;
            bands_.push_back(std::move(band));
        }
        kernel_.emplace(p, bands_.front().pd.weights_desc());
        const int64_t count = int64_t(bands_.size());
        for (int64_t b = 0; b < count; ++b) {
            Band &band = bands_[b];
            band.conv = dnnl::convolution_forward(band.pd);
            // The rows this band moves into the convolution's layout, an even share; the convolution of any band
            // reads its neighbours' too, so every move finishes before any convolution starts.
            const int64_t move_first = height * b / count, move_last = height * (b + 1) / count;
            if (move_src_ && move_last > move_first)
                band.src_move = LayoutBridge(rows(user_src, move_first, move_last), rows(compute_src, move_first, move_last));
            if (move_dst_)
                band.dst_move = LayoutBridge(rows(compute_dst, band.out_first, band.out_last),
                                             rows(user_dst, band.out_first, band.out_last));
        }
        compute_src_md_ = compute_src;
        compute_dst_md_ = compute_dst;
    }

    void run(const odconv_thread_pool_t &pool, int64_t batch, const float *input, float *output) {
        std::unique_ptr<Workspace> workspace = acquire();
        for (int64_t n = 0; n < batch; ++n) run_sample(pool, *workspace, input + n * src_stride_, output + n * dst_stride_);
        release(std::move(workspace));
    }

private:
    struct Band {
        int64_t out_first = 0, out_last = 0;  // output rows
        int64_t in_first = 0;                 // the first input row its convolution reads
        dnnl::convolution_forward::primitive_desc pd;
        dnnl::convolution_forward conv;
        LayoutBridge src_move, dst_move;      // not needed() where the layouts agree
    };

    struct BandWorkspace {
        BoundConvolution conv;
        BoundMove src_move, dst_move;
    };

    struct Workspace {
        KernelWorkspace kernel;
        std::vector<float> pool_partials;  // NHWC pooling, as in Plan
        std::vector<BandWorkspace> bands;
    };

    // Rows [first, last) of a (1, C, H, W) tensor described by md, as a view into the whole of it.
    static memory::desc rows(const memory::desc &md, int64_t first, int64_t last) {
        const memory::dims dims = md.get_dims();
        return md.submemory_desc({dims[0], dims[1], last - first, dims[3]}, {0, 0, first, 0});
    }

    void run_sample(const odconv_thread_pool_t &pool, Workspace &ws, const float *x, float *y) {
        const odconv_config_t &c = p_.config;
        const int64_t count = int64_t(bands_.size());
        const int64_t pixels = height_ * width_, chunks = nhwc_pool_chunks(pixels);
        // The whole tensors in the convolution's layout, where they are moved.
        ScratchBuffers &scratch = ScratchBuffers::shared();
        ScratchBuffers::Lease src_lease, dst_lease;
        if (move_src_) src_lease = scratch.take(compute_src_md_.get_size());
        if (move_dst_) dst_lease = scratch.take(compute_dst_md_.get_size());
        char *src = move_src_ ? src_lease.buffer.get() : reinterpret_cast<char *>(const_cast<float *>(x));
        char *dst = move_dst_ ? dst_lease.buffer.get() : reinterpret_cast<char *>(y);
        for (int64_t b = 0; b < count; ++b) {
            BandWorkspace &bw = ws.bands[b];
            if (bands_[b].src_move.needed()) {
                bw.src_move.from.set_data_handle(const_cast<float *>(x));
                bw.src_move.to.set_data_handle(src);
            }
            if (bands_[b].dst_move.needed()) {
                bw.dst_move.from.set_data_handle(dst);
                bw.dst_move.to.set_data_handle(y);
            }
            bw.conv.src.set_data_handle(src + bands_[b].in_first * src_row_bytes_);
            bw.conv.dst.set_data_handle(dst + bands_[b].out_first * dst_row_bytes_);
        }
        float *pooled = ws.kernel.attention.pooled.data();
        run_tasks(pool, size_t(count), [&](size_t b) {
            if (layout_ == ODCONV_LAYOUT_NHWC)
                nhwc_pool_partials(x, c.in_planes, pixels, chunks * b / count, chunks * (b + 1) / count,
                                   ws.pool_partials.data());
            else
                average_pool_nchw_channels(x, c.in_planes * b / count, c.in_planes * (b + 1) / count, pixels, pooled);
            const Band &band = bands_[b];
            if (band.src_move.needed()) band.src_move.reorder().execute(ws.bands[b].conv.stream, ws.bands[b].src_move.args);
        });
        if (layout_ == ODCONV_LAYOUT_NHWC) nhwc_pool_finish(ws.pool_partials.data(), c.in_planes, pixels, pooled);
        kernel_->attend(ws.kernel);
        run_tasks(pool, size_t(count), [&](size_t b) { kernel_->aggregate_part(ws.kernel, int64_t(b), count); });
        kernel_->finish(ws.kernel, ws.bands[0].conv.stream);
        run_tasks(pool, size_t(count), [&](size_t b) {
            const Band &band = bands_[b];
            BandWorkspace &bw = ws.bands[b];
            band.conv.execute(bw.conv.stream, bw.conv.args);
            if (band.dst_move.needed()) band.dst_move.reorder().execute(bw.conv.stream, bw.dst_move.args);
        });
        // The output's buffer last, so that the next node takes it first: its input is this node's output.
        if (move_src_) scratch.give(std::move(src_lease));
        if (move_dst_) scratch.give(std::move(dst_lease));
    }

    std::unique_ptr<Workspace> acquire() {
        if (auto idle = idle_.take()) return idle;
        auto ws = std::make_unique<Workspace>();
        ws->kernel = kernel_->make_workspace();
        ws->pool_partials.assign(size_t(nhwc_pool_chunks(height_ * width_)) * p_.config.in_planes, 0.0f);
        for (const Band &band : bands_) {
            BandWorkspace bw;
            bw.conv = BoundConvolution::of(band.pd, ws->kernel.weights, p_.bias);
            bw.src_move = BoundMove::of(band.src_move);
            bw.dst_move = BoundMove::of(band.dst_move);
            ws->bands.push_back(std::move(bw));
        }
        return ws;
    }

    void release(std::unique_ptr<Workspace> ws) { idle_.give(std::move(ws)); }

    const LayerParameters &p_;
    const int32_t layout_;
    const int64_t height_, width_;
    int64_t out_height_ = 0, out_width_ = 0;
    bool move_src_ = false, move_dst_ = false;
    int64_t src_row_bytes_ = 0, dst_row_bytes_ = 0, src_stride_ = 0, dst_stride_ = 0;
    memory::desc compute_src_md_, compute_dst_md_;
    std::optional<KernelAggregation> kernel_;
    std::vector<Band> bands_;
    IdlePool<Workspace> idle_;
};

// A forward split into tasks of a caller's pool like BandedPlan's, for layers whose kernel outweighs their input
// (many channels on small images: 128 to 256 channels, 3x3, at 20x20), split by output channels instead of rows:
// per sample, two rounds of tasks, each task on one thread:
//   1. pool a share of the input's pixels;
//   then, on the calling thread, the attention;
//   2. per slice of output channels, aggregate the slice's part of the kernel and convolve the whole input with
//      it (a single-threaded primitive of the slice's own), then move the slice into its channels of the output.
// Split by rows, every thread reads the whole kernel just after the other threads have written their parts of
// it (the 20x20 layer above on two threads: 142 µs of a 618 µs forward by rows in the aggregation step alone);
// here a thread convolves with the part it has just written. NHWC float32 input, which the convolution reads
// as it is.
class SlicedPlan {
public:
    // Whether a forward of this size on `threads` threads splits better by output channels than by rows: when
    // the kernel has at least twice the input's elements. Timed on 2 threads, alternating blocks of forwards of
    // the two plans in one process, two runs each: 512 to 512 channels, 3x3 at 7x7 (a kernel 48x the input),
    // 0.70 and 1.00x the time by rows; 1x1 256 to 512 at 7x7 (10x), 0.72 and 0.59x; 3x3 128 to 256 at 20x20
    // (5.8x), 0.82 and 0.97x; the same at 40x40 (1.4x), 1.00 and 1.03x, so by rows.
    static bool suits(const LayerParameters &p, int64_t height, int64_t width, int32_t layout, int threads) {
        const odconv_config_t &c = p.config;
        if (layout != ODCONV_LAYOUT_NHWC || p.compute_type != memory::data_type::f32 || c.groups != 1 || threads < 2 ||
            c.out_planes < kSliceAlignment * threads)
            return false;
        const int64_t kernel = int64_t(c.out_planes) * c.in_planes * c.kernel_size * c.kernel_size;
        return kernel >= 2 * int64_t(c.in_planes) * height * width;
    }

    SlicedPlan(const LayerParameters &p, int64_t height, int64_t width, int32_t layout, int slices)
        : p_(p), height_(height), width_(width) {
        const odconv_config_t &c = p.config;
        const int64_t out_height = output_extent(c, height, "height"), out_width = output_extent(c, width, "width");
        const memory::desc src = activation_desc(1, c.in_planes, height, width, layout);
        const memory::desc user_dst = activation_desc(1, c.out_planes, out_height, out_width, layout);
        const dnnl::primitive_attr attr = convolution_attr(c);
        // Slices start at multiples of kSliceAlignment output channels, so that most weight layouts split into
        // whole blocks.
        const int32_t blocks = c.out_planes / kSliceAlignment;
        size_t dst_bytes = 0;
        for (int s = 0; s < slices; ++s) {
            Slice slice;
            slice.out_first = blocks * s / slices * kSliceAlignment;
            const int32_t out_last = s + 1 == slices ? c.out_planes : blocks * (s + 1) / slices * kSliceAlignment;
            slice.out_count = out_last - slice.out_first;
            odconv_config_t part = c;
            part.out_planes = slice.out_count;
            const memory::desc bias_md({slice.out_count}, memory::data_type::f32, tag::x);
            if (p.bn.present)
                slice.bias = memory(bias_md, cpu_engine(), static_cast<float *>(p.bias.get_data_handle()) + slice.out_first);
            const memory::desc dst({1, slice.out_count, out_height, out_width}, memory::data_type::f32, tag::nhwc);
            slice.pd = convolution_pd(part, src, weights_desc(part, tag::any, p.compute_type),
                                      p.bn.present ? &bias_md : nullptr, dst, attr);
            if (is_reference(slice.pd)) {  // no faster than one thread on the whole layer: split by rows instead
                rows_ = std::make_shared<BandedPlan>(p, height, width, layout, slices);
                slices_.clear();
                return;
            }
            slice.conv = dnnl::convolution_forward(slice.pd);
            slice.kernel.emplace(p, slice.pd.weights_desc(), slice.out_first, slice.out_count);
            slice.dst_move = LayoutBridge(dst, user_dst.submemory_desc({1, slice.out_count, out_height, out_width},
                                                                       {0, slice.out_first, 0, 0}));
            slice.dst_offset = dst_bytes;
            dst_bytes += (dst.get_size() + kDstAlignment - 1) / kDstAlignment * kDstAlignment;
            slices_.push_back(std::move(slice));
        }
        dst_bytes_ = dst_bytes;
        src_stride_ = int64_t(c.in_planes) * height * width;
        dst_stride_ = int64_t(c.out_planes) * out_height * out_width;
    }

    void run(const odconv_thread_pool_t &pool, int64_t batch, const float *input, float *output) {
        if (rows_) return rows_->run(pool, batch, input, output);
        std::unique_ptr<Workspace> workspace = acquire();
        for (int64_t n = 0; n < batch; ++n) run_sample(pool, *workspace, input + n * src_stride_, output + n * dst_stride_);
        release(std::move(workspace));
    }

private:
    // Whole blocks of oneDNN's float32 weight layouts of 8 and 16 output channels; in others (AVX2's brgemm
    // kernels also block by 24) a slice pads its last block, as the whole layer does.
    static constexpr int32_t kSliceAlignment = 16;
    static constexpr size_t kDstAlignment = 64;

    struct Slice {
        int32_t out_first = 0, out_count = 0;
        memory bias;  // the layer's bias for these channels (empty without BatchNorm)
        dnnl::convolution_forward::primitive_desc pd;
        dnnl::convolution_forward conv;
        std::optional<KernelAggregation> kernel;
        LayoutBridge dst_move;  // the slice's own output into its channels of the caller's
        size_t dst_offset = 0;  // of the slice's output in the slices' buffer
    };

    struct SliceWorkspace {
        KernelWorkspace kernel;
        BoundConvolution conv;
        BoundMove dst_move;
    };

    struct Workspace {
        std::vector<float> pool_partials;  // NHWC pooling, as in Plan
        std::vector<SliceWorkspace> slices;
    };

    void run_sample(const odconv_thread_pool_t &pool, Workspace &ws, const float *x, float *y) {
        const odconv_config_t &c = p_.config;
        const int64_t pixels = height_ * width_, chunks = nhwc_pool_chunks(pixels);
        const size_t count = slices_.size();
        ScratchBuffers &scratch = ScratchBuffers::shared();
        ScratchBuffers::Lease dst_lease = scratch.take(dst_bytes_);
        for (size_t s = 0; s < count; ++s) {
            SliceWorkspace &sw = ws.slices[s];
            char *dst = dst_lease.buffer.get() + slices_[s].dst_offset;
            sw.conv.src.set_data_handle(const_cast<float *>(x));
            sw.conv.dst.set_data_handle(dst);
            if (slices_[s].dst_move.needed()) {
                sw.dst_move.from.set_data_handle(dst);
                sw.dst_move.to.set_data_handle(y);
            } else {  // its own output is already a view of the caller's (a 1x1 output, the first slice)
                sw.conv.dst.set_data_handle(y + slices_[s].out_first);
            }
        }
        run_tasks(pool, count, [&](size_t s) {
            nhwc_pool_partials(x, c.in_planes, pixels, chunks * int64_t(s) / int64_t(count),
                               chunks * int64_t(s + 1) / int64_t(count), ws.pool_partials.data());
        });
        KernelWorkspace &first = ws.slices[0].kernel;
        nhwc_pool_finish(ws.pool_partials.data(), c.in_planes, pixels, first.attention.pooled.data());
        slices_[0].kernel->attend(first);
        for (size_t s = 1; s < count; ++s) slices_[s].kernel->set_factors(ws.slices[s].kernel, first.attention);
        run_tasks(pool, count, [&](size_t s) {
            const Slice &slice = slices_[s];
            SliceWorkspace &sw = ws.slices[s];
            slice.kernel->aggregate_part(sw.kernel, 0, 1);
            slice.kernel->finish(sw.kernel, sw.conv.stream);
            slice.conv.execute(sw.conv.stream, sw.conv.args);
            if (slice.dst_move.needed()) slice.dst_move.reorder().execute(sw.conv.stream, sw.dst_move.args);
        });
        scratch.give(std::move(dst_lease));
    }

    std::unique_ptr<Workspace> acquire() {
        if (auto idle = idle_.take()) return idle;
        auto ws = std::make_unique<Workspace>();
        ws->pool_partials.assign(size_t(nhwc_pool_chunks(height_ * width_)) * p_.config.in_planes, 0.0f);
        for (const Slice &slice : slices_) {
            SliceWorkspace sw;
            sw.kernel = slice.kernel->make_workspace();
            sw.conv = BoundConvolution::of(slice.pd, sw.kernel.weights, slice.bias);
            sw.dst_move = BoundMove::of(slice.dst_move);
            ws->slices.push_back(std::move(sw));
        }
        return ws;
    }

    void release(std::unique_ptr<Workspace> ws) { idle_.give(std::move(ws)); }

    const LayerParameters &p_;
    const int64_t height_, width_;
    std::vector<Slice> slices_;
    std::shared_ptr<BandedPlan> rows_;  // instead, where a slice's convolution would be a reference one
    size_t dst_bytes_ = 0;
    int64_t src_stride_ = 0, dst_stride_ = 0;
    IdlePool<Workspace> idle_;
};

class CpuLayer final : public Layer {
public:
    CpuLayer(const odconv_config_t &c, const odconv_weights_t &w, uint32_t flags)
        : p_{c, BankSets(c, w.weight), Attention(c, w), fold_batch_norm(c, w.bn_weight, w.bn_bias, w.bn_mean, w.bn_var),
             memory(), compute_type(flags)} {
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

    void forward_on_pool(const odconv_thread_pool_t &pool, int64_t batch, int64_t height, int64_t width,
                         int32_t layout, const float *input, float *output) override {
        translating_onednn_errors([&] {
            // Primitives are created, and the calling thread's share of the work runs, single-threaded.
            ThreadCountScope one(1);
            if (pool.threads == 1)
                plan(height, width, layout, 1)->run(batch, input, output);
            else if (samples_in_parallel(batch, pool.threads))
                plan(height, width, layout, 1)->run_samples_on(pool, batch, input, output);
            else if (SlicedPlan::suits(p_, height, width, layout, pool.threads))
                sliced_plan(height, width, layout, pool.threads)->run(pool, batch, input, output);
            else
                banded_plan(height, width, layout, pool.threads)->run(pool, batch, input, output);
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

    std::shared_ptr<BandedPlan> banded_plan(int64_t height, int64_t width, int32_t layout, int bands) {
        std::lock_guard<std::mutex> lock(plans_mutex_);
        return banded_plans_.get_or_make(std::make_tuple(height, width, layout, bands), [&] {
            return std::make_shared<BandedPlan>(p_, height, width, layout, bands);
        });
    }

    std::shared_ptr<SlicedPlan> sliced_plan(int64_t height, int64_t width, int32_t layout, int slices) {
        std::lock_guard<std::mutex> lock(plans_mutex_);
        return sliced_plans_.get_or_make(std::make_tuple(height, width, layout, slices), [&] {
            return std::make_shared<SlicedPlan>(p_, height, width, layout, slices);
        });
    }

    LayerParameters p_;
    std::mutex plans_mutex_;
    // shared_ptr: a forward keeps its plan even if it is evicted meanwhile
    LruCache<PlanKey, std::shared_ptr<Plan>> plans_{kMaxPlans};
    LruCache<PlanKey, std::shared_ptr<BandedPlan>> banded_plans_{kMaxPlans};
    LruCache<PlanKey, std::shared_ptr<SlicedPlan>> sliced_plans_{kMaxPlans};
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
