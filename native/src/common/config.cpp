#include "config.hpp"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "errors.hpp"
#include "parameters.hpp"

namespace odconv {
namespace {

// Far above any real layer, low enough that every product of two sizes fits in int64 (odconv.h states it).
constexpr int32_t kMaxSize = ODCONV_CONFIG_MAX_SIZE;

void require_range(const char *field, int64_t value, int64_t min) {
    if (value < min || value > kMaxSize)
        invalid_argument("config.", field, " = ", value, " is out of range [", min, ", ", kMaxSize, "]");
}

void require_positive_finite(const char *field, double value) {
    if (!(std::isfinite(value) && value > 0)) invalid_argument("config.", field, " = ", value, " must be finite and > 0");
}

}  // namespace

void validate_config(const odconv_config_t &c) {
    require_range("in_planes", c.in_planes, 1);
    require_range("out_planes", c.out_planes, 1);
    require_range("kernel_size", c.kernel_size, 1);
    require_range("stride", c.stride, 1);
    require_range("padding", c.padding, 0);
    require_range("dilation", c.dilation, 1);
    require_range("groups", c.groups, 1);
    require_range("kernel_num", c.kernel_num, 1);
    require_range("min_channel", c.min_channel, 1);
    // Padding wider than the dilated kernel only adds output rows and columns that see nothing but zeros. No
    // network pads so, and a file that does makes a tiny input's output enormous (padding 20000 on a 1x1
    // input: 40001 x 40001).
    const int64_t extent = int64_t(c.dilation) * (c.kernel_size - 1) + 1;
    if (c.padding > extent) {
        invalid_argument("config.padding = ", c.padding, " is wider than the dilated kernel (", extent,
                         " for kernel_size ", c.kernel_size, " and dilation ", c.dilation, ")");
    }
    if (c.in_planes % c.groups != 0)
        invalid_argument("config.groups = ", c.groups, " does not divide in_planes = ", c.in_planes);
    if (c.out_planes % c.groups != 0)
        invalid_argument("config.groups = ", c.groups, " does not divide out_planes = ", c.out_planes);
    require_positive_finite("reduction", c.reduction);
    if (c.reduction * c.in_planes > kMaxSize)
        invalid_argument("config.reduction = ", c.reduction, " makes the attention width exceed ", kMaxSize);
    require_positive_finite("temperature", c.temperature);
    require_positive_finite("attention_bn_eps", c.attention_bn_eps);
    if (c.has_batch_norm != 0 && c.has_batch_norm != 1)
        invalid_argument("config.has_batch_norm = ", c.has_batch_norm, " must be 0 or 1");
    if (c.has_batch_norm) require_positive_finite("bn_eps", c.bn_eps);
    if (c.activation != ODCONV_ACTIVATION_IDENTITY && c.activation != ODCONV_ACTIVATION_RELU &&
        c.activation != ODCONV_ACTIVATION_SILU)
        invalid_argument("config.activation = ", c.activation, " is not an odconv_activation (0, 1 or 2)");
    const int64_t filter = checked_mul(checked_mul(c.out_planes, c.in_planes / c.groups, "weight"),
                                       int64_t(c.kernel_size) * c.kernel_size, "weight");
    checked_mul(filter, c.kernel_num, "weight");
    // The backends index one sample's kernel, and the per-input-channel factors within it, with int32_t.
    if (filter > INT32_MAX)
        invalid_argument("config: the per-sample kernel of out_planes x in_planes / groups x kernel_size^2 = ", filter,
                         " elements exceeds ", INT32_MAX);
}

int32_t attention_channels(const odconv_config_t &c) {
    const auto reduced = static_cast<int32_t>(static_cast<double>(c.in_planes) * c.reduction);
    return reduced > c.min_channel ? reduced : c.min_channel;
}

void validate_weights(const odconv_config_t &c, const odconv_weights_t &w) {
    for (int32_t i = 0; i < kParameterCount; ++i) {
        const ParameterInfo &p = kParameters[i];
        const bool needed = p.shape(c).rank > 0;
        if (needed && p.in(w) == nullptr) invalid_argument("weights.", p.name, " is NULL but required");
        if (!needed && p.in(w) != nullptr) invalid_argument("weights.", p.name, " must be NULL: ", p.absent_because);
    }
}

int64_t output_extent(const odconv_config_t &c, int64_t input_extent, const char *axis) {
    if (input_extent < 1 || input_extent > kMaxElements)
        invalid_argument(axis, " = ", input_extent, " is out of range [1, ", kMaxElements, "]");
    const int64_t receptive = int64_t(c.dilation) * (c.kernel_size - 1) + 1;
    const int64_t padded = input_extent + 2 * int64_t(c.padding);
    if (padded < receptive)
        invalid_argument("input ", axis, " = ", input_extent, " is too small: with padding ", c.padding,
                         " it must be at least ", receptive - 2 * int64_t(c.padding), " for kernel_size ",
                         c.kernel_size, " and dilation ", c.dilation);
    return (padded - receptive) / c.stride + 1;
}

int64_t checked_mul(int64_t a, int64_t b, const char *what) {
    if (a < 0 || b < 0 || (b != 0 && a > kMaxElements / b))
        invalid_argument(what, ": size ", a, " x ", b, " exceeds the limit of ", kMaxElements, " elements");
    return a * b;
}

int32_t allowed_processors() {
    cpu_set_t allowed;
    const long processors = sched_getaffinity(0, sizeof(allowed), &allowed) == 0 ? CPU_COUNT(&allowed)
                                                                                   : sysconf(_SC_NPROCESSORS_ONLN);
    return int32_t(std::max(1L, processors));
}

int32_t max_threads() { return kThreadsPerProcessor * allowed_processors(); }

void check_thread_count(int32_t n) {
    if (n < 0) invalid_argument("num_threads = ", n, " must be >= 0");
    const int32_t limit = max_threads();
    if (n > limit) {
        invalid_argument("num_threads = ", n, " is more than ", limit, " (", kThreadsPerProcessor,
                         " per processor this process may run on)");
    }
}

}  // namespace odconv
