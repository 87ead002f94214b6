/*
 * odconv_tools.h: entry points of libodconv.so for odconv's own tools and tests, apart from the product ABI
 * in odconv.h: timing inside the library, the static convolution that is the floor odconv's speed is measured
 * against, and the ABI's description of its own structs, with which bindings prove they match odconv.h.
 *
 * The conventions of odconv.h hold (status codes, thread-local last error, borrowed pointers). Unlike odconv.h,
 * these functions may change in any release.
 */
#ifndef ODCONV_TOOLS_H
#define ODCONV_TOOLS_H

#include "odconv.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Runs `iterations` forwards back to back inside the library and writes each one's wall time in milliseconds
 * to milliseconds[0 .. iterations - 1] (caller-owned, BORROWED for the call). Other arguments as for
 * odconv_layer_forward. Isolates the cost of the call from the caller's. On a CUDA layer each timed run
 * includes waiting for the GPU.
 */
ODCONV_API odconv_status odconv_layer_benchmark(odconv_layer_t layer, int64_t batch, int64_t height, int64_t width,
                                                odconv_layout layout, const float *input, float *output,
                                                int32_t iterations, double *milliseconds);

/*
 * A static convolution of a layer's shape: what a plain oneDNN (or cuDNN) convolution costs. It uses the
 * configuration's channels, kernel size, stride, padding, dilation and groups, one fixed kernel, a bias (the
 * folded BatchNorm when has_batch_norm) and the activation as a post-op, for one fixed input shape and layout.
 * Opaque.
 */
typedef struct odconv_static_conv *odconv_static_conv_t;

/*
 * Creates a static convolution on a device for inputs (batch, in_planes, height, width) in `layout`, run with
 * num_threads threads on a CPU (0: the calling thread's OpenMP setting; ignored on a CUDA device).
 * weight: [out_planes, in_planes / groups, k, k]; bias: [out_planes] or NULL. Both host memory, COPIED
 * (reordered once into the primitive's preferred layout, or uploaded); config copied. flags: as for
 * odconv_layer_create (with ODCONV_FLAG_BFLOAT16, a bfloat16 convolution: the floor of bfloat16 layers).
 */
ODCONV_API odconv_status odconv_static_conv_create(odconv_static_conv_t *conv, const odconv_config_t *config,
                                                   const float *weight, const float *bias, int64_t batch,
                                                   int64_t height, int64_t width, odconv_layout layout,
                                                   int32_t num_threads, odconv_device_type device_type,
                                                   int32_t device_index, uint32_t flags);

/* Destroys a static convolution. Accepts NULL. */
ODCONV_API odconv_status odconv_static_conv_destroy(odconv_static_conv_t conv);

/*
 * Runs it once; the output is written when the call returns. input and output as for odconv_layer_forward
 * with the creation shape, memory of the convolution's device, BORROWED for the call. Not safe to call
 * concurrently on one static convolution.
 */
ODCONV_API odconv_status odconv_static_conv_forward(odconv_static_conv_t conv, const float *input, float *output);

/*
 * Runs it `iterations` times back to back, writing each run's wall time in milliseconds to
 * milliseconds[0 .. iterations - 1]; each timed run includes waiting for the GPU. input and output as for
 * odconv_static_conv_forward; all three BORROWED for the call.
 */
ODCONV_API odconv_status odconv_static_conv_benchmark(odconv_static_conv_t conv, const float *input, float *output,
                                                      int32_t iterations, double *milliseconds);

/*
 * ABI self-description, for bindings that must prove they match odconv.h.
 * struct_name is one of "odconv_config_t" and "odconv_weights_t"; field names are as declared in odconv.h.
 * All strings are borrowed for the call only; returned strings are static.
 */
/* sizeof the struct, or -1 for an unknown struct. */
ODCONV_API int64_t odconv_abi_struct_size(const char *struct_name);
/* Number of fields of the struct, or -1 for an unknown struct. */
ODCONV_API int32_t odconv_abi_field_count(const char *struct_name);
/* The name of field index (declaration order), or NULL when out of range or unknown. */
ODCONV_API const char *odconv_abi_field_name(const char *struct_name, int32_t index);
/* offsetof the field, or -1 when unknown. */
ODCONV_API int64_t odconv_abi_field_offset(const char *struct_name, const char *field_name);

#ifdef __cplusplus
}
#endif

#endif /* ODCONV_TOOLS_H */
