// Checks of a C call's arguments that do not depend on the backend, shared by odconv.h's entry points
// (api.cpp) and odconv_tools.h's (tools_api.cpp). Each throws Error(INVALID_ARGUMENT) naming what is wrong.
#pragma once

#include <cstdint>

#include "errors.hpp"
#include "odconv.h"

namespace odconv {

template <typename T>
void require_non_null(const T *pointer, const char *name) {
    if (pointer == nullptr) invalid_argument(name, " is NULL");
}

void require_layout(int32_t layout);

void require_flags(uint32_t flags);

struct ElementCounts {
    int64_t input, output;
};

// An input shape for the configuration: batch in range, a non-empty output, sizes inside the limits.
ElementCounts validate_shape(const odconv_config_t &config, int64_t batch, int64_t height, int64_t width);

// A forward's arguments against the configuration: shape, layout, non-NULL and non-overlapping tensors.
void validate_forward(const odconv_config_t &config, int64_t batch, int64_t height, int64_t width, int32_t layout,
                      const float *input, const float *output);

}  // namespace odconv
