/* What odconv's C tests share: checks that count failures, a seeded random source, and random weights for
 * any configuration, shaped by the library's own parameter table (odconv_parameter_* in odconv.h), so no test
 * keeps a list of a layer's tensors. Each test program is one translation unit that includes this once. */
#ifndef ODCONV_TEST_HARNESS_H
#define ODCONV_TEST_HARNESS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "odconv.h"

static int failures = 0, checks = 0;

/* A condition that must hold; printf-style message on failure. Counts, does not stop. */
#define CHECK(cond, ...)                                                                     \
    do {                                                                                     \
        ++checks;                                                                            \
        if (!(cond)) {                                                                       \
            ++failures;                                                                      \
            fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond);         \
            fprintf(stderr, __VA_ARGS__);                                                    \
            fprintf(stderr, "\n");                                                           \
        }                                                                                    \
    } while (0)

/* A call that must succeed, for set-up whose failure leaves nothing to test: stops the program. */
#define REQUIRE_OK(call)                                                                     \
    do {                                                                                     \
        ++checks;                                                                            \
        odconv_status status_ = (call);                                                      \
        if (status_ != ODCONV_STATUS_SUCCESS) {                                              \
            fprintf(stderr, "%s:%d: %s failed: %s: %s\n", __FILE__, __LINE__, #call,        \
                    odconv_status_string(status_), odconv_last_error_message());             \
            exit(1);                                                                         \
        }                                                                                    \
    } while (0)

/* Prints the tally; the program's exit status. */
static inline int finish(void) {
    fprintf(stderr, "%d passed, %d failed\n", checks - failures, failures);
    return failures == 0 ? 0 : 1;
}

/* xorshift64*, from a fixed seed: every run tests the same cases. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static inline double uniform(double low, double high) {
    rng_state ^= rng_state >> 12; rng_state ^= rng_state << 25; rng_state ^= rng_state >> 27;
    return low + (high - low) * (double)((rng_state * 0x2545F4914F6CDD1Dull) >> 11) / 9007199254740992.0;
}
static inline int pick(int low, int high) { return low + (int)(uniform(0, high - low + 1)); }

static inline float *random_buffer(int64_t count, double low, double high) {
    float *b = malloc(sizeof(float) * (size_t)(count > 0 ? count : 1));
    for (int64_t i = 0; i < count; ++i) b[i] = (float)uniform(low, high);
    return b;
}

/* The seed's defaults for an in -> out layer of k x k kernels: stride 1, "same" padding, one kernel, BatchNorm and
 * SiLU. */
static inline odconv_config_t default_config(int in, int out, int k) {
    odconv_config_t c;
    memset(&c, 0, sizeof c);
    c.in_planes = in; c.out_planes = out; c.kernel_size = k; c.stride = 1; c.padding = k / 2; c.dilation = 1;
    c.groups = 1; c.kernel_num = 1; c.reduction = 0.0625; c.min_channel = 16; c.has_batch_norm = 1;
    c.temperature = 1.0f; c.bn_eps = 1e-5f; c.attention_bn_eps = 1e-5f; c.activation = ODCONV_ACTIVATION_SILU;
    return c;
}

/* The fields of odconv_weights_t by index: it is nothing but one pointer per parameter, in table order. */
static inline const float **weight_field(odconv_weights_t *w, int32_t index) {
    return (const float **)w + index;
}

/* Values a trained layer could hold: BatchNorm scales and variances near 1, means near 0. */
static inline void parameter_range(const char *name, double *low, double *high) {
    const size_t n = strlen(name);
    const int ends_var = n >= 4 && strcmp(name + n - 4, "_var") == 0;
    const int bn_scale = strcmp(name, "bn_weight") == 0 || strcmp(name, "attention_bn_weight") == 0;
    const int ends_mean = n >= 5 && strcmp(name + n - 5, "_mean") == 0;
    if (ends_var || bn_scale) *low = 0.5, *high = 1.5;
    else if (ends_mean) *low = -0.1, *high = 0.1;
    else *low = -0.5, *high = 0.5;
}

/* Random weights for a valid configuration; the tensors it lacks stay NULL. Free with free_weights. */
static inline odconv_weights_t random_weights(const odconv_config_t *c) {
    odconv_weights_t w;
    memset(&w, 0, sizeof w);
    if (odconv_parameter_count() * (int32_t)sizeof(const float *) != (int32_t)sizeof w) {
        fprintf(stderr, "odconv_weights_t is not one pointer per parameter\n");
        exit(1);
    }
    for (int32_t i = 0; i < odconv_parameter_count(); ++i) {
        int32_t rank = 0;
        int64_t dims[ODCONV_PARAMETER_MAX_RANK], count = 1;
        REQUIRE_OK(odconv_config_parameter_shape(c, i, &rank, dims));
        if (rank == 0) continue;
        for (int32_t d = 0; d < rank; ++d) count *= dims[d];
        double low, high;
        parameter_range(odconv_parameter_name(i), &low, &high);
        *weight_field(&w, i) = random_buffer(count, low, high);
    }
    return w;
}

static inline void free_weights(odconv_weights_t *w) {
    for (int32_t i = 0; i < odconv_parameter_count(); ++i) {
        free((void *)*weight_field(w, i));
        *weight_field(w, i) = NULL;
    }
}

#endif
