// A plain oneDNN convolution of an ODConv layer's shape: the speed floor the benchmark compares against.
#pragma once

#include <cstdint>
#include <memory>

#include "../common/device_backend.hpp"

namespace odconv::cpu {

// weight [out, in / groups, k, k] and bias [out] (or NULL) are copied; flags as for layers (cpu_layer.hpp).
std::unique_ptr<StaticConvolution> create_static_conv(const odconv_config_t &config, const float *weight, const float *bias,
                                               int64_t batch, int64_t height, int64_t width, int32_t layout,
                                               int32_t num_threads, uint32_t flags);

}  // namespace odconv::cpu
