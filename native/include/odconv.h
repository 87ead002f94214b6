/*
 * odconv.h: the C ABI of the odconv library.
 *
 * ODConv (Omni-Dimensional Dynamic Convolution, Li, Zhou, Yao, ICLR 2022) forward pass in inference
 * mode, with the semantics of the YOLO-style PyTorch module `ODConv2d` (eval mode): attention trunk,
 * four attention heads, the per-sample aggregated convolution, then BatchNorm and an activation.
 *
 * Conventions
 * - Every function that can fail returns odconv_status; ODCONV_STATUS_SUCCESS (0) means success.
 *   On failure, odconv_last_error_message() describes the failure on the calling thread.
 * - No C++ exception, abort() or exit() ever crosses this boundary.
 * - Handles are opaque; every *_create has a *_destroy that accepts NULL.
 * - Tensors are dense, contiguous, float32, NCHW or NHWC (odconv_layout); shapes are always given as
 *   (batch, channels, height, width) whatever the memory order. A layer lives on one device (see
 *   "Devices" below): tensors of a CPU layer are in host memory, tensors of a CUDA layer in that CUDA
 *   device's memory.
 *
 * Threading rules
 * - odconv_layer_forward and odconv_layer_output_shape may run concurrently on the same layer from
 *   any number of threads. Each concurrent call uses its own scratch memory, taken from a per-layer
 *   pool, so steady-state calls do not allocate.
 * - odconv_layer_set_num_threads may run concurrently with forward; a forward that has already
 *   started keeps the thread count it read when it started.
 * - odconv_layer_destroy must not run concurrently with any other call on the same layer, and the
 *   layer must not be used after it. (The Java API enforces this.)
 * - Functions without a layer argument are thread-safe.
 * - CUDA layers: odconv_layer_forward blocks until the output is written; odconv_layer_forward_async
 *   only enqueues work on a stream. Concurrent forwards on one CUDA layer are allowed, on the same or
 *   different streams; each takes its own scratch memory and cuDNN handle from a per-layer pool.
 *   A stream (odconv_stream_t) must not be destroyed while another call uses it.
 * - Thread count: forward runs on the calling thread plus an OpenMP team. A layer's thread count,
 *   when set (> 0), applies to each forward on it; otherwise the calling thread's OpenMP setting
 *   applies (OMP_NUM_THREADS or the number of cores).
 *
 * What is not here
 * - Benchmark entry points, the static convolution odconv is measured against, and the ABI's description of
 *   its own structs are for odconv's tools and tests: odconv_tools.h, in the same library, with no promise
 *   of stability between minor versions.
 *
 * Loading
 * - A host that loads libodconv.so with dlopen(RTLD_LOCAL) (JVMs, Python's ctypes) and wants CUDA devices
 *   must first load libstdc++.so.6 with dlopen(RTLD_NOW | RTLD_GLOBAL). cuDNN 9 crashes the process
 *   (a call through a null pointer in its first std::call_once) when the C++ runtime is private to an
 *   RTLD_LOCAL library, and promoting it to global afterwards does not help. Without that, CUDA calls fail
 *   with ODCONV_STATUS_DEVICE_UNAVAILABLE and a message saying so. Programs linked against libodconv.so,
 *   and the Java binding, need nothing.
 */
#ifndef ODCONV_H
#define ODCONV_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define ODCONV_API __declspec(dllexport)
#else
#define ODCONV_API __attribute__((visibility("default")))
#endif

/*
 * Library version: the one place it is stated. CMake reads it from here for the shared library's SOVERSION
 * (libodconv.so.<major>), the Java binding refuses a loaded library whose odconv_version() differs, and the
 * build checks that pom.xml says the same. The major version changes with every incompatible ABI change.
 */
#define ODCONV_VERSION_MAJOR 1
#define ODCONV_VERSION_MINOR 0
#define ODCONV_VERSION_PATCH 0

/*
 * Enumerations. C++ sees each with a fixed underlying type, so that any int32_t a C caller passes is a value
 * of it (odconv checks it and refuses unknown ones, where a C++ enum without one would make that undefined);
 * C sees a plain enum, which is int-sized. Either way they travel as 32-bit integers.
 */
#ifdef __cplusplus
#define ODCONV_ENUM(name) enum name : int32_t
#else
#define ODCONV_ENUM(name) enum name
#endif

typedef ODCONV_ENUM(odconv_status) {
    ODCONV_STATUS_SUCCESS = 0,
    /* An argument is invalid: a NULL pointer, a size out of range, an inconsistent configuration. */
    ODCONV_STATUS_INVALID_ARGUMENT = 1,
    ODCONV_STATUS_OUT_OF_MEMORY = 2,
    /* The configuration is valid but this build or backend cannot run it. */
    ODCONV_STATUS_UNSUPPORTED = 3,
    /* The compute backend (oneDNN) reported an error; the message carries its text. */
    ODCONV_STATUS_BACKEND_ERROR = 4,
    /* A bug in odconv; please report the message. */
    ODCONV_STATUS_INTERNAL_ERROR = 5,
    /* The device cannot be used here: its backend library, driver or runtime (cuDNN) is missing or too old;
     * the message says which. Nothing about the call's arguments. */
    ODCONV_STATUS_DEVICE_UNAVAILABLE = 6
} odconv_status;

typedef ODCONV_ENUM(odconv_activation) {
    ODCONV_ACTIVATION_IDENTITY = 0,
    ODCONV_ACTIVATION_RELU = 1,
    /* x * sigmoid(x), PyTorch's nn.SiLU. */
    ODCONV_ACTIVATION_SILU = 2
} odconv_activation;

/* The memory order of an activation tensor. */
typedef ODCONV_ENUM(odconv_layout) {
    ODCONV_LAYOUT_NCHW = 0, /* PyTorch's default: channels planar */
    ODCONV_LAYOUT_NHWC = 1  /* channels last: oneDNN's fastest layout on CPUs */
} odconv_layout;

/* Where a layer runs and where its tensors live. */
typedef ODCONV_ENUM(odconv_device_type) {
    ODCONV_DEVICE_CPU = 0, /* host memory, oneDNN; always available, one device (index 0) */
    ODCONV_DEVICE_CUDA = 1 /* an NVIDIA GPU, cuDNN; needs libodconv_cuda.so, a CUDA driver and cuDNN 9 */
} odconv_device_type;

/* Direction of odconv_copy. */
typedef ODCONV_ENUM(odconv_copy_kind) {
    ODCONV_COPY_HOST_TO_DEVICE = 0,
    ODCONV_COPY_DEVICE_TO_HOST = 1,
    ODCONV_COPY_DEVICE_TO_DEVICE = 2
} odconv_copy_kind;

/*
 * Limits: every int32_t field of odconv_config_t is at most this (1 << 20), and so is the attention width. A
 * layer's kernel bank holds at most 2^40 elements, and its per-sample kernel (out_planes x in_planes / groups x
 * kernel_size^2) at most 2^31 - 1: odconv_config_validate refuses more.
 */
#define ODCONV_CONFIG_MAX_SIZE 1048576

/*
 * Flags of odconv_layer_create (and of the static convolution in odconv_tools.h).
 * ODCONV_FLAG_ALLOW_TF32: CUDA only; lets cuDNN run float32 convolutions on TF32 tensor cores (faster,
 * about 1e-3 relative error). Off by default, so results match PyTorch with TF32 off. Ignored on CPUs.
 */
#define ODCONV_FLAG_ALLOW_TF32 1u
/*
 * ODCONV_FLAG_BFLOAT16: the convolution computes in bfloat16: the attention runs in float32, the per-sample
 * kernel is rounded to bfloat16 once, as it is built, the input is rounded to bfloat16, products accumulate
 * in float32, and bias, BatchNorm and activation apply in float32; tensors stay float32. The error against
 * float32 stays within 1e-2 of the output's largest magnitude (docs/bfloat16.md). CPU: needs AVX512-BF16, AMX-BF16 or AVX-NE-CONVERT
 * (odconv_device_supports_flags tells); without them creation fails with ODCONV_STATUS_UNSUPPORTED naming
 * what is missing, never a slow emulation. CUDA: compute capability 8.0 (Ampere) or later, cuDNN's bfloat16
 * convolution on tensor cores with float32 accumulation (input rounded and output widened by odconv's kernels).
 */
#define ODCONV_FLAG_BFLOAT16 2u

/* An ODConv2d layer. Opaque. */
typedef struct odconv_layer *odconv_layer_t;

/*
 * The configuration of one layer, the constructor arguments of the PyTorch module.
 * Copied by odconv_layer_create; the caller may free or reuse it afterwards.
 */
typedef struct odconv_config {
    int32_t in_planes;   /* input channels, >= 1 */
    int32_t out_planes;  /* output channels, >= 1 */
    int32_t kernel_size; /* square kernel side k, >= 1 */
    int32_t stride;      /* >= 1 */
    int32_t padding;     /* zero padding on each side, 0 .. dilation * (kernel_size - 1) + 1 (the seed's autopad
                            gives k / 2); wider padding adds outputs that see only zeros */
    int32_t dilation;    /* >= 1 */
    int32_t groups;      /* >= 1, divides in_planes and out_planes */
    int32_t kernel_num;  /* number of static kernels in the bank, >= 1 */
    /* Attention width is max((int32_t)(in_planes * reduction), min_channel), as in PyTorch. */
    double reduction;    /* > 0 */
    int32_t min_channel; /* >= 1 */
    /* 1 when a trailing BatchNorm follows the convolution (YOLO-style), 0 for the official variant. */
    int32_t has_batch_norm;
    float temperature;      /* > 0; every attention logit is divided by it */
    float bn_eps;           /* > 0; eps of the trailing BatchNorm (ignored without one) */
    float attention_bn_eps; /* > 0; eps of the attention trunk's BatchNorm */
    int32_t activation;     /* an odconv_activation */
} odconv_config_t;

/*
 * The parameters of one layer, float32, contiguous, named after the PyTorch state_dict() entries.
 * A = attention width (see odconv_config_t), G = groups, K = kernel_size.
 *
 * BORROWED for the call: odconv_layer_create (on any device) copies what it needs, in its own layout,
 * before it returns, and never reads these buffers again. They may be freed, unmapped or changed as
 * soon as it returns, so a layer made from a memory-mapped model file does not depend on the file.
 * Pointers to heads the configuration skips must be NULL.
 */
typedef struct odconv_weights {
    const float *weight;                /* [kernel_num, out_planes, in_planes / G, K, K] */
    const float *attention_fc_weight;   /* [A, in_planes, 1, 1] (attention.fc.conv.weight) */
    const float *attention_bn_weight;   /* [A] (attention.fc.bn.weight) */
    const float *attention_bn_bias;     /* [A] */
    const float *attention_bn_mean;     /* [A] (running_mean) */
    const float *attention_bn_var;      /* [A] (running_var) */
    const float *channel_fc_weight;     /* [in_planes, A, 1, 1] */
    const float *channel_fc_bias;       /* [in_planes] */
    const float *filter_fc_weight;      /* [out_planes, A, 1, 1]; NULL when depthwise (in == out == G) */
    const float *filter_fc_bias;        /* [out_planes]; NULL when depthwise */
    const float *spatial_fc_weight;     /* [K * K, A, 1, 1]; NULL when K == 1 */
    const float *spatial_fc_bias;       /* [K * K]; NULL when K == 1 */
    const float *kernel_fc_weight;      /* [kernel_num, A, 1, 1]; NULL when kernel_num == 1 */
    const float *kernel_fc_bias;        /* [kernel_num]; NULL when kernel_num == 1 */
    const float *bn_weight;             /* [out_planes]; NULL when has_batch_norm == 0 */
    const float *bn_bias;               /* [out_planes]; NULL when has_batch_norm == 0 */
    const float *bn_mean;               /* [out_planes]; NULL when has_batch_norm == 0 */
    const float *bn_var;                /* [out_planes]; NULL when has_batch_norm == 0 */
} odconv_weights_t;

/* ODCONV_VERSION_MAJOR * 10000 + ODCONV_VERSION_MINOR * 100 + ODCONV_VERSION_PATCH of the loaded library. */
ODCONV_API uint32_t odconv_version(void);

/*
 * A static, NUL-terminated description of the compute backend, e.g. "oneDNN 3.13.0 (cpu: omp)".
 * Never NULL; valid for the life of the process.
 */
ODCONV_API const char *odconv_backend_description(void);

/*
 * The instruction set oneDNN's kernels use on this CPU, e.g. "avx512_core" or "avx2". Static, never NULL.
 */
ODCONV_API const char *odconv_cpu_isa(void);

/* A static, NUL-terminated name for a status, e.g. "invalid argument". Never NULL. */
ODCONV_API const char *odconv_status_string(odconv_status status);

/*
 * The message of the last failed call on the calling thread, or "" if none failed yet.
 * Owned by the library; valid on this thread until its next odconv call.
 */
ODCONV_API const char *odconv_last_error_message(void);

/*
 * Checks a configuration without creating a layer. config is borrowed for the call only.
 * Returns ODCONV_STATUS_INVALID_ARGUMENT, with a message naming the field and value, if it is invalid.
 */
ODCONV_API odconv_status odconv_config_validate(const odconv_config_t *config);

/*
 * The attention width of a valid configuration: max((int32_t)(in_planes * reduction), min_channel).
 * config is borrowed for the call only; *attention_channels receives the result.
 */
ODCONV_API odconv_status odconv_config_attention_channels(const odconv_config_t *config,
                                                          int32_t *attention_channels);

/*
 * The output height and width of a valid configuration for an input of height x width: the output is
 * [batch, out_planes, *out_height, *out_width]. config is borrowed for the call only. Fails with
 * ODCONV_STATUS_INVALID_ARGUMENT, naming the axis, when the input is too small for a non-empty output;
 * the outputs are written on success only.
 */
ODCONV_API odconv_status odconv_config_output_shape(const odconv_config_t *config, int64_t height, int64_t width,
                                                    int64_t *out_height, int64_t *out_width);

/*
 * The parameter tensors of a layer, the fields of odconv_weights_t in declaration order, as data: bindings
 * read the list, the names and each tensor's shape from here instead of keeping copies.
 */
#define ODCONV_PARAMETER_MAX_RANK 5

/* The number of parameter tensors (fields of odconv_weights_t). */
ODCONV_API int32_t odconv_parameter_count(void);

/* The odconv_weights_t field name of parameter `index`, e.g. "attention_bn_var"; static; NULL when out of range. */
ODCONV_API const char *odconv_parameter_name(int32_t index);

/*
 * The shape of parameter `index` in a layer of a valid configuration (config borrowed for the call only):
 * *rank receives 0 when the configuration has no such tensor (see odconv_weights_t), else the rank, and
 * dims[0 .. *rank - 1] the extents; dims has room for ODCONV_PARAMETER_MAX_RANK values.
 */
ODCONV_API odconv_status odconv_config_parameter_shape(const odconv_config_t *config, int32_t index, int32_t *rank,
                                                       int64_t *dims);

/*
 * Creates a layer on a device: ODCONV_DEVICE_CPU with index 0 is always there; see "Devices" below for CUDA.
 * *layer receives the handle (NULL on failure). config: copied. weights: host memory, BORROWED for the call
 * only on every device (see odconv_weights_t): the layer keeps its own copies, the attention parameters
 * pre-folded and the kernel bank (on a CPU, as given until the first forward lays it out in its convolution's
 * weight layout, then in that layout alone, plus one copy per other weight layout its input sizes need; on a
 * CUDA device, uploaded). flags: 0 or a combination of ODCONV_FLAG_ALLOW_TF32
 * and ODCONV_FLAG_BFLOAT16; ODCONV_STATUS_UNSUPPORTED when the device cannot run them (see
 * odconv_device_supports_flags).
 */
ODCONV_API odconv_status odconv_layer_create(odconv_layer_t *layer, const odconv_config_t *config,
                                             const odconv_weights_t *weights, odconv_device_type device_type,
                                             int32_t device_index, uint32_t flags);

/* Destroys a layer and every cached primitive and buffer of it. Accepts NULL. */
ODCONV_API odconv_status odconv_layer_destroy(odconv_layer_t layer);

/*
 * Sets how many threads each forward on this layer uses; 0 restores the default (the calling thread's
 * OpenMP setting). 0 <= num_threads <= 4 x the processors this process may run on (its CPU affinity);
 * ODCONV_STATUS_INVALID_ARGUMENT otherwise.
 */
ODCONV_API odconv_status odconv_layer_set_num_threads(odconv_layer_t layer, int32_t num_threads);

/*
 * The output height and width for an input of height x width. The output is
 * [batch, out_planes, *out_height, *out_width]. Fails with ODCONV_STATUS_INVALID_ARGUMENT when the
 * input is too small for a non-empty output. out_height and out_width are written on success only.
 */
ODCONV_API odconv_status odconv_layer_output_shape(odconv_layer_t layer, int64_t height, int64_t width,
                                                   int64_t *out_height, int64_t *out_width);

/*
 * Runs the forward pass.
 * input: (batch, in_planes, height, width) in `layout`, BORROWED for the call only,
 * read-only. output: (batch, out_planes, out_height, out_width) in the same layout (see
 * odconv_layer_output_shape), BORROWED for the call only, written entirely. They must not overlap.
 * The first call for a given (height, width, layout, thread count) creates and caches the primitives;
 * later calls reuse them. On a CUDA layer, input and output are device memory of the layer's device,
 * the first call for a given (batch, height, width, layout) chooses and caches the cuDNN algorithm,
 * and the call returns when the output is written.
 */
ODCONV_API odconv_status odconv_layer_forward(odconv_layer_t layer, int64_t batch, int64_t height,
                                              int64_t width, odconv_layout layout, const float *input,
                                              float *output);

/*
 * A thread pool of the caller's, for odconv_layer_forward_on_pool: a host that runs its own pool (an
 * inference runtime's intra-op pool, say) lends it to odconv instead of having odconv's OpenMP team compete
 * with it for the same cores.
 *
 * One of odconv's tasks: index in [0, count) of the parallel_for call that hands it out.
 */
typedef void (*odconv_task_fn)(void *task_context, size_t index);

typedef struct odconv_thread_pool {
    /*
     * Calls task(task_context, i) once for every i in [0, count), on any of the pool's threads (the calling
     * thread included or not), in any order, concurrently or one after another, and returns when every call
     * has returned. Tasks never throw, block on each other or call back into the pool. Required.
     */
    void (*parallel_for)(void *pool_context, odconv_task_fn task, void *task_context, size_t count);
    /* Passed to parallel_for as is; BORROWED for the call to odconv_layer_forward_on_pool. May be NULL. */
    void *pool_context;
    /*
     * How many tasks parallel_for runs at once (>= 1, at most odconv_layer_set_num_threads's limit). odconv
     * splits each forward into about this many tasks per step.
     */
    int32_t threads;
} odconv_thread_pool_t;

/*
 * odconv_layer_forward with the work spread over the caller's pool: every task runs on one thread, with no
 * OpenMP team of odconv's, and the layer's thread count (odconv_layer_set_num_threads) does not apply.
 * pool: BORROWED for the call only. Tensors, shapes and results as for odconv_layer_forward (equal to its
 * output within float32 rounding). The first call for a given (height, width, layout, pool->threads) creates
 * and caches the primitives it uses. CPU layers only: a CUDA layer fails with ODCONV_STATUS_UNSUPPORTED.
 */
ODCONV_API odconv_status odconv_layer_forward_on_pool(odconv_layer_t layer, const odconv_thread_pool_t *pool,
                                                      int64_t batch, int64_t height, int64_t width,
                                                      odconv_layout layout, const float *input, float *output);

/*
 * Devices
 *
 * The CPU backend is part of this library. The CUDA backend is a separate library, libodconv_cuda.so,
 * loaded from the folder holding this library (or from the path in the environment variable
 * ODCONV_CUDA_BACKEND) the first time a CUDA device is asked for; it loads cuDNN 9 from
 * ODCONV_CUDNN_LIBRARY, else "libcudnn.so.9" on the loader's search path. CPU-only programs never load
 * it. When it cannot be used (not built, no driver, no cuDNN), CUDA calls fail with
 * ODCONV_STATUS_DEVICE_UNAVAILABLE and a message saying which part is missing.
 *
 * A CUDA stream, for asynchronous copies and forwards. Opaque.
 */
typedef struct odconv_stream *odconv_stream_t;

/*
 * The number of devices of a type: 1 for ODCONV_DEVICE_CPU; for ODCONV_DEVICE_CUDA the visible GPUs
 * (0 when the driver reports none). Fails with ODCONV_STATUS_DEVICE_UNAVAILABLE when the CUDA backend
 * cannot be loaded or the driver cannot be used; the message says why.
 */
ODCONV_API odconv_status odconv_device_count(odconv_device_type device_type, int32_t *count);

/*
 * A one-line, NUL-terminated description of a device, e.g. "NVIDIA H100 80GB HBM3 (sm_90, 79.1 GiB),
 * CUDA driver 13.0, cuDNN 9.10.2", written to buffer[0 .. capacity - 1] (BORROWED for the call) and
 * truncated to fit. capacity >= 1.
 */
ODCONV_API odconv_status odconv_device_describe(odconv_device_type device_type, int32_t device_index,
                                                char *buffer, int64_t capacity);

/*
 * Whether layers (and static convolutions) created with `flags` can run on a device: ODCONV_STATUS_SUCCESS, or
 * ODCONV_STATUS_UNSUPPORTED with a message saying what the device lacks (for ODCONV_FLAG_BFLOAT16 on a CPU:
 * the instructions, and the instruction set oneDNN found). ODCONV_STATUS_INVALID_ARGUMENT for unknown flags;
 * for CUDA, the failures of odconv_device_count when the device cannot be used at all.
 */
ODCONV_API odconv_status odconv_device_supports_flags(odconv_device_type device_type, int32_t device_index,
                                                      uint32_t flags);

/* The device a layer lives on; both outputs are written on success. */
ODCONV_API odconv_status odconv_layer_device(odconv_layer_t layer, odconv_device_type *device_type,
                                             int32_t *device_index);

/*
 * CUDA layers only: enqueues a forward on `stream` (created for the layer's device) and returns.
 * input and output are device memory of the layer's device, as for odconv_layer_forward, and stay
 * BORROWED until the stream has run the forward (odconv_stream_synchronize). odconv_layer_forward on a
 * CUDA layer is this on a stream of the layer's own, followed by a wait.
 */
ODCONV_API odconv_status odconv_layer_forward_async(odconv_layer_t layer, odconv_stream_t stream, int64_t batch,
                                                    int64_t height, int64_t width, odconv_layout layout,
                                                    const float *input, float *output);

/*
 * Allocates `bytes` (>= 1) of device memory; *pointer receives it (NULL on failure). On a CPU this is
 * 64-byte aligned host memory. Free it with odconv_device_free on the same device.
 */
ODCONV_API odconv_status odconv_device_alloc(odconv_device_type device_type, int32_t device_index, int64_t bytes,
                                             void **pointer);

/* Frees memory from odconv_device_alloc. Accepts NULL. Waits for nothing: no queued work may use it. */
ODCONV_API odconv_status odconv_device_free(odconv_device_type device_type, int32_t device_index, void *pointer);

/*
 * Allocates `bytes` (>= 1) of page-locked host memory for fast, asynchronous copies to and from CUDA
 * devices. Needs the CUDA backend. Free it with odconv_host_free_pinned.
 */
ODCONV_API odconv_status odconv_host_alloc_pinned(int64_t bytes, void **pointer);

/* Frees memory from odconv_host_alloc_pinned. Accepts NULL. */
ODCONV_API odconv_status odconv_host_free_pinned(void *pointer);

/* Creates a stream on a CUDA device. CPUs have no streams: ODCONV_STATUS_UNSUPPORTED. */
ODCONV_API odconv_status odconv_stream_create(odconv_stream_t *stream, odconv_device_type device_type,
                                              int32_t device_index);

/* Waits for the stream's work, then destroys it. Accepts NULL. */
ODCONV_API odconv_status odconv_stream_destroy(odconv_stream_t stream);

/* Blocks until all work enqueued on the stream has finished; reports an error raised by that work. */
ODCONV_API odconv_status odconv_stream_synchronize(odconv_stream_t stream);

/*
 * Copies `bytes` (>= 0) between host and CUDA device memory (odconv_copy_kind). With stream NULL the
 * copy is complete when the call returns, and src and dst are BORROWED for the call only. With a
 * stream it is enqueued there and both stay BORROWED until the stream has run it; the host side should
 * then be pinned memory (pageable memory makes the copy synchronous). The device side is checked to be
 * device memory and the host side to be host memory.
 */
ODCONV_API odconv_status odconv_copy(void *dst, const void *src, int64_t bytes, odconv_copy_kind kind,
                                     odconv_stream_t stream);

#ifdef __cplusplus
}
#endif

#endif /* ODCONV_H */
