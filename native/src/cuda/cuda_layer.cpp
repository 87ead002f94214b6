#include "cuda_layer.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <string>
#include <map>
#include <mutex>
#include <tuple>
#include <vector>

#include "../common/config.hpp"
#include "../common/idle_pool.hpp"
#include "../common/lru_cache.hpp"
#include "convolution.hpp"
#include "cuda_util.hpp"
#include "kernels.hpp"
#include "parameters.hpp"

namespace odconv::cuda {

CudaStream::CudaStream(int32_t device_index) : device_index_(device_index) {
    use_device(device_index);
    // Non-blocking: work on it must not serialize with the legacy default stream of other libraries.
    check_cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
}

CudaStream::~CudaStream() {
    if (cudaSetDevice(device_index_) == cudaSuccess) cudaStreamSynchronize(stream_);
    cudaStreamDestroy(stream_);
}

void CudaStream::synchronize() {
    use_device(device_index_);
    check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
}

namespace {

// A forward's identity for graph replay: the same plan (never reused: ids only grow) on the same tensors
// replays the same kernels with the same arguments.
struct GraphKey {
    uint64_t plan_id;
    const float *input;
    float *output;
    bool operator<(const GraphKey &o) const { return std::tie(plan_id, input, output) < std::tie(o.plan_id, o.input, o.output); }
    bool operator==(const GraphKey &o) const { return plan_id == o.plan_id && input == o.input && output == o.output; }
};

// What one forward in flight owns: a cuDNN handle, scratch memory, a stream for synchronous calls, and
// an event marking the end of the last work that used the scratch memory. Also the CUDA graphs captured
// with this context's scratch memory: a forward that comes back with the same plan and tensors launches
// its whole sequence (pool, attention, aggregation, cuDNN, epilogue) as one graph, which saves most of
// the launch overhead that dominates small batches.
struct ExecutionContext {
    explicit ExecutionContext(const cudnn::Api &api) : handle(api) {
        try {
            check_cuda(cudaStreamCreateWithFlags(&own_stream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
            check_cuda(cudaEventCreateWithFlags(&done, cudaEventDisableTiming), "cudaEventCreateWithFlags");
            check_cuda(cudaEventRecord(done, own_stream), "cudaEventRecord");
            handle.bind(own_stream);
        } catch (...) {
            release_streams();  // the destructor does not run for a constructor that throws
            throw;
        }
    }
    ~ExecutionContext() {
        if (done) cudaEventSynchronize(done);  // buffers are freed below: their last user must have finished
        forget_graphs();
        handle.rebind_quietly(nullptr);  // the handle (a member) outlives the stream destroyed below
        release_streams();
    }

    void release_streams() noexcept {
        if (done) cudaEventDestroy(done);
        if (own_stream) cudaStreamDestroy(own_stream);
        done = nullptr;
        own_stream = nullptr;
    }

    // Grows a buffer; growing frees memory that earlier forwards (on any stream) may still read, and that
    // captured graphs point at.
    void ensure(DeviceBuffer &buffer, size_t bytes) {
        if (bytes <= buffer.bytes()) return;
        check_cuda(cudaEventSynchronize(done), "cudaEventSynchronize");
        forget_graphs();
        buffer.reserve(bytes);
    }

    void forget_graphs() {
        for (auto &entry : graphs) cudaGraphExecDestroy(entry.second.exec);
        graphs.clear();
        seen_once.clear();
    }

    CudnnHandle handle;
    cudaStream_t own_stream = nullptr;
    cudaEvent_t done = nullptr;
    DeviceBuffer pooled, hidden, logits, attention, filters, workspace;
    DeviceBuffer bfloat16_input, bfloat16_output;  // bfloat16 layers: the convolution's input and output

    struct CachedGraph {
        cudaGraphExec_t exec;
        uint64_t last_used;
    };
    std::map<GraphKey, CachedGraph> graphs;
    std::vector<GraphKey> seen_once;  // forwards run once without a graph: a second run captures one
    uint64_t clock = 0;
};

// Contexts not in use; a forward takes one (or makes one) and gives it back, so concurrent forwards never
// share scratch memory and steady-state forwards allocate nothing.
class ContextPool {
public:
    ContextPool(const cudnn::Api &api) : api_(api) {}

    std::unique_ptr<ExecutionContext> acquire() {
        if (auto idle = idle_.take()) return idle;
        return std::make_unique<ExecutionContext>(api_);
    }

    void release(std::unique_ptr<ExecutionContext> context) { idle_.give(std::move(context)); }

private:
    const cudnn::Api &api_;
    IdlePool<ExecutionContext> idle_;
};

// A context checked out of the pool for one forward. Whatever happens, the work enqueued so far is marked
// by the context's event on the stream it went to, and the context goes back to the pool.
class ContextLease {
public:
    // stream null: the context's own stream (synchronous forwards, planning).
    ContextLease(ContextPool &pool, cudaStream_t stream)
        : pool_(pool), context_(pool.acquire()), stream_(stream ? stream : context_->own_stream) {
        check_cuda(cudaStreamWaitEvent(stream_, context_->done, 0), "cudaStreamWaitEvent");
        context_->handle.bind(stream_);
    }
    ~ContextLease() {
        cudaEventRecord(context_->done, stream_);
        // Back to the context's own stream: a caller's stream may be destroyed while the context idles.
        context_->handle.rebind_quietly(context_->own_stream);
        pool_.release(std::move(context_));
    }
    ContextLease(const ContextLease &) = delete;
    ContextLease &operator=(const ContextLease &) = delete;
    ExecutionContext &operator*() const { return *context_; }
    ExecutionContext *operator->() const { return context_.get(); }
    cudaStream_t stream() const { return stream_; }

private:
    ContextPool &pool_;
    std::unique_ptr<ExecutionContext> context_;
    cudaStream_t stream_;
};

// Where one operand's samples lie in a buffer: `size` elements each, `stride` elements apart.
struct Spacing {
    int64_t size, stride;
    bool packed() const { return size == stride; }

    // Calls launch(first_sample, samples) over the batch: once for all of it where the samples are packed,
    // else once per sample (a kernel sees its samples back to back).
    template <typename Launch>
    void by_samples(int64_t batch, Launch launch) const {
        if (packed()) {
            launch(int64_t(0), batch);
            return;
        }
        for (int64_t n = 0; n < batch; ++n) launch(n, int64_t(1));
    }
};

// The spacing of the convolution's input, filters and output.
struct OperandSpacing {
    Spacing input, filter, output;
};

// How one (batch, height, width, layout) is convolved.
struct Plan {
    uint64_t id;
    int64_t out_height, out_width;
    // Grouped over the batch (NCHW only): the batch is one image of batch * in_planes channels and
    // batch * groups groups, whose filters are the batch's aggregated filters back to back. Otherwise one
    // cuDNN call per sample with that sample's filter.
    bool grouped_over_batch = false;
    std::unique_ptr<Convolution> convolution;
    OperandSpacing spacing{};
};

// ODCONV_CUDA_GRAPHS: "0" never captures (to measure graphs, or to rule them out); "require" makes a
// refused capture an error (tests); anything else captures where CUDA and cuDNN allow it.
enum class GraphMode { kOff, kOn, kRequired };

GraphMode graph_mode_from_environment() {
    const char *setting = std::getenv("ODCONV_CUDA_GRAPHS");
    if (setting == nullptr) return GraphMode::kOn;
    const std::string value(setting);
    return value == "0" ? GraphMode::kOff : value == "require" ? GraphMode::kRequired : GraphMode::kOn;
}

class CudaLayer final : public Layer {
public:
    CudaLayer(const cudnn::Api &api, const odconv_config_t &config, const odconv_weights_t &weights,
              int32_t device_index, uint32_t flags)
        : api_(api), config_(config), device_index_(device_index), flags_(flags),
          bfloat16_((flags & ODCONV_FLAG_BFLOAT16) != 0), contexts_(api) {
        use_device(device_index);
        const FoldedParameters p = fold_parameters(config, weights);
        row_ = p.row;
        filter_ = p.filter;
        width_ = p.width;
        // The bank goes straight from the caller's (possibly memory-mapped) buffer to the device.
        bank_.upload(weights.weight, size_t(filter_.elements()) * config.kernel_num);
        trunk_weight_ = upload(p.trunk_weight);
        trunk_bias_ = upload(p.trunk_bias);
        head_weight_ = upload(p.head_weight);
        head_bias_ = upload(p.head_bias);
        bn_scale_ = upload(p.bn_scale);
        bn_shift_ = upload(p.bn_shift);
        // cuDNN asks for one cudnnCreate to finish before threads create handles concurrently; this also
        // makes the first forward's context ready.
        contexts_.release(std::make_unique<ExecutionContext>(api_));
    }

    // The members' streams, events and buffers are released on the layer's device.
    ~CudaLayer() override { cudaSetDevice(device_index_); }

    void forward(int64_t batch, int64_t height, int64_t width, int32_t layout, const float *input,
                 float *output) override {
        use_device(device_index_);
        check_tensors(input, output);
        std::shared_ptr<Plan> plan = plan_for(batch, height, width, layout, input, output, nullptr);
        ContextLease context(contexts_, nullptr);
        try {
            enqueue(*context, *plan, context.stream(), batch, height, width, layout, input, output);
        } catch (...) {
            // The tensors are borrowed for this call only: work already queued must not outlive it.
            cudaStreamSynchronize(context.stream());
            throw;
        }
        check_cuda(cudaStreamSynchronize(context.stream()), "cudaStreamSynchronize");
    }

    void forward_async(Stream &stream, int64_t batch, int64_t height, int64_t width, int32_t layout,
                       const float *input, float *output) override {
        auto *cuda_stream = dynamic_cast<CudaStream *>(&stream);
        if (cuda_stream == nullptr) invalid_argument("the stream is not a CUDA stream of this backend");
        if (cuda_stream->device_index() != device_index_)
            invalid_argument("the stream belongs to CUDA device ", cuda_stream->device_index(),
                             "; this layer is on CUDA device ", device_index_);
        use_device(device_index_);
        check_tensors(input, output);
        std::shared_ptr<Plan> plan = plan_for(batch, height, width, layout, input, output, cuda_stream->get());
        ContextLease context(contexts_, cuda_stream->get());
        enqueue(*context, *plan, cuda_stream->get(), batch, height, width, layout, input, output);
    }

private:
    void check_tensors(const float *input, float *output) const {
        require_device_memory(input, device_index_, "input", "a CUDA layer");
        require_device_memory(output, device_index_, "output", "a CUDA layer");
    }

    math::FilterGeometry geometry(int32_t layout) const {
        math::FilterGeometry g = filter_;
        g.layout = layout;
        return g;
    }

    // Bytes per element of the convolution's input, filters and output: float32, or bfloat16.
    size_t element_bytes() const { return bfloat16_ ? sizeof(uint16_t) : sizeof(float); }

    // The operands' spacing for per-sample convolutions (grouped_over_batch false) or one convolution of the
    // batch. Per sample in bfloat16, the layer's own buffers space samples 8 elements (16 bytes) apart at
    // least: cuDNN's tensor-core kernels ask that of each sample's pointers (with NHWC filters, the legacy
    // API's "Data and Filter Formats"), and the algorithm is chosen on sample 0, whose pointers are 256-byte
    // aligned. Float32 operands are the caller's tensors, packed as they come, and the float32 filters stay
    // packed, as they ran on the GPU.
    OperandSpacing spacing(int64_t pixels, const Plan &plan, bool grouped_over_batch) const {
        const auto spaced = [&](int64_t size) {
            const bool aligned = bfloat16_ && !grouped_over_batch;
            return Spacing{size, aligned ? (size + 7) / 8 * 8 : size};
        };
        return OperandSpacing{spaced(config_.in_planes * pixels), spaced(filter_.elements()),
                              spaced(config_.out_planes * plan.out_height * plan.out_width)};
    }

    // Grows the context's scratch memory for a forward of this batch and plan (before any capture: a
    // graph must not contain allocations, and growing invalidates the context's graphs).
    void prepare(ExecutionContext &c, int64_t batch, int64_t pixels, const Plan &plan, bool with_workspace) const {
        const OperandSpacing &spacing = plan.spacing;
        c.ensure(c.pooled, sizeof(float) * batch * config_.in_planes);
        c.ensure(c.hidden, sizeof(float) * batch * width_);
        c.ensure(c.logits, sizeof(float) * batch * row_.length());
        c.ensure(c.attention, sizeof(float) * batch * row_.length());
        c.ensure(c.filters, element_bytes() * batch * spacing.filter.stride);
        if (bfloat16_) {
            c.ensure(c.bfloat16_input, sizeof(uint16_t) * batch * spacing.input.stride);
            c.ensure(c.bfloat16_output, sizeof(uint16_t) * batch * spacing.output.stride);
        }
        if (with_workspace) c.ensure(c.workspace, std::max<size_t>(plan.convolution->workspace_bytes(), 1));
    }

    // The convolution's operands for a forward: the caller's float32 tensors, or in bfloat16 the context's
    // copies (the input rounded by enqueue_operands, the output turned into float32 by the epilogue).
    struct Operands {
        const char *x;
        const char *w;
        char *y;
        size_t element_bytes;
        OperandSpacing spacing;
        const void *input_of(int64_t n) const { return x + n * spacing.input.stride * element_bytes; }
        const void *filter_of(int64_t n) const { return w + n * spacing.filter.stride * element_bytes; }
        void *output_of(int64_t n) const { return y + n * spacing.output.stride * element_bytes; }
    };

    // Enqueues the rounding of the input where the convolution is in bfloat16; returns the operands.
    Operands enqueue_operands(ExecutionContext &c, cudaStream_t stream, int64_t batch, const OperandSpacing &spacing,
                              const float *input, float *output) const {
        if (!bfloat16_) {
            return Operands{reinterpret_cast<const char *>(input), static_cast<const char *>(c.filters.data()),
                            reinterpret_cast<char *>(output), sizeof(float), spacing};
        }
        auto *rounded = static_cast<uint16_t *>(c.bfloat16_input.data());
        const Spacing &in = spacing.input;
        in.by_samples(batch, [&](int64_t n, int64_t samples) {
            enqueue_to_bfloat16(input + n * in.size, samples * in.size, rounded + n * in.stride, stream);
        });
        return Operands{reinterpret_cast<const char *>(rounded), static_cast<const char *>(c.filters.data()),
                        static_cast<char *>(c.bfloat16_output.data()), sizeof(uint16_t), spacing};
    }

    // Enqueues the epilogue: BatchNorm shift and activation into the caller's output, from the convolution's
    // bfloat16 output where it computes in bfloat16.
    void enqueue_epilogue_of(const Operands &on, cudaStream_t stream, int64_t batch, int64_t out_pixels,
                             int32_t layout, float *output) const {
        const Spacing &out = on.spacing.output;
        if (!bfloat16_) {
            enqueue_epilogue(output, batch * out.size, config_.out_planes, out_pixels, layout, bn_shift_.floats(),
                             config_.activation, stream);
            return;
        }
        const auto *convolved = reinterpret_cast<const uint16_t *>(on.y);
        out.by_samples(batch, [&](int64_t n, int64_t samples) {
            enqueue_epilogue(convolved + n * out.stride, output + n * out.size, samples * out.size, config_.out_planes,
                             out_pixels, layout, bn_shift_.floats(), config_.activation, stream);
        });
    }

    // Enqueues pool, attention and aggregation: c.filters receives the batch's filters in `layout`, `filters`
    // apart.
    void enqueue_filters(ExecutionContext &c, cudaStream_t stream, int64_t batch, int64_t pixels, int32_t layout,
                         const Spacing &filters, const float *input) const {
        enqueue_average_pool(input, batch, config_.in_planes, pixels, layout, c.pooled.floats(), stream);
        const AttentionWeights attention{trunk_weight_.floats(), trunk_bias_.floats(), head_weight_.floats(),
                                         head_bias_.floats(), config_.in_planes, width_, config_.temperature, row_};
        enqueue_attention(attention, c.pooled.floats(), batch, c.hidden.floats(), c.logits.floats(),
                          c.attention.floats(), stream);
        const auto aggregate = [&](auto *destination) {
            filters.by_samples(batch, [&](int64_t n, int64_t samples) {  // from sample n: its attention row, its place
                enqueue_aggregation(geometry(layout), row_, bank_.floats(), c.attention.floats() + n * row_.length(),
                                    bn_scale_.floats(), samples, destination + n * filters.stride, stream);
            });
        };
        if (bfloat16_)
            aggregate(static_cast<uint16_t *>(c.filters.data()));
        else
            aggregate(c.filters.floats());
    }

    // The whole forward on `stream`: replayed as a CUDA graph when this context has run the same plan on
    // the same tensors before, otherwise launched kernel by kernel.
    void enqueue(ExecutionContext &c, const Plan &plan, cudaStream_t stream, int64_t batch, int64_t height,
                 int64_t width, int32_t layout, const float *input, float *output) {
        prepare(c, batch, height * width, plan, true);
        if (!graphs_usable_.load(std::memory_order_relaxed)) {
            enqueue_kernels(c, plan, stream, batch, height, width, layout, input, output);
            return;
        }
        const GraphKey key{plan.id, input, output};
        auto cached = c.graphs.find(key);
        if (cached == c.graphs.end()) {
            // One-off tensors are not worth a capture (which costs more than one direct launch): only a
            // forward seen before on this context gets a graph.
            auto seen = std::find(c.seen_once.begin(), c.seen_once.end(), key);
            if (seen == c.seen_once.end()) {
                if (c.seen_once.size() >= kMaxGraphsPerContext) c.seen_once.erase(c.seen_once.begin());
                c.seen_once.push_back(key);
                enqueue_kernels(c, plan, stream, batch, height, width, layout, input, output);
                return;
            }
            c.seen_once.erase(seen);
            cudaGraphExec_t exec = capture(c, plan, stream, batch, height, width, layout, input, output);
            if (exec == nullptr) {  // this layer cannot be captured: run it kernel by kernel from now on
                enqueue_kernels(c, plan, stream, batch, height, width, layout, input, output);
                return;
            }
            if (c.graphs.size() >= kMaxGraphsPerContext) {
                auto oldest = std::min_element(c.graphs.begin(), c.graphs.end(), [](const auto &a, const auto &b) {
                    return a.second.last_used < b.second.last_used;
                });
                cudaGraphExecDestroy(oldest->second.exec);  // an in-flight launch still completes
                c.graphs.erase(oldest);
            }
            cached = c.graphs.emplace(key, ExecutionContext::CachedGraph{exec, 0}).first;
        }
        cached->second.last_used = ++c.clock;
        c.handle.bind(stream);
        check_cuda(cudaGraphLaunch(cached->second.exec, stream), "cudaGraphLaunch");
    }

    // Captures the forward's kernels on the context's own stream, which only this lease uses (a caller's
    // stream may receive other threads' work meanwhile) and on which cuDNN has run before; the handle is
    // bound to `stream` again afterwards. Returns null, with graphs off for this layer, when CUDA or cuDNN
    // refuse the capture (the forward then runs kernel by kernel); with ODCONV_CUDA_GRAPHS=require a
    // refusal is an error instead, so that tests can tell.
    cudaGraphExec_t capture(ExecutionContext &c, const Plan &plan, cudaStream_t stream, int64_t batch,
                            int64_t height, int64_t width, int32_t layout, const float *input, float *output) {
        const cudaStream_t capturing = c.own_stream;
        std::string refusal;
        cudaGraph_t graph = nullptr;
        cudaGraphExec_t exec = nullptr;
        c.handle.bind(capturing);  // before the capture: nothing but kernels and cuDNN calls inside it
        const cudaError_t began = cudaStreamBeginCapture(capturing, cudaStreamCaptureModeThreadLocal);
        if (began != cudaSuccess) {
            refusal = std::string("cudaStreamBeginCapture: ") + cudaGetErrorString(began);
        } else {
            try {
                enqueue_kernels(c, plan, capturing, batch, height, width, layout, input, output);
            } catch (const std::exception &e) {
                refusal = e.what();
            } catch (...) {
                refusal = "unknown exception";
            }
            const cudaError_t ended = cudaStreamEndCapture(capturing, &graph);  // always: leaves capture mode
            if (refusal.empty() && ended != cudaSuccess)
                refusal = std::string("cudaStreamEndCapture: ") + cudaGetErrorString(ended);
            if (refusal.empty()) {
                const cudaError_t instantiated = cudaGraphInstantiate(&exec, graph, 0);
                if (instantiated != cudaSuccess) {
                    exec = nullptr;
                    refusal = std::string("cudaGraphInstantiate: ") + cudaGetErrorString(instantiated);
                }
            }
        }
        if (graph != nullptr) cudaGraphDestroy(graph);
        cudaGetLastError();  // capture errors are not sticky; clear the thread's last error
        c.handle.rebind_quietly(stream);
        if (exec == nullptr) {
            if (graph_mode_ == GraphMode::kRequired)
                fail(ODCONV_STATUS_BACKEND_ERROR, "CUDA graph capture failed (ODCONV_CUDA_GRAPHS=require): ", refusal);
            graphs_usable_.store(false, std::memory_order_relaxed);
        }
        return exec;
    }

    void enqueue_kernels(ExecutionContext &c, const Plan &plan, cudaStream_t stream, int64_t batch, int64_t height,
                         int64_t width, int32_t layout, const float *input, float *output) const {
        const int64_t pixels = height * width, out_pixels = plan.out_height * plan.out_width;
        enqueue_filters(c, stream, batch, pixels, layout, plan.spacing.filter, input);
        const Operands on = enqueue_operands(c, stream, batch, plan.spacing, input, output);
        if (plan.grouped_over_batch) {
            plan.convolution->run(c.handle.get(), on.x, on.w, on.y, c.workspace.data());
        } else {
            for (int64_t n = 0; n < batch; ++n)
                plan.convolution->run(c.handle.get(), on.input_of(n), on.filter_of(n), on.output_of(n),
                                      c.workspace.data());
        }
        enqueue_epilogue_of(on, stream, batch, out_pixels, layout, output);
    }

    ConvolutionShape shape(int64_t batch, int64_t height, int64_t width, int32_t layout, const Plan &plan,
                           bool grouped_over_batch) const {
        const odconv_config_t &c = config_;
        const int64_t images = grouped_over_batch ? batch : 1;
        return ConvolutionShape{1,         images * c.in_planes,  height,     width,     images * c.out_planes,
                                plan.out_height, plan.out_width, images * c.groups, c.kernel_size, c.stride,
                                c.padding, c.dilation,           layout};
    }

    // The cached plan for this input, made on first use. The first forward of a shape chooses algorithms
    // by running them on its own input and output (the output is overwritten later anyway) with the
    // aggregated filters of this very input, so nothing but the workspace is allocated for it. It runs on
    // the caller's stream (null: a context's own), after the work that produces the input, and waits.
    std::shared_ptr<Plan> plan_for(int64_t batch, int64_t height, int64_t width, int32_t layout, const float *input,
                                   float *output, cudaStream_t stream) {
        std::lock_guard<std::mutex> lock(plans_mutex_);
        return plans_.get_or_make(PlanKey{batch, height, width, layout},
                                  [&] { return make_plan(batch, height, width, layout, input, output, stream); });
    }

    std::shared_ptr<Plan> make_plan(int64_t batch, int64_t height, int64_t width, int32_t layout, const float *input,
                                    float *output, cudaStream_t caller_stream) {
        auto plan = std::make_shared<Plan>();
        plan->id = ++plans_made_;
        plan->out_height = output_extent(config_, height, "height");
        plan->out_width = output_extent(config_, width, "width");
        ContextLease context(contexts_, caller_stream);
        ExecutionContext &c = *context;
        const cudaStream_t stream = context.stream();
        const int64_t pixels = height * width;
        // Laid out for per-sample convolutions, whose buffers are the larger; the grouped candidate is timed on
        // the same buffers, read packed.
        plan->spacing = spacing(pixels, *plan, false);
        prepare(c, batch, pixels, *plan, false);
        // Real filters, so that timing sees real data.
        enqueue_filters(c, stream, batch, pixels, layout, plan->spacing.filter, input);
        const Operands on = enqueue_operands(c, stream, batch, plan->spacing, input, output);

        auto per_sample = std::make_unique<Convolution>(api_, shape(batch, height, width, layout, *plan, false), flags_);
        per_sample->choose_algorithm(c.handle.get(), on.x, on.w, on.y);
        plan->convolution = std::move(per_sample);
        if (layout == ODCONV_LAYOUT_NCHW && batch > 1) {
            // Choose by measurement: many small calls against one large grouped call.
            // cuDNN may refuse the whole batch as one image (a tensor past its size limits) where it
            // takes each sample: then per-sample it is.
            std::unique_ptr<Convolution> grouped;
            try {
                grouped = std::make_unique<Convolution>(api_, shape(batch, height, width, layout, *plan, true), flags_);
                grouped->choose_algorithm(c.handle.get(), on.x, on.w, on.y);
            } catch (const Error &) {
                cudaGetLastError();
                check_cuda(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
                return plan;
            }
            c.ensure(c.workspace, std::max({plan->convolution->workspace_bytes(), grouped->workspace_bytes(), size_t(1)}));
            constexpr int kRuns = 3;
            const Convolution &single = *plan->convolution;
            const float per_sample_ms = time_on_stream(stream, kRuns, [&] {
                for (int64_t n = 0; n < batch; ++n)
                    single.run(c.handle.get(), on.input_of(n), on.filter_of(n), on.output_of(n), c.workspace.data());
            });
            const float grouped_ms = time_on_stream(stream, kRuns, [&] {
                grouped->run(c.handle.get(), on.x, on.w, on.y, c.workspace.data());
            });
            if (grouped_ms < per_sample_ms) {
                plan->convolution = std::move(grouped);
                plan->grouped_over_batch = true;
                plan->spacing = spacing(pixels, *plan, true);
            }
        }
        check_cuda(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
        return plan;
    }

    using PlanKey = std::tuple<int64_t, int64_t, int64_t, int32_t>;
    static constexpr size_t kMaxPlans = 16;
    // Graphs kept per execution context (each pins its tensors' addresses); the least recently used goes.
    static constexpr size_t kMaxGraphsPerContext = 8;

    const cudnn::Api &api_;
    const odconv_config_t config_;
    const int32_t device_index_;
    const uint32_t flags_;  // odconv_layer_create's, for the convolutions
    const bool bfloat16_;
    math::AttentionRow row_{};
    math::FilterGeometry filter_{};
    int32_t width_ = 0;
    DeviceBuffer bank_, trunk_weight_, trunk_bias_, head_weight_, head_bias_, bn_scale_, bn_shift_;
    ContextPool contexts_;
    std::mutex plans_mutex_;
    // shared_ptr: a forward keeps its plan even if it is evicted meanwhile
    LruCache<PlanKey, std::shared_ptr<Plan>> plans_{kMaxPlans};
    uint64_t plans_made_ = 0;  // plan ids, under plans_mutex_
    const GraphMode graph_mode_ = graph_mode_from_environment();
    // A refused capture turns graphs off for the layer.
    std::atomic<bool> graphs_usable_{graph_mode_ != GraphMode::kOff};
};

}  // namespace

std::unique_ptr<Layer> create_cuda_layer(const cudnn::Api &api, const odconv_config_t &config,
                                         const odconv_weights_t &weights, int32_t device_index, uint32_t flags) {
    return std::make_unique<CudaLayer>(api, config, weights, device_index, flags);
}

}  // namespace odconv::cuda
