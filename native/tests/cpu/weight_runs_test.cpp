// The per-sample kernel aggregation (src/cpu/kernels.cpp) written straight into oneDNN's blocked weight layouts,
// float32 and bfloat16, checked against each layout's definition written out here by hand. It needs no
// particular CPU: creating a memory descriptor asks nothing of the instruction set, so the bfloat16 layouts of
// AVX512-BF16 and AMX convolutions are checked on any machine.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"

#include "cpu/kernels.hpp"

using odconv::cpu::AggregationInputs;
using odconv::cpu::WeightRuns;
using dnnl::memory;
using tag = memory::format_tag;

namespace {

int failures = 0, checks = 0;

void check(bool condition, const std::string &what) {
    ++checks;
    if (!condition) {
        ++failures;
        if (failures <= 20) std::fprintf(stderr, "FAILED: %s\n", what.c_str());
    }
}

int64_t round_up(int64_t value, int64_t block) { return (value + block - 1) / block * block; }

float from_bfloat16(uint16_t bits) {
    const uint32_t widened = uint32_t(bits) << 16;
    float value;
    std::memcpy(&value, &widened, sizeof value);
    return value;
}

struct Shape {
    int32_t groups, out_per_group, in_per_group, kernel_size;
};

// Element offset of (g, o, i, h, w) in a layout, from the layout's definition.
using Offset = std::function<int64_t(int64_t g, int64_t o, int64_t i, int64_t h, int64_t w)>;

// OIhw<P>i<B>o2i and its grouped form (oneDNN's naming: P pairs of input channels): blocks of B output and 2P
// input channels, outermost g, O/B, I/2P, h, w; inside a block [P][B][2]: pairs of input channels innermost,
// the output channel next (the VNNI layout).
Offset vnni(const Shape &s, int64_t pairs, int64_t b) {
    const int64_t a = 2 * pairs;
    const int64_t in_blocks = round_up(s.in_per_group, a) / a, out_blocks = round_up(s.out_per_group, b) / b;
    const int64_t k = s.kernel_size, block = a * b;
    return [=](int64_t g, int64_t o, int64_t i, int64_t h, int64_t w) {
        const int64_t outer = (((g * out_blocks + o / b) * in_blocks + i / a) * k + h) * k + w;
        return outer * block + ((i % a) / 2) * (2 * b) + (o % b) * 2 + i % 2;
    };
}

// OIhw<b>i<b>o and its grouped form: [b i][b o] blocks, the output channel innermost.
Offset blocked(const Shape &s, int64_t b) {
    const int64_t in_blocks = round_up(s.in_per_group, b) / b, out_blocks = round_up(s.out_per_group, b) / b;
    const int64_t k = s.kernel_size;
    return [=](int64_t g, int64_t o, int64_t i, int64_t h, int64_t w) {
        const int64_t outer = (((g * out_blocks + o / b) * in_blocks + i / b) * k + h) * k + w;
        return outer * b * b + (i % b) * b + o % b;
    };
}

// Goihw16g (depthwise): blocks of 16 groups, the group innermost.
Offset depthwise16(const Shape &s) {
    const int64_t k = s.kernel_size;
    return [=](int64_t g, int64_t, int64_t, int64_t h, int64_t w) { return ((g / 16 * k + h) * k + w) * 16 + g % 16; };
}

memory::desc descriptor(const Shape &s, memory::data_type type, tag format) {
    const memory::dims dims = s.groups == 1 ? memory::dims{s.out_per_group, s.in_per_group, s.kernel_size, s.kernel_size}
                                            : memory::dims{s.groups, s.out_per_group, s.in_per_group, s.kernel_size,
                                                           s.kernel_size};
    return memory::desc(dims, type, format);
}

// Aggregates random banks with random attentions into the layout and compares every element, padding included,
// with the same sum computed in double precision and placed by `offset`.
void check_layout(const char *name, const Shape &s, memory::data_type type, tag format, WeightRuns::Lanes lanes,
                  const Offset &offset) {
    const memory::desc md = descriptor(s, type, format);
    const std::optional<WeightRuns> runs = WeightRuns::of(md, s.groups, s.out_per_group, s.in_per_group, s.kernel_size);
    check(runs.has_value(), std::string(name) + ": WeightRuns::of refused the layout");
    if (!runs) return;
    check(runs->lanes == lanes, std::string(name) + ": lanes of another kind");
    const int64_t elements = int64_t(md.get_size() / memory::data_type_size(type));
    check(runs->runs * runs->run_length == elements, std::string(name) + ": runs do not cover the layout");

    std::mt19937 random(20261130);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    const int32_t kernel_num = 3, area = s.kernel_size * s.kernel_size;
    const int32_t in_planes = s.groups * s.in_per_group, out_planes = s.groups * s.out_per_group;
    const int64_t plain_size = int64_t(out_planes) * s.in_per_group * area;
    std::vector<std::vector<float>> plain(kernel_num, std::vector<float>(plain_size)), banks(kernel_num);
    std::vector<const float *> bank_pointers;
    for (int32_t j = 0; j < kernel_num; ++j) {
        for (float &v : plain[j]) v = uniform(random);
        banks[j].assign(elements, NAN);  // scatter must write every element
        runs->scatter(plain[j].data(), banks[j].data());
        bank_pointers.push_back(banks[j].data());
        std::vector<float> back(plain_size, NAN);  // gather must write every plain element, and give each back
        runs->gather(banks[j].data(), back.data());
        int64_t wrong = 0;
        for (int64_t e = 0; e < plain_size; ++e) wrong += back[e] != plain[j][e];
        check(wrong == 0, std::string(name) + ": gather gave " + std::to_string(wrong) + " of " +
                              std::to_string(plain_size) + " plain weights wrong");
    }
    std::vector<float> kernel(kernel_num), filter(out_planes, 1.0f), channel(in_planes), spatial(area);
    for (float &v : kernel) v = uniform(random);
    if (lanes != WeightRuns::Lanes::kGroups)  // depthwise layers have no filter attention
        for (float &v : filter) v = uniform(random);
    for (float &v : channel) v = uniform(random);
    for (float &v : spatial) v = uniform(random);
    std::vector<float> run_factors(runs->run_factor_count(), 0.0f), lane_factors(runs->lane_factor_count(), 0.0f);
    runs->set_factors(filter.data(), channel.data(), spatial.data(), run_factors.data(), lane_factors.data());
    const AggregationInputs in{bank_pointers.data(), kernel.data(), run_factors.data(), lane_factors.data(), kernel_num};

    std::vector<double> got(elements);
    if (type == memory::data_type::bf16) {
        std::vector<uint16_t> out(elements, 0x7fc0);  // NaN: every element must be written
        odconv::cpu::aggregate_kernel(in, *runs, out.data(), 2);
        for (int64_t e = 0; e < elements; ++e) got[e] = from_bfloat16(out[e]);
    } else {
        std::vector<float> out(elements, NAN);
        odconv::cpu::aggregate_kernel(in, *runs, out.data(), 2);
        for (int64_t e = 0; e < elements; ++e) got[e] = out[e];
    }

    std::vector<bool> real(elements, false);
    double worst = 0;
    for (int64_t g = 0; g < s.groups; ++g)
        for (int64_t o = 0; o < s.out_per_group; ++o)
            for (int64_t i = 0; i < s.in_per_group; ++i)
                for (int64_t h = 0; h < s.kernel_size; ++h)
                    for (int64_t w = 0; w < s.kernel_size; ++w) {
                        const int64_t plain_index = (((g * s.out_per_group + o) * s.in_per_group + i) * s.kernel_size + h) *
                                                        s.kernel_size + w;
                        double sum = 0, magnitude = 0;  // the terms' magnitudes bound float32's error
                        for (int32_t j = 0; j < kernel_num; ++j) {
                            sum += double(kernel[j]) * plain[j][plain_index];
                            magnitude += std::fabs(double(kernel[j]) * plain[j][plain_index]);
                        }
                        const double factor = double(filter[g * s.out_per_group + o]) * channel[g * s.in_per_group + i] *
                                              spatial[h * s.kernel_size + w];
                        const double want = sum * factor;
                        // float32: a few roundings of the terms; bfloat16: one rounding of the result on top.
                        const double allowed = 1e-6 * magnitude * std::fabs(factor) +
                                               (type == memory::data_type::bf16 ? std::fabs(want) / 256 : 0.0);
                        const int64_t at = offset(g, o, i, h, w);
                        real[at] = true;
                        const double error = std::fabs(got[at] - want);
                        worst = std::fmax(worst, error / std::fmax(std::fabs(want), 1e-30));
                        if (!(error <= allowed))
                            check(false, std::string(name) + ": element (" + std::to_string(g) + ", " + std::to_string(o) +
                                             ", " + std::to_string(i) + ", " + std::to_string(h) + ", " +
                                             std::to_string(w) + ") is " + std::to_string(got[at]) + ", want " +
                                             std::to_string(want));
                    }
    int64_t padding_written = 0;
    for (int64_t e = 0; e < elements; ++e)
        if (!real[e] && got[e] != 0.0) ++padding_written;
    check(padding_written == 0, std::string(name) + ": " + std::to_string(padding_written) + " padding elements not zero");
    std::printf("%-44s %6lld elements, %5lld runs of %3lld, worst relative error %.2e\n", name, (long long)elements,
                (long long)runs->runs, (long long)runs->run_length, worst);
}

}  // namespace

int main() {
    using Lanes = WeightRuns::Lanes;
    const auto bf16 = memory::data_type::bf16, f32 = memory::data_type::f32;
    // Channel counts that fill blocks exactly, leave the last block partly empty, and are odd (half a pair).
    for (const Shape s : {Shape{1, 32, 16, 3}, Shape{1, 20, 7, 3}, Shape{1, 64, 35, 1}, Shape{1, 16, 1, 5}}) {
        const std::string shape = std::to_string(s.out_per_group) + "x" + std::to_string(s.in_per_group) + "x" +
                                  std::to_string(s.kernel_size);
        check_layout(("bf16 OIhw8i16o2i " + shape).c_str(), s, bf16, tag::OIhw8i16o2i, Lanes::kOutputChannelPairs,
                     vnni(s, 8, 16));
        check_layout(("bf16 OIhw16i16o2i " + shape).c_str(), s, bf16, tag::OIhw16i16o2i, Lanes::kOutputChannelPairs,
                     vnni(s, 16, 16));
        check_layout(("bf16 OIhw16i64o2i " + shape).c_str(), s, bf16, tag::OIhw16i64o2i, Lanes::kOutputChannelPairs,
                     vnni(s, 16, 64));
        check_layout(("f32 OIhw16i16o " + shape).c_str(), s, f32, tag::OIhw16i16o, Lanes::kOutputChannels, blocked(s, 16));
        // Runs of 8 lanes (AVX2's layouts), and of 4: the aggregation's vector loop and its general one.
        check_layout(("f32 OIhw8i8o " + shape).c_str(), s, f32, tag::OIhw8i8o, Lanes::kOutputChannels, blocked(s, 8));
        check_layout(("f32 OIhw4i4o " + shape).c_str(), s, f32, tag::OIhw4i4o, Lanes::kOutputChannels, blocked(s, 4));
    }
    for (const Shape s : {Shape{2, 10, 3, 3}, Shape{4, 16, 16, 1}}) {
        const std::string shape = std::to_string(s.groups) + "x" + std::to_string(s.out_per_group) + "x" +
                                  std::to_string(s.in_per_group) + "x" + std::to_string(s.kernel_size);
        check_layout(("bf16 gOIhw8i16o2i " + shape).c_str(), s, bf16, tag::gOIhw8i16o2i, Lanes::kOutputChannelPairs,
                     vnni(s, 8, 16));
        check_layout(("f32 gOIhw16i16o " + shape).c_str(), s, f32, tag::gOIhw16i16o, Lanes::kOutputChannels, blocked(s, 16));
    }
    for (const Shape s : {Shape{32, 1, 1, 3}, Shape{40, 1, 1, 5}}) {
        const std::string shape = std::to_string(s.groups) + "x" + std::to_string(s.kernel_size);
        check_layout(("bf16 Goihw16g " + shape).c_str(), s, bf16, tag::Goihw16g, Lanes::kGroups, depthwise16(s));
        check_layout(("f32 Goihw16g " + shape).c_str(), s, f32, tag::Goihw16g, Lanes::kGroups, depthwise16(s));
    }
    // Rounding to bfloat16: to nearest, ties to even, NaN kept.
    check(odconv::cpu::to_bfloat16(1.0f) == 0x3f80, "1.0");
    check(odconv::cpu::to_bfloat16(1.0f + 1.0f / 256) == 0x3f80, "a tie rounds to the even 1.0");
    check(odconv::cpu::to_bfloat16(1.0f + 3.0f / 256) == 0x3f82, "a tie rounds to the even 1.015625");
    check(odconv::cpu::to_bfloat16(1.0f + 1.0f / 256 + 1.0f / 4096) == 0x3f81, "above a tie rounds up");
    check(odconv::cpu::to_bfloat16(-2.5f) == 0xc020, "-2.5");
    check(std::isnan(from_bfloat16(odconv::cpu::to_bfloat16(NAN))), "NaN stays NaN");
    std::printf("%d checks, %d failed\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
