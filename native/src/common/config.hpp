// Validation and derived sizes of a layer configuration, independent of any backend.
#pragma once

#include <cstdint>

#include "odconv.h"

namespace odconv {

// Throws Error(ODCONV_STATUS_INVALID_ARGUMENT) naming the first invalid field and its value.
void validate_config(const odconv_config_t &config);

// max((int32_t)(in_planes * reduction), min_channel), as PyTorch's int() truncates.
int32_t attention_channels(const odconv_config_t &config);

inline bool is_depthwise(const odconv_config_t &c) {
    return c.in_planes == c.groups && c.out_planes == c.groups;
}
inline bool has_filter_head(const odconv_config_t &c) { return !is_depthwise(c); }
inline bool has_spatial_head(const odconv_config_t &c) { return c.kernel_size > 1; }
inline bool has_kernel_head(const odconv_config_t &c) { return c.kernel_num > 1; }

// Checks that exactly the buffers the configuration needs are present.
void validate_weights(const odconv_config_t &config, const odconv_weights_t &weights);

// Output side for an input side, or throws when the input is too small for one output element.
int64_t output_extent(const odconv_config_t &config, int64_t input_extent, const char *axis);

// Upper bound on any tensor's element count, so size arithmetic stays far from int64 overflow.
constexpr int64_t kMaxElements = int64_t(1) << 40;

// Thread counts: 0 (OpenMP's default) up to kThreadsPerProcessor times the processors this process may run
// on. OpenMP accepts any count, and libgomp takes the process down creating tens of thousands of threads.
constexpr int32_t kThreadsPerProcessor = 4;
// The processors this process may run on (its CPU affinity), at least 1.
int32_t allowed_processors();
int32_t max_threads();
// Throws invalid_argument naming the limit when n is outside [0, max_threads()].
void check_thread_count(int32_t n);

// a * b, throwing when the product leaves [0, kMaxElements].
int64_t checked_mul(int64_t a, int64_t b, const char *what);

}  // namespace odconv
