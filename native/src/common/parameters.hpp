// The parameter tensors of a layer, one entry per odconv_weights_t field in declaration order, with the
// rule that gives each one's shape under a configuration. The one place that says which tensors a layer
// has: weight validation, the ABI self-description and the ONNX Runtime operator's inputs all read it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "odconv.h"

namespace odconv {

struct ParameterShape {
    int32_t rank = 0;  // 0: a configuration of this kind has no such tensor (a skipped head, no BatchNorm)
    int64_t dims[5] = {};

    int64_t element_count() const {
        int64_t count = rank > 0 ? 1 : 0;
        for (int32_t i = 0; i < rank; ++i) count *= dims[i];
        return count;
    }
};

struct ParameterInfo {
    const char *name;  // the odconv_weights_t field
    size_t offset;     // offsetof(odconv_weights_t, field)
    ParameterShape (*shape)(const odconv_config_t &config);
    const char *absent_because;  // why a configuration may lack it; nullptr for tensors every layer has

    const float *&in(odconv_weights_t &weights) const {
        return *reinterpret_cast<const float **>(reinterpret_cast<char *>(&weights) + offset);
    }
    const float *in(const odconv_weights_t &weights) const {
        return *reinterpret_cast<const float *const *>(reinterpret_cast<const char *>(&weights) + offset);
    }
};

// Every field of odconv_weights_t, in declaration order.
extern const ParameterInfo kParameters[];
extern const int32_t kParameterCount;

}  // namespace odconv
