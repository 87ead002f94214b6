/*
 * odconv_ort.h: ODConv as an ONNX Runtime custom operator (libodconv_ort.so).
 *
 * libodconv_ort.so is an ONNX Runtime custom-operator library over the odconv C library (odconv.h): register
 * it with a session's options (C: OrtApi::RegisterCustomOpsLibrary_V2; Java: OdconvOrt.register, or
 * SessionOptions.registerCustomOpLibrary; Python: SessionOptions.register_custom_ops_library) and every node
 * of domain "org.odconv", type "ODConv2d" runs on odconv's CPU backend (oneDNN). ONNX Runtime 1.17 or newer
 * (ORT API version 17); the library refuses older runtimes with a message naming both versions.
 *
 * The node: domain "org.odconv", op_type "ODConv2d", since_version 1, CPU execution provider. One node is one
 * ODConv layer of either variant (YOLO-style with a trailing BatchNorm and activation, or the official
 * OSVAI one without), in inference mode.
 *
 *   input 0   X: float32 [N, in_planes, H, W] (NCHW), or [N, H, W, in_planes] with layout "NHWC"; any N, H and
 *             W (H and W large enough for the kernel).
 *   input 1.. the layer's parameters, float32, in the order of the odconv_weights_t fields (odconv.h), the
 *             ones the configuration lacks left out (no filter head when depthwise, no spatial head when
 *             kernel_size is 1, no kernel head when kernel_num is 1, no bn_* when batch_norm is 0). Each
 *             must be a constant initializer of the shape odconv_weights_t gives; the kernel reads them
 *             once, when ONNX Runtime creates it, and keeps copies (odconv_layer_create's contract).
 *             This is the order of the PyTorch module's state_dict() (num_batches_tracked left out).
 *   output 0  Y: float32 [N, out_planes, H_out, W_out] ([N, H_out, W_out, out_planes] with layout "NHWC"),
 *             H_out = (H + 2 * padding - dilation * (kernel_size - 1) - 1) / stride + 1, likewise W_out.
 *
 *   attributes (int unless noted; the odconv_config_t fields):
 *     in_planes, out_planes, kernel_size, attention_channels   required (attention_channels is the width A
 *                                                                of the attention trunk)
 *     stride = 1, padding = 0, dilation = 1, groups = 1, kernel_num = 1
 *     batch_norm = 0          1: a trailing BatchNorm follows the convolution (the bn_* inputs are present)
 *     activation = "identity" (string) "identity", "relu" or "silu", after the BatchNorm
 *     temperature = 1.0, bn_eps = 1e-5, attention_bn_eps = 1e-5 (float)
 *     layout = "NCHW"         (string) "NCHW" or "NHWC": how X and Y hold their elements. The exporter writes
 *                             NHWC nodes between Transposes from and to NCHW, which ONNX Runtime folds into
 *                             the reorders around its own blocked-layout convolutions.
 *
 * Errors: a node with a wrong attribute, input count, parameter shape or a non-constant parameter fails
 * session creation; an input of the wrong rank, channels or size fails the run. Either way ONNX Runtime
 * reports an error that names the node; nothing is thrown across the boundary and nothing aborts.
 *
 * Threads: each node's forward runs as tasks on the session's own intra-op pool (KernelContext_ParallelFor),
 * each task on one thread, like ONNX Runtime's own operators: no pool of odconv's competes with ONNX
 * Runtime's for the cores. A node splits each step of its work into as many tasks as the session
 * configuration entry "odconv.num_threads" (ODCONV_ORT_NUM_THREADS_KEY) says when the options hold it at
 * registration, else one per processor (ONNX Runtime's default pool size). Set it to the session's
 * intra-op thread count; OdconvOrt.register(options, threads) in Java does both.
 */
#ifndef ODCONV_ORT_H
#define ODCONV_ORT_H

#ifdef __cplusplus
extern "C" {
#endif

#define ODCONV_ORT_DOMAIN "org.odconv"
#define ODCONV_ORT_OP_TYPE "ODConv2d"
#define ODCONV_ORT_NUM_THREADS_KEY "odconv.num_threads"

struct OrtSessionOptions;
struct OrtApiBase;
struct OrtStatus;

/*
 * ONNX Runtime's custom-operator library entry point: adds the "org.odconv" domain to `options` and marks them
 * with the configuration entry "odconv.registered"; registering again with the same options fails (ONNX Runtime
 * would otherwise fail every session created from them). Called by ONNX Runtime when the library is
 * registered; both pointers are borrowed for the call. Returns NULL on success, else an OrtStatus (owned by
 * the caller) saying what failed.
 */
__attribute__((visibility("default"))) struct OrtStatus *RegisterCustomOps(struct OrtSessionOptions *options,
                                                                          const struct OrtApiBase *api_base);

#ifdef __cplusplus
}
#endif

#endif /* ODCONV_ORT_H */
