#include "arguments.hpp"

#include "config.hpp"

namespace odconv {

void require_layout(int32_t layout) {
    if (layout != ODCONV_LAYOUT_NCHW && layout != ODCONV_LAYOUT_NHWC)
        invalid_argument("layout = ", layout, " is not an odconv_layout (0 = NCHW, 1 = NHWC)");
}

void require_flags(uint32_t flags) {
    if ((flags & ~uint32_t(ODCONV_FLAG_ALLOW_TF32 | ODCONV_FLAG_BFLOAT16)) != 0)
        invalid_argument("flags = ", flags, " has bits other than ODCONV_FLAG_ALLOW_TF32 (1) and ODCONV_FLAG_BFLOAT16 (2)");
}

ElementCounts validate_shape(const odconv_config_t &c, int64_t batch, int64_t height, int64_t width) {
    if (batch < 1 || batch > kMaxElements) invalid_argument("batch = ", batch, " is out of range [1, ", kMaxElements, "]");
    const int64_t out_h = output_extent(c, height, "height");
    const int64_t out_w = output_extent(c, width, "width");
    return {checked_mul(checked_mul(batch, c.in_planes, "input"), checked_mul(height, width, "input"), "input"),
            checked_mul(checked_mul(batch, c.out_planes, "output"), checked_mul(out_h, out_w, "output"), "output")};
}

void validate_forward(const odconv_config_t &c, int64_t batch, int64_t height, int64_t width, int32_t layout,
                      const float *input, const float *output) {
    require_non_null(input, "input");
    require_non_null(output, "output");
    require_layout(layout);
    const auto [in_elements, out_elements] = validate_shape(c, batch, height, width);
    const auto *in_begin = reinterpret_cast<const char *>(input);
    const auto *out_begin = reinterpret_cast<const char *>(output);
    if (in_begin < out_begin + out_elements * int64_t(sizeof(float)) &&
        out_begin < in_begin + in_elements * int64_t(sizeof(float)))
        invalid_argument("input and output overlap");
}

}  // namespace odconv
