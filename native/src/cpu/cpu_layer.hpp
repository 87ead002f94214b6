// ODConv on oneDNN. Per sample, the four attentions and the trailing BatchNorm's scale are folded into
// one aggregated kernel, the BatchNorm's shift into a bias and the activation into a post-op, so a
// single oneDNN convolution produces the layer's final output. The only other pass over the
// activations is the attention's global average pool.
#pragma once

#include <memory>

#include "../common/layer.hpp"

namespace odconv::cpu {

// weights' buffers are read during the call only: the layer keeps copies (see odconv_weights_t).
std::unique_ptr<Layer> create_layer(const odconv_config_t &config, const odconv_weights_t &weights);

// "oneDNN 3.13.0 (cpu runtime: OpenMP)".
const char *backend_description();

// oneDNN's effective instruction set on this CPU, e.g. "avx512_core".
const char *cpu_isa();

}  // namespace odconv::cpu
