// ODConv on oneDNN. Per sample, the four attentions and the trailing BatchNorm's scale are folded into
// one aggregated kernel, the BatchNorm's shift into a bias and the activation into a post-op, so a
// single oneDNN convolution produces the layer's final output. The only other pass over the
// activations is the attention's global average pool.
#pragma once

#include <memory>

#include "../common/layer.hpp"

namespace odconv::cpu {

// weights' buffers are read during the call only: the layer keeps copies (see odconv_weights_t). flags: the
// product's (ODCONV_FLAG_BFLOAT16 computes the convolution in bfloat16; TF32 means nothing here).
std::unique_ptr<Layer> create_layer(const odconv_config_t &config, const odconv_weights_t &weights, uint32_t flags);

// "oneDNN 3.13.0 (cpu runtime: OpenMP)".
const char *backend_description();

}  // namespace odconv::cpu
